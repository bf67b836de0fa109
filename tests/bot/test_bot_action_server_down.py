"""Every action server unreachable during a turn (bot/action_failures.py), with the trained model and the real
actions (rasa-sdk's executor behind a local HTTP endpoint, the portal faked as in tests/actions): the user is told
to send the message again in their language, on each channel its own way, the stored conversation is exactly what
it was before the message, and sending it again once the action server is back continues at the same question;
a submission whose answer was lost is stored once. The same on the multi-process stack: tests/faults."""
from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
import aiohttp.web
import pytest
from sanic import Sanic

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / "tests" / "actions"))  # the fake portal of the action tests

import actions.backend_client as backend_client  # noqa: E402
import actions.session as session  # noqa: E402
import fakes_meters  # noqa: E402
from actions_fakes import ASSET_C5030, BASE_URL, TOKEN, FakePortal  # noqa: E402
from bot.action_failures import ActionServerUnavailable, failing_turn, unavailability  # noqa: E402
from bot.channels.dedup import MessageDedup  # noqa: E402
from bot.channels.rest import PortalRestInput  # noqa: E402  (installs bot/action_failures.py, as Rasa's start-up)
from bot.identity import IdentityLayer, edge_message  # noqa: E402
from bot_fakes import channel_app  # noqa: E402

MODEL = ROOT / "models" / "portal.tar.gz"
OPEN_FORM = "I'd like to enter my meter readings"
RETRY = {lang: edge_message("turn_failed", lang) for lang in ("fr", "en")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ActionServer:
    """rasa-sdk's executor with the project's actions behind POST /webhook on a fixed local port (as `rasa run
    actions` answers it). `mode`: "up", "503" (what the balancer answers with no action server left), "drop" (runs the
    action named `drop`, then the connection is cut before the answer: the action server died mid-request)."""

    def __init__(self, port: int) -> None:
        from rasa_sdk.executor import ActionExecutor

        self.port, self.mode, self.calls, self.drop = port, "up", [], ""
        self.executor = ActionExecutor()
        self.executor.register_package("actions")
        self.runner: Optional[aiohttp.web.AppRunner] = None

    async def webhook(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        body = await request.json()
        self.calls.append(body["next_action"])
        if self.mode == "503":
            return aiohttp.web.Response(status=503, text="No server is available to handle this request.")
        result = await self.executor.run(body)
        if self.mode == "drop" and body["next_action"] == self.drop:
            request.transport.close()
        return aiohttp.web.json_response(result)

    async def start(self) -> None:
        app = aiohttp.web.Application()
        app.router.add_post("/webhook", self.webhook)
        self.runner = aiohttp.web.AppRunner(app)
        await self.runner.setup()
        await aiohttp.web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture(scope="module")
def agent_and_port():
    assert MODEL.exists(), "train first: make model"
    from rasa.core.agent import Agent
    from rasa.core.lock_store import InMemoryLockStore
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.utils.endpoints import EndpointConfig

    port = free_port()
    agent = Agent.load(str(MODEL), tracker_store=InMemoryTrackerStore(None), lock_store=InMemoryLockStore(),
                       action_endpoint=EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
    return agent, port


@pytest.fixture
def world(agent_and_port, monkeypatch: pytest.MonkeyPatch):
    """The agent, the action server (not started) and the portal its actions talk to (one device: the form asks
    its meters straight away)."""
    monkeypatch.setattr(Sanic, "test_mode", True)
    portal = FakePortal()
    portal.assets = [ASSET_C5030]
    meters = fakes_meters.install(portal)
    backend_client._taxonomy_cache.clear()
    monkeypatch.setattr(backend_client, "default_transport", lambda: portal.transport)
    monkeypatch.setenv("BACKEND_URL", BASE_URL)
    monkeypatch.delenv("BACKEND_PUBLIC_URL", raising=False)
    monkeypatch.delenv("NLU_KEY", raising=False)
    monkeypatch.delenv("NLU_KEY_FILE", raising=False)
    monkeypatch.setattr(session, "assistant_token", lambda identity: TOKEN if identity.get("id") else "")
    agent, port = agent_and_port
    return agent, ActionServer(port), portal, meters


async def events_of(agent: Any, sender: str) -> List[Dict[str, Any]]:
    tracker = await agent.tracker_store.retrieve(sender)
    return [event.as_dict() for event in tracker.events] if tracker else []


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(reply.get("text") or "" for reply in replies)


# --- what counts as "no action server" ---------------------------------------------------------------------------
def test_what_counts_as_no_action_server():
    from aiohttp.client_reqrep import ConnectionKey, RequestInfo
    from multidict import CIMultiDict, CIMultiDictProxy
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import ClientResponseError
    from yarl import URL

    def raised_by_rasa(error: BaseException, chained: str) -> RasaException:
        """As RemoteAction.run raises: inside its `except` (context) or `from` the aiohttp error (cause)."""
        try:
            try:
                raise error
            except BaseException as inner:
                if chained == "cause":
                    raise RasaException("Failed to execute custom action") from inner
                raise RasaException("Failed to execute custom action")
        except RasaException as outer:
            return outer

    info = RequestInfo(URL("http://actions/webhook"), "POST", CIMultiDictProxy(CIMultiDict()))
    key = ConnectionKey("actions", 5055, False, None, None, None, None)
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))
    assert unavailability(raised_by_rasa(refused, "context")) == "ClientConnectorError"
    assert unavailability(raised_by_rasa(aiohttp.ServerDisconnectedError(), "context")) == "ServerDisconnectedError"
    for status in (502, 503, 504):  # Rasa's own ClientResponseError (EndpointConfig.request), and aiohttp's
        assert unavailability(raised_by_rasa(ClientResponseError(status, "Service Unavailable", ""), "cause"))
        assert unavailability(raised_by_rasa(aiohttp.ClientResponseError(info, (), status=status), "cause"))
    assert unavailability(asyncio.TimeoutError()) == "timeout"
    # an action that ran and failed, or was rejected, keeps Rasa's behaviour
    assert unavailability(raised_by_rasa(ClientResponseError(500, "Internal Server Error", ""), "cause")) is None
    assert unavailability(raised_by_rasa(aiohttp.ClientResponseError(info, (), status=500), "cause")) is None
    assert unavailability(raised_by_rasa(aiohttp.ClientResponseError(info, (), status=404), "cause")) is None
    assert unavailability(RasaException("Failed to execute custom action")) is None
    assert unavailability(ValueError("bad response")) is None


@pytest.mark.asyncio
async def test_outside_a_channel_turn_rasa_keeps_its_behaviour():
    """Rasa's HTTP API, `rasa shell`, reminders: the failed action raises Rasa's own RasaException (which its
    processor logs and skips); only within a channel's turn does it stop the turn."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import EndpointConfig

    action = RemoteAction("action_anything", EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook"))
    domain = Domain.empty()
    arguments = (CollectingOutputChannel(), None, DialogueStateTracker("s", []), domain)
    with pytest.raises(RasaException):
        await action.run(*arguments)
    with failing_turn(), pytest.raises(ActionServerUnavailable) as stopped:
        await action.run(*arguments)
    assert not isinstance(stopped.value, Exception)  # passes the processor's `except Exception`


# --- REST, with the trained model -------------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("outage", ["stopped", "503"])
async def test_rest_turn_without_action_server_is_refused_whole_and_sending_it_again_continues(world, verifier,
                                                                                              outage):
    agent, actions, _, _ = world
    rest = PortalRestInput(IdentityLayer("rest", verifier), MessageDedup())
    sender = f"meters-{outage}"
    conversation = f"u2:{sender}"

    async def say(client: Any, text: str, message_id: Optional[str] = None) -> List[Dict[str, Any]]:
        body = {"sender": sender, "message": text, "metadata": {"token": "good-token"}}
        if message_id:
            body["message_id"] = message_id
        answer = await client.post("/webhooks/rest/webhook", json=body)
        assert answer.status_code == 200
        return answer.json()

    await actions.start()
    try:
        async with channel_app(rest, agent.handle_message) as client:
            opened = texts(await say(client, OPEN_FORM))
            assert "Meter 112" in opened and "what is the new value?" in opened, opened
            before = await events_of(agent, conversation)
            if outage == "stopped":
                await actions.stop()  # connection refused
            else:
                actions.mode = "503"  # the balancer has no action server left
            calls = len(actions.calls)
            failed = await say(client, "15500", message_id="answer-112")
            assert failed == [{"recipient_id": sender, "text": RETRY["en"]}]  # the user's language only
            assert await events_of(agent, conversation) == before  # nothing of the turn was stored
            assert not agent.lock_store.is_someone_waiting(conversation)
            assert agent.lock_store.get_lock(conversation) is None  # the conversation's lock was released
            if outage == "503":
                assert actions.calls[calls:] == ["validate_meter_reading_form"]  # stopped at the first failure
                actions.mode = "up"
            else:
                await actions.start()
            # sent again (the client's retry keeps the message id): the form takes the answer and asks the next
            again = texts(await say(client, "15500", message_id="answer-112"))
            assert "Meter 113" in again and "what is the new value?" in again, again
            events = await events_of(agent, conversation)
            assert events[:len(before)] == before
            assert [e.get("text") for e in events[len(before):] if e["event"] == "user"] == ["15500"]  # once
    finally:
        await actions.stop()


@pytest.mark.asyncio
async def test_a_french_user_is_told_in_french(world, users_backend, verifier):
    from bot_fakes import user_out

    agent, _, _, _ = world  # the action server is not running
    users_backend.users["good-token"] = user_out(language="fr")
    async with channel_app(PortalRestInput(IdentityLayer("rest", verifier), MessageDedup()), agent.handle_message) \
            as client:
        answer = await client.post("/webhooks/rest/webhook", json={
            "sender": "fr", "message": "je voudrais saisir mes relevés de compteurs", "metadata": {"token": "good-token"}})
    assert answer.json() == [{"recipient_id": "fr", "text": RETRY["fr"]}]
    assert await events_of(agent, "u2:fr") == []


@pytest.mark.asyncio
async def test_a_submission_whose_answer_was_cut_off_is_stored_once_after_sending_again(world, verifier):
    """The action server submits the readings, then dies before answering: the turn fails (its events never reach
    the conversation), the user sends "yes" again and the same idempotency key makes the backend take it once."""
    agent, actions, portal, meters = world
    rest = PortalRestInput(IdentityLayer("rest", verifier), MessageDedup())
    sender, conversation = "meters-cut", "u2:meters-cut"
    values = {"112": 15500, "113": 88600, "122": 4300, "123": 61300}

    async def say(client: Any, text: str) -> str:
        answer = await client.post("/webhooks/rest/webhook", json={
            "sender": sender, "message": text, "metadata": {"token": "good-token"}})
        return texts(answer.json())

    await actions.start()
    try:
        async with channel_app(rest, agent.handle_message) as client:
            said = await say(client, OPEN_FORM)
            for code in ("112", "113", "122", "123"):
                assert f"Meter {code}" in said, said
                said = await say(client, str(values[code]))
            assert "submit" in said.lower(), said
            before = await events_of(agent, conversation)
            actions.mode, actions.drop = "drop", "action_submit_meter_reading"
            calls = len(actions.calls)
            assert await say(client, "yes") == RETRY["en"]
            assert actions.calls[calls:] == ["validate_meter_reading_form", "action_submit_meter_reading"]
            assert await events_of(agent, conversation) == before
            actions.mode = "up"
            done = await say(client, "yes")
            assert "recorded" in done, done
    finally:
        await actions.stop()
    posts = [r for r in portal.requests if r["method"] == "POST" and r["path"].endswith("/meter-readings")]
    assert len(posts) == 2 and len({r["headers"].get("idempotency-key") for r in posts}) == 1, posts
    assert [value for _, value, _ in meters.readings["53463252"]["112"]].count(15500) == 1
    assert len(meters.submissions) == 1


# --- Teams and the phone: the same failure, each channel's own answer -------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("linked", [True, False])
async def test_teams_tells_the_user_and_keeps_nothing_of_the_turn(world, linked):
    from microsoft_mock import MicrosoftMock
    from test_bot_teams import Links, activity, send, teams

    agent, _, _, _ = world  # the action server is not running
    links = Links()
    if not linked:
        links.links.clear()  # an unlinked Teams user: the anonymous identity, knowledge questions only
    text = OPEN_FORM if linked else "how do I replace the toner?"
    with MicrosoftMock() as microsoft:
        async with teams(microsoft, agent.handle_message, links) as (adapter, client):
            assert (await send(client, microsoft, activity(microsoft, text))).status_code == 200
            await adapter.idle()
        assert microsoft.texts() == ["typing", RETRY["en"]]  # the user's language (en-GB locale, English profile)
    prefix = "u2:teams:" if linked else "unverified:teams:"
    stored = [key for key in await agent.tracker_store.keys() if key.startswith(prefix)]
    assert len(stored) == 1  # Rasa creates a new conversation's (empty) record when it first reads it...
    assert await events_of(agent, stored[0]) == []  # ...and nothing of the failed turn was stored in it


@pytest.mark.asyncio
async def test_the_phone_apologises_and_asks_the_same_question_again(world):
    from test_bot_voice import Assistant, Caller, phone, spoken, verified

    agent, actions, _, _ = world

    class Rasa(Assistant):
        async def __call__(self, message: Any) -> None:
            self.messages.append(message)
            await agent.handle_message(message)

    assistant = Rasa()
    async with phone(assistant) as (_, client):
        caller = Caller(client, call="CA-down")
        await verified(caller)
        answer = await caller.send(SpeechResult=OPEN_FORM)
    said = spoken(answer)
    assert said.startswith("Sorry, a technical problem stopped me from handling your request. Could you say it "
                           "again?"), said
    assert "What can I do for you?" in said and answer.find("Gather") is not None  # the question before it
    assert await events_of(agent, assistant.messages[0].sender_id) == []
