"""Annotated dependencies shared by the routes: a DB session and the authenticated user."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request, Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from backend.core.db import get_session_factory
from backend.core.errors import ApiError
from backend.core.security import decode_access_token, decode_channel_token
from backend.models import User, UserStatus
from backend.schemas import MAX_ROW_ID

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_db() -> Iterator[Session]:
    with get_session_factory()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
# A row's id in a path: within the databases' integer range (a larger number is a 422, not a 500).
PathId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]



def client_address(request: Request) -> str:
    """The client's address, as the server reports it (behind a proxy: run uvicorn with --proxy-headers and
    --forwarded-allow-ips so that it is the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"


def _unauthenticated() -> ApiError:
    return ApiError(401, "not_authenticated", "Veuillez vous connecter au portail.", "Please log in to the portal.")


def get_current_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    claims = decode_access_token(token) if token else None
    user = session.get(User, claims.user_id) if claims is not None else None
    if user is None or user.status != UserStatus.active or user.token_version != claims.version:
        raise _unauthenticated()
    request.state.lang = user.language  # errors are answered in the user's language
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def channel_service(channel: str) -> Callable[[str | None], str]:
    """A dependency admitting only the service token of one chat channel the Rasa server runs ("teams", "voice"):
    signed with CHANNEL_KEY, its `sub` the channel's name. A portal or assistant token, or another channel's, is
    refused (401)."""

    def dependency(token: Annotated[str | None, Depends(oauth2_scheme)]) -> str:
        if not token or decode_channel_token(token) != channel:
            raise ApiError(401, "not_authenticated", "Service de canal non authentifié.",
                           "Channel service not authenticated.")
        return channel

    return dependency


def answer_replay(response: Response, created: bool) -> None:
    """A retried request (same Idempotency-Key) gets the first result with 200 instead of 201."""
    if not created:
        response.status_code = 200
