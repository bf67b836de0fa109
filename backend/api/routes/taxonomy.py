from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.deps import SessionDep
from backend.api.responses import AUTHENTICATED, errors
from backend.permissions import Allowed, Permission
from backend.core.errors import request_language
from backend.schemas import CategoryOut, ClassifyRequest, FaultProposal, Label, RequestProposal, SubcategoryOut
from backend.services.assets import list_visible_assets
from backend.services.triage import propose_fault, propose_request
from backend.taxonomy import get_taxonomy

router = APIRouter(tags=["taxonomy"], responses=errors(*AUTHENTICATED))
HelpUser = Allowed(Permission.GET_HELP)
Requester = Allowed(Permission.SUBMIT_REQUESTS)


@router.get("/taxonomy", response_model=list[CategoryOut], summary="Request types and sub-types (seed tables)")
def read_taxonomy() -> list[CategoryOut]:
    return [
        CategoryOut(
            code=c.code, section=c.section, label=Label(**c.labels), admin_only=c.admin_only,
            subcategories=[
                SubcategoryOut(code=s.code, label=Label(**s.labels), keywords={k: list(v) for k, v in s.keywords.items()})
                for s in c.subcategories.values()
            ],
        )
        for c in get_taxonomy().categories.values()
    ]


@router.post("/faults/classify", response_model=FaultProposal, summary="Propose a fault type from a description")
def classify_fault(data: ClassifyRequest, user: HelpUser, session: SessionDep, request: Request) -> FaultProposal:
    return propose_fault(session, data.text, data.lang or request_language(request), data.category)


@router.post("/requests/classify", response_model=RequestProposal,
             summary="Propose a request type and sub-type from the user's words, and the number of devices named")
def classify_request(data: ClassifyRequest, user: Requester, session: SessionDep) -> RequestProposal:
    return propose_request(data.text, data.category, len(list_visible_assets(session, user)))
