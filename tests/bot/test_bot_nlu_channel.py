"""bot/channels/nlu.py: the action server's way to read a message part by part. Only a caller with NLU_KEY gets an
answer; it answers intent, confidence and entities per text and touches no conversation."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from sanic import Sanic

from bot.channels.nlu import MAX_TEXTS, NluParseInput
from bot_fakes import Recorder, channel_app

KEY = "nlu-key-for-tests-0123456789"


@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


class FakeAgent:
    def __init__(self, ready: bool = True) -> None:
        self.ready, self.parsed = ready, []

    def is_ready(self) -> bool:
        return self.ready

    async def parse_message(self, text: str) -> Dict[str, Any]:
        self.parsed.append(text)
        intent = "device_info" if "contrat" in text else "submit_meter_reading"
        return {"text": text, "intent": {"name": intent, "confidence": 0.93},
                "intent_ranking": [{"name": intent, "confidence": 0.93}],
                "entities": [{"entity": "asset_ref", "value": "WHJ01481", "start": 0, "end": 8, "extractor": "DIET"}]}


async def call(body: Any, key: str = KEY, agent: Any = None, configured: str = KEY, headers: Any = None):
    recorder = Recorder()
    agent = agent or FakeAgent()
    async with channel_app(NluParseInput(configured), recorder, agent) as client:
        reply = await client.post("/webhooks/nlu/parse", json=body,
                                  headers=headers if headers is not None else {"Authorization": f"Bearer {key}"})
    assert recorder.messages == []  # never a message to the assistant: no conversation is touched
    return reply, agent


@pytest.mark.asyncio
async def test_each_text_gets_its_intent_and_entities():
    reply, agent = await call({"texts": ["voici les compteurs 112 = 2450", "jusqu'à quand le contrat ?"]})
    assert reply.status_code == 200
    assert reply.json() == {"results": [
        {"intent": "submit_meter_reading", "confidence": 0.93, "entities": [{"entity": "asset_ref", "value": "WHJ01481"}]},
        {"intent": "device_info", "confidence": 0.93, "entities": [{"entity": "asset_ref", "value": "WHJ01481"}]},
    ]}
    assert agent.parsed == ["voici les compteurs 112 = 2450", "jusqu'à quand le contrat ?"]


@pytest.mark.asyncio
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY}])
async def test_without_the_key_nothing_is_parsed(headers: Dict[str, str]):
    reply, agent = await call({"texts": ["jusqu'à quand le contrat ?"]}, headers=headers)
    assert reply.status_code == 401
    assert agent.parsed == []


@pytest.mark.asyncio
async def test_no_key_configured_refuses_every_call():
    reply, agent = await call({"texts": ["jusqu'à quand le contrat ?"]}, key="", configured="")
    assert reply.status_code == 503
    assert agent.parsed == []


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [
    {}, {"texts": []}, {"texts": "une phrase"}, {"texts": ["ok", 3]}, {"texts": ["   "]},
    {"texts": ["x" * 601]}, {"texts": ["une partie"] * (MAX_TEXTS + 1)}, ["une partie"],
])
async def test_bad_bodies_are_refused(body: Any):
    reply, agent = await call(body)
    assert reply.status_code == 422
    assert agent.parsed == []


@pytest.mark.asyncio
async def test_a_model_not_loaded_yet_is_said():
    reply, agent = await call({"texts": ["jusqu'à quand le contrat ?"]}, agent=FakeAgent(ready=False))
    assert reply.status_code == 503
    assert agent.parsed == []
