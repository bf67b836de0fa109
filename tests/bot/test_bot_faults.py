"""What the channel layer does when a message arrives twice or a turn fails (issue 19; the same against the real
multi-process stack in tests/faults): a client's retry of the same message id is answered with the first answer and
reaches the assistant once; a turn that fails gets a message asking to send it again, and its retry is taken;
Rasa's tracker store gets pool_pre_ping and no longer falls back to an empty or in-memory conversation."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sanic import Sanic

from bot.channels.dedup import MessageDedup
from bot.channels.rest import PortalRestInput
from bot.identity import IdentityLayer
from bot_fakes import Recorder, channel_app

RETRY_EN = ("A technical problem stopped me from handling your message. Please send it again in a moment: we will "
            "carry on where we left off.")


@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


def rest_app(verifier, on_new_message, dedup: MessageDedup):
    return channel_app(PortalRestInput(IdentityLayer("rest", verifier), dedup), on_new_message)


def body(message_id: Any = "m-1", text: str = "yes", sender: str = "abc") -> dict:
    return {"sender": sender, "message": text, "metadata": {"token": "good-token"}, "message_id": message_id}


class SlowRecorder(Recorder):
    async def __call__(self, message: Any) -> None:
        await asyncio.sleep(0.2)
        await super().__call__(message)


@pytest.mark.asyncio
async def test_the_same_message_id_delivered_twice_reaches_the_assistant_once(verifier):
    on_new_message = SlowRecorder(reply="Done: case CS0000001")
    async with rest_app(verifier, on_new_message, MessageDedup(poll_seconds=0.01)) as client:
        # a retry while the first is still running, and one after it answered
        first, during = await asyncio.gather(client.post("/webhooks/rest/webhook", json=body()),
                                             client.post("/webhooks/rest/webhook", json=body()))
        after = await client.post("/webhooks/rest/webhook", json=body())
        other = await client.post("/webhooks/rest/webhook", json=body("m-2"))
        no_id = await client.post("/webhooks/rest/webhook", json={**body(), "message_id": None})
    assert first.json() == during.json() == after.json() == [{"recipient_id": "u2:abc", "text": "Done: case CS0000001"}]
    assert len(on_new_message.messages) == 3  # m-1 once, m-2, and the message without an id
    assert on_new_message.messages[0].message_id == "m-1"


@pytest.mark.asyncio
async def test_message_ids_are_per_conversation(verifier):
    on_new_message = Recorder(reply="ok")
    async with rest_app(verifier, on_new_message, MessageDedup()) as client:
        await client.post("/webhooks/rest/webhook", json=body(sender="a"))
        await client.post("/webhooks/rest/webhook", json=body(sender="b"))
    assert [m.sender_id for m in on_new_message.messages] == ["u2:a", "u2:b"]


@pytest.mark.asyncio
@pytest.mark.parametrize("message_id", ["", "x" * 129, 12, ["m"]])
async def test_a_bad_message_id_is_refused(verifier, message_id):
    on_new_message = Recorder()
    async with rest_app(verifier, on_new_message, MessageDedup()) as client:
        answer = await client.post("/webhooks/rest/webhook", json=body(message_id))
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_body"
    assert not on_new_message.messages


class FailingOnce(Recorder):
    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if len(self.messages) == 1:
            raise RuntimeError("tracker store unreachable")
        await message.output_channel.send_text_message(message.sender_id, "Meter 113: what is the new value?")


@pytest.mark.asyncio
async def test_a_failed_turn_asks_to_send_again_and_the_retry_is_taken(verifier):
    on_new_message = FailingOnce()
    async with rest_app(verifier, on_new_message, MessageDedup()) as client:
        failed = await client.post("/webhooks/rest/webhook", json=body(text="15730"))
        retried = await client.post("/webhooks/rest/webhook", json=body(text="15730"))
    assert failed.status_code == 200 and failed.headers["content-type"].startswith("application/json")
    assert failed.json() == [{"recipient_id": "abc", "text": RETRY_EN}]  # the user's language (en)
    assert retried.json() == [{"recipient_id": "u2:abc", "text": "Meter 113: what is the new value?"}]
    assert len(on_new_message.messages) == 2


@pytest.mark.asyncio
async def test_dedup_without_redis_keeps_answers_in_the_process():
    dedup = MessageDedup(ttl=60)
    key = dedup.key("rest", "u2:abc", "m-1")
    assert await dedup.claim(key) is None
    await dedup.answer(key, [{"text": "hi"}])
    assert await dedup.claim(key) == [{"text": "hi"}]
    await dedup.release(key)
    assert await dedup.claim(key) is None


def test_rasa_sql_tracker_store_pre_pings_and_never_falls_back_silently():
    import rasa.core.tracker_store as tracker_store

    import bot.channels  # noqa: F401  (installs bot/conversation_store.py)
    from bot.conversation_store import ConversationStoreUnavailable

    assert tracker_store.create_engine_kwargs("postgresql://u@h/db")["pool_pre_ping"] is True

    class Broken(tracker_store.InMemoryTrackerStore):
        async def retrieve(self, sender_id):
            raise OSError("connection refused")

        async def save(self, tracker):
            raise OSError("connection refused")

    store = tracker_store.FailSafeTrackerStore(Broken(None))
    with pytest.raises(ConversationStoreUnavailable):
        asyncio.run(store.retrieve("u2:abc"))
    from rasa.shared.core.trackers import DialogueStateTracker

    with pytest.raises(ConversationStoreUnavailable):
        asyncio.run(store.save(DialogueStateTracker("u2:abc", [])))
    assert store._fallback_tracker_store is None  # nothing kept in this process's memory
