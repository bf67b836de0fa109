"""Submitting a confirmed form, retrying it when the portal was unreachable, and cancelling a form.

Every submit action derives from `SubmitAction`: it implements `submit()` with the form's idempotency key.
If the portal cannot be reached, every answer and the key are kept, `pending_submit` is set and the user is
asked whether to retry; "yes" runs `action_retry_submit`, which calls the same submit again with the same
key, so a retry can never create a second case, order or reading. Cancelling (`action_cancel_form`) or
declining the retry forgets the form's answers.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Dict, List, Optional, Text, Tuple, Type

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, BackendUnavailable
from actions.clauses import offer_also_asked
from actions.session import report_backend_error

log = logging.getLogger(__name__)
KEY_SLOT = "submission_key"
_BY_ACTION: Dict[str, Type["SubmitAction"]] = {}
_BY_FORM: Dict[str, Type["SubmitAction"]] = {}


def submission_key(tracker: Tracker, action_name: Optional[str] = None) -> str:
    """The idempotency key of the form being submitted (set once, kept through retries). A key kept for
    another submit action's pending retry is never reused: it would replay that other write."""
    pending = tracker.get_slot("pending_action")
    if pending and action_name and pending != action_name:
        return form_key(tracker, action_name)
    return tracker.get_slot(KEY_SLOT) or form_key(tracker, action_name)


def form_key(tracker: Tracker, action_name: Optional[str]) -> str:
    """A key for a form that has none yet, derived from the conversation and the moment the form was opened: the
    same submission replayed gets the same key. That happens when the turn that submitted it could not be stored
    (the conversation store failed after the portal had written it, bot/conversation_store.py): the user sends
    "yes" again on the stored conversation, and the portal answers with what it created the first time."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") and event.get("timestamp"):
            seed = f"{tracker.sender_id}\0{action_name}\0{event['name']}\0{event['timestamp']!r}"
            return hashlib.sha256(seed.encode()).hexdigest()[:32]
    return uuid.uuid4().hex


def form_slots(domain: DomainDict, form: str, extra: Tuple[str, ...] = ()) -> List[str]:
    required = (domain.get("forms", {}).get(form) or {}).get("required_slots") or []
    if isinstance(required, dict):  # older domain format
        required = list(required)
    return [*required, *extra]


def reset_events(domain: DomainDict, form: Optional[str]) -> List[EventType]:
    """Forget a form's answers, its helper slots, its key and any pending retry."""
    submitter = _BY_FORM.get(form or "")
    slots = form_slots(domain, form, submitter.extra_slots if submitter else ()) if form else []
    return [*(SlotSet(name, None) for name in slots), SlotSet(KEY_SLOT, None),
            SlotSet("pending_submit", False), SlotSet("pending_action", None)]


class SubmitAction(Action, ABC):
    """Base of the submit actions; subclasses set `action_name`, `form`, `extra_slots` and `submit()`."""

    action_name: ClassVar[str] = ""
    form: ClassVar[str] = ""
    extra_slots: ClassVar[Tuple[str, ...]] = ()  # helper slots of the form, forgotten with its answers

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.action_name:
            _BY_ACTION[cls.action_name] = cls
        if cls.form:
            _BY_FORM[cls.form] = cls

    def name(self) -> Text:
        return self.action_name

    @abstractmethod
    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        """Write to the portal with `key` as Idempotency-Key and tell the user the outcome."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        from actions.forms import handed_over  # local: forms builds on this module's neighbours

        record = handed_over(tracker)
        if record is not None:  # the form ended to hand the words over to another request's form: nothing is written
            announce = dict(record.get("announce") or {})
            if announce.get("response"):
                dispatcher.utter_message(**announce)
            return [*reset_events(domain, self.form), FollowupAction("action_switch_form")]
        offered = tracker.get_slot("case_offered")  # actions/cases.py existing_case_offer
        if isinstance(offered, dict) and offered.get("pending"):  # the form ended to offer an open case instead
            return [*reset_events(domain, self.form), SlotSet("case_offered", {**offered, "pending": False})]
        key = submission_key(tracker, self.name())
        try:
            events = await self.submit(dispatcher, tracker, domain, key)
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_submit_failed")
            return [SlotSet(KEY_SLOT, key), SlotSet("pending_submit", True), SlotSet("pending_action", self.name())]
        except BackendError as error:  # refused or not authenticated: retrying would not help
            report_backend_error(dispatcher, error)
            events = []
        return [*reset_events(domain, self.form), *events, *offer_also_asked(dispatcher, tracker, self.form)]


class ActionRetrySubmit(Action):
    """"Yes" after a failed submission: the same submit action, the same answers, the same key."""

    def name(self) -> Text:
        return "action_retry_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        submitter = _BY_ACTION.get(tracker.get_slot("pending_action") or "")
        if submitter is None:
            dispatcher.utter_message(response="utter_nothing_to_cancel")
            return [SlotSet("pending_submit", False), SlotSet("pending_action", None)]
        return await submitter().run(dispatcher, tracker, domain)


class ActionDropPending(Action):
    """"No" / "cancel" after a failed submission: forget it."""

    def name(self) -> Text:
        return "action_drop_pending"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        submitter = _BY_ACTION.get(tracker.get_slot("pending_action") or "")
        dispatcher.utter_message(response="utter_cancelled")
        return reset_events(domain, submitter.form if submitter else None)


def last_form(tracker: Tracker) -> Optional[str]:
    """The form that was active last (the cancel rule deactivates it before the reset runs)."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name"):
            return event["name"]
    return None


class ActionCancelForm(Action):
    """Cancel at any step of any form: nothing is written and every answer is forgotten."""

    def name(self) -> Text:
        return "action_cancel_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_cancelled")
        form = last_form(tracker)
        return [*reset_events(domain, form), *offer_also_asked(dispatcher, tracker, form)]
