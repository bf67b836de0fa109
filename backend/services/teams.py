"""Teams users linked to portal users.

A Teams user is (tenant id, AAD object id). The Teams channel asks for a single-use code for an unlinked user and
shows a sign-in card to the portal page that, once the user is logged in, links that Teams user to them
(`link`). A tenant is bound to the account of its first link: a user of another account cannot link from it, and
an account links from one tenant only. The channel asks who a Teams user is on every message (`linked_user`): an
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


def link(session: Session, user: User, code: str) -> TeamsLink:
    """Links the code's Teams user to `user` (replacing the user's earlier link and the Teams user's earlier one)."""
    now = datetime.now(UTC)
    found = session.scalar(select(TeamsLinkCode).where(TeamsLinkCode.code_hash == _hash(code)).with_for_update())
    if found is None or found.used_at is not None or _aware(found.expires_at) < now:
        raise ApiError(400, "invalid_link_code", "Ce lien n'est plus valable. Écrivez à nouveau à l'assistant dans "
                       "Teams pour en recevoir un nouveau.", "This link is no longer valid. Write to the assistant "
                       "in Teams again to get a new one.")
    found.used_at = now
    tenant = session.get(TeamsTenant, found.tenant_id)
    bound = session.scalar(select(TeamsTenant).where(TeamsTenant.account_id == user.account_id))
    if (tenant is not None and tenant.account_id != user.account_id) or (
            bound is not None and bound.tenant_id != found.tenant_id):
        session.commit()  # the code is spent all the same
        raise ApiError(409, "teams_tenant_other_account", "Cette organisation Microsoft 365 est reliée à un autre "
                       "compte client : elle ne peut pas être reliée au vôtre.", "This Microsoft 365 organisation is "
                       "linked to another customer account: it cannot be linked to yours.")
    if tenant is None:
        session.add(TeamsTenant(tenant_id=found.tenant_id, account_id=user.account_id))
        session.flush()
    session.execute(delete(TeamsLink).where(
        (TeamsLink.user_id == user.id)
        | ((TeamsLink.tenant_id == found.tenant_id) & (TeamsLink.aad_object_id == found.aad_object_id))))
    created = TeamsLink(tenant_id=found.tenant_id, aad_object_id=found.aad_object_id, user_id=user.id)
    session.add(created)
    session.commit()
    return created


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
