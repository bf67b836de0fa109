"""Test helpers for the action-server tests: a fake portal backend behind `httpx.MockTransport`.

`FakePortal` answers the routes the actions use, records every request it received (method, path, query,
headers, JSON body) and can be switched to "down" (connection error) or to an HTTP error status, globally or
for one route. The `portal` fixture wires it into `actions.fault_report.backend` / `actions.session.backend`
so every action talks to it with the tracker's own token and language.
"""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import httpx
import yaml


ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "http://portal.test"
TOKEN = "tok-user"
FORM = "fault_report_form"

USER_PROFILE = {
    "id": 2, "email": "sntestdm@canon-uk-demo.example", "full_name": "SNTestDM DemoPortal", "role": "user",
    "language": "en", "account": "CANON UK DEMO",
}

# The seed's devices (backend/seed.py), shaped like the backend's AssetOut.
ASSET_C5560 = {"asset_number": "77996101", "serial": "WHJ01481", "model": "Canon iR-ADV C5560i",
               "alias": "Copieur 2e étage", "location": "Uxbridge — 2e étage", "emaintenance": False}
ASSET_C5030 = {"asset_number": "53463252", "serial": "GNM75498", "model": "Canon iR-ADV C5030i",
               "alias": None, "location": "Uxbridge — Accueil", "emaintenance": False}
ASSET_C5560B = {"asset_number": "80145861", "serial": "WHJ02153", "model": "Canon iR-ADV C5560i",
                "alias": "WHJ02153", "location": "Uxbridge — 1er étage", "emaintenance": True}
ALL_ASSETS = [ASSET_C5560, ASSET_C5030, ASSET_C5560B]

KB_HITS = [
    {"number": "KB0010", "lang": "fr", "title": "Dégager un bourrage dans le tiroir",
     "summary": "Ouvrez le tiroir et retirez la feuille.", "url": "/kb/KB0010?lang=fr",
     "tags": ["fault.paper_jam.drawer_tray"], "models": ["Canon iR-ADV C5560i"], "score": 0.81},
    {"number": "KB0011", "lang": "fr", "title": "Vérifier le format du papier",
     "summary": "Réglez le format du tiroir.", "url": "/kb/KB0011?lang=fr",
     "tags": ["fault.paper_jam.drawer_tray"], "models": [], "score": 0.62},
]

ASSET_REFERENCE = re.compile(r"(?<!\w)(\d{8}|[A-Za-z]{3}\d{5})(?!\w)")  # as backend/services/assets.py


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def load_taxonomy_response() -> List[Dict[str, Any]]:
    """data/taxonomy/taxonomy.yml shaped like the backend's GET /taxonomy (list[CategoryOut])."""
    raw = yaml.safe_load((ROOT / "data" / "taxonomy" / "taxonomy.yml").read_text(encoding="utf-8"))
    out: List[Dict[str, Any]] = []
    for section in ("faults", "requests", "other_cases"):
        for code, spec in (raw.get(section) or {}).items():
            out.append({
                "code": code,
                "section": section,
                "label": {"fr": spec["fr"], "en": spec["en"]},
                "admin_only": bool(spec.get("admin_only", False)),
                "subcategories": [
                    {"code": sub_code, "label": {"fr": sub["fr"], "en": sub["en"]},
                     "keywords": {lang: list(words) for lang, words in (sub.get("keywords") or {}).items()}}
                    for sub_code, sub in spec["subcategories"].items()
                ],
                # not part of CategoryOut: kept apart for the fake classifier, removed below
                "_keywords": {lang: list(words) for lang, words in (spec.get("keywords") or {}).items()},
            })
    return out


Handler = Callable[..., httpx.Response]
Failure = Union[str, int, Tuple[int, Any]]  # "down" | status | (status, json body)


class FakePortal:
    """A tiny stand-in for the portal backend; `transport` plugs into BackendClient / IdentityVerifier."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.valid_tokens = {TOKEN}
        self.assets: List[Dict[str, Any]] = list(ALL_ASSETS)
        self.kb_hits: List[Dict[str, Any]] = list(KB_HITS)
        self.resolve_override: Optional[Dict[str, Any]] = None
        self.classify_override: Optional[Dict[str, Any]] = None
        self._taxonomy_full = load_taxonomy_response()
        self.taxonomy = [{k: v for k, v in c.items() if k != "_keywords"} for c in self._taxonomy_full]
        self._failures: Dict[Optional[Tuple[str, str]], Failure] = {}
        self._routes: List[Tuple[str, "re.Pattern[str]", Handler]] = []
        self._cases: Dict[str, Dict[str, Any]] = {}
        self._case_seq = 100
        self.transport = httpx.MockTransport(self.handle)

    def route(self, method: str, path_pattern: str, handler: Handler) -> None:
        """Answer `method` on paths matching `path_pattern` (a full-match regex, named groups passed to the
        handler as keyword arguments): `handler(request, json_body, **groups) -> httpx.Response`.
        Area fakes (tests/actions/fakes_<area>.py) add their routes this way; later routes win."""
        self._routes.insert(0, (method.upper(), re.compile(path_pattern), handler))

    # --- switches -----------------------------------------------------------------------------------------
    def fail(self, how: Failure, method: Optional[str] = None, path: Optional[str] = None) -> None:
        """Make one route (or every route) fail: "down" raises ConnectError, an int answers that status."""
        self._failures[(method.upper(), path) if method else None] = how

    def recover(self) -> None:
        self._failures.clear()

    # --- recorded traffic -----------------------------------------------------------------------------------
    def calls(self, method: Optional[str] = None, path: Optional[str] = None) -> List[Dict[str, Any]]:
        return [r for r in self.requests
                if (method is None or r["method"] == method) and (path is None or r["path"] == path)]

    # --- the transport handler -----------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        record = {"method": request.method, "path": request.url.path, "params": dict(request.url.params),
                  "headers": dict(request.headers), "json": body}
        self.requests.append(record)
        failure = self._failures.get((request.method, request.url.path), self._failures.get(None))
        if failure == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if isinstance(failure, tuple):
            return httpx.Response(failure[0], json=failure[1])
        if isinstance(failure, int):
            return httpx.Response(failure, json={"code": "error", "message": f"status {failure}"})
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.valid_tokens:
            return httpx.Response(401, json={"code": "not_authenticated", "message": "Please log in to the portal."})
        route = {
            ("GET", "/users/me"): self._me,
            ("GET", "/assets"): lambda r, b: httpx.Response(200, json=self.assets),
            ("POST", "/assets/resolve"): self._resolve,
            ("GET", "/taxonomy"): lambda r, b: httpx.Response(200, json=self.taxonomy),
            ("POST", "/faults/classify"): self._classify,
            ("GET", "/knowledge/search"): self._search,
            ("POST", "/cases"): self._create_case,
            ("POST", "/knowledge/deflections"): self._deflection,
        }.get((request.method, request.url.path))
        if route is None:
            for method, pattern, handler in self._routes:
                match = pattern.fullmatch(request.url.path) if method == request.method else None
                if match:
                    return handler(request, body, **match.groupdict())
        if route is None:
            return httpx.Response(404, json={"code": "not_found", "message": "Resource not found."})
        return route(request, body)

    def _me(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json={
            "id": USER_PROFILE["id"], "email": USER_PROFILE["email"], "full_name": USER_PROFILE["full_name"],
            "phone": "", "role": "user", "status": "active", "language": "en", "email_notifications": True,
            "account": {"id": 1, "name": USER_PROFILE["account"], "street": "", "city": "", "postcode": "",
                        "country": ""},
        })

    def _resolve(self, request: httpx.Request, body: Any) -> httpx.Response:
        text = body["text"]
        if not 1 <= len(text) <= 1000:  # AssetResolveRequest
            return httpx.Response(422, json={"code": "validation_error", "message": "text: too long"})
        if self.resolve_override is not None:
            return httpx.Response(200, json=self.resolve_override)
        references = {ref.lower() for ref in ASSET_REFERENCE.findall(text)}
        normalized = _normalize(text)
        matches = [a for a in self.assets
                   if a["asset_number"].lower() in references or a["serial"].lower() in references
                   or (a["alias"] and _normalize(a["alias"]) in normalized)]
        known = {a["asset_number"].lower() for a in matches} | {a["serial"].lower() for a in matches}
        return httpx.Response(200, json={"matches": matches,
                                         "unknown_references": sorted(r.upper() for r in references - known)})

    def _classify(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.classify_override is not None:
            return httpx.Response(200, json=self.classify_override)
        text, category = _normalize(body["text"]), body.get("category")
        faults = [c for c in self._taxonomy_full if c["section"] == "faults"
                  and (category is None or c["code"] == category)]

        def hits(keywords: Dict[str, List[str]]) -> int:
            return sum(1 for words in keywords.values() for w in words if _normalize(w) in text)

        best_cat, best_score, best_sub = None, 0, None
        for cat in faults:
            subs = {s["code"]: hits(s["keywords"]) for s in cat["subcategories"]}
            score = hits(cat["_keywords"]) + sum(subs.values())
            if score > best_score:
                top = max(subs.values()) if subs else 0
                winners = [code for code, s in subs.items() if s == top and s > 0]
                best_cat, best_score, best_sub = cat["code"], score, (winners[0] if len(winners) == 1 else None)
        if best_cat is None:
            return httpx.Response(200, json={"category": category, "subcategory": None, "confident": False,
                                             "source": "none"})
        return httpx.Response(200, json={"category": best_cat, "subcategory": best_sub, "confident": True,
                                         "source": "keywords", "score": best_score})

    def _search(self, request: httpx.Request, body: Any) -> httpx.Response:
        q = request.url.params.get("q", "")
        if len(q) > 500:  # the backend's Query(max_length=500)
            return httpx.Response(422, json={"code": "validation_error", "message": "q: too long"})
        return httpx.Response(200, json=self.kb_hits[: int(request.url.params.get("limit", 3))])

    def _create_case(self, request: httpx.Request, body: Any) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key and key in self._cases:  # the backend's idempotent replay
            return httpx.Response(201, json=self._cases[key])
        self._case_seq += 1
        case = {"number": f"CS{self._case_seq:07d}", "status": "new", "category": body["category"],
                "subcategory": body["subcategory"], "description": body["description"]}
        if key:
            self._cases[key] = case
        return httpx.Response(201, json=case)

    def _deflection(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(201, json={"id": 7, "category": body.get("category"),
                                         "subcategory": body.get("subcategory"),
                                         "kb_articles_shown": body["kb_articles_shown"],
                                         "created_at": "2024-01-01T00:00:00Z"})


def load_domain() -> Dict[str, Any]:
    """domain/*.yml merged as Rasa merges a domain directory (enough for the actions: slots, forms, ...)."""
    merged: Dict[str, Any] = {"intents": [], "entities": [], "slots": {}, "forms": {}, "actions": [], "responses": {}}
    for path in sorted((ROOT / "domain").rglob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in part.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                merged.setdefault(key, []).extend(value)
    # `- action_x: {send_domain: true}` entries: names in "actions", the flag in "send_domain"
    merged["send_domain"] = [name for a in merged["actions"] if isinstance(a, dict)
                             for name, spec in a.items() if (spec or {}).get("send_domain")]
    merged["actions"] = [name for a in merged["actions"] for name in (a if isinstance(a, dict) else [a])]
    return merged


def initial_slots(domain: Dict[str, Any]) -> Dict[str, Any]:
    slots = {name: spec.get("initial_value") for name, spec in domain["slots"].items()}
    slots["requested_slot"] = None
    slots["session_started_metadata"] = None
    return slots


def slot_values(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """name -> value of the SlotSet events (the last one wins, as when Rasa applies them)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def responses(dispatcher: Any) -> List[str]:
    return [m["response"] for m in dispatcher.messages]


async def run(action: Any, tracker: Any, domain: Dict[str, Any]) -> tuple:
    """Runs an action as the action server would: (dispatcher with its messages, events)."""
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return dispatcher, events


def message(dispatcher: Any, response: str) -> Dict[str, Any]:
    """The first message the action sent with this response (fails, listing what was sent, if none)."""
    found = [m for m in dispatcher.messages if m["response"] == response]
    assert found, f"{response} not uttered; got {responses(dispatcher)}"
    return found[0]


async def accepted_switch(make_tracker: Callable[..., Any], domain: Dict[str, Any], text: str, intent: str,
                          entities: Iterable[Tuple[str, str]] = (), current: str = FORM,
                          **tracker_kwargs: Any) -> Dict[str, Any]:
    """The slots the new form's opening turn sees after `text` (a new request) was said inside the form
    `current`, offered as a switch (action_offer_switch) and accepted with "oui" (action_switch_form).
    `tracker_kwargs` go to both trackers (token, portal_user, slots such as the language)."""
    from actions.switching import ActionOfferSwitch, ActionSwitchForm

    slots = dict(tracker_kwargs.pop("slots", None) or {})
    offer = make_tracker(text, intent=intent, entities=list(entities), active_loop=current, slots=slots,
                         **tracker_kwargs)
    _, events = await run(ActionOfferSwitch(), offer, domain)
    slots.update(slot_values(events))
    accept = make_tracker("oui", intent="affirm", active_loop=None, slots=slots, **tracker_kwargs,
                          history=[{"event": "active_loop", "name": current}, {"event": "active_loop", "name": None}])
    _, events = await run(ActionSwitchForm(), accept, domain)
    assert any(e.get("event") == "followup" for e in events), f"the switch did not start a form: {events}"
    slots.update(slot_values(events))
    return slots


# How a form's opening turn is reached: the request asked directly, or asked inside another form, offered as a
# switch and accepted with "oui". Both must behave alike.
# How a form's opening turn can come: the request typed directly; said inside another form and accepted with a
# "yes" to the switch offer; typed, answered by the low-confidence menu (or a knowledge answer) whose button the
# user then pressed.
STARTS = ("directly", "after_a_switch", "after_the_menu", "after_a_knowledge_answer")
BUTTON_STARTS = {"after_the_menu": "nlu_fallback", "after_a_knowledge_answer": "search_knowledge"}


async def opening_tracker(make_tracker: Callable[..., Any], domain: Dict[str, Any], started: str, text: str,
                          intent: str, form: str, entities: Iterable[Tuple[str, str]] = (),
                          current: Optional[str] = None, **tracker_kwargs: Any) -> Any:
    """The tracker of `form`'s opening turn for the request `text`. "directly": its validation sees that message.
    "after_a_switch": `text` was said inside the form `current` (another form), the offer was accepted and the
    validation sees the "oui", with the slots accepted_switch leaves. `tracker_kwargs` go to every tracker."""
    if started == "directly":
        return make_tracker(text, intent=intent, entities=list(entities), active_loop=form, **tracker_kwargs)
    if started in BUTTON_STARTS:  # the typed message, the bot's buttons, then the pressed button's payload
        typed = {"text": text, "intent": {"name": BUTTON_STARTS[started], "confidence": 0.3},
                 "entities": [{"entity": name, "value": value, "start": 0, "end": 0} for name, value in entities]}
        history = [{"event": "user", "text": text, "parse_data": typed, "input_channel": "rest"},
                   {"event": "bot", "text": "Did you mean…", "data": {"buttons": [
                       {"title": "That", "payload": f"/{intent}"}, {"title": "Something else", "payload": "/help"}]}},
                   {"event": "action", "name": "action_listen"}]
        return make_tracker(f"/{intent}", intent=intent, active_loop=form, history=history, **tracker_kwargs)
    assert started == "after_a_switch", started
    current = current or ("order_consumables_form" if form == FORM else FORM)
    slots = await accepted_switch(make_tracker, domain, text, intent, entities, current=current, **tracker_kwargs)
    tracker_kwargs.pop("slots", None)
    return make_tracker("oui", intent="affirm", active_loop=form, slots=slots, **tracker_kwargs)


def assert_switch_request_forgotten(events: List[Dict[str, Any]], started: str) -> None:
    """After a switch the opening turn forgets the recorded request; a form started directly sets nothing more."""
    slots = slot_values(events)
    if started == "after_a_switch":
        assert "switch_request" in slots and slots["switch_request"] is None
    else:
        assert "switch_request" not in slots
