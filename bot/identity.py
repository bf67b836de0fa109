"""The identity layer every channel adapter stands on.

An adapter authenticates (a portal token, later a Teams or phone identity) and translates; this module turns what
it authenticated into a verified identity and hands the message to the assistant:

- `IdentityVerifier` asks the backend, the only judge of a portal token, who it belongs to (`GET /users/me`), on
  every message by default (`IDENTITY_CACHE_SECONDS`), so a deactivated user or a password change stops the
  conversation at the next message.
- `IdentityLayer.deliver` builds the message's metadata from scratch, holding only the verified identity under the
  reserved key `IDENTITY_KEY`: nothing a client sends reaches the assistant as metadata, and no token is ever
  written to the tracker, events, logs or Redis. The conversation id is bound to the verified user.
- Hard limits at the edge: a message longer than `MAX_MESSAGE_CHARS` is refused before NLU.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import httpx
from rasa.core.channels.channel import OutputChannel, UserMessage

from actions.backend_client import KEEP_ALIVE
from actions.session import IDENTITY_KEY
from bot.action_failures import ActionServerUnavailable, TurnFailed, failing_turn

log = logging.getLogger(__name__)
Handler = Callable[[UserMessage], Awaitable[Any]]

# About a long paragraph; NLU time grows with the square of a message's length (1,000 words: 0.5 s).
MAX_MESSAGE_CHARS = int(os.environ.get("MAX_MESSAGE_CHARS", "1000"))
MAX_SENDER_CHARS = 200  # a client's conversation key

MESSAGES = {
    "login_required": {
        "fr": "Veuillez vous connecter au portail pour discuter avec l'assistant.",
        "en": "Please log in to the portal to chat with the assistant.",
    },
    "portal_unavailable": {
        "fr": "Le portail ne répond pas pour le moment. Veuillez réessayer dans quelques minutes.",
        "en": "The portal is not responding right now. Please try again in a few minutes.",
    },
    "turn_failed": {
        "fr": "Un incident technique m'a empêché de traiter votre message. Veuillez le renvoyer dans un instant : "
              "nous reprendrons là où nous en étions.",
        "en": "A technical problem stopped me from handling your message. Please send it again in a moment: we will "
              "carry on where we left off.",
    },
    "message_too_long": {
        "fr": f"Votre message est trop long (plus de {MAX_MESSAGE_CHARS} caractères). Pouvez-vous le raccourcir ?",
        "en": f"Your message is too long (over {MAX_MESSAGE_CHARS} characters). Could you shorten it?",
    },
    "empty_message": {
        "fr": "Votre message est vide. Que puis-je faire pour vous ?",
        "en": "Your message is empty. What can I do for you?",
    },
    "invalid_body": {
        "fr": "Le corps de la requête doit être un objet JSON {\"sender\", \"message\", \"metadata\"} : « sender » "
              f"une chaîne de {MAX_SENDER_CHARS} caractères au plus, « metadata » un objet.",
        "en": "The request body must be a JSON object {\"sender\", \"message\", \"metadata\"}: 'sender' a string of "
              f"at most {MAX_SENDER_CHARS} characters, 'metadata' an object.",
    },
}


def allowed_origins(value: Optional[str] = None) -> List[str]:
    """The portal origins allowed to reach the chat from a browser (CORS, the widget's socket):
    CHAT_ALLOWED_ORIGINS, space or comma separated."""
    if value is None:
        value = os.environ.get("CHAT_ALLOWED_ORIGINS", "http://localhost:8000 http://127.0.0.1:8000")
    return [origin.rstrip("/") for origin in re.split(r"[\s,]+", value) if origin]


def edge_message(key: str, lang: Optional[str]) -> str:
    """An answer of the edge itself (before the assistant), in the given language, or in both when unknown."""
    if lang in ("fr", "en"):
        return MESSAGES[key][lang]
    return f"{MESSAGES[key]['fr']}\n{MESSAGES[key]['en']}"


def user_identity(body: Dict[str, Any]) -> Dict[str, Any]:
    """The identity fields of the backend's user (UserOut: GET /users/me, POST /teams/identity)."""
    return {
        "id": body["id"],
        "email": body["email"],
        "full_name": body["full_name"],
        "role": body["role"],
        "language": body["language"],
        "account": body["account"]["name"],
        "account_id": body["account"]["id"],
        "token_version": body.get("token_version", 0),
    }


class PortalUnavailable(Exception):
    """The backend could not be asked whether the token is valid."""


class IdentityVerifier:
    """Who a portal token belongs to, according to the backend."""

    def __init__(self, backend_url: Optional[str] = None, ttl: Optional[float] = None, timeout: float = 5.0,
                 transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.backend_url = (backend_url or os.environ.get("BACKEND_URL", "http://localhost:8000")).rstrip("/")
        self.ttl = float(os.environ.get("IDENTITY_CACHE_SECONDS", "0")) if ttl is None else ttl
        self.timeout = timeout
        self.transport = transport or httpx.AsyncHTTPTransport(retries=2, limits=KEEP_ALIVE)
        # kept open for the process: connections to the backend stay alive between messages
        self.client = httpx.AsyncClient(timeout=timeout, transport=self.transport)
        self._cache: Dict[str, Tuple[float, Optional[Dict[str, Any]]]] = {}

    async def verify(self, token: Any, fresh: bool = False) -> Optional[Dict[str, Any]]:
        """The user's profile for a valid token, None for a missing or invalid one (`fresh`: not from cache)."""
        if not token or not isinstance(token, str) or len(token) > 4096:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()  # never keep raw tokens as dict keys in memory dumps
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic() and not fresh:
            return cached[1]
        try:
            response = await self.client.get(f"{self.backend_url}/users/me", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            log.error("identity check failed, backend unreachable: %s", type(exc).__name__)
            raise PortalUnavailable() from exc
        if response.status_code == 401:
            user = None
        elif response.status_code == 200:
            user = user_identity(response.json())
        else:
            log.error("identity check: unexpected backend status %s", response.status_code)
            raise PortalUnavailable()
        if self.ttl > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + self.ttl, user)
        return user


class IdentityLayer:
    """What every adapter calls: authenticate the credential, then deliver the message with the verified identity.

    `channel` is the case channel code the adapter declares in credentials.yml (the one list of channels).
    """

    def __init__(self, channel: str, verifier: Optional[IdentityVerifier] = None) -> None:
        self.channel = channel
        self.verifier = verifier or IdentityVerifier()

    async def identify(self, token: Any, channel_user: str = "") -> Optional[Dict[str, Any]]:
        """The verified identity for a portal token, None if it is not valid (PortalUnavailable if unknown)."""
        user = await self.verifier.verify(token)
        if user is None:
            return None
        return {**user, "channel": self.channel, "channel_user": channel_user or f"portal:{user['id']}"}

    @staticmethod
    def conversation_id(user_id: int, conversation: str) -> str:
        """A conversation id bound to the verified user: another user reusing the same key gets their own (the web
        adapter's socket.io room has the same name)."""
        return f"u{user_id}:{conversation}"

    @staticmethod
    def refusal(text: Any) -> Optional[str]:
        """The edge message key for a text the assistant must not see, None when it may."""
        if not isinstance(text, str):
            return "empty_message"
        if len(text) > MAX_MESSAGE_CHARS:
            return "message_too_long"
        if not text.strip():
            return "empty_message"
        return None

    def anonymous(self, language: str, channel_user: str) -> Dict[str, Any]:
        """The identity of someone the channel could not tie to a portal user (an unlinked Teams user, an unverified
        caller): no user id, so the action server mints only knowledge-search tokens for it (actions/session.py)."""
        return {"anonymous": True, "id": None, "language": language, "channel": self.channel,
                "channel_user": channel_user}

    async def deliver_anonymous(self, on_new_message: Handler, language: str, text: str, conversation: str,
                                output_channel: OutputChannel, input_channel: str, channel_user: str,
                                message_id: Optional[str] = None) -> None:
        """A message with the anonymous identity, in a conversation of its own (never a verified user's)."""
        await _take_turn(on_new_message, UserMessage(
            text=text,
            output_channel=output_channel,
            sender_id=f"unverified:{conversation}",
            input_channel=input_channel,
            message_id=message_id,
            metadata={IDENTITY_KEY: self.anonymous(language, channel_user)},
        ))

    async def deliver(self, on_new_message: Handler, identity: Dict[str, Any], text: str, conversation: str,
                      output_channel: OutputChannel, input_channel: str, message_id: Optional[str] = None) -> None:
        """The message with the verified identity. Raises `TurnFailed` when the turn was stopped with nothing of it
        kept (no action server reachable, bot/action_failures.py): the adapter asks the user to send it again."""
        await _take_turn(on_new_message, UserMessage(
            text=text,
            output_channel=output_channel,
            sender_id=self.conversation_id(identity["id"], conversation),
            input_channel=input_channel,
            message_id=message_id,
            metadata={IDENTITY_KEY: identity},
        ))


async def _take_turn(on_new_message: Handler, message: UserMessage) -> None:
    """Hands one message to Rasa; a turn stopped because no action server could be reached (nothing of it stored,
    bot/action_failures.py) comes back as `TurnFailed`, an ordinary exception the adapters answer."""
    with failing_turn():
        try:
            await on_new_message(message)
        except ActionServerUnavailable as stopped:
            raise TurnFailed(str(stopped)) from stopped
