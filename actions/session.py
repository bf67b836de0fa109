"""Who is talking and in which language, plus the conversation start.

Identity comes only from `portal_user` in the latest message's metadata, which the input channel
(bot/channels.py) sets from the verified token; the token itself is forwarded to the backend, which
enforces every permission.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendError, BackendRejected, NotAuthenticated

log = logging.getLogger(__name__)
LANGUAGES = ("fr", "en")
# Rasa input channel name -> the portal's case channel code
CHANNELS = {"socketio": "web", "rest": "rest", "botframework": "teams", "twilio_voice": "voice"}


def _metadata(tracker: Tracker) -> Dict[str, Any]:
    return (tracker.latest_message or {}).get("metadata") or {}


def portal_user(tracker: Tracker) -> Optional[Dict[str, Any]]:
    user = _metadata(tracker).get("portal_user")
    return user if isinstance(user, dict) else None


def language(tracker: Tracker) -> str:
    lang = tracker.get_slot("language")
    if lang in LANGUAGES:
        return lang
    user = portal_user(tracker) or {}
    return user.get("language") if user.get("language") in LANGUAGES else "fr"


def backend(tracker: Tracker) -> BackendClient:
    """A client acting with the user's own token; without one every call fails as unauthenticated."""
    return BackendClient(token=_metadata(tracker).get("token") or "", lang=language(tracker))


def channel_code(tracker: Tracker) -> str:
    return CHANNELS.get(tracker.get_latest_input_channel() or "", "api")


def report_backend_error(dispatcher: CollectingDispatcher, error: BackendError) -> None:
    """The one translation of backend failures into what the user is told (the error is already logged)."""
    if isinstance(error, NotAuthenticated):
        dispatcher.utter_message(response="utter_login_required")
    elif isinstance(error, BackendRejected):
        dispatcher.utter_message(response="utter_portal_refused", reason=error.message)
    else:
        dispatcher.utter_message(response="utter_backend_unavailable")


MAX_TRANSCRIPT_CHARS = 20000  # the backend's limit
MAX_DESCRIPTION_CHARS = 4000  # the backend's limit for the description of a case (backend/schemas.py)


def transcript(tracker: Tracker) -> str:
    """The whole conversation, as attached to the cases the assistant creates; beyond the backend's limit, its end
    (from the start of a line)."""
    lines: List[str] = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append(f"user: {event['text']}")
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"bot: {event['text']}")
    text = "\n".join(lines)
    if len(text) <= MAX_TRANSCRIPT_CHARS:
        return text
    end = text[-MAX_TRANSCRIPT_CHARS:]
    return end[end.index("\n") + 1:] if "\n" in end else end


class ActionSessionStart(Action):
    """Starts each conversation in the user's profile language, greeting them by name."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        metadata = tracker.get_slot("session_started_metadata") or {}
        user = metadata.get("portal_user") if isinstance(metadata, dict) else None
        events: List[EventType] = [SessionStarted()]
        # carry_over_slots_to_new_session: a pending, failed submission must survive a session expiry
        if domain.get("session_config", {}).get("carry_over_slots_to_new_session", True):
            events += [
                SlotSet(name, value) for name, value in tracker.slots.items()
                if value is not None and name not in ("session_started_metadata", "requested_slot")
            ]
        if isinstance(user, dict):
            if user.get("language") in LANGUAGES:
                events.append(SlotSet("language", user["language"]))
            events.append(SlotSet("user_name", user.get("full_name", "")))
        events.append(ActionExecuted("action_listen"))
        return events
