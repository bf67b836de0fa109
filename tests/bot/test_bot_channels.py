"""bot/channels.py: only messages with a valid portal token reach the assistant, with the verified identity."""
from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import uuid
from typing import Any, AsyncIterator, Dict, List, Optional

import httpx
import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Sanic

from bot.channels import PortalRestInput, PortalSocketIOInput, _RoomOutput, authenticated
from bot.identity import IdentityVerifier
from bot_fakes import BACKEND, FakeUsersBackend, Recorder

LOGIN_FR = "Veuillez vous connecter au portail pour discuter avec l'assistant."
LOGIN_EN = "Please log in to the portal to chat with the assistant."
DOWN_FR = "Le portail ne répond pas pour le moment. Veuillez réessayer dans quelques minutes."
DOWN_EN = "The portal is not responding right now. Please try again in a few minutes."
PROFILE = {"id": 2, "email": "sntestdm@canon-uk-demo.example", "full_name": "SNTestDM DemoPortal",
           "role": "user", "language": "en", "account": "CANON UK DEMO"}
FORGED_USER = {"id": 1, "email": "admin@canon-uk-demo.example", "full_name": "Admin", "role": "admin",
               "language": "fr", "account": "CANON UK DEMO"}


def keep(message: UserMessage, metadata: Dict[str, Any]) -> UserMessage:
    """A rebind that keeps the conversation id (what the bare wrapper does besides the channels' own rebinds)."""
    return UserMessage(text=message.text, output_channel=message.output_channel, sender_id=message.sender_id,
                       input_channel=message.input_channel, metadata=metadata)


def user_message(metadata: Optional[Dict[str, Any]], sender: str = "browser-1", text: str = "hello") -> UserMessage:
    # PROFILE's language is English: an English message gets no offer to switch language
    return UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest", metadata=metadata)


def texts(message: UserMessage) -> List[str]:
    return [m["text"] for m in message.output_channel.messages]


# --- the authenticated() wrapper --------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_no_token_gets_the_bilingual_login_prompt(verifier, on_new_message: Recorder, users_backend):
    message = user_message(None)
    await authenticated(on_new_message, verifier, keep)(message)
    assert texts(message) == [f"{LOGIN_FR}\n{LOGIN_EN}"]
    assert message.output_channel.messages[0]["recipient_id"] == "browser-1"
    assert on_new_message.messages == []
    assert users_backend.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("lang, expected", [("fr", LOGIN_FR), ("en", LOGIN_EN), ("de", f"{LOGIN_FR}\n{LOGIN_EN}")])
async def test_login_prompt_in_the_page_language(verifier, on_new_message: Recorder, lang, expected):
    message = user_message({"lang": lang})
    await authenticated(on_new_message, verifier, keep)(message)
    assert texts(message) == [expected]
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_invalid_token_gets_the_login_prompt(verifier, on_new_message: Recorder, users_backend):
    message = user_message({"token": "forged", "portal_user": FORGED_USER})
    await authenticated(on_new_message, verifier, keep)(message)
    assert texts(message) == [f"{LOGIN_FR}\n{LOGIN_EN}"]
    assert on_new_message.messages == []
    assert len(users_backend.requests) == 1


@pytest.mark.asyncio
async def test_forged_user_without_token_is_refused(verifier, on_new_message: Recorder):
    message = user_message({"portal_user": FORGED_USER, "lang": "fr"})
    await authenticated(on_new_message, verifier, keep)(message)
    assert texts(message) == [LOGIN_FR]
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_backend_down_gets_the_unavailable_text(verifier, on_new_message: Recorder, users_backend):
    users_backend.state = "down"
    message = user_message({"token": "good-token"})
    await authenticated(on_new_message, verifier, keep)(message)
    assert texts(message) == [f"{DOWN_FR}\n{DOWN_EN}"]
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_backend_down_in_english(verifier, on_new_message: Recorder, users_backend):
    users_backend.state = 500
    message = user_message({"token": "good-token", "lang": "en"})
    await authenticated(on_new_message, verifier, keep)(message)
    assert texts(message) == [DOWN_EN]


@pytest.mark.asyncio
async def test_valid_token_passes_with_the_verified_user(verifier, on_new_message: Recorder):
    original = {"token": "good-token", "portal_user": FORGED_USER, "lang": "fr"}
    message = user_message(original)
    await authenticated(on_new_message, verifier, keep)(message)
    (passed,) = on_new_message.messages
    assert passed.metadata["portal_user"] == PROFILE  # the client's forged identity is replaced
    assert passed.metadata["token"] == "good-token"  # the actions act with the user's own token
    assert passed.metadata["lang"] == "fr"
    assert passed.text == "hello"
    assert texts(message) == []  # no prompt
    assert original["portal_user"] == FORGED_USER  # the client's dict is not mutated


@pytest.mark.asyncio
async def test_rebind_receives_the_verified_metadata(verifier, on_new_message: Recorder):
    seen: List[Dict[str, Any]] = []

    def rebind(message: UserMessage, metadata: Dict[str, Any]) -> UserMessage:
        seen.append(metadata)
        return keep(message, metadata)

    await authenticated(on_new_message, verifier, rebind)(user_message({"token": "good-token"}))
    assert seen == [{"token": "good-token", "portal_user": PROFILE}]


# --- the offer to save the language the user writes in ------------------------------------------------------------
def buttons(message: UserMessage) -> List[Dict[str, Any]]:
    return [b for m in message.output_channel.messages for b in m.get("buttons", [])]


@pytest.mark.asyncio
async def test_writing_in_the_other_language_offers_to_save_it_once(verifier, on_new_message: Recorder):
    wrapped = authenticated(on_new_message, verifier, keep)
    first = user_message({"token": "good-token"}, text="bonjour, je voudrais commander du toner")
    await wrapped(first)
    assert texts(first) == ["Je continue en français. Voulez-vous que le français devienne la langue de votre "
                            "portail ?"]
    assert buttons(first) == [{"title": "Enregistrer le français comme langue",
                               "payload": '/change_language{"language_choice":"fr"}'}]
    again = user_message({"token": "good-token"}, text="merci beaucoup")
    await wrapped(again)
    assert texts(again) == []  # once per conversation
    other_conversation = user_message({"token": "good-token"}, sender="browser-2", text="merci beaucoup")
    await wrapped(other_conversation)
    assert len(texts(other_conversation)) == 1


class SharedStore:
    """What LanguageOffer needs of redis.asyncio.Redis: SET with NX and EX."""

    def __init__(self, fails: bool = False) -> None:
        self.keys: Dict[str, Any] = {}
        self.expiries: List[int] = []
        self.fails = fails

    async def set(self, key: str, value: Any, nx: bool = False, ex: Optional[int] = None) -> Optional[bool]:
        if self.fails:
            raise ConnectionError("redis is down")
        self.expiries.append(ex)
        if nx and key in self.keys:
            return None
        self.keys[key] = value
        return True


@pytest.mark.asyncio
async def test_two_workers_sharing_a_store_make_the_offer_once(verifier, on_new_message: Recorder):
    store = SharedStore()
    workers = [authenticated(on_new_message, verifier, keep, offer_store=store) for _ in range(2)]
    offers = 0
    for turn, text in enumerate(["bonjour, je voudrais commander du toner", "merci beaucoup", "je veux mes tickets",
                                 "merci encore"]):
        message = user_message({"token": "good-token"}, text=text)
        await workers[turn % 2](message)  # a conversation's messages reach either worker
        offers += len(texts(message))
    assert offers == 1
    assert list(store.keys) == ["language_offer:" + user_message({}).sender_id]
    assert store.expiries and all(ex == 30 * 24 * 3600 for ex in store.expiries)


@pytest.mark.asyncio
async def test_offer_still_made_once_per_worker_when_the_shared_store_is_down(verifier, on_new_message: Recorder):
    wrapped = authenticated(on_new_message, verifier, keep, offer_store=SharedStore(fails=True))
    first = user_message({"token": "good-token"}, text="bonjour, je voudrais commander du toner")
    await wrapped(first)
    assert len(texts(first)) == 1
    again = user_message({"token": "good-token"}, text="merci beaucoup")
    await wrapped(again)
    assert texts(again) == []


@pytest.mark.asyncio
async def test_offer_marks_live_in_a_real_redis(verifier, on_new_message: Recorder, tmp_path):
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.skip("redis-server is not installed (scripts/ensure_redis.sh installs it)")
    import redis.asyncio

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        client = redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{port}/2")
        for _ in range(100):
            with contextlib.suppress(Exception):
                if await client.ping():
                    break
            await asyncio.sleep(0.05)
        workers = [authenticated(on_new_message, verifier, keep, offer_store=client) for _ in range(2)]
        messages = [user_message({"token": "good-token"}, text=text) for text in ("bonjour, une question", "merci")]
        for worker, message in zip(workers, messages):
            await worker(message)
        assert [len(texts(m)) for m in messages] == [1, 0]
        assert 0 < await client.ttl("language_offer:" + messages[0].sender_id) <= 30 * 24 * 3600
        await client.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.asyncio
async def test_no_offer_for_the_profile_language_or_unclear_messages(verifier, on_new_message: Recorder):
    wrapped = authenticated(on_new_message, verifier, keep)
    for text in ("I want to order toner", "WHJ01481", "ok", "45300", '/change_language{"language_choice":"fr"}'):
        message = user_message({"token": "good-token"}, text=text)
        await wrapped(message)
        assert texts(message) == [], text


@pytest.mark.asyncio
async def test_no_offer_when_the_message_just_saved_that_language(verifier, on_new_message: Recorder,
                                                                  users_backend: FakeUsersBackend):
    async def saves_french(message: UserMessage) -> None:  # what action_change_language does meanwhile
        await on_new_message(message)
        users_backend.users["good-token"] = dict(users_backend.users["good-token"], language="fr")

    message = user_message({"token": "good-token"}, text="je veux parler en français s'il vous plaît")
    await authenticated(saves_french, verifier, keep)(message)
    assert texts(message) == []


# --- PortalRestInput through a real Sanic app (ASGI, no sanic-testing needed) -----------------------------------
@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Like sanic-testing: lets several apps start in one process (Sanic's TouchUp rewrites methods otherwise).
    monkeypatch.setattr(Sanic, "test_mode", True)


@contextlib.asynccontextmanager
async def rest_app(verifier: IdentityVerifier, on_new_message: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    """The REST blueprint mounted as Rasa mounts it, driven through ASGI (startup/shutdown lifespan included)."""
    app = Sanic(f"rest_test_{uuid.uuid4().hex[:8]}")
    app.blueprint(PortalRestInput(verifier).blueprint(on_new_message), url_prefix="/webhooks/rest")
    lifespan_in: asyncio.Queue = asyncio.Queue()
    lifespan_out: asyncio.Queue = asyncio.Queue()
    await lifespan_in.put({"type": "lifespan.startup"})
    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_in.get,
                                     lifespan_out.put))
    assert (await asyncio.wait_for(lifespan_out.get(), 10))["type"] == "lifespan.startup.complete"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rasa") as client:
            yield client
    finally:
        await lifespan_in.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(lifespan_out.get(), 10))["type"] == "lifespan.shutdown.complete"
        # Sanic 21.12 then treats the finished lifespan scope as a request and fails: nothing left to check.
        with contextlib.suppress(AttributeError):
            await asyncio.wait_for(task, 10)


@pytest.mark.asyncio
async def test_rest_webhook_binds_the_conversation_to_the_user(verifier, users_backend: FakeUsersBackend):
    on_new_message = Recorder(reply="Bonjour !")
    async with rest_app(verifier, on_new_message) as client:
        response = await client.post("/webhooks/rest/webhook", json={
            "sender": "abc", "message": "hello", "metadata": {"token": "good-token", "portal_user": FORGED_USER}})
    assert response.status_code == 200
    assert response.json() == [{"recipient_id": "u2:abc", "text": "Bonjour !"}]
    (passed,) = on_new_message.messages
    assert passed.sender_id == "u2:abc"
    assert passed.input_channel == "rest"
    assert passed.metadata["portal_user"] == PROFILE
    assert users_backend.requests[0].headers["authorization"] == "Bearer good-token"


@pytest.mark.asyncio
async def test_rest_webhook_without_token(verifier):
    on_new_message = Recorder(reply="never")
    async with rest_app(verifier, on_new_message) as client:
        response = await client.post("/webhooks/rest/webhook",
                                     json={"sender": "abc", "message": "bonjour", "metadata": {"lang": "en"}})
        bare = await client.post("/webhooks/rest/webhook", json={"sender": "abc", "message": "bonjour"})
    assert response.json() == [{"recipient_id": "abc", "text": LOGIN_EN}]
    assert bare.json() == [{"recipient_id": "abc", "text": f"{LOGIN_FR}\n{LOGIN_EN}"}]
    assert on_new_message.messages == []


@pytest.mark.asyncio
async def test_rest_webhook_two_users_same_sender_get_separate_conversations(verifier, users_backend):
    from bot_fakes import user_out

    users_backend.users["other-token"] = user_out(user_id=7)
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message) as client:
        for token in ("good-token", "other-token"):
            await client.post("/webhooks/rest/webhook",
                              json={"sender": "shared", "message": "hi", "metadata": {"token": token}})
    assert [m.sender_id for m in on_new_message.messages] == ["u2:shared", "u7:shared"]


@pytest.mark.asyncio
async def test_rest_webhook_health(verifier, on_new_message):
    async with rest_app(verifier, on_new_message) as client:
        response = await client.get("/webhooks/rest/")
    assert response.json() == {"status": "ok"}


def test_rest_from_credentials(monkeypatch: pytest.MonkeyPatch):
    assert PortalRestInput.name() == "rest"
    assert PortalRestInput.from_credentials({"backend_url": "http://backend:8000/"}).verifier.backend_url == \
        "http://backend:8000"
    monkeypatch.setenv("BACKEND_URL", "http://env-backend:8000")
    assert PortalRestInput.from_credentials(None).verifier.backend_url == "http://env-backend:8000"
    assert PortalRestInput().verifier.backend_url == "http://env-backend:8000"


# --- PortalSocketIOInput -------------------------------------------------------------------------------------------
class EmitRecorder:
    def __init__(self) -> None:
        self.emitted: List[Dict[str, Any]] = []

    async def __call__(self, event: str, data: Any = None, room: Optional[str] = None, **kwargs: Any) -> None:
        self.emitted.append({"event": event, "data": data, "room": room, **kwargs})


def socket_channel(verifier: IdentityVerifier, on_new_message: Recorder, monkeypatch: pytest.MonkeyPatch):
    # credentials.yml's settings
    channel = PortalSocketIOInput.from_credentials({
        "user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered", "session_persistence": True,
        "metadata_key": "customData", "backend_url": BACKEND})
    channel.verifier = verifier
    channel.blueprint(on_new_message)
    emit = EmitRecorder()
    monkeypatch.setattr(channel.sio, "emit", emit)
    return channel, channel.sio.handlers["/"]["user_uttered"], emit


def test_socketio_from_credentials():
    channel = PortalSocketIOInput.from_credentials({"backend_url": "http://backend:8000/",
                                                    "session_persistence": True, "metadata_key": "customData"})
    assert isinstance(channel, PortalSocketIOInput)
    assert channel.name() == "socketio"
    assert channel.verifier.backend_url == "http://backend:8000"
    assert (channel.session_persistence, channel.metadata_key) == (True, "customData")


@pytest.mark.asyncio
async def test_socketio_valid_token_binds_user_and_replies_to_the_browser_room(verifier, monkeypatch):
    on_new_message = Recorder(reply="Bonjour !")
    channel, handle, emit = socket_channel(verifier, on_new_message, monkeypatch)
    await handle("sid-1", {"message": "hello", "session_id": "sess-1",
                           "customData": {"token": "good-token", "portal_user": FORGED_USER}})
    (passed,) = on_new_message.messages
    assert passed.sender_id == "u2:sess-1"
    assert passed.input_channel == "socketio"
    assert passed.metadata["portal_user"] == PROFILE
    assert isinstance(passed.output_channel, _RoomOutput)
    # the reply is addressed to the user-bound tracker id but reaches the browser's room
    assert emit.emitted == [{"event": "bot_uttered", "data": {"text": "Bonjour !"}, "room": "sess-1"}]


@pytest.mark.asyncio
async def test_socketio_metadata_sent_as_json_string(verifier, monkeypatch):
    on_new_message = Recorder()
    _, handle, _ = socket_channel(verifier, on_new_message, monkeypatch)
    await handle("sid-1", {"message": "bonjour", "session_id": "sess-1",
                           "customData": json.dumps({"token": "good-token"})})
    assert on_new_message.messages[0].metadata["portal_user"] == PROFILE


@pytest.mark.asyncio
async def test_socketio_without_token_prompts_in_the_room(verifier, monkeypatch):
    on_new_message = Recorder()
    _, handle, emit = socket_channel(verifier, on_new_message, monkeypatch)
    await handle("sid-1", {"message": "bonjour", "session_id": "sess-1", "customData": {"lang": "fr"}})
    assert on_new_message.messages == []
    assert emit.emitted == [{"event": "bot_uttered", "data": {"text": LOGIN_FR}, "room": "sess-1"}]


@pytest.mark.asyncio
async def test_socketio_backend_down(verifier, users_backend, monkeypatch):
    users_backend.state = "down"
    on_new_message = Recorder()
    _, handle, emit = socket_channel(verifier, on_new_message, monkeypatch)
    await handle("sid-1", {"message": "bonjour", "session_id": "sess-1",
                           "customData": {"token": "good-token", "lang": "en"}})
    assert on_new_message.messages == []
    assert [e["data"]["text"] for e in emit.emitted] == [DOWN_EN]


@pytest.mark.asyncio
async def test_room_output_sends_buttons_to_the_room():
    emit = EmitRecorder()
    original = type("Out", (), {"sio": type("Sio", (), {"emit": emit})(), "bot_message_evt": "bot_uttered"})()
    output = _RoomOutput(original, "sess-9")
    await output.send_text_with_buttons("u2:sess-9", "Choisissez", [{"title": "Oui", "payload": "/affirm"}])
    assert emit.emitted == [{"event": "bot_uttered", "room": "sess-9", "data": {
        "text": "Choisissez",
        "quick_replies": [{"content_type": "text", "title": "Oui", "payload": "/affirm"}]}}]


@pytest.mark.asyncio
async def test_room_output_sends_custom_json_to_the_room():
    emit = EmitRecorder()
    original = type("Out", (), {"sio": type("Sio", (), {"emit": emit})(), "bot_message_evt": "bot_uttered"})()
    await _RoomOutput(original, "sess-9").send_custom_json("u2:sess-9", {"data": {"kind": "card"}})
    assert emit.emitted[0]["room"] == "sess-9"
