"""The error answers routes declare (`responses=` on each router and route): one JSON body for every error,
{"code", "message", ...}, in the caller's language (backend/core/errors.py)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """Every error: a stable code, a message in the caller's language, sometimes the field at fault and details
    (validation errors, the last reading of a meter, the seconds to wait...)."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str
    errors: list[FieldErrorOut] | None = None


DESCRIPTIONS = {
    400: "Invalid or expired link or token, or wrong current password",
    401: "Not authenticated (no token, an expired or revoked one), or wrong credentials",
    403: "The role (or the channel) does not allow it",
    404: "Unknown, or not visible to the caller",
    405: "Not available this way (the answer says which way)",
    409: "Conflicts with the current state (already done, last administrator, not pending...)",
    422: "Invalid input (`errors` names the fields) or refused by a business rule",
    423: "Locked for a while (too many wrong voice PINs)",
    429: "Too many attempts: wait the Retry-After header's seconds",
    503: "Busy (too many password hashes at once, or a numbering race): retry after Retry-After",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut, "description": DESCRIPTIONS[code]} for code in codes}


# What any route behind authentication may answer besides its success.
AUTHENTICATED = (401, 403, 404, 409, 422, 503)


def replayed(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """A create route's retry with the same Idempotency-Key: the first answer, with 200 instead of 201."""
    return {200: {"model": model, "description": "A retry with the same Idempotency-Key: the first answer"}}
