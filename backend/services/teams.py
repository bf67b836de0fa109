"""Teams users linked to portal users.

A Teams user is (tenant id, AAD object id). The Teams channel asks for a single-use code for an unlinked user and
shows a sign-in card to the portal page where the logged-in portal user claims it (`claim`) and is shown a
six-digit number; typed in Teams (`confirm`), it makes the link. Both steps are needed: a link forwarded to someone
else, or a number seen by someone else, links nothing. A tenant is bound to the account of its first link: a user
of another account cannot link from it, and an account links from one tenant only. The channel asks who a Teams user is on every message (`linked_user`): an
unlinked, deactivated or other-account answer means the message reaches nothing of the account's data.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.core.config import get_settings
from backend.core.errors import ApiError
from backend.models import TeamsLink, TeamsLinkCode, TeamsTenant, User, UserStatus


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives naive datetimes back


def new_link_code(session: Session, tenant_id: str, aad_object_id: str) -> tuple[str, datetime]:
    """A single-use code for this Teams user (only its hash is stored), and when it expires."""
    now = datetime.now(UTC)
    session.execute(delete(TeamsLinkCode).where(TeamsLinkCode.expires_at < now - timedelta(days=1)))
    code = secrets.token_urlsafe(24)
    expires_at = now + timedelta(minutes=get_settings().teams_link_code_minutes)
    session.add(TeamsLinkCode(code_hash=_hash(code), tenant_id=tenant_id, aad_object_id=aad_object_id,
                              expires_at=expires_at))
    session.commit()
    return code, expires_at


MAX_CONFIRM_ATTEMPTS = 5


def _invalid_code() -> ApiError:
    return ApiError(400, "invalid_link_code", "Ce lien n'est plus valable. Écrivez à nouveau à l'assistant dans "
                    "Teams pour en recevoir un nouveau.", "This link is no longer valid. Write to the assistant in "
                    "Teams again to get a new one.")


def _other_account() -> ApiError:
    return ApiError(409, "teams_tenant_other_account", "Cette organisation Microsoft 365 est reliée à un autre "
                    "compte client : elle ne peut pas être reliée au vôtre.", "This Microsoft 365 organisation is "
                    "linked to another customer account: it cannot be linked to yours.")


def _tenant_conflict(session: Session, tenant_id: str, account_id: int) -> bool:
    """One tenant, one account: the tenant is bound to another account, or the account to another tenant."""
    tenant = session.get(TeamsTenant, tenant_id)
    bound = session.scalar(select(TeamsTenant).where(TeamsTenant.account_id == account_id))
    return (tenant is not None and tenant.account_id != account_id) or (
        bound is not None and bound.tenant_id != tenant_id)


def claim(session: Session, user: User, code: str) -> tuple[str, datetime]:
    """The portal user who opened the sign-in card's link claims its code; returns the confirmation number the
    Teams user must type in Teams (only its hash is kept) and when it expires. Nothing is linked yet."""
    now = datetime.now(UTC)
    found = session.scalar(select(TeamsLinkCode).where(TeamsLinkCode.code_hash == _hash(code)).with_for_update())
    if found is None or found.used_at is not None or found.user_id is not None or _aware(found.expires_at) < now:
        raise _invalid_code()
    if _tenant_conflict(session, found.tenant_id, user.account_id):
        found.used_at = now  # spent all the same
        session.commit()
        raise _other_account()
    number = f"{secrets.randbelow(10 ** 6):06d}"
    found.user_id, found.confirm_hash = user.id, _hash(number)
    session.commit()
    return number, _aware(found.expires_at)


def confirm(session: Session, tenant_id: str, aad_object_id: str, number: str) -> User | None:
    """The Teams user typed the confirmation number: the link is made (replacing the portal user's earlier link and
    this Teams user's), the tenant bound to the account if it was not. None for a wrong or expired number (a code
    is spent after MAX_CONFIRM_ATTEMPTS wrong numbers)."""
    now = datetime.now(UTC)
    pending = session.scalars(select(TeamsLinkCode).where(
        TeamsLinkCode.tenant_id == tenant_id, TeamsLinkCode.aad_object_id == aad_object_id,
        TeamsLinkCode.user_id.is_not(None), TeamsLinkCode.used_at.is_(None)).with_for_update()).all()
    found = None
    for row in pending:
        if _aware(row.expires_at) < now:
            continue
        if row.confirm_hash == _hash(number):
            found = row
        else:
            row.attempts += 1
            if row.attempts >= MAX_CONFIRM_ATTEMPTS:
                row.used_at = now
    if found is None:
        session.commit()
        return None
    found.used_at = now
    user = session.get(User, found.user_id)
    if user is None or user.status != UserStatus.active or _tenant_conflict(session, tenant_id, user.account_id):
        session.commit()
        return None
    if session.get(TeamsTenant, tenant_id) is None:
        session.add(TeamsTenant(tenant_id=tenant_id, account_id=user.account_id))
        session.flush()
    session.execute(delete(TeamsLink).where(
        (TeamsLink.user_id == user.id)
        | ((TeamsLink.tenant_id == tenant_id) & (TeamsLink.aad_object_id == aad_object_id))))
    session.add(TeamsLink(tenant_id=tenant_id, aad_object_id=aad_object_id, user_id=user.id))
    session.commit()
    return user


def link_of(session: Session, user_id: int) -> TeamsLink | None:
    return session.scalar(select(TeamsLink).where(TeamsLink.user_id == user_id))


def unlink(session: Session, user_id: int) -> bool:
    removed = session.execute(delete(TeamsLink).where(TeamsLink.user_id == user_id)).rowcount
    session.commit()
    return bool(removed)


def linked_user(session: Session, tenant_id: str, aad_object_id: str) -> User | None:
    """The active portal user this Teams user is linked to, in the account the tenant is bound to; None otherwise."""
    found = session.scalar(select(TeamsLink).where(TeamsLink.tenant_id == tenant_id,
                                                   TeamsLink.aad_object_id == aad_object_id))
    if found is None:
        return None
    tenant = session.get(TeamsTenant, tenant_id)
    user = found.user
    if tenant is None or user.status != UserStatus.active or user.account_id != tenant.account_id:
        return None
    return user
