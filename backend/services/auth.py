"""Sessions: login (throttled), short-lived access tokens with a single-use refresh token, logout and revocation."""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.core.config import get_settings
from backend.core.errors import ApiError
from backend.core.security import create_access_token, verify_password
from backend.models import RefreshToken, User, UserStatus
from backend.schemas import Token
from backend.services import throttle


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invalid_credentials() -> ApiError:
    return ApiError(401, "invalid_credentials", "E-mail ou mot de passe incorrect.", "Incorrect e-mail or password.")


def _invalid_refresh() -> ApiError:
    return ApiError(401, "invalid_refresh_token", "Votre session a expiré : veuillez vous reconnecter.",
                    "Your session has expired: please log in again.")


def issue_tokens(session: Session, user: User) -> Token:
    """A new access token and refresh token for the user (commits)."""
    settings = get_settings()
    refresh = secrets.token_urlsafe(32)
    session.add(RefreshToken(user_id=user.id, token_hash=_hash(refresh), token_version=user.token_version,
                             expires_at=datetime.now(UTC) + timedelta(hours=settings.refresh_token_hours)))
    session.commit()
    return Token(access_token=create_access_token(user.id, user.account_id, user.token_version),
                 expires_in=settings.access_token_minutes * 60, refresh_token=refresh)


def login(session: Session, email: str, password: str, address: str) -> Token:
    """Checks the password unless the account or the address is throttled (429 before any hash). A wrong password,
    an unknown e-mail and an account that is not active all get the same 401 and count as failures."""
    settings = get_settings()
    account_key, ip_key = throttle.login_keys(email, address)
    throttle.refuse_if_blocked(session, [account_key, ip_key])
    # an address may also be on pending invitations (services/users.invite): the user with a password is the one
    user = session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())
                           .order_by(User.password_hash.is_(None), User.id)).first()
    if verify_password(password, user.password_hash if user else None) and user is not None \
            and user.status == UserStatus.active:
        throttle.clear(session, account_key)
        return issue_tokens(session, user)
    window = timedelta(minutes=settings.login_failure_window_minutes)
    for key, free in ((account_key, settings.login_free_failures_per_account),
                      (ip_key, settings.login_free_failures_per_ip)):
        throttle.record_failure(session, key, free, settings.login_backoff_seconds,
                                settings.login_backoff_max_seconds, window)
    session.commit()
    raise invalid_credentials()


def revoke_all(session: Session, user: User) -> None:
    """Every access and refresh token of the user stops working (the caller commits)."""
    user.token_version += 1
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.used_at.is_(None))
                    .values(used_at=datetime.now(UTC)))


def refresh(session: Session, token: str) -> Token:
    """Exchanges a refresh token (once) for a new pair. One already used is a replay: every token of its user is
    revoked."""
    now = datetime.now(UTC)
    row = session.scalars(select(RefreshToken).where(RefreshToken.token_hash == _hash(token))).first()
    if row is None:
        raise _invalid_refresh()
    user = session.get(User, row.user_id)
    # Used at most once, even by two concurrent requests: only one of them marks it.
    claimed = session.execute(update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
                              .values(used_at=now)).rowcount == 1
    if not claimed:
        if user is not None and row.token_version == user.token_version:
            revoke_all(session, user)  # replayed: whoever holds a copy is signed out, the user logs in again
        session.commit()
        raise _invalid_refresh()
    if (user is None or user.status != UserStatus.active or row.expires_at <= now
            or row.token_version != user.token_version):
        session.commit()
        raise _invalid_refresh()
    return issue_tokens(session, user)


def logout(session: Session, user: User) -> None:
    revoke_all(session, user)
    session.commit()
