"""REST and socket.io channels that let only authenticated portal users reach the assistant.

Every message must carry the portal access token in its metadata (`{"token": ...}`). The channel verifies
it with the backend, then replaces any client-supplied `portal_user` with the verified profile, so actions
never trust identity typed or sent by the client. A message without a valid token gets a login prompt and
never reaches the assistant (so no account data either).
"""
from __future__ import annotations

import logging
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
# already answers in that language (actions/language.py); this offers to save it.
LANGUAGE_OFFER = {
    "en": ("I'll continue in English. Would you like English to be your portal language from now on?",
           "Save English as my language"),
    "fr": ("Je continue en français. Voulez-vous que le français devienne la langue de votre portail ?",
           "Enregistrer le français comme langue"),
}


class LanguageOffer:
    """Remembers, per conversation, that the offer was made (in memory: after a restart it may come once more)."""

    def __init__(self, verifier: IdentityVerifier, capacity: int = 10_000) -> None:
        self.verifier = verifier
        self.capacity = capacity
        self._offered: Dict[str, None] = {}

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
        if len(self._offered) >= self.capacity:
            self._offered.pop(next(iter(self._offered)))
        self._offered[message.sender_id] = None
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
) -> Handler:
    """Wraps Rasa's message handler: verify the token, attach the verified user, or answer with a prompt;
    after the answer, offer once to save the language the user writes in if it is not their profile's."""
    offer = LanguageOffer(verifier)

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
