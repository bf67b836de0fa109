"""Voice access for the phone assistant (backend/services/voice.py).

- The portal user: `PUT /users/me/voice-pin` (current password required), `GET /users/me/voice-pin`.
- The voice channel only (its channel service token): `POST /voice/verify` with the caller's number and the PIN;
  `POST /voice/outbox` queues an article's link by SMS for the caller (queued, not sent).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import CurrentUser, SessionDep, channel_service
from backend.api.responses import AUTHENTICATED, errors
from backend.core.config import get_settings
from backend.schemas import Language, UserOut
from backend.services import voice as service

router = APIRouter(tags=["voice"], responses=errors(400, 423, *AUTHENTICATED))
VoiceChannel = Annotated[str, Depends(channel_service("voice"))]
PhoneNumber = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[0-9+() .-]+$")]


class VoicePinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=200)
    pin: str = Field(min_length=1, max_length=20)  # its rules (6 digits, not trivial) say why it is refused


class VoicePinOut(BaseModel):
    set: bool
    updated_at: datetime | None = None
    locked_until: datetime | None = None


class VoiceVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    caller: PhoneNumber  # Twilio's `From`: only a hint
    phone: PhoneNumber | None = None  # the profile phone the caller typed, when their number matches no single user
    pin: str = Field(pattern=r"^[0-9]{6}$")


@router.put("/users/me/voice-pin", status_code=204, summary="Set or change my voice PIN (current password required)")
def put_voice_pin(data: VoicePinIn, user: CurrentUser, session: SessionDep) -> Response:
    service.set_pin(session, user, data.current_password, data.pin)
    return Response(status_code=204)


@router.get("/users/me/voice-pin", response_model=VoicePinOut, summary="Whether I have a voice PIN, and its lock")
def get_voice_pin(user: CurrentUser, session: SessionDep) -> VoicePinOut:
    found = service.pin_of(session, user.id)
    if found is None:
        return VoicePinOut(set=False)
    return VoicePinOut(set=True, updated_at=found.updated_at, locked_until=found.locked_until)


@router.post("/voice/verify", response_model=UserOut,
             summary="Verify a caller's voice PIN (voice channel only): the user, or 403/409/423")
def verify_caller(data: VoiceVerification, _: VoiceChannel, session: SessionDep) -> UserOut:
    return UserOut.model_validate(service.verify(session, data.caller, data.pin, data.phone))


class ArticleLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: PhoneNumber
    article: str = Field(pattern=r"^[A-Za-z]{2,4}[0-9]{1,8}$")
    lang: Language
    user_id: int | None = None  # the verified caller, if any


class QueuedOut(BaseModel):
    id: int


@router.post("/voice/outbox", response_model=QueuedOut, status_code=201,
             summary="Queue an article's link by SMS for a caller (voice channel only; queued, not sent)")
def queue_link(data: ArticleLinkIn, _: VoiceChannel, session: SessionDep, request: Request) -> QueuedOut:
    base_url = get_settings().backend_public_url or str(request.base_url)
    message = service.queue_article_link(session, data.to, data.article, data.lang, base_url, data.user_id)
    return QueuedOut(id=message.id)
