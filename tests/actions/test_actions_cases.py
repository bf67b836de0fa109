"""Following cases (actions/cases.py): the three lists, the status of a case (one turn, "my last ticket", the small
form, as a digression), and a comment added to a case (form, confirmation, submission with retry).

The fake portal (fakes_cases.py) holds the seed's cases and the backend's visibility rules: a `user` sees only the
cases they are associated with, and another account's case answers 404 like an unknown number.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.cases import (
    COMMENT_EXTRA_SLOTS,
    ActionAskCaseCommentConfirm,
    ActionAskCaseCommentNumber,
    ActionAskCaseStatusNumber,
    ActionCaseStatus,
    ActionListCases,
    ActionSubmitCaseComment,
    ValidateCaseCommentForm,
    ValidateCaseStatusForm,
    format_date,
    list_in,
    normalize_case_number,
)
from actions.submission import ActionCancelForm, ActionRetrySubmit
from actions_fakes import (
    run, message, ASSET_C5030, assert_switch_request_forgotten, opening_tracker, ROOT, STARTS, TOKEN, USER_PROFILE, FakePortal,
    responses, slot_values,
)
from fakes_cases import ADMIN_PROFILE, ADMIN_TOKEN, FakeCases, install_cases

COMMENT_SLOTS = ("case_comment_number", "case_comment_text", "case_comment_confirm", *COMMENT_EXTRA_SLOTS)
RESET = {**{slot: None for slot in COMMENT_SLOTS}, "submission_key": None, "pending_submit": False,
         "pending_action": None}
FAILED = {"submission_key": "key-7", "pending_submit": True, "pending_action": "action_submit_case_comment"}
LABEL_499_FR = ("CS0032499 — Dysfonctionnement de qualité d'impression › Impression, numérisation et photocopie — "
                "Canon iR-ADV C5030i (GNM75498) — Action requise")
COMPLETE = {
    "case_comment_number": "CS0032499",
    "case_comment_case": {"number": "CS0032499", "label": LABEL_499_FR, "status": "awaiting_customer"},
    "case_comment_text": "Page de test envoyée ce matin par courrier interne.",
    "case_comment_confirm": True, "submission_key": "key-7",
}


@pytest.fixture
def cases(portal: FakePortal) -> FakeCases:
    return install_cases(portal)


def as_admin(**kwargs: Any) -> Dict[str, Any]:
    return dict(token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, **kwargs)






def of(dispatcher: CollectingDispatcher, response: str) -> List[Dict[str, Any]]:
    return [m for m in dispatcher.messages if m["response"] == response]


# --- reading the user's words ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, number", [
    ("CS0032498", "CS0032498"), ("cs0032498", "CS0032498"), ("cs 0032498", "CS0032498"), ("CS-32498", "CS0032498"),
    ("cs32498", "CS0032498"), ("32498", "CS0032498"), ("0032498", "CS0032498"), ("n° 32498", "CS0032498"),
    ("#32498 ?", "CS0032498"), ("statut du dossier 32499 stp", "CS0032499"),
    ("77996101", None),          # an asset number (8 digits), never a case
    ("WHJ01481", None),          # a serial
    ("32498 ou 32499", None),    # two numbers: ambiguous
    ("CS12", None), ("12/03/2026", None), ("3 toners", None), ("", None), (None, None),
])
def test_case_numbers_are_normalised_only_when_unambiguous(text, number):
    assert normalize_case_number(text) == number


@pytest.mark.parametrize("text, which", [
    ("montre-moi mes dossiers", "mine"), ("mes tickets stp", "mine"), ("the cases I created", "mine"),
    ("my tickets please", "mine"),
    ("tous les tickets", "all"), ("show all cases", "all"), ("tous mes dossiers", "all"),
    ("see all the cases I'm involved in", "all"),
    ("les dossiers nécessitant une action", "action_required"), ("y a des tickets à traiter ?", "action_required"),
    ("cases that need my action", "action_required"), ("action required", "action_required"),
    ("is anything waiting for me?", "action_required"), ("est-ce que canon attend qqch de moi ?", "action_required"),
    ("la liste des dossiers", None), ("mes listes", None), ("open my lists", None), ("list of cases", None),
])
def test_which_list_from_the_users_words(make_tracker, text, which):
    assert list_in(make_tracker(text, intent="list_cases", active_loop=None)) == which


def test_a_button_entity_wins_over_the_words(make_tracker):
    tracker = make_tracker('/list_cases{"case_list":"all"}', intent="list_cases", entities=[("case_list", "all")],
                           active_loop=None)
    assert list_in(tracker) == "all"


def test_dates_follow_the_language():
    assert format_date("2026-02-03T11:15:00Z", "fr") == "03/02/2026"
    assert format_date("2026-02-03T11:15:00Z", "en") == "3 Feb 2026"
    assert format_date("2026-02-03T11:15:00+00:00", "en", with_time=True) == "3 Feb 2026 11:15"
    assert format_date("not a date", "fr") == "not a date"


# --- action_list_cases -------------------------------------------------------------------------------------------------
def case_rows(lines: str) -> List[str]:
    """A list's case lines (a case waiting for the customer is followed by what is awaited, "   ↳ …")."""
    return [line for line in lines.splitlines() if line.startswith("• ")]


def list_tracker(make_tracker, text: str, lang: str = "fr", **kwargs: Any):
    profile = kwargs.pop("portal_user", dict(USER_PROFILE, language=lang))
    return make_tracker(text, intent="list_cases", slots={"language": lang}, active_loop=None, portal_user=profile,
                        **kwargs)


@pytest.mark.asyncio
async def test_list_mine_for_a_user_fr(cases, portal, make_tracker, domain):
    dispatcher, events = await run(ActionListCases(), list_tracker(make_tracker, "affiche mes tickets"), domain)
    (request,) = portal.calls("GET", "/cases")
    assert request["params"] == {"list": "mine", "limit": "51"}
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["accept-language"] == "fr"
    listed = message(dispatcher, "utter_case_list")
    assert (listed["list_label"], listed["count"]) == ("Mes tickets", 1)
    assert listed["lines"] == ("• CS0032500 — Information sur une commande › Article(s) manquant(s) à la livraison — "
                               "Canon iR-ADV C5030i (GNM75498) — En cours — 03/02/2026")
    assert not of(dispatcher, "utter_case_list_more")
    hint = message(dispatcher, "utter_case_list_hint")
    assert hint["buttons"] == [
        {"title": "Action requise", "payload": '/list_cases{"case_list":"action_required"}'},
        {"title": "Tous les tickets", "payload": '/list_cases{"case_list":"all"}'},
    ]
    assert events == []


@pytest.mark.asyncio
async def test_list_all_for_a_user_en_shows_only_their_cases(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "show all cases", lang="en"), domain)
    listed = message(dispatcher, "utter_case_list")
    assert listed["list_label"] == "All cases"
    numbers = [line.split(" — ")[0][2:] for line in case_rows(listed["lines"])]
    assert numbers == ["CS0032501", "CS0032500", "CS0032499", "CS0032497", "CS0032413"]  # never CS0032411/12/14
    assert "• CS0032501 — General enquiry — no device — New — 4 Feb 2026" in listed["lines"]
    assert "Print quality problem › Print, scan and copy" in listed["lines"]
    assert portal.calls("GET", "/cases")[0]["headers"]["accept-language"] == "en"
    assert not of(dispatcher, "utter_case_list_more")
    assert [b["title"] for b in message(dispatcher, "utter_case_list_hint")["buttons"]] == [
        "Reply on CS0032499", "Action required", "My cases"]  # CS0032499 waits for the user's answer


@pytest.mark.asyncio
async def test_list_all_for_an_admin_shows_five_then_how_many_more(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "tous les tickets", **as_admin()), domain)
    listed = message(dispatcher, "utter_case_list")
    assert listed["count"] == 5 and len(case_rows(listed["lines"])) == 5
    assert listed["lines"].startswith("• CS0032501")
    assert "CS0031877" not in listed["lines"]  # another account's case
    assert message(dispatcher, "utter_case_list_more")["more"] == "4"


@pytest.mark.asyncio
async def test_list_the_number_of_lines_asked(cases, portal, make_tracker, domain):
    tracker = list_tracker(make_tracker, "les 10 derniers dossiers du compte, tous", entities=[("quantity", "10")],
                           **as_admin())
    dispatcher, _ = await run(ActionListCases(), tracker, domain)
    assert message(dispatcher, "utter_case_list")["count"] == 9
    assert not of(dispatcher, "utter_case_list_more")


@pytest.mark.asyncio
async def test_a_case_waiting_for_the_user_can_be_answered_from_the_list(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "action requise", **as_admin()), domain)
    hint = message(dispatcher, "utter_case_list_hint")
    assert hint["buttons"][0] == {"title": "Répondre sur CS0032499",
                                  "payload": '/add_case_comment{"case_number":"CS0032499"}'}
    mine = list_tracker(make_tracker, "show my closed cases", lang="en", **as_admin())
    dispatcher, _ = await run(ActionListCases(), mine, domain)
    assert not any(b["payload"].startswith("/add_case_comment")
                   for b in message(dispatcher, "utter_case_list_hint")["buttons"])


@pytest.mark.asyncio
async def test_a_number_of_cases_without_a_list_shows_the_widest_list_at_once(cases, portal, make_tracker, domain):
    tracker = list_tracker(make_tracker, "show me the last 3 tickets", lang="en", entities=[("quantity", "3")],
                           **as_admin())
    dispatcher, _ = await run(ActionListCases(), tracker, domain)
    assert not of(dispatcher, "utter_ask_case_list")
    assert portal.calls("GET", "/cases")[0]["params"]["list"] == "all"
    assert message(dispatcher, "utter_case_list")["count"] == 3


@pytest.mark.asyncio
async def test_a_narrowed_list_shows_up_to_ten_by_default(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "tous les tickets ouverts", **as_admin()),
                              domain)
    (request,) = portal.calls("GET", "/cases")
    assert request["params"]["state"] == "open"
    listed = message(dispatcher, "utter_case_list")
    assert listed["count"] == len([c for c in cases.cases if c["status"] != "closed"
                                   and c["number"] != "CS0031877"]) > 5  # every open case, not the first five
    assert not of(dispatcher, "utter_case_list_more")


@pytest.mark.asyncio
async def test_list_more_than_fetched_says_plus(cases, portal, make_tracker, domain):
    base = cases.find("CS0032413")
    cases.cases += [dict(base, number=f"CS{40000 + n:07d}", activities=list(base["activities"])) for n in range(60)]
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "tous les tickets", **as_admin()), domain)
    assert message(dispatcher, "utter_case_list_more")["more"] == "46+"  # 51 fetched, 5 shown: at least 46 more


@pytest.mark.asyncio
@pytest.mark.parametrize("text, lang, state", [
    ("my open cases", "en", "open"), ("mes dossiers en cours", "fr", "open"), ("tickets pas encore résolus", "fr", "open"),
    ("which of my cases are still not fixed", "en", "open"), ("mes tickets fermés", "fr", "closed"),
    ("show my closed cases", "en", "closed"), ("les dossiers que j'ai ouverts", "fr", None),
    ("all my cases, open or closed", "en", None),
])
async def test_list_open_or_closed_only(cases, portal, make_tracker, domain, text, lang, state):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, text, lang=lang, **as_admin()), domain)
    (request,) = portal.calls("GET", "/cases")
    assert request["params"].get("state") == state
    lines = message(dispatcher, "utter_case_list")["lines"]
    closed_labels = ("Terminé", "Résolu", "Closed", "Resolved")
    if state == "open":
        assert not any(label in lines for label in closed_labels)
    if state == "closed":
        assert all(any(label in line for label in closed_labels) for line in case_rows(lines))


@pytest.mark.asyncio
async def test_list_of_one_device_named_by_its_place(cases, portal, make_tracker, domain):
    portal.resolve_override = {"matches": [ASSET_C5030], "unknown_references": []}
    tracker = list_tracker(make_tracker, "cases of the printer at reception", lang="en", **as_admin())
    dispatcher, _ = await run(ActionListCases(), tracker, domain)
    (request,) = portal.calls("GET", "/cases")
    assert request["params"] == {"list": "all", "limit": "51", "asset": ASSET_C5030["asset_number"]}
    listed = message(dispatcher, "utter_case_list")
    assert listed["list_label"] == "All cases — Canon iR-ADV C5030i (GNM75498)"
    assert all("GNM75498" in line for line in case_rows(listed["lines"]))


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "lang"), [("which tickets are still open on my printer?", "en"),
                                            ("il reste des dossiers ouverts sur ma photocopieuse ?", "fr")])
async def test_my_printer_is_the_users_one_device_not_her_own_cases(cases, portal, make_tracker, domain, text, lang):
    portal.assets = [ASSET_C5030]  # the user sees one device
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, text, lang=lang), domain)
    (request,) = portal.calls("GET", "/cases")
    assert request["params"] == {"list": "all", "limit": "51", "state": "open",
                                 "asset": ASSET_C5030["asset_number"]}


@pytest.mark.asyncio
async def test_my_printer_among_several_devices_names_none(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "open tickets on my printer", lang="en",
                                                              **as_admin()), domain)
    (request,) = portal.calls("GET", "/cases")
    assert "asset" not in request["params"] and request["params"]["list"] == "all"


@pytest.mark.asyncio
async def test_last_n_shows_n_and_the_hint_names_a_case_of_the_list(cases, portal, make_tracker, domain):
    base = cases.find("CS0032413")
    cases.cases += [dict(base, number=f"CS{40000 + n:07d}", activities=list(base["activities"])) for n in range(40)]
    tracker = list_tracker(make_tracker, "my last 30 cases", lang="en", entities=[("quantity", "30")], **as_admin())
    dispatcher, _ = await run(ActionListCases(), tracker, domain)
    listed = message(dispatcher, "utter_case_list")
    assert listed["count"] == 30 and len(case_rows(listed["lines"])) == 30
    assert message(dispatcher, "utter_case_list_more")["more"] != "0"
    first = case_rows(listed["lines"])[0].split(" — ")[0].lstrip("• ")
    assert message(dispatcher, "utter_case_list_hint")["example"] == first  # a case she can open


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "lang", "count"), [
    ("show me the 3 latest tickets on the account pls", "en", 3),
    ("les 5 derniers dossiers svp", "fr", 5),
    ("the last two cases", "en", 2),
])
async def test_last_n_read_from_the_words_lists_at_once(cases, portal, make_tracker, domain, text, lang, count):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, text, lang=lang, **as_admin()), domain)
    listed = message(dispatcher, "utter_case_list")
    assert listed["count"] == count and len(case_rows(listed["lines"])) == count
    assert portal.calls("GET", "/cases")[0]["params"]["list"] == "all"


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "which"), [
    ("show our tickets", "all"), ("nos dossiers svp", "all"),
    ("my tickets on our reception printer", "mine"), ("mes dossiers pour notre copieur", "mine"),
])
async def test_our_cases_are_every_case_unless_my_says_otherwise(make_tracker, text, which):
    assert list_in(make_tracker(text, intent="list_cases", active_loop=None)) == which


@pytest.mark.asyncio
async def test_more_than_the_chat_shows_is_said_plainly(cases, portal, make_tracker, domain):
    base = cases.find("CS0032413")
    cases.cases += [dict(base, number=f"CS{40000 + n:07d}", activities=list(base["activities"])) for n in range(80)]
    tracker = list_tracker(make_tracker, "my last 100 cases", lang="en", entities=[("quantity", "100")], **as_admin())
    dispatcher, _ = await run(ActionListCases(), tracker, domain)
    assert message(dispatcher, "utter_case_list")["count"] == 50
    assert message(dispatcher, "utter_case_list_capped")["max_shown"] == 50
    assert not of(dispatcher, "utter_case_list_more")


@pytest.mark.asyncio
async def test_list_action_required(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "cases that need my action", lang="en"),
                              domain)
    assert portal.calls("GET", "/cases")[0]["params"]["list"] == "action_required"
    listed = message(dispatcher, "utter_case_list")
    assert listed["list_label"] == "Action required"
    assert listed["lines"].startswith("• CS0032499 — ") and case_rows(listed["lines"])[-1].endswith("Action required — 2 Feb 2026")


@pytest.mark.asyncio
async def test_list_empty_offers_the_other_lists(cases, portal, make_tracker, domain):
    cases.find("CS0032499")["status"] = "in_progress"
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "dossiers a traiter"), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_case_list_empty" and msg["list_label"] == "Action requise"
    assert [b["payload"] for b in msg["buttons"]] == ['/list_cases{"case_list":"mine"}',
                                                      '/list_cases{"case_list":"all"}']


@pytest.mark.asyncio
async def test_list_unclear_asks_which_list_with_three_buttons(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "la liste des dossiers"), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_case_list"
    assert msg["buttons"] == [
        {"title": "Action requise", "payload": '/list_cases{"case_list":"action_required"}'},
        {"title": "Mes tickets", "payload": '/list_cases{"case_list":"mine"}'},
        {"title": "Tous les tickets", "payload": '/list_cases{"case_list":"all"}'},
    ]
    assert portal.calls("GET", "/cases") == []  # only asked whether the words named a device


@pytest.mark.asyncio
async def test_list_from_a_button(cases, portal, make_tracker, domain):
    tracker = list_tracker(make_tracker, '/list_cases{"case_list":"mine"}', lang="en",
                           entities=[("case_list", "mine")])
    dispatcher, _ = await run(ActionListCases(), tracker, domain)
    assert message(dispatcher, "utter_case_list")["list_label"] == "My cases"


@pytest.mark.asyncio
async def test_list_backend_down(cases, portal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run(ActionListCases(), list_tracker(make_tracker, "mes tickets"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"] and events == []


@pytest.mark.asyncio
async def test_list_not_authenticated(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "mes tickets", token="expired"), domain)
    assert responses(dispatcher) == ["utter_login_required"]


# --- action_case_status ------------------------------------------------------------------------------------------------
DONE = {"case_status_number": None, "case_status_ask": False}


def status_tracker(make_tracker, text: str, lang: str = "fr", entities=None, **kwargs: Any):
    profile = kwargs.pop("portal_user", dict(USER_PROFILE, language=lang))
    kwargs.setdefault("active_loop", None)
    kwargs.setdefault("intent", "case_status")
    return make_tracker(text, entities=entities, slots={"language": lang, **kwargs.pop(
        "slots", {})}, portal_user=profile, **kwargs)


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "comment"), [
    ("où en est le ticket CS0032499 ? Et ajoutez dessus qu'on en a besoin avant vendredi, c'est pour l'audit.",
     "On en a besoin avant vendredi, c'est pour l'audit."),
    ("status of CS0032499 and add to it that the engineer can come after 2pm", "The engineer can come after 2pm"),
])
async def test_status_and_a_comment_in_one_message_goes_to_the_comment_confirmation(cases, portal, make_tracker,
                                                                                    domain, text, comment):
    tracker = status_tracker(make_tracker, text, entities=[("case_number", "CS0032499")])
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert responses(dispatcher)[0] == "utter_case_status"  # the status first
    slots = slot_values(events)
    assert (slots["case_comment_number"], slots["case_comment_text"]) == ("CS0032499", comment)
    assert {"event": "followup", "timestamp": None, "name": "case_comment_form"} in events
    assert not portal.calls("POST", "/cases/CS0032499/comments")  # written only once confirmed


@pytest.mark.asyncio
async def test_a_closed_case_status_with_a_comment_asked_adds_nothing(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "what's up with CS0032498? add to it that it happened again",
                             entities=[("case_number", "CS0032498")])
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert "case_comment_text" not in slot_values(events)
    assert not any(e.get("event") == "followup" for e in events)


@pytest.mark.asyncio
async def test_status_by_number_fr_with_the_latest_updates(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "où en est le ticket CS0032499 ?", entities=[("case_number", "CS0032499")])
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert portal.calls("GET", "/cases/CS0032499")
    assert responses(dispatcher) == ["utter_case_status", "utter_case_activity_intro", "utter_case_activity",
                                     "utter_case_activity", "utter_case_awaiting_you"]
    status = message(dispatcher, "utter_case_status")
    assert {k: status[k] for k in ("case_number", "status", "case_type", "device", "created", "updated")} == {
        "case_number": "CS0032499", "status": "Action requise",
        "case_type": "Dysfonctionnement de qualité d'impression › Impression, numérisation et photocopie",
        "device": "Canon iR-ADV C5030i (GNM75498)", "created": "02/02/2026", "updated": "03/02/2026"}
    # who asked, who is the contact and what was reported: the case page's header
    assert (status["requester"], status["contact"]) == ("SNTest DemoPortal", "SNTest DemoPortal")
    assert status["description"] == "Traînées sur les impressions couleur."
    newest, first = of(dispatcher, "utter_case_activity")
    assert (newest["author"], newest["date"], newest["body"]) == (
        "Canon", "03/02/2026 11:15", "Pouvez-vous nous envoyer une page de test imprimée ?")
    assert first["author"] == "SNTest DemoPortal"
    assert message(dispatcher, "utter_case_awaiting_you")["case_number"] == "CS0032499"
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_typed_without_the_entity_en_shows_three_latest_updates(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "case status cs 0032497", lang="en")
    dispatcher, _ = await run(ActionCaseStatus(), tracker, domain)
    status = message(dispatcher, "utter_case_status")
    assert (status["case_number"], status["status"], status["device"]) == (
        "CS0032497", "Closed", "Canon iR-ADV C5030i (GNM75498)")
    assert status["case_type"] == "Malfunction or failure › Toner problem"
    assert [m["body"] for m in of(dispatcher, "utter_case_activity")] == [
        "Dossier clôturé.", "Toner remplacé, appareil nettoyé.", "Intervention planifiée."]  # newest first, 3 of 4
    assert of(dispatcher, "utter_case_activity")[0]["date"] == "23 Jan 2026 08:00"
    assert not of(dispatcher, "utter_case_awaiting_you")
    assert portal.calls("GET", "/cases/CS0032497")[0]["headers"]["accept-language"] == "en"


@pytest.mark.asyncio
async def test_status_of_a_case_without_device(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "état du dossier CS0032501", entities=[("case_number", "CS0032501")])
    dispatcher, _ = await run(ActionCaseStatus(), tracker, domain)
    assert message(dispatcher, "utter_case_status")["device"] == "sans appareil"


@pytest.mark.asyncio
async def test_long_activity_bodies_are_shortened(cases, portal, make_tracker, domain):
    cases.find("CS0032501")["activities"][0]["body"] = "mot " * 200
    tracker = status_tracker(make_tracker, "CS0032501", entities=[("case_number", "CS0032501")])
    dispatcher, _ = await run(ActionCaseStatus(), tracker, domain)
    body = message(dispatcher, "utter_case_activity")["body"]
    assert len(body) <= 280 and body.endswith("…")


@pytest.mark.asyncio
async def test_status_of_another_accounts_case_is_not_found(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "statut CS0031877", entities=[("case_number", "CS0031877")])
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["case_number"]) == ("utter_case_not_found", "CS0031877")
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_a_user_cannot_see_a_case_they_are_not_associated_with_but_the_admin_can(cases, portal, make_tracker,
                                                                                        domain):
    text, number = "status of CS0032411", [("case_number", "CS0032411")]
    dispatcher, _ = await run(ActionCaseStatus(), status_tracker(make_tracker, text, lang="en", entities=number),
                              domain)
    assert responses(dispatcher) == ["utter_case_not_found"]
    dispatcher, _ = await run(ActionCaseStatus(), status_tracker(make_tracker, text, entities=number, **as_admin()),
                              domain)
    assert message(dispatcher, "utter_case_status")["status"] == "Nouveau"
    assert [c["headers"]["authorization"] for c in portal.calls("GET", "/cases/CS0032411")] == [
        f"Bearer {TOKEN}", f"Bearer {ADMIN_TOKEN}"]


@pytest.mark.asyncio
async def test_status_forbidden_gives_the_portals_reason(cases, portal, make_tracker, domain):
    portal.fail((403, {"code": "forbidden", "message": "Votre rôle ne permet pas de suivre les dossiers."}),
                "GET", "/cases/CS0032499")
    tracker = status_tracker(make_tracker, "CS0032499", entities=[("case_number", "CS0032499")])
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["reason"]) == ("utter_case_refused",
                                                "Votre rôle ne permet pas de suivre les dossiers.")
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_backend_down(cases, portal, make_tracker, domain):
    portal.fail("down")
    tracker = status_tracker(make_tracker, "CS0032499", entities=[("case_number", "CS0032499")])
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_of_my_last_ticket_fr(cases, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionCaseStatus(), status_tracker(make_tracker, "où en est mon dernier ticket ?"),
                              domain)
    assert portal.calls("GET", "/cases")[0]["params"] == {"list": "mine", "limit": "1"}
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032500"


@pytest.mark.asyncio
async def test_status_of_my_last_ticket_admin_en(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "status of my last ticket", lang="en", **as_admin())
    dispatcher, _ = await run(ActionCaseStatus(), tracker, domain)
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032501"


@pytest.mark.asyncio
async def test_last_ticket_when_i_created_none_is_the_newest_i_am_associated_with(cases, portal, make_tracker,
                                                                                   domain):
    cases.find("CS0032500")["creator"] = "admin"
    dispatcher, _ = await run(ActionCaseStatus(), status_tracker(make_tracker, "is my last ticket still open?",
                                                                 lang="en"), domain)
    assert responses(dispatcher)[:2] == ["utter_case_last_not_mine", "utter_case_status"]
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032501"


@pytest.mark.asyncio
async def test_last_ticket_with_no_case_at_all(cases, portal, make_tracker, domain):
    cases.cases = []
    dispatcher, events = await run(ActionCaseStatus(), status_tracker(make_tracker, "mon dernier dossier"), domain)
    assert responses(dispatcher) == ["utter_case_none"]
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_without_a_number_starts_the_small_form(cases, portal, make_tracker, domain):
    dispatcher, events = await run(ActionCaseStatus(), status_tracker(make_tracker, "où en est mon ticket ?"), domain)
    assert dispatcher.messages == []  # the form asks the question
    assert slot_values(events) == {"case_status_ask": True}


@pytest.mark.asyncio
async def test_status_without_a_number_and_a_single_case_answers_it(cases, portal, make_tracker, domain):
    cases.cases = [cases.find("CS0032500")]
    dispatcher, events = await run(ActionCaseStatus(), status_tracker(make_tracker, "where is my case at?",
                                                                      lang="en"), domain)
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032500"
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_without_a_number_and_no_case(cases, portal, make_tracker, domain):
    cases.cases = []
    dispatcher, events = await run(ActionCaseStatus(), status_tracker(make_tracker, "le statut de mon ticket"), domain)
    assert responses(dispatcher) == ["utter_case_none"]
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_as_a_digression_inside_another_form(cases, portal, make_tracker, domain):
    # inside another form a number is answered at once ...
    tracker = status_tracker(make_tracker, "au fait, où en est le CS0032413 ?", active_loop="meter_reading_form",
                             entities=[("case_number", "CS0032413")], requested_slot="meter_value")
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032413"
    assert slot_values(events) == DONE
    # ... and without a number it offers buttons instead of starting a form of its own
    tracker = status_tracker(make_tracker, "et mon ticket ?", active_loop="meter_reading_form",
                             requested_slot="meter_value")
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_case_status_number"
    assert msg["buttons"][0] == {"title": "CS0032501 — Demande générale (Nouveau)",
                                 "payload": '/case_status{"case_number":"CS0032501"}'}
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_of_a_case_told_by_its_topic(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "did anything happen with my case about the spilled toner (renversé)?",
                             lang="en", **as_admin())
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert portal.calls("POST", "/cases/match")[0]["json"]["text"].startswith("did anything happen")
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032497"
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_of_a_topic_several_cases_share_offers_those(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "où en est la question sur le relevé, ou celle sur le service ?",
                             **as_admin())
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_case_status_number"
    assert {b["payload"] for b in msg["buttons"]} >= {'/case_status{"case_number":"CS0032411"}',
                                                      '/case_status{"case_number":"CS0032414"}'}
    assert len(msg["buttons"]) < len(cases.visible("admin"))
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_by_topic_inside_another_form_answers_and_the_form_goes_on(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "au fait, et mon dossier sur le toner renversé ?",
                             active_loop="fault_report_form", requested_slot="fault_description", **as_admin())
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032497"
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_with_the_portal_down_when_matching(cases, portal, make_tracker, domain):
    portal.fail("down", "POST", "/cases/match")
    dispatcher, events = await run(ActionCaseStatus(), status_tracker(make_tracker, "mon ticket du toner renversé"),
                                   domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"] and slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_after_the_form_uses_the_answer(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "c'est le 32413", intent=None, active_loop="case_status_form",
                             slots={"case_status_number": "CS0032413", "case_status_ask": True})
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert message(dispatcher, "utter_case_status")["case_number"] == "CS0032413"
    assert slot_values(events) == DONE


@pytest.mark.asyncio
async def test_status_after_a_form_that_ended_without_a_case_says_nothing_more(cases, portal, make_tracker, domain):
    tracker = status_tracker(make_tracker, "où en est mon ticket", active_loop="case_status_form",
                             slots={"case_status_ask": True})
    dispatcher, events = await run(ActionCaseStatus(), tracker, domain)
    assert dispatcher.messages == [] and portal.requests == []
    assert slot_values(events) == DONE


# --- case_status_form --------------------------------------------------------------------------------------------------
async def status_form(make_tracker, domain, text: str, intent: str = "inform", entities=None, lang: str = "fr",
                      requested_slot: str = "case_status_number", **kwargs: Any) -> tuple:
    tracker = make_tracker(text, intent=intent, entities=entities, slots={"language": lang},
                           requested_slot=requested_slot, active_loop="case_status_form",
                           portal_user=dict(USER_PROFILE, language=lang), **kwargs)
    return await run(ValidateCaseStatusForm(), tracker, domain)


@pytest.mark.asyncio
async def test_status_form_opening_turn_without_number_asks(cases, portal, make_tracker, domain):
    _, events = await status_form(make_tracker, domain, "où en est mon ticket", intent="case_status",
                                  requested_slot=None)
    assert "case_status_number" not in slot_values(events)


@pytest.mark.parametrize("text, intent, entities, number", [
    ("CS0032413", "case_status", [("case_number", "CS0032413")], "CS0032413"),
    ("c'est le 32499", "inform", [], "CS0032499"),
    ("cs 0032500", "nlu_fallback", [], "CS0032500"),
    ("le statut du dossier CS0032497 s'il vous plait", "case_status", [("case_number", "CS0032497")], "CS0032497"),
    ('/inform{"case_number":"CS0032501"}', "inform", [("case_number", "CS0032501")], "CS0032501"),
    ("mon dernier", "inform", [], "CS0032500"),
])
@pytest.mark.asyncio
async def test_status_form_accepts_the_answer(cases, portal, make_tracker, domain, text, intent, entities, number):
    dispatcher, events = await status_form(make_tracker, domain, text, intent=intent, entities=entities)
    assert slot_values(events)["case_status_number"] == number
    assert not of(dispatcher, "utter_case_not_found")


@pytest.mark.asyncio
async def test_status_form_not_an_answer_lets_the_rules_answer(cases, portal, make_tracker, domain):
    for text, intent in (("bonjour", "greet"), ("aide", "help"), ("montre moi tous les tickets", "list_cases")):
        dispatcher, events = await status_form(make_tracker, domain, text, intent=intent)
        assert "case_status_number" not in slot_values(events) and dispatcher.messages == []


@pytest.mark.asyncio
async def test_status_form_no_number_in_the_answer(cases, portal, make_tracker, domain):
    dispatcher, events = await status_form(make_tracker, domain, "euh je ne sais plus", lang="en")
    assert responses(dispatcher) == ["utter_case_number_missing"]
    assert slot_values(events)["case_status_number"] is None


@pytest.mark.asyncio
async def test_status_form_a_status_question_without_number_is_still_an_answer(cases, portal, make_tracker, domain):
    # inside its own form, case_status is the expected intent: no number -> told why, asked again
    dispatcher, events = await status_form(make_tracker, domain, "celui sur les traînées couleur",
                                           intent="case_status")
    assert responses(dispatcher) == ["utter_case_number_missing"]
    assert slot_values(events)["case_status_number"] is None


@pytest.mark.asyncio
async def test_status_form_refuses_another_accounts_case(cases, portal, make_tracker, domain):
    dispatcher, events = await status_form(make_tracker, domain, "CS0031877", entities=[("case_number", "CS0031877")])
    assert [(m["response"], m["case_number"]) for m in dispatcher.messages] == [("utter_case_not_found",
                                                                                  "CS0031877")]
    assert slot_values(events)["case_status_number"] is None


@pytest.mark.asyncio
async def test_status_form_backend_down(cases, portal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await status_form(make_tracker, domain, "CS0032413", entities=[("case_number", "CS0032413")])
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events)["case_status_number"] is None


@pytest.mark.asyncio
async def test_ask_status_number_offers_the_newest_cases(cases, portal, make_tracker, domain):
    tracker = make_tracker(requested_slot="case_status_number", active_loop="case_status_form")
    dispatcher, events = await run(ActionAskCaseStatusNumber(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_case_status_number"
    assert [b["payload"] for b in msg["buttons"]] == [f'/inform{{"case_number":"{n}"}}' for n in (
        "CS0032501", "CS0032500", "CS0032499", "CS0032497", "CS0032413")]
    assert events == []


@pytest.mark.asyncio
async def test_ask_status_number_backend_down_ends_the_form(cases, portal, make_tracker, domain):
    portal.fail("down")
    tracker = make_tracker(requested_slot="case_status_number", active_loop="case_status_form")
    dispatcher, events = await run(ActionAskCaseStatusNumber(), tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert slot_values(events) == {"requested_slot": None, "case_status_number": None, "case_status_ask": False}


# --- case_comment_form -------------------------------------------------------------------------------------------------
async def comment_form(make_tracker, domain, text: str, intent: str = "inform", entities=None, lang: str = "fr",
                       requested_slot=None, slots=None, **kwargs: Any) -> tuple:
    tracker = make_tracker(text, intent=intent, entities=entities, slots={"language": lang, **(slots or {})},
                           requested_slot=requested_slot, active_loop="case_comment_form",
                           portal_user=kwargs.pop("portal_user", dict(USER_PROFILE, language=lang)), **kwargs)
    return await run(ValidateCaseCommentForm(), tracker, domain)


@pytest.mark.asyncio
async def test_comment_opening_with_the_number(cases, portal, make_tracker, domain):
    dispatcher, events = await comment_form(make_tracker, domain, "ajouter un commentaire au dossier CS0032499",
                                            intent="add_case_comment", entities=[("case_number", "CS0032499")])
    slots = slot_values(events)
    assert slots["case_comment_number"] == "CS0032499"
    assert slots["case_comment_case"] == {"number": "CS0032499", "label": LABEL_499_FR, "status": "awaiting_customer"}
    assert "case_comment_text" not in slots
    assert message(dispatcher, "utter_case_selected")["case_label"] == LABEL_499_FR


@pytest.mark.asyncio
async def test_a_fault_back_on_a_closed_case_is_reported_again(cases, portal, make_tracker, domain):
    text = ("Le bruit est revenu sur le copieur du 2e ! Vous aviez fermé le ticket CS0032498 mais ça recommence, "
            "un claquement à chaque page. Vous pouvez rouvrir ?")
    dispatcher, events = await comment_form(make_tracker, domain, text, intent="add_case_comment",
                                            entities=[("case_number", "CS0032498")], **as_admin())
    slots = slot_values(events)
    assert slots["requested_slot"] is None and slots["switch_to"] == "report_fault"
    record = slots["switch_request"]
    assert record["text"] == text and record["intent"] == "report_fault"
    assert record["announce"] == {"response": "utter_case_closed_reported_again", "case_number": "CS0032498"}
    assert not portal.calls("POST", "/cases/CS0032498/comments")


@pytest.mark.asyncio
async def test_a_comment_on_a_closed_case_without_a_fault_is_asked_as_before(cases, portal, make_tracker, domain):
    _, events = await comment_form(make_tracker, domain, "ajouter un commentaire au dossier CS0032498",
                                   intent="add_case_comment", entities=[("case_number", "CS0032498")], **as_admin())
    slots = slot_values(events)
    assert slots["case_comment_number"] == "CS0032498" and "switch_to" not in slots


@pytest.mark.asyncio
async def test_comment_opening_with_the_comment_after_a_colon(cases, portal, make_tracker, domain):
    _, events = await comment_form(make_tracker, domain, "add a comment to CS0032499: test page sent this morning",
                                   intent="add_case_comment", entities=[("case_number", "CS0032499")], lang="en")
    slots = slot_values(events)
    assert slots["case_comment_number"] == "CS0032499"
    assert slots["case_comment_text"] == "test page sent this morning"
    assert slots["case_comment_case"]["label"].endswith("— Action required")


@pytest.mark.asyncio
async def test_comment_opening_numbers_inside_the_comment_are_not_the_case(cases, portal, make_tracker, domain):
    _, events = await comment_form(make_tracker, domain, "ajoute un commentaire : livrer au 69002 svp",
                                   intent="add_case_comment")
    slots = slot_values(events)
    assert "case_comment_number" not in slots
    assert slots["case_comment_text"] == "livrer au 69002 svp"
    assert portal.calls("GET", "/cases/CS0069002") == []


@pytest.mark.asyncio
async def test_comment_opening_on_my_last_ticket(cases, portal, make_tracker, domain):
    _, events = await comment_form(make_tracker, domain, "commenter mon dernier dossier", intent="add_case_comment")
    assert slot_values(events)["case_comment_number"] == "CS0032500"


@pytest.mark.asyncio
async def test_comment_opening_on_a_case_told_by_its_topic(cases, portal, make_tracker, domain):
    _, events = await comment_form(make_tracker, domain, "ajoute un commentaire au dossier du toner renversé",
                                   intent="add_case_comment", **as_admin())
    assert slot_values(events)["case_comment_number"] == "CS0032497"


@pytest.mark.asyncio
async def test_comment_opening_without_a_case(cases, portal, make_tracker, domain):
    dispatcher, events = await comment_form(make_tracker, domain, "je veux ajouter un commentaire",
                                            intent="add_case_comment")
    assert slot_values(events) == {} and dispatcher.messages == []


@pytest.mark.asyncio
async def test_comment_opening_on_a_case_the_user_cannot_see(cases, portal, make_tracker, domain):
    dispatcher, events = await comment_form(make_tracker, domain, "commenter le ticket CS0032412",
                                            intent="add_case_comment", entities=[("case_number", "CS0032412")])
    assert responses(dispatcher) == ["utter_case_not_found"]
    assert slot_values(events)["case_comment_number"] is None


@pytest.mark.parametrize("text, intent, entities, number", [
    ('/inform{"case_number":"CS0032500"}', "inform", [("case_number", "CS0032500")], "CS0032500"),
    ("CS0032499", "case_status", [("case_number", "CS0032499")], "CS0032499"),
    ("le 32413", "inform", [], "CS0032413"),
    ("my latest one", "inform", [], "CS0032500"),
])
@pytest.mark.asyncio
async def test_comment_which_case_answers(cases, portal, make_tracker, domain, text, intent, entities, number):
    _, events = await comment_form(make_tracker, domain, text, intent=intent, entities=entities,
                                   requested_slot="case_comment_number")
    assert slot_values(events)["case_comment_number"] == number


@pytest.mark.parametrize("text, intent, entities", [
    ("quel est l'état du dossier CS0032498 ?", "case_status", [("case_number", "CS0032498")]),  # a question
    ('/case_status{"case_number":"CS0032498"}', "case_status", [("case_number", "CS0032498")]),  # its button
    ("aide", "help", []),
    ("annuler", "cancel", []),
])
@pytest.mark.asyncio
async def test_comment_which_case_digressions_are_left_to_the_rules(cases, portal, make_tracker, domain, text,
                                                                     intent, entities):
    dispatcher, events = await comment_form(make_tracker, domain, text, intent=intent, entities=entities,
                                            requested_slot="case_comment_number")
    assert "case_comment_number" not in slot_values(events) and dispatcher.messages == []


@pytest.mark.asyncio
async def test_comment_which_case_without_a_number(cases, portal, make_tracker, domain):
    dispatcher, events = await comment_form(make_tracker, domain, "the one about the streaks", lang="en",
                                            requested_slot="case_comment_number")
    assert responses(dispatcher) == ["utter_case_number_missing"]
    assert slot_values(events)["case_comment_number"] is None


@pytest.mark.asyncio
async def test_comment_which_case_of_another_account(cases, portal, make_tracker, domain):
    dispatcher, events = await comment_form(make_tracker, domain, "CS0031877", entities=[("case_number", "CS0031877")],
                                            requested_slot="case_comment_number", **as_admin())
    assert responses(dispatcher) == ["utter_case_not_found"]
    assert slot_values(events)["case_comment_number"] is None


AT_TEXT = {"case_comment_number": "CS0032499", "case_comment_case": COMPLETE["case_comment_case"]}


@pytest.mark.parametrize("text, intent", [
    ("Voici la page de test, les traînées sont toujours là.", "nlu_fallback"),
    ("Bonjour, la page de test est partie ce matin par courrier interne, merci de confirmer.", "greet"),  # long
    ("merci de passer vendredi", "thank"),
    ("The technician can come any morning next week.", "out_of_scope"),
])
@pytest.mark.asyncio
async def test_comment_text_is_free_text(cases, portal, make_tracker, domain, text, intent):
    _, events = await comment_form(make_tracker, domain, text, intent=intent, requested_slot="case_comment_text",
                                   slots=AT_TEXT)
    assert slot_values(events)["case_comment_text"] == text


@pytest.mark.parametrize("text, intent", [("annuler", "cancel"), ("help", "help"), ("bonjour", "greet"),
                                          ("où en est le CS0032498 ?", "case_status"),
                                          ("montre mes tickets", "list_cases")])
@pytest.mark.asyncio
async def test_comment_text_short_requests_are_not_comments(cases, portal, make_tracker, domain, text, intent):
    _, events = await comment_form(make_tracker, domain, text, intent=intent, requested_slot="case_comment_text",
                                   slots=AT_TEXT)
    assert "case_comment_text" not in slot_values(events)


@pytest.mark.parametrize("text", ["ok", "  oui ", '/affirm'])
@pytest.mark.asyncio
async def test_comment_text_too_short(cases, portal, make_tracker, domain, text):
    dispatcher, events = await comment_form(make_tracker, domain, text, intent="inform",
                                            requested_slot="case_comment_text", slots=AT_TEXT,
                                            candidates={"case_comment_text": text})
    assert slot_values(events)["case_comment_text"] is None
    assert message(dispatcher, "utter_case_comment_too_short")["min_chars"] == 5


@pytest.mark.asyncio
async def test_comment_text_too_long_and_the_limit_itself(cases, portal, make_tracker, domain):
    dispatcher, events = await comment_form(make_tracker, domain, "x" * 4001, requested_slot="case_comment_text",
                                            slots=AT_TEXT, lang="en")
    assert slot_values(events)["case_comment_text"] is None
    too_long = message(dispatcher, "utter_case_comment_too_long")
    assert (too_long["max_chars"], too_long["length"]) == (4000, 4001)
    _, events = await comment_form(make_tracker, domain, "x" * 4000, requested_slot="case_comment_text", slots=AT_TEXT)
    assert slot_values(events)["case_comment_text"] == "x" * 4000


@pytest.mark.parametrize("text, intent, value", [("oui", "affirm", True), ("no", "deny", False)])
@pytest.mark.asyncio
async def test_comment_confirmation(cases, portal, make_tracker, domain, text, intent, value):
    filled = {k: v for k, v in COMPLETE.items() if k != "case_comment_confirm"}
    _, events = await comment_form(make_tracker, domain, text, intent=intent, requested_slot="case_comment_confirm",
                                   slots=filled)
    assert slot_values(events)["case_comment_confirm"] is value
    assert portal.calls("POST", "/cases/CS0032499/comments") == []  # nothing is written before the submit action


@pytest.mark.asyncio
async def test_comment_confirmation_needs_yes_or_no(cases, portal, make_tracker, domain):
    filled = {k: v for k, v in COMPLETE.items() if k != "case_comment_confirm"}
    dispatcher, events = await comment_form(make_tracker, domain, "peut-être", requested_slot="case_comment_confirm",
                                            slots=filled)
    assert responses(dispatcher) == ["utter_answer_yes_no"]
    assert slot_values(events)["case_comment_confirm"] is None


@pytest.mark.asyncio
async def test_ask_comment_case_offers_open_cases_waiting_ones_first(cases, portal, make_tracker, domain):
    tracker = make_tracker(requested_slot="case_comment_number", active_loop="case_comment_form")
    dispatcher, events = await run(ActionAskCaseCommentNumber(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_case_comment_number"
    assert [b["payload"] for b in msg["buttons"]] == [f'/inform{{"case_number":"{n}"}}' for n in (
        "CS0032499", "CS0032501", "CS0032413", "CS0032500")]  # CS0032497 is closed
    assert msg["buttons"][0]["title"] == ("CS0032499 — Dysfonctionnement de qualité d'impression › Impression, "
                                          "numérisation et photocopie (Action requise)")
    assert events == []


@pytest.mark.asyncio
async def test_ask_comment_case_with_no_case_ends_the_form(cases, portal, make_tracker, domain):
    cases.cases = []
    # a submission of another form, left pending, must survive
    tracker = make_tracker(requested_slot="case_comment_number", active_loop="case_comment_form",
                           slots={"pending_submit": True, "pending_action": "action_submit_meter_reading",
                                  "submission_key": "other-key"})
    dispatcher, events = await run(ActionAskCaseCommentNumber(), tracker, domain)
    assert responses(dispatcher) == ["utter_case_none"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert slot_values(events) == {"requested_slot": None, **{slot: None for slot in COMMENT_SLOTS}}


@pytest.mark.asyncio
async def test_ask_comment_case_backend_down_ends_the_form(cases, portal, make_tracker, domain):
    portal.fail("down")
    tracker = make_tracker(requested_slot="case_comment_number", active_loop="case_comment_form")
    dispatcher, events = await run(ActionAskCaseCommentNumber(), tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


@pytest.mark.asyncio
async def test_ask_comment_confirm_summary(cases, portal, make_tracker, domain):
    filled = {k: v for k, v in COMPLETE.items() if k != "case_comment_confirm"}
    tracker = make_tracker(requested_slot="case_comment_confirm", active_loop="case_comment_form", slots=filled)
    dispatcher, _ = await run(ActionAskCaseCommentConfirm(), tracker, domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["case_label"], msg["comment"]) == (
        "utter_ask_case_comment_confirm", LABEL_499_FR, COMPLETE["case_comment_text"])


# --- action_submit_case_comment ----------------------------------------------------------------------------------------
def submit_tracker(make_tracker, lang: str = "fr", **slots: Any):
    return make_tracker("oui", intent="affirm", slots=dict(COMPLETE, language=lang, **slots), active_loop=None,
                        portal_user=dict(USER_PROFILE, language=lang))


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.asyncio
async def test_submit_adds_the_comment(cases, portal, make_tracker, domain, lang):
    dispatcher, events = await run(ActionSubmitCaseComment(), submit_tracker(make_tracker, lang=lang), domain)
    (request,) = portal.calls("POST", "/cases/CS0032499/comments")
    assert request["json"] == {"body": "Page de test envoyée ce matin par courrier interne."}
    assert request["headers"]["idempotency-key"] == "key-7"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["accept-language"] == lang
    assert responses(dispatcher) == ["utter_case_comment_added", "utter_case_comment_back_to_canon"]
    assert dispatcher.messages[0]["case_number"] == "CS0032499"
    assert slot_values(events) == RESET
    case = cases.find("CS0032499")
    assert case["activities"][-1]["body"] == "Page de test envoyée ce matin par courrier interne."
    assert case["status"] == "in_progress"  # the customer answered: back to Canon


@pytest.mark.asyncio
async def test_submit_on_a_case_not_waiting_for_the_user(cases, portal, make_tracker, domain):
    tracker = submit_tracker(make_tracker, case_comment_number="CS0032500",
                             case_comment_case={"number": "CS0032500", "label": "CS0032500", "status": "in_progress"})
    dispatcher, _ = await run(ActionSubmitCaseComment(), tracker, domain)
    assert responses(dispatcher) == ["utter_case_comment_added"]
    assert portal.calls("POST", "/cases/CS0032500/comments")


@pytest.mark.asyncio
async def test_submit_declined_writes_nothing(cases, portal, make_tracker, domain):
    dispatcher, events = await run(ActionSubmitCaseComment(), submit_tracker(make_tracker, case_comment_confirm=False),
                                   domain)
    assert responses(dispatcher) == ["utter_case_comment_not_sent"]
    assert portal.requests == []
    assert slot_values(events) == RESET


@pytest.mark.asyncio
async def test_submit_after_a_form_that_ended_early_says_nothing(cases, portal, make_tracker, domain):
    tracker = make_tracker("x", active_loop=None, slots={
        "pending_submit": True, "pending_action": "action_submit_meter_reading", "submission_key": "other-key"})
    dispatcher, events = await run(ActionSubmitCaseComment(), tracker, domain)
    assert dispatcher.messages == [] and portal.requests == []
    assert events == []  # another form's pending submission is kept


@pytest.mark.asyncio
async def test_submit_backend_down_keeps_everything_then_retry_uses_the_same_key(cases, portal, make_tracker, domain):
    portal.fail("down", "POST", "/cases/CS0032499/comments")
    dispatcher, events = await run(ActionSubmitCaseComment(), submit_tracker(make_tracker), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events) == FAILED  # the answers are kept
    portal.recover()
    retry = submit_tracker(make_tracker, pending_submit=True, pending_action="action_submit_case_comment")
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert [c["headers"]["idempotency-key"] for c in portal.calls("POST", "/cases/CS0032499/comments")] == [
        "key-7", "key-7"]
    assert responses(dispatcher)[0] == "utter_case_comment_added"
    assert slot_values(events) == RESET


@pytest.mark.asyncio
async def test_submit_retry_after_a_lost_answer_adds_the_comment_once(cases, portal, make_tracker, domain):
    await run(ActionSubmitCaseComment(), submit_tracker(make_tracker), domain)
    await run(ActionSubmitCaseComment(), submit_tracker(make_tracker, pending_submit=True), domain)
    bodies = [a["body"] for a in cases.find("CS0032499")["activities"]]
    assert bodies.count(COMPLETE["case_comment_text"]) == 1


@pytest.mark.asyncio
async def test_submit_without_a_key_generates_one_and_keeps_it(cases, portal, make_tracker, domain):
    portal.fail(503, "POST", "/cases/CS0032499/comments")
    _, events = await run(ActionSubmitCaseComment(), submit_tracker(make_tracker, submission_key=None), domain)
    key = slot_values(events)["submission_key"]
    assert key and portal.calls("POST", "/cases/CS0032499/comments")[0]["headers"]["idempotency-key"] == key


@pytest.mark.asyncio
async def test_submit_refused_when_the_case_is_no_longer_visible(cases, portal, make_tracker, domain):
    cases.find("CS0032499")["contact"] = "admin"
    cases.find("CS0032499")["asset"] = None
    dispatcher, events = await run(ActionSubmitCaseComment(), submit_tracker(make_tracker, lang="en"), domain)
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["reason"]) == ("utter_portal_refused", "Case CS0032499 not found.")
    assert slot_values(events) == RESET


@pytest.mark.asyncio
async def test_submit_not_authenticated(cases, portal, make_tracker, domain):
    tracker = make_tracker("oui", intent="affirm", slots=COMPLETE, token="expired", active_loop=None)
    dispatcher, events = await run(ActionSubmitCaseComment(), tracker, domain)
    assert responses(dispatcher) == ["utter_login_required"]
    assert slot_values(events) == RESET


@pytest.mark.asyncio
async def test_cancel_forgets_the_comment(cases, portal, make_tracker, domain):
    tracker = make_tracker("annuler", intent="cancel", slots=dict(COMPLETE), active_loop=None,
                           history=[{"event": "active_loop", "name": "case_comment_form"},
                                    {"event": "active_loop", "name": None}])
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert slot_values(events) == RESET
    assert portal.requests == []


# --- the responses exist in both languages and Rasa picks the user's -----------------------------------------------
CASES_DOMAIN = yaml.safe_load((Path(ROOT) / "domain" / "cases.yml").read_text(encoding="utf-8"))


def test_every_cases_response_has_french_and_english():
    for name, variations in CASES_DOMAIN["responses"].items():
        english = [v for v in variations if v.get("condition") == [{"type": "slot", "name": "language",
                                                                     "value": "en"}]]
        french = [v for v in variations if not v.get("condition")]
        assert len(english) == 1 and len(french) == 1, name
        assert len(english[0].get("buttons", [])) == len(french[0].get("buttons", [])), name


@pytest.mark.parametrize("lang, expected", [
    ("fr", "Dossier CS0032499 : Action requise\n• Type : Qualité › Impression\n• Appareil : C5030i (GNM75498)\n"
           "• Demandeur : Ann Lee ; contact : Bo Ray\n• Description : Traînées\n"
           "• Ouvert le 02/02/2026, dernière mise à jour le 03/02/2026"),
    ("en", "Case CS0032499: Action required\n• Type: Quality › Print\n• Device: C5030i (GNM75498)\n"
           "• Requested by Ann Lee; contact: Bo Ray\n• Description: Traînées\n"
           "• Opened on 2 Feb 2026, last updated on 3 Feb 2026"),
])
@pytest.mark.asyncio
async def test_rasa_renders_the_users_language(lang, expected):
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.slots import CategoricalSlot
    from rasa.shared.core.trackers import DialogueStateTracker

    slot = CategoricalSlot("language", mappings=[{"type": "custom"}], values=["fr", "en"], initial_value=lang)
    tracker = DialogueStateTracker("t", [slot])
    nlg = TemplatedNaturalLanguageGenerator(CASES_DOMAIN["responses"])
    label = {"fr": "Action requise", "en": "Action required"}[lang]
    case_type = {"fr": "Qualité › Impression", "en": "Quality › Print"}[lang]
    dates = {"fr": ("02/02/2026", "03/02/2026"), "en": ("2 Feb 2026", "3 Feb 2026")}[lang]
    rendered = await nlg.generate("utter_case_status", tracker, OutputChannel.name(), case_number="CS0032499",
                                  status=label, case_type=case_type, device="C5030i (GNM75498)", created=dates[0],
                                  updated=dates[1], requester="Ann Lee", contact="Bo Ray", description="Traînées")
    assert rendered["text"] == expected
    awaiting = await nlg.generate("utter_case_awaiting_you", tracker, OutputChannel.name(), case_number="CS0032499")
    assert awaiting["buttons"][0]["payload"] == '/add_case_comment{"case_number":"CS0032499"}'
    assert awaiting["buttons"][0]["title"] == {"fr": "Ajouter un commentaire", "en": "Add a comment"}[lang]


# --- the opening turn after a "yes" to a switch offered inside another form (actions/switching.py) ------------------
@pytest.mark.parametrize("started", STARTS)
@pytest.mark.parametrize("text, entities_, number, comment", [
    ("ajoute un commentaire au CS0032499 : page de test envoyée ce matin", [("case_number", "CS0032499")],
     "CS0032499", "page de test envoyée ce matin"),
    ("commenter mon dernier dossier", [], "CS0032500", None),
])
@pytest.mark.asyncio
async def test_case_and_comment_of_the_request_are_taken_however_the_form_started(
        cases, portal, make_tracker, domain, started, text, entities_, number, comment):
    tracker = await opening_tracker(make_tracker, domain, started, text, "add_case_comment", "case_comment_form",
                                    entities=entities_, slots={"language": "fr"})
    dispatcher, events = await run(ValidateCaseCommentForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["case_comment_number"] == number  # not asked again
    assert slots.get("case_comment_text") == comment  # the request's words, never the "oui"
    assert "utter_case_selected" in responses(dispatcher)
    assert_switch_request_forgotten(events, started)


# --- a new request that points at a case still open: offered instead (actions/cases.py existing_case_offer) ----------
STREAKS_AGAIN = ("pour le ticket des traînées sur les impressions couleur : j'ai imprimé la page de test, les "
                 "traînées sont toujours là")


async def fault_opening(make_tracker, domain, text: str, **kwargs):
    from actions.fault_report import ValidateFaultReportForm

    tracker = make_tracker(text, intent="report_fault", active_loop="fault_report_form", **kwargs)
    dispatcher = CollectingDispatcher()
    return dispatcher, await ValidateFaultReportForm().run(dispatcher, tracker, domain)


@pytest.mark.asyncio
@pytest.mark.parametrize("text, number", [
    (STREAKS_AGAIN, "CS0032499"),
    ("Canon asked me for a test page on CS0032499, the prints still have streaks", "CS0032499"),
    ("le bac de récupération du toner manque toujours, vous pouvez relancer ?", "CS0032500"),
    ("nouveau problème sur CS0032499 : les traînées sont revenues", "CS0032499"),
    ("ORD0001233 : le bac de récupération manque toujours, vous pouvez relancer ?", "CS0032500"),  # its own order
])
async def test_a_new_request_pointing_at_an_open_case_offers_that_case(cases, portal, make_tracker, domain, text,
                                                                        number):
    dispatcher, events = await fault_opening(make_tracker, domain, text)
    assert slot_values(events) == {"requested_slot": None, "case_offered": {"number": number, "pending": True}}
    (offer,) = dispatcher.messages  # nothing else: no device question, no classification
    assert offer["response"] == "utter_existing_case_offer" and offer["case"].startswith(number)
    assert [b["payload"] for b in offer["buttons"]] == [
        f'/add_case_comment{{"case_number":"{number}"}}', f'/case_status{{"case_number":"{number}"}}', "/report_fault"]
    assert not portal.calls("POST", "/cases")


@pytest.mark.asyncio
@pytest.mark.parametrize("text, slots", [
    ("les impressions couleur ont des traînées", {}),  # no word pointing at a case: not even looked for
    ("le bruit est revenu, vous aviez fermé le ticket CS0032498", {}),  # that case is closed: a new one
    (STREAKS_AGAIN, {"case_offered": {"number": "CS0032499", "pending": False}}),  # offered once already
    # the words name another order than the open claim's (CS0032500 is about ORD0001233)
    ("We ordered two black toners in May (ORD0001228) and only one turned up, the box is missing. Can you chase it?",
     {}),
])
async def test_no_offer_without_an_open_case_pointed_at_or_once_offered(cases, portal, make_tracker, domain, text,
                                                                       slots):
    dispatcher, events = await fault_opening(make_tracker, domain, text, slots=slots)
    assert "utter_existing_case_offer" not in responses(dispatcher)
    assert "case_offered" not in slot_values(events)
    if text.startswith("les impressions"):
        assert not portal.calls("POST", "/cases/match")


@pytest.mark.asyncio
async def test_the_form_ended_for_an_offer_writes_nothing(cases, portal, make_tracker, domain):
    from actions.fault_report import ActionSubmitFaultReport

    tracker = make_tracker(STREAKS_AGAIN, intent="report_fault", active_loop=None,
                           slots={"case_offered": {"number": "CS0032499", "pending": True}})
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitFaultReport().run(dispatcher, tracker, domain)
    assert slot_values(events)["case_offered"] == {"number": "CS0032499", "pending": False}
    assert dispatcher.messages == [] and not portal.calls("POST", "/cases")


@pytest.mark.asyncio
@pytest.mark.parametrize("said, comment", [
    ("Canon asked me for a test page on CS0032499, the prints still have streaks",
     "Canon asked me for a test page on CS0032499, the prints still have streaks"),
    (STREAKS_AGAIN, "j'ai imprimé la page de test, les traînées sont toujours là"),  # what follows the colon
])
async def test_adding_the_message_to_the_offered_case_takes_the_typed_words_as_the_comment(cases, make_tracker, domain,
                                                                                           said, comment):
    typed = {"text": said, "intent": {"name": "report_fault", "confidence": 0.9}, "entities": []}
    payload = '/add_case_comment{"case_number":"CS0032499"}'
    history = [{"event": "user", "text": said, "parse_data": typed, "input_channel": "rest"},
               {"event": "bot", "text": "Cela semble concerner votre dossier…", "data": {"buttons": [
                   {"title": "Ajouter mon message au CS0032499", "payload": payload}]}},
               {"event": "action", "name": "action_listen"}]
    tracker = make_tracker(payload, intent="add_case_comment", entities=[("case_number", "CS0032499")],
                           active_loop="case_comment_form", history=history)
    dispatcher = CollectingDispatcher()
    events = await ValidateCaseCommentForm().run(dispatcher, tracker, domain)
    slots = slot_values(events)
    assert slots["case_comment_number"] == "CS0032499" and slots["case_comment_text"] == comment


@pytest.mark.asyncio
@pytest.mark.parametrize(("lang", "awaited"), [
    ("fr", "   ↳ Canon demande : « Pouvez-vous nous envoyer une page de test imprimée ? »"),
    ("en", '   ↳ Canon asks: "Pouvez-vous nous envoyer une page de test imprimée ?"'),
])
async def test_a_case_waiting_for_the_customer_is_listed_with_what_is_awaited(cases, portal, make_tracker, domain,
                                                                            lang, awaited):
    dispatcher, _ = await run(ActionListCases(), list_tracker(make_tracker, "cases waiting for my answer", lang=lang,
                                                              **as_admin()), domain)
    lines = message(dispatcher, "utter_case_list")["lines"].splitlines()
    at = next(i for i, line in enumerate(lines) if "CS0032499" in line)
    assert lines[at + 1] == awaited
    assert all(not line.startswith("   ↳") for line in lines if line != awaited)  # only under the case awaiting


def test_what_is_awaited_is_escaped_and_shortened():
    from actions.cases import awaited_line

    case = {"status": "awaiting_customer", "activities": [
        {"author_name": "Canon", "body": "old", "created_at": "2026-12-01T10:00:00Z"},
        {"author_name": "Canon", "body": "[click](http://x) " + "word " * 60, "created_at": "2026-12-02T10:00:00Z"}]}
    line = awaited_line(case, "en")
    assert "\\[click\\]" in line and line.endswith('…"') and len(line) < 220
    assert awaited_line({**case, "status": "in_progress"}, "en") is None


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "which"), [
    ("Can you list all our open cases, and tell me which one is waiting on us?", "all"),
    ("montre tous nos dossiers ouverts et dis-moi lequel attend une réponse de notre part", "all"),
    # "our" open cases, the second question after a question mark
    ("la liste de nos dossiers pas encore clos ? et me dire s'il y en a un qui attend une réponse de notre part", "all"),
    ("our open tickets please - are there any waiting on us?", "all"),
    ("all the cases that need my action", "action_required"),
    ("which of our cases are waiting for our answer?", "action_required"),
])
async def test_every_open_case_and_which_is_waiting_is_one_list(cases, portal, make_tracker, domain, text, which):
    await run(ActionListCases(), list_tracker(make_tracker, text, lang="en", **as_admin()), domain)
    (request,) = portal.calls("GET", "/cases")
    assert request["params"]["list"] == which
