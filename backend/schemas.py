"""Request and response bodies of the API (pydantic 2)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from backend.models import API_CHANNEL, CHANNEL_PATTERN, CaseStatus, KbFeedback, Role, UserStatus

Language = Literal["fr", "en"]
Channel = Annotated[str, Field(pattern=CHANNEL_PATTERN)]
# An e-mail address (simple shape check, stored lower-case).
EmailStr = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
                     AfterValidator(lambda v: v.strip().lower())]

# A row's id in a request: within the databases' integer range (a larger number is a 422, not a 500).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

# A knowledge article's number as the assistant shows it (KnowledgeArticle.number: at most 12 characters).
ArticleNumber = Annotated[str, Field(min_length=1, max_length=20)]

# The assistant attaches its conversation to what it creates; the end of a longer one is kept (actions/session.py).
MAX_TRANSCRIPT_CHARS = 20000
# A case's description (CaseCreate and the requests that create a case; actions/session.py has the same limit).
MAX_DESCRIPTION_CHARS = 4000


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid for")
    refresh_token: str = Field(description="Single-use: POST /auth/refresh exchanges it for a new pair before "
                                           "it expires (ACCESS + REFRESH lifetimes: README)")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=10, max_length=200)


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    street: str
    city: str
    postcode: str
    country: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    full_name: str
    phone: str
    role: Role
    status: UserStatus
    language: str
    email_notifications: bool
    account: AccountOut
    # Bumped when the user's tokens are revoked (password change or reset, deactivation, logout); the assistant's
    # per-call tokens carry it, so they stop working together with the user's portal token.
    token_version: int = 0


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    asset_number: str
    serial: str
    model: str
    alias: str | None
    location: str
    emaintenance: bool


class Label(BaseModel):
    fr: str
    en: str


class SubcategoryOut(BaseModel):
    code: str
    label: Label
    keywords: dict[str, list[str]] = {}


class CategoryOut(BaseModel):
    code: str
    section: str
    label: Label
    admin_only: bool
    subcategories: list[SubcategoryOut]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=50)
    subcategory: str = Field(min_length=1, max_length=50)
    asset: str | None = Field(default=None, max_length=40, description="Asset number, serial or alias")
    description: str = Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)
    channel: Channel = API_CHANNEL
    priority: int = Field(default=3, ge=1, le=5)
    kb_articles_shown: list[ArticleNumber] = Field(default_factory=list, max_length=20)
    kb_feedback: KbFeedback | None = None
    transcript: str = Field(default="", max_length=MAX_TRANSCRIPT_CHARS)


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    author_name: str
    body: str
    created_at: datetime


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    email: str
    full_name: str


class CaseOut(BaseModel):
    number: str
    status: CaseStatus
    status_label: str
    priority: int
    category: str
    category_label: str
    subcategory: str
    subcategory_label: str
    asset: AssetOut | None
    description: str
    requester: PersonOut
    contact_name: str
    channel: Channel
    transcript: str = Field(default="", description="The assistant's conversation that created the case")
    kb_articles_shown: list[str]
    kb_feedback: KbFeedback | None
    created_at: datetime
    updated_at: datetime
    activities: list[ActivityOut]
    watchers: list[PersonOut] = Field(default_factory=list, description="Secondary contacts (watch list)")
    order_number: str | None = None


class CaseMatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=1000, description="The user's words about a case")


class CaseMatches(BaseModel):
    best: str | None = Field(description="The case the words clearly name, if one stands out")
    cases: list[CaseOut] = Field(description="The visible cases the words describe, best first (at most 5)")
    scores: list[float]


class DeflectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=50)
    subcategory: str | None = Field(default=None, max_length=50)
    description: str = Field(default="", max_length=4000)
    kb_articles_shown: list[ArticleNumber] = Field(min_length=1, max_length=20)
    channel: Channel = API_CHANNEL


class DeflectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    category: str | None
    subcategory: str | None
    kb_articles_shown: list[str]
    created_at: datetime


class KnowledgeHit(BaseModel):
    number: str
    lang: str
    title: str
    summary: str
    url: str
    tags: list[str]
    models: list[str]
    score: float  # ranking score of the hybrid search (fused rank, plus the product-model boost)
    similarity: float  # dense cosine similarity between query and article: comparable across queries


class KnowledgeArticleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    number: str
    lang: str
    title: str
    summary: str
    body: str
    tags: list[str]
    models: list[str]
    error_codes: list[str]


class ClassifyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    lang: Language | None = None
    category: str | None = Field(default=None, max_length=50, description="Only propose sub-types of this category")


class FaultOption(BaseModel):
    category: str
    subcategory: str | None


class FaultProposal(BaseModel):
    category: str | None
    subcategory: str | None
    confident: bool
    source: Literal["keywords", "knowledge", "none"]
    # When the words point at more than one fault type: the likeliest ones, best first (the assistant then offers
    # them as buttons plus "another type" instead of one doubtful proposal).
    alternatives: list[FaultOption] = []
    # How much the words weigh for the best type (the keyword score; 0 without keyword evidence): lets a caller
    # compare a fault reading of the words with a request reading.
    score: int = 0


class RequestProposal(FaultProposal):
    """A request type and sub-type from the user's words (same scoring as the fault triage), and how many devices
    the words name: a number ("trois imprimantes", "12 copiers") or all of them ("toutes les machines")."""

    device_count: int | None = None
    all_devices: bool = False


class AssetResolveRequest(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


class AssetResolution(BaseModel):
    matches: list[AssetOut]
    unknown_references: list[str]


# --- roles and permissions --------------------------------------------------------------------------------------

class PermissionOut(BaseModel):
    code: str
    label: Label


class MyPermissions(BaseModel):
    role: Role
    permissions: list[PermissionOut]
    restricted_request_categories: list[str] = Field(
        description="Request categories this role may not submit (contract, invoice, product move for a user)")


# --- users ------------------------------------------------------------------------------------------------------

class ManagedUserOut(BaseModel):
    id: int
    email: str
    full_name: str
    phone: str
    role: Role
    status: UserStatus
    status_label: Label
    origin: str | None = Field(description="For a pending user: 'invitation' or 'access_request'")
    created_at: datetime


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    full_name: str = Field(min_length=2, max_length=200)
    phone: str = Field(default="", max_length=50)


class AccessRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    full_name: str = Field(min_length=2, max_length=200)
    phone: str = Field(default="", max_length=50)
    company: str = Field(min_length=2, max_length=200, description="The account (company) name")


class MessageOut(BaseModel):
    code: str
    message: str


class TokenConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=200)


class TokenPasswordConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class ProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    language: Language
    accessibility: bool
    analytics: bool
    email_notifications: bool


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: Language | None = None
    accessibility: bool | None = None
    analytics: bool | None = None
    email_notifications: bool | None = None


# --- contacts and assets ------------------------------------------------------------------------------------------

class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str = Field(min_length=2, max_length=200)
    email: EmailStr | None = None
    phone: str = Field(default="", max_length=50)


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    full_name: str
    email: str
    phone: str


class AssetContactCreate(BaseModel):
    """Exactly one of: a portal user of the account, an existing contact, or a new non-registered contact."""
    model_config = ConfigDict(extra="forbid")
    user_id: RowId | None = None
    contact_id: RowId | None = None
    contact: ContactCreate | None = None


class AssetContactOut(BaseModel):
    id: int
    kind: Literal["user", "contact"]
    user_id: int | None
    contact_id: int | None
    full_name: str
    email: str
    phone: str


class AddressOut(BaseModel):
    street: str
    city: str
    postcode: str
    country: str
    location: str


class ContractOut(BaseModel):
    number: str | None
    end_date: date | None
    covers_consumables: bool
    covers_service: bool


class AssetDetailOut(AssetOut):
    account_name: str
    address: AddressOut
    contract: ContractOut


class AliasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alias: str | None = Field(max_length=100, description="New alias name; null or empty removes it")


# --- meters -------------------------------------------------------------------------------------------------------

class MeterOut(BaseModel):
    code: str
    name: str
    label: Label
    integration_id: str
    last_reading: int | None
    last_reading_date: datetime | None
    last_reading_source: str | None


class MeterReadingOut(BaseModel):
    id: int = Field(description="What a correction names (POST .../meters/{code}/corrections)")
    value: int
    read_at: datetime
    source: str
    submitted_by: str | None


class MeterReadingLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=10)
    value: int = Field(ge=0, le=10**12)
    confirmed: bool = Field(default=False, description="The user confirmed a value far above the last reading (without "
                                                       "it such a value is refused: reading_needs_confirmation)")


class MeterReadingsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    readings: list[MeterReadingLine] = Field(min_length=1, max_length=20)


class MeterCorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reading_id: RowId = Field(description="The meter's last reading, the wrong one (ids: GET .../history)")
    value: int | None = Field(default=None, ge=0, le=10**12, description="The right value, if known")
    reason: str = Field(min_length=5, max_length=500)


class MeterCorrectionOut(BaseModel):
    id: int
    meter: str
    reading_id: int
    old_value: int
    new_value: int | None
    reason: str
    corrected_by: str
    created_at: datetime


class SubmittedReading(BaseModel):
    code: str
    name: str
    value: int
    read_at: datetime
    source: str
    integration_id: str


class MeterSubmissionOut(BaseModel):
    id: int
    asset_number: str
    readings: list[SubmittedReading]


class MeterQueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=10, description="Meter code, e.g. 112")
    description: str = Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)
    channel: Channel = API_CHANNEL
    transcript: str = Field(default="", max_length=MAX_TRANSCRIPT_CHARS, description="The assistant's conversation, if any")


# --- orders -------------------------------------------------------------------------------------------------------

class ConsumableOut(BaseModel):
    part_number: str
    description: str
    category: str
    unit_price: Decimal
    currency: str
    max_quantity: int
    covered_by_contract: bool


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    part_number: str = Field(min_length=1, max_length=20)
    quantity: int = Field(ge=1, le=1000)


class PriceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str = Field(min_length=1, max_length=40)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=20)


class OrderLineOut(BaseModel):
    part_number: str
    description: str
    category: str
    quantity: int
    unit_price: Decimal
    covered_by_contract: bool
    line_total: Decimal


class PriceOut(BaseModel):
    asset_number: str
    currency: str
    lines: list[OrderLineOut]
    total: Decimal


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str = Field(min_length=2, max_length=200)
    email: EmailStr | None = None
    phone: str = Field(default="", max_length=50)


class DeliveryLocation(BaseModel):
    """"Nouvel emplacement du destinataire": a delivery address other than the account's."""
    model_config = ConfigDict(extra="forbid")
    recipient: str = Field(default="", max_length=200)
    street: str = Field(min_length=2, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postcode: str = Field(min_length=2, max_length=20)
    country: str = Field(min_length=2, max_length=100)


class OrderCreate(PriceRequest):
    contact: PersonIn | None = Field(default=None, description="Default: the caller")
    shipping_address: DeliveryLocation | None = Field(default=None, description="Default: the account address")


class ShippingOut(BaseModel):
    recipient: str
    street: str
    city: str
    postcode: str
    country: str


class OrderOut(BaseModel):
    number: str
    status: str
    asset_number: str
    asset_model: str
    contact_name: str
    contact_email: str
    shipping_address: ShippingOut
    currency: str
    lines: list[OrderLineOut]
    total: Decimal
    created_at: datetime


class OrderEnquiryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_number: str = Field(min_length=1, max_length=20)
    subcategory: Literal["wrong_items", "missing_items"]
    description: str = Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)
    channel: Channel = API_CHANNEL
    transcript: str = Field(default="", max_length=MAX_TRANSCRIPT_CHARS, description="The assistant's conversation, if any")


class TrainingRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(min_length=3, max_length=200)
    asset: str | None = Field(default=None, max_length=40)
    attendees: int = Field(default=1, ge=1, le=100)
    preferred_date: date | None = None
    description: str = Field(default="", max_length=4000)


class TrainingRequestOut(BaseModel):
    number: str
    status: str
    topic: str
    asset_number: str | None
    attendees: int
    preferred_date: date | None
    description: str
    created_at: datetime


# --- requests and cases -------------------------------------------------------------------------------------------

class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=50)
    subcategory: str = Field(min_length=1, max_length=50)
    asset: str | None = Field(default=None, max_length=40)
    description: str = Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)
    channel: Channel = API_CHANNEL
    transcript: str = Field(default="", max_length=MAX_TRANSCRIPT_CHARS, description="The assistant's conversation, if any")


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=4000)


class WatcherCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: RowId | None = None
    email: EmailStr | None = None
