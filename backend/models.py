"""Portal data model (SQLAlchemy 2 typed ORM). Every row that holds customer data belongs to one account."""
from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false,
    text, true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import Base, UtcDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(str, enum.Enum):
    admin = "admin"
    user = "user"


class UserStatus(str, enum.Enum):
    active = "active"  # ACTIF
    pending = "pending"  # en attente
    inactive = "inactive"  # inactif


class CaseStatus(str, enum.Enum):
    new = "new"
    in_progress = "in_progress"
    awaiting_customer = "awaiting_customer"  # shown in "Action requise"
    resolved = "resolved"
    closed = "closed"


# Where a case or request came from: "portal", "api", or the code of the assistant's channel it was made in
# ("web", "rest", "teams", ...). The assistant's channels are listed once, in credentials.yml (each adapter names its
# code); the backend only checks the shape, so adding a channel needs no change here.
CHANNEL_PATTERN = r"^[a-z][a-z0-9_]{1,19}$"
PORTAL_CHANNEL = "portal"
API_CHANNEL = "api"


class KbFeedback(str, enum.Enum):
    """Answer to the seed's "L'un des articles ci-dessus vous a-t-il aidé à résoudre votre problème ?"."""

    yes = "yes"
    no = "no"
    none_shown = "none_shown"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")

    users: Mapped[list[User]] = relationship(back_populates="account")
    assets: Mapped[list[Asset]] = relationship(back_populates="account")


# An e-mail address belongs to one portal user, except pending invitations: an administrator may invite an address
# another account's user has (and is told nothing of it); such an invitation can never be accepted.
REGISTERED_EMAIL = "status != 'pending' OR origin IS NULL OR origin != 'invitation'"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email_registered", "email", unique=True, sqlite_where=text(REGISTERED_EMAIL),
                            postgresql_where=text(REGISTERED_EMAIL)),
                      Index("uq_users_account_email", "account_id", "email", unique=True))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(50), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20), default=Role.user)
    status: Mapped[UserStatus] = mapped_column(Enum(UserStatus, native_enum=False, length=20), default=UserStatus.active)
    language: Mapped[str] = mapped_column(String(2), default="fr")
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True)
    accessibility: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    analytics: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How a pending user came in: "invitation" (by an admin) or "access_request" (asked for access).
    origin: Mapped[str | None] = mapped_column(String(20), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Bumped by a password change or reset (also when an administrator starts one), a deactivation, a logout and a
    # replayed refresh token: every access and refresh token issued before stops working at once.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    account: Mapped[Account] = relationship(back_populates="users")


class Asset(Base):
    """A "ressource": a device under a service contract."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    asset_number: Mapped[str] = mapped_column(String(20), unique=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    model: Mapped[str] = mapped_column(String(100))
    alias: Mapped[str | None] = mapped_column(String(100), nullable=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    emaintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    # Service contract coverage of the device.
    contract_number: Mapped[str | None] = mapped_column(String(30), nullable=True)
    contract_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    covers_consumables: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    covers_service: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    account: Mapped[Account] = relationship(back_populates="assets")
    contacts: Mapped[list[AssetContact]] = relationship(back_populates="asset", cascade="all, delete-orphan")
    meters: Mapped[list[Meter]] = relationship(back_populates="asset", cascade="all, delete-orphan",
                                               order_by="Meter.code")


class Contact(Base):
    """A "Contact": a member of the customer's company who is not registered on the portal."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AssetContact(Base):
    """Links a portal user (a `user` sees only the assets they are a contact of) or a non-registered contact
    to an asset. Exactly one of user_id / contact_id is set."""

    __tablename__ = "asset_contacts"
    __table_args__ = (UniqueConstraint("asset_id", "user_id"), UniqueConstraint("asset_id", "contact_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True,
                                                   nullable=True)

    asset: Mapped[Asset] = relationship(back_populates="contacts")
    user: Mapped[User | None] = relationship()
    contact: Mapped[Contact | None] = relationship()


class UserToken(Base):
    """One-time token (invitation or password reset), stored as a SHA-256 hash, with an expiry."""

    __tablename__ = "user_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # "invitation" | "password_reset"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class RefreshToken(Base):
    """A refresh token (stored as a SHA-256 hash): used once, it is exchanged for a new access and refresh token.
    It is valid only while the user's token version is the one it was issued with; one presented a second time
    (stolen and replayed) revokes every token of the user."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_version: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Throttle(Base):
    """Failed attempts (logins) or hits (public requests) counted for one key ("login-account:<e-mail>",
    "login-ip:<address>", "access-ip:<address>") within a window, and until when the key is refused."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class TeamsTenant(Base):
    """The Microsoft 365 tenant whose Teams users may link to this account's portal users: one tenant, one account
    (bound by the first link)."""

    __tablename__ = "teams_tenants"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TeamsLink(Base):
    """A Teams user (tenant id, AAD object id) linked to a portal user; one Teams user per portal user."""

    __tablename__ = "teams_links"
    __table_args__ = (UniqueConstraint("tenant_id", "aad_object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("teams_tenants.tenant_id", ondelete="CASCADE"), index=True)
    aad_object_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class TeamsLinkCode(Base):
    """A single-use code (stored as a SHA-256 hash) that the Teams user's sign-in card carries to the portal page.
    A portal user who opens it claims it and is shown a confirmation number (also hashed) that the Teams user must
    type in Teams: only then is the link made, so a link sent to someone else links nothing."""

    __tablename__ = "teams_link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    aad_object_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    confirm_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class VoicePin(Base):
    """A user's voice PIN for the phone assistant (an argon2 hash, like passwords), with its wrong-PIN count and the
    lock that follows too many wrong PINs."""

    __tablename__ = "voice_pins"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class VoiceAuditEvent(Base):
    """What happened to voice access: a PIN set or changed, a failed verification, a lock. `user_id` is empty when
    the caller matched no user."""

    __tablename__ = "voice_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                index=True)
    event: Mapped[str] = mapped_column(String(30))
    caller: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class OutboundMessage(Base):
    """A message queued for a person, not sent by the portal itself (a sender picks it up and sets `sent_at`): the
    phone assistant's "send me the article's link by SMS"."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    medium: Mapped[str] = mapped_column(String(10))  # "sms"
    to: Mapped[str] = mapped_column(String(50))
    lang: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class IdempotencyRecord(Base):
    """The answer given to a create request sent with an Idempotency-Key: a retry gets it back."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the request's payload: the same key with another payload is refused (empty for older records).
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Meter(Base):
    """A meter of a device (112 N&B Grand, 113 N&B Petit, 122 Couleur Grand, 123 Couleur Petit)."""

    __tablename__ = "meters"
    __table_args__ = (UniqueConstraint("asset_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(10))
    name_fr: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    integration_id: Mapped[str] = mapped_column(String(60), unique=True)  # e.g. 77996101-77995625-112-GBAAP

    asset: Mapped[Asset] = relationship(back_populates="meters")
    readings: Mapped[list[MeterReading]] = relationship(back_populates="meter", cascade="all, delete-orphan",
                                                        order_by="MeterReading.id")


class MeterReadingSubmission(Base):
    """One "Soumettre" of the meter reading form: several meters at once."""

    __tablename__ = "meter_reading_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    readings: Mapped[list[MeterReading]] = relationship(back_populates="submission", order_by="MeterReading.id")


class MeterReading(Base):
    __tablename__ = "meter_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(50))  # "e-Maintenance (UGW)" or "Portail"
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("meter_reading_submissions.id", ondelete="CASCADE"),
                                                      nullable=True, index=True)
    # Set when an administrator voided the reading (a MeterCorrection says who, when and why): ignored from then on.
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    meter: Mapped[Meter] = relationship(back_populates="readings")
    submitted_by: Mapped[User | None] = relationship()
    submission: Mapped[MeterReadingSubmission | None] = relationship(back_populates="readings")


class MeterCorrection(Base):
    """The audit of a corrected reading: which reading an administrator voided, its value, the value recorded in its
    place (if any), who did it, when and why."""

    __tablename__ = "meter_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"), index=True)
    reading_id: Mapped[int] = mapped_column(ForeignKey("meter_readings.id", ondelete="CASCADE"))
    replacement_id: Mapped[int | None] = mapped_column(ForeignKey("meter_readings.id", ondelete="SET NULL"),
                                                       nullable=True)
    old_value: Mapped[int] = mapped_column(BigInteger)
    new_value: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str] = mapped_column(String(500))
    corrected_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    meter: Mapped[Meter] = relationship()
    corrected_by: Mapped[User] = relationship()


class Consumable(Base):
    """A catalogue line: a consumable that can be ordered for a device model."""

    __tablename__ = "consumables"
    __table_args__ = (UniqueConstraint("device_model", "part_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_model: Mapped[str] = mapped_column(String(100), index=True)
    part_number: Mapped[str] = mapped_column(String(20))  # "Numéro de modèle", e.g. 0250A013
    description: Mapped[str] = mapped_column(String(200))  # e.g. Cartridge-D3-NONE-
    category: Mapped[str] = mapped_column(String(50))  # e.g. Toner, Drum, Waste toner, Staples
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    max_quantity: Mapped[int] = mapped_column(Integer, default=5)
    # A consumables contract covers this line (toner, drums...); staples are always charged.
    contract_coverable: Mapped[bool] = mapped_column(Boolean, default=True)


class Order(Base):
    """A consumables order (ORD + 7 digits)."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("created_by_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(50), default="")
    ship_recipient: Mapped[str] = mapped_column(String(200), default="")
    ship_street: Mapped[str] = mapped_column(String(200))
    ship_city: Mapped[str] = mapped_column(String(100))
    ship_postcode: Mapped[str] = mapped_column(String(20))
    ship_country: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    total_cents: Mapped[int] = mapped_column(Integer)
    # Former per-table idempotency (kept for the rows written before); keys now live in idempotency_records.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    asset: Mapped[Asset] = relationship()
    created_by: Mapped[User] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                  order_by="OrderLine.id")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    consumable_id: Mapped[int] = mapped_column(ForeignKey("consumables.id"))
    part_number: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    covered: Mapped[bool] = mapped_column(Boolean)
    line_total_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")


class TrainingRequest(Base):
    """A "Commander une formation" request (its own record, not a case: it has no taxonomy sub-type)."""

    __tablename__ = "training_requests"
    __table_args__ = (UniqueConstraint("requested_by_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), nullable=True)
    topic: Mapped[str] = mapped_column(String(200))
    attendees: Mapped[int] = mapped_column(Integer, default=1)
    preferred_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    # Former per-table idempotency (kept for the rows written before); keys now live in idempotency_records.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    asset: Mapped[Asset | None] = relationship()


class Case(Base):
    """A "dossier/ticket". Category/subcategory are taxonomy codes (data/taxonomy/taxonomy.yml)."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("created_by_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(9), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), nullable=True, index=True)
    category: Mapped[str] = mapped_column(String(50))
    subcategory: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[CaseStatus] = mapped_column(Enum(CaseStatus, native_enum=False, length=30), default=CaseStatus.new)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    # The portal user named as the case's contact (when the contact is a portal user).
    contact_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(20), default=PORTAL_CHANNEL)
    kb_articles_shown: Mapped[list[str]] = mapped_column(JSON, default=list)
    kb_feedback: Mapped[KbFeedback | None] = mapped_column(Enum(KbFeedback, native_enum=False, length=20), nullable=True)
    transcript: Mapped[str] = mapped_column(Text, default="")
    # Former per-table idempotency (kept for the rows written before); keys now live in idempotency_records.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    asset: Mapped[Asset | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    contact_user: Mapped[User | None] = relationship(foreign_keys=[contact_user_id])
    order: Mapped[Order | None] = relationship()
    watchers: Mapped[list[CaseWatcher]] = relationship(back_populates="case", cascade="all, delete-orphan",
                                                       order_by="CaseWatcher.id")
    activities: Mapped[list[CaseActivity]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseActivity.id"
    )


class CaseWatcher(Base):
    """A secondary contact ("watch list"): a portal user kept informed of a case."""

    __tablename__ = "case_watchers"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    case: Mapped[Case] = relationship(back_populates="watchers")
    user: Mapped[User] = relationship()


class CaseActivity(Base):
    """The activity stream of a case: comments and updates."""

    __tablename__ = "case_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="activities")


class Deflection(Base):
    """A problem solved by knowledge articles: the user answered "Oui" and no case was opened."""

    __tablename__ = "deflections"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), nullable=True)
    category: Mapped[str | None] = mapped_column(String(50), nullable=True)
    subcategory: Mapped[str | None] = mapped_column(String(50), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kb_articles_shown: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel: Mapped[str] = mapped_column(String(20), default=PORTAL_CHANNEL)
    # Former per-table idempotency (kept for the rows written before); keys now live in idempotency_records.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class KnowledgeArticle(Base):
    """One language version of a knowledge ("savoir-faire") article."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (UniqueConstraint("number", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(12), index=True)
    lang: Mapped[str] = mapped_column(String(2))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
