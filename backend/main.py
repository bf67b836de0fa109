"""FastAPI application factory: `uvicorn backend.main:app`."""
from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from backend.api.routes import (
    assets, auth, cases, chat, contacts, health, knowledge, orders, requests, taxonomy, teams, users, voice,
)
from backend.core.nul import RefuseNulCharacters
from backend.core.config import get_settings
from backend.core.errors import ApiError, install_error_handlers
from backend.services.knowledge import get_searcher

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Load the embedding model and index once, before the first user waits for it.
    try:
        get_searcher()
    except ApiError:
        log.warning("starting without a knowledge index: run `python -m knowledge_index build`")
    # What is loaded now (torch, the embedding model, the index: ≈ 520,000 objects) lives as long as the process;
    # frozen, the garbage collector stops walking it, and a full collection no longer stalls every request in
    # flight (≈ 300 ms each on our machines).
    gc.collect()
    gc.freeze()
    yield


def create_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = FastAPI(
        title="Portail libre-service — backend",
        description="Accounts, users and roles, assets, cases and knowledge for the self-service assistant.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RefuseNulCharacters)
    for module in (health, auth, users, assets, cases, requests, orders, knowledge, taxonomy, chat, teams, voice):
        app.include_router(module.router)
    app.include_router(auth.access_router)
    app.include_router(contacts.router)
    # The widget may be embedded in portal pages of other origins: they call the API with a bearer token (no
    # cookies), from the configured origins only.
    app.add_middleware(CORSMiddleware, allow_origins=get_settings().allowed_origins(), allow_credentials=False,
                       allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                       allow_headers=["Authorization", "Content-Type", "Accept-Language", "X-Display-Language",
                                      "Idempotency-Key"])
    return app


app = create_app()
