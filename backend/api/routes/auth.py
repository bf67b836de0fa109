from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from backend.api.deps import CurrentUser, SessionDep, client_address
from backend.api.responses import errors
from backend.core.config import get_settings
from backend.core.errors import request_language
from backend.schemas import AccessRequestCreate, MessageOut, RefreshRequest, Token, TokenConfirm, TokenPasswordConfirm
from backend.services import auth as auth_service
from backend.services import throttle
from backend.services import users as users_service

router = APIRouter(prefix="/auth", tags=["auth"], responses=errors(400, 401, 422, 503))


@router.post("/token", response_model=Token, responses=errors(429),
             summary="Log in with e-mail and password (OAuth2 password form): a short-lived access token and a "
                     "refresh token; failures are throttled per account and per address (429 with Retry-After)")
def login(session: SessionDep, request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    return auth_service.login(session, form.username, form.password, client_address(request))


@router.post("/refresh", response_model=Token,
             summary="Exchange a refresh token (single use) for a new access token and refresh token")
def refresh(data: RefreshRequest, session: SessionDep) -> Token:
    return auth_service.refresh(session, data.refresh_token)


@router.post("/logout", status_code=204,
             summary="Log out: every access and refresh token of the user stops working (all sessions)")
def logout(user: CurrentUser, session: SessionDep) -> Response:
    auth_service.logout(session, user)
    return Response(status_code=204)


@router.post("/password-reset/confirm", status_code=204,
             summary="Set a new password with a one-time reset link's token")
def confirm_password_reset(data: TokenPasswordConfirm, session: SessionDep) -> Response:
    users_service.confirm_password_reset(session, data.token, data.new_password)
    return Response(status_code=204)


@router.post("/invitations/accept", status_code=204,
             summary="Accept an invitation: choose a password with the invitation link's token")
def accept_invitation(data: TokenPasswordConfirm, session: SessionDep) -> Response:
    users_service.accept_invitation(session, data.token, data.new_password)
    return Response(status_code=204)


access_router = APIRouter(tags=["users"], responses=errors(400, 422, 429, 503))


@access_router.post("/access-requests", response_model=MessageOut, status_code=202,
                    summary="Ask for access to an existing account (public; at most ACCESS_REQUESTS_PER_IP_PER_HOUR "
                            "per address; the requester confirms the e-mail address, then an administrator approves)")
def request_access(data: AccessRequestCreate, session: SessionDep, request: Request,
                   idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None,
                   ) -> MessageOut:
    # Idempotent by nature: a second request with the same e-mail never creates a second pending user.
    throttle.hit(session, throttle.access_request_key(client_address(request)),
                 get_settings().access_requests_per_ip_per_hour, timedelta(hours=1))
    users_service.request_access(session, data)
    fr = ("Votre demande d'accès est enregistrée : confirmez votre adresse e-mail avec le lien que nous vous avons "
          "envoyé, elle sera alors transmise aux administrateurs de votre compte.")
    en = ("Your access request is recorded: confirm your e-mail address with the link we sent you, and it will go to "
          "your account's administrators.")
    return MessageOut(code="access_requested", message=fr if request_language(request) == "fr" else en)


@access_router.post("/access-requests/verify", status_code=204,
                    summary="Confirm the e-mail address of an access request with the link's token (public)")
def verify_access_request(data: TokenConfirm, session: SessionDep) -> Response:
    users_service.verify_access_request(session, data.token)
    return Response(status_code=204)
