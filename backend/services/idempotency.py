"""Idempotency-Key for create endpoints: the first answer is stored with the created rows (one commit), and a
retry with the same key (same user, same endpoint) gets that answer back instead of a second creation."""
from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.core.errors import ApiError
from backend.models import IdempotencyRecord, User


def _stored(session: Session, user: User, scope: str, key: str) -> dict | None:
    record = session.scalars(select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user.id, IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)).first()
    return record.response if record else None


def run_once(session: Session, user: User, scope: str, key: str | None,
             create: Callable[[], BaseModel], attempts: int = 3) -> tuple[dict, bool]:
    """Run `create` (adds rows, flushes, returns the response model; must not commit) at most once per key.

    Returns (response body, created). Numbering races (unique violations) are retried.
    """
    if key:
        stored = _stored(session, user, scope, key)
        if stored is not None:
            return stored, False
    for _ in range(attempts):
        try:
            body = create().model_dump(mode="json")
            if key:
                session.add(IdempotencyRecord(user_id=user.id, scope=scope, key=key, response=body))
            session.commit()
            return body, True
        except IntegrityError:
            session.rollback()
            if key:
                stored = _stored(session, user, scope, key)  # a concurrent retry won the race
                if stored is not None:
                    return stored, False
        except Exception:
            session.rollback()
            raise
    raise ApiError(503, "busy", "Le portail est très sollicité, réessayez.", "The portal is busy, please retry.")
