"""Fake portal routes of the assets area, mirroring backend/api/routes/assets.py, contacts.py and users.py
(shapes of backend/schemas.py, demo data of backend/seed.py, messages in the caller's language).

`AssetsBackend(portal)` adds its routes to a `FakePortal`; the user token (`TOKEN`) acts as the seed's
`user`, `ADMIN_TOKEN` as its administrator (admin-only routes answer 403 to the user, as Allowed(...) does).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import httpx

from actions_fakes import ALL_ASSETS, TOKEN, FakePortal

ADMIN_TOKEN = "tok-admin"
ADMIN_PROFILE = {
    "id": 1, "email": "sntestportaldemo@outlook.com", "full_name": "SNTest DemoPortal", "role": "admin",
    "language": "fr", "account": "CANON UK DEMO",
}
ACCOUNT = {"name": "CANON UK LTD", "street": "4 Roundwood Avenue", "city": "Uxbridge", "postcode": "UB11 1AF",
           "country": "Royaume-Uni"}
CONTRACTS = {
    "77996101": {"number": "CTR-GB-0045812", "end_date": "2028-03-31", "covers_consumables": True,
                 "covers_service": True},
    "53463252": {"number": "CTR-GB-0045813", "end_date": "2027-06-30", "covers_consumables": False,
                 "covers_service": True},
    "80145861": {"number": "CTR-GB-0051190", "end_date": "2029-01-31", "covers_consumables": True,
                 "covers_service": True},
}
# GET /users (ManagedUserOut, trimmed to what the actions read)
USERS = [
    {"id": 1, "email": "sntestportaldemo@outlook.com", "full_name": "SNTest DemoPortal", "phone": "+44 20 7946 0001",
     "role": "admin", "status": "active"},
    {"id": 2, "email": "sntestdemoportaldm@yopmail.com", "full_name": "SNTestDM DemoPortal",
     "phone": "+44 20 7946 0002", "role": "user", "status": "active"},
    {"id": 3, "email": "alan.stane@canon-uk-demo.example", "full_name": "Alan Inactive_Stane", "phone": "",
     "role": "user", "status": "inactive"},
    {"id": 4, "email": "priya.pending@canon-uk-demo.example", "full_name": "Priya Pending", "phone": "",
     "role": "user", "status": "pending"},
]
# GET /contacts (ContactOut): the account's non-registered contacts
CONTACTS = [{"id": 1, "full_name": "Jane Facilities", "email": "jane.facilities@example.com",
             "phone": "+44 20 7946 0100"}]
# The seed's device contacts: 53463252 -> the user; 77996101 -> the inactive user and Jane Facilities.
LINKS = [
    {"id": 1, "asset": "53463252", "user_id": 2, "contact_id": None},
    {"id": 2, "asset": "77996101", "user_id": 3, "contact_id": None},
    {"id": 3, "asset": "77996101", "user_id": None, "contact_id": 1},
]
PERMISSIONS = {
    "user": ["search_knowledge", "get_help", "submit_requests", "place_orders", "meter_readings", "view_assets",
             "track_cases", "change_password", "email_notifications"],
    "admin": ["search_knowledge", "get_help", "submit_requests", "place_orders", "meter_readings", "view_assets",
              "track_cases", "change_password", "email_notifications", "approve_access_requests", "invite_users",
              "add_contacts", "add_asset_contacts", "upgrade_users", "deactivate_users", "reset_passwords"],
}


def _error(request: httpx.Request, status: int, code: str, fr: str, en: str) -> httpx.Response:
    lang = request.headers.get("accept-language", "fr")
    return httpx.Response(status, json={"code": code, "message": en if lang == "en" else fr})


class AssetsBackend:
    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal
        portal.valid_tokens.add(ADMIN_TOKEN)
        self.users: List[Dict[str, Any]] = copy.deepcopy(USERS)
        self.contacts: List[Dict[str, Any]] = copy.deepcopy(CONTACTS)
        self.links: List[Dict[str, Any]] = copy.deepcopy(LINKS)
        # devices of the account the caller cannot see (a `user` sees only the assigned ones)
        self.hidden_assets: List[Dict[str, Any]] = []
        self._link_seq, self._contact_seq = 10, 10
        self._replays: Dict[str, Dict[str, Any]] = {}
        portal.route("GET", r"/users/me/permissions", self._permissions)
        portal.route("GET", r"/users/me/administrators", self._administrators)
        portal.route("GET", r"/users", self._users)
        portal.route("GET", r"/contacts", self._contacts)
        portal.route("GET", r"/assets/(?P<ref>[^/]+)", self._detail)
        portal.route("PATCH", r"/assets/(?P<ref>[^/]+)/alias", self._alias)
        portal.route("GET", r"/assets/(?P<ref>[^/]+)/contacts", self._asset_contacts)
        portal.route("POST", r"/assets/(?P<ref>[^/]+)/contacts", self._add_contact)
        portal.route("DELETE", r"/assets/(?P<ref>[^/]+)/contacts/(?P<link_id>\d+)", self._remove_contact)

    # --- who is calling --------------------------------------------------------------------------------------
    @staticmethod
    def role(request: httpx.Request) -> str:
        return "admin" if request.headers.get("authorization") == f"Bearer {ADMIN_TOKEN}" else "user"

    def _forbidden(self, request: httpx.Request) -> Optional[httpx.Response]:
        if self.role(request) != "admin":
            return _error(request, 403, "forbidden", "Votre rôle ne permet pas cette action. Contactez votre "
                          "administrateur.", "Your role does not allow this action. Please contact your administrator.")
        return None

    def find(self, request: httpx.Request, ref: str) -> Optional[Dict[str, Any]]:
        key = ref.strip().lower()
        return next((a for a in self.portal.assets if key in {a["asset_number"].lower(), a["serial"].lower(),
                                                              (a["alias"] or "").lower()}), None)

    def _not_found(self, request: httpx.Request, ref: str) -> httpx.Response:
        return _error(request, 404, "not_found", f"Appareil « {ref} » introuvable.", f"Device '{ref}' not found.")

    # --- users and permissions --------------------------------------------------------------------------------
    def _permissions(self, request: httpx.Request, body: Any) -> httpx.Response:
        role = self.role(request)
        return httpx.Response(200, json={
            "role": role, "permissions": [{"code": c, "label": {"fr": c, "en": c}} for c in PERMISSIONS[role]],
            "restricted_request_categories": [] if role == "admin" else ["contract_question", "invoice_question",
                                                                          "product_move"]})

    def _administrators(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json=[{"email": u["email"], "full_name": u["full_name"]}
                                         for u in self.users if u["role"] == "admin" and u["status"] == "active"])

    def _users(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._forbidden(request) or httpx.Response(200, json=self.users)

    def _contacts(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._forbidden(request) or httpx.Response(200, json=self.contacts)

    # --- detail and alias -------------------------------------------------------------------------------------
    def detail(self, asset: Dict[str, Any]) -> Dict[str, Any]:
        return {**asset, "account_name": ACCOUNT["name"],
                "address": {"street": ACCOUNT["street"], "city": ACCOUNT["city"], "postcode": ACCOUNT["postcode"],
                            "country": ACCOUNT["country"], "location": asset["location"]},
                "contract": CONTRACTS.get(asset["asset_number"], {"number": None, "end_date": None,
                                                                  "covers_consumables": False,
                                                                  "covers_service": False})}

    def _detail(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        asset = self.find(request, ref)
        return httpx.Response(200, json=self.detail(asset)) if asset else self._not_found(request, ref)

    def _alias(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        asset = self.find(request, ref)
        if asset is None:
            return self._not_found(request, ref)
        if not isinstance(body, dict) or set(body) != {"alias"} or len(body["alias"] or "") > 100:
            return _error(request, 422, "validation_error", "alias : valeur invalide", "alias: invalid value")
        alias = (body["alias"] or "").strip() or None
        if alias is not None:
            key = alias.lower()
            for other in [*self.portal.assets, *self.hidden_assets]:
                if other is not asset and key in {other["asset_number"].lower(), other["serial"].lower(),
                                                  (other["alias"] or "").lower()}:
                    return _error(request, 409, "alias_taken",
                                  f"Le nom d'alias « {alias} » est déjà utilisé par un autre appareil du compte.",
                                  f"The alias name '{alias}' is already used by another device of the account.")
        asset["alias"] = alias
        return httpx.Response(200, json=self.detail(asset))

    # --- device contacts (admin) -------------------------------------------------------------------------------
    def contact_out(self, link: Dict[str, Any]) -> Dict[str, Any]:
        if link["user_id"] is not None:
            person = next(u for u in self.users if u["id"] == link["user_id"])
            return {"id": link["id"], "kind": "user", "user_id": person["id"], "contact_id": None,
                    "full_name": person["full_name"], "email": person["email"], "phone": person["phone"]}
        contact = next(c for c in self.contacts if c["id"] == link["contact_id"])
        return {"id": link["id"], "kind": "contact", "user_id": None, "contact_id": contact["id"],
                "full_name": contact["full_name"], "email": contact["email"], "phone": contact["phone"]}

    def links_of(self, asset_number: str) -> List[Dict[str, Any]]:
        return [link for link in self.links if link["asset"] == asset_number]

    def _asset_contacts(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        refused = self._forbidden(request)
        if refused:
            return refused
        asset = self.find(request, ref)
        if asset is None:
            return self._not_found(request, ref)
        return httpx.Response(200, json=[self.contact_out(link) for link in self.links_of(asset["asset_number"])])

    def _add_contact(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        refused = self._forbidden(request)
        if refused:
            return refused
        asset = self.find(request, ref)
        if asset is None:
            return self._not_found(request, ref)
        key = request.headers.get("idempotency-key")
        if key and key in self._replays:  # the backend's run_once: the first answer again
            return httpx.Response(200, json=self._replays[key])
        given = [k for k in ("user_id", "contact_id", "contact") if (body or {}).get(k) is not None]
        if len(given) != 1 or set(body) - {"user_id", "contact_id", "contact"}:
            return _error(request, 422, "one_contact_expected",
                          "Indiquez exactement un élément : user_id, contact_id ou contact.",
                          "Give exactly one of: user_id, contact_id or contact.")
        link: Dict[str, Any] = {"asset": asset["asset_number"], "user_id": None, "contact_id": None}
        if body.get("user_id") is not None:
            user = next((u for u in self.users if u["id"] == body["user_id"]), None)
            if user is None:
                return _error(request, 404, "not_found", f"Utilisateur {body['user_id']} introuvable.",
                              f"User {body['user_id']} not found.")
            if user["status"] == "inactive":
                return _error(request, 409, "user_inactive", "Cet utilisateur est désactivé.",
                              "This user is deactivated.")
            link["user_id"] = user["id"]
        elif body.get("contact_id") is not None:
            if not any(c["id"] == body["contact_id"] for c in self.contacts):
                return _error(request, 404, "not_found", f"Contact {body['contact_id']} introuvable.",
                              f"Contact {body['contact_id']} not found.")
            link["contact_id"] = body["contact_id"]
        else:
            new = body["contact"]
            if set(new) - {"full_name", "email", "phone"} or not 2 <= len(new.get("full_name", "")) <= 200:
                return _error(request, 422, "validation_error", "contact : valeur invalide", "contact: invalid value")
            self._contact_seq += 1
            self.contacts.append({"id": self._contact_seq, "full_name": new["full_name"].strip(),
                                  "email": new.get("email") or "", "phone": new.get("phone", "")})
            link["contact_id"] = self._contact_seq
        for other in self.links_of(asset["asset_number"]):
            if (link["user_id"] is not None and other["user_id"] == link["user_id"]) or \
                    (link["contact_id"] is not None and other["contact_id"] == link["contact_id"]):
                return _error(request, 409, "already_contact", "Cette personne est déjà un contact de l'appareil.",
                              "This person is already a contact of the device.")
        self._link_seq += 1
        link["id"] = self._link_seq
        self.links.append(link)
        out = self.contact_out(link)
        if key:
            self._replays[key] = out
        return httpx.Response(201, json=out)

    def _remove_contact(self, request: httpx.Request, body: Any, ref: str, link_id: str) -> httpx.Response:
        refused = self._forbidden(request)
        if refused:
            return refused
        asset = self.find(request, ref)
        if asset is None:
            return self._not_found(request, ref)
        link = next((l for l in self.links_of(asset["asset_number"]) if l["id"] == int(link_id)), None)
        if link is None:
            return _error(request, 404, "not_found", f"Contact {link_id} introuvable.", f"Contact {link_id} not found.")
        self.links.remove(link)
        return httpx.Response(204)


def all_assets() -> List[Dict[str, Any]]:
    return copy.deepcopy(ALL_ASSETS)


__all__ = ["ADMIN_PROFILE", "ADMIN_TOKEN", "AssetsBackend", "TOKEN", "all_assets"]
