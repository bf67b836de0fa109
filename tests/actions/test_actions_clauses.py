"""Two requests in one message (actions/clauses.py): the form's opening turn keeps the other request, read part by
part by the assistant's parse service; once the form is submitted or cancelled, it is offered with one button that
sends the user's own words again."""
from __future__ import annotations

import json
from typing import Any, Dict, List

import httpx
import pytest

import actions.clauses as clauses
from actions.clauses import SLOT, find_also_asked, parts_of
from actions.meters import FORM, ActionSubmitMeterReading, ValidateMeterReadingForm
from actions.submission import ActionCancelForm
from actions_fakes import FakePortal, message, responses, run, slot_values
from fakes_meters import MeterBackend, install

pytestmark = pytest.mark.asyncio

READINGS_AND_CONTRACT = ("j'ai les compteurs de la WHJ01481 : 112 = 2450, 113 = 41 300. Et sinon elle est sous "
                         "contrat jusqu'à quand la machine ?")
CONTRACT_PART = "elle est sous contrat jusqu'à quand la machine ?"


class FakeParseService:
    """The Rasa side's /webhooks/nlu/parse: an intent per part, by a word of the part."""

    def __init__(self, intents: Dict[str, tuple], status: int = 200) -> None:
        self.intents, self.status, self.calls = intents, status, []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.calls.append({"texts": body["texts"], "authorization": request.headers.get("authorization")})
        if self.status != 200:
            return httpx.Response(self.status, json={"code": "model_not_ready"})
        results = []
        for text in body["texts"]:
            intent, confidence = next((v for word, v in self.intents.items() if word in text), ("inform", 0.5))
            results.append({"intent": intent, "confidence": confidence, "entities": []})
        return httpx.Response(200, json={"results": results})


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> FakeParseService:
    fake = FakeParseService({"compteurs": ("submit_meter_reading", 0.97), "contrat": ("device_info", 0.99)})
    monkeypatch.setenv("NLU_KEY", "nlu-test-key")
    monkeypatch.setenv("RASA_URL", "http://rasa.test")
    monkeypatch.setattr(clauses, "TRANSPORT", httpx.MockTransport(fake.handler))
    return fake


@pytest.fixture
def meters(portal: FakePortal) -> MeterBackend:
    return install(portal)


@pytest.mark.parametrize(("text", "parts"), [
    (READINGS_AND_CONTRACT, ["j'ai les compteurs de la WHJ01481 : 112 = 2450, 113 = 41 300", CONTRACT_PART]),
    ("the printer on the 2nd floor is jamming again. Also please order two black toners",
     ["the printer on the 2nd floor is jamming again", "please order two black toners"]),
    ("voici les relevés de l'accueil, au fait il me faudrait du toner noir",
     ["voici les relevés de l'accueil", "il me faudrait du toner noir"]),
    ("bourrage sur la machine du 1er, je vois rien en ouvrant la porte. au passage elle est sous contrat jusqu'à quand ?",
     ["bourrage sur la machine du 1er, je vois rien en ouvrant la porte", "elle est sous contrat jusqu'à quand ?"]),
    ("the reception printer keeps jamming, while I'm at it can you tell me when our contract ends",
     ["the reception printer keeps jamming", "can you tell me when our contract ends"]),
    # one request: nothing to read part by part ("merci d'avance" is no request of its own)
    ("il y a un bourrage dans le bac 2 de la machine de l'accueil. Merci d'avance", []),
    ("la machine fait un bruit bizarre depuis ce matin", []),
])
async def test_parts_of_a_message(text: str, parts: List[str]):
    assert parts_of(text) == parts


async def test_the_other_request_is_kept_on_the_opening_turn(portal, meters, service, make_tracker, domain):
    tracker = make_tracker(READINGS_AND_CONTRACT, intent="submit_meter_reading", active_loop=FORM,
                           entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots[SLOT] == {"text": CONTRACT_PART, "intent": "device_info"}
    assert slots["meter_values"] == {"112": 2450, "113": 41300}  # the form read its own part as before
    assert service.calls == [{"texts": parts_of(READINGS_AND_CONTRACT), "authorization": "Bearer nlu-test-key"}]
    assert "utter_also_asked" not in responses(dispatcher)  # offered only once the form is done


@pytest.mark.parametrize(("intents", "status"), [
    ({"compteurs": ("submit_meter_reading", 0.97), "contrat": ("device_info", 0.55)}, 200),  # unsure: not kept
    ({"compteurs": ("submit_meter_reading", 0.97), "contrat": ("thank", 0.99)}, 200),  # no request of its own
    ({"compteurs": ("submit_meter_reading", 0.97), "contrat": ("submit_meter_reading", 0.9)}, 200),  # the same
    ({"compteurs": ("order_consumables", 0.97), "contrat": ("device_info", 0.99)}, 200),  # no part is the form's
    # a sibling of the form's request: the same request told in two sentences, not a second one
    ({"compteurs": ("submit_meter_reading", 0.97), "contrat": ("query_meter_reading", 0.95)}, 200),
    ({}, 503),  # the parse service cannot answer: the form goes on as before
])
async def test_nothing_is_kept_unless_a_part_clearly_asks_for_something_else(portal, meters, service, make_tracker,
                                                                           intents, status):
    service.intents, service.status = intents, status
    tracker = make_tracker(READINGS_AND_CONTRACT, intent="submit_meter_reading", active_loop=FORM)
    assert await find_also_asked(tracker, FORM) is None


async def test_without_the_key_nothing_is_asked(portal, meters, service, make_tracker, monkeypatch):
    monkeypatch.delenv("NLU_KEY")
    tracker = make_tracker(READINGS_AND_CONTRACT, intent="submit_meter_reading", active_loop=FORM)
    assert await find_also_asked(tracker, FORM) is None
    assert service.calls == []


async def test_a_button_or_a_later_turn_is_not_read(portal, meters, service, make_tracker):
    button = make_tracker('/submit_meter_reading', intent="submit_meter_reading", active_loop=FORM)
    kept = make_tracker(READINGS_AND_CONTRACT, intent="submit_meter_reading", active_loop=FORM,
                        slots={SLOT: {"text": "déjà gardé", "intent": "case_status"}})
    assert await find_also_asked(button, FORM) is None
    assert await find_also_asked(kept, FORM) is None
    assert service.calls == []


def submitted_tracker(make_tracker, meters: MeterBackend, text: str = "oui", intent: str = "affirm", **slots: Any):
    values = {"meter_asset": "77996101", "meter_asset_label": "x", "meter_values": {"112": 2450, "113": 41300},
              "meter_current": "done", "meter_confirm": True, "submission_key": "key-also",
              "meter_list": [{"code": "112", "label": {"fr": "112", "en": "112"}, "last": 1000},
                             {"code": "113", "label": {"fr": "113", "en": "113"}, "last": 1000}],
              SLOT: {"text": CONTRACT_PART, "intent": "device_info"}, **slots}
    return make_tracker(text, intent=intent, slots=values, active_loop=None)


async def test_offered_after_the_submission_with_the_users_own_words(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitMeterReading(), submitted_tracker(make_tracker, meters), domain)
    assert responses(dispatcher)[-1] == "utter_also_asked"
    offer = message(dispatcher, "utter_also_asked")
    assert offer["asked"] == CONTRACT_PART
    assert offer["buttons"] == [{"title": "Oui, allons-y", "payload": CONTRACT_PART}]
    assert slot_values(events)[SLOT] is None  # offered once


async def test_offered_after_a_cancel_in_english(portal, meters, make_tracker, domain):
    tracker = submitted_tracker(make_tracker, meters, "cancel", "cancel", language="en")
    tracker.events.append({"event": "active_loop", "name": FORM})
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled", "utter_also_asked"]
    assert message(dispatcher, "utter_also_asked")["buttons"][0]["title"] == "Yes, go ahead"
    assert slot_values(events)[SLOT] is None


async def test_not_offered_when_the_form_done_was_that_request(portal, meters, make_tracker, domain):
    # the other request was itself a meter reading (the user went to it through a switch): nothing left to offer
    tracker = submitted_tracker(make_tracker, meters, **{SLOT: {"text": "voici les relevés", "intent":
                                                               "submit_meter_reading"}})
    dispatcher, events = await run(ActionSubmitMeterReading(), tracker, domain)
    assert "utter_also_asked" not in responses(dispatcher)
    assert slot_values(events)[SLOT] is None


async def test_the_response_exists_in_both_languages(domain):
    variations = domain["responses"]["utter_also_asked"]
    assert {bool(v.get("condition")) for v in variations} == {True, False}
    assert all("{asked}" in v["text"] for v in variations)
