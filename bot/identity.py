"""Verifies a portal access token with the backend and caches the answer briefly.

The backend is the only judge of a token: a deactivated user is refused within `ttl` seconds, and the Rasa
side needs no copy of the signing key.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Any, Dict, Optional, Tuple

import httpx

from actions.backend_client import KEEP_ALIVE

log = logging.getLogger(__name__)


class PortalUnavailable(Exception):
    """The backend could not be asked whether the token is valid."""


class IdentityVerifier:
    def __init__(self, backend_url: Optional[str] = None, ttl: float = 30.0, timeout: float = 5.0,
                 transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.backend_url = (backend_url or os.environ.get("BACKEND_URL", "http://localhost:8000")).rstrip("/")
        self.ttl = ttl
        self.timeout = timeout
        self.transport = transport or httpx.AsyncHTTPTransport(retries=2, limits=KEEP_ALIVE)
        # kept open for the process: connections to the backend stay alive between messages
        self.client = httpx.AsyncClient(timeout=timeout, transport=self.transport)
        self._cache: Dict[str, Tuple[float, Optional[Dict[str, Any]]]] = {}

    async def verify(self, token: Optional[str], fresh: bool = False) -> Optional[Dict[str, Any]]:
        """The user profile for a valid token, None for a missing or invalid one (`fresh`: not from cache)."""
        if not token or not isinstance(token, str):
            return None
        key = hashlib.sha256(token.encode()).hexdigest()  # never keep raw tokens as dict keys in memory dumps
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic() and not fresh:
            return cached[1]
        try:
            response = await self.client.get(f"{self.backend_url}/users/me", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            log.error("identity check failed, backend unreachable: %s", exc)
            raise PortalUnavailable() from exc
        if response.status_code == 401:
            user = None
        elif response.status_code == 200:
            body = response.json()
            user = {
                "id": body["id"],
                "email": body["email"],
                "full_name": body["full_name"],
                "role": body["role"],
                "language": body["language"],
                "account": body["account"]["name"],
            }
        else:
            log.error("identity check: unexpected backend status %s", response.status_code)
            raise PortalUnavailable()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self.ttl, user)
        return user
