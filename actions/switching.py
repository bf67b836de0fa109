"""Digressions across conversations: inside any form, a question (a case's status, my devices, a "how do I")
is answered and the form asks its pending question again; a new request (order toner while sending meter
readings) is offered as a switch — "yes" forgets the current form and starts the new one, "no" goes on.

The offer records the message that asked for the new request (slot `switch_request`): after the "yes", the new
form's opening turn reads it through actions/forms.py `opening_message`, then forgets it.

Which intent starts which form is read from the hand-written rules (data/rules/*.yml), so the generated
rules (data/rules/switching.yml, `python scripts/generate_switch_rules.py`) and these actions never drift
from them.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import SUMMARY_QUESTIONS, SWITCH_REQUEST, switch_request_record
from actions.session import language

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "data" / "rules"
GENERATED = "switching.yml"
# Questions answered inside any form (the form then asks its question again). Each must be answered by one
# custom action in its own rules, with no form of its own in that path.
INLINE_QUESTIONS = ("case_status", "list_cases", "view_orders", "list_assets", "device_info", "search_knowledge",
                    "ask_glossary", "bot_challenge", "change_password", "set_voice_pin")


@dataclass(frozen=True)
class Starter:
    form: str
    guarded: bool  # the rule runs action_check_role first (admin-only conversations)


def _hand_written_rules(rules_dir: Path = RULES_DIR) -> List[Dict[str, Any]]:
    rules: List[Dict[str, Any]] = []
    for path in sorted(rules_dir.glob("*.yml")):
        if path.name != GENERATED:
            rules += (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or []
    return rules


def _opening(rule: Dict[str, Any]) -> Optional[tuple]:
    """(intent, [actions]) of a rule that starts from a bare user intent, else None."""
    steps = rule.get("steps") or []
    if rule.get("condition") or rule.get("conversation_start") or not steps or "intent" not in steps[0]:
        return None
    return steps[0]["intent"], [step["action"] for step in steps[1:] if "action" in step]


@functools.lru_cache(maxsize=1)
def form_starters(rules_dir: Path = RULES_DIR) -> Dict[str, Starter]:
    """intent -> the form its rule starts (e.g. order_consumables -> order_form)."""
    starters: Dict[str, Starter] = {}
    for rule in _hand_written_rules(rules_dir):
        opening = _opening(rule)
        if opening is None:
            continue
        intent, actions = opening
        forms = [a for a in actions if a.endswith("_form")]
        if forms and intent not in starters and intent not in INLINE_QUESTIONS:
            starters[intent] = Starter(forms[0], guarded=bool(actions) and actions[0] == "action_check_role")
    return starters


@functools.lru_cache(maxsize=1)
def inline_answers(rules_dir: Path = RULES_DIR) -> Dict[str, str]:
    """question intent -> the one action that answers it (from its own rule)."""
    return {intent: steps[0]["action"] for intent, steps in inline_answer_steps(rules_dir).items()}


@functools.lru_cache(maxsize=1)
def inline_answer_steps(rules_dir: Path = RULES_DIR) -> Dict[str, List[Dict[str, Any]]]:
    """question intent -> the steps after the intent in its one-action rule (the action and the slots it sets,
    which every rule using that action must repeat)."""
    answers: Dict[str, List[Dict[str, Any]]] = {}
    for rule in _hand_written_rules(rules_dir):
        opening = _opening(rule)
        if opening and opening[0] in INLINE_QUESTIONS and len(opening[1]) == 1 and opening[0] not in answers:
            if not opening[1][0].endswith("_form"):
                answers[opening[0]] = list(rule["steps"][1:])
    return answers


def _label(intent: str, lang: str) -> str:
    from actions.general import INTENT_LABELS  # the one table of intent labels (also used by the fallback)

    return (INTENT_LABELS.get(intent) or {}).get(lang, intent)


def _form_intent(form: Optional[str]) -> Optional[str]:
    return next((intent for intent, s in form_starters().items() if s.form == form), None)


class ActionOfferSwitch(Action):
    """A new request inside a form: ask before dropping the current one, and record the message that asked for
    it (its words, intent and entities), which the new form reads if the user accepts."""

    def name(self) -> Text:
        return "action_offer_switch"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        wanted = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        current = (tracker.active_loop or {}).get("name")
        answers_itself = SUMMARY_QUESTIONS.get(current or "")
        if answers_itself and answers_itself(tracker):  # a question about the summary: the form answers it
            return [FollowupAction(current)]
        lang = language(tracker)
        current_intent = _form_intent(current)
        dispatcher.utter_message(
            response="utter_offer_switch",
            current=_label(current_intent, lang) if current_intent else current or "",
            wanted=_label(wanted, lang),
        )
        return [SlotSet("switch_to", wanted), SlotSet("switch_pending", True),
                SlotSet(SWITCH_REQUEST, switch_request_record(tracker))]


class ActionSwitchForm(Action):
    """"Yes": forget the current form's answers and start the requested conversation."""

    def name(self) -> Text:
        return "action_switch_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        from actions.roles import intent_allowed
        from actions.submission import last_form, reset_events

        wanted = tracker.get_slot("switch_to")
        events: List[EventType] = [*reset_events(domain, last_form(tracker)),
                                   SlotSet("switch_to", None), SlotSet("switch_pending", False)]
        starter = form_starters().get(wanted or "")
        if starter is None:
            dispatcher.utter_message(response="utter_cancelled")
            return [*events, SlotSet(SWITCH_REQUEST, None)]
        if starter.guarded and not await intent_allowed(dispatcher, tracker, wanted):
            return [*events, SlotSet(SWITCH_REQUEST, None)]
        # the recorded request stays: the new form's opening turn reads it (actions/forms.py opening_message)
        return [*events, FollowupAction(starter.form)]


class ActionStayInForm(Action):
    """"No": keep going with the current form (the rule runs it again, which asks its question)."""

    def name(self) -> Text:
        return "action_stay_in_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_continue_form")
        events: List[EventType] = [SlotSet("switch_to", None), SlotSet("switch_pending", False),
                                   SlotSet(SWITCH_REQUEST, None)]
        # A from_text mapping may have taken the new request as the answer to the pending question: forget it.
        requested = tracker.get_slot("requested_slot")
        if requested:
            events.append(SlotSet(requested, None))
        return events
