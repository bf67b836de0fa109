"""Throttling of what anyone may try without an account: failed logins (per account and per client address, with a
doubling wait) and public requests (a number per address and hour). Counted in the database, so every backend
process sees the same counts."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.core.errors import ApiError
from backend.models import Throttle

MAX_KEY_CHARS = 300


def _key(kind: str, value: str) -> str:
    return f"{kind}:{value.strip().lower()}"[:MAX_KEY_CHARS]


def _row(session: Session, key: str) -> Throttle | None:
    return session.scalars(select(Throttle).where(Throttle.key == key).with_for_update()).first()


def retry_after(session: Session, key: str, now: datetime | None = None) -> int | None:
    """Seconds the key is still refused for, None when it is not."""
    now = now or datetime.now(UTC)
    row = session.get(Throttle, key)
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return None
    return max(1, math.ceil((row.blocked_until - now).total_seconds()))


def too_many(retry: int) -> ApiError:
    minutes = max(1, math.ceil(retry / 60))
    return ApiError(429, "too_many_attempts",
                    f"Trop de tentatives. Réessayez dans {minutes} minute{'s' if minutes > 1 else ''}.",
                    f"Too many attempts. Please try again in {minutes} minute{'s' if minutes > 1 else ''}.",
                    headers={"Retry-After": str(retry)}, retry_after=retry)


def refuse_if_blocked(session: Session, keys: list[str]) -> None:
    waits = [wait for wait in (retry_after(session, key) for key in keys) if wait is not None]
    if waits:
        raise too_many(max(waits))


def _count(session: Session, key: str, window: timedelta, now: datetime) -> Throttle:
    """The key's row with one more in its window (a new window when the last one is over); flushed, not committed.
    Called before any other write of the request (a concurrent creation of the row rolls the session back)."""
    for _ in range(2):
        row = _row(session, key)
        if row is None:
            row = Throttle(key=key, count=0, window_start=now)
            session.add(row)
            try:
                session.flush()
            except IntegrityError:  # created concurrently: count on that row
                session.rollback()
                continue
        if row.window_start + window <= now:
            row.count, row.window_start, row.blocked_until = 0, now, None
        row.count += 1
        session.flush()
        return row
    raise ApiError(503, "busy", "Le portail est très sollicité, réessayez.", "The portal is busy, please retry.")


def record_failure(session: Session, key: str, free: int, base_seconds: int, max_seconds: int,
                   window: timedelta) -> None:
    """One more failure: past `free` failures in the window, the key is refused for base × 2^(extra failures − 1)
    seconds (at most `max_seconds`)."""
    now = datetime.now(UTC)
    row = _count(session, key, window, now)
    extra = row.count - free
    if extra > 0:
        wait = min(max_seconds, base_seconds * 2 ** min(extra - 1, 30))
        row.blocked_until = now + timedelta(seconds=wait)


def clear(session: Session, key: str) -> None:
    row = _row(session, key)
    if row is not None:
        session.delete(row)


def hit(session: Session, key: str, limit: int, window: timedelta) -> None:
    """Counts one request of the key; the one past `limit` within the window is refused (429, Retry-After until the
    window ends). Commits the count."""
    now = datetime.now(UTC)
    row = _count(session, key, window, now)
    if row.count > limit:
        row.blocked_until = row.window_start + window
        session.commit()
        raise too_many(max(1, math.ceil((row.blocked_until - now).total_seconds())))
    session.commit()


def login_keys(email: str, address: str) -> tuple[str, str]:
    return _key("login-account", email), _key("login-ip", address)


def access_request_key(address: str) -> str:
    return _key("access-ip", address)
