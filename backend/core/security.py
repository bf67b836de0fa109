"""Password hashing (argon2) and signed access tokens (JWT, HS256).

Two kinds of bearer token reach the API:
- portal access tokens, issued at login and signed with `SECRET_KEY`;
- assistant tokens, minted by the action server for one backend call on behalf of a user whose identity the
  assistant's channel layer has verified. They are signed with a separate key (`ASSISTANT_KEY`, shared only with
  the action server), carry the audience `portal-assistant`, live a minute at most, and are never stored.

Both carry the user's token version (`ver`): a password change, a reset (also one an administrator starts), a
deactivation or a logout bumps it, and every token issued before stops working at once.

Password hashes (Argon2id, 64 MiB each) are computed at most `PASSWORD_HASH_CONCURRENCY` at once per process; a
request that cannot get a slot within `PASSWORD_HASH_WAIT_SECONDS` is answered 503 with Retry-After.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.core.config import get_settings
from backend.core.errors import ApiError

_hasher = PasswordHasher()
ALGORITHM = "HS256"
ASSISTANT_AUDIENCE = "portal-assistant"
ASSISTANT_TOKEN_MAX_SECONDS = 120  # an assistant token valid longer than this is refused, whatever its exp says
# Service tokens of the chat channels the Rasa server runs (Teams): signed with CHANNEL_KEY, `sub` the channel name.
CHANNEL_AUDIENCE = "portal-channel"
CHANNEL_TOKEN_MAX_SECONDS = 120


_slots_lock = threading.Lock()
_slots: dict[str, threading.BoundedSemaphore] = {}
HASH_BUSY_RETRY_SECONDS = 2
T = TypeVar("T")


def _hash_slots() -> threading.BoundedSemaphore:
    size = get_settings().password_hash_concurrency
    with _slots_lock:
        if str(size) not in _slots:
            _slots.clear()
            _slots[str(size)] = threading.BoundedSemaphore(size)
        return _slots[str(size)]


@contextmanager
def hash_slot() -> Iterator[None]:
    """One of the few password hash slots, or 503 busy (with Retry-After) when none frees up in time."""
    slots = _hash_slots()
    if not slots.acquire(timeout=get_settings().password_hash_wait_seconds):
        raise ApiError(503, "busy", "Le portail est très sollicité, réessayez dans quelques secondes.",
                       "The portal is busy, please retry in a few seconds.",
                       headers={"Retry-After": str(HASH_BUSY_RETRY_SECONDS)})
    try:
        yield
    finally:
        slots.release()


def _limited(work: Callable[[], T]) -> T:
    with hash_slot():
        return work()


def hash_password(password: str) -> str:
    return _limited(lambda: _hasher.hash(password))


# Checked against when the e-mail is unknown, so the answer takes as long as for a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def verify_password(password: str, password_hash: str | None) -> bool:
    """False for a wrong password, and also (after the same work) for an unknown user or one without password."""
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return _limited(verify)


def create_access_token(user_id: int, account_id: int, token_version: int = 0) -> str:
    settings = get_settings()
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "acc": account_id,
        "ver": token_version,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
    }
    return jwt.encode(claims, settings.resolved_secret_key(), algorithm=ALGORITHM)


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    version: int
    assistant: bool  # minted by the action server for a verified chat user


def decode_access_token(token: str) -> TokenClaims | None:
    """The claims of a valid, unexpired portal or assistant token; None for anything else."""
    settings = get_settings()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})  # only to pick the key
        if unverified.get("aud") == ASSISTANT_AUDIENCE:
            claims = jwt.decode(token, settings.resolved_assistant_key(), algorithms=[ALGORITHM],
                                audience=ASSISTANT_AUDIENCE, options={"require": ["exp", "iat", "sub", "ver"]})
            if int(claims["exp"]) - int(claims["iat"]) > ASSISTANT_TOKEN_MAX_SECONDS:
                return None
            return TokenClaims(int(claims["sub"]), int(claims["ver"]), assistant=True)
        claims = jwt.decode(token, settings.resolved_secret_key(), algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub"], "verify_aud": False})
        if "aud" in claims:  # a portal token never has an audience
            return None
        return TokenClaims(int(claims["sub"]), int(claims.get("ver", 0)), assistant=False)
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None


# An assistant token for a caller the phone channel could not verify (no identity): it reads the knowledge base and
# nothing else (backend/api/routes/knowledge.py); every other route refuses it as unauthenticated.
ANONYMOUS_SUBJECT = "anonymous"


def is_anonymous_assistant_token(token: str) -> bool:
    try:
        claims = jwt.decode(token, get_settings().resolved_assistant_key(), algorithms=[ALGORITHM],
                            audience=ASSISTANT_AUDIENCE, options={"require": ["exp", "iat", "sub"]})
    except jwt.PyJWTError:
        return False
    return claims["sub"] == ANONYMOUS_SUBJECT and int(claims["exp"]) - int(claims["iat"]) <= ASSISTANT_TOKEN_MAX_SECONDS


def decode_channel_token(token: str) -> str | None:
    """The channel name of a valid channel service token (CHANNEL_KEY, audience `portal-channel`, short-lived);
    None for anything else, portal and assistant tokens included."""
    try:
        claims = jwt.decode(token, get_settings().resolved_channel_key(), algorithms=[ALGORITHM],
                            audience=CHANNEL_AUDIENCE, options={"require": ["exp", "iat", "sub"]})
    except jwt.PyJWTError:
        return None
    if int(claims["exp"]) - int(claims["iat"]) > CHANNEL_TOKEN_MAX_SECONDS:
        return None
    return str(claims["sub"])
