from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import CurrentUser
from backend.schemas import UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut, summary="The authenticated user, with role, language and account")
def read_me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
