"""Portal data model (SQLAlchemy 2 typed ORM). Every row that holds customer data belongs to one account."""
from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import Base


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


class Channel(str, enum.Enum):
    portal = "portal"
    web = "web"
    rest = "rest"
    teams = "teams"
    voice = "voice"
    api = "api"


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

    users: Mapped[list[User]] = relationship(back_populates="account")
    assets: Mapped[list[Asset]] = relationship(back_populates="account")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(50), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20), default=Role.user)
    status: Mapped[UserStatus] = mapped_column(Enum(UserStatus, native_enum=False, length=20), default=UserStatus.active)
    language: Mapped[str] = mapped_column(String(2), default="fr")
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

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

    account: Mapped[Account] = relationship(back_populates="assets")
    contacts: Mapped[list[AssetContact]] = relationship(back_populates="asset", cascade="all, delete-orphan")


class AssetContact(Base):
    """Links a user to an asset: a `user` sees only the assets they are a contact of."""

    __tablename__ = "asset_contacts"
    __table_args__ = (UniqueConstraint("asset_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    asset: Mapped[Asset] = relationship(back_populates="contacts")
    user: Mapped[User] = relationship()


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
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=20), default=Channel.portal)
    kb_articles_shown: Mapped[list[str]] = mapped_column(JSON, default=list)
    kb_feedback: Mapped[KbFeedback | None] = mapped_column(Enum(KbFeedback, native_enum=False, length=20), nullable=True)
    transcript: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    asset: Mapped[Asset | None] = relationship()
    created_by: Mapped[User] = relationship()
    activities: Mapped[list[CaseActivity]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseActivity.id"
    )


class CaseActivity(Base):
    """The activity stream of a case: comments and updates."""

    __tablename__ = "case_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

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
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=20), default=Channel.portal)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
