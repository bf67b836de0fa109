"""Questions and new requests in the middle of a form (actions/switching.py, scripts/generate_switch_rules.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import SWITCH_REQUEST, OpeningMessage, opening_message
from actions.general import ValidateHandoffForm
from actions.switching import (
    ActionOfferSwitch, ActionStayInForm, ActionSwitchForm, Starter, form_starters, inline_answer_steps, inline_answers,
)
from actions_fakes import ROOT, TOKEN, FakePortal, accepted_switch, responses, run, slot_values

RULES = """
version: "3.1"
rules:
  - rule: start
    steps:
      - intent: order_consumables
      - action: order_form
      - active_loop: order_form
  - rule: guarded
    steps:
      - intent: invite_user
      - action: action_check_role
      - slot_was_set:
          - role_allowed: true
      - action: admin_invite_form
      - active_loop: admin_invite_form
  - rule: answer
    steps:
      - intent: case_status
      - action: action_case_status
  - rule: not a starter (has a condition)
    condition:
      - active_loop: order_form
    steps:
      - intent: help
      - action: utter_help
"""


def test_starters_and_answers_are_read_from_the_rules(tmp_path: Path):
    (tmp_path / "x.yml").write_text(RULES)
    (tmp_path / "switching.yml").write_text("version: '3.1'\nrules:\n  - rule: r\n    steps:\n      - intent: greet\n"
                                            "      - action: nope_form\n")
    form_starters.cache_clear(), inline_answers.cache_clear(), inline_answer_steps.cache_clear()
    try:
        assert form_starters(tmp_path) == {"order_consumables": Starter("order_form", False),
                                           "invite_user": Starter("admin_invite_form", True)}
        assert inline_answers(tmp_path) == {"case_status": "action_case_status"}
    finally:
        form_starters.cache_clear(), inline_answers.cache_clear(), inline_answer_steps.cache_clear()


def test_generated_rules_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_switch_rules.py"), "--check"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_real_starter_form_exists_in_the_domain(domain):
    starters = form_starters()
    assert starters, "no rule starts a form?"
    assert {s.form for s in starters.values()} <= set(domain["forms"])


@pytest.mark.asyncio
async def test_offer_names_both_conversations(make_tracker, domain):
    starters = form_starters()
    wanted, current = next(((i, s.form) for i, s in starters.items() if not s.guarded), (None, None))
    other = next(s.form for i, s in starters.items() if s.form != current)
    tracker = make_tracker("something", intent=wanted, active_loop=other)
    dispatcher = CollectingDispatcher()
    events = await ActionOfferSwitch().run(dispatcher, tracker, domain)
    assert slot_values(events) == {"switch_to": wanted, "switch_pending": True,
                                   SWITCH_REQUEST: {"text": "something", "intent": wanted, "entities": []}}
    (message,) = dispatcher.messages
    assert message["response"] == "utter_offer_switch" and message["wanted"] and message["current"]


@pytest.mark.asyncio
async def test_yes_resets_the_old_form_and_starts_the_new_one(portal: FakePortal, make_tracker, domain):
    starters = form_starters()
    wanted = next(i for i, s in starters.items() if not s.guarded and s.form != "fault_report_form")
    tracker = make_tracker("oui", intent="affirm", active_loop=None,
                           slots={"switch_to": wanted, "switch_pending": True, "fault_asset": "77996101"},
                           history=[{"event": "active_loop", "name": "fault_report_form"},
                                    {"event": "active_loop", "name": None}])
    dispatcher = CollectingDispatcher()
    events = await ActionSwitchForm().run(dispatcher, tracker, domain)
    slots = slot_values(events)
    assert slots["fault_asset"] is None and slots["switch_pending"] is False and slots["switch_to"] is None
    assert SWITCH_REQUEST not in slots  # kept for the new form's opening turn
    assert events[-1] == FollowupAction(starters[wanted].form)
    assert portal.requests == []


@pytest.mark.asyncio
async def test_yes_to_an_admin_only_request_is_refused_for_a_user(portal: FakePortal, make_tracker, domain):
    guarded = next((i for i, s in form_starters().items() if s.guarded), None)
    if guarded is None:
        pytest.skip("no guarded starter in the rules yet")
    portal.route("GET", r"/users/me/permissions", lambda r, b: __import__("httpx").Response(200, json={
        "role": "user", "permissions": [{"code": "submit_requests", "label": {"fr": "", "en": ""}}],
        "restricted_request_categories": ["contract_question", "invoice_question", "product_move"]}))
    portal.route("GET", r"/users/me/administrators", lambda r, b: __import__("httpx").Response(200, json=[
        {"full_name": "SNTest DemoPortal", "email": "sntestportaldemo@outlook.com"}]))
    tracker = make_tracker("yes", intent="affirm", active_loop=None,
                           slots={"switch_to": guarded, "switch_pending": True,
                                  SWITCH_REQUEST: {"text": "…", "intent": guarded, "entities": []}},
                           history=[{"event": "active_loop", "name": "fault_report_form"},
                                    {"event": "active_loop", "name": None}])
    dispatcher = CollectingDispatcher()
    events = await ActionSwitchForm().run(dispatcher, tracker, domain)
    assert not any(isinstance(e, dict) and e.get("event") == "followup" for e in events)
    assert responses(dispatcher) == ["utter_admin_only"]
    assert "sntestportaldemo@outlook.com" in dispatcher.messages[0]["administrators"]
    assert slot_values(events)[SWITCH_REQUEST] is None  # refused: no later request may read it


@pytest.mark.asyncio
async def test_no_keeps_the_form_and_forgets_what_the_request_filled(make_tracker, domain):
    tracker = make_tracker("non", intent="deny", requested_slot="fault_description",
                           slots={"switch_to": "order_consumables", "switch_pending": True,
                                  SWITCH_REQUEST: {"text": "je veux commander du toner",
                                                   "intent": "order_consumables", "entities": []},
                                  "fault_description": "je veux commander du toner"})
    dispatcher = CollectingDispatcher()
    events = await ActionStayInForm().run(dispatcher, tracker, domain)
    assert slot_values(events) == {"switch_to": None, "switch_pending": False, SWITCH_REQUEST: None,
                                   "fault_description": None}
    assert responses(dispatcher) == ["utter_continue_form"]


# --- the message that opened the request (actions/forms.py opening_message) ------------------------------------------
MOVE_REQUEST = "je veux faire une demande de déménagement pour la WHJ01481"


@pytest.mark.asyncio
async def test_offer_records_the_words_intent_and_entities_of_the_request(make_tracker, domain):
    tracker = make_tracker(MOVE_REQUEST, intent="product_move", entities=[("asset_ref", "WHJ01481")])
    _, events = await run(ActionOfferSwitch(), tracker, domain)
    assert slot_values(events)[SWITCH_REQUEST] == {
        "text": MOVE_REQUEST, "intent": "product_move", "entities": [{"entity": "asset_ref", "value": "WHJ01481"}]}


def test_a_form_started_directly_reads_its_own_message(make_tracker):
    tracker = make_tracker(MOVE_REQUEST, intent="product_move", entities=[("asset_ref", "WHJ01481")],
                           active_loop="request_form")
    opening = opening_message(tracker)
    assert (opening.text, opening.intent, opening.entity_values("asset_ref")) == \
        (MOVE_REQUEST, "product_move", ["WHJ01481"])


@pytest.mark.asyncio
async def test_after_a_switch_the_opening_message_is_the_request_not_the_yes(portal, make_tracker, domain):
    slots = await accepted_switch(make_tracker, domain, "rappelez-moi", "human_handoff")
    opening = opening_message(make_tracker("oui", intent="affirm", active_loop="handoff_form", slots=slots))
    assert opening == OpeningMessage("rappelez-moi", "human_handoff", ())


def test_a_pending_offer_is_not_read(make_tracker):
    """Offered but not (yet) accepted — or abandoned: a form opening meanwhile reads its own message."""
    tracker = make_tracker("je veux parler à quelqu'un", intent="human_handoff", active_loop="handoff_form",
                           slots={"switch_pending": True,
                                  SWITCH_REQUEST: {"text": "commander du toner", "intent": "order_consumables"}})
    assert opening_message(tracker).intent == "human_handoff"


@pytest.mark.asyncio
@pytest.mark.parametrize("requested_slot", [None, "handoff_confirm"])
async def test_every_form_validation_forgets_the_recorded_request(make_tracker, domain, requested_slot):
    """Read on the new form's opening turn, then forgotten; met by the old form, the user went on with it."""
    tracker = make_tracker("oui", intent="affirm", active_loop="handoff_form", requested_slot=requested_slot,
                           slots={SWITCH_REQUEST: {"text": "rappelez-moi", "intent": "human_handoff"}})
    _, events = await run(ValidateHandoffForm(), tracker, domain)
    assert slot_values(events)[SWITCH_REQUEST] is None


@pytest.mark.asyncio
async def test_a_form_without_a_recorded_request_sets_nothing_more(make_tracker, domain):
    tracker = make_tracker("/human_handoff", intent="human_handoff", active_loop="handoff_form")
    _, events = await run(ValidateHandoffForm(), tracker, domain)
    assert SWITCH_REQUEST not in slot_values(events)
