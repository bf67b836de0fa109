"""Who is talking and in which language, plus the conversation start.

Identity comes only from the reserved `IDENTITY_KEY` of the latest message's metadata, which the channel layer
(bot/identity.py) sets from credentials it verified and which no client value can set. No bearer token is ever in
the conversation: to call the backend on the user's behalf the action server mints, per call, a token that lives a
minute, is addressed to the backend's assistant audience and signed with the key only the backend and the action
server share (`ASSISTANT_KEY`, or the file `ASSISTANT_KEY_FILE`). The backend still enforces every permission.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import jwt

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendError, BackendRejected, NotAuthenticated
from actions.text import escape_markdown

log = logging.getLogger(__name__)
LANGUAGES = ("fr", "en")
# The metadata key holding the verified identity. The channel layer builds a message's metadata itself and only
# ever puts this key in it: nothing a client sends reaches the assistant as metadata.
IDENTITY_KEY = "verified_identity"
ASSISTANT_AUDIENCE = "portal-assistant"  # backend/core/security.py
ASSISTANT_TOKEN_SECONDS = 60
DEFAULT_KEY_FILE = Path(__file__).resolve().parents[1] / "var" / "assistant.key"
_key_cache: Dict[str, str] = {}


def _metadata(tracker: Tracker) -> Dict[str, Any]:
    return (tracker.latest_message or {}).get("metadata") or {}


def portal_user(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The verified identity of who is talking: id, email, full_name, role, language, account, account_id,
    token_version, channel (the case channel code) and channel_user (the channel's own user key)."""
    user = _metadata(tracker).get(IDENTITY_KEY)
    return user if isinstance(user, dict) and isinstance(user.get("id"), int) else None


def env_secret(name: str, default_file: Optional[Path] = None) -> str:
    """A secret from the environment (`name`), else from the file `<name>_FILE` names (else `default_file`); "" when
    there is none. Never from a command line."""
    value = os.environ.get(name, "")
    if value:
        return value
    path = os.environ.get(f"{name}_FILE") or default_file
    return Path(path).read_text(encoding="utf-8").strip() if path and Path(path).is_file() else ""


def assistant_key() -> str:
    """The key shared with the backend; read once (the backend generates the file when it is first needed)."""
    if "key" not in _key_cache:
        key = env_secret("ASSISTANT_KEY", DEFAULT_KEY_FILE)
        if not key:
            return ""  # no key yet: calls fail as unauthenticated and the user is asked to log in again
        _key_cache["key"] = key
    return _key_cache["key"]


def assistant_token(identity: Optional[Dict[str, Any]]) -> str:
    """A token for one backend call on behalf of the verified user; never stored anywhere."""
    key = assistant_key()
    if not identity or not key:
        return ""
    now = int(time.time())
    claims = {"sub": str(identity["id"]), "ver": int(identity.get("token_version") or 0), "aud": ASSISTANT_AUDIENCE,
              "iat": now, "exp": now + ASSISTANT_TOKEN_SECONDS}
    return jwt.encode(claims, key, algorithm="HS256")


# The subject of the tokens minted for an unverified phone caller (the voice channel delivers their messages with an
# identity without user id, `{"anonymous": True, ...}`): the backend lets such a token search the knowledge base and
# nothing else (backend/core/security.py), so every other action answers as for an expired session.
ANONYMOUS_SUBJECT = "anonymous"


def anonymous_caller(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The channel's identity of a caller it could not verify (phone), None otherwise."""
    user = _metadata(tracker).get(IDENTITY_KEY)
    if isinstance(user, dict) and user.get("anonymous") is True and user.get("id") is None:
        return user
    return None


def anonymous_token() -> str:
    """A token that only reads the knowledge base, for an unverified caller's question; never stored anywhere."""
    key = assistant_key()
    if not key:
        return ""
    now = int(time.time())
    claims = {"sub": ANONYMOUS_SUBJECT, "aud": ASSISTANT_AUDIENCE, "iat": now, "exp": now + ASSISTANT_TOKEN_SECONDS}
    return jwt.encode(claims, key, algorithm="HS256")


def language(tracker: Tracker) -> str:
    lang = tracker.get_slot("language")
    if lang in LANGUAGES:
        return lang
    user = portal_user(tracker) or {}
    return user.get("language") if user.get("language") in LANGUAGES else "fr"


def backend(tracker: Tracker) -> BackendClient:
    """A client acting for the verified user; without an identity every call fails as unauthenticated, except the
    knowledge search of an unverified phone caller."""
    user = portal_user(tracker)
    if user is None and anonymous_caller(tracker):
        return BackendClient(token=anonymous_token(), lang=language(tracker))
    return BackendClient(token=assistant_token(user), lang=language(tracker))


def channel_code(tracker: Tracker) -> str:
    """The case channel code the user's adapter declared (credentials.yml)."""
    return str((portal_user(tracker) or anonymous_caller(tracker) or {}).get("channel") or "api")


def report_backend_error(dispatcher: CollectingDispatcher, error: BackendError) -> None:
    """The one translation of backend failures into what the user is told (the error is already logged)."""
    if isinstance(error, NotAuthenticated):
        dispatcher.utter_message(response="utter_login_required")
    elif isinstance(error, BackendRejected):
        # the backend's message may quote what the user typed ("« … » is not a valid case number")
        dispatcher.utter_message(response="utter_portal_refused", reason=escape_markdown(error.message))
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
        user = metadata.get(IDENTITY_KEY) if isinstance(metadata, dict) else None
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
