"""The web chat page (files in bot/web) and the little configuration it needs."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from backend.core.config import get_settings
from backend.core.errors import not_found
from backend.services.users import MIN_PASSWORD_LENGTH

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


# The secure page the assistant links to for a password change (it never asks for a password in the chat):
# the form posts straight to POST /users/me/password with the chat's login token (bot/web/password.js).
PASSWORD_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/account/password", response_class=HTMLResponse)
def password_page() -> HTMLResponse:
    page = get_settings().web_dir / "password.html"
    if not page.is_file():
        raise not_found("Page", "Page")
    html = page.read_text(encoding="utf-8").replace("__MIN_PASSWORD_LENGTH__", str(MIN_PASSWORD_LENGTH))
    return HTMLResponse(html, headers=PASSWORD_PAGE_HEADERS)
