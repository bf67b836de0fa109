"""Fake portal routes for user administration and roles, mirroring backend/api/routes/users.py,
backend/services/users.py and backend/permissions.py with the seed's users (backend/seed.py).

`AdminBackend(portal)` adds the routes to a `FakePortal`; the token decides who calls: `ADMIN_TOKEN` is the
account's administrator (SNTest DemoPortal), `TOKEN` (actions_fakes) the standard user (SNTestDM DemoPortal).
Messages follow the request's Accept-Language, as the backend's do.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import httpx

from actions_fakes import TOKEN, FakePortal

ADMIN_TOKEN = "tok-admin"

ADMIN_PROFILE = {
    "id": 1, "email": "sntestportaldemo@outlook.com", "full_name": "SNTest DemoPortal", "role": "admin",
    "language": "fr", "account": "CANON UK LTD",
}
USER_PROFILE_SEED = {
    "id": 2, "email": "sntestdemoportaldm@yopmail.com", "full_name": "SNTestDM DemoPortal", "role": "user",
    "language": "en", "account": "CANON UK LTD",
}

STATUS_LABELS = {"active": {"fr": "ACTIF", "en": "ACTIVE"}, "pending": {"fr": "En attente", "en": "Pending"},
                 "inactive": {"fr": "Inactif", "en": "Inactive"}}


def managed_user(id: int, email: str, full_name: str, role: str, status: str, origin: Optional[str] = None,
                 phone: str = "") -> Dict[str, Any]:
    """Shaped like the backend's ManagedUserOut."""
    return {"id": id, "email": email, "full_name": full_name, "phone": phone, "role": role, "status": status,
            "status_label": dict(STATUS_LABELS[status]), "origin": origin, "created_at": "2024-01-01T00:00:00Z"}


SEED_USERS = [
    managed_user(1, "sntestportaldemo@outlook.com", "SNTest DemoPortal", "admin", "active", phone="+44 20 7946 0001"),
    managed_user(2, "sntestdemoportaldm@yopmail.com", "SNTestDM DemoPortal", "user", "active",
                 phone="+44 20 7946 0002"),
    managed_user(3, "alan.stane@canon-uk-demo.example", "Alan Inactive_Stane", "user", "inactive"),
    managed_user(4, "priya.pending@canon-uk-demo.example", "Priya Pending", "user", "pending",
                 origin="access_request", phone="+44 20 7946 0003"),
]
PRIYA, ALAN, SNTESTDM, SNTEST = SEED_USERS[3], SEED_USERS[2], SEED_USERS[1], SEED_USERS[0]

ALL_PERMISSIONS = [
    "search_knowledge", "get_help", "submit_requests", "place_orders", "meter_readings", "view_assets",
    "track_cases", "change_password", "email_notifications", "approve_access_requests", "invite_users",
    "add_contacts", "add_asset_contacts", "upgrade_users", "deactivate_users", "reset_passwords",
]
USER_PERMISSIONS = ALL_PERMISSIONS[:9]
USER_RESTRICTED = ["contract_question", "invoice_question", "product_move"]
ADMINISTRATORS = [{"email": "sntestportaldemo@outlook.com", "full_name": "SNTest DemoPortal"}]


def _lang(request: httpx.Request) -> str:
    return "en" if request.headers.get("accept-language", "fr").startswith("en") else "fr"


def _error(request: httpx.Request, status: int, code: str, fr: str, en: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": en if _lang(request) == "en" else fr})


def _forbidden(request: httpx.Request) -> httpx.Response:
    return _error(request, 403, "forbidden", "Votre rôle ne permet pas cette action. Contactez votre administrateur.",
                  "Your role does not allow this action. Please contact your administrator.")


class AdminBackend:
    """The users routes of the fake portal, with their state (users, invitations by idempotency key)."""

    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal
        portal.valid_tokens.add(ADMIN_TOKEN)
        self.users: List[Dict[str, Any]] = copy.deepcopy(SEED_USERS)
        self.administrators: List[Dict[str, str]] = list(ADMINISTRATORS)
        self.invitations: Dict[str, Dict[str, Any]] = {}
        self.sent_links: List[str] = []  # e-mails that received a link (invitation, set or reset password)
        portal.route("GET", r"/users/me/permissions", self._permissions)
        portal.route("GET", r"/users/me/administrators", lambda r, b: httpx.Response(200, json=self.administrators))
        portal.route("GET", r"/users", self._list)
        portal.route("POST", r"/users/invitations", self._invite)
        portal.route("POST", r"/users/(?P<user_id>\d+)/(?P<action>[a-z-]+)", self._action)

    # --- who is calling ---------------------------------------------------------------------------------------
    @staticmethod
    def role_of(request: httpx.Request) -> str:
        return "admin" if request.headers.get("authorization", "") == f"Bearer {ADMIN_TOKEN}" else "user"

    def caller(self, request: httpx.Request) -> Dict[str, Any]:
        wanted = 1 if self.role_of(request) == "admin" else 2
        return next(u for u in self.users if u["id"] == wanted)

    def user(self, user_id: int) -> Optional[Dict[str, Any]]:
        return next((u for u in self.users if u["id"] == user_id), None)

    # --- routes -----------------------------------------------------------------------------------------------
    def _permissions(self, request: httpx.Request, body: Any) -> httpx.Response:
        admin = self.role_of(request) == "admin"
        codes = ALL_PERMISSIONS if admin else USER_PERMISSIONS
        return httpx.Response(200, json={
            "role": "admin" if admin else "user",
            "permissions": [{"code": c, "label": {"fr": c, "en": c}} for c in codes],
            "restricted_request_categories": [] if admin else list(USER_RESTRICTED),
        })

    def _list(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.role_of(request) != "admin":
            return _forbidden(request)
        return httpx.Response(200, json=sorted(self.users, key=lambda u: u["full_name"]))

    def _invite(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.role_of(request) != "admin":
            return _forbidden(request)
        if set(body) - {"email", "full_name", "phone"} or "@" not in body.get("email", "") \
                or not 2 <= len(body.get("full_name", "")) <= 200:
            return _error(request, 422, "validation_error", "email : invalide", "email: invalid")
        key = request.headers.get("idempotency-key")
        if key and key in self.invitations:  # the backend's idempotent replay
            return httpx.Response(200, json=self.invitations[key])
        email = body["email"].lower()
        if any(u["email"].lower() == email for u in self.users):
            return _error(request, 409, "email_taken", "Un utilisateur du portail a déjà cette adresse e-mail.",
                          "A portal user already has this e-mail address.")
        user = managed_user(max(u["id"] for u in self.users) + 1, email, body["full_name"].strip(), "user",
                            "pending", origin="invitation", phone=body.get("phone", "").strip())
        self.users.append(user)
        self.sent_links.append(email)
        if key:
            self.invitations[key] = user
        return httpx.Response(201, json=user)

    def _action(self, request: httpx.Request, body: Any, user_id: str, action: str) -> httpx.Response:
        if self.role_of(request) != "admin":
            return _forbidden(request)
        user = self.user(int(user_id))
        if user is None:
            return _error(request, 404, "not_found", f"Utilisateur {user_id} introuvable.",
                          f"User {user_id} not found.")
        admin = self.caller(request)
        active_admins = sum(1 for u in self.users if u["role"] == "admin" and u["status"] == "active")
        last_admin = user["role"] == "admin" and user["status"] == "active" and active_admins <= 1
        if action in ("approve", "reject"):
            if user["status"] != "pending":
                return _error(request, 409, "not_pending", "Cet utilisateur n'a pas de demande d'accès en attente.",
                              "This user has no pending access request.")
            self._set_status(user, "active" if action == "approve" else "inactive")
            if action == "approve":
                self.sent_links.append(user["email"])
        elif action == "upgrade":
            if user["status"] != "active":
                return _error(request, 409, "not_active", "Seul un utilisateur actif peut devenir administrateur.",
                              "Only an active user can become an administrator.")
            user["role"] = "admin"
        elif action == "deactivate":
            if user["id"] == admin["id"]:
                return _error(request, 409, "cannot_deactivate_self",
                              "Vous ne pouvez pas désactiver votre propre accès.",
                              "You cannot deactivate your own access.")
            if last_admin:
                return _error(request, 409, "last_admin",
                              "C'est le dernier administrateur actif du compte : nommez-en un autre d'abord.",
                              "This is the account's last active administrator: appoint another one first.")
            self._set_status(user, "inactive")
        elif action == "password-reset":
            if user["status"] == "inactive":
                return _error(request, 409, "user_inactive", "Cet utilisateur est désactivé.",
                              "This user is deactivated.")
            self.sent_links.append(user["email"])
            fr = "Un lien de réinitialisation du mot de passe a été envoyé à l'utilisateur."
            en = "A password reset link has been sent to the user."
            return httpx.Response(202, json={"code": "password_reset_sent", "message": en if _lang(request) == "en"
                                             else fr})
        else:
            return _error(request, 404, "not_found", "Ressource introuvable.", "Resource not found.")
        return httpx.Response(200, json=user)

    @staticmethod
    def _set_status(user: Dict[str, Any], status: str) -> None:
        user["status"], user["status_label"] = status, dict(STATUS_LABELS[status])


__all__ = ["ADMIN_TOKEN", "ADMIN_PROFILE", "USER_PROFILE_SEED", "AdminBackend", "SEED_USERS", "PRIYA", "ALAN",
           "SNTESTDM", "SNTEST", "TOKEN", "ADMINISTRATORS", "USER_RESTRICTED", "managed_user"]
