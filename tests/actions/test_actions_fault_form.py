"""ValidateFaultReportForm: extraction and validation of each slot, as run by the action server."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fault_report import ValidateFaultReportForm
from actions.forms import asset_label
from actions_fakes import (
    message,
    ASSET_C5030,
    ASSET_C5560,
    ASSET_C5560B,
    KB_HITS,
    STARTS,
    FakePortal,
    assert_switch_request_forgotten,
    opening_tracker,
    responses,
    run,
    slot_values,
)

pytestmark = pytest.mark.asyncio

LABEL_C5560 = "Copieur 2e étage — Canon iR-ADV C5560i (77996101 / WHJ01481)"
PAPER_JAM_DRAWER = {"category": "paper_jam", "subcategory": "drawer_tray", "confident": True, "source": "keywords"}
FILLED_UP_TO_SUBCATEGORY = {
    "fault_asset": "77996101", "fault_asset_label": LABEL_C5560,
    "fault_description": "le papier se coince dans le tiroir 2", "fault_proposal": PAPER_JAM_DRAWER,
    "submission_key": "req-1", "fault_category": "paper_jam",
}


async def run_form(tracker: Any, domain: Dict[str, Any]) -> tuple:
    dispatcher = CollectingDispatcher()
    events = await ValidateFaultReportForm().run(dispatcher, tracker, domain)
    return dispatcher, events


def slot_names(events: List[Dict[str, Any]]) -> List[str]:
    return [e["name"] for e in events if e.get("event") == "slot"]




# --- the opening turn ------------------------------------------------------------------------------------------
async def test_opening_single_asset_is_selected_and_description_prefilled(portal: FakePortal, make_tracker, domain):
    portal.assets = [ASSET_C5560]
    tracker = make_tracker("bourrage papier dans le tiroir 2", intent="report_fault")
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_asset"] == "77996101"
    assert slots["fault_asset_label"] == LABEL_C5560
    assert message(dispatcher, "utter_asset_selected")["asset_label"] == LABEL_C5560
    assert slots["fault_description"] == "bourrage papier dans le tiroir 2"
    # the classification is kept although fault_proposal is not a form slot (get_validation_events)
    assert {k: v for k, v in slots["fault_proposal"].items() if k != "score"} == PAPER_JAM_DRAWER
    assert re.fullmatch(r"[0-9a-f]{32}", slots["submission_key"])
    # one type and its sub-type named clearly: taken without a question, shown with its articles
    assert (slots["fault_category"], slots["fault_subcategory"]) == ("paper_jam", "drawer_tray")
    assert slots["fault_type_inferred"] is True
    assert [a["number"] for a in slots["kb_articles"]] == ["KB0010", "KB0011"]
    search = portal.calls("GET", "/knowledge/search")[0]["params"]
    assert (search["tag"], search["asset"]) == ("fault.paper_jam.drawer_tray", "77996101")
    assert len(portal.calls("GET", "/assets")) == 1  # nothing named in the message: the only device is taken
    assert len(portal.calls("POST", "/faults/classify")) == 1  # the proposal is not asked for twice
    assert portal.calls("POST", "/faults/classify")[0]["json"] == {"text": "bourrage papier dans le tiroir 2",
                                                                  "lang": "fr"}


async def test_opening_generic_message_does_not_prefill_description(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("je veux signaler une panne", intent="report_fault")
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert "fault_description" not in slots
    assert "fault_proposal" not in slots
    assert "submission_key" not in slots
    assert "fault_asset" not in slots  # several devices and none named: it will be asked
    assert dispatcher.messages == []
    assert portal.calls("POST", "/assets/resolve")[0]["json"] == {"text": "je veux signaler une panne"}


async def test_opening_knowledge_guess_that_is_not_confident_is_not_used(portal: FakePortal, make_tracker, domain):
    portal.classify_override = {"category": "paper_jam", "subcategory": "dadf", "confident": False,
                                "source": "knowledge"}
    dispatcher, events = await run_form(make_tracker("ma machine fait des siennes", intent="report_fault"), domain)
    assert "fault_description" not in slot_values(events)


async def test_opening_confident_knowledge_guess_prefills(portal: FakePortal, make_tracker, domain):
    portal.classify_override = {"category": "paper_jam", "subcategory": "dadf", "confident": True,
                                "source": "knowledge"}
    dispatcher, events = await run_form(make_tracker("les originaux restent bloqués", intent="report_fault"), domain)
    slots = slot_values(events)
    assert slots["fault_description"] == "les originaux restent bloqués"
    assert slots["fault_proposal"]["subcategory"] == "dadf"


async def test_opening_button_payload_is_neither_resolved_nor_described(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(make_tracker("/report_fault", intent="report_fault"), domain)
    assert slot_values(events) == {}
    assert not portal.calls("POST", "/assets/resolve")
    assert not portal.calls("POST", "/faults/classify")


async def test_opening_unknown_reference_is_reported(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("l'imprimante ABC12345 fait un bruit de claquement", intent="report_fault")
    dispatcher, events = await run_form(tracker, domain)
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "ABC12345"
    slots = slot_values(events)
    assert slots["fault_asset"] is None
    # the description is still reused
    assert slots["fault_description"] == "l'imprimante ABC12345 fait un bruit de claquement"
    assert slots["fault_proposal"]["subcategory"] == "unusual_noise"


async def test_opening_named_device_is_selected(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("bourrage sur la GNM75498", intent="report_fault")
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_asset"] == "53463252"
    assert slots["fault_asset_label"] == asset_label(ASSET_C5030) == "Canon iR-ADV C5030i (53463252 / GNM75498)"


async def test_opening_backend_down_keeps_the_form_going(portal: FakePortal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run_form(make_tracker("bourrage dans le tiroir", intent="report_fault"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events) == {}  # nothing decided: every question will be asked


# --- fault_asset asked --------------------------------------------------------------------------------------------
async def test_asset_resolved_single_match(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("c'est la WHJ01481", requested_slot="fault_asset")
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"fault_asset": "77996101", "fault_asset_label": LABEL_C5560}
    assert responses(dispatcher) == ["utter_asset_selected"]
    assert not portal.calls("GET", "/assets")  # the list is only read on the opening turn


async def test_asset_unknown(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(make_tracker("XYZ99999", requested_slot="fault_asset"), domain)
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "XYZ99999"
    assert slot_values(events) == {"fault_asset": None}


async def test_asset_free_text_naming_nothing(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(make_tracker("celle du fond", requested_slot="fault_asset"), domain)
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "celle du fond"
    assert slot_values(events) == {"fault_asset": None}


async def test_asset_ambiguous(portal: FakePortal, make_tracker, domain):
    portal.resolve_override = {"matches": [ASSET_C5560, ASSET_C5560B], "unknown_references": []}
    dispatcher, events = await run_form(make_tracker("la C5560", requested_slot="fault_asset"), domain)
    assert message(dispatcher, "utter_asset_ambiguous")["reference"] == "la C5560"
    assert slot_values(events) == {"fault_asset": None}


@pytest.mark.parametrize("intent", ["device_info", "list_assets"])
async def test_a_short_answer_read_as_a_device_question_names_the_device(portal: FakePortal, make_tracker, domain,
                                                                         intent):
    portal.resolve_override = {"matches": [ASSET_C5560B], "unknown_references": []}
    tracker = make_tracker("la machine du premier étage", intent=intent, requested_slot="fault_asset")
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["fault_asset"] == ASSET_C5560B["asset_number"]


async def test_a_real_question_about_devices_is_left_to_the_rules(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("c'est quoi déjà la machine du premier étage ?", intent="device_info",
                           requested_slot="fault_asset")
    _, events = await run_form(tracker, domain)
    assert "fault_asset" not in slot_names(events) and portal.requests == []


@pytest.mark.parametrize("intent", ["help", "cancel", "greet"])
async def test_asset_digression_extracts_nothing(portal: FakePortal, make_tracker, domain, intent):
    dispatcher, events = await run_form(make_tracker("aide", intent=intent, requested_slot="fault_asset"), domain)
    assert "fault_asset" not in slot_names(events)
    assert events == []  # the form rejects; the rules answer
    assert dispatcher.messages == []
    assert portal.requests == []


async def test_asset_button_payload_uses_entity(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker('/inform{"asset_ref":"53463252"}', entities=[("asset_ref", "53463252")],
                           requested_slot="fault_asset")
    dispatcher, events = await run_form(tracker, domain)
    assert portal.calls("POST", "/assets/resolve")[0]["json"] == {"text": "53463252"}
    assert slot_values(events)["fault_asset"] == "53463252"


async def test_asset_backend_down(portal: FakePortal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run_form(make_tracker("WHJ01481", requested_slot="fault_asset"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events) == {"fault_asset": None}


async def test_asset_session_expired(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(make_tracker("WHJ01481", requested_slot="fault_asset", token="old"), domain)
    assert responses(dispatcher) == ["utter_login_required"]
    assert slot_values(events) == {"fault_asset": None}


async def test_asset_already_known_is_not_extracted_again(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("WHJ02153", requested_slot="fault_description",
                           slots={"fault_asset": "77996101", "fault_asset_label": LABEL_C5560})
    dispatcher, events = await run_form(tracker, domain)
    assert "fault_asset" not in slot_names(events)
    assert not portal.calls("POST", "/assets/resolve")


# --- fault_description ------------------------------------------------------------------------------------------
async def test_description_too_short(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("pb", requested_slot="fault_description", candidates={"fault_description": "pb"},
                           slots={"fault_asset": "77996101"})
    dispatcher, events = await run_form(tracker, domain)
    assert responses(dispatcher) == ["utter_description_too_short"]
    assert slot_values(events) == {"fault_description": None}


async def test_description_payload_is_refused(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("/affirm", intent="affirm", requested_slot="fault_description",
                           candidates={"fault_description": "/affirm"}, slots={"fault_asset": "77996101"})
    dispatcher, events = await run_form(tracker, domain)
    assert responses(dispatcher) == ["utter_description_too_short"]
    assert slot_values(events) == {"fault_description": None}


async def test_description_accepted_classified_and_keyed(portal: FakePortal, make_tracker, domain):
    text = "  le papier se coince dans le tiroir 2 "
    tracker = make_tracker(text, requested_slot="fault_description", candidates={"fault_description": text},
                           slots={"fault_asset": "77996101"})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_description"] == "le papier se coince dans le tiroir 2"
    assert {k: v for k, v in slots["fault_proposal"].items() if k != "score"} == PAPER_JAM_DRAWER
    assert re.fullmatch(r"[0-9a-f]{32}", slots["submission_key"])
    assert dispatcher.messages == []


async def test_description_keeps_existing_request_id_and_proposal(portal: FakePortal, make_tracker, domain):
    text = "traces noires sur les copies"
    tracker = make_tracker(text, requested_slot="fault_description", candidates={"fault_description": text},
                           slots={"submission_key": "req-1", "fault_proposal": {}})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots == {"fault_description": text}
    assert not portal.calls("POST", "/faults/classify")


async def test_description_classification_down_is_not_fatal(portal: FakePortal, make_tracker, domain):
    portal.fail("down", "POST", "/faults/classify")
    text = "le papier se coince"
    tracker = make_tracker(text, requested_slot="fault_description", candidates={"fault_description": text})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_description"] == text
    assert "fault_proposal" not in slots
    assert dispatcher.messages == []


# --- fault_category ---------------------------------------------------------------------------------------------
def at_category(make_tracker, text: str, intent: str = "inform", entities=None, proposal: Optional[dict] = None):
    slots = dict(FILLED_UP_TO_SUBCATEGORY, fault_category=None, fault_proposal=proposal)
    return make_tracker(text, intent=intent, entities=entities, slots=slots, requested_slot="fault_category")


async def test_category_from_button_entity(portal: FakePortal, make_tracker, domain):
    tracker = at_category(make_tracker, '/inform{"fault_category":"print_quality"}',
                          entities=[("fault_category", "print_quality")])
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"fault_category": "print_quality"}
    assert not portal.calls("POST", "/faults/classify")
    assert dispatcher.messages == []


async def test_category_affirm_takes_the_proposal(portal: FakePortal, make_tracker, domain):
    tracker = at_category(make_tracker, "oui", intent="affirm", proposal=PAPER_JAM_DRAWER)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_category"] == "paper_jam"
    assert slots["fault_subcategory"] == "drawer_tray"
    # the sub-type was validated too, so the articles are already looked up
    assert [a["number"] for a in slots["kb_articles"]] == ["KB0010", "KB0011"]


async def test_category_affirm_with_category_only_proposal(portal: FakePortal, make_tracker, domain):
    proposal = {"category": "paper_jam", "subcategory": None, "confident": True, "source": "keywords"}
    dispatcher, events = await run_form(at_category(make_tracker, "oui", "affirm", proposal=proposal), domain)
    assert slot_values(events) == {"fault_category": "paper_jam"}


async def test_category_deny_clears_the_proposal(portal: FakePortal, make_tracker, domain):
    tracker = at_category(make_tracker, "non", intent="deny", proposal=PAPER_JAM_DRAWER)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_proposal"] == {}
    assert slots["fault_category"] is None
    assert "fault_subcategory" not in slots
    assert dispatcher.messages == []


async def test_one_of_the_likeliest_two_is_taken_with_its_sub_type(portal: FakePortal, make_tracker, domain):
    proposal = {"category": None, "subcategory": None, "confident": False, "source": "keywords", "alternatives": [
        {"category": "malfunction", "subcategory": "unusual_noise"}, {"category": "paper_jam", "subcategory": None}]}
    tracker = make_tracker('/inform{"fault_category":"malfunction","fault_subcategory":"unusual_noise"}',
                           entities=[("fault_category", "malfunction"), ("fault_subcategory", "unusual_noise")],
                           requested_slot="fault_category", slots={"fault_proposal": proposal})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["fault_category"], slots["fault_subcategory"]) == ("malfunction", "unusual_noise")


async def test_another_type_than_the_likeliest_two_shows_every_type(portal: FakePortal, make_tracker, domain):
    proposal = {"category": None, "subcategory": None, "confident": False, "source": "keywords", "alternatives": [
        {"category": "malfunction", "subcategory": None}, {"category": "paper_jam", "subcategory": None}]}
    tracker = make_tracker("/deny", intent="deny", requested_slot="fault_category", slots={"fault_proposal": proposal})
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["fault_proposal"] == {}


async def test_opening_words_pointing_at_two_types_are_kept_as_the_description(portal: FakePortal, make_tracker,
                                                                               domain):
    portal.classify_override = {"category": None, "subcategory": None, "confident": False, "source": "keywords",
                                "alternatives": [{"category": "malfunction", "subcategory": "unusual_noise"},
                                                 {"category": "paper_jam", "subcategory": None}]}
    _, events = await run_form(make_tracker("it's jammed and really noisy", intent="report_fault"), domain)
    assert slot_values(events)["fault_description"] == "it's jammed and really noisy"


async def test_category_typed_text_is_classified(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_category(make_tracker, "un bourrage papier", proposal={}), domain)
    assert slot_values(events) == {"fault_category": "paper_jam"}
    assert portal.calls("POST", "/faults/classify")[0]["json"] == {"text": "un bourrage papier", "lang": "fr"}


async def test_category_typed_text_with_subtype(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_category(make_tracker, "ça sent le brûlé", proposal={}), domain)
    slots = slot_values(events)
    assert (slots["fault_category"], slots["fault_subcategory"]) == ("malfunction", "unusual_smell")


async def test_category_typed_text_not_understood(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_category(make_tracker, "je sais pas trop", proposal={}), domain)
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert slot_values(events) == {"fault_category": None}


@pytest.mark.parametrize("code", ["teleportation", "contract_question"])
async def test_category_unknown_or_non_fault_code(portal: FakePortal, make_tracker, domain, code):
    tracker = at_category(make_tracker, f'/inform{{"fault_category":"{code}"}}', entities=[("fault_category", code)])
    dispatcher, events = await run_form(tracker, domain)
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert slot_values(events) == {"fault_category": None, "fault_subcategory": None}


async def test_category_help_extracts_nothing(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_category(make_tracker, "aide", intent="help", proposal={}), domain)
    assert events == []
    assert portal.requests == []


# --- fault_subcategory ------------------------------------------------------------------------------------------
def at_subcategory(make_tracker, text: str, entities=None, intent: str = "inform", **slots):
    return make_tracker(text, intent=intent, entities=entities, requested_slot="fault_subcategory",
                        slots=dict(FILLED_UP_TO_SUBCATEGORY, **slots))


async def test_subcategory_triggers_the_knowledge_search(portal: FakePortal, make_tracker, domain):
    tracker = at_subcategory(make_tracker, '/inform{"fault_subcategory":"drawer_tray"}',
                             entities=[("fault_subcategory", "drawer_tray")])
    dispatcher, events = await run_form(tracker, domain)
    (search,) = portal.calls("GET", "/knowledge/search")
    assert search["params"] == {"q": "le papier se coince dans le tiroir 2", "lang": "fr", "limit": "3",
                                "asset": "77996101", "tag": "fault.paper_jam.drawer_tray"}
    slots = slot_values(events)
    assert slots["fault_subcategory"] == "drawer_tray"
    assert slots["kb_articles"] == [{k: hit[k] for k in ("number", "title", "summary", "url")} for hit in KB_HITS]
    assert "kb_feedback" not in slots  # articles exist: the question will be asked


async def drawer_tray_described(make_tracker, domain, description: str) -> Dict[str, Any]:
    """The slots set when the sub-type "in the drawer" is chosen for a fault described in these words."""
    tracker = at_subcategory(make_tracker, '/inform{"fault_subcategory":"drawer_tray"}',
                             entities=[("fault_subcategory", "drawer_tray")], fault_description=description)
    _, events = await run_form(tracker, domain)
    return slot_values(events)


@pytest.mark.parametrize("description", [
    "the scan app crashes back to the home screen, started Monday, nothing in your articles helped",
    "le papier se coince dans le tiroir 2, j'ai déjà consulté vos fiches d'aide",
    "jams in tray 2 - I've already gone through your help articles",
])
async def test_articles_already_tried_are_not_shown_again(portal: FakePortal, make_tracker, domain, description):
    slots = await drawer_tray_described(make_tracker, domain, description)
    assert slots["kb_articles"] == [] and slots["kb_feedback"] == "no"  # not shown, the question not asked


@pytest.mark.parametrize("description", [
    "j'ai déjà essayé les solutions habituelles, éteindre et rallumer",
    "I already tried the help desk, they told me to call you",
])
async def test_other_things_tried_still_show_the_articles(portal: FakePortal, make_tracker, domain, description):
    slots = await drawer_tray_described(make_tracker, domain, description)
    assert slots["kb_articles"] and "kb_feedback" not in slots


async def test_subcategory_without_articles_skips_the_question(portal: FakePortal, make_tracker, domain):
    portal.kb_hits = []
    tracker = at_subcategory(make_tracker, "x", entities=[("fault_subcategory", "inside_device")])
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_subcategory"] == "inside_device"
    assert slots["kb_articles"] == []
    assert slots["kb_feedback"] == "none_shown"


async def test_subcategory_search_failure_continues_without_articles(portal: FakePortal, make_tracker, domain):
    portal.fail(500, "GET", "/knowledge/search")
    tracker = at_subcategory(make_tracker, "x", entities=[("fault_subcategory", "drawer_tray")])
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["kb_articles"], slots["kb_feedback"]) == ([], "none_shown")
    assert dispatcher.messages == []


async def test_subcategory_of_another_category_is_refused(portal: FakePortal, make_tracker, domain):
    tracker = at_subcategory(make_tracker, "x", entities=[("fault_subcategory", "unusual_noise")])
    dispatcher, events = await run_form(tracker, domain)
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert slot_values(events) == {"fault_subcategory": None}
    assert not portal.calls("GET", "/knowledge/search")


async def test_subcategory_typed_text_classified_within_category(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_subcategory(make_tracker, "dans le chargeur de documents"), domain)
    assert portal.calls("POST", "/faults/classify")[0]["json"] == {
        "text": "dans le chargeur de documents", "lang": "fr", "category": "paper_jam"}
    assert slot_values(events)["fault_subcategory"] == "dadf"


async def test_subcategory_typed_text_not_understood(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_subcategory(make_tracker, "je ne sais pas"), domain)
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert slot_values(events) == {"fault_subcategory": None}


async def test_subcategory_in_english(portal: FakePortal, make_tracker, domain):
    tracker = at_subcategory(make_tracker, "x", entities=[("fault_subcategory", "drawer_tray")], language="en")
    await run_form(tracker, domain)
    assert portal.calls("GET", "/knowledge/search")[0]["params"]["lang"] == "en"
    assert portal.calls("GET", "/knowledge/search")[0]["headers"]["accept-language"] == "en"


# --- kb_feedback and fault_confirm ------------------------------------------------------------------------------
FILLED_UP_TO_FEEDBACK = dict(FILLED_UP_TO_SUBCATEGORY, fault_subcategory="drawer_tray",
                             kb_articles=[{k: h[k] for k in ("number", "title", "summary", "url")} for h in KB_HITS])


def at_feedback(make_tracker, text: str, intent: str, entities=None):
    return make_tracker(text, intent=intent, entities=entities, requested_slot="kb_feedback",
                        slots=FILLED_UP_TO_FEEDBACK)


async def test_kb_feedback_affirm_ends_the_form_without_confirmation(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_feedback(make_tracker, "oui", "affirm"), domain)
    slots = slot_values(events)
    assert slots["kb_feedback"] == "yes"
    # fault_confirm is no longer required: the form asks nothing more
    assert "requested_slot" in slots and slots["requested_slot"] is None


async def test_kb_feedback_deny(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_feedback(make_tracker, "non", "deny"), domain)
    assert slot_values(events) == {"kb_feedback": "no"}


async def test_kb_feedback_none_shown_entity(portal: FakePortal, make_tracker, domain):
    tracker = at_feedback(make_tracker, '/inform{"kb_feedback":"none_shown"}', "inform",
                          entities=[("kb_feedback", "none_shown")])
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"kb_feedback": "none_shown"}


@pytest.mark.parametrize("typed", ["aucun article affiché", "Aucun article ne s'est affiché", "no article shown"])
async def test_kb_feedback_none_shown_typed(portal: FakePortal, make_tracker, domain, typed):
    dispatcher, events = await run_form(at_feedback(make_tracker, typed, "inform"), domain)
    assert slot_values(events) == {"kb_feedback": "none_shown"}


async def test_kb_feedback_gibberish(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_feedback(make_tracker, "blablabla", "inform"), domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"]
    assert slot_values(events) == {"kb_feedback": None}


async def test_kb_feedback_help_extracts_nothing(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_feedback(make_tracker, "aide", "help"), domain)
    assert events == [] and dispatcher.messages == []


# --- a fault type taken from the words: shown with the articles, changeable there -------------------------------
async def test_a_clear_category_without_sub_type_asks_only_the_sub_type(portal: FakePortal, make_tracker, domain):
    portal.assets = [ASSET_C5560]
    portal.classify_override = {"category": "malfunction", "subcategory": None, "confident": True,
                                "source": "keywords"}
    dispatcher, events = await run_form(make_tracker("elle ne s'allume plus", intent="report_fault"), domain)
    slots = slot_values(events)
    assert slots["fault_description"] == "elle ne s'allume plus"
    assert (slots["fault_category"], slots["fault_type_inferred"]) == ("malfunction", True)
    assert "fault_subcategory" not in slots and not portal.calls("GET", "/knowledge/search")


async def test_a_doubtful_type_is_still_proposed(portal: FakePortal, make_tracker, domain):
    portal.assets = [ASSET_C5560]
    portal.classify_override = {"category": "software", "subcategory": "driver", "confident": False,
                                "source": "knowledge", "alternatives": [{"category": "malfunction"},
                                                                        {"category": "software",
                                                                         "subcategory": "driver"}]}
    dispatcher, events = await run_form(make_tracker("le pilote affiche une erreur depuis la mise a jour",
                                                     intent="report_fault"), domain)
    slots = slot_values(events)
    assert "fault_category" not in slots and "fault_type_inferred" not in slots


async def test_another_type_at_the_sub_type_of_a_category_from_the_words(portal: FakePortal, make_tracker, domain):
    slots = dict(FILLED_UP_TO_SUBCATEGORY, fault_category="malfunction", fault_type_inferred=True)
    tracker = make_tracker('/inform{"fault_change":"type"}', entities=[("fault_change", "type")],
                           requested_slot="fault_subcategory", slots=slots)
    dispatcher, events = await run_form(tracker, domain)
    values = slot_values(events)
    assert values["fault_category"] is None and values["fault_proposal"] == {}
    assert "utter_choose_an_option" not in responses(dispatcher)


async def test_the_type_is_taken_on_the_turn_the_device_is_answered(portal: FakePortal, make_tracker, domain):
    slots = {"fault_description": "le papier se coince dans le tiroir 2", "fault_proposal": PAPER_JAM_DRAWER,
             "submission_key": "req-1"}
    tracker = make_tracker("WHJ01481", requested_slot="fault_asset", slots=slots, entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run_form(tracker, domain)
    values = slot_values(events)
    assert values["fault_asset"] == "77996101"
    assert (values["fault_category"], values["fault_subcategory"], values["fault_type_inferred"]) == (
        "paper_jam", "drawer_tray", True)
    assert portal.calls("GET", "/knowledge/search")[0]["params"]["asset"] == "77996101"


async def test_a_type_taken_from_the_words_without_articles_skips_the_articles(portal: FakePortal, make_tracker,
                                                                              domain):
    portal.assets, portal.kb_hits = [ASSET_C5560], []
    dispatcher, events = await run_form(make_tracker("bourrage papier dans le tiroir 2", intent="report_fault"),
                                        domain)
    slots = slot_values(events)
    assert slots["kb_articles"] == [] and slots["kb_feedback"] == "none_shown"  # the summary comes next


async def test_a_rejected_type_is_never_taken_again_from_the_same_words(portal: FakePortal, make_tracker, domain):
    slots = dict(FILLED_UP_TO_SUBCATEGORY, fault_category=None, fault_proposal={})
    dispatcher, events = await run_form(make_tracker("WHJ01481", requested_slot="fault_category", slots=slots,
                                                     intent="deny"), domain)
    assert "fault_type_inferred" not in slot_values(events)


INFERRED_AT_FEEDBACK = dict(FILLED_UP_TO_FEEDBACK, fault_type_inferred=True)


@pytest.mark.parametrize("text, entities", [
    ('/inform{"fault_change":"type"}', [("fault_change", "type")]),
    ("le type est faux", None),
    ("that's the wrong category, change the type", None),
])
async def test_not_this_type_at_the_articles_asks_the_type(portal: FakePortal, make_tracker, domain, text, entities):
    tracker = make_tracker(text, intent="inform", entities=entities, requested_slot="kb_feedback",
                           slots=INFERRED_AT_FEEDBACK)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_category"] is None and slots["fault_subcategory"] is None
    assert slots["fault_proposal"] == {} and slots["kb_articles"] is None  # every type is offered next
    assert "utter_answer_yes_no" not in responses(dispatcher)


async def test_words_naming_another_type_at_the_articles_set_it(portal: FakePortal, make_tracker, domain):
    portal.classify_override = {"category": "malfunction", "subcategory": "unusual_noise", "confident": True,
                                "source": "keywords"}
    tracker = make_tracker("en fait c'est surtout un bruit de grincement", intent="inform",
                           requested_slot="kb_feedback", slots=INFERRED_AT_FEEDBACK)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["fault_category"], slots["fault_subcategory"]) == ("malfunction", "unusual_noise")
    assert portal.calls("GET", "/knowledge/search")[-1]["params"]["tag"] == "fault.malfunction.unusual_noise"
    assert slots["kb_articles"] == FILLED_UP_TO_FEEDBACK["kb_articles"] and "kb_feedback" not in slots


async def test_a_type_chosen_by_the_user_offers_no_type_change_at_the_articles(portal: FakePortal, make_tracker,
                                                                             domain):
    tracker = at_feedback(make_tracker, "le type est faux", "inform")
    dispatcher, events = await run_form(tracker, domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"]


# --- another conversation's request at any question: left to the switch offer (data/rules/switching.yml) -----------
@pytest.mark.parametrize("text, intent", [("je voudrais commander du toner noir", "order_consumables"),
                                          ("je veux saisir mes relevés de compteur", "submit_meter_reading"),
                                          ("rappelez-moi", "human_handoff")])
@pytest.mark.parametrize("at", [
    lambda make_tracker, text, intent: at_category(make_tracker, text, intent=intent, proposal={}),
    lambda make_tracker, text, intent: at_subcategory(make_tracker, text, intent=intent),
    lambda make_tracker, text, intent: at_feedback(make_tracker, text, intent),
], ids=["fault_category", "fault_subcategory", "kb_feedback"])
async def test_another_request_is_not_an_answer(portal: FakePortal, make_tracker, domain, at, text, intent):
    """As in every form (actions/forms.py not_an_answer): nothing extracted, nothing said, so the form rejects
    and the rules offer to switch — instead of "please choose an option"."""
    dispatcher, events = await run_form(at(make_tracker, text, intent), domain)
    assert events == [] and dispatcher.messages == []
    assert portal.calls("POST", "/faults/classify") == []


async def test_this_forms_own_request_typed_at_the_type_question_is_still_an_answer(portal: FakePortal, make_tracker,
                                                                                   domain):
    # "bourrage papier" may be understood as report_fault: it is this form's own request, so it is classified
    tracker = at_category(make_tracker, "bourrage papier dans le tiroir", intent="report_fault", proposal={})
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["fault_category"] == "paper_jam"


async def test_required_slots_drop_confirmation_only_when_an_article_helped(make_tracker, domain):
    form = ValidateFaultReportForm()
    all_slots = form.domain_slots(domain)
    assert all_slots == ["fault_asset", "fault_description", "fault_category", "fault_subcategory",
                         "kb_feedback", "fault_confirm"]
    for feedback, expected in [("yes", all_slots[:-1]), ("no", all_slots), ("none_shown", all_slots),
                               (None, all_slots)]:
        tracker = make_tracker("x", slots={"kb_feedback": feedback})
        assert await form.required_slots(all_slots, CollectingDispatcher(), tracker, domain) == expected


def at_confirm(make_tracker, text: str, intent: str):
    return make_tracker(text, intent=intent, requested_slot="fault_confirm",
                        slots=dict(FILLED_UP_TO_FEEDBACK, kb_feedback="no"))


async def test_confirm_affirm(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_confirm(make_tracker, "oui", "affirm"), domain)
    assert slot_values(events) == {"fault_confirm": True}


@pytest.mark.parametrize("text", ["non", "non merci", "no thank you", "non, je ne veux plus l'envoyer"])
async def test_confirm_deny(portal: FakePortal, make_tracker, domain, text):
    dispatcher, events = await run_form(at_confirm(make_tracker, text, "deny"), domain)
    assert slot_values(events) == {"fault_confirm": False}


async def test_confirm_unclear_answer(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_confirm(make_tracker, "peut-être", "inform"), domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"]
    assert slot_values(events) == {"fault_confirm": None}


@pytest.mark.parametrize("text, entities", [
    ('/inform{"fault_change":"description"}', [("fault_change", "description")]),
    ("la description n'est pas bonne, je veux la reformuler", []), ("change the description please", []),
])
async def test_at_the_summary_the_description_can_be_changed(portal: FakePortal, make_tracker, domain, text, entities):
    tracker = make_tracker(text, intent="inform", entities=entities, requested_slot="fault_confirm",
                           slots=dict(FILLED_UP_TO_FEEDBACK, kb_feedback="no"))
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_description"] is None and slots["fault_confirm"] is None  # asked again, then the summary
    assert "utter_answer_yes_no" not in responses(dispatcher)


@pytest.mark.parametrize("text, entities", [('/inform{"fault_change":"type"}', [("fault_change", "type")]),
                                            ("le type est faux", [])])
async def test_at_the_summary_the_type_can_be_changed(portal: FakePortal, make_tracker, domain, text, entities):
    tracker = make_tracker(text, intent="inform", entities=entities, requested_slot="fault_confirm",
                           slots=dict(FILLED_UP_TO_FEEDBACK, kb_feedback="no"))
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["fault_category"], slots["fault_subcategory"], slots["fault_confirm"]) == (None, None, None)


@pytest.mark.parametrize("intent", ["inform", "deny"])  # the NLU may read the "non" as a refusal
async def test_at_the_summary_words_naming_another_type_set_it(portal: FakePortal, make_tracker, domain, intent):
    tracker = at_confirm(make_tracker, "non c'est plutôt un bruit bizarre", intent)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["fault_category"], slots["fault_subcategory"]) == ("malfunction", "unusual_noise")
    assert slots["fault_confirm"] is None  # the summary is shown again with the new type


async def test_at_the_summary_words_naming_another_device_set_it(portal: FakePortal, make_tracker, domain):
    tracker = at_confirm(make_tracker, "en fait c'est la GNM75498", "inform")
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_asset"] == "53463252" and slots["fault_confirm"] is None


async def test_confirm_cancel_extracts_nothing(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run_form(at_confirm(make_tracker, "annuler", "cancel"), domain)
    assert events == []


async def test_slots_not_asked_are_never_extracted(portal: FakePortal, make_tracker, domain):
    # "oui" while the device is asked must not confirm anything nor answer the article question
    tracker = make_tracker("oui", intent="affirm", requested_slot="fault_asset",
                           slots={"fault_proposal": PAPER_JAM_DRAWER})
    dispatcher, events = await run_form(tracker, domain)
    assert set(slot_names(events)) == {"fault_asset"}


# --- regressions of defects found and fixed -------------------------------------------------------------------
async def test_long_description_still_gets_articles(portal: FakePortal, make_tracker, domain):
    long_text = "le papier se coince dans le tiroir 2 " + "et la machine affiche une erreur " * 20
    assert len(long_text) > 500
    tracker = at_subcategory(make_tracker, "x", entities=[("fault_subcategory", "drawer_tray")],
                             fault_description=long_text)
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["kb_articles"], "no article for a long description"


async def test_long_opening_message_is_not_answered_with_a_case_refusal(portal: FakePortal, make_tracker, domain):
    long_text = "bourrage papier dans le tiroir 2. " * 40
    dispatcher, events = await run_form(make_tracker(long_text, intent="report_fault"), domain)
    assert "utter_portal_refused" not in responses(dispatcher)


async def test_description_mapping_leaves_digressions_to_the_rules(domain):
    (mapping,) = domain["slots"]["fault_description"]["mappings"]
    excluded = set(mapping.get("not_intent", []))
    assert {"cancel", "help", "greet", "goodbye", "thank"} <= excluded
    # Odd but real descriptions are sometimes classified out_of_scope: they must still be accepted.
    assert "out_of_scope" not in excluded


async def test_opening_naming_someone_elses_device_asks_even_with_one_device(portal: FakePortal, make_tracker, domain):
    # The user has one device but names another one: say it is not found and ask, never pick silently.
    portal.assets = portal.assets[:1]
    portal.resolve_override = {"matches": [], "unknown_references": ["XKL55120"]}
    dispatcher, events = await run_form(make_tracker("la XKL55120 fait du bruit", intent="report_fault",
                                                     requested_slot=None), domain)
    assert "utter_asset_not_found" in responses(dispatcher)
    assert slot_values(events).get("fault_asset") is None


# --- the opening turn after a "yes" to a switch offered inside another form (actions/switching.py) ------------------
JAM_ON_THE_C5560 = "bourrage papier dans le tiroir 2 de la WHJ01481"


@pytest.mark.parametrize("started", STARTS)
async def test_opening_words_give_the_device_and_the_description_however_the_form_started(
        portal: FakePortal, make_tracker, domain, started):
    tracker = await opening_tracker(make_tracker, domain, started, JAM_ON_THE_C5560, "report_fault",
                                    "fault_report_form", entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["fault_asset"] == "77996101"  # named in the request: not asked again
    assert message(dispatcher, "utter_asset_selected")["asset_label"] == LABEL_C5560
    assert slots["fault_description"] == JAM_ON_THE_C5560  # the request's words, never the "oui"
    assert {k: v for k, v in slots["fault_proposal"].items() if k != "score"} == PAPER_JAM_DRAWER
    assert [c["json"]["text"] for c in portal.calls("POST", "/assets/resolve")] == ["WHJ01481"]
    assert [c["json"]["text"] for c in portal.calls("POST", "/faults/classify")] == [JAM_ON_THE_C5560]
    assert_switch_request_forgotten(events, started)


@pytest.mark.parametrize("started", STARTS)
async def test_a_bare_fault_request_asks_everything_however_the_form_started(portal: FakePortal, make_tracker,
                                                                            domain, started):
    tracker = await opening_tracker(make_tracker, domain, started, "je veux signaler une panne", "report_fault",
                                    "fault_report_form")
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert "fault_description" not in slots and "fault_asset" not in slots  # "oui" is no description either
    assert dispatcher.messages == []
    assert [c["json"]["text"] for c in portal.calls("POST", "/assets/resolve")] == ["je veux signaler une panne"]
    assert_switch_request_forgotten(events, started)


async def test_no_to_a_switch_offer_at_the_summary_is_not_a_no_to_the_summary(portal: FakePortal, make_tracker, domain):
    """"No, carry on" to an offer to switch to another request: the summary is asked again, nothing is cancelled."""
    tracker = at_confirm(make_tracker, "/deny", "deny")
    user = next(i for i, e in enumerate(tracker.events) if e["event"] == "user")
    tracker.events.insert(user + 1, {"event": "action", "name": "action_stay_in_form"})
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events).get("fault_confirm") is None
    assert "utter_answer_yes_no" not in responses(dispatcher)
    # the same "no" typed to the summary itself still cancels it
    _, events = await run_form(at_confirm(make_tracker, "/deny", "deny"), domain)
    assert slot_values(events) == {"fault_confirm": False}


# --- the device taken back at any question ("non pardon, c'est celle de l'accueil") -----------------------------
@pytest.mark.parametrize(("text", "intent", "asked"), [
    ("non pardon je me suis trompée, c'est pas celle du 2e, c'est celle de l'accueil, la petite C5030", "deny",
     "kb_feedback"),
    ("sorry, wrong one: I meant the small C5030 at reception", "inform", "fault_confirm"),
    ("Sorry, my mistake - it's the reception one, the C5030, not the second floor.", "inform", "kb_feedback"),
    ("je me suis trompé : c'est celle de l'accueil et pas celle du 2e", "deny", "kb_feedback"),
])
async def test_the_device_taken_back_is_changed_and_the_question_asked_again(portal: FakePortal, make_tracker, domain,
                                                                              text, intent, asked):
    portal.resolve_override = {"matches": [ASSET_C5030], "unknown_references": []}
    slots = dict(FILLED_UP_TO_FEEDBACK, kb_feedback="no") if asked == "fault_confirm" else FILLED_UP_TO_FEEDBACK
    tracker = make_tracker(text, intent=intent, requested_slot=asked, slots=slots)
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"fault_asset": "53463252", "fault_asset_label": asset_label(ASSET_C5030)}
    assert responses(dispatcher) == ["utter_asset_selected"]  # "non" answered nothing: the question comes again
    (resolved,) = portal.calls("POST", "/assets/resolve")
    assert "2e" not in resolved["json"]["text"]  # only the words after the correction name the right device


@pytest.mark.parametrize(("text", "matches"), [
    ("non pardon, c'est bien un bourrage", []),  # a correction naming no device: an answer as before
    ("non pardon c'est celle du 2e étage", [ASSET_C5560]),  # the device it already is
    ("non", [ASSET_C5030]),  # no word taking the device back
])
async def test_no_device_change_without_another_device_named_after_a_correction(portal: FakePortal, make_tracker,
                                                                                 domain, text, matches):
    portal.resolve_override = {"matches": matches, "unknown_references": []}
    tracker = make_tracker(text, intent="deny", requested_slot="kb_feedback", slots=FILLED_UP_TO_FEEDBACK)
    dispatcher, events = await run_form(tracker, domain)
    assert "fault_asset" not in slot_values(events)


# --- consumables wanted, told as a fault: the order form takes over with the same words ---------------------------
@pytest.mark.parametrize("text", [
    "il nous faudrait un jaune et un magenta pour la photocopieuse, les voyants clignotent depuis ce matin",
    "we need a new drum for the 2nd floor copier, the panel says replace drum soon",
])
async def test_consumables_wanted_hand_the_fault_over_to_an_order(portal: FakePortal, make_tracker, domain, text):
    from actions.fault_report import ActionSubmitFaultReport

    dispatcher, events = await run_form(make_tracker(text, intent="report_fault"), domain)
    slots = slot_values(events)
    assert (slots["requested_slot"], slots["switch_to"]) == (None, "order_consumables")
    assert slots["switch_request"]["text"] == text and dispatcher.messages == []
    assert not portal.calls("POST", "/faults/classify")  # nothing of a fault is asked or looked up
    done = make_tracker(text, intent="report_fault", active_loop=None,
                        slots={"switch_to": "order_consumables", "switch_request": slots["switch_request"]})
    dispatcher, events = await run(ActionSubmitFaultReport(), done, domain)
    assert responses(dispatcher) == ["utter_fault_is_an_order"]
    assert events[-1]["name"] == "action_switch_form" and not portal.calls("POST", "/cases")


async def test_readings_read_as_a_fault_hand_over_to_the_readings(portal: FakePortal, make_tracker, domain):
    text = "relevés de ma machine : 112 = 15 390 / 113 = 89 002 / 122 = 4210 (pas bougé depuis la dernière fois)"
    _, events = await run_form(make_tracker(text, intent="report_fault"), domain)
    assert slot_values(events)["switch_to"] == "submit_meter_reading"


@pytest.mark.parametrize("text", [
    "le toner fuit partout, il nous faut un technicien",  # a defect: a fault, whatever else is said
    "erreur E000 affichée, le compteur 112 = 15 390 et 113 = 89 002 n'avancent plus",
    "there are black streaks on every page, do we need a new drum?",
    "bourrage papier dans le tiroir 2",
])
async def test_a_defect_stays_a_fault(portal: FakePortal, make_tracker, domain, text):
    _, events = await run_form(make_tracker(text, intent="report_fault"), domain)
    assert slot_values(events).get("switch_to") is None
