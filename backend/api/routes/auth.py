from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import func, select

from backend.api.deps import SessionDep
from backend.core.errors import ApiError
from backend.core.security import create_access_token, verify_password
from backend.models import User, UserStatus
from backend.schemas import Token

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
    return Token(access_token=create_access_token(user.id, user.account_id))
