"""Probes: `/health` and `/health/live` (the process answers), `/health/ready` (it can serve: the database answers
and the knowledge index is loaded). Kubernetes' readiness probe takes a replica out of the load balancer while it
is not ready; liveness never looks at a dependency, so a database outage does not restart every replica."""
from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend.core.db import get_engine
from backend.core.errors import ApiError
from backend.services.knowledge import get_searcher

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/health")
@router.get("/health/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
def ready() -> JSONResponse:
    body: dict[str, object] = {"database": "ok", "knowledge_index": "ok"}
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 (any failure means not ready; the reason goes to the log only)
        log.warning("readiness: database unreachable: %s", error.__class__.__name__)
        body["database"] = "unavailable"
    try:
        info = get_searcher().build_info  # loads it if the start-up could not (the index appeared since)
        body["knowledge_index_version"], body["documents"] = info.version, info.count
    except ApiError:
        body["knowledge_index"] = "unavailable"
    ready_now = body["database"] == "ok" and body["knowledge_index"] == "ok"
    return JSONResponse({"status": "ready" if ready_now else "not_ready", **body}, status_code=200 if ready_now else 503)
