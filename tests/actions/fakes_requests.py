"""Fake portal routes of the requests area, shaped like the real backend:

- POST /requests (backend/api/routes/requests.py -> services/cases.create_case with section="requests"):
  RequestCreate (extra fields forbidden, description 3..4000), unknown type 422 `unknown_category`, a category of
  another section 422 `wrong_section`, an admin-only category for a `user` 403 `forbidden_for_role`, an unknown
  or invisible asset 404, an idempotent replay of the same key -> the first case.
- GET /users/me/permissions (MyPermissions) and GET /users/me/administrators (list[PersonOut]).
"""
from __future__ import annotations

from typing import Any, Dict, List

import httpx

from actions_fakes import FakePortal

ADMINISTRATORS = [{"email": "sntestportaldemo@outlook.com", "full_name": "SNTest DemoPortal"}]
USER_PERMISSIONS = ["search_knowledge", "get_help", "submit_requests", "place_orders", "meter_readings",
                    "view_assets", "track_cases", "change_password", "email_notifications"]
ADMIN_PERMISSIONS = USER_PERMISSIONS + ["approve_access_requests", "invite_users", "add_contacts",
                                        "add_asset_contacts", "upgrade_users", "deactivate_users",
                                        "reset_passwords"]
REQUEST_FIELDS = {"category", "subcategory", "asset", "description", "channel", "transcript"}
CHANNELS = {"portal", "web", "rest", "teams", "voice", "api"}  # backend/models.py Channel


class RequestsBackend:
    """State of the requests routes; `role` is the caller's role ("user" or "admin")."""

    def __init__(self, portal: FakePortal, role: str = "user") -> None:
        self.portal = portal
        self.role = role
        self.administrators: List[Dict[str, str]] = list(ADMINISTRATORS)
        self.cases: Dict[str, Dict[str, Any]] = {}
        self.seq = 32500
        portal.route("POST", r"/requests", self.create_request)
        portal.route("GET", r"/users/me/permissions", self.permissions)
        portal.route("GET", r"/users/me/administrators", self.list_administrators)

    def _categories(self) -> Dict[str, Dict[str, Any]]:
        return {c["code"]: c for c in self.portal.taxonomy}

    def restricted(self) -> List[str]:
        if self.role == "admin":
            return []
        return [code for code, c in self._categories().items() if c["admin_only"]]

    def permissions(self, request: httpx.Request, body: Any) -> httpx.Response:
        codes = ADMIN_PERMISSIONS if self.role == "admin" else USER_PERMISSIONS
        return httpx.Response(200, json={
            "role": self.role,
            "permissions": [{"code": c, "label": {"fr": c, "en": c}} for c in codes],
            "restricted_request_categories": self.restricted(),
        })

    def list_administrators(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json=self.administrators)

    def create_request(self, request: httpx.Request, body: Any) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key and key in self.cases:  # the backend's idempotent replay
            return httpx.Response(200, json=self.cases[key])
        body = body or {}
        extra = set(body) - REQUEST_FIELDS
        if extra:
            return httpx.Response(422, json={"code": "validation_error", "message": f"{sorted(extra)[0]}: extra"})
        description = body.get("description") or ""
        if not 3 <= len(description) <= 4000 or body.get("channel", "api") not in CHANNELS:
            return httpx.Response(422, json={"code": "validation_error", "message": "description: invalid"})
        cat = self._categories().get(body.get("category"))
        sub = next((s for s in (cat or {}).get("subcategories", []) if s["code"] == body.get("subcategory")), None)
        if cat is None or sub is None:
            return httpx.Response(422, json={"code": "unknown_category",
                                             "message": "Type de demande inconnu."})
        if cat["section"] != "requests":
            return httpx.Response(422, json={"code": "wrong_section",
                                             "message": "Ce n'est pas un type de demande de cette rubrique."})
        if cat["code"] in self.restricted():
            return httpx.Response(403, json={"code": "forbidden_for_role",
                                             "message": "Seul un administrateur peut soumettre ce type de demande."})
        asset = None
        if body.get("asset"):
            asset = next((a for a in self.portal.assets if body["asset"] in (a["asset_number"], a["serial"])), None)
            if asset is None:
                return httpx.Response(404, json={"code": "not_found", "message": "Appareil introuvable."})
        self.seq += 1
        case = {"number": f"CS{self.seq:07d}", "status": "new", "category": cat["code"],
                "category_label": cat["label"]["fr"], "subcategory": sub["code"],
                "subcategory_label": sub["label"]["fr"], "asset": asset, "description": description.strip(),
                "channel": body.get("channel", "api"), "transcript": body.get("transcript", "")}
        if key:
            self.cases[key] = case
        return httpx.Response(201, json=case)
