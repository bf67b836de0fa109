"""Fake portal routes for the general part and the profile, mirroring backend/api/routes/users.py:
GET/PATCH /users/me/profile (ProfileOut; PATCH needs the email_notifications permission, a null field is 422)
and, through fakes_admin.AdminBackend, GET /users/me/permissions and /users/me/administrators.
POST /cases (the handoff's callback case) is FakePortal's own, idempotent by key.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

import httpx

from actions_fakes import FakePortal
from fakes_admin import ADMIN_TOKEN, ALL_PERMISSIONS, USER_PERMISSIONS, USER_RESTRICTED, AdminBackend

PROFILE_FIELDS = ("language", "accessibility", "analytics", "email_notifications")


def _lang(request: httpx.Request) -> str:
    return "en" if request.headers.get("accept-language", "fr").startswith("en") else "fr"


class GeneralBackend:
    """Profile per token (user / admin), plus the roles routes; `without(permission)` takes one away."""

    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal
        self.roles = AdminBackend(portal)
        self.profiles: Dict[str, Dict[str, Any]] = {
            "user": {"language": "en", "accessibility": False, "analytics": False, "email_notifications": True},
            "admin": {"language": "fr", "accessibility": False, "analytics": False, "email_notifications": True},
        }
        self.removed: set = set()
        portal.route("GET", r"/users/me/profile", self._profile)
        portal.route("PATCH", r"/users/me/profile", self._update_profile)
        portal.route("GET", r"/users/me/permissions", self._permissions)

    def without(self, *permissions: str) -> None:
        self.removed |= set(permissions)

    @staticmethod
    def role_of(request: httpx.Request) -> str:
        return AdminBackend.role_of(request)

    def _codes(self, role: str) -> Iterable[str]:
        return [c for c in (ALL_PERMISSIONS if role == "admin" else USER_PERMISSIONS) if c not in self.removed]

    def _permissions(self, request: httpx.Request, body: Any) -> httpx.Response:
        role = self.role_of(request)
        return httpx.Response(200, json={
            "role": role,
            "permissions": [{"code": c, "label": {"fr": c, "en": c}} for c in self._codes(role)],
            "restricted_request_categories": [] if role == "admin" else list(USER_RESTRICTED),
        })

    def _profile(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json=self.profiles[self.role_of(request)])

    def _update_profile(self, request: httpx.Request, body: Optional[Dict[str, Any]]) -> httpx.Response:
        role, lang = self.role_of(request), _lang(request)
        if "email_notifications" not in self._codes(role):
            return httpx.Response(403, json={"code": "forbidden", "message": {
                "fr": "Votre rôle ne permet pas cette action. Contactez votre administrateur.",
                "en": "Your role does not allow this action. Please contact your administrator."}[lang]})
        for field, value in (body or {}).items():
            if field not in PROFILE_FIELDS:
                return httpx.Response(422, json={"code": "validation_error", "message": f"{field}: extra"})
            if value is None or (field == "language" and value not in ("fr", "en")):
                return httpx.Response(422, json={"code": "validation_error", "message": f"{field}: invalid"})
        self.profiles[role].update(body or {})
        return httpx.Response(200, json=self.profiles[role])


__all__ = ["ADMIN_TOKEN", "GeneralBackend"]
