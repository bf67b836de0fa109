"""bot/channels/: the adapters only let messages with valid credentials reach the assistant, with the verified
identity (bot/identity.py) as the message's only metadata, and never a token."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List, Optional

import httpx
import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Sanic

from actions.session import IDENTITY_KEY
from bot.channels.render import web_message
from bot.channels.rest import PortalRestInput
from bot.channels.socketio import PortalSocketIOInput, RoomOutput, SessionBindings, history_messages
from bot.identity import MAX_MESSAGE_CHARS, IdentityLayer, IdentityVerifier
from bot_fakes import BACKEND, FakeUsersBackend, Recorder, channel_app, user_out

LOGIN_FR = "Veuillez vous connecter au portail pour discuter avec l'assistant."
LOGIN_EN = "Please log in to the portal to chat with the assistant."
DOWN_FR = "Le portail ne répond pas pour le moment. Veuillez réessayer dans quelques minutes."
DOWN_EN = "The portal is not responding right now. Please try again in a few minutes."
IDENTITY = {"id": 2, "email": "sntestdm@canon-uk-demo.example", "full_name": "SNTestDM DemoPortal",
            "role": "user", "language": "en", "account": "CANON UK DEMO", "account_id": 1, "token_version": 0}
FORGED_USER = {"id": 1, "email": "admin@canon-uk-demo.example", "full_name": "Admin", "role": "admin",
               "language": "fr", "account": "CANON UK DEMO"}


class ArticleReply(Recorder):
    """Replies as the knowledge action does: the article's text plus its fields as data."""

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        await message.output_channel.send_response(message.sender_id, {
            "text": "**Bourrage** (KB1) — Ouvrez le capot.", "custom": {"article": {
                "title": "Bourrage", "number": "KB1", "summary": "Ouvrez le capot.", "url": "http://p/kb/KB1"}}})
        await message.output_channel.send_response(message.sender_id, {
            "text": "Cela vous a-t-il aidé ?", "buttons": [{"title": "Oui", "payload": "/affirm"}]})


# --- the identity layer ----------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_identify_adds_the_declared_channel(verifier):
    layer = IdentityLayer("web", verifier)
    identity = await layer.identify("good-token")
    assert identity == {**IDENTITY, "channel": "web", "channel_user": "portal:2"}
    assert await layer.identify("forged") is None
    assert await layer.identify(None) is None


@pytest.mark.asyncio
async def test_deliver_puts_only_the_verified_identity_in_the_metadata(verifier):
    recorder = Recorder()
    layer = IdentityLayer("rest", verifier)
    identity = await layer.identify("good-token")
    await layer.deliver(recorder, identity, "hello", "abc", CollectingOutputChannel(), "rest")
    (passed,) = recorder.messages
    assert passed.metadata == {IDENTITY_KEY: identity}
    assert passed.sender_id == "u2:abc" and passed.text == "hello" and passed.input_channel == "rest"
    assert "good-token" not in json.dumps(passed.metadata)


@pytest.mark.parametrize("text, refusal", [
    ("hello", None), ("x" * MAX_MESSAGE_CHARS, None), ("x" * (MAX_MESSAGE_CHARS + 1), "message_too_long"),
    ("   ", "empty_message"), (None, "empty_message"), (["a"], "empty_message"), ({"a": 1}, "empty_message"),
])
def test_refusals_at_the_edge(text, refusal):
    assert IdentityLayer.refusal(text) == refusal


def test_web_message_joins_text_buttons_and_article():
    assert web_message({"text": "Hi", "buttons": [{"title": "Oui", "payload": "/affirm"}],
                        "custom": {"article": {"title": "T"}}}) == {
        "text": "Hi", "buttons": [{"title": "Oui", "payload": "/affirm"}], "article": {"title": "T"}}
    assert web_message({"quick_replies": [{"title": "A", "payload": "/a", "content_type": "text"}]}) == {
        "buttons": [{"title": "A", "payload": "/a"}]}
    assert web_message({"text": None, "custom": None}) == {}
    assert web_message({"custom": {"kind": "other"}}) == {"custom": {"kind": "other"}}


# --- PortalRestInput through a real Sanic app (ASGI, no sanic-testing needed) -----------------------------------
@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Like sanic-testing: lets several apps start in one process (Sanic's TouchUp rewrites methods otherwise).
    monkeypatch.setattr(Sanic, "test_mode", True)


def rest_app(verifier: IdentityVerifier, on_new_message: Recorder):
    """The REST blueprint mounted as Rasa mounts it, driven through ASGI."""
    return channel_app(PortalRestInput(IdentityLayer("rest", verifier)), on_new_message)


async def post(client: httpx.AsyncClient, body: Any, **kwargs: Any) -> httpx.Response:
    return await client.post("/webhooks/rest/webhook", json=body, **kwargs)


@pytest.mark.asyncio
async def test_rest_webhook_binds_the_conversation_to_the_verified_user(verifier, users_backend: FakeUsersBackend):
    on_new_message = Recorder(reply="Bonjour !")
    async with rest_app(verifier, on_new_message) as client:
        response = await post(client, {"sender": "abc", "message": "hello", "metadata": {
            "token": "good-token", "portal_user": FORGED_USER, IDENTITY_KEY: FORGED_USER, "lang": "fr"}})
    assert response.status_code == 200
    assert response.json() == [{"recipient_id": "u2:abc", "text": "Bonjour !"}]
    (passed,) = on_new_message.messages
    assert passed.sender_id == "u2:abc"
    assert passed.input_channel == "rest"
    # only the verified identity: no token, none of the client's keys (a forged identity among them)
    assert passed.metadata == {IDENTITY_KEY: {**IDENTITY, "channel": "rest", "channel_user": "portal:2"}}
    assert users_backend.requests[0].headers["authorization"] == "Bearer good-token"


class FakeAgent:
    def __init__(self, ready: bool) -> None:
        self.ready = ready

    def is_ready(self) -> bool:
        return self.ready


@pytest.mark.asyncio
async def test_rest_probes_say_whether_the_model_is_loaded(verifier):
    async with rest_app(verifier, Recorder()) as client:
        app = client._transport.app  # the Sanic app Rasa would have put its agent on
        assert (await client.get("/webhooks/rest/")).json() == {"status": "ok"}  # liveness: the server answers
        for agent, status in ((None, 503), (FakeAgent(ready=False), 503), (FakeAgent(ready=True), 200)):
            app.ctx.agent = agent
            response = await client.get("/webhooks/rest/ready")
            assert response.status_code == status
            assert response.json() == {"status": "ready" if status == 200 else "not_ready"}


@pytest.mark.asyncio
async def test_the_deployment_probes_of_rasa_answer(verifier):
    """The probes in deploy/k8s/50-rasa.yaml are routes of the REST channel that answer 200 once the model is loaded."""
    import yaml
    from pathlib import Path

    manifest = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "50-rasa.yaml"
    (deployment,) = [d for d in yaml.safe_load_all(manifest.read_text()) if d and d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    paths = {container[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert paths == {"/webhooks/rest/", "/webhooks/rest/ready"}
    async with rest_app(verifier, Recorder()) as client:
        client._transport.app.ctx.agent = FakeAgent(ready=True)
        for path in paths:
            assert (await client.get(path)).status_code == 200, path


@pytest.mark.asyncio
async def test_rest_webhook_takes_the_token_from_the_authorization_header(verifier):
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message) as client:
        await post(client, {"sender": "abc", "message": "hello"}, headers={"Authorization": "Bearer good-token"})
    assert on_new_message.messages[0].sender_id == "u2:abc"


@pytest.mark.asyncio
@pytest.mark.parametrize("metadata, expected", [
    ({"lang": "en"}, LOGIN_EN), ({"lang": "fr", "token": "forged"}, LOGIN_FR), ({"lang": "de"}, f"{LOGIN_FR}\n{LOGIN_EN}"),
    ({"portal_user": FORGED_USER, IDENTITY_KEY: FORGED_USER}, f"{LOGIN_FR}\n{LOGIN_EN}"), (None, f"{LOGIN_FR}\n{LOGIN_EN}"),
])
async def test_rest_webhook_without_a_valid_token(verifier, metadata, expected):
    on_new_message = Recorder(reply="never")
    async with rest_app(verifier, on_new_message) as client:
        response = await post(client, {"sender": "abc", "message": "bonjour", "metadata": metadata})
    assert response.json() == [{"recipient_id": "abc", "text": expected}]
    assert on_new_message.messages == []


@pytest.mark.asyncio
@pytest.mark.parametrize("state, lang, expected", [("down", None, f"{DOWN_FR}\n{DOWN_EN}"), (500, "en", DOWN_EN)])
async def test_rest_webhook_backend_down(verifier, users_backend, state, lang, expected):
    users_backend.state = state
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message) as client:
        response = await post(client, {"sender": "a", "message": "hi", "metadata": {"token": "good-token", "lang": lang}})
    assert response.json()[0]["text"] == expected
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_rest_webhook_two_users_same_sender_get_separate_conversations(verifier, users_backend):
    users_backend.users["other-token"] = user_out(user_id=7)
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message) as client:
        for token in ("good-token", "other-token"):
            await post(client, {"sender": "shared", "message": "hi", "metadata": {"token": token}})
    assert [m.sender_id for m in on_new_message.messages] == ["u2:shared", "u7:shared"]


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [[{"sender": "a", "message": "hi"}], "hello", 42, None,
                                  {"sender": ["a"], "message": "hi"}, {"sender": "a" * 201, "message": "hi"},
                                  {"sender": "a", "message": "hi", "metadata": ["token"]}])
async def test_rest_webhook_refuses_bodies_that_are_not_a_chat_message(verifier, body):
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message) as client:
        response = await post(client, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_body"
    message = response.json()["message"]
    assert message.startswith("Le corps de la requête doit être un objet JSON") and "\nThe request body must be" in message
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_rest_webhook_refuses_malformed_json(verifier):
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message) as client:
        response = await client.post("/webhooks/rest/webhook", content=b"{not json",
                                     headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_rest_webhook_refuses_an_over_long_message_in_the_users_language(verifier, users_backend):
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message) as client:
        long = await post(client, {"sender": "a", "message": "mot " * 2000, "metadata": {"token": "good-token"}})
        empty = await post(client, {"sender": "a", "message": "  ", "metadata": {"token": "good-token"}})
    assert long.status_code == 413
    assert long.json()[0]["text"] == f"Your message is too long (over {MAX_MESSAGE_CHARS} characters). Could you shorten it?"
    assert empty.json()[0]["text"] == "Your message is empty. What can I do for you?"
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_rest_webhook_answers_an_article_as_one_message(verifier):
    async with rest_app(verifier, ArticleReply()) as client:
        response = await post(client, {"sender": "a", "message": "bourrage", "metadata": {"token": "good-token"}})
    first, second = response.json()
    assert first["article"]["number"] == "KB1" and first["text"].startswith("**Bourrage**")
    assert second["buttons"] == [{"title": "Oui", "payload": "/affirm"}]


@pytest.mark.asyncio
async def test_rest_webhook_health(verifier, on_new_message):
    async with rest_app(verifier, on_new_message) as client:
        response = await client.get("/webhooks/rest/")
    assert response.json() == {"status": "ok"}


def test_rest_from_credentials(monkeypatch: pytest.MonkeyPatch):
    assert PortalRestInput.name() == "rest"
    channel = PortalRestInput.from_credentials({"backend_url": "http://backend:8000/", "channel": "rest"})
    assert channel.layer.verifier.backend_url == "http://backend:8000" and channel.layer.channel == "rest"
    monkeypatch.setenv("BACKEND_URL", "http://env-backend:8000")
    assert PortalRestInput.from_credentials(None).layer.verifier.backend_url == "http://env-backend:8000"


def test_credentials_file_lists_every_channel_with_its_code():
    import yaml
    from pathlib import Path

    channels = yaml.safe_load((Path(__file__).resolve().parents[2] / "credentials.yml").read_text())
    assert {name: (conf or {}).get("channel") for name, conf in channels.items()} == {
        "bot.channels.rest.PortalRestInput": "rest", "bot.channels.socketio.PortalSocketIOInput": "web",
        "bot.channels.teams.TeamsInput": "teams", "bot.channels.voice.VoiceInput": "phone",
        "bot.channels.nlu.NluParseInput": None}  # no user channel (the action server's parse service): no case code


# --- PortalSocketIOInput ---------------------------------------------------------------------------------------------
class FakeSio:
    """What the adapter uses of python-socketio's AsyncServer: per-socket sessions, rooms, emits."""

    def __init__(self, server: Any) -> None:
        self.handlers = server.handlers["/"]
        self.sessions: Dict[str, Dict[str, Any]] = {}
        self.rooms: Dict[str, set] = {}
        self.emitted: List[Dict[str, Any]] = []
        self.disconnected: List[str] = []
        server.get_session = self.get_session
        server.save_session = self.save_session
        server.enter_room = lambda sid, room: self.rooms.setdefault(room, set()).add(sid)
        server.leave_room = lambda sid, room: self.rooms.get(room, set()).discard(sid)
        server.emit = self.emit
        server.disconnect = self.disconnect

    async def get_session(self, sid: str) -> Dict[str, Any]:
        return self.sessions.setdefault(sid, {})

    async def save_session(self, sid: str, session: Dict[str, Any]) -> None:
        self.sessions[sid] = session

    async def emit(self, event: str, data: Any = None, room: Optional[str] = None, to: Optional[str] = None) -> None:
        target = to or room
        for sid in sorted(self.rooms.get(target, {target})):
            self.emitted.append({"sid": sid, "event": event, "data": data})

    async def disconnect(self, sid: str) -> None:
        self.disconnected.append(sid)

    def received(self, sid: str, event: Optional[str] = None) -> List[Any]:
        return [e["data"] if event else (e["event"], e["data"]) for e in self.emitted
                if e["sid"] == sid and (event is None or e["event"] == event)]

    async def connect(self, sid: str, token: Any) -> bool:
        try:
            return await self.handlers["connect"](sid, {}, {"token": token} if token is not None else None)
        except ConnectionRefusedError as refused:
            return refused.args[0]

    async def open(self, sid: str, token: str, session_id: str) -> str:
        assert await self.connect(sid, token) is True
        await self.handlers["session_request"](sid, {"session_id": session_id})
        return self.received(sid, "session_confirm")[-1]["session_id"]

    async def say(self, sid: str, session_id: str, text: str, token: Optional[str] = None,
                  message_id: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
        """Sends a message; returns its acknowledgement."""
        data = {"message": text, "session_id": session_id, "customData": {"token": token, **extra}}
        if message_id is not None:
            data["message_id"] = message_id
        return await self.handlers["user_uttered"](sid, data)


@pytest.fixture
def socket_world(verifier, users_backend):
    users_backend.users["other-token"] = user_out(user_id=7)

    def make(on_new_message: Any):
        channel = PortalSocketIOInput(IdentityLayer("web", verifier), SessionBindings(None), origins=["http://portal"])
        channel.blueprint(on_new_message)
        return channel, FakeSio(channel.sio)

    return make


SESSION = "browser-session-1"


@pytest.mark.asyncio
async def test_socket_without_a_valid_token_cannot_connect(socket_world):
    _, sio = socket_world(Recorder())
    assert await sio.connect("s1", None) == "login_required"
    assert await sio.connect("s2", "forged") == "login_required"
    assert await sio.connect("s3", "good-token") is True


@pytest.mark.asyncio
async def test_a_message_reaches_the_assistant_bound_to_the_user_and_replies_go_to_her_room(socket_world):
    on_new_message = Recorder(reply="Bonjour !")
    _, sio = socket_world(on_new_message)
    assert await sio.open("s1", "good-token", SESSION) == SESSION
    await sio.say("s1", SESSION, "hello", token="good-token", portal_user=FORGED_USER)
    (passed,) = on_new_message.messages
    assert passed.sender_id == f"u2:{SESSION}" and passed.input_channel == "socketio"
    assert passed.metadata == {IDENTITY_KEY: {**IDENTITY, "channel": "web", "channel_user": "portal:2"}}
    assert isinstance(passed.output_channel, RoomOutput)
    assert sio.received("s1")[-2:] == [("bot_uttered", {"text": "Bonjour !"}), ("turn_end", {})]


@pytest.mark.asyncio
async def test_a_message_sent_again_after_a_lost_connection_is_taken_once(socket_world):
    on_new_message = Recorder(reply="Quel appareil ?")
    _, sio = socket_world(on_new_message)
    await sio.open("s1", "good-token", SESSION)
    assert await sio.say("s1", SESSION, "bourrage", token="good-token", message_id="m-1") == {"ok": True}
    # the connection dropped before the acknowledgement: the widget reconnects (a new socket) and sends it again
    await sio.open("s2", "good-token", SESSION)
    assert await sio.say("s2", SESSION, "bourrage", token="good-token", message_id="m-1") == {
        "ok": True, "duplicate": True}
    assert [m.text for m in on_new_message.messages] == ["bourrage"]
    assert on_new_message.messages[0].message_id == "m-1"  # kept in the tracker, so the history names it
    assert sio.received("s2", "turn_end") == [{}]
    # the same id in another conversation, or a new id, is a new message
    other = await sio.open("s3", "other-token", SESSION)
    await sio.say("s3", other, "bourrage", token="other-token", message_id="m-1")
    await sio.say("s2", SESSION, "bourrage", token="good-token", message_id="m-2")
    assert len(on_new_message.messages) == 3


class FailingTurn(Recorder):
    """The conversation store is unreachable for the first `failures` messages."""

    def __init__(self, failures: int) -> None:
        super().__init__(reply="Merci, c'est noté.")
        self.failures = failures

    async def __call__(self, message: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("tracker store down")
        await super().__call__(message)


@pytest.mark.asyncio
async def test_a_failed_turn_asks_to_send_again_and_the_copy_is_taken(socket_world):
    on_new_message = FailingTurn(failures=1)
    _, sio = socket_world(on_new_message)
    await sio.open("s1", "good-token", SESSION)
    assert await sio.say("s1", SESSION, "2 toners noirs", token="good-token", message_id="m-1") == {"ok": False}
    assert sio.received("s1")[-2:] == [("bot_uttered", {"text": (
        "A technical problem stopped me from handling your message. Please send it again in a moment: we will "
        "carry on where we left off.")}), ("turn_end", {})]
    assert await sio.say("s1", SESSION, "2 toners noirs", token="good-token", message_id="m-1") == {"ok": True}
    assert [m.text for m in on_new_message.messages] == ["2 toners noirs"]


@pytest.mark.asyncio
@pytest.mark.parametrize("message_id", ["", "x" * 129, 42, ["m-1"]])
async def test_an_unusable_message_id_is_taken_without_dedup(socket_world, message_id):
    on_new_message = Recorder(reply="ok")
    _, sio = socket_world(on_new_message)
    await sio.open("s1", "good-token", SESSION)
    for _ in range(2):
        assert await sio.say("s1", SESSION, "hello", token="good-token", message_id=message_id) == {"ok": True}
    assert len(on_new_message.messages) == 2


class EchoConversation(Recorder):
    """Replies with the conversation id, so a test sees whose conversation a reply belongs to."""

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"reply for {message.sender_id}")


@pytest.mark.asyncio
async def test_another_users_socket_asking_for_her_session_id_gets_its_own_and_hears_nothing(socket_world):
    on_new_message = EchoConversation()
    _, sio = socket_world(on_new_message)
    await sio.open("victim", "good-token", SESSION)
    other = await sio.open("attacker", "other-token", SESSION)
    assert other != SESSION  # refused: a session id already bound to another user
    await sio.say("victim", SESSION, "my devices", token="good-token")
    await sio.say("attacker", SESSION, "my devices", token="other-token")  # not the session it was given: ignored
    await sio.say("attacker", other, "hello", token="other-token")
    assert [m.sender_id for m in on_new_message.messages] == [f"u2:{SESSION}", f"u7:{other}"]
    assert sio.received("victim", "bot_uttered") == [{"text": f"reply for u2:{SESSION}"}]
    assert sio.received("attacker", "bot_uttered") == [{"text": f"reply for u7:{other}"}]
    await sio.handlers["history_request"]("attacker", {"session_id": SESSION})
    assert sio.received("attacker", "history") == []


@pytest.mark.asyncio
async def test_a_socket_that_never_sent_a_token_receives_nothing(socket_world):
    on_new_message = Recorder(reply="secret")
    _, sio = socket_world(on_new_message)
    await sio.open("victim", "good-token", SESSION)
    assert await sio.connect("eavesdropper", None) == "login_required"
    await sio.say("victim", SESSION, "hello", token="good-token")
    assert sio.received("eavesdropper") == []


@pytest.mark.asyncio
async def test_the_token_is_checked_again_on_every_message(socket_world, users_backend):
    on_new_message = Recorder(reply="ok")
    _, sio = socket_world(on_new_message)
    await sio.open("s1", "good-token", SESSION)
    del users_backend.users["good-token"]  # deactivated, or the password changed: the token no longer works
    await sio.say("s1", SESSION, "hello", token="good-token", lang="en")
    assert on_new_message.messages == []
    assert ("login_required", {}) in sio.received("s1")
    assert sio.received("s1", "bot_uttered") == [{"text": LOGIN_EN}]
    assert sio.disconnected == ["s1"]


@pytest.mark.asyncio
async def test_another_users_token_on_an_open_socket_is_refused(socket_world):
    on_new_message = Recorder(reply="ok")
    _, sio = socket_world(on_new_message)
    await sio.open("s1", "good-token", SESSION)
    await sio.say("s1", SESSION, "hello", token="other-token")
    assert on_new_message.messages == [] and sio.disconnected == ["s1"]


@pytest.mark.asyncio
async def test_over_long_message_refused_before_the_assistant(socket_world):
    on_new_message = Recorder(reply="never")
    _, sio = socket_world(on_new_message)
    await sio.open("s1", "good-token", SESSION)
    await sio.say("s1", SESSION, "x" * (MAX_MESSAGE_CHARS + 1), token="good-token")
    assert on_new_message.messages == []
    assert sio.received("s1", "bot_uttered") == [
        {"text": f"Your message is too long (over {MAX_MESSAGE_CHARS} characters). Could you shorten it?"}]


@pytest.mark.asyncio
async def test_backend_down_says_so(socket_world, users_backend):
    on_new_message = Recorder()
    _, sio = socket_world(on_new_message)
    await sio.open("s1", "good-token", SESSION)
    users_backend.state = "down"
    await sio.say("s1", SESSION, "bonjour", token="good-token")
    assert on_new_message.messages == []
    assert sio.received("s1", "bot_uttered") == [{"text": DOWN_EN}]  # the profile language of the socket's user


@pytest.mark.asyncio
@pytest.mark.parametrize("asked", [None, "short", "../../etc", "x" * 65, 42])
async def test_invalid_session_ids_get_a_fresh_one(socket_world, asked):
    _, sio = socket_world(Recorder())
    assert await sio.connect("s1", "good-token") is True
    await sio.handlers["session_request"]("s1", {"session_id": asked})
    confirmed = sio.received("s1", "session_confirm")[0]["session_id"]
    assert confirmed != asked and len(confirmed) == 32


@pytest.mark.asyncio
async def test_history_is_the_conversation_so_far(socket_world):
    channel, sio = socket_world(Recorder())
    events = [
        {"event": "user", "text": "bourrage", "message_id": "m-1"},
        {"event": "bot", "text": "Quel appareil ?", "data": {"buttons": [{"title": "WHJ01481", "payload": "/inform{\"asset_ref\":\"WHJ01481\"}"}]}},
        {"event": "user", "text": "/inform{\"asset_ref\":\"WHJ01481\"}"},
        {"event": "bot", "text": "**Bourrage**", "data": {"custom": {"article": {"title": "Bourrage"}}}},
        {"event": "slot", "name": "x", "value": 1},
    ]

    async def fake_events(conversation_id: str) -> List[Dict[str, Any]]:
        assert conversation_id == f"u2:{SESSION}"
        return events

    channel._conversation_events = fake_events
    await sio.open("s1", "good-token", SESSION)
    await sio.handlers["history_request"]("s1", {"session_id": SESSION})
    (history,) = sio.received("s1", "history")
    assert history == {"session_id": SESSION, "messages": [
        {"from": "user", "text": "bourrage", "id": "m-1"},  # the widget's id: a copy it still holds is not sent again
        {"from": "bot", "text": "Quel appareil ?", "buttons": [{"title": "WHJ01481", "payload": "/inform{\"asset_ref\":\"WHJ01481\"}"}]},
        {"from": "user", "text": "WHJ01481"},  # the button's title, not its payload
        {"from": "bot", "text": "**Bourrage**", "article": {"title": "Bourrage"}},
    ]}


def test_history_keeps_the_last_messages():
    events = [{"event": "user", "text": f"m{i}"} for i in range(150)]
    messages = history_messages(events, limit=100)
    assert len(messages) == 100 and messages[-1]["text"] == "m149"


@pytest.mark.asyncio
async def test_session_bindings_in_process():
    bindings = SessionBindings(None)
    assert await bindings.claim("abcdefgh", 2) is True
    assert await bindings.claim("abcdefgh", 2) is True
    assert await bindings.claim("abcdefgh", 7) is False


def test_socketio_from_credentials_and_origins(monkeypatch):
    monkeypatch.setenv("CHAT_ALLOWED_ORIGINS", "https://portal.example.com, https://intranet.example.com/")
    channel = PortalSocketIOInput.from_credentials({"backend_url": "http://backend:8000/", "channel": "web",
                                                    "metadata_key": "customData"})
    assert channel.name() == "socketio" and channel.layer.channel == "web"
    assert channel.layer.verifier.backend_url == "http://backend:8000"
    assert channel.origins == ["https://portal.example.com", "https://intranet.example.com"]
    channel.blueprint(Recorder())
    assert channel.sio.eio.cors_allowed_origins == channel.origins
    assert channel.sio.eio.max_http_buffer_size <= 16 * 1024
    assert channel.get_output_channel() is None
