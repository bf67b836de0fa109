"""The web chat page (files in bot/web) and the little configuration it needs."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from backend.core.config import get_settings

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/chat/")


@router.get("/chat/config.json")
def chat_config() -> dict[str, str]:
    return {"rasa_url": get_settings().rasa_public_url, "socket_path": "/socket.io/"}


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
