from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from backend.api.deps import SessionDep, answer_replay
from backend.api.responses import AUTHENTICATED, errors, replayed
from backend.core.errors import request_language
from backend.permissions import Allowed, Permission
from backend.schemas import CaseCreate, CaseOut, RequestCreate
from backend.services.cases import case_to_out, create_case
from backend.services.idempotency import run_once

router = APIRouter(tags=["requests"], responses=errors(*AUTHENTICATED))
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]
Requester = Allowed(Permission.SUBMIT_REQUESTS)


@router.post("/requests", response_model=CaseOut, responses=replayed(CaseOut), status_code=201,
             summary="'Soumettre une demande': a request of the taxonomy's `requests` section; opens a case "
                     "(contract, invoice and product-move requests: administrators only)")
def post_request(data: RequestCreate, user: Requester, session: SessionDep, request: Request, response: Response,
                 idempotency_key: IdempotencyKey = None) -> dict:
    lang = request_language(request)
    body, created = run_once(
        session, user, "POST /requests", idempotency_key, data,
        lambda: case_to_out(create_case(session, user, CaseCreate(**data.model_dump()), section="requests"), lang))
    answer_replay(response, created)
    return body
