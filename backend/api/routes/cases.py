from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from backend.api.deps import CurrentUser, SessionDep
from backend.core.errors import request_language
from backend.schemas import CaseCreate, CaseOut
from backend.services.cases import case_to_out, create_case, get_visible_case, list_visible_cases

router = APIRouter(prefix="/cases", tags=["cases"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]


@router.post("", response_model=CaseOut, status_code=201, summary="Create a case (retry-safe with Idempotency-Key)")
def post_case(
    data: CaseCreate, user: CurrentUser, session: SessionDep, request: Request, response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    case, created = create_case(session, user, data, idempotency_key)
    if not created:
        response.status_code = 200
    return case_to_out(case, request_language(request))


@router.get("", response_model=list[CaseOut], summary="Cases I may see, newest first")
def get_cases(user: CurrentUser, session: SessionDep, request: Request) -> list[CaseOut]:
    lang = request_language(request)
    return [case_to_out(c, lang) for c in list_visible_cases(session, user)]


@router.get("/{number}", response_model=CaseOut, summary="One case by number (CS + 7 digits)")
def get_case(number: str, user: CurrentUser, session: SessionDep, request: Request) -> CaseOut:
    return case_to_out(get_visible_case(session, user, number), request_language(request))
