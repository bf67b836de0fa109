"""What every form of the assistant shares: reading the latest message and the message that opened the
request, the "is this an answer to the question?" test, yes/no confirmation, the device question, and a
FormValidationAction base that keeps the helper slots its `extract_*` methods set.

Extraction rule followed by every form: an `extract_*` acts only when its slot is the one asked (or on the
message that opened the form, to reuse what the user already said). A message that is not an answer (help,
greet, cancel, a question about a case, ...) extracts nothing, so the form rejects it and the rules answer it
before asking the pending question again. The words, intent and entities an `extract_*` reads come from
`turn_message`: on the opening turn the message that asked for the request — after a "yes" to a switch offered
inside another form, the recorded request, not the "yes".
"""
from __future__ import annotations

import json
import logging
import re
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError
from actions.session import backend, report_backend_error
from actions.text import escape_markdown, fold_accents, plain

log = logging.getLogger(__name__)

# Intents that are never an answer to a form's question: the rules answer them (digressions).
NOT_AN_ANSWER = {
    "greet", "goodbye", "thank", "help", "out_of_scope", "cancel", "nlu_fallback", "bot_challenge",
    "human_handoff", "ask_glossary", "case_status", "list_cases", "search_knowledge", "change_language",
    "view_orders", "list_assets", "device_info", "change_password", "set_voice_pin", "list_users",
}
MAX_BUTTONS = 10
# Questions about devices that a short answer to "which device?" may be read as (actions/forms.py extract_asset)
DEVICE_QUESTIONS = {"device_info", "list_assets"}
SHORT_DEVICE_ANSWER_WORDS = 8
# The message that asked for a request offered as a switch inside another form (actions/switching.py): its
# text, intent and entities, kept until the new form's opening turn has read it.
SWITCH_REQUEST = "switch_request"
# A form's own questions and changes at its summary, which it answers itself even when the NLU reads them as another
# request ("ça sera livré où ?" read as a problem with an order): form name -> test of the latest message. The
# switch offer (actions/switching.py) asks it first and lets the form answer instead.
SUMMARY_QUESTIONS: Dict[str, Callable[[Tracker], bool]] = {}


# --- a summary's answer: yes, no, or a field to change (the fault and the request summaries) -----------------------
ANOTHER_TYPE = {"fr": "Un autre type", "en": "Another type"}
BARE_ANSWER_WORDS = 3  # "non merci", "no thank you"
# The entity a summary's "change ..." buttons carry: description | type | device
SUMMARY_CHANGE_ENTITY = "fault_change"
# "change / correct the description", "the type is wrong", "another device" (accents folded)
CHANGE_DESCRIPTION = re.compile(r"\b(description|decri\w*|describe|wording|(mon|le) texte|reformul\w*|rephrase)\b")
CHANGE_TYPE = re.compile(r"\b((le |the )?(type|categori\w*|category)( de panne| of fault| de demande| of request)?"
                         r"( est| is)? (faux|fausse|wrong|incorrect|pas bon\w*|errone\w*)|chang\w* (le |the )?"
                         r"(type|categor\w*)|modifi\w* (le )?(type|categor\w*)|autre type|another type)\b")
_DEVICE_WORD = r"(appareil|device|copieur|imprimante|printer|copier|machine|mfp)"
CHANGE_DEVICE = re.compile(rf"\b((chang\w*|modifi\w*) (d'|l'|le |la |the )?{_DEVICE_WORD}|(un |une )?(autre|another|other|"
                           rf"different) {_DEVICE_WORD}|(wrong|pas le bon|pas la bonne|mauvais|mauvaise) {_DEVICE_WORD}|"
                           rf"{_DEVICE_WORD} (est |is )?(faux|wrong|incorrect))\b")


def summary_field(tracker: Tracker) -> Optional[str]:
    """The field of a summary the user asks to change: its button ("description", "type", "device"), or words
    that say so ("la description est fausse", "change the type", "wrong device"); None otherwise."""
    wanted = entity(tracker, SUMMARY_CHANGE_ENTITY)
    if wanted:
        return wanted
    text = text_of(tracker)
    folded = "" if is_payload(text) else fold_accents(text.lower())
    for field, words in (("description", CHANGE_DESCRIPTION), ("type", CHANGE_TYPE), ("device", CHANGE_DEVICE)):
        if words.search(folded):
            return field
    return None


def may_change_summary(tracker: Tracker, slot: str) -> bool:
    """The answer to a summary (`slot` asked) is more than a bare yes / no and no digression: it may change a field.
    "non, c'est plutôt un bruit" is a correction, not a refusal: only a bare "no" declines."""
    correcting = intent_of(tracker) == "deny" and len(text_of(tracker).split()) > BARE_ANSWER_WORDS
    return asked(tracker, slot) and (intent_of(tracker) not in ("affirm", "deny") or correcting) \
        and not not_an_answer(tracker)


def likeliest(proposal: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The likeliest types a classification sets side by side (its `alternatives` that name a category)."""
    return [a for a in (proposal or {}).get("alternatives") or [] if isinstance(a, dict) and a.get("category")]


async def likeliest_buttons(options: List[Dict[str, Any]], prefix: str, lang: str,
                            label: Callable[[str, Optional[str]], Awaitable[str]]) -> List[Dict[str, str]]:
    """The likeliest types as buttons (each sets `<prefix>_category` and its `<prefix>_subcategory`), then
    "another type" (/deny: every type is shown)."""
    buttons = []
    for option in options:
        values = {f"{prefix}_category": option["category"]}
        if option.get("subcategory"):
            values[f"{prefix}_subcategory"] = option["subcategory"]
        buttons.append({"title": await label(option["category"], option.get("subcategory")),
                        "payload": "/inform" + json.dumps(values, separators=(",", ":"))})
    return buttons + [{"title": ANOTHER_TYPE[lang], "payload": "/deny"}]


def intent_of(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def entity(tracker: Tracker, name: str) -> Optional[str]:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value is not None else None


def entities(tracker: Tracker, name: str) -> List[str]:
    return [str(v) for v in tracker.get_latest_entity_values(name)]


def bot_response(event: Dict[str, Any]) -> Optional[str]:
    """The domain response a bot event said ("utter_order_created"), None for other events and free text."""
    if event.get("event") != "bot":
        return None
    return (event.get("metadata") or {}).get("utter_action")


def slot_set_in(events: Sequence[Dict[str, Any]], name: str) -> Any:
    """The last non-empty value these events set `name` to, or None."""
    return next((e.get("value") for e in reversed(events)
                 if e.get("event") == "slot" and e.get("name") == name and e.get("value")), None)


def text_of(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("text") or "").strip()


def asked(tracker: Tracker, slot: str) -> bool:
    """The latest message answers the form's pending question `slot` (not the switch offer before it)."""
    return tracker.get_slot("requested_slot") == slot and not answered_switch_offer(tracker)


def answered_switch_offer(tracker: Tracker) -> bool:
    """The latest message was the "no, carry on" to an offer to switch to another request: the form runs again to
    ask its question, and that "no" must not be read as the answer ("no" to a summary would cancel it)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == "action_stay_in_form":
            return True
    return False


def opening_turn(tracker: Tracker) -> bool:
    """The message that activated the form: nothing asked yet."""
    return tracker.get_slot("requested_slot") is None


def is_payload(text: str) -> bool:
    return text.startswith("/")


@dataclass(frozen=True)
class OpeningMessage:
    """A user message as the extractions read it: its words, intent and entities (the message that asked for
    the current request, see `opening_message`, or the latest one, see `turn_message`)."""

    text: str
    intent: Optional[str]
    entities: Tuple[Dict[str, Any], ...] = ()

    def entity_values(self, name: str) -> List[str]:
        # entities with a role or group are left out, as Tracker.get_latest_entity_values does
        return [str(e["value"]) for e in self.entities if e.get("entity") == name and e.get("value") is not None
                and e.get("role") is None and e.get("group") is None]

    def entity(self, name: str) -> Optional[str]:
        """The first value of this entity, or None (as `entity(tracker, name)` for the latest message)."""
        return next(iter(self.entity_values(name)), None)


def hand_over(intent: str, text: str, entities: Any = (), announce: Optional[str] = None,
              **announce_args: Any) -> List[EventType]:
    """The events that end the current form at once for another request's form, which then reads these words
    (`opening_message`): the words of a delivery gone wrong told as a new order, of a fault told as a request, of a
    change to an order just sent... The submit action of the form ending says `announce` (a response) and switches
    (actions/submission.py SubmitAction.run)."""
    record = {"text": text, "intent": intent, "entities": [dict(e) for e in entities or ()]}
    if announce:
        record["announce"] = {"response": announce, **announce_args}
    return [SlotSet("requested_slot", None), SlotSet("switch_to", intent), SlotSet(SWITCH_REQUEST, record)]


def handed_over(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The hand-over the form that just ended recorded (see `hand_over`), or None (an offered switch is no
    hand-over: it waits for the user's yes)."""
    record = tracker.get_slot(SWITCH_REQUEST)
    if tracker.get_slot("switch_to") and not tracker.get_slot("switch_pending") and isinstance(record, dict):
        return record
    return None


def switch_request_record(tracker: Tracker) -> Dict[str, Any]:
    """The latest message as the switch offer records it (the slot `switch_request`)."""
    latest = tracker.latest_message or {}
    return {"text": text_of(tracker), "intent": intent_of(tracker),
            "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in latest.get("entities") or []]}


def opening_message(tracker: Tracker) -> OpeningMessage:
    """The message that opened the current request, wherever the user said it:

    - started by a "yes" to a switch offered inside another form: the request the offer recorded, not the "yes";
    - started by a button (the low-confidence menu's "Report a fault", the one under a knowledge answer, ...)
      offered in reply to what the user typed: that typed message's words and entities, with the button's
      intent (`answered_by_button`);
    - else the latest message (on a form's opening turn, the one that started it)."""
    recorded = tracker.get_slot(SWITCH_REQUEST)
    # a record is read only once the switch was accepted (a pending offer may still be declined or abandoned)
    if isinstance(recorded, dict) and recorded.get("intent") and not tracker.get_slot("switch_pending"):
        return OpeningMessage((recorded.get("text") or "").strip(), recorded["intent"],
                              tuple(recorded.get("entities") or ()))
    latest = latest_user_message(tracker)
    typed = answered_by_button(tracker) if is_payload(latest.text) else None
    if typed is None:
        return latest
    return OpeningMessage(typed.text, latest.intent, latest.entities + typed.entities)


def answered_by_button(tracker: Tracker) -> Optional[OpeningMessage]:
    """When the latest message is a button the bot offered in reply to the user's previous message, and that
    message was typed: the typed message. The user's own words keep counting after a menu or an answer."""
    events = list(tracker.events)
    pressed = text_of(tracker)
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return None
    previous, latest = users[-2], users[-1]
    offered = any(b.get("payload") == pressed for e in events[previous + 1:latest] if e.get("event") == "bot"
                  for b in ((e.get("data") or {}).get("buttons") or []) if isinstance(b, dict))
    before = events[previous]
    text = (before.get("text") or "").strip()
    if not offered or not text or is_payload(text):
        return None
    parse = before.get("parse_data") or {}
    return OpeningMessage(text, (parse.get("intent") or {}).get("name"), tuple(parse.get("entities") or ()))


def latest_user_message(tracker: Tracker) -> OpeningMessage:
    """The latest user message (on a form's turn, the answer to its question)."""
    latest = tracker.latest_message or {}
    return OpeningMessage(text_of(tracker), intent_of(tracker), tuple(latest.get("entities") or ()))


def turn_message(tracker: Tracker) -> OpeningMessage:
    """The message an `extract_*` reads on this turn: on the form's opening turn the message that opened the
    request (after a "yes" to a switch offer, the request it recorded, not the "yes"), else the latest message
    (the answer to the question asked)."""
    return opening_message(tracker) if opening_turn(tracker) else latest_user_message(tracker)


def not_an_answer(tracker: Tracker) -> bool:
    """A digression or a request that starts another conversation (the switching rules handle it)."""
    intent = intent_of(tracker)
    if intent in NOT_AN_ANSWER:
        return True
    if opening_turn(tracker):  # the message that started this form (its loop is not active yet)
        return False
    from actions.switching import form_starters  # local: switching reads the rules files once

    starter = form_starters().get(intent or "")
    return starter is not None and starter.form != (tracker.active_loop or {}).get("name")


def asset_label(asset: Dict[str, Any], markdown: bool = True) -> str:
    """How a device is named in a message (its alias escaped: user-written), or as plain text (`markdown=False`:
    a button's title)."""
    ids = f"{asset['asset_number']} / {asset['serial']}"
    if asset.get("alias") and asset["alias"] != asset["serial"]:
        alias = escape_markdown(asset["alias"]) if markdown else asset["alias"]
        return f"{alias} — {asset['model']} ({ids})"
    return f"{asset['model']} ({ids})"


def asset_buttons(assets: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [{"title": asset_label(a, markdown=False), "payload": f'/inform{{"asset_ref":"{a["asset_number"]}"}}'}
            for a in assets[:MAX_BUTTONS]]


def yes_no_answer(tracker: Tracker, dispatcher: CollectingDispatcher, slot: str) -> Dict[Text, Any]:
    """A confirmation question's answer: affirm → True, deny → False; anything else asks again."""
    if not asked(tracker, slot):
        return {}
    intent = intent_of(tracker)
    if intent in ("affirm", "deny"):
        return {slot: intent == "affirm"}
    if not_an_answer(tracker):  # a question (answered, then this one is asked again) or another request (offered)
        return {}
    dispatcher.utter_message(response="utter_answer_yes_no")
    return {slot: None}


async def extract_asset(
    tracker: Tracker, dispatcher: CollectingDispatcher, slot: str, label_slot: Optional[str] = None,
) -> Dict[Text, Any]:
    """The device question shared by every form: a serial, asset number or alias the backend resolves
    among the user's own devices. On the opening turn the words that asked for the request are read (also
    after a switch from another form); a user with exactly one device is then never asked."""
    if tracker.get_slot(slot) or not (opening_turn(tracker) or asked(tracker, slot)):
        return {}
    # An answer the NLU did not understand may still name the device ("la C5560i qu'on appelle Copieur 2e étage"):
    # it is taken when it names exactly one; otherwise the rules answer it.
    # So may a short statement read as a question about devices ("celle du premier étage", "the reception one").
    unclear = intent_of(tracker) in ("nlu_fallback", "out_of_scope") or (
        intent_of(tracker) in DEVICE_QUESTIONS and "?" not in text_of(tracker)
        and len(text_of(tracker).split()) <= SHORT_DEVICE_ANSWER_WORDS)
    if asked(tracker, slot) and not_an_answer(tracker) and not unclear:
        return {}
    client = backend(tracker)
    said = turn_message(tracker)
    reference = said.entity("asset_ref") or said.text
    try:
        resolution = await client.resolve_assets(reference) if reference and not is_payload(reference) \
            else {"matches": [], "unknown_references": []}
        matches, unknown = resolution["matches"], resolution["unknown_references"]
        if opening_turn(tracker) and not matches and not unknown:
            assets = await client.assets()
            if len(assets) == 1:  # exactly one device and no other named: never ask which
                return _select_asset(dispatcher, assets[0], slot, label_slot)
    except BackendError as error:
        report_backend_error(dispatcher, error)
        return {slot: None} if asked(tracker, slot) else {}
    if len(matches) == 1:
        return _select_asset(dispatcher, matches[0], slot, label_slot)
    if unclear and asked(tracker, slot):
        return {}  # not a device after all: the fallback answers, then the question is asked again
    if len(matches) > 1:
        dispatcher.utter_message(response="utter_asset_ambiguous", reference=reference)
        return {slot: None}
    if unknown or asked(tracker, slot):
        shown = unknown[0] if unknown else reference[:60]
        dispatcher.utter_message(response="utter_asset_not_found", reference=shown)
        return {slot: None}
    return {}


def _select_asset(dispatcher: CollectingDispatcher, asset: Dict[str, Any], slot: str,
                  label_slot: Optional[str]) -> Dict[Text, Any]:
    dispatcher.utter_message(response="utter_asset_selected", asset_label=asset_label(asset))
    selected: Dict[Text, Any] = {slot: asset["asset_number"]}
    if label_slot:
        selected[label_slot] = asset_label(asset)
    return selected


async def ask_asset(tracker: Tracker, dispatcher: CollectingDispatcher, response: str) -> Optional[List[EventType]]:
    """Asks which device, with one button per device. Returns events that end the form when the user has
    no device or the portal is unreachable, else None (the question was asked)."""
    from rasa_sdk.events import ActiveLoop  # local: only this path ends the form

    try:
        assets = await backend(tracker).assets()
    except BackendError as error:
        report_backend_error(dispatcher, error)
        return [ActiveLoop(None), SlotSet("requested_slot", None)]
    if not assets:
        dispatcher.utter_message(response="utter_no_assets")
        return [ActiveLoop(None), SlotSet("requested_slot", None)]
    dispatcher.utter_message(response=response, buttons=asset_buttons(assets))
    return None


# A form whose opening words belong to another request ("il nous faudrait un jaune et un magenta" opening a fault,
# "143,312 in the portal can't be right" opening a meter reading): form name -> test of the opening message giving
# (the other request's intent, the response that says so), or None. Registered next to each form.
OPENING_HAND_OVERS: Dict[str, Callable[["OpeningMessage"], Optional[Tuple[str, Optional[str]]]]] = {}
# Meter readings given per meter ("112 = 15 390 / 113 = 89 002 …", "122 → 4210"): at least two meters with a value
# are readings, whatever request the words seem to open (the rest is offered afterwards: actions/clauses.py).
READINGS = re.compile(r"\b1(?:12|13|22|23)\b\s*(?:[:=→>-]|-+>)?\s*\d")
READINGS_INTENT = "submit_meter_reading"


def gives_readings(text: str) -> bool:
    return len(READINGS.findall(plain(text))) >= 2


# Words of a defect (accents folded; "trainees" is "traînées" typed without accents): a fault, whatever else is said.
DEFECT_WORDS = re.compile(r"\b(trainees?|fui\w*|leak\w*|tache\w*|trace\w*|streak\w*|smear\w*|bavur\w*|bruit\w*|"
                          r"noise\w*|erreur|error|bloqu\w*|jam\w*|coinc\w*|cass\w*|broken|pale\w*|faded|washed|renvers\w*|spill\w*|"
                          r"technicien|technician|engineer|repar\w*|repair\w*)\b")

# "non pardon, c'est celle de l'accueil", "sorry, I meant the reception one": the user takes back the device the form
# holds, at whatever question (accents folded).
DEVICE_CORRECTION = re.compile(
    r"\b(non pardon|pardon|je me suis trompee?|je me trompe|c'est pas (?:celle|celui|la|le)|ce n'est pas (?:celle|"
    r"celui|la|le)|pas (?:celle|celui) (?:du|de|d')|wrong (?:one|device|printer|machine|copier)|sorry,? i meant|"
    r"i meant|not that one|not the one|my mistake|my bad)\b")
NOT_THAT_ONE = re.compile(r"(?:,|;|\s-)?\s+\b(?:not|and not|pas|et pas|et non|non pas|plutot que|rather than|instead of|"
                          r"au lieu de)\b")
# the right one is named after the last of these: "… c'est celle de l'accueil", "… I meant the one at reception"
RIGHT_DEVICE = re.compile(r"\b(c'est|c est|plutot|it'?s|i meant|je voulais dire|rather|mais)\b")
# forms whose device may be taken back at any question: (device slot, its label slot). The order form's catalogue
# and the meter form's meters depend on the device: they handle another device themselves.
CORRECTABLE_DEVICE: Dict[str, Tuple[str, str]] = {
    "fault_report_form": ("fault_asset", "fault_asset_label"),
    "request_form": ("request_asset", "request_asset_label"),
    "meter_query_form": ("meter_query_asset", "meter_query_asset_label"),
}


async def corrected_device(dispatcher: CollectingDispatcher, tracker: Tracker, form: str) -> Optional[List[EventType]]:
    """The device taken back in words ("non pardon, c'est pas celle du 2e, c'est celle de l'accueil"): the one named
    after the correction, when it is exactly one other device of the user's; the pending question is then asked
    again (the message answered nothing else). None when the message corrects no device."""
    slots = CORRECTABLE_DEVICE.get(form)
    if slots is None or opening_turn(tracker):
        return None
    current, text = tracker.get_slot(slots[0]), text_of(tracker)
    if not current or not text or is_payload(text):
        return None
    folded = plain(text)
    if not DEVICE_CORRECTION.search(folded):
        return None
    after = list(RIGHT_DEVICE.finditer(folded))
    named = (folded[after[-1].end():] if after else folded)
    # "… it's the second floor one, not the first floor": the device taken back named again is no part of it
    named = entity(tracker, "asset_ref") or NOT_THAT_ONE.split(named)[0].strip(" ,.!")
    if not named:
        return None
    try:
        matches = (await backend(tracker).resolve_assets(named)).get("matches") or []
    except BackendError:
        return None  # read as an answer as before
    if len(matches) != 1 or matches[0]["asset_number"] == current:
        return None
    label = asset_label(matches[0])
    dispatcher.utter_message(response="utter_asset_selected", asset_label=label)
    return [SlotSet(slots[0], matches[0]["asset_number"]), SlotSet(slots[1], label)]


class PortalFormValidation(FormValidationAction):
    """FormValidationAction that keeps the helper slots set by `extract_*` methods.

    rasa-sdk 3.6 validates only the form's own slots and drops every other slot an `extract_*` method set
    (an asset's label, a proposal, a list of choices, ...). Keep those, unless a validator already decided.
    """

    @abstractmethod
    def name(self) -> Text:  # abstract: the action server registers only concrete subclasses
        ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        """A form that would write something new first looks, on its opening turn, for a case still open that the
        words point at (actions/cases.py existing_case_offer): offered, the form ends before asking anything."""
        from actions.cases import CASE_AWARE_FORMS, existing_case_offer  # local: cases builds on this module

        from actions.clauses import SLOT, find_also_asked
        from actions.orders import CONSUMABLES_FORM, ORDER_INTENT, amends_order_just_sent

        if opening_turn(tracker) and self.form_name() != CONSUMABLES_FORM and amends_order_just_sent(tracker):
            # "ah et rajoute un bac de récup" right after an order was sent (read as a comment, a change request...):
            # the order form takes over and says that a second order takes the change
            said = latest_user_message(tracker)
            return hand_over(ORDER_INTENT, said.text, said.entities)
        rule = OPENING_HAND_OVERS.get(self.form_name())
        if rule is not None and opening_turn(tracker):
            opening = opening_message(tracker)
            other = rule(opening) if opening.text and not is_payload(opening.text) else None
            if other is not None:  # the words are another request's: its form takes over with them
                return hand_over(other[0], opening.text, opening.entities, other[1])
        corrected = await corrected_device(dispatcher, tracker, self.form_name())
        if corrected is not None:  # the device taken back: the same question again, on the right device
            return corrected
        if self.form_name() in CASE_AWARE_FORMS and opening_turn(tracker):
            offer = await existing_case_offer(dispatcher, tracker)
            if offer is not None:
                return offer
        # a second request in the opening message, offered once this form is done (actions/clauses.py)
        also = await find_also_asked(tracker, self.form_name()) if opening_turn(tracker) else None
        events = await super().run(dispatcher, tracker, domain)
        return [SlotSet(SLOT, also), *events] if also else events

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        extracted = tracker.slots_to_validate()
        events = await super().get_validation_events(dispatcher, tracker, domain)
        decided = {event["name"] for event in events} | set(self.domain_slots(domain))
        events += [SlotSet(name, value) for name, value in extracted.items() if name not in decided]
        if tracker.get_slot("switch_pending"):  # the user answered the form instead of the switch offer
            events += [SlotSet("switch_pending", False), SlotSet("switch_to", None)]
        if tracker.get_slot(SWITCH_REQUEST) is not None and SWITCH_REQUEST not in extracted:
            # this opening turn has read it, or the user went on with this form: never for a later request (unless
            # this very run recorded a message for the form that takes over, see actions/requests.py).
            # rasa-sdk applies these events after every extract_* and validate_* of this run has read it.
            events.append(SlotSet(SWITCH_REQUEST, None))
        return events
