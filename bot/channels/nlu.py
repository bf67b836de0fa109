"""The assistant's own language understanding, for the action server: `POST /webhooks/nlu/parse {"texts": [...]}`
answers each text's intent, confidence and entities as the model reads it.

The action server uses it to read the parts of a message one by one ("here are the meters … and when does the
contract end?": a second request in the same message, offered once the first is done — actions/clauses.py).
It is no user channel: it only answers a caller holding NLU_KEY (or the file NLU_KEY_FILE names), a secret shared
by the Rasa server and the action server only; without that key configured every call is refused (503). It never
touches a conversation: no tracker is read or written, nothing is logged of the texts.
"""
from __future__ import annotations

import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.rest import bearer
from bot.channels.teams import _secret

log = logging.getLogger(__name__)
MAX_TEXTS = 4  # the parts of one message
MAX_CHARS = 600  # a part longer than this is no question of its own


def parsed(result: Dict[str, Any]) -> Dict[str, Any]:
    """The part of Rasa's parse result the caller needs: intent, confidence, entities (no ranking, no text)."""
    intent = result.get("intent") or {}
    return {"intent": intent.get("name"), "confidence": float(intent.get("confidence") or 0.0),
            "entities": [{key: e.get(key) for key in ("entity", "value", "role", "group") if e.get(key) is not None}
                         for e in result.get("entities") or []]}


class NluParseInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "nlu"

    def __init__(self, key: Optional[str] = None) -> None:
        self._key = key

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "NluParseInput":
        return cls()

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = _secret("NLU_KEY")
        return self._key

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/parse", methods=["POST"])
        async def parse(request: Request) -> HTTPResponse:
            if not self.key:
                return response.json({"code": "nlu_key_missing"}, status=503)
            given = bearer(request) or ""
            if not hmac.compare_digest(given.encode(), self.key.encode()):
                return response.json({"code": "unauthorized"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            texts = body.get("texts")
            if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_TEXTS or not all(
                    isinstance(t, str) and 0 < len(t.strip()) <= MAX_CHARS for t in texts):
                return response.json({"code": "invalid_texts"}, status=422)
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or not agent.is_ready():
                return response.json({"code": "model_not_ready"}, status=503)
            results: List[Dict[str, Any]] = [parsed(await agent.parse_message(t.strip())) for t in texts]
            return response.json({"results": results})

        return webhook
