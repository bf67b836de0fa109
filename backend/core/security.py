"""Password hashing (argon2) and signed access tokens (JWT, HS256)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.core.config import get_settings

_hasher = PasswordHasher()
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Checked against when the e-mail is unknown, so the answer takes as long as for a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def verify_password(password: str, password_hash: str | None) -> bool:
    """False for a wrong password, and also (after the same work) for an unknown user or one without password."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(user_id: int, account_id: int) -> str:
    settings = get_settings()
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "acc": account_id,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
    }
    return jwt.encode(claims, settings.resolved_secret_key(), algorithm=ALGORITHM)


def decode_access_token(token: str) -> int | None:
    """The user id of a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(token, get_settings().resolved_secret_key(), algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub"]})
        return int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        return None
