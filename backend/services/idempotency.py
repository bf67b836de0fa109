"""Idempotency-Key for create endpoints, one mechanism for all: the first answer is stored with the created rows
(one commit), and a retry with the same key gets that answer back instead of a second creation.

A key is scoped by user and endpoint (a key used on POST /cases means nothing on POST /requests) and bound to the
request's payload: the same key with another payload is refused (422 idempotency_key_reused), never answered with
the first creation.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.core.errors import ApiError
from backend.models import IdempotencyRecord, User


# Context attached to a request rather than what it asks for: the assistant's retry after a failure sends the same
# request with the conversation grown since (the retry's own turns), which is still the same request.
NOT_HASHED = {"transcript"}


def payload_hash(payload: BaseModel | dict | None) -> str:
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload or {})
    data = {k: v for k, v in data.items() if k not in NOT_HASHED}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _stored(session: Session, user: User, scope: str, key: str, digest: str) -> dict | None:
    record = session.scalars(select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user.id, IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)).first()
    if record is None:
        return None
    if record.request_hash is not None and record.request_hash != digest:
        raise ApiError(422, "idempotency_key_reused",
                       "Cette clé d'idempotence a déjà servi pour une autre demande : utilisez-en une nouvelle.",
                       "This Idempotency-Key was already used for another request: use a new one.",
                       field="Idempotency-Key")
    return record.response


def run_once(session: Session, user: User, scope: str, key: str | None, payload: BaseModel | dict | None,
             create: Callable[[], BaseModel], attempts: int = 3) -> tuple[dict, bool]:
    """Run `create` (adds rows, flushes, returns the response model; must not commit) at most once per key.

    `scope` names the endpoint (and the resource in its path); `payload` is what the request asks for.
    Returns (response body, created). Numbering races (unique violations) are retried.
    """
    digest = payload_hash(payload)
    if key:
        stored = _stored(session, user, scope, key, digest)
        if stored is not None:
            return stored, False
    for _ in range(attempts):
        try:
            body = create().model_dump(mode="json")
            if key:
                session.add(IdempotencyRecord(user_id=user.id, scope=scope, key=key, request_hash=digest,
                                              response=body))
            session.commit()
            return body, True
        except IntegrityError:
            session.rollback()
            if key:
                stored = _stored(session, user, scope, key, digest)  # a concurrent retry won the race
                if stored is not None:
                    return stored, False
        except Exception:
            session.rollback()
            raise
    raise ApiError(503, "busy", "Le portail est très sollicité, réessayez.", "The portal is busy, please retry.")
