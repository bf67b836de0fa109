from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from backend.api.deps import PathId, SessionDep, answer_replay
from backend.api.responses import AUTHENTICATED, errors, replayed
from backend.core.errors import request_language
from backend.permissions import Allowed, Permission
from backend.schemas import (
    AliasUpdate, AssetContactCreate, AssetContactOut, AssetDetailOut, AssetOut, AssetResolution, AssetResolveRequest,
    CaseCreate, CaseOut, ConsumableOut, MeterCorrectionCreate, MeterCorrectionOut, MeterOut, MeterQueryCreate,
    MeterReadingOut, MeterReadingsCreate, MeterSubmissionOut, OrderOut,
)
from backend.services import meters as meter_service
from backend.services import orders as order_service
from backend.services.assets import (
    add_asset_contact, asset_contact_out, asset_detail, find_visible_asset, list_visible_assets,
    remove_asset_contact, resolve_assets_in_text, set_alias,
)
from backend.services.cases import case_to_out, create_case
from backend.services.idempotency import run_once

router = APIRouter(prefix="/assets", tags=["assets"], responses=errors(*AUTHENTICATED))
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]
AssetViewer = Allowed(Permission.VIEW_ASSETS)
AssetContactManager = Allowed(Permission.ADD_ASSET_CONTACTS)
MeterUser = Allowed(Permission.METER_READINGS)
Orderer = Allowed(Permission.PLACE_ORDERS)
Reference = Annotated[str, Path(max_length=100, description="Asset number, serial or alias")]


@router.get("", response_model=list[AssetOut], summary="My assets (a user: assigned ones; an admin: the account's)")
def list_assets(
    user: AssetViewer, session: SessionDep,
    q: Annotated[str | None, Query(max_length=100, description="Part of a serial, asset number or alias")] = None,
) -> list[AssetOut]:
    return [AssetOut.model_validate(a) for a in list_visible_assets(session, user, q)]


@router.post("/resolve", response_model=AssetResolution,
             summary="Which visible assets a sentence names (number, serial or alias)")
def resolve_assets(data: AssetResolveRequest, user: AssetViewer, session: SessionDep) -> AssetResolution:
    matches, unknown = resolve_assets_in_text(session, user, data.text)
    return AssetResolution(matches=[AssetOut.model_validate(a) for a in matches], unknown_references=unknown)


@router.get("/{reference}", response_model=AssetDetailOut,
            summary="One visible asset by asset number, serial or alias, with address and contract coverage")
def read_asset(reference: Reference, user: AssetViewer, session: SessionDep) -> AssetDetailOut:
    return asset_detail(find_visible_asset(session, user, reference))


@router.patch("/{reference}/alias", response_model=AssetDetailOut,
              summary="Set or remove the alias name of a visible asset (unique within the account)")
def update_alias(reference: Reference, data: AliasUpdate, user: AssetViewer, session: SessionDep) -> AssetDetailOut:
    return asset_detail(set_alias(session, find_visible_asset(session, user, reference), data.alias))


# --- contacts of a device (admin) -----------------------------------------------------------------------------------

@router.get("/{reference}/contacts", response_model=list[AssetContactOut],
            summary="Contacts of a device: portal users and non-registered contacts (admin)")
def list_asset_contacts(reference: Reference, admin: AssetContactManager, session: SessionDep) -> list[AssetContactOut]:
    asset = find_visible_asset(session, admin, reference)
    return [asset_contact_out(link) for link in asset.contacts]


@router.post("/{reference}/contacts", response_model=AssetContactOut, responses=replayed(AssetContactOut),
             status_code=201,
             summary="Add a portal user, an existing contact or a new non-registered contact to a device (admin)")
def add_contact(reference: Reference, data: AssetContactCreate, admin: AssetContactManager, session: SessionDep,
                response: Response, idempotency_key: IdempotencyKey = None) -> dict:
    asset = find_visible_asset(session, admin, reference)
    body, created = run_once(session, admin, f"assets.contacts.{asset.id}", idempotency_key, data,
                             lambda: asset_contact_out(add_asset_contact(session, admin, asset, data)))
    answer_replay(response, created)
    return body


@router.delete("/{reference}/contacts/{link_id}", status_code=204, summary="Remove a contact from a device (admin)")
def delete_contact(reference: Reference, link_id: PathId, admin: AssetContactManager, session: SessionDep) -> Response:
    remove_asset_contact(session, find_visible_asset(session, admin, reference), link_id)
    return Response(status_code=204)


# --- meter readings -----------------------------------------------------------------------------------------------

@router.get("/{reference}/meters", response_model=list[MeterOut],
            summary="Meters of a device with their last reading, date, source and integration id")
def list_meters(reference: Reference, user: MeterUser, session: SessionDep, request: Request) -> list[MeterOut]:
    asset = find_visible_asset(session, user, reference)
    lang = request_language(request)
    return [meter_service.meter_out(session, m, lang) for m in asset.meters]


@router.get("/{reference}/meters/{code}/history", response_model=list[MeterReadingOut],
            summary="Readings of one meter, newest first")
def meter_history(reference: Reference, code: Annotated[str, Path(max_length=10)], user: MeterUser,
                  session: SessionDep) -> list[MeterReadingOut]:
    return meter_service.history(session, find_visible_asset(session, user, reference), code)


@router.post("/{reference}/meter-readings", response_model=MeterSubmissionOut, responses=replayed(MeterSubmissionOut),
             status_code=201,
             summary="Submit readings for several meters at once (all or nothing; never lower than the last one; "
                     "a value far above it only with `confirmed`)")
def submit_readings(reference: Reference, data: MeterReadingsCreate, user: MeterUser, session: SessionDep,
                    request: Request, response: Response, idempotency_key: IdempotencyKey = None) -> dict:
    asset = find_visible_asset(session, user, reference)
    lang = request_language(request)
    body, created = run_once(session, user, f"meter_readings.{asset.id}", idempotency_key, data,
                             lambda: meter_service.submit(session, user, asset, data, lang))
    answer_replay(response, created)
    return body


@router.post("/{reference}/meters/{code}/corrections", response_model=MeterCorrectionOut,
             responses=replayed(MeterCorrectionOut), status_code=201,
             summary="Correct a meter's last reading (admin): voided, the right value recorded instead; audited")
def correct_reading(reference: Reference, code: Annotated[str, Path(max_length=10)], data: MeterCorrectionCreate,
                    admin: MeterUser, session: SessionDep, response: Response,
                    idempotency_key: IdempotencyKey = None) -> dict:
    asset = find_visible_asset(session, admin, reference)
    body, created = run_once(session, admin, f"meters.corrections.{asset.id}.{code}", idempotency_key, data,
                             lambda: meter_service.correct(session, admin, asset, code, data))
    answer_replay(response, created)
    return body


@router.get("/{reference}/meters/{code}/corrections", response_model=list[MeterCorrectionOut],
            summary="The corrections of a meter's readings, newest first (admin)")
def list_corrections(reference: Reference, code: Annotated[str, Path(max_length=10)], admin: MeterUser,
                     session: SessionDep) -> list[MeterCorrectionOut]:
    return meter_service.corrections(session, admin, find_visible_asset(session, admin, reference), code)


@router.post("/{reference}/meter-readings/query", response_model=CaseOut, responses=replayed(CaseOut), status_code=201,
             summary="Ask a question about a meter reading: opens a case meter_reading / query")
def query_reading(reference: Reference, data: MeterQueryCreate, user: MeterUser, session: SessionDep,
                  request: Request, response: Response, idempotency_key: IdempotencyKey = None) -> dict:
    asset = find_visible_asset(session, user, reference)
    meter = meter_service.get_meter(session, asset, data.code)
    description = f"[{meter.name_fr} — {meter.integration_id}] {data.description.strip()}"
    lang = request_language(request)
    body, created = run_once(session, user, f"meter_readings.query.{asset.id}", idempotency_key, data,
                             lambda: case_to_out(create_case(session, user, CaseCreate(
                                 category="meter_reading", subcategory="query", asset=asset.asset_number,
                                 description=description, channel=data.channel, transcript=data.transcript)), lang))
    answer_replay(response, created)
    return body


# --- consumables --------------------------------------------------------------------------------------------------

@router.get("/{reference}/consumables", response_model=list[ConsumableOut],
            summary="Consumables that can be ordered for this device's model, with limits and contract coverage")
def list_consumables(reference: Reference, user: Orderer, session: SessionDep) -> list[ConsumableOut]:
    asset = find_visible_asset(session, user, reference)
    order_service.refuse_emaintenance(asset)
    return [order_service.consumable_out(asset, c) for c in order_service.catalogue(session, asset)]


@router.get("/{reference}/orders", response_model=list[OrderOut],
            summary="The last 5 consumables orders of a device (not for devices under eMaintenance)")
def list_orders(reference: Reference, user: Orderer, session: SessionDep) -> list[OrderOut]:
    asset = find_visible_asset(session, user, reference)
    return [order_service.order_out(o) for o in order_service.last_orders(session, user, asset)]
