from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from sqlalchemy import select

from backend.api.deps import SessionDep, answer_replay
from backend.api.responses import AUTHENTICATED, errors, replayed
from backend.models import Contact
from backend.permissions import Allowed, Permission
from backend.schemas import ContactCreate, ContactOut
from backend.services.assets import create_contact
from backend.services.idempotency import run_once

router = APIRouter(prefix="/contacts", tags=["users"], responses=errors(*AUTHENTICATED))
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]
ContactManager = Allowed(Permission.ADD_CONTACTS)


@router.get("", response_model=list[ContactOut], summary="Non-registered contacts of my account (admin)")
def list_contacts(admin: ContactManager, session: SessionDep) -> list[ContactOut]:
    rows = session.scalars(select(Contact).where(Contact.account_id == admin.account_id).order_by(Contact.full_name))
    return [ContactOut.model_validate(c) for c in rows]


@router.post("", response_model=ContactOut, responses=replayed(ContactOut), status_code=201,
             summary="Add a contact: a member of the company not registered on the portal (admin)")
def post_contact(data: ContactCreate, admin: ContactManager, session: SessionDep, response: Response,
                 idempotency_key: IdempotencyKey = None) -> dict:
    body, created = run_once(session, admin, "contacts", idempotency_key, data,
                             lambda: ContactOut.model_validate(create_contact(session, admin, data)))
    answer_replay(response, created)
    return body
