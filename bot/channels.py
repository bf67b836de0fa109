"""REST and socket.io channels that let only authenticated portal users reach the assistant.

Every message must carry the portal access token in its metadata (`{"token": ...}`). The channel verifies
it with the backend, then replaces any client-supplied `portal_user` with the verified profile, so actions
never trust identity typed or sent by the client. A message without a valid token gets a login prompt and
never reaches the assistant (so no account data either).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot.language import detect_language
from bot import rasa_speedups
from bot.identity import IdentityVerifier, PortalUnavailable

rasa_speedups.install()  # Rasa imports this module at start-up, before it handles any message

log = logging.getLogger(__name__)
Handler = Callable[[UserMessage], Awaitable[Any]]

MESSAGES = {
    "login_required": {
        "fr": "Veuillez vous connecter au portail pour discuter avec l'assistant.",
        "en": "Please log in to the portal to chat with the assistant.",
    },
    "portal_unavailable": {
        "fr": "Le portail ne répond pas pour le moment. Veuillez réessayer dans quelques minutes.",
        "en": "The portal is not responding right now. Please try again in a few minutes.",
    },
}


# Sent once per conversation when the user writes in the other language than their profile's: the assistant
# already answers in that language (bot/language.py, the `language` slot); this offers to save it.
LANGUAGE_OFFER = {
    "en": ("I'll continue in English. Would you like English to be your portal language from now on?",
           "Save English as my language"),
    "fr": ("Je continue en français. Voulez-vous que le français devienne la langue de votre portail ?",
           "Enregistrer le français comme langue"),
}


OFFER_MEMORY_SECONDS = 30 * 24 * 3600


def shared_offer_store() -> Any:
    """The Redis that Rasa's worker processes share (scripts/run_rasa.sh sets the URL when it starts several),
    else None: one process remembers the offers itself."""
    url = os.environ.get("LANGUAGE_OFFER_REDIS_URL")
    if not url:
        return None
    import redis.asyncio  # Rasa's own dependency

    return redis.asyncio.Redis.from_url(url)


class LanguageOffer:
    """Remembers, per conversation, that the offer was made. With several Rasa workers a conversation's messages
    reach any of them, so the mark is set in their shared Redis (an atomic set-if-absent: exactly one worker makes
    the offer); each worker also keeps the marks it has seen, to skip the backend check after that."""

    def __init__(self, verifier: IdentityVerifier, shared: Any = None, capacity: int = 10_000) -> None:
        self.verifier = verifier
        self.shared = shared
        self.capacity = capacity
        self._offered: Dict[str, None] = {}

    def _remember(self, sender_id: str) -> None:
        if len(self._offered) >= self.capacity:
            self._offered.pop(next(iter(self._offered)))
        self._offered[sender_id] = None

    async def _claim(self, sender_id: str) -> bool:
        """True for the first offer in this conversation, across workers."""
        self._remember(sender_id)
        if self.shared is None:
            return True
        try:
            return bool(await self.shared.set(f"language_offer:{sender_id}", 1, nx=True, ex=OFFER_MEMORY_SECONDS))
        except Exception:  # Redis down: an offer made twice is better than a failed turn
            log.exception("language offer: shared store unavailable, remembering in this process only")
            return True

    async def after_reply(self, message: UserMessage, user: Dict[str, Any], token: str) -> None:
        written = detect_language(message.text or "")
        if written is None or written == user.get("language") or message.sender_id in self._offered:
            return
        try:  # the message may have just saved that language ("passe en anglais")
            current = await self.verifier.verify(token, fresh=True)
        except PortalUnavailable:
            return
        if current is None or current.get("language") == written:
            return
        if not await self._claim(message.sender_id):
            return
        text, title = LANGUAGE_OFFER[written]
        await message.output_channel.send_text_with_buttons(
            message.sender_id, text, [{"title": title, "payload": f'/change_language{{"language_choice":"{written}"}}'}])


def _message(key: str, metadata: Dict[str, Any]) -> str:
    lang = metadata.get("lang")
    if lang in ("fr", "en"):
        return MESSAGES[key][lang]
    return f"{MESSAGES[key]['fr']}\n{MESSAGES[key]['en']}"


def authenticated(
    on_new_message: Handler,
    verifier: IdentityVerifier,
    rebind: Callable[[UserMessage, Dict[str, Any]], UserMessage],
    offer_store: Any = None,
) -> Handler:
    """Wraps Rasa's message handler: verify the token, attach the verified user, or answer with a prompt;
    after the answer, offer once to save the language the user writes in if it is not their profile's."""
    offer = LanguageOffer(verifier, offer_store if offer_store is not None else shared_offer_store())

    async def handler(message: UserMessage) -> None:
        metadata = dict(message.metadata or {})
        try:
            user = await verifier.verify(metadata.get("token"))
        except PortalUnavailable:
            await message.output_channel.send_text_message(message.sender_id, _message("portal_unavailable", metadata))
            return
        if user is None:
            await message.output_channel.send_text_message(message.sender_id, _message("login_required", metadata))
            return
        metadata["portal_user"] = user
        rebound = rebind(message, metadata)
        await on_new_message(rebound)
        await offer.after_reply(rebound, user, metadata["token"])

    return handler


def _copy(message: UserMessage, metadata: Dict[str, Any], sender_id: Text, output_channel: Any) -> UserMessage:
    return UserMessage(
        text=message.text,
        output_channel=output_channel,
        sender_id=sender_id,
        parse_data=message.parse_data,
        input_channel=message.input_channel,
        message_id=message.message_id,
        metadata=metadata,
    )


class PortalRestInput(RestInput):
    """`POST /webhooks/rest/webhook {"sender", "message", "metadata": {"token"}}`.

    The conversation id is bound to the verified user, so one user can never continue another user's
    conversation by reusing their `sender` value.
    """

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, verifier: Optional[IdentityVerifier] = None) -> None:
        self.verifier = verifier or IdentityVerifier()

    def _extract_input_channel(self, req: Any) -> Text:
        return self.name()  # never the client's claim: cases record the channel they came from

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "PortalRestInput":
        return cls(IdentityVerifier((credentials or {}).get("backend_url")))

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        def rebind(message: UserMessage, metadata: Dict[str, Any]) -> UserMessage:
            sender = f"u{metadata['portal_user']['id']}:{message.sender_id}"
            return _copy(message, metadata, sender, message.output_channel)

        return super().blueprint(authenticated(on_new_message, self.verifier, rebind))


class _RoomOutput(SocketIOOutput):
    """Sends replies to the browser's socket.io room although the tracker id is user-bound."""

    def __init__(self, original: SocketIOOutput, room: Text) -> None:
        super().__init__(original.sio, original.bot_message_evt)
        self.room = room

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        await super()._send_message(self.room, response)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await super().send_custom_json(self.room, {**json_message, "room": self.room}, **kwargs)


class PortalSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (the web widget) with the same per-message token check."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "PortalSocketIOInput":
        channel = super().from_credentials(credentials)
        channel.verifier = IdentityVerifier((credentials or {}).get("backend_url"))
        return channel

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        verifier = getattr(self, "verifier", None) or IdentityVerifier()

        def rebind(message: UserMessage, metadata: Dict[str, Any]) -> UserMessage:
            sender = f"u{metadata['portal_user']['id']}:{message.sender_id}"
            return _copy(message, metadata, sender, _RoomOutput(message.output_channel, message.sender_id))

        return super().blueprint(authenticated(on_new_message, verifier, rebind))
