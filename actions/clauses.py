"""Two requests in one message: "voici les compteurs de l'accueil : 112 → 15 611 … et sinon elle est sous contrat
jusqu'à quand la machine ?".

On the opening turn of a form, a message of several parts (sentences, or parts joined by "et sinon", "also",
"by the way", …) is read part by part by the assistant's own model (bot/channels/nlu.py). A part that asks for
something else than the form does, clearly, is kept (slot `also_asked`: its words and intent). When the form is
done — submitted or cancelled — the user is reminded of it with one button that sends those very words again, so
the request is understood exactly as if typed then (its device, its numbers, its question).

Without the parse service (no NLU_KEY, Rasa unreachable) nothing is kept: the form works as before.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any, Dict, List, Optional

import httpx
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import is_payload, latest_user_message
from actions.session import env_secret, language
from actions.text import escape_markdown, shortened

log = logging.getLogger(__name__)
SLOT = "also_asked"
TRANSPORT: Optional[httpx.AsyncBaseTransport] = None  # tests plug a fake parse service in here
PARSE_TIMEOUT = 2.0
MIN_CONFIDENCE = 0.8
MIN_WORDS = 3  # "merci", "svp" are no request
MAX_PARTS = 4
# Intents that ask for nothing of their own: never "another request".
NOT_A_REQUEST = {
    "greet", "goodbye", "thank", "affirm", "deny", "cancel", "inform", "nlu_fallback", "out_of_scope",
    "bot_challenge", "help", "change_language",
}
# Where one request ends and another starts: the end of a sentence, a new line, or words that add a request
# ("et sinon", "au fait", "also", "by the way", ...). Accents are kept: the parts are read as typed.
_BOUNDARY = re.compile(
    r"(?<=[.?!;])\s+|\n+|\s*[,.]?\s*\b(?:et sinon|sinon|et aussi|au fait|au passage|en passant|par ailleurs|d'ailleurs|"
    r"autre chose|autre question|tant que j'y suis|pendant que j'y suis|et puis|ah et|oh et|and also|also|by the way|"
    r"btw|another thing|one more thing|oh and|while i'?m at it|while you'?re at it|on another note|separately)\b"
    r"\s*[,:]?\s*",
    re.IGNORECASE)
QUOTED_CHARS = 120


def parts_of(text: str) -> List[str]:
    """The parts of a message that may each ask for something (at most MAX_PARTS, each of MIN_WORDS words)."""
    parts = [p.strip(" ,;:-–/") for p in _BOUNDARY.split(text or "") if p and p.strip(" ,;:-–/")]
    parts = [p for p in parts if len(p.split()) >= MIN_WORDS]
    return parts[:MAX_PARTS] if len(parts) > 1 else []


def _url() -> str:
    base = os.environ.get("RASA_URL") or os.environ.get("RASA_PUBLIC_URL") or "http://localhost:5005"
    return base.rstrip("/") + "/webhooks/nlu/parse"


async def parse_parts(parts: List[str]) -> Optional[List[Dict[str, Any]]]:
    """Each part as the model reads it, or None when the parse service cannot answer."""
    key = env_secret("NLU_KEY")
    if not key or not parts:
        return None
    try:
        async with httpx.AsyncClient(timeout=PARSE_TIMEOUT, transport=TRANSPORT) as client:
            reply = await client.post(_url(), json={"texts": parts}, headers={"Authorization": f"Bearer {key}"})
        if reply.status_code != 200:
            log.warning("NLU parse service answered %s", reply.status_code)
            return None
        return list(reply.json().get("results") or [])
    except (httpx.HTTPError, ValueError) as error:
        log.warning("NLU parse service unavailable: %s", error)
        return None


# Requests of one family: a part asking for a sibling of the form's request is that request told in several
# sentences ("the colour counter shows 143,312 in the portal. That can't be right, can someone check it?" is one
# query about a reading, whose first sentence alone reads like a reading), never a second request.
FAMILIES = (
    {"submit_meter_reading", "query_meter_reading"},
    {"order_consumables", "order_enquiry", "view_orders", "invoice_question"},
    {"report_fault", "case_status", "add_case_comment", "list_cases"},
    {"invite_user", "approve_access_request", "deactivate_user", "upgrade_user", "reset_user_password", "list_users"},
)


def _form_intents(form: str) -> set:
    from actions.switching import form_starters  # local: switching reads the rules files once

    return {intent for intent, starter in form_starters().items() if starter.form == form}


def _with_siblings(intents: set) -> set:
    return intents.union(*(family for family in FAMILIES if family & intents))


async def find_also_asked(tracker: Tracker, form: str) -> Optional[Dict[str, Any]]:
    """On a form's opening turn: the first part of the typed message that clearly asks for something the form does
    not do ({"text", "intent"}), or None."""
    if tracker.get_slot(SLOT):
        return None
    message = latest_user_message(tracker)
    if not message.text or is_payload(message.text):
        return None
    parts = parts_of(message.text)
    if not parts:
        return None
    results = await parse_parts(parts)
    if not results or len(results) != len(parts):
        return None
    own = _form_intents(form) | {message.intent}
    # the message as a whole asked for this form; a part that asks for the same is that request's own part
    if not any(r.get("intent") in own for r in results):
        return None
    own = _with_siblings(own)
    for part, result in zip(parts, results):
        intent = result.get("intent")
        if intent in own or intent in NOT_A_REQUEST or float(result.get("confidence") or 0) < MIN_CONFIDENCE:
            continue
        return {"text": part, "intent": intent}
    return None


def offer_also_asked(dispatcher: CollectingDispatcher, tracker: Tracker, form: Optional[str]) -> List[EventType]:
    """Once a form is done (submitted or cancelled): the other request of its opening message, with one button that
    sends its words again. Forgotten once offered, or when the form that just ended was that request."""
    kept = tracker.get_slot(SLOT)
    if not isinstance(kept, dict) or not kept.get("text"):
        return []
    if not (form and kept.get("intent") in _form_intents(form)):
        lang = language(tracker)
        asked = escape_markdown(shortened(kept["text"], QUOTED_CHARS))
        dispatcher.utter_message(response="utter_also_asked", asked=asked,
                                 buttons=[{"title": GO[lang], "payload": kept["text"]}])
    return [SlotSet(SLOT, None)]


GO = {"fr": "Oui, allons-y", "en": "Yes, go ahead"}
