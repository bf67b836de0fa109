"""The portal's case routes for the action tests, after backend/api/routes/cases.py and services/cases.py,
with the demo cases of backend/seed.py (CS0032411–CS0032501, plus another account's CS0031877).

Visibility mirrors `visible_cases_query`: an admin sees every case of the account; a `user` only the cases they
created, are the contact or a secondary contact (watcher) of, or that are on their devices (the seed's user is
the contact of the C5030i, 53463252). Another account's case is never visible (404), like an unknown number.
Labels follow the request's Accept-Language, as `case_to_out` does.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Dict, List, Optional

import httpx

from actions.text import fold_accents

from actions_fakes import ASSET_C5030, ASSET_C5560, ASSET_C5560B, TOKEN, FakePortal

ADMIN_TOKEN = "tok-admin"
ADMIN_PROFILE = {
    "id": 1, "email": "sntestportaldemo@outlook.com", "full_name": "SNTest DemoPortal", "role": "admin",
    "language": "fr", "account": "CANON UK DEMO",
}
ADMIN_NAME, USER_NAME = "SNTest DemoPortal", "SNTestDM DemoPortal"
OTHER_ASSET = {"asset_number": "91230045", "serial": "XKL55120", "model": "Canon iR-ADV C5535i", "alias": "Atelier",
               "location": "12 rue des Presses, Lyon", "emaintenance": False}
STATUS_LABELS = {  # backend/services/cases.py
    "new": {"fr": "Nouveau", "en": "New"},
    "in_progress": {"fr": "En cours", "en": "In progress"},
    "awaiting_customer": {"fr": "Action requise", "en": "Action required"},
    "resolved": {"fr": "Résolu", "en": "Resolved"},
    "closed": {"fr": "Terminé", "en": "Closed"},
}
CASE_NUMBER = re.compile(r"^CS\d{7}$")


def _case(number: str, asset: Optional[Dict[str, Any]], category: str, subcategory: str, description: str,
          status: str, day: int, creator: str = "admin", contact: str = "admin", account: str = "canon",
          watchers: tuple = (), extra_activities: tuple = ()) -> Dict[str, Any]:
    created = f"2026-{(day - 1) // 28 + 1:02d}-{(day - 1) % 28 + 1:02d}T09:00:00Z"
    author = {"admin": ADMIN_NAME, "user": USER_NAME, "other": "Claire Martin"}[creator]
    activities = [{"author_name": author, "body": description, "created_at": created}]
    activities += [dict(a) for a in extra_activities]
    return {"number": number, "status": status, "category": category, "subcategory": subcategory,
            "asset": asset, "description": description, "creator": creator, "contact": contact, "account": account,
            "watchers": list(watchers), "created_at": created, "updated_at": activities[-1]["created_at"],
            "activities": activities}


def demo_cases() -> List[Dict[str, Any]]:
    """backend/seed.py's cases, oldest first (numbers grow with time, the API lists newest first)."""
    return [
        _case("CS0031877", OTHER_ASSET, "paper_jam", "drawer_tray", "Bourrage récurrent dans le tiroir 2.",
              "in_progress", 5, creator="other", contact="other", account="northwind"),
        _case("CS0032411", None, "contract_question", "billable_service", "Question sur un service payant.", "new", 10),
        _case("CS0032412", None, "contract_question", "contract_copy", "Merci de nous envoyer une copie du contrat.",
              "new", 11),
        _case("CS0032413", ASSET_C5030, "order_enquiry", "consumables_request", "Demande de consommables.", "new", 12),
        _case("CS0032414", ASSET_C5560B, "meter_reading", "query", "Question sur le relevé du compteur 112.", "new", 13),
        _case("CS0032497", ASSET_C5030, "malfunction", "toner_problem", "Toner renversé dans l'appareil.", "closed",
              20, extra_activities=(
                  {"author_name": "Canon", "body": "Intervention planifiée.", "created_at": "2026-01-21T10:00:00Z"},
                  {"author_name": "Canon", "body": "Toner remplacé, appareil nettoyé.",
                   "created_at": "2026-01-22T15:30:00Z"},
                  {"author_name": "Canon", "body": "Dossier clôturé.", "created_at": "2026-01-23T08:00:00Z"})),
        _case("CS0032498", ASSET_C5560, "malfunction", "unusual_noise", "Bruit inhabituel", "closed", 21,
              contact="inactive"),
        _case("CS0032499", ASSET_C5030, "print_quality", "print_scan_copy", "Traînées sur les impressions couleur.",
              "awaiting_customer", 30, contact="user", extra_activities=(
                  {"author_name": "Canon", "body": "Pouvez-vous nous envoyer une page de test imprimée ?",
                   "created_at": "2026-02-03T11:15:00Z"},)),
        _case("CS0032500", ASSET_C5030, "order_enquiry", "missing_items",
              "[ORD0001233] Le bac de récupération du toner manque à la livraison.", "in_progress", 31,
              creator="user", contact="user"),
        _case("CS0032501", None, "general_enquiry", "general_enquiry",
              "Merci de mettre à jour le téléphone de SNTestDM DemoPortal.", "new", 32, watchers=("user",)),
    ]


class FakeCases:
    """Plugs the case routes into a FakePortal; `cases` is the store (tests may change it)."""

    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal
        self.cases = demo_cases()
        self.comments: Dict[str, Dict[str, Any]] = {}  # Idempotency-Key -> the answer (the backend's run_once)
        portal.valid_tokens.add(ADMIN_TOKEN)
        portal.route("GET", r"/cases", self._list)
        portal.route("GET", r"/cases/(?P<number>[^/]+)", self._get)
        portal.route("POST", r"/cases/(?P<number>[^/]+)/comments", self._comment)
        portal.route("POST", r"/cases/match", self._match)

    # --- who is asking ----------------------------------------------------------------------------------------------
    @staticmethod
    def _who(request: httpx.Request) -> str:
        return "admin" if request.headers["authorization"].endswith(ADMIN_TOKEN) else "user"

    @staticmethod
    def _lang(request: httpx.Request) -> str:
        return "en" if request.headers.get("accept-language", "fr").startswith("en") else "fr"

    def visible(self, who: str) -> List[Dict[str, Any]]:
        mine = [c for c in self.cases if c["account"] == "canon"]
        if who == "user":
            mine = [c for c in mine if c["creator"] == "user" or c["contact"] == "user" or "user" in c["watchers"]
                    or (c["asset"] or {}).get("asset_number") == ASSET_C5030["asset_number"]]
        return sorted(mine, key=lambda c: c["number"], reverse=True)

    def find(self, number: str) -> Dict[str, Any]:
        return next(c for c in self.cases if c["number"] == number)

    def _out(self, case: Dict[str, Any], lang: str) -> Dict[str, Any]:
        category = next((c for c in self.portal.taxonomy if c["code"] == case["category"]), None)
        sub = next((s for s in (category or {}).get("subcategories", []) if s["code"] == case["subcategory"]), None)
        requester = {"admin": (ADMIN_PROFILE["email"], ADMIN_NAME), "user": ("sntestdm@canon-uk-demo.example",
                                                                           USER_NAME),
                     "other": ("admin@northwind-imprimerie.fr", "Claire Martin")}[case["creator"]]
        return {
            "number": case["number"], "status": case["status"],
            "status_label": STATUS_LABELS[case["status"]][lang], "priority": 3,
            "category": case["category"], "category_label": category["label"][lang] if category else case["category"],
            "subcategory": case["subcategory"], "subcategory_label": sub["label"][lang] if sub else case["subcategory"],
            "asset": copy.deepcopy(case["asset"]), "description": case["description"],
            "requester": {"email": requester[0], "full_name": requester[1]}, "contact_name": requester[1],
            "channel": "portal", "transcript": "", "kb_articles_shown": [], "kb_feedback": None,
            "created_at": case["created_at"], "updated_at": case["updated_at"],
            "activities": copy.deepcopy(case["activities"]), "watchers": [],
            # an order enquiry's description starts with its order ("[ORD0001233] …"), as the portal writes it
            "order_number": (re.match(r"\[(ORD\d{7})\]", case["description"] or "") or [None, None])[1],
        }

    # --- routes -----------------------------------------------------------------------------------------------------
    def _match(self, request: httpx.Request, body: Any) -> httpx.Response:
        """A stand-in for the backend's topic scoring: the visible cases whose description shares words of 5+
        letters with the text, most shared first; the best is the first if it shares more than the next."""
        def words(text: str) -> set:
            return {w for w in re.findall(r"\w+", fold_accents(text.lower())) if len(w) >= 5}

        wanted = words(body["text"])
        scored = sorted(((len(wanted & words(c["description"])), c) for c in self.visible(self._who(request))),
                        key=lambda item: -item[0])
        scored = [(score, c) for score, c in scored if score][:5]
        best = scored[0][1]["number"] if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]) else None
        lang = self._lang(request)
        return httpx.Response(200, json={"best": best, "cases": [self._out(c, lang) for _, c in scored],
                                         "scores": [float(score) for score, _ in scored]})

    def _list(self, request: httpx.Request, body: Any) -> httpx.Response:
        which = request.url.params.get("list", "all")
        limit = int(request.url.params.get("limit", "50"))
        if which not in ("action_required", "mine", "all") or not 1 <= limit <= 500:
            return httpx.Response(422, json={"code": "validation_error", "message": "list: invalid"})
        who = self._who(request)
        cases = self.visible(who)
        if which == "action_required":
            cases = [c for c in cases if c["status"] == "awaiting_customer"]
        elif which == "mine":
            cases = [c for c in cases if c["creator"] == who]
        state = request.url.params.get("state")
        if state is not None:  # as backend/services/cases.py
            cases = [c for c in cases if (c["status"] in ("new", "in_progress", "awaiting_customer")) == (state == "open")]
        asset = request.url.params.get("asset")
        if asset is not None:
            cases = [c for c in cases if (c.get("asset") or {}).get("asset_number") == asset]
        return httpx.Response(200, json=[self._out(c, self._lang(request)) for c in cases[:limit]])

    def _visible_case(self, request: httpx.Request, number: str) -> Any:
        number = number.strip().upper()
        lang = self._lang(request)
        if not CASE_NUMBER.match(number):
            message = {"fr": f"« {number} » n'est pas un numéro de dossier valide (format CS suivi de 7 chiffres, "
                             f"ex. CS0032498).",
                       "en": f"'{number}' is not a valid case number (format CS followed by 7 digits, "
                             f"e.g. CS0032498)."}[lang]
            return httpx.Response(422, json={"code": "invalid_case_number", "message": message})
        case = next((c for c in self.visible(self._who(request)) if c["number"] == number), None)
        if case is None:
            message = {"fr": f"Dossier {number} introuvable.", "en": f"Case {number} not found."}[lang]
            return httpx.Response(404, json={"code": "not_found", "message": message})
        return case

    def _get(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        case = self._visible_case(request, number)
        if isinstance(case, httpx.Response):
            return case
        return httpx.Response(200, json=self._out(case, self._lang(request)))

    def _comment(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        case = self._visible_case(request, number)
        if isinstance(case, httpx.Response):
            return case
        if set(body or {}) != {"body"} or not 1 <= len(body["body"]) <= 4000:  # CommentCreate
            return httpx.Response(422, json={"code": "validation_error", "message": "body: invalid"})
        key = request.headers.get("idempotency-key")
        if key and key in self.comments:  # run_once: the first answer again, nothing added
            return httpx.Response(200, json=self.comments[key])
        text = body["body"].strip()
        if not text:
            return httpx.Response(422, json={"code": "empty_comment", "message": "Le commentaire est vide."})
        author = ADMIN_NAME if self._who(request) == "admin" else USER_NAME
        activity = {"author_name": author, "body": text, "created_at": "2026-03-01T12:00:00Z"}
        case["activities"].append(activity)
        case["updated_at"] = activity["created_at"]
        if case["status"] == "awaiting_customer":
            case["status"] = "in_progress"
        if key:
            self.comments[key] = activity
        return httpx.Response(201, json=activity)


def install_cases(portal: FakePortal) -> FakeCases:
    return FakeCases(portal)


__all__ = ["ADMIN_PROFILE", "ADMIN_TOKEN", "FakeCases", "TOKEN", "demo_cases", "install_cases"]
