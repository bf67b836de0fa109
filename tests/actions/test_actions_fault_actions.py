"""The form's ask actions, the submission (case or deflection, with retry) and the reset."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fault_report import (
    EXTRA_SLOTS,
    ActionAskFaultAsset,
    ActionAskFaultCategory,
    ActionAskFaultConfirm,
    ActionAskFaultSubcategory,
    ActionAskKbFeedback,
    ActionSubmitFaultReport,
)
from actions.forms import MAX_BUTTONS as MAX_ASSET_BUTTONS, asset_label
from actions.submission import ActionCancelForm, ActionDropPending, ActionRetrySubmit
from actions_fakes import run, ALL_ASSETS, ASSET_C5560, KB_HITS, TOKEN, FakePortal, responses, slot_values

pytestmark = pytest.mark.asyncio

LABEL_C5560 = asset_label(ASSET_C5560)
ARTICLES = [{k: h[k] for k in ("number", "title", "summary", "url")} for h in KB_HITS]
FAULT_CATEGORIES = ["malfunction", "cannot_print_scan_fax", "paper_jam", "print_quality", "software"]
FORM_SLOTS = ("fault_asset", "fault_description", "fault_category", "fault_subcategory", "kb_feedback",
              "fault_confirm", *EXTRA_SLOTS)
RESET = {**{slot: None for slot in FORM_SLOTS}, "submission_key": None, "pending_submit": False,
         "pending_action": None}
FAILED = {"submission_key": "req-42", "pending_submit": True, "pending_action": "action_submit_fault_report"}
COMPLETE = {
    "fault_asset": "77996101", "fault_asset_label": LABEL_C5560,
    "fault_description": "le papier se coince dans le tiroir 2",
    "fault_proposal": {"category": "paper_jam", "subcategory": "drawer_tray", "confident": True,
                       "source": "keywords"},
    "fault_category": "paper_jam", "fault_subcategory": "drawer_tray", "kb_articles": ARTICLES,
    "kb_feedback": "no", "fault_confirm": True, "submission_key": "req-42",
}
HISTORY = [
    {"event": "user", "text": "bourrage dans le tiroir", "input_channel": "rest"},
    {"event": "bot", "text": "Quel appareil est concerné ?"},
    {"event": "user", "text": "la WHJ01481", "input_channel": "rest"},
]




def of(dispatcher: CollectingDispatcher, response: str) -> List[Dict[str, Any]]:
    return [m for m in dispatcher.messages if m["response"] == response]


# --- action_ask_fault_asset -------------------------------------------------------------------------------------
async def test_ask_asset_lists_each_device_as_a_button(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run(ActionAskFaultAsset(), make_tracker(requested_slot="fault_asset"), domain)
    assert events == []
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_fault_asset"
    assert msg["buttons"] == [
        {"title": asset_label(a), "payload": f'/inform{{"asset_ref":"{a["asset_number"]}"}}'} for a in ALL_ASSETS
    ]
    assert msg["buttons"][0] == {"title": "Copieur 2e étage — Canon iR-ADV C5560i (77996101 / WHJ01481)",
                                 "payload": '/inform{"asset_ref":"77996101"}'}
    # an alias equal to the serial is not repeated
    assert msg["buttons"][2]["title"] == "Canon iR-ADV C5560i (80145861 / WHJ02153)"


async def test_ask_asset_caps_the_buttons(portal: FakePortal, make_tracker, domain):
    portal.assets = [dict(ASSET_C5560, asset_number=f"{n:08d}", serial=f"ABC{n:05d}", alias=None) for n in range(15)]
    dispatcher, _ = await run(ActionAskFaultAsset(), make_tracker(requested_slot="fault_asset"), domain)
    assert len(dispatcher.messages[0]["buttons"]) == MAX_ASSET_BUTTONS


async def test_ask_asset_without_devices_ends_the_form(portal: FakePortal, make_tracker, domain):
    portal.assets = []
    dispatcher, events = await run(ActionAskFaultAsset(), make_tracker(requested_slot="fault_asset"), domain)
    assert responses(dispatcher) == ["utter_no_assets"]
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e["event"] == "active_loop"]
    slots = slot_values(events)
    assert slots["requested_slot"] is None
    assert {k: slots[k] for k in RESET} == RESET


async def test_ask_asset_backend_down_ends_the_form(portal: FakePortal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run(ActionAskFaultAsset(), make_tracker(requested_slot="fault_asset"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


# --- action_ask_fault_category ----------------------------------------------------------------------------------
async def test_ask_category_proposes_the_classified_fault(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_category", slots={"fault_proposal": COMPLETE["fault_proposal"]})
    dispatcher, events = await run(ActionAskFaultCategory(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_propose_fault"
    assert msg["fault_label"] == "Bourrage papier › Dans le tiroir ou le plateau"
    assert msg["buttons"] == []  # the response's own yes/no buttons are used


async def test_ask_category_proposal_in_english(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_category", slots={
        "language": "en", "fault_proposal": {"category": "malfunction", "subcategory": None}})
    dispatcher, _ = await run(ActionAskFaultCategory(), tracker, domain)
    assert dispatcher.messages[0]["fault_label"] == "Malfunction or failure"


async def test_ask_category_buttons_for_the_five_fault_types(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_category", slots={"fault_proposal": {}})
    dispatcher, _ = await run(ActionAskFaultCategory(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_fault_category"
    assert [b["payload"] for b in msg["buttons"]] == [f'/inform{{"fault_category":"{c}"}}' for c in FAULT_CATEGORIES]
    assert msg["buttons"][2]["title"] == "Bourrage papier"


async def test_ask_category_buttons_in_english(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_category", slots={"language": "en"})
    dispatcher, _ = await run(ActionAskFaultCategory(), tracker, domain)
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["Malfunction or failure", "I can no longer print, scan or fax", "Paper jam",
                      "Print quality problem", "Software question"]


TWO_LIKELY = {"category": None, "subcategory": None, "confident": False, "source": "keywords", "alternatives": [
    {"category": "malfunction", "subcategory": "unusual_noise"}, {"category": "paper_jam", "subcategory": None}]}


async def test_ask_category_offers_the_likeliest_two_and_another_type(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_category", slots={"language": "en", "fault_proposal": TWO_LIKELY})
    dispatcher, _ = await run(ActionAskFaultCategory(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_propose_fault_types"
    assert msg["buttons"] == [
        {"title": "Malfunction or failure › Unusual noise",
         "payload": '/inform{"fault_category":"malfunction","fault_subcategory":"unusual_noise"}'},
        {"title": "Paper jam", "payload": '/inform{"fault_category":"paper_jam"}'},
        {"title": "Another type", "payload": "/deny"},
    ]


async def test_a_doubtful_proposal_with_a_runner_up_offers_both(portal: FakePortal, make_tracker, domain):
    doubtful = dict(TWO_LIKELY, category="malfunction", subcategory="unusual_noise", source="knowledge")
    tracker = make_tracker(requested_slot="fault_category", slots={"fault_proposal": doubtful})
    dispatcher, _ = await run(ActionAskFaultCategory(), tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_propose_fault_types"
    assert dispatcher.messages[0]["buttons"][-1] == {"title": "Un autre type", "payload": "/deny"}


async def test_ask_category_backend_down(portal: FakePortal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run(ActionAskFaultCategory(), make_tracker(requested_slot="fault_category"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"] and events == []


# --- action_ask_fault_subcategory -------------------------------------------------------------------------------
async def test_ask_subcategory_buttons(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_subcategory", slots={"fault_category": "paper_jam"})
    dispatcher, _ = await run(ActionAskFaultSubcategory(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_fault_subcategory"
    assert msg["category_label"] == "Bourrage papier"
    assert msg["buttons"] == [
        {"title": "À l'intérieur de l'appareil", "payload": '/inform{"fault_subcategory":"inside_device"}'},
        {"title": "Dans le chargeur supérieur DADF", "payload": '/inform{"fault_subcategory":"dadf"}'},
        {"title": "Dans le tiroir ou le plateau", "payload": '/inform{"fault_subcategory":"drawer_tray"}'},
    ]


async def test_ask_sub_type_of_a_category_from_the_words_says_it_and_offers_another_type(
        portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_subcategory",
                           slots={"fault_category": "malfunction", "fault_type_inferred": True})
    dispatcher, events = await run(ActionAskFaultSubcategory(), tracker, domain)
    assert responses(dispatcher) == ["utter_fault_type_inferred", "utter_ask_fault_subcategory"]
    assert dispatcher.messages[0]["fault_label"] == "Dysfonctionnement ou défaillance"
    buttons = dispatcher.messages[1]["buttons"]
    assert buttons[-1] == {"title": "Un autre type", "payload": '/inform{"fault_change":"type"}'}


# --- action_ask_kb_feedback --------------------------------------------------------------------------------------
async def test_ask_kb_feedback_lists_articles_with_public_links(portal: FakePortal, make_tracker, domain,
                                                                monkeypatch):
    monkeypatch.setenv("BACKEND_PUBLIC_URL", "https://portal.example/")
    tracker = make_tracker(requested_slot="kb_feedback", slots={"kb_articles": ARTICLES})
    dispatcher, events = await run(ActionAskKbFeedback(), tracker, domain)
    assert events == []
    assert responses(dispatcher) == ["utter_kb_articles_intro", "utter_kb_article", "utter_kb_article",
                                     "utter_ask_kb_feedback"]
    first = dispatcher.messages[1]
    assert {k: first[k] for k in ("title", "number", "summary", "url")} == {
        "title": "Dégager un bourrage dans le tiroir", "number": "KB0010",
        "summary": "Ouvrez le tiroir et retirez la feuille.", "url": "https://portal.example/kb/KB0010?lang=fr"}
    assert dispatcher.messages[2]["url"] == "https://portal.example/kb/KB0011?lang=fr"


async def test_ask_kb_feedback_names_a_type_taken_from_the_words(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="kb_feedback", slots={
        "kb_articles": ARTICLES, "fault_category": "paper_jam", "fault_subcategory": "drawer_tray",
        "fault_type_inferred": True})
    dispatcher, events = await run(ActionAskKbFeedback(), tracker, domain)
    assert responses(dispatcher) == ["utter_fault_type_inferred", "utter_kb_articles_intro", "utter_kb_article",
                                     "utter_kb_article", "utter_ask_kb_feedback_inferred"]
    assert dispatcher.messages[0]["fault_label"] == "Bourrage papier › Dans le tiroir ou le plateau"
    buttons = [b["payload"] for b in domain["responses"]["utter_ask_kb_feedback_inferred"][1]["buttons"]]
    assert '/inform{"fault_change":"type"}' in [p.replace("{{", "{").replace("}}", "}") for p in buttons]


async def test_ask_kb_feedback_falls_back_to_backend_url(portal: FakePortal, make_tracker, domain, monkeypatch):
    monkeypatch.setenv("BACKEND_URL", "http://localhost:8000")
    tracker = make_tracker(requested_slot="kb_feedback", slots={"kb_articles": ARTICLES[:1]})
    dispatcher, _ = await run(ActionAskKbFeedback(), tracker, domain)
    assert dispatcher.messages[1]["url"] == "http://localhost:8000/kb/KB0010?lang=fr"


# --- action_ask_fault_confirm ------------------------------------------------------------------------------------
async def test_ask_confirm_summarises_the_case(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker(requested_slot="fault_confirm", slots=dict(COMPLETE, fault_confirm=None))
    dispatcher, _ = await run(ActionAskFaultConfirm(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_fault_confirm"
    assert (msg["asset_label"], msg["fault_label"], msg["description"]) == (
        LABEL_C5560, "Bourrage papier › Dans le tiroir ou le plateau", "le papier se coince dans le tiroir 2")


async def test_ask_confirm_says_when_no_article_was_found(portal: FakePortal, make_tracker, domain):
    slots = dict(COMPLETE, fault_confirm=None, kb_articles=[], kb_feedback="none_shown")
    dispatcher, _ = await run(ActionAskFaultConfirm(), make_tracker(requested_slot="fault_confirm", slots=slots),
                              domain)
    assert responses(dispatcher) == ["utter_no_articles_found", "utter_ask_fault_confirm"]


# --- action_submit_fault_report ---------------------------------------------------------------------------------
def submit_tracker(make_tracker, input_channel: str = "rest", **slots):
    return make_tracker("oui", intent="affirm", slots=dict(COMPLETE, **slots), history=HISTORY,
                        input_channel=input_channel, active_loop=None)


async def test_submit_creates_the_case(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker), domain)
    (request,) = portal.calls("POST", "/cases")
    body = request["json"]
    assert {k: body[k] for k in ("category", "subcategory", "asset", "description", "channel",
                                 "kb_articles_shown", "kb_feedback")} == {
        "category": "paper_jam", "subcategory": "drawer_tray", "asset": "77996101",
        "description": "le papier se coince dans le tiroir 2", "channel": "rest",
        "kb_articles_shown": ["KB0010", "KB0011"], "kb_feedback": "no"}
    assert "user: bourrage dans le tiroir" in body["transcript"]
    assert "user: la WHJ01481" in body["transcript"]
    assert "bot: Quel appareil est concerné ?" in body["transcript"]
    assert request["headers"]["idempotency-key"] == "req-42"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert not portal.calls("POST", "/knowledge/deflections")
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_case_created"
    assert msg["case_number"] == "CS0000101"
    assert msg["fault_label"] == "Bourrage papier › Dans le tiroir ou le plateau"
    assert msg["asset_label"] == LABEL_C5560
    assert slot_values(events) == RESET


@pytest.mark.parametrize("input_channel, code", [("socketio", "web"), ("rest", "rest"), (None, "api"),
                                                 ("cmdline", "api")])
async def test_submit_case_channel(portal: FakePortal, make_tracker, domain, input_channel, code):
    await run(ActionSubmitFaultReport(), submit_tracker(make_tracker, input_channel=input_channel), domain)
    assert portal.calls("POST", "/cases")[0]["json"]["channel"] == code


async def test_submit_deflection_when_an_article_helped(portal: FakePortal, make_tracker, domain):
    tracker = submit_tracker(make_tracker, kb_feedback="yes", fault_confirm=None)
    dispatcher, events = await run(ActionSubmitFaultReport(), tracker, domain)
    assert not portal.calls("POST", "/cases")
    (request,) = portal.calls("POST", "/knowledge/deflections")
    assert request["json"] == {"asset": "77996101", "category": "paper_jam", "subcategory": "drawer_tray",
                               "description": "le papier se coince dans le tiroir 2",
                               "kb_articles_shown": ["KB0010", "KB0011"], "channel": "rest"}
    assert request["headers"]["idempotency-key"] == "req-42"
    assert responses(dispatcher) == ["utter_glad_resolved"]
    assert slot_values(events) == RESET


async def test_submit_declined(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker, fault_confirm=False),
                                   domain)
    assert responses(dispatcher) == ["utter_case_not_submitted"]
    assert portal.requests == []
    assert slot_values(events) == RESET


async def test_submit_backend_down_keeps_everything_then_retry_uses_the_same_key(portal: FakePortal, make_tracker,
                                                                                 domain):
    portal.fail("down", "POST", "/cases")
    dispatcher, events = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events) == FAILED  # no reset
    assert portal.calls("POST", "/cases")[0]["headers"]["idempotency-key"] == "req-42"

    portal.recover()
    retry = submit_tracker(make_tracker, pending_submit=True, pending_action="action_submit_fault_report")
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert [c["headers"]["idempotency-key"] for c in portal.calls("POST", "/cases")] == ["req-42", "req-42"]
    assert responses(dispatcher) == ["utter_case_created"]
    assert slot_values(events) == RESET


async def test_submit_without_request_id_generates_one_and_keeps_it_for_the_retry(portal: FakePortal,
                                                                                  make_tracker, domain):
    portal.fail(503, "POST", "/cases")
    _, events = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker, submission_key=None), domain)
    key = slot_values(events)["submission_key"]
    assert key and portal.calls("POST", "/cases")[0]["headers"]["idempotency-key"] == key
    portal.recover()
    await run(ActionSubmitFaultReport(), submit_tracker(make_tracker, submission_key=key, pending_submit=True),
              domain)
    assert portal.calls("POST", "/cases")[1]["headers"]["idempotency-key"] == key


async def test_submit_retry_after_a_lost_answer_does_not_duplicate(portal: FakePortal, make_tracker, domain):
    # the first attempt reached the backend (case created) but the answer was lost: same key, same case
    first = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker), domain)
    second = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker, pending_submit=True), domain)
    assert first[0].messages[0]["case_number"] == second[0].messages[0]["case_number"]


async def test_submit_rejected(portal: FakePortal, make_tracker, domain):
    portal.fail((422, {"code": "asset_not_visible", "message": "Appareil introuvable."}), "POST", "/cases")
    dispatcher, events = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker), domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["reason"]) == ("utter_portal_refused", "Appareil introuvable.")
    assert slot_values(events) == RESET


async def test_submit_not_authenticated(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("oui", intent="affirm", slots=COMPLETE, token="expired", active_loop=None)
    dispatcher, events = await run(ActionSubmitFaultReport(), tracker, domain)
    assert responses(dispatcher) == ["utter_login_required"]
    assert slot_values(events) == RESET


async def test_submit_deflection_backend_down(portal: FakePortal, make_tracker, domain):
    portal.fail("down")
    tracker = submit_tracker(make_tracker, kb_feedback="yes", fault_confirm=None)
    dispatcher, events = await run(ActionSubmitFaultReport(), tracker, domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events) == FAILED


async def test_submit_never_says_not_created_about_a_created_case(portal: FakePortal, make_tracker, domain):
    # Everything that can fail is done before the case is created: what the user is told matches the portal.
    portal.fail("down", "GET", "/taxonomy")
    dispatcher, events = await run(ActionSubmitFaultReport(), submit_tracker(make_tracker), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert portal.calls("POST", "/cases") == []
    assert slot_values(events) == FAILED


# --- cancel and giving up a failed submission ----------------------------------------------------------------------
async def test_cancel_forgets_every_answer(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("annuler", intent="cancel", slots=dict(COMPLETE), active_loop=None,
                           history=[{"event": "active_loop", "name": "fault_report_form"},
                                    {"event": "active_loop", "name": None}])
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert slot_values(events) == RESET
    assert portal.requests == []


async def test_dropping_a_failed_submission_forgets_it(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("non", intent="deny", active_loop=None,
                           slots=dict(COMPLETE, pending_submit=True, pending_action="action_submit_fault_report"))
    dispatcher, events = await run(ActionDropPending(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert slot_values(events) == RESET
    assert portal.requests == []


async def test_retry_with_nothing_pending_writes_nothing(portal: FakePortal, make_tracker, domain):
    tracker = make_tracker("oui", intent="affirm", active_loop=None, slots=dict(pending_submit=True))
    dispatcher, events = await run(ActionRetrySubmit(), tracker, domain)
    assert slot_values(events) == {"pending_submit": False, "pending_action": None}
    assert portal.requests == []
