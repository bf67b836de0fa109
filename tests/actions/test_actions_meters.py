"""Meter readings (actions/meters.py): reading values in messages, both forms' extraction and validation, the
ask actions, the submissions (payload, Idempotency-Key, retry after an outage, refusal) and the reset."""
from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import asset_label
from actions.meters import (
    EXTRA_SLOTS, FORM, QUERY_EXTRA_SLOTS, QUERY_FORM, ActionAskMeterAsset, ActionAskMeterConfirm,
    ActionAskMeterCurrent, ActionAskMeterQueryCode, ActionAskMeterQueryConfirm, ActionAskMeterQueryDescription,
    ActionSubmitMeterQuery, ActionSubmitMeterReading, ValidateMeterQueryForm, ValidateMeterReadingForm,
    compact_meter, fmt_date, fmt_number, gives_guide_readings, implausible, meter_pairs, parse_pairs, parse_value,
    said_numbers,
)
from actions.forms import SUMMARY_QUESTIONS
from actions.submission import ActionCancelForm, ActionRetrySubmit
from actions_fakes import (
    run, message, assert_switch_request_forgotten, opening_tracker, ASSET_C5030, ASSET_C5560, ASSET_C5560B, ROOT,
    STARTS, FakePortal, responses, slot_values,
)
from fakes_meters import MeterBackend, install

pytestmark = pytest.mark.asyncio

LABEL_C5560 = asset_label(ASSET_C5560)
LABEL_C5030 = asset_label(ASSET_C5030)
LABEL_C5560B = asset_label(ASSET_C5560B)
CODES = ["112", "113", "122", "123"]
SUBMIT_SLOTS = ("meter_asset", "meter_current", "meter_confirm", *EXTRA_SLOTS)
QUERY_SLOTS = ("meter_query_asset", "meter_query_code", "meter_query_description", "meter_query_confirm",
               *QUERY_EXTRA_SLOTS)


@pytest.fixture
def meters(portal: FakePortal) -> MeterBackend:
    return install(portal)


def meter_list(meters: MeterBackend, asset: str) -> List[Dict[str, Any]]:
    """meter_list as the form stores it (compact_meter of GET /assets/{ref}/meters)."""
    out = []
    for code in meters.readings[asset]:
        out.append(compact_meter(meters._meter_out(asset, code, "fr")))
    return out


def submit_slots(meters: MeterBackend, asset: str = "77996101", **extra: Any) -> Dict[str, Any]:
    label = {"77996101": LABEL_C5560, "53463252": LABEL_C5030, "80145861": LABEL_C5560B}[asset]
    return {"meter_asset": asset, "meter_asset_label": label, "meter_list": meter_list(meters, asset),
            "meter_values": {}, **extra}






# --- reading numbers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("45300", ("value", 45300)), ("45 300", ("value", 45300)), ("45.300", ("value", 45300)),
    ("45,300", ("value", 45300)), ("45'300", ("value", 45300)), ("45\u00a0300", ("value", 45300)),
    ("1 234 567", ("value", 1234567)), ("c'est 45300.", ("value", 45300)),
    ("le compteur affiche 45 300 pages", ("value", 45300)), ("0", ("value", 0)),
    ("45,5", ("decimal", None)), ("45.3", ("decimal", None)), ("-5", ("negative", None)),
    ("moins 5", ("value", 5)),  # spelled-out minus is not a minus sign: refused later only if lower
    ("45300 12000", ("several", None)), ("2 450, 41 300", ("several", None)), ("12/03", ("several", None)),
    ("pareil", ("keep", None)), ("Inchangé", ("keep", None)), ("same as last time", ("keep", None)),
    ("unchanged", ("keep", None)), ("passer", ("skip", None)), ("skip", ("skip", None)),
    ("je ne l'ai pas", ("skip", None)), ("don't know", ("skip", None)),
    ("oui", ("none", None)), ("bof", ("none", None)), ("", ("none", None)),
    # corrected in the same answer: the last value
    ("41 120, non pardon 41 920", ("value", 41920)), ("41,120, then corrected to 41,920", ("value", 41920)),
    ("2455 sorry I mean 2545", ("value", 2545)), ("non, 2545", ("value", 2545)),
    # set against the wrong one: the first
    ("pardon, j'ai inversé deux chiffres : c'est 2 920, pas 2 290.", ("value", 2920)),
    ("41,920 not 41,290", ("value", 41920)), ("2920 au lieu de 2290", ("value", 2920)),
    ('/inform{"meter_code":"112"}', ("none", None)),
])
async def test_parse_value(text, expected):
    assert parse_value(text) == expected


@pytest.mark.parametrize(("text", "pairs", "unknown"), [
    ("112: 45300, 113: 12000", [("112", "value", 45300), ("113", "value", 12000)], []),
    ("112 : 2 450 113 : 41 300", [("112", "value", 2450), ("113", "value", 41300)], []),
    ("112:2450,113:41300", [("112", "value", 2450), ("113", "value", 41300)], []),
    ("relevé compteur : 112 = 6650 et 113 = 154020", [("112", "value", 6650), ("113", "value", 154020)], []),
    ("le 122 est à 1600", [("122", "value", 1600)], []),
    ("meter 112 is 2450 and 113 is 41,300", [("112", "value", 2450), ("113", "value", 41300)], []),
    ("112: 45,5", [("112", "decimal", None)], []),
    ("112 = -3", [("112", "negative", None)], []),
    ("112 - 6,702 ; 113 – 15,399", [("112", "value", 6702), ("113", "value", 15399)], []),  # a dash between
    ("112: -3 et 113 -4", [("112", "negative", None)], []),  # a dash against the number is a sign
    ("la 77996101 : 112: 2450", [("112", "value", 2450)], []),
    ("999: 10, 112: 5", [("112", "value", 5)], ["999"]),
    ("112 2450", [], []),  # no connector and a single code: not read as a pair
    # a list with no connector, two codes at least
    ("112 6,702 / 113 154,380 / 122 9,840 / 123 143,515",
     [("112", "value", 6702), ("113", "value", 154380), ("122", "value", 9840), ("123", "value", 143515)], []),
    ("112 2455 113 41120", [("112", "value", 2455), ("113", "value", 41120)], []),
    ("le 112 fait 300 pages", [], []),
    ("45300", [], []),
])
async def test_parse_pairs(text, pairs, unknown):
    assert parse_pairs(text, CODES) == (pairs, unknown)


async def test_formatting_by_language():
    assert (fmt_number(45210, "fr"), fmt_number(45210, "en"), fmt_number(None, "fr")) == ("45 210", "45,210", "—")
    assert fmt_date("2026-11-02T09:00:00Z", "fr") == "02/11/2026"
    assert fmt_date("2026-11-02T09:00:00Z", "en") == "02 Nov 2026"
    assert fmt_date(None, "en") == "—"


async def test_implausible_jumps():
    from datetime import datetime, timezone
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    m112 = {"code": "112", "last": 2380, "date": "2026-11-02T09:00:00Z"}
    assert not implausible(m112, 2450, now)
    assert not implausible(m112, 12380, now)  # +10 000: never doubted
    assert implausible(m112, 23800, now)  # an extra digit (10x)
    assert implausible(m112, 77996101, now)  # an asset number typed by mistake
    m113 = {"code": "113", "last": 153665, "date": "2026-11-27T09:00:00Z"}
    assert not implausible(m113, 200000, now)
    assert implausible(m113, 400000, now)  # +246 335 in one day
    assert not implausible({"code": "1", "last": None, "date": None}, 10 ** 9, now)


# --- submit form: the device --------------------------------------------------------------------------------------
async def test_opening_user_with_one_device_is_never_asked(portal, meters, make_tracker, domain):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker("I want to send my meter readings", intent="submit_meter_reading",
                           slots={"language": "en"}, active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_asset"] == "53463252"
    assert slots["meter_asset_label"] == LABEL_C5030
    assert [m["code"] for m in slots["meter_list"]] == CODES
    assert slots["meter_list"][0] == {"code": "112", "label": {"fr": "112 N&B Grand", "en": "112 B&W Large"},
                                      "last": 15230, "date": "2026-10-15T09:00:00Z", "source": "Portail"}
    assert slots["meter_values"] is None  # nothing asked yet: the first question shows every meter
    assert "meter_current" not in slots  # asked next, meter by meter
    assert responses(dispatcher) == ["utter_asset_selected"]
    (call,) = portal.calls("GET", "/assets/53463252/meters")
    assert call["headers"]["accept-language"] == "en"
    assert call["headers"]["authorization"] == "Bearer tok-user"


async def test_opening_with_device_and_every_value(portal, meters, make_tracker, domain):
    tracker = make_tracker("relevé compteur de la WHJ01481 : 112 = 2450, 113 = 41 300, 122 = 1600, 123 = 19000",
                           intent="submit_meter_reading", entities=[("asset_ref", "WHJ01481")], active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_asset"] == "77996101"
    assert slots["meter_values"] == {"112": 2450, "113": 41300, "122": 1600, "123": 19000}
    assert slots["meter_current"] == "done"
    assert slots["meter_pending"] is None
    noted = message(dispatcher, "utter_meter_noted")["readings"]
    assert noted.splitlines() == ["• 112 N&B Grand : 2 450", "• 113 N&B Petit : 41 300", "• 122 Couleur Grand : 1 600",
                                  "• 123 Couleur Petit : 19 000"]


NAMED_METERS = [{"code": code, "label": {"fr": fr, "en": en}, "last": last} for code, fr, en, last in (
    ("112", "112 N&B Grand", "112 B&W Large", 15230), ("113", "113 N&B Petit", "113 B&W Small", 88410),
    ("122", "122 Couleur Grand", "122 Colour Large", 4210), ("123", "123 Couleur Petit", "123 Colour Small", 61175))]


@pytest.mark.parametrize("text, pairs", [
    ("N&B grand format 2 547, N&B petit 42 318, couleur grand 1 611, couleur petit 19 204",
     [("112", "value", 2547), ("113", "value", 42318), ("122", "value", 1611), ("123", "value", 19204)]),
    ("b&w big 2,401 / black and white small 42,007 - colour large: 1,533; color small is 19,102",
     [("112", "value", 2401), ("113", "value", 42007), ("122", "value", 1533), ("123", "value", 19102)]),
    ("petit format noir 89 000 et grand format couleur 4 300", [("113", "value", 89000), ("122", "value", 4300)]),
    # "unchanged" after a name gives its last value; a number after it still wins
    ("B&W large hasn't moved, colour small 61,850", [("112", "value", 15230), ("123", "value", 61850)]),
    ("noir et blanc grand : -5", [("112", "negative", None)]),
    ("colour small 19,5", [("123", "decimal", None)]),
    # codes and names together: the code's value is kept
    ("112: 15 300, N&B petit 88 500", [("112", "value", 15300), ("113", "value", 88500)]),
    ("le copieur couleur du grand bureau", []),
    ("grand format svp", []),
])
async def test_values_after_a_meters_name(text, pairs):
    assert meter_pairs(text, NAMED_METERS) == (pairs, [])


async def test_opening_with_every_value_named_by_meter_names(portal, meters, make_tracker, domain):
    tracker = make_tracker("relevés de la WHJ01481 : N&B grand 2 450, N&B petit 41 300, couleur grand 1 600, "
                           "couleur petit 19 000", intent="submit_meter_reading", entities=[("asset_ref", "WHJ01481")],
                           active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"112": 2450, "113": 41300, "122": 1600, "123": 19000}
    assert slots["meter_current"] == "done"


async def test_opening_with_one_value_lower_than_the_last(portal, meters, make_tracker, domain):
    tracker = make_tracker("compteurs de la 77996101 : 112 = 2000, 113 = 41300", intent="submit_meter_reading",
                           entities=[("asset_ref", "77996101")], active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"113": 41300}
    assert slots["meter_current"] is None  # 112 is asked again
    lower = message(dispatcher, "utter_meter_value_lower")
    assert (lower["value"], lower["last_value"], lower["last_date"]) == ("2 000", "2 380", "02/11/2026")


async def test_device_answer_with_values(portal, meters, make_tracker, domain):
    tracker = make_tracker("la 80145861, 112: 6600 et 113: 153700", entities=[("asset_ref", "80145861")],
                           requested_slot="meter_asset", active_loop=FORM)
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_asset"] == "80145861"
    assert slots["meter_values"] == {"112": 6600, "113": 153700}
    assert slots["meter_current"] is None


async def test_opening_bare_number_is_not_a_value(portal, meters, make_tracker, domain):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker("relevés du copieur 2 svp", intent="submit_meter_reading", active_loop=FORM)
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_asset"] == "53463252"
    assert "meter_current" not in slots and slots["meter_values"] is None


async def test_opening_several_devices_none_named(portal, meters, make_tracker, domain):
    tracker = make_tracker("je veux saisir mes relevés", intent="submit_meter_reading", active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert "meter_asset" not in slot_values(events)
    assert dispatcher.messages == []
    assert portal.calls("GET", "/assets/77996101/meters") == []


async def test_asset_unknown_or_not_visible(portal, meters, make_tracker, domain):
    portal.assets = [ASSET_C5030]  # a user: only their own device
    tracker = make_tracker("77996101", entities=[("asset_ref", "77996101")], requested_slot="meter_asset",
                           active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_asset"] is None
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "77996101"
    assert portal.calls("GET", "/assets/77996101/meters") == []


async def test_asset_by_alias(portal, meters, make_tracker, domain):
    tracker = make_tracker("la machine du copieur 2e étage", requested_slot="meter_asset", active_loop=FORM)
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_asset"] == "77996101"


async def test_asset_meters_unavailable(portal, meters, make_tracker, domain):
    portal.fail("down", "GET", "/assets/77996101/meters")
    tracker = make_tracker("WHJ01481", entities=[("asset_ref", "WHJ01481")], requested_slot="meter_asset",
                           active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_asset"] is None and slots["meter_asset_label"] is None
    assert "meter_list" not in slots
    assert "utter_backend_unavailable" in responses(dispatcher)


async def test_asset_without_meters(portal, meters, make_tracker, domain):
    meters.readings["77996101"] = {}
    tracker = make_tracker("WHJ01481", entities=[("asset_ref", "WHJ01481")], requested_slot="meter_asset",
                           active_loop=FORM)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_asset"] is None
    assert message(dispatcher, "utter_meter_no_meters")["asset_label"] == LABEL_C5560


# --- submit form: one meter at a time ---------------------------------------------------------------------------
def asked_value(make_tracker, meters, text, values=None, intent="inform", **kwargs):
    slots = submit_slots(meters, meter_values=values or {}, **kwargs.pop("slots", {}))
    return make_tracker(text, intent=intent, slots=slots, requested_slot="meter_current", active_loop=FORM, **kwargs)


@pytest.mark.parametrize("text", ["41300", "41 300", "41.300", "41,300", "c'est 41 300"])
async def test_value_accepted_in_every_format(portal, meters, make_tracker, domain, text):
    tracker = asked_value(make_tracker, meters, text, values={"112": 2450})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"112": 2450, "113": 41300}
    assert slots["meter_current"] is None  # the next meter is asked
    assert dispatcher.messages == []
    assert portal.requests == []  # nothing written while answering


@pytest.mark.parametrize(("lang", "text"), [("fr", "quarante et un mille trois cents"),
                                             ("en", "forty-one thousand three hundred"),
                                             ("fr", "c'est quarante et un mille trois cents pile")])
async def test_value_said_in_words(portal, meters, make_tracker, domain, lang, text):
    tracker = asked_value(make_tracker, meters, text, values={"112": 2450}, slots={"language": lang})
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_values"] == {"112": 2450, "113": 41300}


async def test_opening_values_said_in_words_in_english(portal, meters, make_tracker, domain):
    tracker = make_tracker("readings for WHJ01481: 112: two thousand four hundred and fifty, 113 = 41 300, "
                           "122: one thousand six hundred, 123 = nineteen thousand and four", intent="submit_meter_reading",
                           entities=[("asset_ref", "WHJ01481")], active_loop=FORM, slots={"language": "en"})
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_values"] == {"112": 2450, "113": 41300, "122": 1600, "123": 19004}


async def test_a_small_number_word_is_no_value(portal, meters, make_tracker, domain):
    # "pas un seul" is no reading of 1 (which would be refused as lower than the last)
    tracker = asked_value(make_tracker, meters, "il n'a pas bougé d'un seul", values={"112": 2450})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert "utter_meter_value_lower" not in responses(dispatcher)


@pytest.mark.parametrize(("text", "intent"), [
    ("2,380 - same as last time, it hasn't moved", "product_move"),  # "moved": read as a move request
    ("2 380 comme la dernière fois, le compteur n'a pas bougé", "product_move"),
    ("2380, it is stuck at that since the jam last week", "report_fault"),
])
async def test_an_answer_that_starts_with_a_number_is_the_value_whatever_the_intent(portal, meters, make_tracker,
                                                                                     domain, text, intent):
    _, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, text, intent=intent), domain)
    assert slot_values(events)["meter_values"] == {"112": 2380}


async def test_a_request_without_a_number_first_is_still_a_digression(portal, meters, make_tracker, domain):
    _, events = await run(ValidateMeterReadingForm(), asked_value(
        make_tracker, meters, "we are moving the copier to the 3rd floor on the 12th", intent="product_move"), domain)
    assert "meter_values" not in slot_values(events)


async def test_value_equal_to_the_last_is_accepted(portal, meters, make_tracker, domain):
    _, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, "2380"), domain)
    assert slot_values(events)["meter_values"] == {"112": 2380}


@pytest.mark.parametrize(("lang", "value", "last", "date"), [("fr", "1 000", "2 380", "02/11/2026"),
                                                               ("en", "1,000", "2,380", "02 Nov 2026")])
async def test_value_lower_than_the_last_is_refused_with_it(portal, meters, make_tracker, domain, lang, value, last,
                                                            date):
    tracker = asked_value(make_tracker, meters, "1000", slots={"language": lang})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {}
    assert slots["meter_current"] is None
    msg = message(dispatcher, "utter_meter_value_lower")
    assert (msg["value"], msg["last_value"], msg["last_date"]) == (value, last, date)
    assert msg["meter_name"] == ("112 N&B Grand" if lang == "fr" else "112 B&W Large")


@pytest.mark.parametrize(("text", "response"), [
    ("bof", "utter_meter_value_not_a_number"), ("oui", "utter_meter_value_not_a_number"),
    ("-2500", "utter_meter_value_negative"), ("2450,5", "utter_meter_value_not_integer"),
    ("2450 2460", "utter_meter_value_several"), ("9999999999999", "utter_meter_value_too_large"),
    ("999: 2500", "utter_meter_unknown_code"),
])
async def test_bad_values_are_refused(portal, meters, make_tracker, domain, text, response):
    dispatcher, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, text), domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {} and slots["meter_current"] is None and slots["meter_pending"] is None
    assert responses(dispatcher) == [response]


async def test_several_values_hint_quotes_the_meter_codes(portal, meters, make_tracker, domain):
    dispatcher, _ = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, "2450 41300"), domain)
    assert message(dispatcher, "utter_meter_value_several")["example"] == "112 : 2 480, 113 : 41 350"


async def test_unchanged_sends_the_last_value_again(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, "pareil"), domain)
    assert slot_values(events)["meter_values"] == {"112": 2380}
    assert message(dispatcher, "utter_meter_kept")["value"] == "2 380"


async def test_unchanged_without_previous_reading(portal, meters, make_tracker, domain):
    meters.readings["77996101"]["112"] = []
    dispatcher, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, "same"), domain)
    assert slot_values(events)["meter_values"] == {}
    assert responses(dispatcher) == ["utter_meter_no_previous"]


async def test_skip_button_leaves_the_meter_out(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, '/inform{"meter_choice":"skip"}', entities=[("meter_choice", "skip")])
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_values"] == {"112": None}
    assert responses(dispatcher) == ["utter_meter_skipped"]


async def test_last_meter_completes_the_values(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "19000", values={"112": 2450, "113": None, "122": 1520})
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_current"] == "done"
    assert slots["meter_values"] == {"112": 2450, "113": None, "122": 1520, "123": 19000}


async def test_every_meter_left_out_ends_the_form_without_confirmation(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "skip", values={"112": None, "113": None, "122": None})
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_current"] == "none"
    assert slots["requested_slot"] is None  # meter_confirm is not asked: the submit action says nothing was sent


async def test_values_for_several_meters_at_once(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "112: 2450, 122 = 1 600", slots={"language": "en"})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"112": 2450, "122": 1600}
    assert slots["meter_current"] is None  # 113 and 123 are still asked
    assert message(dispatcher, "utter_meter_noted")["readings"] == "• 112 B&W Large: 2,450\n• 122 Colour Large: 1,600"


async def test_implausible_value_is_confirmed_first(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, "23800"), domain)
    slots = slot_values(events)
    assert slots["meter_pending"] == {"112": 23800}
    assert slots["meter_values"] == {}
    assert slots["meter_current"] is None


async def test_implausible_value_confirmed(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "yes", intent="affirm", slots={"meter_pending": {"112": 23800}})
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"112": 23800} and slots["meter_pending"] is None


async def test_implausible_value_declined_is_asked_again(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "non", intent="deny", slots={"meter_pending": {"112": 23800}})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {} and slots["meter_pending"] is None and slots["meter_current"] is None
    assert responses(dispatcher) == ["utter_meter_value_again"]


async def test_implausible_value_replaced_by_a_new_one(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "2 390", slots={"meter_pending": {"112": 23900}})
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"112": 2390} and slots["meter_pending"] is None


async def test_a_value_the_nlu_could_not_place_is_still_the_answer(portal, meters, make_tracker, domain):
    _, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, "2 390 je crois",
                                                                  intent="nlu_fallback"), domain)
    assert slot_values(events)["meter_values"] == {"112": 2390}


@pytest.mark.parametrize("intent", ["help", "greet", "cancel", "out_of_scope", "human_handoff"])
async def test_value_digression_extracts_nothing(portal, meters, make_tracker, domain, intent):
    dispatcher, events = await run(ValidateMeterReadingForm(), asked_value(make_tracker, meters, "3", intent=intent),
                                   domain)
    assert "meter_values" not in slot_values(events) and "meter_current" not in slot_values(events)
    assert dispatcher.messages == []


async def test_form_run_again_after_a_digression_reads_nothing(portal, meters, make_tracker, domain):
    """After "help" the rules answer, then run the form again on the same message: it is not a value."""
    tracker = asked_value(make_tracker, meters, "3")
    tracker.events[-2:-2] = [{"event": "action", "name": "utter_help"}, {"event": "bot", "text": "..."}]
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert "meter_values" not in slot_values(events)
    assert dispatcher.messages == []


async def test_another_device_named_starts_over_on_it(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "oups c'est la 80145861", entities=[("asset_ref", "80145861")],
                          values={"112": 2450})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_asset"] == "80145861" and slots["meter_asset_label"] == LABEL_C5560B
    assert slots["meter_list"][0]["last"] == 6586
    assert slots["meter_values"] is None and slots["meter_current"] is None
    assert responses(dispatcher) == ["utter_asset_selected"]


async def test_same_device_named_with_values_is_just_an_answer(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "WHJ01481 112: 2450", entities=[("asset_ref", "WHJ01481")])
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert "meter_asset" not in slots and slots["meter_values"] == {"112": 2450}


async def test_another_device_unknown(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "XKL55120", entities=[("asset_ref", "XKL55120")])
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert "meter_asset" not in slot_values(events)
    assert responses(dispatcher) == ["utter_asset_not_found"]


async def test_asking_again_starts_the_values_over(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "je veux refaire mes relevés", intent="submit_meter_reading",
                          values={"112": 2450})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] is None and slots["meter_current"] is None  # the overview is shown again
    assert responses(dispatcher) == ["utter_meter_restart"]


# --- submit form: the confirmation --------------------------------------------------------------------------------
def at_confirm(make_tracker, meters, text, intent, **extra):
    slots = submit_slots(meters, meter_values={"112": 2450, "113": 41300, "122": None, "123": 19000},
                         meter_current="done", **extra)
    return make_tracker(text, intent=intent, slots=slots, requested_slot="meter_confirm", active_loop=FORM)


@pytest.mark.parametrize(("intent", "expected"), [("affirm", True), ("deny", False)])
async def test_confirm_yes_no(portal, meters, make_tracker, domain, intent, expected):
    _, events = await run(ValidateMeterReadingForm(), at_confirm(make_tracker, meters, "oui", intent), domain)
    assert slot_values(events)["meter_confirm"] is expected


async def test_confirm_other_answer_asks_yes_or_no(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ValidateMeterReadingForm(), at_confirm(make_tracker, meters, "bof", "inform"),
                                   domain)
    assert slot_values(events)["meter_confirm"] is None
    assert responses(dispatcher) == ["utter_answer_yes_no"]


async def test_confirm_correction_updates_and_summarises_again(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ValidateMeterReadingForm(),
                                   at_confirm(make_tracker, meters, "non, 113 : 41 400", "deny"), domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"112": 2450, "113": 41400, "122": None, "123": 19000}
    assert slots["meter_confirm"] is None and slots["meter_current"] == "done"
    assert responses(dispatcher) == ["utter_meter_noted"]


async def test_confirm_correction_read_as_readings_corrects_only_that_meter(portal, meters, make_tracker, domain):
    text = "Attendez, erreur de ma part : le couleur petit c'est 19 420, pas 19 240."
    dispatcher, events = await run(ValidateMeterReadingForm(),
                                   at_confirm(make_tracker, meters, text, "submit_meter_reading"), domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {"112": 2450, "113": 41300, "122": None, "123": 19420}
    assert "utter_meter_restart" not in responses(dispatcher) and slots["meter_confirm"] is None


@pytest.mark.parametrize(("text", "intent"), [
    ("oops, typo - 123 should be 19,420, not 19,240", "report_fault"),
    ("le 123 devrait être 19 420 en fait", "deny"),
    ("le 123 vaut 19 420, pas 19 240", "inform"),
    ("sorry 123 reads 19,420", "query_meter_reading"),
])
async def test_confirm_correction_said_as_a_correction_is_read_whatever_the_intent(portal, meters, make_tracker, domain,
                                                                                  text, intent):
    dispatcher, events = await run(ValidateMeterReadingForm(), at_confirm(make_tracker, meters, text, intent), domain)
    slots = slot_values(events)
    assert slots["meter_values"]["123"] == 19420 and slots["meter_confirm"] is None


@pytest.mark.parametrize("intent", ["nlu_fallback", "inform"])
async def test_confirm_correction_the_nlu_could_not_place_is_read(portal, meters, make_tracker, domain, intent):
    dispatcher, events = await run(ValidateMeterReadingForm(), at_confirm(
        make_tracker, meters, "Attendez, erreur de ma part : le couleur petit c'est 19 420, pas 19 240.", intent), domain)
    assert slot_values(events)["meter_values"]["123"] == 19420


async def test_confirm_unclear_message_asks_yes_or_no(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ValidateMeterReadingForm(), at_confirm(make_tracker, meters, "hmm bof", "nlu_fallback"),
                                   domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"] and slot_values(events)["meter_confirm"] is None


async def test_confirm_correction_lower_than_last_is_refused(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ValidateMeterReadingForm(),
                                   at_confirm(make_tracker, meters, "113: 100", "inform"), domain)
    slots = slot_values(events)
    assert slots["meter_values"]["113"] == 41300
    assert slots["meter_confirm"] is None
    assert responses(dispatcher) == ["utter_meter_value_lower"]


# --- submit form: the questions -----------------------------------------------------------------------------------
async def test_ask_asset_buttons_and_no_device(portal, meters, make_tracker, domain):
    dispatcher, events = await run(ActionAskMeterAsset(), make_tracker(requested_slot="meter_asset",
                                                                       active_loop=FORM), domain)
    assert events == []
    assert message(dispatcher, "utter_ask_meter_asset")["buttons"][0]["payload"] == '/inform{"asset_ref":"77996101"}'
    portal.assets = []
    dispatcher, events = await run(ActionAskMeterAsset(), make_tracker(requested_slot="meter_asset",
                                                                       active_loop=FORM), domain)
    assert responses(dispatcher) == ["utter_no_assets"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert all(slot_values(events)[name] is None for name in SUBMIT_SLOTS)


async def test_ask_first_meter_shows_every_meter(portal, meters, make_tracker, domain):
    tracker = make_tracker(slots=submit_slots(meters, meter_values=None), requested_slot="meter_asset",
                           active_loop=FORM)
    dispatcher, events = await run(ActionAskMeterCurrent(), tracker, domain)
    assert slot_values(events) == {"meter_values": {}}  # shown once
    assert responses(dispatcher) == ["utter_meter_overview", "utter_ask_meter_current"]
    overview = message(dispatcher, "utter_meter_overview")
    assert overview["asset_label"] == LABEL_C5560
    assert overview["meters"].splitlines()[0] == "• 112 N&B Grand : 2 380 — 02/11/2026 (e-Maintenance (UGW))"
    assert len(overview["meters"].splitlines()) == 4
    ask = message(dispatcher, "utter_ask_meter_current")
    assert (ask["meter_name"], ask["last_value"], ask["last_date"]) == ("112 N&B Grand", "2 380", "02/11/2026")


async def test_ask_next_meter_in_english_without_overview(portal, meters, make_tracker, domain):
    tracker = make_tracker(slots=submit_slots(meters, "80145861", meter_values={"112": 6600}, language="en"),
                           requested_slot="meter_current", active_loop=FORM)
    dispatcher, _ = await run(ActionAskMeterCurrent(), tracker, domain)
    assert responses(dispatcher) == ["utter_ask_meter_current"]
    ask = dispatcher.messages[0]
    assert (ask["meter_name"], ask["last_value"], ask["last_date"]) == ("113 B&W Small", "153,665", "08 Feb 2024")


async def test_ask_again_after_a_refused_first_value_without_overview(portal, meters, make_tracker, domain):
    tracker = make_tracker(slots=submit_slots(meters), requested_slot="meter_current", active_loop=FORM)
    dispatcher, events = await run(ActionAskMeterCurrent(), tracker, domain)
    assert events == [] and responses(dispatcher) == ["utter_ask_meter_current"]


async def test_ask_meter_without_previous_reading(portal, meters, make_tracker, domain):
    meters.readings["77996101"]["112"] = []
    tracker = make_tracker(slots=submit_slots(meters), requested_slot="meter_current", active_loop=FORM)
    dispatcher, _ = await run(ActionAskMeterCurrent(), tracker, domain)
    assert responses(dispatcher) == ["utter_ask_meter_current_first"]


async def test_ask_pending_confirmation(portal, meters, make_tracker, domain):
    tracker = make_tracker(slots=submit_slots(meters, meter_pending={"112": 23800}), requested_slot="meter_current",
                           active_loop=FORM)
    dispatcher, _ = await run(ActionAskMeterCurrent(), tracker, domain)
    assert responses(dispatcher) == ["utter_ask_meter_pending"]
    assert dispatcher.messages[0]["readings"] == "• 112 N&B Grand : 2 380 → 23 800"


async def test_ask_confirm_summary(portal, meters, make_tracker, domain):
    slots = submit_slots(meters, meter_values={"112": 2450, "113": 41300, "122": None, "123": 19000})
    dispatcher, _ = await run(ActionAskMeterConfirm(), make_tracker(slots=slots, requested_slot="meter_current",
                                                                    active_loop=FORM), domain)
    assert responses(dispatcher) == ["utter_meter_left_out", "utter_ask_meter_confirm"]
    assert dispatcher.messages[0]["meters"] == "122 Couleur Grand"
    summary = dispatcher.messages[1]
    assert summary["asset_label"] == LABEL_C5560
    assert summary["readings"] == "• 112 N&B Grand : 2 450\n• 113 N&B Petit : 41 300\n• 123 Couleur Petit : 19 000"


# --- submit form: the submission ----------------------------------------------------------------------------------
COMPLETE_VALUES = {"112": 2450, "113": 41300, "122": None, "123": 19000}


def complete(meters, **extra):
    return submit_slots(meters, **{"meter_values": COMPLETE_VALUES, "meter_current": "done", "meter_confirm": True,
                                   "submission_key": "key-7", **extra})


async def test_submit_sends_the_confirmed_values_and_gives_the_reference(portal, meters, make_tracker, domain):
    tracker = make_tracker("oui", intent="affirm", slots=complete(meters), active_loop=None)
    dispatcher, events = await run(ActionSubmitMeterReading(), tracker, domain)
    (call,) = portal.calls("POST", "/assets/77996101/meter-readings")
    assert call["json"] == {"readings": [{"code": "112", "value": 2450}, {"code": "113", "value": 41300},
                                         {"code": "123", "value": 19000}]}
    assert call["headers"]["idempotency-key"] == "key-7"
    done = message(dispatcher, "utter_meter_submitted")
    assert done["reference"] == "41"
    assert done["asset_label"] == LABEL_C5560
    assert done["readings"] == "• 112 N&B Grand : 2 450\n• 113 N&B Petit : 41 300\n• 123 Couleur Petit : 19 000"
    slots = slot_values(events)
    assert all(slots[name] is None for name in SUBMIT_SLOTS)
    assert slots["submission_key"] is None and slots["pending_submit"] is False
    assert meters.readings["77996101"]["112"][-1][1] == 2450


async def test_submit_says_which_values_the_user_confirmed(portal, meters, make_tracker, domain):
    # 23 800 after 2 380 (an extra digit?) was asked about and confirmed: the backend needs to be told so
    values = {**COMPLETE_VALUES, "112": 23800}
    tracker = make_tracker("oui", intent="affirm", slots=complete(meters, meter_values=values), active_loop=None)
    dispatcher, _ = await run(ActionSubmitMeterReading(), tracker, domain)
    (call,) = portal.calls("POST", "/assets/77996101/meter-readings")
    assert call["json"]["readings"][0] == {"code": "112", "value": 23800, "confirmed": True}
    assert call["json"]["readings"][1] == {"code": "113", "value": 41300}  # a usual value: nothing to confirm
    assert "utter_meter_submitted" in responses(dispatcher)
    assert meters.readings["77996101"]["112"][-1][1] == 23800


async def test_submit_in_english_uses_the_backend_names(portal, meters, make_tracker, domain):
    tracker = make_tracker("yes", intent="affirm", slots=complete(meters, language="en"), active_loop=None)
    dispatcher, _ = await run(ActionSubmitMeterReading(), tracker, domain)
    assert message(dispatcher, "utter_meter_submitted")["readings"].splitlines()[0] == "• 112 B&W Large: 2,450"
    assert portal.calls("POST", "/assets/77996101/meter-readings")[0]["headers"]["accept-language"] == "en"


async def test_submit_portal_down_keeps_everything_then_retry_sends_once(portal, meters, make_tracker, domain):
    portal.fail("down", "POST", "/assets/77996101/meter-readings")
    tracker = make_tracker("oui", intent="affirm", slots=complete(meters), active_loop=None)
    dispatcher, events = await run(ActionSubmitMeterReading(), tracker, domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    slots = slot_values(events)
    assert slots == {"submission_key": "key-7", "pending_submit": True, "pending_action": "action_submit_meter_reading"}
    portal.recover()
    retry = make_tracker("oui", intent="affirm", slots={**complete(meters), **slots}, active_loop=None)
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert "utter_meter_submitted" in responses(dispatcher)
    assert slot_values(events)["pending_submit"] is False
    keys = [c["headers"]["idempotency-key"] for c in portal.calls("POST", "/assets/77996101/meter-readings")]
    assert keys == ["key-7", "key-7"]
    # a second retry with the same key is answered with the first submission: one reading only
    await run(ActionRetrySubmit(), retry, domain)
    assert [v for _, v, _ in meters.readings["77996101"]["112"]].count(2450) == 1


async def test_submit_refused_when_a_lower_value_got_through_meanwhile(portal, meters, make_tracker, domain):
    meters.readings["77996101"]["112"].append(("2026-11-27T09:00:00Z", 2500, "e-Maintenance (UGW)"))
    tracker = make_tracker("oui", intent="affirm", slots=complete(meters), active_loop=None)
    dispatcher, events = await run(ActionSubmitMeterReading(), tracker, domain)
    refused = message(dispatcher, "utter_portal_refused")
    assert "2500 le 2026-11-27" in refused["reason"]
    assert slot_values(events)["pending_submit"] is False
    assert meters.readings["77996101"]["113"][-1][1] == 41250  # all or nothing


async def test_submit_declined_writes_nothing(portal, meters, make_tracker, domain):
    tracker = make_tracker("non", intent="deny", slots=complete(meters, meter_confirm=False), active_loop=None)
    dispatcher, events = await run(ActionSubmitMeterReading(), tracker, domain)
    assert responses(dispatcher) == ["utter_meter_not_submitted"]
    assert portal.calls("POST") == []
    assert slot_values(events)["meter_values"] is None


async def test_submit_with_every_meter_left_out_writes_nothing(portal, meters, make_tracker, domain):
    slots = submit_slots(meters, meter_values={c: None for c in CODES}, meter_current="none")
    dispatcher, _ = await run(ActionSubmitMeterReading(), make_tracker("skip", slots=slots, active_loop=None), domain)
    assert responses(dispatcher) == ["utter_meter_nothing_to_submit"]
    assert portal.calls("POST") == []


async def test_cancel_forgets_the_readings(portal, meters, make_tracker, domain):
    history = [{"event": "active_loop", "name": FORM}, {"event": "active_loop", "name": None}]
    tracker = make_tracker("annuler", intent="cancel", slots=complete(meters), history=history, active_loop=None)
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    slots = slot_values(events)
    assert all(slots[name] is None for name in SUBMIT_SLOTS)
    assert portal.calls("POST") == []


# --- query form ---------------------------------------------------------------------------------------------------
def query_slots(meters, asset="80145861", **extra):
    label = {"77996101": LABEL_C5560, "53463252": LABEL_C5030, "80145861": LABEL_C5560B}[asset]
    return {"meter_query_asset": asset, "meter_query_asset_label": label,
            "meter_query_meters": meter_list(meters, asset), **extra}


async def test_query_opening_with_device_and_meter(portal, meters, make_tracker, domain):
    tracker = make_tracker("question sur le relevé du compteur 112 de la WHJ02153", intent="query_meter_reading",
                           entities=[("asset_ref", "WHJ02153")], active_loop=QUERY_FORM)
    _, events = await run(ValidateMeterQueryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_query_asset"] == "80145861"
    assert [m["code"] for m in slots["meter_query_meters"]] == CODES
    assert slots["meter_query_code"] == "112"
    assert slots["meter_query_history"] == [{"value": 6586, "read_at": "2024-02-08T09:00:00Z",
                                             "source": "e-Maintenance (UGW)", "submitted_by": None}]
    assert "meter_query_description" not in slots


async def test_query_opening_user_one_device_no_meter_named(portal, meters, make_tracker, domain):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker("I have a question about a meter reading", intent="query_meter_reading",
                           slots={"language": "en"}, active_loop=QUERY_FORM)
    dispatcher, events = await run(ValidateMeterQueryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_query_asset"] == "53463252"
    assert "meter_query_code" not in slots
    assert responses(dispatcher) == ["utter_asset_selected"]


@pytest.mark.parametrize(("text", "entities", "code"), [
    ('/inform{"meter_code":"122"}', [("meter_code", "122")], "122"),
    ("le 113", [], "113"), ("compteur couleur grand", [], "122"), ("colour small", [], "123"),
])
async def test_query_meter_chosen(portal, meters, make_tracker, domain, text, entities, code):
    tracker = make_tracker(text, entities=entities, slots=query_slots(meters), requested_slot="meter_query_code",
                           active_loop=QUERY_FORM)
    _, events = await run(ValidateMeterQueryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_query_code"] == code
    assert portal.calls("GET", f"/assets/80145861/meters/{code}/history")


@pytest.mark.parametrize(("text", "entities"), [("le 999", []), ("couleur", []),
                                                ('/inform{"meter_code":"999"}', [("meter_code", "999")])])
async def test_query_meter_unknown(portal, meters, make_tracker, domain, text, entities):
    tracker = make_tracker(text, entities=entities, slots=query_slots(meters), requested_slot="meter_query_code",
                           active_loop=QUERY_FORM)
    dispatcher, events = await run(ValidateMeterQueryForm(), tracker, domain)
    assert slot_values(events)["meter_query_code"] is None
    assert message(dispatcher, "utter_meter_query_code_unknown")["codes"] == "112, 113, 122, 123"


async def test_query_history_unavailable_is_not_fatal(portal, meters, make_tracker, domain):
    portal.fail("down", "GET", "/assets/80145861/meters/112/history")
    tracker = make_tracker("le 112", slots=query_slots(meters), requested_slot="meter_query_code",
                           active_loop=QUERY_FORM)
    dispatcher, events = await run(ValidateMeterQueryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_query_code"] == "112" and slots["meter_query_history"] == []
    assert dispatcher.messages == []


@pytest.mark.parametrize(("text", "intent", "expected", "response"), [
    ("ok", "inform", None, "utter_meter_query_description_too_short"),
    ("x" * 4001, "inform", None, "utter_meter_query_description_too_long"),
    ("Le relevé de février est deux fois trop élevé", "query_meter_reading",
     "Le relevé de février est deux fois trop élevé", None),
])
async def test_query_description(portal, meters, make_tracker, domain, text, intent, expected, response):
    tracker = make_tracker(text, intent=intent, slots=query_slots(meters, meter_query_code="112"),
                           requested_slot="meter_query_description", active_loop=QUERY_FORM)
    dispatcher, events = await run(ValidateMeterQueryForm(), tracker, domain)
    assert slot_values(events)["meter_query_description"] == expected
    assert responses(dispatcher) == ([response] if response else [])


async def test_query_description_digression_extracts_nothing(portal, meters, make_tracker, domain):
    tracker = make_tracker("aide", intent="help", slots=query_slots(meters, meter_query_code="112"),
                           requested_slot="meter_query_description", active_loop=QUERY_FORM)
    _, events = await run(ValidateMeterQueryForm(), tracker, domain)
    assert "meter_query_description" not in slot_values(events)


async def test_query_ask_meter_shows_the_last_readings(portal, meters, make_tracker, domain):
    tracker = make_tracker(slots=query_slots(meters, language="en"), requested_slot="meter_query_asset",
                           active_loop=QUERY_FORM)
    dispatcher, _ = await run(ActionAskMeterQueryCode(), tracker, domain)
    assert responses(dispatcher) == ["utter_meter_readings_overview", "utter_ask_meter_query_code"]
    lines = dispatcher.messages[0]["meters"].splitlines()
    assert lines[1] == "• 113 B&W Small: 153,665 — 08 Feb 2024 (e-Maintenance (UGW))"
    assert dispatcher.messages[1]["buttons"][2] == {"title": "122 Colour Large",
                                                    "payload": '/inform{"meter_code":"122"}'}


async def test_query_ask_description_shows_the_history(portal, meters, make_tracker, domain):
    history = [{"value": 2380, "read_at": "2026-11-02T09:00:00Z", "source": "e-Maintenance (UGW)"},
               {"value": 2105, "read_at": "2026-10-01T09:00:00Z", "source": "e-Maintenance (UGW)"}]
    slots = query_slots(meters, "77996101", meter_query_code="112", meter_query_history=history)
    tracker = make_tracker(slots=slots, requested_slot="meter_query_code", active_loop=QUERY_FORM)
    dispatcher, _ = await run(ActionAskMeterQueryDescription(), tracker, domain)
    assert responses(dispatcher) == ["utter_meter_history", "utter_ask_meter_query_description"]
    assert dispatcher.messages[0]["meter_name"] == "112 N&B Grand"
    assert dispatcher.messages[0]["history"] == ("• 2 380 — 02/11/2026 (e-Maintenance (UGW))\n"
                                                 "• 2 105 — 01/10/2026 (e-Maintenance (UGW))")


async def test_query_confirm_summary_and_answer(portal, meters, make_tracker, domain):
    slots = query_slots(meters, meter_query_code="113", meter_query_description="Trop élevé")
    dispatcher, _ = await run(ActionAskMeterQueryConfirm(), make_tracker(slots=slots, active_loop=QUERY_FORM), domain)
    msg = message(dispatcher, "utter_ask_meter_query_confirm")
    assert (msg["asset_label"], msg["meter_name"], msg["description"]) == (LABEL_C5560B, "113 N&B Petit", "Trop élevé")
    tracker = make_tracker("oui", intent="affirm", slots=slots, requested_slot="meter_query_confirm",
                           active_loop=QUERY_FORM)
    _, events = await run(ValidateMeterQueryForm(), tracker, domain)
    assert slot_values(events)["meter_query_confirm"] is True


QUERY_HISTORY = [{"event": "user", "text": "question sur un relevé", "input_channel": "rest"},
                 {"event": "bot", "text": "Sur quel appareil porte votre question ?"}]


async def test_query_submit_creates_the_case(portal, meters, make_tracker, domain):
    slots = query_slots(meters, meter_query_code="112", meter_query_description="Le relevé 112 semble trop élevé",
                        meter_query_confirm=True, submission_key="q-1")
    tracker = make_tracker("oui", intent="affirm", slots=slots, history=QUERY_HISTORY, active_loop=None)
    dispatcher, events = await run(ActionSubmitMeterQuery(), tracker, domain)
    (call,) = portal.calls("POST", "/assets/80145861/meter-readings/query")
    assert call["headers"]["idempotency-key"] == "q-1"
    assert call["json"]["code"] == "112" and call["json"]["channel"] == "rest"
    assert call["json"]["description"] == "Le relevé 112 semble trop élevé"
    assert call["json"]["transcript"].splitlines()[:2] == ["user: question sur un relevé",
                                                           "bot: Sur quel appareil porte votre question ?"]
    done = message(dispatcher, "utter_meter_query_created")
    assert re.fullmatch(r"CS\d{7}", done["case_number"])
    assert (done["meter_name"], done["asset_label"]) == ("112 N&B Grand", LABEL_C5560B)
    assert all(slot_values(events)[name] is None for name in QUERY_SLOTS)


async def test_query_submit_down_then_retry_same_case(portal, meters, make_tracker, domain):
    portal.fail("down", "POST", "/assets/80145861/meter-readings/query")
    slots = query_slots(meters, meter_query_code="112", meter_query_description="Relevé faux",
                        meter_query_confirm=True, submission_key="q-2")
    dispatcher, events = await run(ActionSubmitMeterQuery(), make_tracker(slots=slots, active_loop=None), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    kept = slot_values(events)
    assert kept["pending_action"] == "action_submit_meter_query"
    portal.recover()
    first, _ = await run(ActionRetrySubmit(), make_tracker(slots={**slots, **kept}, active_loop=None), domain)
    second, _ = await run(ActionRetrySubmit(), make_tracker(slots={**slots, **kept}, active_loop=None), domain)
    numbers = {message(d, "utter_meter_query_created")["case_number"] for d in (first, second)}
    assert len(numbers) == 1  # the same key: the same case


async def test_query_submit_refused_and_declined(portal, meters, make_tracker, domain):
    portal.fail((404, {"code": "not_found", "message": "Appareil introuvable."}), "POST",
                "/assets/80145861/meter-readings/query")
    slots = query_slots(meters, meter_query_code="112", meter_query_description="Relevé faux",
                        meter_query_confirm=True)
    dispatcher, events = await run(ActionSubmitMeterQuery(), make_tracker(slots=slots, active_loop=None), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == "Appareil introuvable."
    assert slot_values(events)["meter_query_code"] is None
    portal.recover()
    dispatcher, _ = await run(ActionSubmitMeterQuery(),
                              make_tracker(slots={**slots, "meter_query_confirm": False}, active_loop=None), domain)
    assert responses(dispatcher) == ["utter_meter_query_not_submitted"]
    assert len(portal.calls("POST")) == 1


# --- every response the actions use exists in French and English ----------------------------------------------
async def test_every_meter_response_has_french_and_english(domain):
    source = (ROOT / "actions" / "meters.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(utter_[a-z_]+)"', source))
    mine = yaml.safe_load((ROOT / "domain" / "meters.yml").read_text(encoding="utf-8"))["responses"]
    for name in used:
        variants = domain["responses"].get(name)
        assert variants, f"{name} is not in the domain"
        english = [v for v in variants if v.get("condition") == [{"type": "slot", "name": "language", "value": "en"}]]
        french = [v for v in variants if not v.get("condition")]
        assert len(english) == 1 and len(french) == 1, name
    for name, variants in mine.items():
        assert len(variants) == 2, name
        en, fr = variants
        assert set(re.findall(r"{(\w+)}", en["text"])) == set(re.findall(r"{(\w+)}", fr["text"])), name
        assert len(en.get("buttons", [])) == len(fr.get("buttons", [])), name


# --- the opening turn after a "yes" to a switch offered inside another form (actions/switching.py) ------------------
@pytest.mark.parametrize("started", STARTS)
async def test_device_and_readings_of_the_request_are_taken_however_the_form_started(portal, meters, make_tracker,
                                                                                    domain, started):
    said = "relevé compteur de la WHJ01481 : 112 = 2450, 113 = 41 300, 122 = 1600, 123 = 19000"
    tracker = await opening_tracker(make_tracker, domain, started, said, "submit_meter_reading", FORM,
                                    entities=[("asset_ref", "WHJ01481")])
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_asset"] == "77996101"  # not asked again
    assert slots["meter_values"] == {"112": 2450, "113": 41300, "122": 1600, "123": 19000}
    assert slots["meter_current"] == "done"
    assert_switch_request_forgotten(events, started)


@pytest.mark.parametrize("started", STARTS)
async def test_device_and_meter_of_the_question_are_taken_however_the_form_started(portal, meters, make_tracker,
                                                                                  domain, started):
    tracker = await opening_tracker(make_tracker, domain, started,
                                    "question sur le relevé du compteur 112 de la WHJ02153", "query_meter_reading",
                                    QUERY_FORM, entities=[("asset_ref", "WHJ02153")])
    _, events = await run(ValidateMeterQueryForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["meter_query_asset"], slots["meter_query_code"]) == ("80145861", "112")  # not asked again
    assert "meter_query_description" not in slots
    assert_switch_request_forgotten(events, started)


# --- a reading already recorded, disputed with its number: a meter reading query, not a new reading --------------
async def test_a_disputed_recorded_value_hands_over_to_a_query(portal, meters, make_tracker, domain):
    text = ("The colour small counter for the first floor machine shows 143,312 in the portal. That can't be right, "
            "that team hardly ever prints in colour. Can someone check it?")
    tracker = make_tracker(text, intent="submit_meter_reading", active_loop=FORM, slots={"language": "en"})
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["requested_slot"], slots["switch_to"]) == (None, "query_meter_reading")
    assert "meter_values" not in slots and dispatcher.messages == []  # 143,312 is no new value
    done = make_tracker(text, intent="submit_meter_reading", active_loop=None,
                        slots={"switch_to": "query_meter_reading", "switch_request": slots["switch_request"]})
    dispatcher, events = await run(ActionSubmitMeterReading(), done, domain)
    assert responses(dispatcher) == ["utter_meter_reading_is_a_query"]
    assert events[-1]["name"] == "action_switch_form" and not portal.calls("POST", "/assets/80145861/meter-readings")


@pytest.mark.parametrize("text", ["voici mes relevés de la WHJ01481 : 112: 2450, 113: 41300",
                                  "112 : 2 455 non pardon 2 545, le premier était faux"])
async def test_readings_with_a_correction_are_no_dispute(portal, meters, make_tracker, domain, text):
    tracker = make_tracker(text, intent="submit_meter_reading", active_loop=FORM, entities=[("asset_ref", "WHJ01481")])
    _, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events).get("switch_to") is None


# --- new readings opening a question about a reading: the readings form takes them ---------------------------------
@pytest.mark.parametrize("text", [
    "Readings for the 2nd floor copier: big black 2,512 / small black 41,250 / big colour 1,610 / small colour 19,004",
    "relevés de la C5030 : 112 = 15 400, 113 = 89 100",
])
async def test_readings_opening_a_query_hand_over_to_the_readings(portal, meters, make_tracker, domain, text):
    tracker = make_tracker(text, intent="query_meter_reading", active_loop=QUERY_FORM, slots={"language": "en"})
    dispatcher, events = await run(ValidateMeterQueryForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["requested_slot"], slots["switch_to"]) == (None, "submit_meter_reading")
    assert dispatcher.messages == [] and not portal.calls("POST")


async def test_a_recorded_value_disputed_stays_a_query(portal, meters, make_tracker, domain):
    text = "the portal shows 112 = 6,586 and 113 = 153,665 for WHJ01481, that can't be right"
    tracker = make_tracker(text, intent="query_meter_reading", active_loop=QUERY_FORM, slots={"language": "en"})
    _, events = await run(ValidateMeterQueryForm(), tracker, domain)
    assert slot_values(events).get("switch_to") is None


# --- readings said aloud ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "lang", "pairs"), [
    # codes and values in words, fillers, no connector after the first pair
    ("alors le cent douze c'est quinze mille neuf cent quarante le cent treize euh quatre-vingt-neuf mille cent vingt "
     "le cent vingt-deux quatre mille trois cent quatre-vingt-huit et le cent vingt-trois soixante et un mille sept "
     "cent deux voilà c'est tout", "fr",
     [("112", "value", 15940), ("113", "value", 89120), ("122", "value", 4388), ("123", "value", 61702)]),
    # codes said digit by digit: "eighty one two two" is 80 then meter 122, not 81 then "2 2"
    ("so one one two is seven thousand two hundred and four one one three one hundred and fifty five thousand nine "
     "hundred and eighty one two two ten thousand one hundred and fifteen and one two three one hundred and forty "
     "five thousand eight hundred and seventy yeah that's it", "en",
     [("112", "value", 7204), ("113", "value", 155980), ("122", "value", 10115), ("123", "value", 145870)]),
    ("hang on, one two two it's ten thousand one hundred and fifty one", "en", [("122", "value", 10151)]),
    ("un-un-deux : deux mille cinq cents", "fr", [("112", "value", 2500)]),
    ("le 112 fait 2 pages", "fr", []),  # one code and a number: no list
])
async def test_readings_said_aloud(text, lang, pairs):
    assert parse_pairs(said_numbers(text, lang), CODES)[0] == pairs


async def test_readings_said_aloud_open_the_readings_form_from_anywhere():
    assert gives_guide_readings("one one two is seven thousand two hundred one one three is forty one thousand", "en")
    assert gives_guide_readings("le cent douze c'est trois mille le cent treize euh quarante mille", "fr")
    assert not gives_guide_readings("I need one two toners and a drum", "en")
    assert not gives_guide_readings("le cent douze c'est quoi ?", "fr")


def _refused_history(lang="en"):
    return [{"event": "bot", "text": "40,950 is lower than the last reading",
             "metadata": {"utter_action": "utter_meter_value_lower"}},
            {"event": "bot", "text": "Meter 112: what is the new value?",
             "metadata": {"utter_action": "utter_ask_meter_current"}},
            {"event": "action", "name": "action_listen"}]


@pytest.mark.parametrize("text", ["That's what the counter on the screen says, I've checked it twice. I'm not changing it.",
                                  "c'est bien ce qui est affiché, je ne change rien", "I'm sure, that's right"])
async def test_a_refused_lower_value_kept_is_explained_once_more_and_nothing_is_recorded(portal, meters, make_tracker,
                                                                                         domain, text):
    tracker = asked_value(make_tracker, meters, text, intent="report_fault", history=_refused_history())
    assert SUMMARY_QUESTIONS[FORM](tracker)  # the form answers it: no offer to switch to a fault report
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["meter_values"] == {} and slots["meter_current"] is None  # the same meter is asked again
    msg = message(dispatcher, "utter_meter_lower_maintained")
    assert msg["last_value"] in ("2,380", "2 380") and msg["meter_name"]


@pytest.mark.parametrize(("text", "values"), [("I've checked again, it's actually 2,450", {"112": 2450}),
                                              ("J'ai vérifié, c'est 2 460", {"112": 2460})])
async def test_a_new_value_after_a_refusal_is_taken(portal, meters, make_tracker, domain, text, values):
    tracker = asked_value(make_tracker, meters, text, history=_refused_history())
    assert not SUMMARY_QUESTIONS[FORM](tracker)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_values"] == values
    assert "utter_meter_lower_maintained" not in responses(dispatcher)


async def test_insisting_words_without_a_refusal_before_are_no_such_answer(portal, meters, make_tracker, domain):
    tracker = asked_value(make_tracker, meters, "I'm sure it's 2450", intent="inform")
    assert not SUMMARY_QUESTIONS[FORM](tracker)
    dispatcher, events = await run(ValidateMeterReadingForm(), tracker, domain)
    assert slot_values(events)["meter_values"] == {"112": 2450}
