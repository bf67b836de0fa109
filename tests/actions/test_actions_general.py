"""actions/general.py: help limited to the user's role, the low-confidence fallback's two suggestions, the
glossary, and the human handoff (the yes/no form, the callback case with transcript and channel, retry after an
outage with the same Idempotency-Key, refusal), in French and English."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.general import (
    CAPABILITIES, GLOSSARY_TERMS, INTENT_LABELS, ActionAskHandoffConfirm, ActionGlossary, ActionHelp,
    ActionSubmitHandoff, ActionSuggestIntents, ValidateHandoffForm, glossary_terms,
)
from actions.submission import ActionCancelForm, ActionRetrySubmit
from actions_fakes import run, FakePortal, accepted_switch, responses, slot_values
from fakes_admin import ADMIN_PROFILE, USER_PROFILE_SEED
from fakes_general import ADMIN_TOKEN, GeneralBackend
from actions.session import IDENTITY_KEY

pytestmark = pytest.mark.asyncio

# The intent catalogue of issue 5 (the brief's list): the fallback's label table covers exactly these.
CATALOGUE = """greet goodbye affirm deny thank bot_challenge help out_of_scope human_handoff cancel inform
change_language set_notifications change_password ask_glossary report_fault search_knowledge
submit_meter_reading query_meter_reading order_consumables order_enquiry order_training view_orders
request_change contract_question invoice_question general_enquiry product_information product_move
list_cases case_status add_case_comment list_assets device_info set_asset_alias manage_asset_contacts
list_users invite_user approve_access_request upgrade_user deactivate_user reset_user_password
set_voice_pin""".split()
HANDOFF = "handoff_form"
RESET = {"handoff_confirm": None, "handoff_reason": None, "submission_key": None, "pending_submit": False,
         "pending_action": None}
HISTORY = [
    {"event": "user", "text": "ma commande de toner n'est pas arrivée", "input_channel": "rest"},
    {"event": "bot", "text": "Quel est le numéro de la commande ?"},
    {"event": "user", "text": "je ne l'ai pas", "input_channel": "rest"},
]


@pytest.fixture
def general(portal: FakePortal) -> GeneralBackend:
    return GeneralBackend(portal)




def as_admin(make_tracker, text: str = "aide", intent: str = "help", **kwargs):
    kwargs.setdefault("active_loop", None)
    return make_tracker(text, intent=intent, token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, **kwargs)


def as_user(make_tracker, text: str = "help", intent: str = "help", **kwargs):
    kwargs.setdefault("active_loop", None)
    kwargs.setdefault("slots", {"language": "en"})
    return make_tracker(text, intent=intent, portal_user=USER_PROFILE_SEED, **kwargs)


def payloads(message: Dict[str, Any]) -> List[str]:
    return [b["payload"] for b in message.get("buttons") or []]


# --- help ------------------------------------------------------------------------------------------------------
async def test_help_for_an_admin_lists_everything_in_french(general, make_tracker, domain, portal):
    dispatcher, events = await run(ActionHelp(), as_admin(make_tracker), domain)
    assert events == []
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_help_intro"
    lines = msg["capabilities"].split("\n")
    assert len(lines) == len(CAPABILITIES)
    assert all(line.startswith("• ") for line in lines)
    assert "• Signaler une panne sur l'un de vos appareils" in msg["capabilities"]
    assert "• Gérer les utilisateurs du compte" in msg["capabilities"]
    assert "• Ajouter ou retirer les contacts d'un appareil" in msg["capabilities"]
    assert ("Envoyer une demande : modification, question générale, information produit, contrat, facture, "
            "déplacement d'appareil") in msg["capabilities"]
    assert "réservés aux administrateurs" not in msg["capabilities"]
    assert payloads(msg) == ["/report_fault", "/submit_meter_reading", "/order_consumables", "/general_enquiry",
                             "/list_cases", "/list_assets", "/list_users", "/manage_asset_contacts",
                             "/set_notifications", "/change_password", "/ask_glossary", "/human_handoff"]
    assert msg["buttons"][0] == {"title": "Signaler une panne", "payload": "/report_fault"}
    (call,) = portal.calls("GET", "/users/me/permissions")
    assert call["headers"]["authorization"] == f"Bearer {ADMIN_TOKEN}"


async def test_help_for_a_user_lists_only_what_the_role_allows_in_english(general, make_tracker, domain):
    dispatcher, _ = await run(ActionHelp(), as_user(make_tracker), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_help_intro"
    text = msg["capabilities"]
    assert "• Report a fault on one of your devices" in text
    assert "• Send a request: change, general enquiry, product information (contract, invoice and move " \
           "requests: administrators only)" in text
    assert "manage the account's users" not in text.lower() and "contacts of a device" not in text
    assert "/list_users" not in payloads(msg) and "/manage_asset_contacts" not in payloads(msg)
    assert "/report_fault" in payloads(msg) and "/human_handoff" in payloads(msg)
    assert {"title": "See my cases", "payload": "/list_cases"} in msg["buttons"]


async def test_help_hides_a_capability_whose_permission_is_missing(general, make_tracker, domain):
    general.without("meter_readings", "change_password")
    dispatcher, _ = await run(ActionHelp(), as_user(make_tracker), domain)
    (msg,) = dispatcher.messages
    assert "/submit_meter_reading" not in payloads(msg) and "/change_password" not in payloads(msg)
    assert "meter readings" not in msg["capabilities"]


@pytest.mark.parametrize("failure", ["down", 500, 401])
async def test_help_falls_back_to_the_generic_list(general, make_tracker, domain, portal, failure):
    portal.fail(failure, "GET", "/users/me/permissions")
    dispatcher, events = await run(ActionHelp(), as_user(make_tracker), domain)
    assert responses(dispatcher) == ["utter_help"] and events == []


async def test_every_capability_button_is_an_intent_of_the_catalogue():
    for cap in CAPABILITIES:
        assert cap["intent"] is None or cap["intent"] in CATALOGUE
        assert cap["fr"] and cap["en"]


# --- low-confidence fallback --------------------------------------------------------------------------------
@pytest.fixture
def no_symptom(portal: FakePortal) -> FakePortal:
    portal.classify_override = {"category": None, "subcategory": None, "confident": False, "source": "none"}
    return portal


def ranked(make_tracker, names: List[str], lang: str = "fr", text: str = "euh toner truc", entities=None):
    tracker = make_tracker(text, intent="nlu_fallback", active_loop=None, slots={"language": lang},
                           entities=entities)
    tracker.latest_message["intent_ranking"] = [
        {"name": n, "confidence": round(0.5 - i * 0.05, 2)} for i, n in enumerate(names)]
    return tracker


async def test_the_label_table_covers_the_whole_catalogue():
    assert set(INTENT_LABELS) == set(CATALOGUE)
    assert all(label["fr"] and label["en"] for label in INTENT_LABELS.values())


async def test_fallback_offers_the_three_most_likely_intents_in_french(no_symptom, make_tracker, domain):
    tracker = ranked(make_tracker, ["nlu_fallback", "order_consumables", "greet", "report_fault", "list_cases"])
    dispatcher, events = await run(ActionSuggestIntents(), tracker, domain)
    # then it listens: as Rasa's core fallback nothing else may be predicted after it (it would loop)
    assert events == [{"event": "followup", "timestamp": None, "name": "action_listen"}]
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_suggest_intents"
    assert [b["payload"] for b in msg["buttons"]] == ["/order_consumables", "/report_fault", "/list_cases", "/help"]
    assert msg["buttons"][0]["title"] == "Commander des consommables"
    assert msg["buttons"][1]["title"] == "Signaler une panne" and msg["buttons"][3]["title"] == "Autre chose"


async def test_fallback_in_english(no_symptom, make_tracker, domain):
    tracker = ranked(make_tracker, ["case_status", "nlu_fallback", "affirm", "change_password"], lang="en")
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Status of a case", "payload": "/case_status"},
        {"title": "Change my password", "payload": "/change_password"},
        {"title": "Something else", "payload": "/help"},
    ]


async def test_fallback_with_one_candidate_offers_it_and_help(no_symptom, make_tracker, domain):
    tracker = ranked(make_tracker, ["nlu_fallback", "thank", "list_assets", "deny"])
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert payloads(dispatcher.messages[0]) == ["/list_assets", "/help"]


async def test_an_answer_out_of_any_question_offers_what_it_may_be_about(no_symptom, make_tracker, domain):
    """"toner!!" reads as a form answer (inform) but no form asked anything: the core fallback is this menu, which
    offers the requests the words may be about; the ones the NLU does not see at all are not offered."""
    tracker = make_tracker("toner!!", intent="inform", active_loop=None, slots={"language": "en"})
    tracker.latest_message["intent_ranking"] = [
        {"name": "inform", "confidence": 0.93}, {"name": "order_consumables", "confidence": 0.02},
        {"name": "search_knowledge", "confidence": 0.004}, {"name": "report_fault", "confidence": 0.003}]
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert payloads(dispatcher.messages[0]) == ["/order_consumables", "/help"]


async def test_fallback_without_a_candidate_asks_to_rephrase(no_symptom, make_tracker, domain):
    tracker = ranked(make_tracker, ["nlu_fallback", "greet", "affirm", "out_of_scope"])
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert responses(dispatcher) == ["utter_default"]
    tracker.latest_message.pop("intent_ranking")
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert responses(dispatcher) == ["utter_default"]


async def test_a_symptom_always_gets_report_a_fault_first(portal: FakePortal, make_tracker, domain):
    portal.classify_override = {"category": "noise", "subcategory": "unusual_noise", "confident": False,
                                "source": "keywords"}
    tracker = ranked(make_tracker, ["case_status", "order_consumables", "list_cases"], lang="en",
                     text="the one at reception is grinding really loud")
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert payloads(dispatcher.messages[0]) == ["/report_fault", "/case_status", "/order_consumables", "/help"]
    (call,) = portal.calls("POST", "/faults/classify")
    assert call["json"] == {"text": "the one at reception is grinding really loud", "lang": "en"}


@pytest.mark.parametrize(("text", "lang"), [
    ("Ça fait trois fois que j'essaie d'expliquer mon histoire de facture, je veux parler à une vraie personne", "fr"),
    ("this is going nowhere, can I speak to a human please", "en"),
])
async def test_a_person_asked_for_always_gets_talk_to_an_advisor_first(no_symptom, make_tracker, domain, text, lang):
    tracker = ranked(make_tracker, ["invoice_question", "nlu_fallback", "bot_challenge", "help"], lang=lang,
                     text=text)
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert payloads(dispatcher.messages[0])[:2] == ["/human_handoff", "/invoice_question"]


async def test_a_named_device_gets_report_a_fault_without_asking_the_classifier(portal, make_tracker, domain):
    tracker = ranked(make_tracker, ["list_assets", "case_status"], entities=[("asset_ref", "WHJ01481")])
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert payloads(dispatcher.messages[0]) == ["/report_fault", "/list_assets", "/case_status", "/help"]
    assert not portal.calls("POST", "/faults/classify")


async def test_report_a_fault_is_not_added_twice_nor_without_a_symptom(no_symptom, make_tracker, domain):
    tracker = ranked(make_tracker, ["list_assets", "report_fault"], entities=[("asset_ref", "WHJ01481")])
    dispatcher, _ = await run(ActionSuggestIntents(), tracker, domain)
    assert payloads(dispatcher.messages[0]) == ["/list_assets", "/report_fault", "/help"]
    dispatcher, _ = await run(ActionSuggestIntents(), ranked(make_tracker, ["list_assets", "case_status"]), domain)
    assert payloads(dispatcher.messages[0]) == ["/list_assets", "/case_status", "/help"]


async def test_classifier_down_keeps_the_ranking(portal: FakePortal, make_tracker, domain):
    portal.fail("down", "POST", "/faults/classify")
    dispatcher, _ = await run(ActionSuggestIntents(), ranked(make_tracker, ["list_assets", "case_status"]), domain)
    assert payloads(dispatcher.messages[0]) == ["/list_assets", "/case_status", "/help"]


# --- glossary --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, term", [
    ("case", "case"), ("ticket", "case"), ("Dossier", "case"), ("asset", "asset"), ("ressource", "asset"),
    ("device", "asset"), ("contact secondaire", "secondary_contact"), ("secondary_contact", "secondary_contact"),
    ("savoir-faire", "knowledge"), ("know-how", "knowledge"), ("nom d'alias", "alias"), ("état", "status"),
    ("status", "status"), ("visites", "visits"), ("contact", "contact"), ("e-Maintenance", "emaintenance"),
    ("eMaintenance", "emaintenance"), ("action requise", "action_required"), ("Action required", "action_required"),
    ("122", "meters"), ("codes compteurs", "meters"), ("meter codes", "meters"),
])
async def test_glossary_term_from_the_entity(make_tracker, domain, value, term):
    tracker = make_tracker("c'est quoi ?", intent="ask_glossary", entities=[("glossary_term", value)],
                           active_loop=None)
    dispatcher, events = await run(ActionGlossary(), tracker, domain)
    assert responses(dispatcher) == [f"utter_glossary_{term}"] and events == []


@pytest.mark.parametrize("text, terms", [
    ("c'est quoi un contact secondaire", ["secondary_contact"]),
    ("difference between contact and secondary contact", ["contact", "secondary_contact"]),
    ("que veut dire etat", ["status"]),
    ("what is an alias name", ["alias"]),
    ("definition ressource et ticket", ["asset", "case"]),
    ("glossaire", []),
    ('/ask_glossary', []),
    ("c'est quoi l'emaintenance ?", ["emaintenance"]),
    ("que veut dire le statut action requise", ["action_required"]),
    ("what are meters 112 and 113", ["meters"]),
    ("a quoi correspondent les compteurs", ["meters"]),
])
async def test_glossary_term_from_the_words(make_tracker, text, terms):
    assert glossary_terms(make_tracker(text, intent="ask_glossary", active_loop=None)) == terms


async def test_glossary_without_a_term_offers_the_terms(make_tracker, domain):
    dispatcher, _ = await run(ActionGlossary(), make_tracker("glossaire", intent="ask_glossary", active_loop=None),
                              domain)
    assert responses(dispatcher) == ["utter_glossary_choose"]


async def test_glossary_two_terms_two_definitions(make_tracker, domain):
    tracker = make_tracker("contact vs contact secondaire", intent="ask_glossary", active_loop=None,
                           entities=[("glossary_term", "contact"), ("glossary_term", "secondary_contact")])
    dispatcher, _ = await run(ActionGlossary(), tracker, domain)
    assert responses(dispatcher) == ["utter_glossary_contact", "utter_glossary_secondary_contact"]


async def test_every_glossary_term_is_defined_in_both_languages_and_offered(domain):
    for term in GLOSSARY_TERMS:
        variations = domain["responses"][f"utter_glossary_{term}"]
        assert [v.get("condition") for v in variations] == [[{"type": "slot", "name": "language", "value": "en"}],
                                                             None]
    for variation in domain["responses"]["utter_glossary_choose"]:
        offered = [b["payload"] for b in variation["buttons"]]
        assert offered == [f'/ask_glossary{{{{"glossary_term":"{t}"}}}}' for t in GLOSSARY_TERMS]
    seed = domain["responses"]["utter_glossary_case"][1]["text"]
    assert "un problème ou une demande qui a été enregistré auprès de Canon" in seed


# --- human handoff: the form ---------------------------------------------------------------------------------
async def validate(tracker, domain) -> tuple:
    return await run(ValidateHandoffForm(), tracker, domain)


async def test_the_opening_message_is_kept_as_the_reason(make_tracker, domain):
    tracker = make_tracker("je veux parler à un conseiller pour mon contrat", intent="human_handoff",
                           active_loop=HANDOFF)
    dispatcher, events = await validate(tracker, domain)
    assert slot_values(events) == {"handoff_reason": "je veux parler à un conseiller pour mon contrat"}
    assert dispatcher.messages == []


async def test_a_button_payload_is_not_a_reason(make_tracker, domain):
    _, events = await validate(make_tracker("/human_handoff", intent="human_handoff", active_loop=HANDOFF), domain)
    assert slot_values(events) == {}


async def test_after_leaving_another_form_the_request_is_still_the_reason(make_tracker, domain):
    # "rappelez-moi" inside a meter form was offered as a switch; "oui" left that form and opened this one
    switched = await accepted_switch(make_tracker, domain, "rappelez-moi, je n'y arrive pas", "human_handoff",
                                     current="meter_reading_form")
    _, events = await validate(make_tracker("oui", intent="affirm", active_loop=HANDOFF, slots=switched), domain)
    # the reason is the request; the recorded request is forgotten once read
    assert slot_values(events) == {"handoff_reason": "rappelez-moi, je n'y arrive pas", "switch_request": None}


async def test_after_leaving_another_form_by_the_button_there_is_no_reason(make_tracker, domain):
    switched = await accepted_switch(make_tracker, domain, "/human_handoff", "human_handoff")
    _, events = await validate(make_tracker("oui", intent="affirm", active_loop=HANDOFF, slots=switched), domain)
    assert slot_values(events) == {"switch_request": None}


async def test_an_earlier_request_for_a_person_is_not_this_ones_reason(make_tracker, domain):
    """Only the message that opened this request counts, never an older one in the conversation."""
    history = [{"event": "user", "text": "rappelez-moi pour ma facture", "input_channel": "rest",
                "parse_data": {"intent": {"name": "human_handoff", "confidence": 0.9}}}]
    tracker = make_tracker("/human_handoff", intent="human_handoff", active_loop=HANDOFF, history=history)
    _, events = await validate(tracker, domain)
    assert slot_values(events) == {}


@pytest.mark.parametrize("intent, expected", [("affirm", True), ("deny", False), ("human_handoff", True)])
async def test_confirmation_answers(make_tracker, domain, intent, expected):
    tracker = make_tracker("oui", intent=intent, requested_slot="handoff_confirm", active_loop=HANDOFF,
                           slots={"handoff_reason": "rappelez-moi"})
    _, events = await validate(tracker, domain)
    assert slot_values(events)["handoff_confirm"] is expected


async def test_a_bad_confirmation_is_asked_again(make_tracker, domain):
    tracker = make_tracker("peut-être demain", intent="inform", requested_slot="handoff_confirm",
                           active_loop=HANDOFF)
    dispatcher, events = await validate(tracker, domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"]
    assert slot_values(events)["handoff_confirm"] is None


@pytest.mark.parametrize("intent", ["help", "greet", "out_of_scope", "bot_challenge", "nlu_fallback"])
async def test_a_digression_is_not_an_answer(make_tracker, domain, intent):
    tracker = make_tracker("aide", intent=intent, requested_slot="handoff_confirm", active_loop=HANDOFF)
    dispatcher, events = await validate(tracker, domain)
    assert "handoff_confirm" not in slot_values(events) and dispatcher.messages == []


async def test_the_question_quotes_the_reason(make_tracker, domain):
    tracker = make_tracker(requested_slot="handoff_confirm", active_loop=HANDOFF,
                           slots={"handoff_reason": "ma commande n'est pas arrivée"})
    dispatcher, _ = await run(ActionAskHandoffConfirm(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_handoff_confirm" and msg["reason"] == "ma commande n'est pas arrivée"
    dispatcher, _ = await run(ActionAskHandoffConfirm(), make_tracker(active_loop=HANDOFF), domain)
    assert responses(dispatcher) == ["utter_ask_handoff_confirm_plain"]


# --- human handoff: the callback case ----------------------------------------------------------------------------
def confirmed(make_tracker, lang: str = "fr", channel: str = "rest", **slots):
    values = {"handoff_confirm": True, "handoff_reason": "je veux parler à un conseiller",
              "submission_key": "handoff-key-1", "language": lang, **slots}
    return make_tracker("oui", intent="affirm", active_loop=None, slots=values, history=HISTORY,
                        input_channel=channel)


async def test_confirmed_handoff_creates_the_callback_case(portal, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitHandoff(), confirmed(make_tracker), domain)
    (call,) = portal.calls("POST", "/cases")
    assert call["headers"]["idempotency-key"] == "handoff-key-1"
    assert call["headers"]["authorization"] == "Bearer tok-user"
    body = call["json"]
    assert set(body) == {"category", "subcategory", "description", "channel", "transcript"}
    assert (body["category"], body["subcategory"], body["channel"]) == ("assistant_handoff", "callback", "rest")
    assert body["description"].startswith("je veux parler à un conseiller\n\nRésumé : SNTestDM DemoPortal ")
    assert "Derniers messages : « ma commande de toner n'est pas arrivée » / « je ne l'ai pas »" \
           in body["description"]
    assert body["transcript"].startswith("user: ma commande de toner n'est pas arrivée\n"
                                         "bot: Quel est le numéro de la commande ?\n")
    assert body["transcript"].endswith("user: oui")
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_handoff_created" and msg["case_number"] == "CS0000101"
    assert slot_values(events) == RESET


async def test_handoff_summary_in_english_and_web_channel(portal, make_tracker, domain):
    await run(ActionSubmitHandoff(), confirmed(make_tracker, lang="en", channel="socketio"), domain)
    body = portal.calls("POST", "/cases")[0]["json"]
    assert body["channel"] == "web"
    assert "Summary: SNTestDM DemoPortal (sntestdm@canon-uk-demo.example) asked the assistant for a call back " \
           "by an agent (channel web" in body["description"]


async def test_handoff_from_a_button_has_a_default_description(portal, make_tracker, domain):
    await run(ActionSubmitHandoff(), confirmed(make_tracker, handoff_reason=None), domain)
    assert portal.calls("POST", "/cases")[0]["json"]["description"].startswith("Demande à parler à un conseiller.")


async def test_declined_handoff_writes_nothing(portal, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitHandoff(), confirmed(make_tracker, handoff_confirm=False), domain)
    assert portal.calls("POST", "/cases") == []
    assert responses(dispatcher) == ["utter_handoff_not_sent"]
    assert slot_values(events) == RESET


async def test_handoff_kept_when_the_portal_is_down_then_retried_with_the_same_key(portal, make_tracker, domain):
    portal.fail("down", "POST", "/cases")
    dispatcher, events = await run(ActionSubmitHandoff(), confirmed(make_tracker), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events) == {"submission_key": "handoff-key-1", "pending_submit": True,
                                   "pending_action": "action_submit_handoff"}
    portal.recover()
    retry = confirmed(make_tracker, pending_submit=True, pending_action="action_submit_handoff")
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert responses(dispatcher) == ["utter_handoff_created"]
    assert [c["headers"]["idempotency-key"] for c in portal.calls("POST", "/cases")] == ["handoff-key-1"] * 2
    assert slot_values(events) == RESET
    # the same key again (e.g. a second retry that crossed the first answer): the same case, not a second one
    dispatcher, _ = await run(ActionRetrySubmit(), retry, domain)
    assert dispatcher.messages[0]["case_number"] == "CS0000101"


async def test_handoff_refused_by_the_portal(portal, make_tracker, domain):
    portal.fail((403, {"code": "forbidden", "message": "Votre rôle ne permet pas cette action."}), "POST", "/cases")
    dispatcher, events = await run(ActionSubmitHandoff(), confirmed(make_tracker), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_portal_refused" and msg["reason"] == "Votre rôle ne permet pas cette action."
    assert slot_values(events) == RESET


async def test_handoff_with_an_expired_session(portal, make_tracker, domain):
    tracker = confirmed(make_tracker)
    tracker.latest_message["metadata"][IDENTITY_KEY]["_test_token"] = "expired"  # the backend refuses it
    dispatcher, events = await run(ActionSubmitHandoff(), tracker, domain)
    assert responses(dispatcher) == ["utter_login_required"]
    assert slot_values(events) == RESET


async def test_cancelling_the_handoff_forgets_it(make_tracker, domain):
    tracker = make_tracker("annule", intent="cancel", active_loop=None,
                           slots={"handoff_reason": "rappel", "submission_key": "k"},
                           history=[{"event": "active_loop", "name": HANDOFF}])
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert slot_values(events) == RESET


async def test_handoff_responses_exist_in_both_languages(domain):
    for name in ("utter_ask_handoff_confirm", "utter_ask_handoff_confirm_plain", "utter_handoff_created",
                 "utter_handoff_not_sent", "utter_bot_challenge", "utter_help_intro", "utter_suggest_intents"):
        variations = domain["responses"][name]
        assert len(variations) == 2 and variations[0]["condition"][0]["value"] == "en"
        assert "condition" not in variations[1]
    assert "virtual assistant" in domain["responses"]["utter_bot_challenge"][0]["text"]
    assert "assistant virtuel" in domain["responses"]["utter_bot_challenge"][1]["text"]
