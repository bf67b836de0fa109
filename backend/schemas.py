"""Request and response bodies of the API (pydantic 2)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.models import CaseStatus, Channel, KbFeedback, Role, UserStatus

Language = Literal["fr", "en"]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


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
    description: str = Field(min_length=3, max_length=4000)
    channel: Channel = Channel.api
    priority: int = Field(default=3, ge=1, le=5)
    kb_articles_shown: list[str] = Field(default_factory=list, max_length=20)
    kb_feedback: KbFeedback | None = None
    transcript: str = Field(default="", max_length=20000)


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
    kb_articles_shown: list[str]
    kb_feedback: KbFeedback | None
    created_at: datetime
    updated_at: datetime
    activities: list[ActivityOut]


class DeflectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=50)
    subcategory: str | None = Field(default=None, max_length=50)
    description: str = Field(default="", max_length=4000)
    kb_articles_shown: list[str] = Field(min_length=1, max_length=20)
    channel: Channel = Channel.api


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
    score: float


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


class FaultProposal(BaseModel):
    category: str | None
    subcategory: str | None
    confident: bool
    source: Literal["keywords", "knowledge", "none"]


class AssetResolveRequest(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


class AssetResolution(BaseModel):
    matches: list[AssetOut]
    unknown_references: list[str]
