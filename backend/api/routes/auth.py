from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import func, select

from backend.api.deps import SessionDep
from backend.core.errors import ApiError, request_language
from backend.core.security import create_access_token, verify_password
from backend.models import User, UserStatus
from backend.schemas import AccessRequestCreate, MessageOut, Token, TokenPasswordConfirm
from backend.services import users as users_service

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=Token, summary="Log in with e-mail and password (OAuth2 password form)")
def login(session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = session.scalars(select(User).where(func.lower(User.email) == form.username.strip().lower())).first()
    if not verify_password(form.password, user.password_hash if user else None) or user is None:
        raise ApiError(401, "invalid_credentials", "E-mail ou mot de passe incorrect.", "Incorrect e-mail or password.")
    if user.status != UserStatus.active:
        raise ApiError(
            403, "account_inactive",
            "Votre accès au portail n'est pas actif. Contactez votre administrateur.",
            "Your portal access is not active. Please contact your administrator.",
        )
    return Token(access_token=create_access_token(user.id, user.account_id, user.token_version))


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


access_router = APIRouter(tags=["users"])


@access_router.post("/access-requests", response_model=MessageOut, status_code=202,
                    summary="Ask for access to an existing account (public; an administrator approves it)")
def request_access(data: AccessRequestCreate, session: SessionDep, request: Request,
                   idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None,
                   ) -> MessageOut:
    # Idempotent by nature: a second request with the same e-mail never creates a second pending user.
    users_service.request_access(session, data)
    fr = "Votre demande d'accès a été transmise aux administrateurs de votre compte."
    en = "Your access request has been sent to your account's administrators."
    return MessageOut(code="access_requested", message=fr if request_language(request) == "fr" else en)
