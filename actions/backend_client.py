"""The one HTTP client of the portal backend used by every action.

Errors are turned into three exceptions the actions translate into user-facing responses:
`NotAuthenticated` (401), `BackendRejected` (other 4xx, with the backend's code and localised message) and
`BackendUnavailable` (network errors, timeouts, 5xx). Connection failures are retried by httpx's transport;
writes carry an Idempotency-Key so a retry can never create a second case.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Dict, List, Optional

import httpx

log = logging.getLogger(__name__)
_TAXONOMY_TTL = 300.0
# The backend's input limits: longer texts are cut here rather than refused there.
MAX_QUERY_CHARS = 500
MAX_RESOLVE_CHARS = 1000
_taxonomy_cache: Dict[str, Any] = {}


class BackendError(Exception):
    pass


class BackendUnavailable(BackendError):
    pass


class NotAuthenticated(BackendError):
    pass


class BackendRejected(BackendError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def backend_url() -> str:
    return os.environ.get("BACKEND_URL", "http://localhost:8000").rstrip("/")


def public_backend_url() -> str:
    """Where the user's browser reaches the backend (article links); the same host in a local setup."""
    return os.environ.get("BACKEND_PUBLIC_URL", backend_url()).rstrip("/")


def default_transport() -> httpx.AsyncBaseTransport:
    """The transport of every client; connection failures are retried. Tests replace this function."""
    return httpx.AsyncHTTPTransport(retries=2)


class BackendClient:
    def __init__(self, token: str, lang: str = "fr", base_url: Optional[str] = None,
                 transport: Optional[httpx.AsyncBaseTransport] = None, timeout: float = 10.0) -> None:
        self.base_url = (base_url or backend_url()).rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": lang}
        self.transport = transport or default_transport()
        self.timeout = timeout

    async def _request(self, method: str, path: str, *, params: Optional[Dict[str, Any]] = None,
                       json: Any = None, idempotency_key: Optional[str] = None) -> Any:
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            async with httpx.AsyncClient(base_url=self.base_url, transport=self.transport, timeout=self.timeout) as c:
                response = await c.request(method, path, params=params, json=json, headers=headers)
        except httpx.HTTPError as exc:
            log.error("backend %s %s failed: %r", method, path, exc)
            raise BackendUnavailable(str(exc)) from exc
        if response.status_code == 401:
            raise NotAuthenticated()
        if response.status_code >= 500:
            log.error("backend %s %s answered %s: %s", method, path, response.status_code, response.text[:300])
            raise BackendUnavailable(f"status {response.status_code}")
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            log.warning("backend %s %s refused: %s %s", method, path, response.status_code, body)
            raise BackendRejected(response.status_code, body.get("code", "error"), body.get("message", ""))
        try:
            return response.json()
        except ValueError as exc:
            log.error("backend %s %s answered non-JSON: %s", method, path, response.text[:300])
            raise BackendUnavailable("invalid response") from exc

    async def me(self) -> Dict[str, Any]:
        return await self._request("GET", "/users/me")

    async def assets(self) -> List[Dict[str, Any]]:
        return await self._request("GET", "/assets")

    async def taxonomy(self) -> List[Dict[str, Any]]:
        # Identical for every user and rarely changed: cache it in the action server process.
        cached = _taxonomy_cache.get("value")
        if cached is not None and _taxonomy_cache["expires"] > time.monotonic():
            return cached
        value = await self._request("GET", "/taxonomy")
        _taxonomy_cache.update(value=value, expires=time.monotonic() + _TAXONOMY_TTL)
        return value

    async def resolve_assets(self, text: str) -> Dict[str, Any]:
        return await self._request("POST", "/assets/resolve", json={"text": text[:MAX_RESOLVE_CHARS]})

    async def classify_fault(self, text: str, lang: str, category: Optional[str] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"text": text, "lang": lang}
        if category:
            body["category"] = category
        return await self._request("POST", "/faults/classify", json=body)

    async def search_knowledge(self, query: str, lang: str, asset: Optional[str] = None,
                               tag: Optional[str] = None, limit: int = 3) -> List[Dict[str, Any]]:
        params = {"q": query[:MAX_QUERY_CHARS], "lang": lang, "limit": limit}
        if asset:
            params["asset"] = asset
        if tag:
            params["tag"] = tag
        return await self._request("GET", "/knowledge/search", params=params)

    async def create_case(self, payload: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        return await self._request("POST", "/cases", json=payload, idempotency_key=idempotency_key)

    async def record_deflection(self, payload: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        return await self._request("POST", "/knowledge/deflections", json=payload, idempotency_key=idempotency_key)
