"""socket.io adapter (the web widget), bound to the verified user.

- A socket connects with `auth: {token}`; it is refused (`connect_error` "login_required") unless the backend
  accepts the token.
- `session_request {session_id}` joins the room `u<user id>:<session id>`, named from the verified user. A session
  id already bound to another user (bindings shared by the Rasa workers through Redis) is refused: the socket gets
  a new one in `session_confirm {session_id}`.
- `user_uttered {message, session_id, message_id, customData: {token}}`: the token is checked again on every message
  and must be the same user's; replies go to that user's room only, then `turn_end {}`; the message is acknowledged
  (socket.io ack) with `{ok}` once its turn is over. `message_id` (optional, the widget's id of this message, at
  most 128 characters) makes a message sent again after a lost connection be taken once: a copy is acknowledged
  `{ok: true, duplicate: true}` without a second turn, and the widget asks for the history, which holds the first
  delivery's answer (bot/channels/dedup.py, shared with the REST channel). A turn that fails is answered with a
  message asking to send it again, and acknowledged `{ok: false}`.
- `history_request {session_id}` → `history {session_id, messages}`: the conversation so far, from the tracker,
  so that the widget shows it again after a page change or a reload; a user message carries its `id`.
"""
from __future__ import annotations

import inspect
import json
import logging
import os
import re
import uuid
from asyncio import CancelledError
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels.dedup import MessageDedup, usable_message_id
from bot.channels.render import web_message
from bot.identity import (
    Handler, IdentityLayer, IdentityVerifier, PortalUnavailable, allowed_origins, edge_message,
)

log = logging.getLogger(__name__)
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
IDLE_SECONDS = int(os.environ.get("CONVERSATION_IDLE_SECONDS", str(24 * 3600)))
MAX_SOCKET_MESSAGE_BYTES = 16 * 1024  # a message is at most MAX_MESSAGE_CHARS characters plus its envelope
HISTORY_MESSAGES = 100


class SessionBindings:
    """Which user each socket.io session id belongs to: in the Redis the Rasa workers share (any worker may get a
    conversation's next socket), else in this process. Bindings expire with the conversation's idle time."""

    def __init__(self, redis_url: Optional[str] = None, ttl: int = IDLE_SECONDS) -> None:
        self.ttl = ttl
        self._local: Dict[str, int] = {}
        self.redis = None
        if redis_url:
            import redis.asyncio  # Rasa's own dependency

            self.redis = redis.asyncio.Redis.from_url(redis_url)

    async def claim(self, session_id: str, user_id: int) -> bool:
        """True if the session id is this user's (now or already), False if another user holds it."""
        key = f"chat_session:{session_id}"
        if self.redis is None:
            owner = self._local.setdefault(session_id, user_id)
            return owner == user_id
        await self.redis.set(key, user_id, nx=True, ex=self.ttl)
        owner = await self.redis.get(key)
        if owner is None or int(owner) != user_id:
            return False
        await self.redis.expire(key, self.ttl)
        return True


class RoomOutput(OutputChannel):
    """Sends each bot message whole (render.web_message) to the verified user's conversation room."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def __init__(self, sio: AsyncServer, bot_message_evt: Text, room: Text) -> None:
        self.sio, self.bot_message_evt, self.room = sio, bot_message_evt, room

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        rendered = web_message(message)
        if rendered:
            await self.sio.emit(self.bot_message_evt, rendered, room=self.room)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


def history_messages(events: List[Dict[str, Any]], limit: int = HISTORY_MESSAGES) -> List[Dict[str, Any]]:
    """The user's and the bot's messages of a conversation, oldest first; a button the user pressed is shown by
    its title, as it was when they pressed it."""
    out: List[Dict[str, Any]] = []
    titles: Dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "bot":
            rendered = web_message({"text": event.get("text"), **(event.get("data") or {})})
            if rendered:
                out.append({"from": "bot", **rendered})
                titles = {b["payload"]: b["title"] for b in rendered.get("buttons", [])}
        elif kind == "user" and event.get("text"):
            text = event["text"]
            shown = {"from": "user", "text": titles.get(text, text)}
            if event.get("message_id"):
                shown["id"] = event["message_id"]
            out.append(shown)
    return out[-limit:]


class PortalSocketIOInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def __init__(self, layer: Optional[IdentityLayer] = None, bindings: Optional[SessionBindings] = None,
                 dedup: Optional[MessageDedup] = None, user_message_evt: Text = "user_uttered", bot_message_evt: Text = "bot_uttered",
                 metadata_key: Text = "customData", socketio_path: Text = "/socket.io",
                 origins: Optional[List[str]] = None) -> None:
        self.layer = layer or IdentityLayer("web")
        self.bindings = bindings or SessionBindings(os.environ.get("CHAT_SESSIONS_REDIS_URL"))
        self.dedup = dedup or MessageDedup(os.environ.get("CHAT_SESSIONS_REDIS_URL"))
        self.user_message_evt, self.bot_message_evt = user_message_evt, bot_message_evt
        self.metadata_key, self.socketio_path = metadata_key, socketio_path
        self.origins = allowed_origins() if origins is None else origins
        self.sio: Optional[AsyncServer] = None
        self.app: Any = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "PortalSocketIOInput":
        credentials = credentials or {}
        return cls(
            IdentityLayer(credentials.get("channel", "web"), IdentityVerifier(credentials.get("backend_url"))),
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            metadata_key=credentials.get("metadata_key", "customData"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
        )

    def get_output_channel(self) -> Optional[OutputChannel]:
        return None  # replies only ever go to a verified user's room, within the turn that user started

    async def _conversation_events(self, conversation_id: str) -> List[Dict[str, Any]]:
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return []
        tracker = agent.tracker_store.retrieve(conversation_id)
        if inspect.isawaitable(tracker):
            tracker = await tracker
        return [event.as_dict() for event in tracker.events] if tracker else []

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.origins,
                          max_http_buffer_size=MAX_SOCKET_MESSAGE_BYTES)
        self.sio = sio
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        layer, bindings = self.layer, self.bindings

        @webhook.listener("after_server_start")
        async def keep_app(app: Any, _loop: Any) -> None:
            self.app = app  # for the tracker store (history)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def current(sid: str, token: Any = None) -> Optional[Dict[str, Any]]:
            """The socket's verified identity, checked again now; None (and the socket told) when no longer valid."""
            state = await sio.get_session(sid)
            try:
                identity = await layer.identify(token or state.get("token"))
            except PortalUnavailable:
                await sio.emit(self.bot_message_evt, {"text": edge_message("portal_unavailable", state.get("lang"))},
                               to=sid)
                await sio.emit("turn_end", {}, to=sid)
                return None
            if identity is None or identity["id"] != state.get("user_id"):
                await sio.emit("login_required", {}, to=sid)
                await sio.emit(self.bot_message_evt, {"text": edge_message("login_required", state.get("lang"))},
                               to=sid)
                await sio.disconnect(sid)
                return None
            if token:
                state["token"] = token  # the page's newer token (kept in this process's memory only)
            return identity

        @sio.on("connect")
        async def connect(sid: str, environ: Dict, auth: Optional[Dict] = None) -> bool:
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                identity = await layer.identify(token)
            except PortalUnavailable:
                raise ConnectionRefusedError("portal_unavailable")
            if identity is None:
                raise ConnectionRefusedError("login_required")
            await sio.save_session(sid, {"token": token, "user_id": identity["id"], "session_id": None,
                                         "lang": identity.get("language")})
            return True

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            state = await sio.get_session(sid)
            asked = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(asked, str) or not SESSION_ID.match(asked) \
                    or not await bindings.claim(asked, state["user_id"]):
                asked = uuid.uuid4().hex
                await bindings.claim(asked, state["user_id"])
            previous = state.get("session_id")
            if previous:
                await _maybe_await(sio.leave_room(sid, layer.conversation_id(state["user_id"], previous)))
            await _maybe_await(sio.enter_room(sid, layer.conversation_id(state["user_id"], asked)))
            state["session_id"] = asked
            await sio.emit("session_confirm", {"session_id": asked}, to=sid)

        def own_session(state: Dict[str, Any], data: Any) -> Optional[str]:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            return session_id if session_id and session_id == state.get("session_id") else None

        @sio.on("history_request")
        async def history_request(sid: str, data: Any) -> None:
            state = await sio.get_session(sid)
            session_id = own_session(state, data)
            if session_id is None or await current(sid) is None:
                return
            events = await self._conversation_events(layer.conversation_id(state["user_id"], session_id))
            await sio.emit("history", {"session_id": session_id, "messages": history_messages(events)}, to=sid)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any) -> Dict[str, Any]:
            """Answers in the room; returns the message's acknowledgement."""
            state = await sio.get_session(sid)
            session_id = own_session(state, data)
            if session_id is None:
                log.warning("socket.io: a message for a session this socket did not open was ignored")
                return {"ok": False}
            extra = data.get(self.metadata_key) or {}
            if isinstance(extra, str):
                try:
                    extra = json.loads(extra)
                except ValueError:
                    extra = {}
            extra = extra if isinstance(extra, dict) else {}
            if extra.get("lang") in ("fr", "en"):
                state["lang"] = extra["lang"]
            identity = await current(sid, extra.get("token"))
            if identity is None:
                return {"ok": False}
            room = layer.conversation_id(identity["id"], session_id)
            message_id = data.get("message_id")
            if not usable_message_id(message_id):
                message_id = None  # an older widget: taken without protection against a copy
            refusal = layer.refusal(data.get("message"))
            if refusal:
                await sio.emit(self.bot_message_evt, {"text": edge_message(refusal, identity.get("language"))}, to=sid)
                await sio.emit("turn_end", {}, to=sid)
                return {"ok": False}
            dedup_key = self.dedup.key(self.name(), room, message_id) if message_id else None
            if dedup_key and await self.dedup.claim(dedup_key) is not None:
                await sio.emit("turn_end", {}, to=sid)
                return {"ok": True, "duplicate": True}  # taken already: its answer is in the room and the history
            await bindings.claim(session_id, identity["id"])  # keeps the binding alive while in use
            try:
                await layer.deliver(on_new_message, identity, data["message"], session_id,
                                    RoomOutput(sio, self.bot_message_evt, room), self.name(), message_id=message_id)
            except (CancelledError, Exception):
                log.exception("socket.io: the message failed")
                if dedup_key:
                    await self.dedup.release(dedup_key)  # the turn was not taken: sending it again must be
                await sio.emit(self.bot_message_evt, {"text": edge_message("turn_failed", identity.get("language"))},
                               room=room)
                await sio.emit("turn_end", {}, room=room)
                return {"ok": False}
            if dedup_key:
                await self.dedup.answer(dedup_key, [])  # the answer itself lives in the conversation's history
            await sio.emit("turn_end", {}, room=room)
            return {"ok": True}

        return webhook


async def _maybe_await(result: Any) -> None:
    if inspect.isawaitable(result):
        await result
