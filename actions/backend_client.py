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
import weakref
from typing import Any, Dict, List, Optional

import httpx

from actions.text import spelled_references

log = logging.getLogger(__name__)
# httpx logs every request at INFO ("HTTP Request: GET ... 200 OK"): 8 % of the action server's CPU under load, for
# lines the backend's own access log already has. Failures are logged here, with the user-facing outcome.
logging.getLogger("httpx").setLevel(logging.WARNING)
_TAXONOMY_TTL = 300.0
# The backend's input limits: longer texts are cut here rather than refused there.
MAX_QUERY_CHARS = 500
MAX_RESOLVE_CHARS = 1000
MAX_CLASSIFY_CHARS = 4000  # ClassifyRequest.text
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


# Idle connections are dropped after 2 s, before the backend's server closes them (uvicorn: 5 s); a request
# sent on a connection the server is closing at that very moment fails ("server disconnected").
KEEP_ALIVE = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)
_transport: Optional[httpx.AsyncBaseTransport] = None
_clients: "weakref.WeakKeyDictionary[httpx.AsyncBaseTransport, httpx.AsyncClient]" = weakref.WeakKeyDictionary()


def default_transport() -> httpx.AsyncBaseTransport:
    """The transport of every client: one connection pool for the whole action server, so connections to the
    backend are kept alive (and building a transport costs an SSL context, about 20 ms of CPU: once, not per
    call). Connection failures are retried. Tests replace this function."""
    global _transport
    if _transport is None:
        _transport = httpx.AsyncHTTPTransport(retries=2, limits=KEEP_ALIVE)
    return _transport


def shared_client(transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    """One long-lived client per transport: closing a client would close its transport's pooled connections."""
    client = _clients.get(transport)
    if client is None:
        client = _clients[transport] = httpx.AsyncClient(transport=transport)
    return client


class BackendClient:
    def __init__(self, token: str, lang: str = "fr", base_url: Optional[str] = None,
                 transport: Optional[httpx.AsyncBaseTransport] = None, timeout: float = 10.0) -> None:
        self.base_url = (base_url or backend_url()).rstrip("/")
        # X-Display-Language: labels and messages in the conversation's language, even when the profile's differs
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": lang, "X-Display-Language": lang}
        self.transport = transport or default_transport()
        self.timeout = timeout

    async def _request(self, method: str, path: str, *, params: Optional[Dict[str, Any]] = None,
                       json: Any = None, idempotency_key: Optional[str] = None) -> Any:
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = await shared_client(self.transport).request(
                method, f"{self.base_url}{path}", params=params, json=json, headers=headers, timeout=self.timeout)
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
        if response.status_code == 204:
            return None
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
        # a serial or asset number said character by character ("W H J zéro un …") is sent as one
        return await self._request("POST", "/assets/resolve",
                                   json={"text": spelled_references(text)[:MAX_RESOLVE_CHARS]})

    async def classify_fault(self, text: str, lang: str, category: Optional[str] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"text": text, "lang": lang}
        if category:
            body["category"] = category
        return await self._request("POST", "/faults/classify", json=body)

    async def classify_request(self, text: str, lang: str, category: Optional[str] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"text": text[:MAX_CLASSIFY_CHARS], "lang": lang}
        if category:
            body["category"] = category
        return await self._request("POST", "/requests/classify", json=body)

    async def search_knowledge(self, query: str, lang: str, asset: Optional[str] = None,
                               tag: Optional[str] = None, limit: int = 3,
                               my_device: bool = False) -> List[Dict[str, Any]]:
        """`my_device`: without `asset`, the backend boosts the model of the user's device if they have only one."""
        params: Dict[str, Any] = {"q": query[:MAX_QUERY_CHARS], "lang": lang, "limit": limit}
        if asset:
            params["asset"] = asset
        elif my_device:
            params["my_device"] = "true"
        if tag:
            params["tag"] = tag
        return await self._request("GET", "/knowledge/search", params=params)

    async def create_case(self, payload: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        return await self._request("POST", "/cases", json=payload, idempotency_key=idempotency_key)

    async def record_deflection(self, payload: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        return await self._request("POST", "/knowledge/deflections", json=payload, idempotency_key=idempotency_key)

    # --- people and roles -------------------------------------------------------------------------------------
    async def permissions(self) -> Dict[str, Any]:
        """{"role", "permissions": [{"code", "label"}], "restricted_request_categories"}"""
        return await self._request("GET", "/users/me/permissions")

    async def administrators(self) -> List[Dict[str, Any]]:
        return await self._request("GET", "/users/me/administrators")

    async def profile(self) -> Dict[str, Any]:
        return await self._request("GET", "/users/me/profile")

    async def update_profile(self, **changes: Any) -> Dict[str, Any]:
        """language / accessibility / analytics / email_notifications"""
        return await self._request("PATCH", "/users/me/profile", json=changes)

    async def teams_link(self) -> Dict[str, Any]:
        """The user's Microsoft Teams link {tenant_id, created_at} (404 BackendRejected when there is none)."""
        return await self._request("GET", "/teams/links/me")

    async def unlink_teams(self) -> None:
        """Removes the user's Microsoft Teams link (404 BackendRejected when there is none)."""
        await self._request("DELETE", "/teams/links/me")

    async def users(self) -> List[Dict[str, Any]]:
        return await self._request("GET", "/users")

    async def invite_user(self, email: str, full_name: str, idempotency_key: str, phone: str = "") -> Dict[str, Any]:
        return await self._request("POST", "/users/invitations", idempotency_key=idempotency_key,
                                   json={"email": email, "full_name": full_name, "phone": phone})

    async def user_action(self, user_id: int, action: str, idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        """action: approve | reject | upgrade | downgrade | deactivate | password-reset"""
        return await self._request("POST", f"/users/{user_id}/{action}", idempotency_key=idempotency_key)

    # --- assets and contacts ----------------------------------------------------------------------------------
    async def asset(self, reference: str) -> Dict[str, Any]:
        """Detail: address, contract coverage, eMaintenance."""
        return await self._request("GET", f"/assets/{reference}")

    async def set_alias(self, reference: str, alias: Optional[str]) -> Dict[str, Any]:
        return await self._request("PATCH", f"/assets/{reference}/alias", json={"alias": alias})

    async def asset_contacts(self, reference: str) -> List[Dict[str, Any]]:
        return await self._request("GET", f"/assets/{reference}/contacts")

    async def add_asset_contact(self, reference: str, body: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        """body: exactly one of {"user_id"}, {"contact_id"}, {"contact": {"full_name", "email", "phone"}}"""
        return await self._request("POST", f"/assets/{reference}/contacts", json=body,
                                   idempotency_key=idempotency_key)

    async def remove_asset_contact(self, reference: str, link_id: int) -> Any:
        return await self._request("DELETE", f"/assets/{reference}/contacts/{link_id}")

    async def contacts(self) -> List[Dict[str, Any]]:
        return await self._request("GET", "/contacts")

    # --- meters -----------------------------------------------------------------------------------------------
    async def meters(self, reference: str) -> List[Dict[str, Any]]:
        return await self._request("GET", f"/assets/{reference}/meters")

    async def meter_history(self, reference: str, code: str) -> List[Dict[str, Any]]:
        return await self._request("GET", f"/assets/{reference}/meters/{code}/history")

    async def submit_meter_readings(self, reference: str, readings: List[Dict[str, Any]],
                                    idempotency_key: str) -> Dict[str, Any]:
        """readings: [{"code", "value", "confirmed"?}] — all accepted or none (a lower value is refused with the last
        one; a value far above it without "confirmed": true, the user's yes to the doubtful-value question)."""
        return await self._request("POST", f"/assets/{reference}/meter-readings", json={"readings": readings},
                                   idempotency_key=idempotency_key)

    async def meter_query(self, reference: str, body: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        """body: {"code", "description", "channel", "transcript"} -> the case"""
        return await self._request("POST", f"/assets/{reference}/meter-readings/query", json=body,
                                   idempotency_key=idempotency_key)

    # --- orders -----------------------------------------------------------------------------------------------
    async def consumables(self, reference: str) -> List[Dict[str, Any]]:
        return await self._request("GET", f"/assets/{reference}/consumables")

    async def asset_orders(self, reference: str) -> List[Dict[str, Any]]:
        """The asset's last consumables orders, newest first."""
        return await self._request("GET", f"/assets/{reference}/orders")

    async def price(self, reference: str, lines: List[Dict[str, Any]]) -> Dict[str, Any]:
        return await self._request("POST", "/orders/price", json={"asset": reference, "lines": lines})

    async def create_order(self, body: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        """body: {"asset", "lines": [{"part_number", "quantity"}], "contact"?, "shipping_address"?}"""
        return await self._request("POST", "/orders", json=body, idempotency_key=idempotency_key)

    async def order(self, number: str) -> Dict[str, Any]:
        return await self._request("GET", f"/orders/{number}")

    async def order_enquiry(self, body: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        """body: {"order_number", "subcategory": wrong_items|missing_items, "description", "channel", "transcript"}"""
        return await self._request("POST", "/orders/enquiries", json=body, idempotency_key=idempotency_key)

    async def training_requests(self, limit: int = 20) -> List[Dict[str, Any]]:
        """The training requests the user may see, newest first."""
        return await self._request("GET", "/training-requests", params={"limit": limit})

    async def training_request(self, body: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        """body: {"topic", "asset"?, "attendees", "preferred_date"?, "description"}"""
        return await self._request("POST", "/training-requests", json=body, idempotency_key=idempotency_key)

    # --- requests and cases -----------------------------------------------------------------------------------
    async def create_request(self, body: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        """body: {"category", "subcategory", "asset"?, "description", "channel", "transcript"}"""
        return await self._request("POST", "/requests", json=body, idempotency_key=idempotency_key)

    async def cases(self, list_name: str = "all", limit: int = 50, state: Optional[str] = None,
                    asset: Optional[str] = None) -> List[Dict[str, Any]]:
        """list_name: action_required | mine | all (newest first); state: open | closed; asset: one device."""
        params: Dict[str, Any] = {"list": list_name, "limit": limit}
        if state:
            params["state"] = state
        if asset:
            params["asset"] = asset
        return await self._request("GET", "/cases", params=params)

    async def case(self, number: str) -> Dict[str, Any]:
        return await self._request("GET", f"/cases/{number}")

    async def match_cases(self, text: str) -> Dict[str, Any]:
        """{"best": number or None, "cases": [case, ...] best first}: the visible cases the words describe."""
        return await self._request("POST", "/cases/match", json={"text": text[:MAX_RESOLVE_CHARS]})

    async def add_comment(self, number: str, body: str, idempotency_key: str) -> Dict[str, Any]:
        return await self._request("POST", f"/cases/{number}/comments", json={"body": body},
                                   idempotency_key=idempotency_key)
