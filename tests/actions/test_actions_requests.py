"""actions/requests.py: the request form ("Soumettre une demande") for the six request types, its questions,
its submission (POST /requests, with retry) and the role check that refuses contract, invoice and move requests
to a `user`, naming the account's administrators."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from actions.session import IDENTITY_KEY
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import asset_label
from actions.requests import (
    EXTRA_SLOTS,
    MAX_DESCRIPTION_CHARS,
    ActionAskRequestAsset,
    ActionAskRequestCategory,
    ActionAskRequestConfirm,
    ActionAskRequestDescription,
    ActionAskRequestSubcategory,
    ActionSubmitRequest,
    ValidateRequestForm,
)
from actions.roles import ActionCheckRole
from actions.submission import ActionCancelForm, ActionRetrySubmit
from actions_fakes import (
    run, message, accepted_switch, assert_switch_request_forgotten, opening_tracker, ALL_ASSETS, ASSET_C5030,
    ASSET_C5560, STARTS, TOKEN, FakePortal, responses, slot_values,
)
from fakes_requests import RequestsBackend

pytestmark = pytest.mark.asyncio

FORM = "request_form"
LABEL_C5560 = asset_label(ASSET_C5560)
LABEL_C5030 = asset_label(ASSET_C5030)
FORM_SLOTS = ("request_category", "request_subcategory", "request_asset", "request_description",
              "request_confirm", *EXTRA_SLOTS)
RESET = {**{slot: None for slot in FORM_SLOTS}, "submission_key": None, "pending_submit": False,
         "pending_action": None}
FAILED = {"submission_key": "req-7", "pending_submit": True, "pending_action": "action_submit_request"}
COMPLETE = {
    "request_category": "contract_question", "request_subcategory": "contract_end_date",
    "request_asset": "53463252", "request_asset_label": LABEL_C5030,
    "request_description": "Quand se termine notre contrat de location ?", "request_confirm": True,
    "submission_key": "req-7",
}
HISTORY = [
    {"event": "user", "text": "quelle est la date de fin de notre contrat ?", "input_channel": "rest"},
    {"event": "bot", "text": "Type de demande : Question sur mon contrat › Date de fin de contrat."},
    {"event": "user", "text": "la GNM75498", "input_channel": "rest"},
]
ADMIN_NAMES = "SNTest DemoPortal (sntestportaldemo@outlook.com)"


@pytest.fixture
def requests_backend(portal: FakePortal) -> RequestsBackend:
    return RequestsBackend(portal, role="user")


@pytest.fixture
def admin_backend(portal: FakePortal) -> RequestsBackend:
    return RequestsBackend(portal, role="admin")




async def run_form(tracker: Any, domain: Dict[str, Any]) -> tuple:
    return await run(ValidateRequestForm(), tracker, domain)


def form_tracker(make_tracker, text: str = "", intent: str = "inform", **kwargs: Any):
    return make_tracker(text, intent=intent, active_loop=FORM, **kwargs)




def slot_names(events: List[Dict[str, Any]]) -> List[str]:
    return [e["name"] for e in events if e.get("event") == "slot"]


# --- the opening turn -----------------------------------------------------------------------------------------------
async def test_opening_contract_question_names_the_sub_type(admin_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, "quelle est la date de fin de notre contrat ?", intent="contract_question")
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_category"] == "contract_question"
    assert slots["request_subcategory"] == "contract_end_date"
    assert "request_asset" not in slots  # optional device, none named: asked with a "no specific device" choice
    assert slots["request_description"] == "quelle est la date de fin de notre contrat ?"  # the need, said already
    assert message(dispatcher, "utter_request_type_selected")["request_label"] == \
        "Question sur mon contrat › Date de fin de contrat"
    assert not portal.calls("GET", "/assets")
    assert not portal.calls("GET", "/users/me/permissions")  # the rules ran action_check_role already


async def test_opening_generic_contract_question_asks_the_sub_type(admin_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, "I have a question about my contract", intent="contract_question",
                           slots={"language": "en"})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_category"] == "contract_question"
    assert "request_subcategory" not in slots and "request_description" not in slots  # a bare question: asked
    assert dispatcher.messages == []


async def test_opening_general_enquiry_has_a_single_sub_type(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "j'ai une demande générale", intent="general_enquiry")
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("general_enquiry", "general_enquiry")
    assert "request_description" not in slots  # "une demande générale" says nothing of the need
    assert dispatcher.messages == []  # nothing to choose, nothing to announce


async def test_opening_move_of_a_named_device(admin_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, "il faut déplacer la WHJ01481 au 3e étage", intent="product_move",
                           entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("product_move", "one_to_five")
    assert (slots["request_asset"], slots["request_asset_label"]) == ("77996101", LABEL_C5560)
    assert responses(dispatcher) == ["utter_request_type_selected", "utter_asset_selected"]
    assert dispatcher.messages[0]["request_label"] == "Demande de transfert de produit › 1 à 5 produits"


async def test_opening_move_without_a_number_is_of_one_to_five_devices(admin_backend, portal, make_tracker, domain):
    # "their copier", no number said: one device moves, not a question the user cannot answer
    tracker = form_tracker(make_tracker, "la compta déménage au 3e, faut monter leur copieur avec eux",
                           intent="product_move")
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_subcategory"] == "one_to_five"
    assert message(dispatcher, "utter_request_type_selected")["request_label"] == \
        "Demande de transfert de produit › 1 à 5 produits"


async def test_opening_move_count_in_english_and_the_only_device_is_taken(admin_backend, portal, make_tracker,
                                                                          domain):
    portal.assets = [ASSET_C5030]
    tracker = form_tracker(make_tracker, "we need to move 12 copiers to the new office", intent="product_move",
                           slots={"language": "en"})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_subcategory"] == "more_than_five"
    # twelve devices named: recorded as such (listed in the description), no single device asked
    assert (slots["request_asset"], slots["request_asset_label"]) == ("several", "12 devices")
    assert message(dispatcher, "utter_request_type_selected")["request_label"] == \
        "Product move request › More than 5 products"


async def test_opening_device_configuration_takes_the_only_device(requests_backend, portal, make_tracker, domain):
    portal.assets = [ASSET_C5560]
    tracker = form_tracker(make_tracker, "je voudrais faire changer la configuration du copieur",
                           intent="request_change")
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("change_request", "device_configuration")
    assert (slots["request_asset"], slots["request_asset_label"]) == ("77996101", LABEL_C5560)


async def test_opening_optional_device_is_not_taken_silently(requests_backend, portal, make_tracker, domain):
    portal.assets = [ASSET_C5560]
    tracker = form_tracker(make_tracker, "information sur la maintenance planifiée", intent="product_information")
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_subcategory"] == "planned_maintenance"
    assert "request_asset" not in slots
    assert not portal.calls("GET", "/assets")


async def test_opening_access_change_skips_the_device(requests_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, "demande de changement de gestion de l'accès", intent="request_change")
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_subcategory"] == "access_management"
    assert slots["request_description"] == "demande de changement de gestion de l'accès"
    assert slots["requested_slot"] == "request_confirm"  # no device question for an access change
    assert not portal.calls("POST", "/assets/resolve")


async def test_opening_backend_down_asks_everything_later(requests_backend, portal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run_form(form_tracker(make_tracker, "besoin d'une modif", intent="request_change"),
                                        domain)
    assert slot_values(events) == {"request_category": "change_request"}
    assert dispatcher.messages == []


# --- request_category asked (the form was opened without a type) -----------------------------------------------------
async def test_category_button_for_an_admin(admin_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, '/inform{"request_category":"invoice_question"}',
                           entities=[("request_category", "invoice_question")], requested_slot="request_category")
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_category"] == "invoice_question"
    assert dispatcher.messages == []


async def test_category_admin_only_refused_to_a_user(requests_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, '/inform{"request_category":"product_move"}',
                           entities=[("request_category", "product_move")], requested_slot="request_category",
                           slots={"language": "en"})
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_category"] is None
    msg = message(dispatcher, "utter_admin_only")
    assert msg["what"] == "request a device move"
    assert msg["administrators"] == ADMIN_NAMES


async def test_category_unknown_code(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, '/inform{"request_category":"paper_jam"}',
                           entities=[("request_category", "paper_jam")], requested_slot="request_category")
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_category"] is None
    assert responses(dispatcher) == ["utter_choose_an_option"]


async def test_category_typed_as_an_intent(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "une demande générale", intent="general_enquiry",
                           requested_slot="request_category")
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["request_category"] == "general_enquiry"
    assert slot_values(events)["request_subcategory"] == "general_enquiry"


# --- request_subcategory asked --------------------------------------------------------------------------------------
async def test_subcategory_button(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, '/inform{"request_subcategory":"quote_proposal"}',
                           entities=[("request_subcategory", "quote_proposal")],
                           requested_slot="request_subcategory", slots={"request_category": "contract_question"})
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_subcategory"] == "quote_proposal"
    assert dispatcher.messages == []


async def test_subcategory_typed_label(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "Copy of the contract", requested_slot="request_subcategory",
                           slots={"request_category": "contract_question", "language": "en"})
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_subcategory"] == "contract_copy"
    assert dispatcher.messages == []  # an answer to the question: nothing to announce


async def test_subcategory_typed_nonsense(admin_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, "le bleu", requested_slot="request_subcategory",
                           slots={"request_category": "contract_question"})
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"request_subcategory": None}
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert not portal.calls("POST", "/requests")


async def test_subcategory_of_another_category_is_refused(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, '/inform{"request_subcategory":"one_to_five"}',
                           entities=[("request_subcategory", "one_to_five")], requested_slot="request_subcategory",
                           slots={"request_category": "product_information"})
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"request_subcategory": None}
    assert responses(dispatcher) == ["utter_choose_an_option"]


@pytest.mark.parametrize("intent", ["help", "cancel", "greet", "nlu_fallback"])
async def test_subcategory_digression_extracts_nothing(requests_backend, portal, make_tracker, domain, intent):
    tracker = form_tracker(make_tracker, "aide", intent=intent, requested_slot="request_subcategory",
                           slots={"request_category": "product_information"})
    dispatcher, events = await run_form(tracker, domain)
    assert events == []  # the form rejects; the rules answer
    assert dispatcher.messages == []


async def test_subcategory_needing_a_device_takes_the_only_one(requests_backend, portal, make_tracker, domain):
    portal.assets = [ASSET_C5560]
    tracker = form_tracker(make_tracker, '/inform{"request_subcategory":"device_configuration"}',
                           entities=[("request_subcategory", "device_configuration")],
                           requested_slot="request_subcategory", slots={"request_category": "change_request"})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_subcategory"], slots["request_asset"]) == ("device_configuration", "77996101")
    assert message(dispatcher, "utter_asset_selected")["asset_label"] == LABEL_C5560


async def test_subcategory_needing_a_device_with_several_devices_asks(requests_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, '/inform{"request_subcategory":"device_configuration"}',
                           entities=[("request_subcategory", "device_configuration")],
                           requested_slot="request_subcategory", slots={"request_category": "change_request"})
    _, events = await run_form(tracker, domain)
    assert "request_asset" not in slot_values(events)


async def test_subcategory_backend_down(requests_backend, portal, make_tracker, domain):
    portal.fail("down")
    tracker = form_tracker(make_tracker, "installation", requested_slot="request_subcategory",
                           slots={"request_category": "change_request"})
    dispatcher, events = await run_form(tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events) == {"request_subcategory": None}


# --- request_asset asked ----------------------------------------------------------------------------------------------
CONTRACT_END = {"request_category": "contract_question", "request_subcategory": "contract_end_date"}
MOVE = {"request_category": "product_move", "request_subcategory": "one_to_five"}


@pytest.mark.parametrize("text, intent", [("/deny", "deny"), ("non", "deny"), ("no specific device", "inform"),
                                          ("aucun appareil en particulier", "inform")])
async def test_asset_optional_none(requests_backend, portal, make_tracker, domain, text, intent):
    tracker = form_tracker(make_tracker, text, intent=intent, requested_slot="request_asset", slots=CONTRACT_END)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_asset"] == "none"
    assert dispatcher.messages == []
    assert not portal.calls("POST", "/assets/resolve")


async def test_asset_resolved(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "c'est la GNM75498", entities=[("asset_ref", "GNM75498")],
                           requested_slot="request_asset", slots=CONTRACT_END)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_asset"], slots["request_asset_label"]) == ("53463252", LABEL_C5030)
    assert responses(dispatcher) == ["utter_asset_selected"]


async def test_asset_alias_resolved(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "le copieur 2e étage", requested_slot="request_asset", slots=MOVE)
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["request_asset"] == "77996101"


async def test_asset_unknown(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "ZZZ99999", entities=[("asset_ref", "ZZZ99999")],
                           requested_slot="request_asset", slots=CONTRACT_END)
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"request_asset": None}
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "ZZZ99999"


async def test_asset_required_refuses_no_device(admin_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, "/deny", intent="deny", requested_slot="request_asset", slots=MOVE)
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"request_asset": None}
    assert responses(dispatcher) == ["utter_request_asset_needed"]


async def test_asset_digression(requests_backend, portal, make_tracker, domain):
    tracker = form_tracker(make_tracker, "aide", intent="help", requested_slot="request_asset", slots=CONTRACT_END)
    dispatcher, events = await run_form(tracker, domain)
    assert events == [] and dispatcher.messages == []
    assert portal.requests == []


# --- request_description asked ----------------------------------------------------------------------------------------
READY_FOR_DESCRIPTION = {**CONTRACT_END, "request_asset": "none"}


@pytest.mark.parametrize("text", ["ok", "/affirm", "          "])
async def test_description_too_short(requests_backend, make_tracker, domain, text):
    tracker = form_tracker(make_tracker, text, intent="affirm", requested_slot="request_description",
                           slots=READY_FOR_DESCRIPTION)
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"request_description": None}
    assert responses(dispatcher) == ["utter_request_description_too_short"]
    assert dispatcher.messages[0]["min_chars"] == 10


async def test_description_too_long(requests_backend, make_tracker, domain):
    text = "x" * (MAX_DESCRIPTION_CHARS + 1)
    tracker = form_tracker(make_tracker, text, intent="contract_question", requested_slot="request_description",
                           slots=READY_FOR_DESCRIPTION)
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"request_description": None}
    assert message(dispatcher, "utter_request_description_too_long")["max_chars"] == 4000


@pytest.mark.parametrize("intent", ["contract_question", "product_move", "inform", "nlu_fallback", "out_of_scope"])
async def test_description_accepted_whatever_the_intent(requests_backend, make_tracker, domain, intent):
    text = "  Quand se termine notre contrat de location ?  "
    tracker = form_tracker(make_tracker, text, intent=intent, requested_slot="request_description",
                           slots=READY_FOR_DESCRIPTION)
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_description"] == "Quand se termine notre contrat de location ?"
    assert dispatcher.messages == []


@pytest.mark.parametrize("intent", ["help", "cancel", "thank"])
async def test_description_digression_is_not_a_description(requests_backend, make_tracker, domain, intent):
    tracker = form_tracker(make_tracker, "annuler tout ça maintenant", intent=intent,
                           requested_slot="request_description", slots=READY_FOR_DESCRIPTION)
    _, events = await run_form(tracker, domain)
    assert events == []


async def test_description_only_when_asked(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "une longue phrase qui ne répond pas", requested_slot="request_asset",
                           slots=CONTRACT_END, entities=[("asset_ref", "WHJ01481")])
    _, events = await run_form(tracker, domain)
    assert "request_description" not in slot_values(events)


# --- request_confirm asked --------------------------------------------------------------------------------------------
READY_FOR_CONFIRM = {**READY_FOR_DESCRIPTION, "request_description": "Quand se termine notre contrat ?"}


@pytest.mark.parametrize("intent, value", [("affirm", True), ("deny", False)])
async def test_confirm(requests_backend, make_tracker, domain, intent, value):
    tracker = form_tracker(make_tracker, "oui", intent=intent, requested_slot="request_confirm",
                           slots=READY_FOR_CONFIRM)
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["request_confirm"] is value


async def test_confirm_other_answer(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "peut-être", intent="inform", requested_slot="request_confirm",
                           slots=READY_FOR_CONFIRM)
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events) == {"request_confirm": None}
    assert responses(dispatcher) == ["utter_answer_yes_no"]


# --- the questions ------------------------------------------------------------------------------------------------
async def test_ask_category_for_a_user_offers_only_what_the_role_allows(requests_backend, make_tracker, domain):
    dispatcher, events = await run(ActionAskRequestCategory(), form_tracker(
        make_tracker, requested_slot="request_category"), domain)
    assert events == []
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_request_category"
    assert msg["buttons"] == [
        {"title": "Demander une modification", "payload": '/inform{"request_category":"change_request"}'},
        {"title": "Demande générale", "payload": '/inform{"request_category":"general_enquiry"}'},
        {"title": "Informations sur le produit", "payload": '/inform{"request_category":"product_information"}'},
    ]


async def test_ask_category_for_an_admin_offers_the_six_types(admin_backend, make_tracker, domain):
    dispatcher, _ = await run(ActionAskRequestCategory(), form_tracker(
        make_tracker, requested_slot="request_category", slots={"language": "en"}), domain)
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == [
        "Request a change", "Contract question", "General enquiry", "Invoice question", "Product information",
        "Product move request"]


async def test_ask_subcategory_buttons_in_english(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_subcategory",
                           slots={"request_category": "invoice_question", "language": "en"})
    dispatcher, _ = await run(ActionAskRequestSubcategory(), tracker, domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["request_label"]) == ("utter_ask_request_subcategory", "Invoice question")
    assert msg["buttons"] == [
        {"title": "Consumable order question", "payload": '/inform{"request_subcategory":"consumable_order"}'},
        {"title": "Service question", "payload": '/inform{"request_subcategory":"service"}'},
        {"title": "Other request", "payload": '/inform{"request_subcategory":"other"}'},
    ]


async def test_ask_subcategory_all_twelve_contract_sub_types(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_subcategory",
                           slots={"request_category": "contract_question"})
    dispatcher, _ = await run(ActionAskRequestSubcategory(), tracker, domain)
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert len(titles) == 12 and titles[3] == "Date de fin de contrat"


async def test_ask_optional_asset_offers_no_specific_device(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_asset", slots=CONTRACT_END)
    dispatcher, events = await run(ActionAskRequestAsset(), tracker, domain)
    assert events == []
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_request_asset_optional"
    assert [b["payload"] for b in msg["buttons"]] == [
        *(f'/inform{{"asset_ref":"{a["asset_number"]}"}}' for a in ALL_ASSETS), "/deny"]
    assert msg["buttons"][-1]["title"] == "Aucun appareil en particulier"


async def test_ask_optional_asset_in_english_without_devices(requests_backend, portal, make_tracker, domain):
    portal.assets = []
    tracker = form_tracker(make_tracker, requested_slot="request_asset", slots={**CONTRACT_END, "language": "en"})
    dispatcher, events = await run(ActionAskRequestAsset(), tracker, domain)
    assert events == []  # a request about no device is still possible
    assert dispatcher.messages[0]["buttons"] == [{"title": "No specific device", "payload": "/deny"}]


async def test_ask_move_asset(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_asset", slots=MOVE)
    dispatcher, _ = await run(ActionAskRequestAsset(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_request_asset_move"
    assert "/deny" not in [b["payload"] for b in msg["buttons"]]


async def test_ask_required_asset_without_devices_ends_the_form(requests_backend, portal, make_tracker, domain):
    portal.assets = []
    tracker = form_tracker(make_tracker, requested_slot="request_asset",
                           slots={"request_category": "change_request", "request_subcategory": "device_configuration"})
    dispatcher, events = await run(ActionAskRequestAsset(), tracker, domain)
    assert responses(dispatcher) == ["utter_no_assets"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    slots = slot_values(events)
    assert {k: slots[k] for k in RESET} == RESET


async def test_ask_description_names_the_request(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_description",
                           slots={**CONTRACT_END, "language": "en"})
    dispatcher, _ = await run(ActionAskRequestDescription(), tracker, domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["request_label"]) == ("utter_ask_request_description",
                                                       "Contract question › Contract end date")


async def test_ask_description_of_a_general_enquiry(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_description",
                           slots={"request_category": "general_enquiry", "request_subcategory": "general_enquiry"})
    dispatcher, _ = await run(ActionAskRequestDescription(), tracker, domain)
    assert dispatcher.messages[0]["request_label"] == "Demande générale"


async def test_ask_description_of_a_move(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_description", slots=MOVE)
    dispatcher, _ = await run(ActionAskRequestDescription(), tracker, domain)
    assert responses(dispatcher) == ["utter_ask_request_description_move"]


async def test_ask_confirm_summary(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_confirm",
                           slots={**COMPLETE, "request_confirm": None})
    dispatcher, _ = await run(ActionAskRequestConfirm(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_request_confirm"
    assert (msg["request_label"], msg["asset_label"], msg["description"]) == (
        "Question sur mon contrat › Date de fin de contrat", LABEL_C5030,
        "Quand se termine notre contrat de location ?")


async def test_ask_confirm_summary_without_device_in_english(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, requested_slot="request_confirm", slots={
        **COMPLETE, "request_confirm": None, "request_asset": "none", "request_asset_label": None,
        "language": "en"})
    dispatcher, _ = await run(ActionAskRequestConfirm(), tracker, domain)
    assert dispatcher.messages[0]["asset_label"] == "No specific device"
    assert dispatcher.messages[0]["request_label"] == "Contract question › Contract end date"


# --- submission -------------------------------------------------------------------------------------------------------
def submit_tracker(make_tracker, input_channel: str = "rest", **slots):
    return make_tracker("oui", intent="affirm", slots=dict(COMPLETE, **slots), history=HISTORY,
                        input_channel=input_channel, active_loop=None)


async def test_submit_creates_the_case(admin_backend, portal, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitRequest(), submit_tracker(make_tracker), domain)
    (request,) = portal.calls("POST", "/requests")
    body = request["json"]
    assert set(body) == {"category", "subcategory", "asset", "description", "channel", "transcript"}
    assert {k: body[k] for k in ("category", "subcategory", "asset", "description", "channel")} == {
        "category": "contract_question", "subcategory": "contract_end_date", "asset": "53463252",
        "description": "Quand se termine notre contrat de location ?", "channel": "rest"}
    assert "user: quelle est la date de fin de notre contrat ?" in body["transcript"]
    assert "user: la GNM75498" in body["transcript"]
    assert request["headers"]["idempotency-key"] == "req-7"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert not portal.calls("POST", "/cases")
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["case_number"], msg["request_label"]) == (
        "utter_request_created", "CS0032501", "Question sur mon contrat › Date de fin de contrat")
    assert slot_values(events) == RESET


async def test_submit_without_device_sends_no_asset(requests_backend, portal, make_tracker, domain):
    tracker = submit_tracker(make_tracker, request_category="general_enquiry", request_subcategory="general_enquiry",
                             request_asset="none", request_asset_label=None, language="en",
                             request_description="Please update Mary's phone number in the portal.")
    dispatcher, _ = await run(ActionSubmitRequest(), tracker, domain)
    body = portal.calls("POST", "/requests")[0]["json"]
    assert "asset" not in body
    assert (body["category"], body["subcategory"]) == ("general_enquiry", "general_enquiry")
    assert dispatcher.messages[0]["request_label"] == "General enquiry"


@pytest.mark.parametrize("declared, code", [("web", "web"), ("teams", "teams"), ("voice", "voice"), (None, "api")])
async def test_submit_channel(admin_backend, portal, make_tracker, domain, declared, code):
    """The channel code is the one the user's adapter declared in the verified identity."""
    tracker = submit_tracker(make_tracker)
    tracker.latest_message["metadata"][IDENTITY_KEY]["channel"] = declared
    await run(ActionSubmitRequest(), tracker, domain)
    assert portal.calls("POST", "/requests")[0]["json"]["channel"] == code


async def test_submit_declined(admin_backend, portal, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitRequest(), submit_tracker(make_tracker, request_confirm=False), domain)
    assert responses(dispatcher) == ["utter_request_not_submitted"]
    assert portal.requests == []
    assert slot_values(events) == RESET


async def test_submit_backend_down_then_retry_with_the_same_key(admin_backend, portal, make_tracker, domain):
    portal.fail("down", "POST", "/requests")
    dispatcher, events = await run(ActionSubmitRequest(), submit_tracker(make_tracker), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events) == FAILED

    portal.recover()
    retry = submit_tracker(make_tracker, pending_submit=True, pending_action="action_submit_request")
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert [c["headers"]["idempotency-key"] for c in portal.calls("POST", "/requests")] == ["req-7", "req-7"]
    assert responses(dispatcher) == ["utter_request_created"]
    assert slot_values(events) == RESET
    assert len(admin_backend.cases) == 1


async def test_submit_answer_lost_retry_does_not_duplicate(admin_backend, portal, make_tracker, domain):
    first = await run(ActionSubmitRequest(), submit_tracker(make_tracker), domain)
    second = await run(ActionSubmitRequest(), submit_tracker(make_tracker, pending_submit=True), domain)
    assert first[0].messages[0]["case_number"] == second[0].messages[0]["case_number"]
    assert len(admin_backend.cases) == 1


async def test_submit_refused_for_the_role(requests_backend, portal, make_tracker, domain):
    # the backend is the enforcer: a contract request from a `user` that got this far is still refused
    dispatcher, events = await run(ActionSubmitRequest(), submit_tracker(make_tracker), domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["reason"]) == ("utter_portal_refused",
                                                "Seul un administrateur peut soumettre ce type de demande.")
    assert slot_values(events) == RESET
    assert requests_backend.cases == {}


async def test_submit_not_authenticated(admin_backend, make_tracker, domain):
    tracker = make_tracker("oui", intent="affirm", slots=COMPLETE, token="expired", active_loop=None)
    dispatcher, events = await run(ActionSubmitRequest(), tracker, domain)
    assert responses(dispatcher) == ["utter_login_required"]
    assert slot_values(events) == RESET


async def test_submit_taxonomy_down_creates_nothing(admin_backend, portal, make_tracker, domain):
    portal.fail("down", "GET", "/taxonomy")
    dispatcher, events = await run(ActionSubmitRequest(), submit_tracker(make_tracker), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert portal.calls("POST", "/requests") == []
    assert slot_values(events) == FAILED


async def test_cancel_forgets_the_request(requests_backend, portal, make_tracker, domain):
    tracker = make_tracker("annuler", intent="cancel", slots=dict(COMPLETE), active_loop=None,
                           history=[{"event": "active_loop", "name": FORM}, {"event": "active_loop", "name": None}])
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert slot_values(events) == RESET
    assert portal.requests == []


# --- the role check before an admin-only request (actions/roles.py) ----------------------------------------------------
@pytest.mark.parametrize("intent, what_fr, what_en", [
    ("contract_question", "soumettre une demande sur le contrat", "submit a contract request"),
    ("invoice_question", "soumettre une question sur une facture", "submit an invoice question"),
    ("product_move", "demander le déplacement d'un appareil", "request a device move"),
])
@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_user_is_refused_admin_only_requests(requests_backend, portal, make_tracker, domain, intent, what_fr,
                                                   what_en, lang):
    tracker = make_tracker("…", intent=intent, active_loop=None, slots={"language": lang})
    dispatcher, events = await run(ActionCheckRole(), tracker, domain)
    assert slot_values(events) == {"role_allowed": False}
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_admin_only"
    assert msg["what"] == (what_en if lang == "en" else what_fr)
    assert msg["administrators"] == ADMIN_NAMES
    assert portal.calls("POST", "/requests") == []


@pytest.mark.parametrize("intent", ["contract_question", "invoice_question", "product_move"])
async def test_admin_may_submit_admin_only_requests(admin_backend, make_tracker, domain, intent):
    dispatcher, events = await run(ActionCheckRole(), make_tracker("…", intent=intent, active_loop=None), domain)
    assert slot_values(events) == {"role_allowed": True}
    assert dispatcher.messages == []


async def test_user_refusal_when_the_portal_cannot_list_administrators(requests_backend, portal, make_tracker,
                                                                      domain):
    portal.fail(503, "GET", "/users/me/administrators")
    dispatcher, events = await run(ActionCheckRole(), make_tracker("…", intent="contract_question",
                                                                   active_loop=None), domain)
    assert slot_values(events) == {"role_allowed": False}
    assert dispatcher.messages[0]["administrators"] == "—"


# --- started by a "yes" to a switch offered inside another form (actions/switching.py) ------------------------------
async def test_opening_after_a_switch_uses_the_words_that_asked_for_it(admin_backend, make_tracker, domain):
    switched = await accepted_switch(make_tracker, domain, "en fait j'ai une question sur la date de fin de notre "
                                     "contrat", "contract_question")
    dispatcher, events = await run_form(form_tracker(make_tracker, "oui", intent="affirm", slots=switched), domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("contract_question", "contract_end_date")
    assert responses(dispatcher) == ["utter_request_type_selected"]
    assert slots["switch_request"] is None  # read by this opening turn: never by a later request


async def test_move_after_a_switch_takes_the_sub_type_from_the_device_named(admin_backend, make_tracker, domain):
    switched = await accepted_switch(make_tracker, domain, "je veux faire une demande de déménagement pour la "
                                     "WHJ01481", "product_move", entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run_form(form_tracker(make_tracker, "oui", intent="affirm", slots=switched), domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("product_move", "one_to_five")
    assert message(dispatcher, "utter_request_type_selected")["request_label"] == \
        "Demande de transfert de produit › 1 à 5 produits"
    assert slots["switch_request"] is None


async def test_a_request_started_directly_reads_its_own_words_not_an_earlier_request(admin_backend, make_tracker,
                                                                                     domain):
    # an earlier switch was declined (ActionStayInForm forgot its recorded request); this one is asked directly
    history = [{"event": "user", "text": "question sur la fin de notre contrat", "input_channel": "rest",
                "parse_data": {"intent": {"name": "contract_question"}, "entities": []}},
               {"event": "slot", "name": "switch_request", "value": None}]
    tracker = form_tracker(make_tracker, "il faut déplacer 12 copieurs", intent="product_move", history=history)
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("product_move", "more_than_five")
    assert "switch_request" not in slots


@pytest.mark.parametrize("started", STARTS)
@pytest.mark.parametrize("text, intent, subcategory", [
    # a move needs a device (asked unless named or the only one)
    ("je veux faire une demande de déménagement pour la WHJ01481", "product_move", "one_to_five"),
    # an optional device: only one named in the request is taken
    ("information sur la maintenance planifiée de la WHJ01481", "product_information", "planned_maintenance"),
])
async def test_the_device_named_in_the_request_is_taken_however_the_form_started(
        admin_backend, portal, make_tracker, domain, started, text, intent, subcategory):
    tracker = await opening_tracker(make_tracker, domain, started, text, intent, FORM,
                                    entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_subcategory"], slots["request_asset"]) == (subcategory, "77996101")  # not asked again
    assert message(dispatcher, "utter_asset_selected")["asset_label"] == LABEL_C5560
    assert [c["json"]["text"] for c in portal.calls("POST", "/assets/resolve")] == ["WHJ01481"]
    assert_switch_request_forgotten(events, started)


@pytest.mark.parametrize("started", STARTS)
async def test_an_optional_device_not_named_is_asked_however_the_form_started(requests_backend, portal,
                                                                             make_tracker, domain, started):
    portal.assets = [ASSET_C5560]
    tracker = await opening_tracker(make_tracker, domain, started, "information sur la maintenance planifiée",
                                    "product_information", FORM)
    _, events = await run_form(tracker, domain)
    assert "request_asset" not in slot_values(events)
    assert not portal.calls("GET", "/assets")  # the only device is not taken silently: it is asked
    assert_switch_request_forgotten(events, started)


async def test_opening_with_an_unrelated_intent_asks_the_type(requests_backend, make_tracker, domain):
    _, events = await run_form(form_tracker(make_tracker, "oui", intent="affirm"), domain)
    assert "request_category" not in slot_values(events)


async def test_category_typed_admin_only_is_checked_before_the_sub_type(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "question sur la date de fin de contrat", intent="contract_question",
                           requested_slot="request_category")
    dispatcher, events = await run_form(tracker, domain)
    assert responses(dispatcher) == ["utter_admin_only"]  # no "Type de demande : ..." before the refusal
    slots = slot_values(events)
    assert slots["request_category"] is None and slots.get("request_subcategory") is None


async def test_submit_keeps_the_end_of_a_very_long_transcript(admin_backend, portal, make_tracker, domain):
    long_history = [{"event": "user", "text": f"message {n} " + "x" * 900, "input_channel": "rest"}
                    for n in range(40)]
    tracker = make_tracker("oui", intent="affirm", slots=COMPLETE, history=long_history, active_loop=None)
    dispatcher, _ = await run(ActionSubmitRequest(), tracker, domain)
    body = portal.calls("POST", "/requests")[0]["json"]
    assert 19000 < len(body["transcript"]) <= 20000 and body["transcript"].endswith("user: oui")
    assert body["transcript"].startswith("user: message ")  # cut at a line start
    assert responses(dispatcher) == ["utter_request_created"]


async def test_asset_deny_with_a_device_named_takes_the_device(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "non, la WHJ01481", intent="deny", entities=[("asset_ref", "WHJ01481")],
                           requested_slot="request_asset", slots=CONTRACT_END)
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["request_asset"] == "77996101"


@pytest.mark.parametrize("intent", ["request_change", "general_enquiry", "product_information"])
async def test_every_role_may_submit_the_other_requests(requests_backend, portal, make_tracker, domain, intent):
    dispatcher, events = await run(ActionCheckRole(), make_tracker("…", intent=intent, active_loop=None), domain)
    assert slot_values(events) == {"role_allowed": True}
    assert dispatcher.messages == [] and portal.requests == []


async def test_role_check_with_the_portal_down_refuses_and_says_why(requests_backend, portal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run(ActionCheckRole(), make_tracker("…", intent="product_move", active_loop=None),
                                   domain)
    assert slot_values(events) == {"role_allowed": False}
    assert responses(dispatcher) == ["utter_backend_unavailable"]


# --- family 1: the type and sub-type from the user's own words ---------------------------------------------------------
@pytest.mark.parametrize("text, intent, lang, category, subcategory", [
    ("Notre stagiaire ne peut plus utiliser son badge sur le copieur, il faut lui redonner l'accès",
     "general_enquiry", "fr", "change_request", "access_management"),
    ("a colleague lost access to scanning on the printer, can you give her access again",
     "general_enquiry", "en", "change_request", "access_management"),
    ("please set up the new laptops so they can print", "product_information", "en", "change_request",
     "installation"),
])
async def test_words_name_another_type_than_the_nlu(requests_backend, make_tracker, domain, text, intent, lang,
                                                    category, subcategory):
    tracker = form_tracker(make_tracker, text, intent=intent, slots={"language": lang})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == (category, subcategory)
    assert slots["request_description"] == text  # the need, already said
    assert "utter_request_type_selected" in responses(dispatcher)


# --- a fault said as a request ("can you send someone, the badge reader stopped"): the fault form takes over ---------
@pytest.mark.parametrize("text, intent, lang", [
    ("the badge reader on the 2nd floor copier stopped reading cards, can you send someone?", "general_enquiry",
     "en"),
    ("pouvez-vous faire passer quelqu'un, le copieur fait un bruit de ferraille", "request_change", "fr"),
])
async def test_a_fault_said_as_a_request_hands_over_to_the_fault_form(requests_backend, portal, make_tracker, domain,
                                                                      text, intent, lang):
    tracker = form_tracker(make_tracker, text, intent=intent, slots={"language": lang})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["switch_to"] == "report_fault"
    assert slots["switch_request"] == {"text": text, "intent": "report_fault", "entities": [],
                                       "announce": {"response": "utter_request_is_a_fault"}}
    assert slots.get("requested_slot") is None  # nothing more is asked: the form ends
    assert "request_category" not in slots and dispatcher.messages == []
    assert portal.calls("POST", "/faults/classify")[0]["json"]["text"] == text
    # the end of the form: no request, the fault form takes over with the same words
    done = make_tracker(text, intent=intent, active_loop=None, slots={"language": lang, "switch_to": "report_fault",
                                                                        "switch_request": slots["switch_request"]})
    dispatcher, events = await run(ActionSubmitRequest(), done, domain)
    assert responses(dispatcher) == ["utter_request_is_a_fault"]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_switch_form"}
    assert not portal.calls("POST", "/requests")


@pytest.mark.parametrize("text, intent", [
    ("on voudrait pouvoir scanner directement vers notre SharePoint, c'est possible de nous le paramétrer ?",
     "request_change"),
    ("can the reception machine default to double sided? people print single-sided all day", "request_change"),
])
async def test_a_function_named_without_anything_broken_keeps_the_request(requests_backend, portal, make_tracker,
                                                                          domain, text, intent):
    """One fault keyword naming what the device does (scan, print) is no fault: the set-up request stays."""
    portal.classify_override = {"category": "cannot_print_scan_fax", "subcategory": None, "confident": True,
                                "source": "keywords", "score": 1}
    _, events = await run_form(form_tracker(make_tracker, text, intent=intent), domain)
    assert "switch_to" not in slot_values(events)
    # the same single keyword with words saying it is broken is a fault
    portal.classify_override["subcategory"] = "scan"
    _, events = await run_form(form_tracker(make_tracker, "le scanner ne marche plus, vous pouvez envoyer quelqu'un ?",
                                            intent=intent), domain)
    assert slot_values(events)["switch_to"] == "report_fault"


async def test_request_words_keep_the_request_even_with_fault_words(requests_backend, portal, make_tracker, domain):
    text = "mon collègue n'a plus accès au scan avec son badge, il faut lui redonner l'accès"
    _, events = await run_form(form_tracker(make_tracker, text, intent="request_change"), domain)
    slots = slot_values(events)
    assert slots["request_category"] == "change_request" and "switch_to" not in slots


@pytest.mark.parametrize("intent", ["contract_question", "invoice_question", "product_move"])
async def test_admin_only_types_are_never_handed_over(admin_backend, portal, make_tracker, domain, intent):
    _, events = await run_form(form_tracker(make_tracker, "le copieur fait un bruit, question sur le contrat",
                                            intent=intent), domain)
    assert "switch_to" not in slot_values(events) and not portal.calls("POST", "/faults/classify")


async def test_fault_triage_down_keeps_the_request(requests_backend, portal, make_tracker, domain):
    portal.fail(503, "POST", "/faults/classify")
    _, events = await run_form(form_tracker(make_tracker, "pouvez-vous envoyer quelqu'un, ça fait un bruit de ferraille",
                                            intent="general_enquiry"), domain)
    slots = slot_values(events)
    assert "switch_to" not in slots and slots["request_category"] == "general_enquiry"


@pytest.mark.parametrize("text, lang, category, subcategory", [
    ("Nous changeons de siège, voici notre nouvelle adresse de facturation : 3 rue des Lilas, Lyon", "fr",
     "contract_question", "billing_address_update"),
    ("there is a toner line on our last invoice that we never ordered", "en", "invoice_question",
     "consumable_order"),
])
async def test_words_name_an_admin_only_type_for_an_admin(admin_backend, make_tracker, domain, text, lang, category,
                                                          subcategory):
    tracker = form_tracker(make_tracker, text, intent="general_enquiry", slots={"language": lang})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == (category, subcategory)
    assert "utter_admin_only" not in responses(dispatcher)


@pytest.mark.parametrize("lang, what", [("fr", "soumettre une question sur une facture"),
                                        ("en", "submit an invoice question")])
async def test_words_name_an_admin_only_type_for_a_user_refused(requests_backend, portal, make_tracker, domain, lang,
                                                                what):
    tracker = form_tracker(make_tracker, "we were invoiced for cartridges we never ordered", intent="general_enquiry",
                           slots={"language": lang})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots.get("request_category") is None  # the types the role allows are asked next
    assert message(dispatcher, "utter_admin_only")["what"] == what
    assert portal.calls("POST", "/requests") == []


async def test_contact_phone_number_stays_a_general_enquiry(requests_backend, make_tracker, domain):
    text = "please update the phone number of our contact person, it changed last week"
    tracker = form_tracker(make_tracker, text, intent="request_change", slots={"language": "en"})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("general_enquiry", "general_enquiry")
    assert slots["request_description"] == text


async def test_nlu_type_breaks_a_tie_of_the_words(requests_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "une question sur l'installation", intent="product_information")
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("product_information", "installation")


@pytest.mark.parametrize("lang, another", [("fr", "Un autre type"), ("en", "Another type")])
async def test_words_pointing_at_two_types_offer_both(requests_backend, make_tracker, domain, lang, another):
    tracker = form_tracker(make_tracker, "installation", intent="general_enquiry", slots={"language": lang})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert "request_category" not in slots and len(slots["request_proposal"]["alternatives"]) == 2
    ask = form_tracker(make_tracker, requested_slot="request_category",
                       slots={"language": lang, "request_proposal": slots["request_proposal"]})
    dispatcher, _ = await run(ActionAskRequestCategory(), ask, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_propose_request_types"
    assert [b["payload"] for b in msg["buttons"]] == [
        '/inform{"request_category":"change_request","request_subcategory":"installation"}',
        '/inform{"request_category":"product_information","request_subcategory":"installation"}', "/deny"]
    assert msg["buttons"][-1]["title"] == another
    # one of them: its type and sub-type at once
    pick = form_tracker(make_tracker, msg["buttons"][0]["payload"], requested_slot="request_category",
                        entities=[("request_category", "change_request"), ("request_subcategory", "installation")],
                        slots={"request_proposal": slots["request_proposal"]})
    _, events = await run_form(pick, domain)
    assert (slot_values(events)["request_category"], slot_values(events)["request_subcategory"]) == (
        "change_request", "installation")
    # "another type": every type is shown
    other = form_tracker(make_tracker, "/deny", intent="deny", requested_slot="request_category",
                         slots={"request_proposal": slots["request_proposal"]})
    _, events = await run_form(other, domain)
    assert slot_values(events) == {"request_proposal": None, "request_category": None}


async def test_sub_type_typed_in_words(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "we moved, it's about the billing address", requested_slot="request_subcategory",
                           slots={"request_category": "contract_question", "language": "en"})
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_subcategory"] == "billing_address_update"
    assert dispatcher.messages == []


async def test_classification_down_keeps_the_intent_type(requests_backend, portal, make_tracker, domain):
    portal.fail("down", "POST", "/requests/classify")
    tracker = form_tracker(make_tracker, "ma collègue n'a plus accès au scan", intent="request_change")
    dispatcher, events = await run_form(tracker, domain)
    assert slot_values(events)["request_category"] == "change_request"
    assert portal.calls("POST", "/requests") == []


# --- family 2: fewer turns ---------------------------------------------------------------------------------------------
NAMES = ", ".join(f"{a['alias'] or a['model']} ({a['serial']})" for a in ALL_ASSETS)
ALL_FR, ALL_EN = f"Tous vos appareils (3) : {NAMES}", f"All your devices (3): {NAMES}"


def assert_only_the_summary_is_left(slots: Dict[str, Any]) -> None:
    assert all(slots.get(name) for name in ("request_category", "request_subcategory", "request_asset",
                                            "request_description")), slots
@pytest.mark.parametrize("text, lang", [
    ("Ma collègue n'a plus accès au scan sur le Copieur 2e étage", "fr"),
    ("the new intern needs her badge enabled on the Copieur 2e étage", "en"),
])
async def test_need_and_named_device_in_one_message(requests_backend, portal, make_tracker, domain, text, lang):
    """An access change needs no device: the first message gives everything; the next turn is the summary."""
    tracker = form_tracker(make_tracker, text, intent="request_change", slots={"language": lang})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_subcategory"], slots["request_description"]) == ("access_management", text)
    assert slots["requested_slot"] == "request_confirm"


@pytest.mark.parametrize("text, lang", [
    ("J'ai besoin d'une visite de maintenance planifiée pour le Copieur 2e étage", "fr"),
    ("we would like a planned maintenance visit on the Copieur 2e étage next month", "en"),
])
async def test_optional_device_named_by_alias_in_the_opening_message(requests_backend, make_tracker, domain, text,
                                                                     lang):
    tracker = form_tracker(make_tracker, text, intent="product_information", slots={"language": lang})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_subcategory"], slots["request_asset"]) == ("planned_maintenance", "77996101")
    assert slots["request_description"] == text
    assert_only_the_summary_is_left(slots)  # one message, then the summary
    assert message(dispatcher, "utter_asset_selected")["asset_label"] == LABEL_C5560


@pytest.mark.parametrize("text, lang", [
    ("Nous voudrions une maintenance planifiée pour toutes nos imprimantes", "fr"),
    ("we would like planned maintenance on all three printers", "en"),
])
async def test_several_devices_with_an_optional_device_is_no_specific_device(requests_backend, make_tracker, domain,
                                                                             text, lang):
    tracker = form_tracker(make_tracker, text, intent="product_information", slots={"language": lang})
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["request_asset"] == "none"


@pytest.mark.parametrize("text, lang, label", [
    ("toutes les machines", "fr", ALL_FR),
    ("all of them", "en", ALL_EN),
    ("les trois", "fr", ALL_FR),
    ("the eight copiers", "en", "8 devices"),
])
async def test_move_of_several_devices_is_accepted(admin_backend, portal, make_tracker, domain, text, lang, label):
    tracker = form_tracker(make_tracker, text, requested_slot="request_asset", slots={**MOVE, "language": lang})
    dispatcher, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_asset"] == "several"
    assert slots["request_asset_label"] == label
    assert message(dispatcher, "utter_request_devices_noted")["devices"] == label
    assert "utter_request_asset_needed" not in responses(dispatcher)
    if text == "the eight copiers":
        assert slots["request_subcategory"] == "more_than_five"  # the count decides


async def test_move_of_all_devices_is_written_into_the_case(admin_backend, portal, make_tracker, domain):
    tracker = submit_tracker(make_tracker, request_category="product_move", request_subcategory="one_to_five",
                             request_asset="several", request_asset_label="3 appareils",
                             request_description="Déménagement au bâtiment B le 3 mars.")
    await run(ActionSubmitRequest(), tracker, domain)
    body = portal.calls("POST", "/requests")[0]["json"]
    assert "asset" not in body
    assert body["description"] == "Déménagement au bâtiment B le 3 mars.\n\nAppareils concernés : 3 appareils"


async def test_move_opening_with_all_printers_needs_no_device_question(admin_backend, make_tracker, domain):
    text = "we are moving all our printers to the new building on the 3rd of March"
    tracker = form_tracker(make_tracker, text, intent="product_move", slots={"language": "en"})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_subcategory"], slots["request_asset"]) == ("one_to_five", "several")
    assert slots["request_description"] == text
    assert_only_the_summary_is_left(slots)


# --- family 3: the summary changes the type, the device or the description ---------------------------------------------
AT_SUMMARY = {**READY_FOR_CONFIRM}


@pytest.mark.parametrize("text, entities, cleared", [
    ('/inform{"fault_change":"description"}', [("fault_change", "description")], ["request_description"]),
    ('/inform{"fault_change":"type"}', [("fault_change", "type")], ["request_category", "request_subcategory"]),
    ('/inform{"fault_change":"device"}', [("fault_change", "device")], ["request_asset", "request_asset_label"]),
    ("je voudrais modifier la description", [], ["request_description"]),
    ("the type is wrong", [], ["request_category", "request_subcategory"]),
    ("c'est un autre appareil", [], ["request_asset"]),
    ("wrong device", [], ["request_asset"]),
])
async def test_summary_change_by_button_or_words(admin_backend, portal, make_tracker, domain, text, entities, cleared):
    tracker = form_tracker(make_tracker, text, entities=entities, requested_slot="request_confirm", slots=AT_SUMMARY)
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_confirm"] is None
    assert all(slots[name] is None for name in cleared)
    assert portal.calls("POST", "/requests") == []


@pytest.mark.parametrize("text, lang", [("non, c'est pour le Copieur 2e étage", "fr"),
                                        ("no, it's about the Copieur 2e étage", "en")])
async def test_summary_device_named_in_words(admin_backend, make_tracker, domain, text, lang):
    tracker = form_tracker(make_tracker, text, intent="deny", requested_slot="request_confirm",
                           slots={**AT_SUMMARY, "language": lang})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_asset"], slots["request_confirm"]) == ("77996101", None)


@pytest.mark.parametrize("text, lang", [("non, c'est plutôt pour une copie du contrat", "fr"),
                                        ("actually it's about a copy of our contract", "en")])
async def test_summary_type_named_in_words(admin_backend, make_tracker, domain, text, lang):
    tracker = form_tracker(make_tracker, text, intent="deny", requested_slot="request_confirm",
                           slots={**AT_SUMMARY, "language": lang})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert (slots["request_category"], slots["request_subcategory"]) == ("contract_question", "contract_copy")
    assert slots["request_confirm"] is None


async def test_summary_bare_no_declines(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, "non", intent="deny", requested_slot="request_confirm", slots=AT_SUMMARY)
    _, events = await run_form(tracker, domain)
    assert slot_values(events)["request_confirm"] is False


async def test_summary_type_changed_to_a_move_asks_a_device_again(admin_backend, make_tracker, domain):
    tracker = form_tracker(make_tracker, '/inform{"request_subcategory":"one_to_five"}',
                           entities=[("request_subcategory", "one_to_five")], requested_slot="request_subcategory",
                           slots={**AT_SUMMARY, "request_category": "product_move", "request_subcategory": None})
    _, events = await run_form(tracker, domain)
    slots = slot_values(events)
    assert slots["request_subcategory"] == "one_to_five" and slots["request_asset"] is None


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_summary_shows_the_change_buttons(admin_backend, make_tracker, domain, lang):
    tracker = form_tracker(make_tracker, requested_slot="request_confirm", slots={**AT_SUMMARY, "language": lang})
    dispatcher, _ = await run(ActionAskRequestConfirm(), tracker, domain)
    assert message(dispatcher, "utter_ask_request_confirm")["description"] == AT_SUMMARY["request_description"]
    variants = domain["responses"]["utter_ask_request_confirm"]
    payloads = [[b["payload"] for b in v["buttons"]] for v in variants]
    for buttons in payloads:
        assert {'/inform{{"fault_change":"type"}}', '/inform{{"fault_change":"device"}}',
                '/inform{{"fault_change":"description"}}'} <= set(buttons)


# --- a print driver asked for as a request: the portal's fault type "Software question › Driver" takes it -----------
@pytest.mark.parametrize("text, intent", [
    ("il faudrait installer le pilote d'impression sur les ordinateurs portables du service", "request_change"),
    ("We've rolled out new laptops and none of them has a driver for the reception printer", "general_enquiry"),
])
async def test_a_driver_asked_for_is_a_software_question(requests_backend, portal, make_tracker, domain, text, intent):
    dispatcher, events = await run_form(form_tracker(make_tracker, text, intent=intent), domain)
    slots = slot_values(events)
    assert (slots["requested_slot"], slots["switch_to"]) == (None, "report_fault")
    assert slots["switch_request"]["announce"] == {"response": "utter_request_is_a_driver_question"}
    assert dispatcher.messages == [] and not portal.calls("POST", "/requests")


# --- readings given per meter open whatever request the NLU read: the readings form takes them -------------------
@pytest.mark.parametrize("text, intent", [
    ("Bonjour, deux choses pour le copieur WHJ01481 : relevés 112 : 2460, 113 : 41710, 122 : 1560, et une boîte "
     "d'agrafes aussi", "invoice_question"),
    ("readings for the reception machine 112 = 15 400 / 113 = 89 100, and we'd like a new drum", "request_change"),
])
async def test_readings_given_per_meter_hand_the_request_over_to_the_readings(requests_backend, portal, make_tracker,
                                                                               domain, text, intent):
    dispatcher, events = await run_form(form_tracker(make_tracker, text, intent=intent), domain)
    slots = slot_values(events)
    assert (slots["requested_slot"], slots["switch_to"]) == (None, "submit_meter_reading")
    assert slots["switch_request"]["text"] == text
    assert dispatcher.messages == [] and not portal.calls("POST", "/requests")
