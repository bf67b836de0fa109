"""Fake portal routes of the requests area, shaped like the real backend:

- POST /requests (backend/api/routes/requests.py -> services/cases.create_case with section="requests"):
  RequestCreate (extra fields forbidden, description 3..4000), unknown type 422 `unknown_category`, a category of
  another section 422 `wrong_section`, an admin-only category for a `user` 403 `forbidden_for_role`, an unknown
  or invisible asset 404, an idempotent replay of the same key -> the first case.
- GET /users/me/permissions (MyPermissions) and GET /users/me/administrators (list[PersonOut]).
- POST /requests/classify (RequestProposal): the taxonomy keywords and labels scored by word count as
  backend/services/triage.py does (a tie -> the likeliest two), and the devices named ("3 imprimantes", "les trois",
  "all of them" -> the fake's number of devices); `classify_override` answers a fixed proposal.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import httpx

from actions_fakes import FakePortal, _normalize

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
        portal.route("POST", r"/requests/classify", self.classify)
        self.classify_override: Optional[Dict[str, Any]] = None

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

    # --- POST /requests/classify ------------------------------------------------------------------------------------
    def classify(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.classify_override is not None:
            return httpx.Response(200, json=self.classify_override)
        text, category = _normalize(body["text"]).replace("’", "'"), body.get("category")
        sections = [c for c in self.portal._taxonomy_full if c["section"] == "requests"
                    and (category is None or c["code"] == category)]
        if category is not None and not sections:
            return httpx.Response(422, json={"code": "unknown_category", "message": "Type de demande inconnu."})
        options: List[Tuple[int, Dict[str, Any]]] = []
        for cat in sections:
            subs = {s["code"]: _score(s["keywords"], s["label"], text) for s in cat["subcategories"]}
            total = _score(cat["_keywords"], cat["label"], text) + sum(subs.values())
            if total == 0:
                continue
            top = max(subs.values())
            winners = [code for code, score in subs.items() if score == top and score > 0]
            options.append((total, {"category": cat["code"], "subcategory": winners[0] if len(winners) == 1 else None}))
        options.sort(key=lambda o: o[0], reverse=True)
        count, every = _quantity(text)
        if every and count is None:
            count = len(self.portal.assets)
        answer: Dict[str, Any] = {"category": category, "subcategory": None, "confident": False, "source": "none",
                                  "alternatives": [], "device_count": count, "all_devices": every}
        if options:
            alternatives = [o for _, o in options[:2]] if len(options) > 1 else []
            if len(options) > 1 and options[0][0] == options[1][0]:
                answer.update(category=None, source="keywords", alternatives=alternatives, score=options[0][0])
            else:
                answer.update(options[0][1], confident=True, source="keywords", alternatives=alternatives,
                              score=options[0][0])
        if answer["category"] == "product_move" and answer["subcategory"] is None and count:
            answer["subcategory"] = "one_to_five" if count <= 5 else "more_than_five"
        return httpx.Response(200, json=answer)


def _contains(text: str, phrase: str) -> bool:
    words = _normalize(phrase)
    words = re.sub(r"[sx]$", "", words) if len(words) > 4 else words
    return re.search(rf"(?<!\w){re.escape(words)}[sx]?(?!\w)", text) is not None


def _score(keywords: Dict[str, List[str]], labels: Dict[str, str], text: str) -> int:
    phrases = {_normalize(k) for words in keywords.values() for k in words}
    names = {_normalize(label) for label in labels.values()}
    return sum(len(p.split()) for p in phrases if _contains(text, p)) + sum(
        3 for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text) and (len(n.split()) > 1 or text == n))


_NUMBERS = {"deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "huit": 8, "douze": 12, "two": 2, "three": 3,
            "four": 4, "five": 5, "eight": 8, "twelve": 12}
_NOUN = r"(?:imprimantes?|copieurs?|machines?|appareils?|printers?|copiers?|devices?)"


def _quantity(text: str) -> Tuple[Optional[int], bool]:
    found = re.search(rf"(?<!\w)(\d+|{'|'.join(_NUMBERS)})(?: \w+)? {_NOUN}(?!\w)"
                      rf"|(?:les|all|the) (\d+|{'|'.join(_NUMBERS)})(?: of them| d'entre)?$", text)
    count = None
    if found:
        word = found.group(1) or found.group(2)
        count = int(word) if word.isdigit() else _NUMBERS[word]
    every = re.search(rf"(?<!\w)(?:all(?: of)?(?: the| our)?|tou(?:te)?s? (?:les|nos))(?: \w+)? {_NOUN}(?!\w)"
                      r"|all of them|^(?:tous|toutes|all)$", text) is not None
    return count, every
