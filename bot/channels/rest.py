"""REST adapter: `POST /webhooks/rest/webhook {"sender", "message", "metadata": {"token"}, "message_id"}` (or the
token as an `Authorization: Bearer` header). Answers the list of bot messages, each rendered whole
(bot/channels/render.py). `message_id` (optional, the client's id of this message, at most 128 characters): a
message sent again with the same id (a client's retry) gets the first delivery's answer and is not taken twice
(bot/channels/dedup.py). A turn that fails (the conversation store, the assistant or every action server unreachable)
answers a message asking to send it again, never an error page; nothing of that turn was kept.
Probes: `GET /webhooks/rest/` (the server answers) and `GET /webhooks/rest/ready` (the model is loaded)."""
from __future__ import annotations

import logging
import os
from asyncio import CancelledError
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.dedup import MessageDedup, usable_message_id
from bot.channels.render import web_message
from bot.identity import (
    MAX_SENDER_CHARS, Handler, IdentityLayer, IdentityVerifier, PortalUnavailable, edge_message,
)

log = logging.getLogger(__name__)


class WebCollectingOutput(CollectingOutputChannel):
    """Collects each bot message as one object (text, buttons, article card...)."""

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        rendered = web_message(message)
        if rendered:
            self.messages.append({"recipient_id": recipient_id, **rendered})


def _error(status: int, code: str, lang: Optional[str] = None) -> HTTPResponse:
    """An error of the edge, as the backend's: {"code", "message"}, in French and English when the language is
    not known."""
    return response.json({"code": code, "message": edge_message(code, lang)}, status=status)


def bearer(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    return header[len("Bearer "):].strip() if header.startswith("Bearer ") else None


class PortalRestInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, layer: Optional[IdentityLayer] = None, dedup: Optional[MessageDedup] = None) -> None:
        self.layer = layer or IdentityLayer("rest")
        self.dedup = dedup or MessageDedup(os.environ.get("CHAT_SESSIONS_REDIS_URL"))

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "PortalRestInput":
        credentials = credentials or {}
        return cls(IdentityLayer(credentials.get("channel", "rest"), IdentityVerifier(credentials.get("backend_url"))))

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            """Readiness probe of a deployment: 200 once the model is loaded. Rasa's /status tells it too but only with
            the API token, and its / answers even when the model failed to load."""
            agent = getattr(request.app.ctx, "agent", None)
            if agent is not None and agent.is_ready():
                return response.json({"status": "ready"})
            return response.json({"status": "not_ready"}, status=503)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # Sanic raises its own InvalidUsage for malformed JSON
                body = None
            if not isinstance(body, dict):
                return _error(400, "invalid_body")
            sender, metadata = body.get("sender") or "default", body.get("metadata") or {}
            message_id = body.get("message_id")
            if not isinstance(sender, str) or len(sender) > MAX_SENDER_CHARS or not isinstance(metadata, dict) \
                    or not (message_id is None or usable_message_id(message_id)):
                return _error(400, "invalid_body")
            lang = metadata.get("lang") if metadata.get("lang") in ("fr", "en") else None

            def answer(key: str, status: int = 200, language: Optional[str] = lang) -> HTTPResponse:
                return response.json([{"recipient_id": sender, "text": edge_message(key, language)}], status=status)

            try:
                identity = await self.layer.identify(metadata.get("token") or bearer(request))
            except PortalUnavailable:
                return answer("portal_unavailable")
            if identity is None:
                return answer("login_required")
            refusal = self.layer.refusal(body.get("message"))
            if refusal:
                return answer(refusal, 413 if refusal == "message_too_long" else 200, identity.get("language"))
            dedup_key = None
            if message_id is not None:
                dedup_key = self.dedup.key(self.name(), self.layer.conversation_id(identity["id"], sender), message_id)
                first_answer = await self.dedup.claim(dedup_key)
                if first_answer is not None:
                    return response.json(first_answer)
            collector = WebCollectingOutput()
            try:
                await self.layer.deliver(on_new_message, identity, body["message"], sender, collector, self.name(),
                                         message_id=message_id)
            except (CancelledError, Exception) as error:
                if isinstance(error, CancelledError):
                    log.error("rest: the message timed out")
                else:
                    log.exception("rest: the message failed")
                if dedup_key:
                    await self.dedup.release(dedup_key)  # the turn was not taken: the client's retry must be
                return answer("turn_failed", 200, identity.get("language"))
            messages: List[Dict[str, Any]] = collector.messages
            if dedup_key:
                await self.dedup.answer(dedup_key, messages)
            return response.json(messages)

        return webhook
