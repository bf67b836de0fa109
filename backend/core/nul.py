"""No text the portal stores may hold a NUL character: PostgreSQL's text refuses it (the request would end in a
database error) and no person types one. A request whose query, form or JSON body carries one is answered 422
`validation_error` before any route runs, on every route and every engine."""
from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import validation_error_response

MAX_INSPECTED_BYTES = 1_000_000  # larger bodies are refused by the routes' own limits


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def body_has_nul(body: bytes, content_type: str) -> bool:
    if b"\x00" in body:
        return True
    if "x-www-form-urlencoded" in content_type and b"%00" in body:
        return True
    if b"\\u0000" in body.lower():  # a JSON escape: is it a NUL inside a string, or the text "\u0000"?
        try:
            return has_nul(json.loads(body))
        except ValueError:
            return False  # not JSON: the route's own validation answers
    return False


class RefuseNulCharacters:
    """ASGI middleware: reads the body once, checks it, and hands the same bytes to the application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        if b"%00" in (scope.get("query_string") or b"") or "\x00" in scope.get("path", ""):
            await validation_error_response(headers)(scope, receive, send)
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
            if sum(map(len, chunks)) > MAX_INSPECTED_BYTES:
                break
        body = b"".join(chunks)
        if body_has_nul(body, headers.get("content-type", "")):
            await validation_error_response(headers)(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": more}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
