"""REST adapter: `POST /webhooks/rest/webhook {"sender", "message", "metadata": {"token"}}` (or the token as an
`Authorization: Bearer` header). Answers the list of bot messages, each rendered whole (bot/channels/render.py).
Probes: `GET /webhooks/rest/` (the server answers) and `GET /webhooks/rest/ready` (the model is loaded)."""
from __future__ import annotations

import logging
from asyncio import CancelledError
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

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

    def __init__(self, layer: Optional[IdentityLayer] = None) -> None:
        self.layer = layer or IdentityLayer("rest")

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
            if not isinstance(sender, str) or len(sender) > MAX_SENDER_CHARS or not isinstance(metadata, dict):
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
            collector = WebCollectingOutput()
            try:
                await self.layer.deliver(on_new_message, identity, body["message"], sender, collector, self.name())
            except CancelledError:
                log.error("rest: the message timed out")
            except Exception:
                log.exception("rest: the message failed")
            messages: List[Dict[str, Any]] = collector.messages
            return response.json(messages)

        return webhook
