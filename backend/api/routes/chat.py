"""The web chat's files (bot/web: the embeddable widget and the demo portal pages) and the little configuration
the widget needs, served with headers that keep them safe to embed only where configured."""
from __future__ import annotations

import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from backend.core.config import get_settings
from backend.core.errors import not_found
from backend.services.users import MIN_PASSWORD_LENGTH

router = APIRouter(include_in_schema=False)

# What /chat/ serves: plain file names with these extensions, never the password and voice PIN pages (they have
# their own routes with stricter headers, /account/password and /account/voice-pin).
WEB_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.(html|js|css|png|svg|ico|json|txt)$")
NOT_UNDER_CHAT = {"password.html", "voice-pin.html"}


def websocket_origin(url: str) -> str:
    return re.sub(r"^http", "ws", url.rstrip("/"))


@lru_cache
def web_headers() -> dict[str, str]:
    """Headers of every /chat/ file: scripts and styles from here only, the socket to Rasa, embedding (frames)
    only by the configured portal origins."""
    settings = get_settings()
    rasa = settings.rasa_public_url.rstrip("/")
    ancestors = " ".join(["'self'", *settings.allowed_origins()])
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {rasa} {websocket_origin(rasa)}; frame-ancestors {ancestors}; "
            "base-uri 'none'; form-action 'self'; object-src 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-cache",
    }


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/chat/")


@router.get("/chat")
def chat_without_slash() -> RedirectResponse:
    return RedirectResponse("/chat/")


@router.get("/chat/config.json")
def chat_config() -> dict[str, str]:
    return {"rasa_url": get_settings().rasa_public_url, "socket_path": "/socket.io/"}


@router.get("/chat/")
def chat_index() -> FileResponse:
    return chat_file("index.html")


@router.get("/chat/{name}")
def chat_file(name: str) -> FileResponse:
    web_dir: Path = get_settings().web_dir
    path = web_dir / name
    if not WEB_FILE.match(name) or name in NOT_UNDER_CHAT or not path.is_file():
        raise not_found("Page", "Page")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript") or media_type.endswith("json"):
        media_type += "; charset=utf-8"
    return FileResponse(path, media_type=media_type, headers=web_headers())


@router.get("/chat/vendor/{name}")
def chat_vendor_file(name: str) -> FileResponse:
    web_dir: Path = get_settings().web_dir / "vendor"
    path = web_dir / name
    if not WEB_FILE.match(name) or not path.is_file():
        raise not_found("Page", "Page")
    return FileResponse(path, media_type="text/javascript; charset=utf-8", headers=web_headers())


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


# The same kind of secure page for the phone assistant's voice PIN (bot/web/voice-pin.js: PUT /users/me/voice-pin).
@router.get("/account/voice-pin", response_class=HTMLResponse)
def voice_pin_page() -> HTMLResponse:
    page = get_settings().web_dir / "voice-pin.html"
    if not page.is_file():
        raise not_found("Page", "Page")
    return HTMLResponse(page.read_text(encoding="utf-8"), headers=PASSWORD_PAGE_HEADERS)
