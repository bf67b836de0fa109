"""Teams identity links (backend/services/teams.py).

- The Teams channel (a channel service token, `ChannelService`): `POST /teams/link-codes` for an unlinked Teams
  user, `POST /teams/links/confirm` with the number the user typed in Teams, `POST /teams/identity` on every
  message.
- The portal user: `POST /teams/links` (claims the sign-in card's code, answers the number to type in Teams),
  `GET|DELETE /teams/links/me`.
- An administrator: `DELETE /teams/links/{user_id}` for a user of their account.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from backend.api.deps import CurrentUser, PathId, SessionDep, channel_service
from backend.api.responses import AUTHENTICATED, errors
from backend.core.errors import ApiError, not_found
from backend.models import User
from backend.permissions import USER_MANAGEMENT, Allowed
from backend.schemas import UserOut
from backend.services import teams as service

router = APIRouter(prefix="/teams", tags=["teams"], responses=errors(400, *AUTHENTICATED))
UserManager = Allowed(*USER_MANAGEMENT)
TeamsKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


ChannelService = Annotated[str, Depends(channel_service("teams"))]


class TeamsUser(BaseModel):
    tenant_id: TeamsKey
    aad_object_id: TeamsKey


class TeamsConfirmation(TeamsUser):
    number: str = Field(pattern=r"^[0-9]{6}$")


class LinkClaimOut(BaseModel):
    confirmation_number: str
    expires_at: datetime


class LinkCodeOut(BaseModel):
    code: str
    expires_at: datetime


class LinkCodeIn(BaseModel):
    code: str = Field(min_length=10, max_length=100)


class TeamsLinkOut(BaseModel):
    tenant_id: str
    created_at: datetime


@router.post("/link-codes", response_model=LinkCodeOut, status_code=201,
             summary="A single-use code for an unlinked Teams user's sign-in card (Teams channel only)")
def create_link_code(data: TeamsUser, _: ChannelService, session: SessionDep) -> LinkCodeOut:
    code, expires_at = service.new_link_code(session, data.tenant_id, data.aad_object_id)
    return LinkCodeOut(code=code, expires_at=expires_at)


@router.post("/identity", response_model=UserOut,
             summary="The active portal user a Teams user is linked to (Teams channel only); 404 when none")
def resolve_identity(data: TeamsUser, _: ChannelService, session: SessionDep) -> UserOut:
    user = service.linked_user(session, data.tenant_id, data.aad_object_id)
    if user is None:
        raise ApiError(404, "teams_not_linked", "Utilisateur Teams non relié.", "Teams user not linked.")
    return UserOut.model_validate(user)


@router.post("/links", response_model=LinkClaimOut, status_code=202,
             summary="Claim a sign-in card's code: the number to type in Teams to make the link")
def claim_link(data: LinkCodeIn, user: CurrentUser, session: SessionDep) -> LinkClaimOut:
    number, expires_at = service.claim(session, user, data.code)
    return LinkClaimOut(confirmation_number=number, expires_at=expires_at)


@router.post("/links/confirm", response_model=UserOut, status_code=201,
             summary="The Teams user typed the confirmation number (Teams channel only); 400 when wrong")
def confirm_link(data: TeamsConfirmation, _: ChannelService, session: SessionDep) -> UserOut:
    user = service.confirm(session, data.tenant_id, data.aad_object_id, data.number)
    if user is None:
        raise ApiError(400, "invalid_confirmation", "Numéro de confirmation incorrect ou expiré.",
                       "Wrong or expired confirmation number.")
    return UserOut.model_validate(user)


@router.get("/links/me", response_model=TeamsLinkOut, summary="My Teams link")
def read_my_link(user: CurrentUser, session: SessionDep) -> TeamsLinkOut:
    found = service.link_of(session, user.id)
    if found is None:
        raise not_found("Lien Teams", "Teams link")
    return TeamsLinkOut(tenant_id=found.tenant_id, created_at=found.created_at)


@router.delete("/links/me", status_code=204, summary="Unlink my Teams user")
def delete_my_link(user: CurrentUser, session: SessionDep) -> Response:
    if not service.unlink(session, user.id):
        raise not_found("Lien Teams", "Teams link")
    return Response(status_code=204)


@router.delete("/links/{user_id}", status_code=204, summary="Unlink a user of my account from Teams (admin)")
def delete_link(user_id: PathId, admin: UserManager, session: SessionDep) -> Response:
    target = session.get(User, user_id)
    if target is None or target.account_id != admin.account_id or not service.unlink(session, user_id):
        raise not_found("Lien Teams", "Teams link")
    return Response(status_code=204)
