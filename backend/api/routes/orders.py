from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from backend.api.deps import SessionDep, answer_replay
from backend.api.responses import AUTHENTICATED, errors, replayed
from backend.core.errors import request_language
from backend.permissions import Allowed, Permission
from backend.schemas import (
    CaseCreate, CaseOut, OrderCreate, OrderEnquiryCreate, OrderOut, PriceOut, PriceRequest, TrainingRequestCreate,
    TrainingRequestOut,
)
from backend.services import orders as service
from backend.services.assets import find_visible_asset
from backend.services.cases import case_to_out, create_case
from backend.services.idempotency import run_once

router = APIRouter(tags=["orders"], responses=errors(*AUTHENTICATED))
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]
Orderer = Allowed(Permission.PLACE_ORDERS)


@router.post("/orders/price", response_model=PriceOut,
             summary="'Obtenir le prix': total computed by the server (zero for lines the contract covers)")
def get_price(data: PriceRequest, user: Orderer, session: SessionDep) -> PriceOut:
    return service.price(session, find_visible_asset(session, user, data.asset), data.lines)


@router.post("/orders", response_model=OrderOut, responses=replayed(OrderOut), status_code=201,
             summary="Order consumables for a device not under eMaintenance (retry-safe with Idempotency-Key)")
def post_order(data: OrderCreate, user: Orderer, session: SessionDep, response: Response,
               idempotency_key: IdempotencyKey = None) -> dict:
    asset = find_visible_asset(session, user, data.asset)
    body, created = run_once(session, user, "orders", idempotency_key, data,
                             lambda: service.create_order(session, user, asset, data))
    answer_replay(response, created)
    return body


@router.get("/orders/{number}", response_model=OrderOut, summary="One consumables order (ORD + 7 digits)")
def get_order(number: Annotated[str, Path(max_length=20)], user: Orderer, session: SessionDep) -> OrderOut:
    return service.order_out(service.get_visible_order(session, user, number))


@router.post("/orders/enquiries", response_model=CaseOut, responses=replayed(CaseOut), status_code=201,
             summary="Wrong or missing items in an order: opens a case order_enquiry referencing the order")
def post_order_enquiry(data: OrderEnquiryCreate, user: Orderer, session: SessionDep, request: Request,
                       response: Response, idempotency_key: IdempotencyKey = None) -> dict:
    order = service.get_visible_order(session, user, data.order_number)
    description = f"[{order.number}] {data.description.strip()}"
    lang = request_language(request)
    body, created = run_once(session, user, "POST /orders/enquiries", idempotency_key, data, lambda: case_to_out(
        create_case(session, user, CaseCreate(category="order_enquiry", subcategory=data.subcategory,
                                              description=description, channel=data.channel,
                                              transcript=data.transcript), order=order), lang))
    answer_replay(response, created)
    return body


@router.get("/training-requests", response_model=list[TrainingRequestOut],
            summary="The training requests I may see, newest first (an administrator: the account's)")
def get_training_requests(user: Orderer, session: SessionDep,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[TrainingRequestOut]:
    return service.list_training_requests(session, user, limit)


@router.post("/training-requests", response_model=TrainingRequestOut, responses=replayed(TrainingRequestOut),
             status_code=201,
             summary="'Commander une formation': a training request record (TRN + 7 digits), not a case")
def post_training_request(data: TrainingRequestCreate, user: Orderer, session: SessionDep, response: Response,
                          idempotency_key: IdempotencyKey = None) -> dict:
    asset = find_visible_asset(session, user, data.asset) if data.asset else None
    body, created = run_once(session, user, "training_requests", idempotency_key, data,
                             lambda: service.create_training_request(session, user, asset, data))
    answer_replay(response, created)
    return body
