from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import CurrentUser, SessionDep
from backend.schemas import AssetOut, AssetResolution, AssetResolveRequest
from backend.services.assets import find_visible_asset, list_visible_assets, resolve_assets_in_text

router = APIRouter(prefix="/assets", tags=["assets"])


@router.get("", response_model=list[AssetOut], summary="My assets (a user: assigned ones; an admin: the account's)")
def list_assets(
    user: CurrentUser, session: SessionDep, q: Annotated[str | None, Query(max_length=100)] = None
) -> list[AssetOut]:
    return [AssetOut.model_validate(a) for a in list_visible_assets(session, user, q)]


@router.post("/resolve", response_model=AssetResolution,
             summary="Which visible assets a sentence names (number, serial or alias)")
def resolve_assets(data: AssetResolveRequest, user: CurrentUser, session: SessionDep) -> AssetResolution:
    matches, unknown = resolve_assets_in_text(session, user, data.text)
    return AssetResolution(matches=[AssetOut.model_validate(a) for a in matches], unknown_references=unknown)


@router.get("/{reference}", response_model=AssetOut, summary="One visible asset by asset number, serial or alias")
def read_asset(reference: str, user: CurrentUser, session: SessionDep) -> AssetOut:
    return AssetOut.model_validate(find_visible_asset(session, user, reference))
