"""User administration (actions/admin.py): the users list, the user form (approve / reject, upgrade,
deactivate, reset password) and the invitation form — extraction, validation, questions, submission."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.admin import (
    INVITE_FORM,
    USER_FORM,
    ActionAdminListUsers,
    ActionAdminSubmitInvite,
    ActionAdminSubmitUserChange,
    ActionAskAdminInviteConfirm,
    ActionAskAdminUserConfirm,
    ActionAskAdminUserDecision,
    ActionAskAdminUserOperation,
    ActionAskAdminUserTarget,
    ValidateAdminInviteForm,
    ValidateAdminUserForm,
    find_users,
    normalize,
    phone_in,
)
from actions.submission import ActionCancelForm, ActionRetrySubmit
from actions_fakes import (
    run, message, STARTS, TOKEN, FakePortal, accepted_switch, assert_switch_request_forgotten, opening_tracker,
    responses, slot_values,
)
from fakes_admin import (
    ADMIN_PROFILE,
    ADMIN_TOKEN,
    ALAN,
    PRIYA,
    SEED_USERS,
    SNTEST,
    SNTESTDM,
    USER_PROFILE_SEED,
    AdminBackend,
    managed_user,
)

pytestmark = pytest.mark.asyncio

USER_FORM_SLOTS = ("admin_user_operation", "admin_user_target", "admin_user_decision", "admin_user_confirm",
                   "admin_user_candidates", "admin_user_refused")
INVITE_FORM_SLOTS = ("admin_invite_email", "admin_invite_name", "admin_invite_phone", "admin_invite_confirm")
USER_RESET = {**{s: None for s in USER_FORM_SLOTS}, "submission_key": None, "pending_submit": False,
              "pending_action": None}
INVITE_RESET = {**{s: None for s in INVITE_FORM_SLOTS}, "submission_key": None, "pending_submit": False,
                "pending_action": None}


def target(user: Dict[str, Any]) -> Dict[str, Any]:
    return {k: user.get(k) for k in ("id", "email", "full_name", "role", "status", "origin")}


@pytest.fixture
def admin_backend(portal: FakePortal) -> AdminBackend:
    return AdminBackend(portal)


@pytest.fixture
def admin_tracker(make_tracker, admin_backend):
    """A tracker of the account's administrator (French profile unless `lang="en"`)."""

    def make(text: str = "", intent: Optional[str] = "inform", form: Optional[str] = USER_FORM,
             lang: str = "fr", slots: Optional[Dict[str, Any]] = None, **kwargs: Any):
        values = {"language": lang, **(slots or {})}
        return make_tracker(text, intent=intent, slots=values, token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE,
                            active_loop=form, **kwargs)

    return make






def ended(events: List[Dict[str, Any]]) -> bool:
    """The form was ended (ActiveLoop(None))."""
    return any(e.get("event") == "active_loop" and e.get("name") is None for e in events)


def texts_of(dispatcher: CollectingDispatcher) -> str:
    return repr(dispatcher.messages)


# --- the matching helpers ------------------------------------------------------------------------------------------
async def test_normalize_ignores_case_accents_and_punctuation():
    assert normalize("  Zoé ÉTIENNE-Dupré ") == "zoe etienne dupre"
    assert normalize("Alan Inactive_Stane") == "alan inactive stane"


async def test_find_users_by_email_name_part_and_prefix():
    assert find_users(SEED_USERS, "", ["PRIYA.pending@canon-uk-demo.example"], None, False) == [PRIYA]
    assert find_users(SEED_USERS, "approuve la demande de priya", [], None, False) == [PRIYA]
    assert find_users(SEED_USERS, "c'est pour Stane", [], None, False) == [ALAN]
    assert find_users(SEED_USERS, "pri", [], None, partial=True) == [PRIYA]
    assert find_users(SEED_USERS, "pri", [], None, partial=False) == []
    # a full name wins over a shared last name
    assert find_users(SEED_USERS, "SNTestDM DemoPortal", [], None, False) == [SNTESTDM]
    assert find_users(SEED_USERS, "demoportal", [], None, False) == [SNTEST, SNTESTDM]
    # the request's own words never match a person
    assert find_users(SEED_USERS + [managed_user(9, "a@x.com", "Jane Admin", "admin", "active")],
                      "nommer un admin", [], None, True) == []


async def test_phone_in_accepts_phone_numbers_only():
    assert phone_in("+44 20 7946 0005") == "+44 20 7946 0005"
    assert phone_in("son numéro c'est le 06 12 34 56 78") == "06 12 34 56 78"
    assert phone_in("jean.dupont2024@acme.fr") is None
    assert phone_in("12 34") is None
    assert phone_in("abc") is None


# --- list the users ------------------------------------------------------------------------------------------------
async def test_list_users_one_line_each_pending_first_with_a_button_to_handle_it(admin_tracker, domain, portal):
    dispatcher, events = await run(ActionAdminListUsers(), admin_tracker("liste des utilisateurs", "list_users",
                                                                         form=None), domain)
    assert events == []
    listing = message(dispatcher, "utter_admin_users_list")
    assert listing["count"] == 4
    assert listing["users"].split("\n") == [
        "• Priya Pending — priya.pending@canon-uk-demo.example — Utilisateur — En attente "
        "(demande d'accès à approuver)",
        "• SNTest DemoPortal — sntestportaldemo@outlook.com — Administrateur — ACTIF",
        "• SNTestDM DemoPortal — sntestdemoportaldm@yopmail.com — Utilisateur — ACTIF",
        "• Alan Inactive_Stane — alan.stane@canon-uk-demo.example — Utilisateur — Inactif",
    ]
    hint = message(dispatcher, "utter_admin_users_pending_hint")
    assert hint["count"] == 1
    assert hint["buttons"] == [{"title": "Traiter la demande de Priya Pending",
                                "payload": '/approve_access_request{"email":"priya.pending@canon-uk-demo.example"}'}]
    assert portal.calls("GET", "/users")[0]["headers"]["authorization"] == f"Bearer {ADMIN_TOKEN}"


async def test_list_users_in_english_and_an_invited_user_is_not_an_access_request(admin_tracker, admin_backend,
                                                                                   domain):
    admin_backend.users.append(managed_user(5, "zoe@acme.com", "Zoé Invitée", "user", "pending", "invitation"))
    dispatcher, _ = await run(ActionAdminListUsers(), admin_tracker("list users", "list_users", form=None, lang="en"),
                              domain)
    lines = message(dispatcher, "utter_admin_users_list")["users"].split("\n")
    assert lines[0].endswith("— User — Pending (access request to approve)")
    assert lines[1] == "• Zoé Invitée — zoe@acme.com — User — Pending (invitation sent, not accepted yet)"
    assert "— Administrator — ACTIVE" in lines[2]
    hint = message(dispatcher, "utter_admin_users_pending_hint")
    assert [b["title"] for b in hint["buttons"]] == ["Handle the request of Priya Pending"]


async def test_list_users_without_pending_request_has_no_hint(admin_tracker, admin_backend, domain):
    admin_backend.users = [u for u in admin_backend.users if u["status"] != "pending"]
    dispatcher, _ = await run(ActionAdminListUsers(), admin_tracker("users", "list_users", form=None), domain)
    assert responses(dispatcher) == ["utter_admin_users_list"]


async def test_list_users_backend_down_or_refused(make_tracker, admin_tracker, admin_backend, portal, domain):
    portal.fail("down", "GET", "/users")
    dispatcher, events = await run(ActionAdminListUsers(), admin_tracker("users", "list_users", form=None), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"] and events == []
    portal.recover()
    # a standard user reaching it anyway: the backend's refusal is shown
    dispatcher, _ = await run(ActionAdminListUsers(), make_tracker("users", "list_users", active_loop=None,
                                                                   portal_user=USER_PROFILE_SEED), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"].startswith("Votre rôle ne permet pas")


# --- user form: required slots and the opening message ----------------------------------------------------------------
async def test_required_slots_ask_approve_or_reject_only_for_access_requests(admin_tracker, domain):
    form = ValidateAdminUserForm()
    slots = domain["forms"][USER_FORM]["required_slots"]
    approve = admin_tracker("demandes en attente", "approve_access_request")
    upgrade = admin_tracker("x", slots={"admin_user_operation": "upgrade"}, requested_slot="admin_user_target")
    assert await form.required_slots(slots, CollectingDispatcher(), approve, domain) == slots
    assert "admin_user_decision" not in await form.required_slots(slots, CollectingDispatcher(), upgrade, domain)


async def test_opening_approve_with_name_and_decision(admin_tracker, domain):
    tracker = admin_tracker("approuve la demande d'accès de Priya", "approve_access_request",
                            entities=[("person", "Priya")])
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["admin_user_operation"] == "approve"
    assert slots["admin_user_target"] == target(PRIYA)
    assert slots["admin_user_decision"] == "approve"
    assert "requested_slot" not in slots  # every slot of the access-request path: Rasa asks the confirmation
    assert dispatcher.messages == []


async def test_opening_reject_said_in_words(admin_tracker, domain):
    tracker = admin_tracker("refuser la demande d'accès de priya.pending@canon-uk-demo.example",
                            "approve_access_request", entities=[("email", "priya.pending@canon-uk-demo.example")])
    _, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert slot_values(events)["admin_user_decision"] == "reject"


async def test_opening_approve_with_a_single_pending_request_selects_it(admin_tracker, domain):
    _, events = await run(ValidateAdminUserForm(), admin_tracker("des demandes d'accès en attente ?",
                                                                 "approve_access_request"), domain)
    slots = slot_values(events)
    assert slots["admin_user_target"] == target(PRIYA)
    assert "admin_user_decision" not in slots


async def test_opening_approve_with_several_pending_requests_asks_who(admin_tracker, admin_backend, domain):
    admin_backend.users.append(managed_user(6, "kevin@acme.com", "Kevin Martin", "user", "pending", "access_request"))
    _, events = await run(ValidateAdminUserForm(), admin_tracker("gérer les demandes d'accès",
                                                                 "approve_access_request"), domain)
    slots = slot_values(events)
    assert "admin_user_target" not in slots


async def test_opening_button_of_the_list_selects_the_person_but_asks_the_decision(admin_tracker, domain):
    payload = '/approve_access_request{"email":"priya.pending@canon-uk-demo.example"}'
    tracker = admin_tracker(payload, "approve_access_request",
                            entities=[("email", "priya.pending@canon-uk-demo.example")])
    _, events = await run(ValidateAdminUserForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["admin_user_target"] == target(PRIYA)
    assert "admin_user_decision" not in slots  # the word "approve" of the payload is not a decision


async def test_opening_upgrade_by_email(admin_tracker, domain):
    tracker = admin_tracker("passer sntestdemoportaldm@yopmail.com admin", "upgrade_user",
                            entities=[("email", "sntestdemoportaldm@yopmail.com")])
    _, events = await run(ValidateAdminUserForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["admin_user_operation"] == "upgrade"
    assert slots["admin_user_target"] == target(SNTESTDM)
    assert slots["requested_slot"] == "admin_user_confirm"


async def test_opening_upgrade_of_a_pending_user_is_explained(admin_tracker, domain):
    dispatcher, events = await run(ValidateAdminUserForm(), admin_tracker("passer Priya administrateur",
                                                                          "upgrade_user"), domain)
    assert message(dispatcher, "utter_admin_user_is_pending")["name"] == "Priya Pending"
    slots = slot_values(events)
    assert slots["admin_user_target"] is None and slots["requested_slot"] == "admin_user_target"


async def test_opening_without_a_name_asks_who(admin_tracker, domain):
    dispatcher, events = await run(ValidateAdminUserForm(), admin_tracker("désactiver un utilisateur",
                                                                          "deactivate_user"), domain)
    assert dispatcher.messages == []
    assert slot_values(events)["requested_slot"] == "admin_user_target"


async def test_opening_with_an_unknown_email_says_so(admin_tracker, domain):
    tracker = admin_tracker("désactive nobody@acme.com", "deactivate_user", entities=[("email", "nobody@acme.com")])
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert message(dispatcher, "utter_admin_user_not_found")["reference"] == "nobody@acme.com"
    assert slot_values(events)["requested_slot"] == "admin_user_target"


async def test_opening_backend_down_leaves_the_question_to_report_it(admin_tracker, portal, domain):
    portal.fail("down", "GET", "/users")
    dispatcher, events = await run(ValidateAdminUserForm(), admin_tracker("reset the password of Priya",
                                                                          "reset_user_password"), domain)
    assert dispatcher.messages == []
    assert slot_values(events)["requested_slot"] == "admin_user_target"


# --- user form: which person, when asked ------------------------------------------------------------------------------
def asked_target(admin_tracker, text: str, operation: str, intent: str = "inform", **kwargs: Any):
    slots = {"admin_user_operation": operation, **kwargs.pop("slots", {})}
    return admin_tracker(text, intent, slots=slots, requested_slot="admin_user_target", **kwargs)


async def test_target_by_button_payload(admin_tracker, domain):
    tracker = asked_target(admin_tracker, '/inform{"email":"sntestdemoportaldm@yopmail.com"}', "deactivate",
                           entities=[("email", "sntestdemoportaldm@yopmail.com")])
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert slot_values(events)["admin_user_target"] == target(SNTESTDM)
    assert slot_values(events)["requested_slot"] == "admin_user_confirm"
    assert dispatcher.messages == []


async def test_target_by_partial_name_case_and_accents_ignored(admin_tracker, admin_backend, domain):
    admin_backend.users.append(managed_user(7, "zoe.etienne@acme.com", "Zoé Étienne", "user", "active"))
    for said in ("zoe", "ZOÉ ETIENNE", "c'est pour étien"):
        _, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, said, "password-reset"), domain)
        assert slot_values(events)["admin_user_target"]["email"] == "zoe.etienne@acme.com", said


async def test_target_named_with_an_intent_of_this_same_form_is_an_answer(admin_tracker, domain):
    _, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, "passe SNTestDM admin", "upgrade",
                                                                intent="upgrade_user"), domain)
    assert slot_values(events)["admin_user_target"] == target(SNTESTDM)


async def test_target_typed_when_the_nlu_did_not_recognise_it(admin_tracker, domain):
    _, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, "priya", "approve",
                                                                intent="nlu_fallback"), domain)
    assert slot_values(events)["admin_user_target"] == target(PRIYA)


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_approving_someone_who_never_asked_names_those_waiting(admin_tracker, domain, lang):
    tracker = admin_tracker("Tom Baker says he requested portal access last week, can you approve him?",
                            "approve_access_request", entities=[("person", "Tom Baker")], lang=lang)
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    said = message(dispatcher, "utter_admin_no_access_request_from")
    assert said["reference"] == "Tom Baker" and PRIYA["full_name"] in said["waiting"]
    slots = slot_values(events)
    assert slots["admin_user_target"] is None and slots["admin_user_refused"] is True
    # the form then ends: nobody else is asked for (the message named those waiting and offered an invitation)
    ask = admin_tracker("", "approve_access_request", lang=lang,
                        slots={"admin_user_operation": "approve", "admin_user_refused": True})
    dispatcher, events = await run(ActionAskAdminUserTarget(), ask, domain)
    assert dispatcher.messages == [] and {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]


async def test_an_opening_naming_someone_already_deactivated_says_so_and_ends(admin_tracker, domain):
    tracker = admin_tracker("Please deactivate Alan Stane's account, he left the company months ago.",
                            "deactivate_user", entities=[("person", "Alan Stane")], lang="en")
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_admin_user_already_inactive"]
    assert slot_values(events)["admin_user_refused"] is True


async def test_target_unknown_is_refused_and_asked_again(admin_tracker, domain):
    dispatcher, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, "Bob Marley", "upgrade"),
                                   domain)
    assert message(dispatcher, "utter_admin_user_not_found")["reference"] == "Bob Marley"
    slots = slot_values(events)
    assert slots["admin_user_target"] is None and slots["requested_slot"] == "admin_user_target"


async def test_target_ambiguous_offers_only_the_matching_eligible_users(admin_tracker, domain):
    dispatcher, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, "DemoPortal",
                                                                         "password-reset"), domain)
    assert message(dispatcher, "utter_admin_user_ambiguous")["reference"] == "DemoPortal"
    slots = slot_values(events)
    assert slots["admin_user_target"] is None
    assert slots["admin_user_candidates"] == [SNTEST["email"], SNTESTDM["email"]]
    # the question then offers only those two
    ask = admin_tracker("", slots={"admin_user_operation": "password-reset",
                                   "admin_user_candidates": slots["admin_user_candidates"]},
                        requested_slot="admin_user_target")
    dispatcher, _ = await run(ActionAskAdminUserTarget(), ask, domain)
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        '/inform{"email":"sntestportaldemo@outlook.com"}', '/inform{"email":"sntestdemoportaldm@yopmail.com"}']


async def test_target_shared_name_resolved_by_eligibility(admin_tracker, domain):
    # "DemoPortal" names two users but only SNTestDM can become an administrator
    _, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, "DemoPortal", "upgrade"), domain)
    assert slot_values(events)["admin_user_target"] == target(SNTESTDM)


@pytest.mark.parametrize("operation,said,response,name,status", [
    ("approve", "Alan", "utter_admin_user_not_pending", "Alan Inactive_Stane", "Inactif"),
    ("upgrade", "SNTest DemoPortal", "utter_admin_user_already_admin", "SNTest DemoPortal", "ACTIF"),
    ("upgrade", "Alan", "utter_admin_user_not_active", "Alan Inactive_Stane", "Inactif"),
    ("deactivate", "Alan", "utter_admin_user_already_inactive", "Alan Inactive_Stane", "Inactif"),
    ("deactivate", "Priya", "utter_admin_user_is_pending", "Priya Pending", "En attente"),
    ("password-reset", "Alan", "utter_admin_user_not_active", "Alan Inactive_Stane", "Inactif"),
])
async def test_target_not_eligible_says_why(admin_tracker, domain, operation, said, response, name, status):
    dispatcher, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, said, operation), domain)
    msg = message(dispatcher, response)
    assert msg["name"] == name and msg["status"] == status
    assert slot_values(events)["admin_user_target"] is None
    assert slot_values(events)["admin_user_refused"] is None  # an answer to "who?": the question is asked again


async def test_never_deactivate_yourself(admin_tracker, domain):
    tracker = asked_target(admin_tracker, "sntestportaldemo@outlook.com", "deactivate",
                           entities=[("email", "sntestportaldemo@outlook.com")])
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_admin_cannot_deactivate_self"]
    assert slot_values(events)["admin_user_target"] is None


async def test_target_question_answered_by_a_digression_extracts_nothing(admin_tracker, portal, domain):
    # questions answered by the rules, and requests that start another conversation (the switch offer)
    for intent in ("help", "cancel", "greet", "list_users", "report_fault", "invite_user"):
        dispatcher, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, "aide", "upgrade",
                                                                             intent=intent), domain)
        assert dispatcher.messages == [] and "admin_user_target" not in slot_values(events)
    assert portal.calls("GET", "/users") == []


async def test_target_backend_down_when_asked(admin_tracker, portal, domain):
    portal.fail("down", "GET", "/users")
    dispatcher, events = await run(ValidateAdminUserForm(), asked_target(admin_tracker, "Priya", "approve"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events)["admin_user_target"] is None


# --- user form: operation, decision, confirmation ---------------------------------------------------------------------
async def test_operation_asked_by_button_intent_or_refused(admin_tracker, domain):
    form = ValidateAdminUserForm()
    by_button = admin_tracker('/inform{"admin_operation":"password-reset"}', entities=[("admin_operation",
                                                                                        "password-reset")],
                              requested_slot="admin_user_operation")
    assert slot_values((await run(form, by_button, domain))[1])["admin_user_operation"] == "password-reset"
    by_intent = admin_tracker("désactiver", "deactivate_user", requested_slot="admin_user_operation")
    assert slot_values((await run(form, by_intent, domain))[1])["admin_user_operation"] == "deactivate"
    dispatcher, events = await run(form, admin_tracker("bof", requested_slot="admin_user_operation"), domain)
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert slot_values(events)["admin_user_operation"] is None
    bad_button = admin_tracker('/inform{"admin_operation":"delete"}', entities=[("admin_operation", "delete")],
                               requested_slot="admin_user_operation")
    dispatcher, events = await run(form, bad_button, domain)
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert slot_values(events)["admin_user_operation"] is None


async def test_ask_operation_offers_the_four_operations(admin_tracker, domain):
    dispatcher, _ = await run(ActionAskAdminUserOperation(), admin_tracker(""), domain)
    assert responses(dispatcher) == ["utter_ask_admin_user_operation"]
    buttons = domain["responses"]["utter_ask_admin_user_operation"][1]["buttons"]
    assert [b["payload"] for b in buttons] == [
        '/inform{{"admin_operation":"%s"}}' % op for op in ("approve", "upgrade", "deactivate", "password-reset")]


@pytest.mark.parametrize("text,intent,entities_,expected", [
    ('/inform{"admin_decision":"reject"}', "inform", [("admin_decision", "reject")], "reject"),
    ("je refuse", "deny", [], "reject"),
    ("approuver", "approve_access_request", [], "approve"),
    ("oui", "affirm", [], "approve"),
    ("non", "deny", [], "reject"),
    ("accept it", "inform", [], "approve"),
])
async def test_decision_answers(admin_tracker, domain, text, intent, entities_, expected):
    tracker = admin_tracker(text, intent, entities=entities_, requested_slot="admin_user_decision",
                            slots={"admin_user_operation": "approve", "admin_user_target": target(PRIYA)})
    _, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert slot_values(events)["admin_user_decision"] == expected


async def test_decision_bad_answer_and_digression(admin_tracker, domain):
    slots = {"admin_user_operation": "approve", "admin_user_target": target(PRIYA)}
    dispatcher, events = await run(ValidateAdminUserForm(), admin_tracker(
        "peut-être", slots=slots, requested_slot="admin_user_decision"), domain)
    assert responses(dispatcher) == ["utter_admin_user_choose_decision"]
    assert slot_values(events)["admin_user_decision"] is None
    dispatcher, events = await run(ValidateAdminUserForm(), admin_tracker(
        "aide", "help", slots=slots, requested_slot="admin_user_decision"), domain)
    assert dispatcher.messages == [] and "admin_user_decision" not in slot_values(events)


async def test_confirmation_yes_no_and_anything_else(admin_tracker, domain):
    slots = {"admin_user_operation": "upgrade", "admin_user_target": target(SNTESTDM)}
    for intent, expected in (("affirm", True), ("deny", False)):
        _, events = await run(ValidateAdminUserForm(), admin_tracker("x", intent, slots=slots,
                                                                     requested_slot="admin_user_confirm"), domain)
        assert slot_values(events)["admin_user_confirm"] is expected
        assert slot_values(events)["requested_slot"] is None  # complete: the submit rule runs
    dispatcher, events = await run(ValidateAdminUserForm(), admin_tracker("peut-être", slots=slots,
                                                                          requested_slot="admin_user_confirm"), domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"]
    assert slot_values(events)["admin_user_confirm"] is None


# --- user form: the questions -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("operation,emails", [
    ("approve", ["priya.pending@canon-uk-demo.example"]),
    ("upgrade", ["sntestdemoportaldm@yopmail.com"]),
    ("deactivate", ["sntestdemoportaldm@yopmail.com"]),
    ("password-reset", ["sntestportaldemo@outlook.com", "sntestdemoportaldm@yopmail.com"]),
])
async def test_ask_target_offers_only_the_eligible_users(admin_tracker, domain, operation, emails):
    tracker = admin_tracker("", slots={"admin_user_operation": operation}, requested_slot="admin_user_target")
    dispatcher, events = await run(ActionAskAdminUserTarget(), tracker, domain)
    assert events == []
    (msg,) = dispatcher.messages
    assert msg["response"] == f"utter_ask_admin_user_target_{operation.replace('-', '_')}"
    assert [b["payload"] for b in msg["buttons"]] == [f'/inform{{"email":"{e}"}}' for e in emails]
    assert msg["buttons"][0]["title"].endswith(f"({emails[0]})")


@pytest.mark.parametrize("operation,response", [
    ("approve", "utter_admin_no_pending_requests"), ("upgrade", "utter_admin_no_user_to_upgrade"),
    ("deactivate", "utter_admin_no_user_to_deactivate"), ("password-reset", "utter_admin_no_user_to_reset"),
])
async def test_ask_target_with_nobody_eligible_ends_the_form(admin_tracker, admin_backend, domain, operation,
                                                             response):
    admin_backend.users = [dict(SNTEST, id=1)] if operation != "password-reset" else [dict(ALAN)]
    tracker = admin_tracker("", slots={"admin_user_operation": operation}, requested_slot="admin_user_target")
    dispatcher, events = await run(ActionAskAdminUserTarget(), tracker, domain)
    assert responses(dispatcher) == [response]
    assert ended(events)
    assert slot_values(events)["requested_slot"] is None


async def test_ask_target_backend_down_ends_the_form(admin_tracker, portal, domain):
    portal.fail("down", "GET", "/users")
    tracker = admin_tracker("", slots={"admin_user_operation": "upgrade"}, requested_slot="admin_user_target")
    dispatcher, events = await run(ActionAskAdminUserTarget(), tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert ended(events)


async def test_ask_decision_names_the_person(admin_tracker, domain):
    tracker = admin_tracker("", slots={"admin_user_operation": "approve", "admin_user_target": target(PRIYA)})
    dispatcher, _ = await run(ActionAskAdminUserDecision(), tracker, domain)
    assert dispatcher.messages[0]["name"] == "Priya Pending"
    assert dispatcher.messages[0]["email"] == "priya.pending@canon-uk-demo.example"


@pytest.mark.parametrize("operation,decision,response", [
    ("approve", "approve", "utter_ask_admin_user_confirm_approve"),
    ("approve", "reject", "utter_ask_admin_user_confirm_reject"),
    ("upgrade", None, "utter_ask_admin_user_confirm_upgrade"),
    ("deactivate", None, "utter_ask_admin_user_confirm_deactivate"),
    ("password-reset", None, "utter_ask_admin_user_confirm_password_reset"),
])
async def test_ask_confirm_summarises_the_change(admin_tracker, domain, operation, decision, response):
    tracker = admin_tracker("", slots={"admin_user_operation": operation, "admin_user_decision": decision,
                                       "admin_user_target": target(SNTESTDM)})
    dispatcher, _ = await run(ActionAskAdminUserConfirm(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == response
    assert (msg["name"], msg["email"]) == ("SNTestDM DemoPortal", "sntestdemoportaldm@yopmail.com")
    variants = domain["responses"][response]
    assert [v.get("condition") is None for v in variants] == [False, True]  # EN variant + French default
    assert {b["payload"] for v in variants for b in v["buttons"]} == {"/affirm", "/deny"}


# --- user form: submission --------------------------------------------------------------------------------------------
def submit_tracker(admin_tracker, operation: str, user: Dict[str, Any], decision: Optional[str] = None,
                   confirm: Optional[bool] = True, lang: str = "fr", **extra: Any):
    slots = {"admin_user_operation": operation, "admin_user_target": target(user), "admin_user_decision": decision,
             "admin_user_confirm": confirm, "submission_key": "key-7", **extra}
    return admin_tracker("oui", "affirm", form=None, lang=lang, slots=slots)


@pytest.mark.parametrize("operation,decision,user,path,response,status,role", [
    ("approve", "approve", PRIYA, "/users/4/approve", "utter_admin_user_done_approve", "active", "user"),
    ("approve", "reject", PRIYA, "/users/4/reject", "utter_admin_user_done_reject", "inactive", "user"),
    ("upgrade", None, SNTESTDM, "/users/2/upgrade", "utter_admin_user_done_upgrade", "active", "admin"),
    ("deactivate", None, SNTESTDM, "/users/2/deactivate", "utter_admin_user_done_deactivate", "inactive", "user"),
])
async def test_submit_writes_the_change(admin_tracker, admin_backend, portal, domain, operation, decision, user,
                                        path, response, status, role):
    dispatcher, events = await run(ActionAdminSubmitUserChange(),
                                   submit_tracker(admin_tracker, operation, user, decision), domain)
    (call,) = portal.calls("POST")
    assert call["path"] == path
    assert call["headers"]["idempotency-key"] == "key-7"
    assert call["headers"]["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert call["json"] is None
    msg = message(dispatcher, response)
    assert msg["name"] == user["full_name"]
    assert slot_values(events) == USER_RESET
    changed = admin_backend.user(user["id"])
    assert (changed["status"], changed["role"]) == (status, role)


async def test_submit_password_reset_sends_a_link_and_never_a_password(admin_tracker, admin_backend, portal, domain):
    dispatcher, events = await run(ActionAdminSubmitUserChange(),
                                   submit_tracker(admin_tracker, "password-reset", SNTESTDM, lang="en"), domain)
    (call,) = portal.calls("POST")
    assert call["path"] == "/users/2/password-reset" and call["headers"]["accept-language"] == "en"
    msg = message(dispatcher, "utter_admin_user_done_password_reset")
    assert msg["email"] == "sntestdemoportaldm@yopmail.com"
    assert admin_backend.sent_links == ["sntestdemoportaldm@yopmail.com"]
    assert "password=" not in texts_of(dispatcher).lower()
    assert slot_values(events) == USER_RESET


async def test_submit_declined_writes_nothing(admin_tracker, portal, domain):
    dispatcher, events = await run(ActionAdminSubmitUserChange(),
                                   submit_tracker(admin_tracker, "deactivate", SNTESTDM, confirm=False), domain)
    assert responses(dispatcher) == ["utter_admin_user_not_changed"]
    assert portal.calls("POST") == []
    assert slot_values(events) == USER_RESET


async def test_submit_after_the_form_ended_without_a_person_is_silent(admin_tracker, portal, domain):
    tracker = admin_tracker("", form=None, slots={"admin_user_operation": "approve"})
    dispatcher, events = await run(ActionAdminSubmitUserChange(), tracker, domain)
    assert dispatcher.messages == [] and portal.calls("POST") == []
    assert slot_values(events) == USER_RESET


async def test_submit_last_admin_refusal_is_shown_as_is(admin_tracker, portal, domain):
    reason = "C'est le dernier administrateur actif du compte : nommez-en un autre d'abord."
    portal.fail((409, {"code": "last_admin", "message": reason}), "POST", "/users/2/deactivate")
    dispatcher, events = await run(ActionAdminSubmitUserChange(),
                                   submit_tracker(admin_tracker, "deactivate", SNTESTDM), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == reason
    assert slot_values(events) == USER_RESET


async def test_submit_refused_by_the_backend_rules(admin_tracker, admin_backend, domain):
    # someone else approved Priya meanwhile
    admin_backend.user(4).update(status="active")
    dispatcher, _ = await run(ActionAdminSubmitUserChange(),
                              submit_tracker(admin_tracker, "approve", PRIYA, "approve", lang="en"), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == "This user has no pending access request."


async def test_submit_backend_down_keeps_the_answers_and_the_retry_uses_the_same_key(admin_tracker, admin_backend,
                                                                                     portal, domain):
    portal.fail("down", "POST", "/users/2/upgrade")
    dispatcher, events = await run(ActionAdminSubmitUserChange(),
                                   submit_tracker(admin_tracker, "upgrade", SNTESTDM), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events) == {"submission_key": "key-7", "pending_submit": True,
                                   "pending_action": "action_admin_submit_user_change"}
    portal.recover()
    retry = submit_tracker(admin_tracker, "upgrade", SNTESTDM, pending_submit=True,
                           pending_action="action_admin_submit_user_change")
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert [c["headers"]["idempotency-key"] for c in portal.calls("POST")] == ["key-7", "key-7"]
    assert responses(dispatcher) == ["utter_admin_user_done_upgrade"]
    assert admin_backend.user(2)["role"] == "admin"
    assert slot_values(events) == USER_RESET


async def test_cancel_forgets_the_user_form(admin_tracker, domain):
    history = [{"event": "active_loop", "name": USER_FORM}, {"event": "active_loop", "name": None}]
    tracker = admin_tracker("annuler", "cancel", form=None, history=history,
                            slots={"admin_user_operation": "upgrade", "admin_user_target": target(SNTESTDM)})
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert slot_values(events) == USER_RESET


@pytest.mark.parametrize("text, entities", [
    ("Please make SNTestDM an administrator, and deactivate Tom Baker while you're at it - he left last month.",
     [("person", "SNTestDM"), ("person", "Tom Baker")]),
    ("passe SNTestDM admin et désactive Tom Baker", [("person", "SNTestDM"), ("person", "Tom Baker")]),
])
async def test_two_operations_in_one_message_never_give_a_person_the_wrong_one(admin_tracker, domain, text,
                                                                                entities):
    tracker = admin_tracker(text, "deactivate_user", entities=entities)
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    slots = slot_values(events)
    assert not slots.get("admin_user_target")  # never SNTestDM, named for the other operation
    assert message(dispatcher, "utter_admin_user_not_found")["reference"] == "Tom Baker"


async def test_the_person_next_to_the_operation_is_taken(admin_tracker, domain):
    tracker = admin_tracker("désactive SNTestDM et passe Priya administrateur", "deactivate_user",
                            entities=[("person", "SNTestDM"), ("person", "Priya")])
    _, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert slot_values(events)["admin_user_target"] == target(SNTESTDM)


# --- invitation form --------------------------------------------------------------------------------------------------
def invite_tracker(admin_tracker, text: str, intent: str = "inform", asked: Optional[str] = None, **kwargs: Any):
    return admin_tracker(text, intent, form=INVITE_FORM, requested_slot=asked, **kwargs)


@pytest.mark.parametrize(("text", "email", "name"), [
    ("Tu peux ajouter Marc Lefèvre sur le portail ? son mail c'est marc point lefevre arobase canon-uk-demo point example",
     "marc.lefevre@canon-uk-demo.example", None),
    ("please add a new starter to the portal - Oliver Grant", None, "Oliver Grant"),
    ("nouvel utilisateur à inviter : Claire Martin.", None, "Claire Martin"),
])
async def test_invite_opening_said_aloud_or_with_the_name_at_the_end(admin_tracker, domain, text, email, name):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, text, "invite_user"),
                                   domain)
    slots = slot_values(events)
    assert slots.get("admin_invite_email") == email
    assert slots.get("admin_invite_name") == name


async def test_invite_opening_reuses_email_name_and_phone(admin_tracker, domain):
    tracker = invite_tracker(admin_tracker, "invite Karim Benali Karim.Benali@Acme.fr +33 6 12 34 56 78",
                             "invite_user", entities=[("person", "Karim Benali"), ("email", "Karim.Benali@Acme.fr")])
    dispatcher, events = await run(ValidateAdminInviteForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["admin_invite_email"] == "karim.benali@acme.fr"
    assert slots["admin_invite_name"] == "Karim Benali"
    assert slots["admin_invite_phone"] == "+33 6 12 34 56 78"
    assert dispatcher.messages == []


@pytest.mark.parametrize("text, person, name", [
    ("Ajoute Marc Lefebvre comme utilisateur, son mail c'est marc.lefebvre@acme.fr", "Marc", "Marc Lefebvre"),
    ("please add tomasz to the portal, tomasz.nowak@acme.fr, normal user", "tomasz", "Tomasz Nowak"),
    ("invite Anne-Sophie Durand (a.durand@acme.fr)", "Anne-Sophie", "Anne-Sophie Durand"),
    ("invite Karim, karim@acme.fr", "Karim", "Karim"),
])
async def test_invite_takes_the_whole_name_when_the_nlu_took_its_first_word(admin_tracker, domain, text, person,
                                                                             name):
    tracker = invite_tracker(admin_tracker, text, "invite_user", entities=[("person", person)])
    _, events = await run(ValidateAdminInviteForm(), tracker, domain)
    assert slot_values(events)["admin_invite_name"] == name


async def test_invite_opening_without_details_extracts_nothing(admin_tracker, portal, domain):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, "inviter un utilisateur",
                                                                              "invite_user"), domain)
    assert dispatcher.messages == [] and slot_values(events) == {}


async def test_invite_email_asked(admin_tracker, domain):
    form = ValidateAdminInviteForm()
    good = invite_tracker(admin_tracker, "c'est jean.dupont@acme.fr", asked="admin_invite_email",
                          entities=[("email", "jean.dupont@acme.fr")])
    assert slot_values((await run(form, good, domain))[1])["admin_invite_email"] == "jean.dupont@acme.fr"
    # no entity (e.g. the NLU missed it): the address is still found in the text
    typed = invite_tracker(admin_tracker, "JEAN.dupont@acme.fr", "nlu_fallback", asked="admin_invite_email")
    assert slot_values((await run(form, typed, domain))[1])["admin_invite_email"] == "jean.dupont@acme.fr"


@pytest.mark.parametrize("text", ["jean.dupont@acme", "jean dupont", "/inform"])
async def test_invite_email_invalid(admin_tracker, domain, text):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, text,
                                                                             asked="admin_invite_email"), domain)
    assert responses(dispatcher) == ["utter_admin_invite_email_invalid"]
    assert slot_values(events)["admin_invite_email"] is None


async def test_invite_email_of_an_existing_user_is_refused(admin_tracker, domain):
    tracker = invite_tracker(admin_tracker, "priya.pending@canon-uk-demo.example", asked="admin_invite_email",
                             entities=[("email", "priya.pending@canon-uk-demo.example")], lang="en")
    dispatcher, events = await run(ValidateAdminInviteForm(), tracker, domain)
    msg = message(dispatcher, "utter_admin_invite_already_user")
    assert (msg["name"], msg["status"]) == ("Priya Pending", "Pending")
    assert slot_values(events)["admin_invite_email"] is None


async def test_invite_email_accepted_when_the_users_cannot_be_checked(admin_tracker, portal, domain):
    portal.fail("down", "GET", "/users")
    tracker = invite_tracker(admin_tracker, "new@acme.fr", asked="admin_invite_email",
                             entities=[("email", "new@acme.fr")])
    dispatcher, events = await run(ValidateAdminInviteForm(), tracker, domain)
    assert dispatcher.messages == [] and slot_values(events)["admin_invite_email"] == "new@acme.fr"


async def test_invite_email_question_answered_by_help_extracts_nothing(admin_tracker, domain):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, "aide", "help",
                                                                             asked="admin_invite_email"), domain)
    assert dispatcher.messages == [] and slot_values(events) == {}


@pytest.mark.parametrize("text,intent,expected", [
    ("Jean Dupont", "inform", "Jean Dupont"),
    ("  marie   durand. ", "nlu_fallback", "marie durand"),
    ("Zoé O'Neil-Étienne", "inform", "Zoé O'Neil-Étienne"),
])
async def test_invite_name_asked(admin_tracker, domain, text, intent, expected):
    _, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, text, intent,
                                                                    asked="admin_invite_name"), domain)
    assert slot_values(events)["admin_invite_name"] == expected


@pytest.mark.parametrize("text", ["1234", "x", "/affirm", "jean@acme.fr"])
async def test_invite_name_invalid(admin_tracker, domain, text):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, text,
                                                                             asked="admin_invite_name"), domain)
    assert responses(dispatcher) == ["utter_admin_invite_name_invalid"]
    assert slot_values(events)["admin_invite_name"] is None


@pytest.mark.parametrize("intent", ["cancel", "help", "upgrade_user", "report_fault"])
async def test_invite_name_question_answered_by_a_digression_extracts_nothing(admin_tracker, domain, intent):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, "annuler", intent,
                                                                             asked="admin_invite_name"), domain)
    assert dispatcher.messages == [] and slot_values(events) == {}


@pytest.mark.parametrize("text,intent,expected", [
    ("+44 20 7946 0005", "inform", "+44 20 7946 0005"),
    ("son numéro c'est le 06 12 34 56 78", "inform", "06 12 34 56 78"),
    ("/deny", "deny", ""),
    ("non", "deny", ""),
    ("pas de téléphone", "inform", ""),
    ("no phone", "nlu_fallback", ""),
])
async def test_invite_phone_asked(admin_tracker, domain, text, intent, expected):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, text, intent,
                                                                             asked="admin_invite_phone"), domain)
    assert slot_values(events)["admin_invite_phone"] == expected
    assert dispatcher.messages == []


@pytest.mark.parametrize("text", ["Sorry, typo in the email: it's sarah.oconnor@example.com, double n.",
                                  "pardon, l'adresse c'est sarah.oconnor@example.com"])
async def test_invite_email_corrected_at_a_later_question(admin_tracker, domain, text):
    tracker = invite_tracker(admin_tracker, text, asked="admin_invite_phone", lang="en",
                             slots={"admin_invite_email": "sarah.oconor@example.com", "admin_invite_name": "Sarah O'Connor"})
    dispatcher, events = await run(ValidateAdminInviteForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["admin_invite_email"] == "sarah.oconnor@example.com"
    assert slots.get("admin_invite_phone") is None  # not "that is no phone number": the phone is asked again
    assert responses(dispatcher) == ["utter_admin_invite_email_changed"]


async def test_the_same_email_again_changes_nothing(admin_tracker, domain):
    tracker = invite_tracker(admin_tracker, "sarah.oconor@example.com", asked="admin_invite_phone",
                             slots={"admin_invite_email": "sarah.oconor@example.com"})
    dispatcher, events = await run(ValidateAdminInviteForm(), tracker, domain)
    assert "admin_invite_email" not in slot_values(events)
    assert "utter_admin_invite_email_changed" not in responses(dispatcher)


@pytest.mark.parametrize("text", ["abc", "12 34", "0612345678901234567"])
async def test_invite_phone_invalid(admin_tracker, domain, text):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, text,
                                                                             asked="admin_invite_phone"), domain)
    assert responses(dispatcher) == ["utter_admin_invite_phone_invalid"]
    assert slot_values(events)["admin_invite_phone"] is None


@pytest.mark.parametrize(("slot", "text"), [
    ("admin_invite_phone", "Also, what's Jane Facilities' phone number again?"),
    ("admin_invite_phone", "c'est quoi déjà le numéro du standard ?"),
    ("admin_invite_email", "attendez, elle a déjà un compte peut-être ?"),
])
async def test_a_question_instead_of_the_answer_is_left_to_the_rules(admin_tracker, domain, slot, text):
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, text, asked=slot), domain)
    assert dispatcher.messages == []  # no "that is not a phone number": the question is answered, then asked again
    assert slot not in slot_values(events) or slot_values(events)[slot] is None


async def test_invite_confirmation(admin_tracker, domain):
    slots = {"admin_invite_email": "a@acme.fr", "admin_invite_name": "Ann Lee", "admin_invite_phone": ""}
    _, events = await run(ValidateAdminInviteForm(), invite_tracker(admin_tracker, "oui", "affirm",
                                                                    asked="admin_invite_confirm", slots=slots), domain)
    assert slot_values(events)["admin_invite_confirm"] is True
    dispatcher, events = await run(ValidateAdminInviteForm(), invite_tracker(
        admin_tracker, "bof", asked="admin_invite_confirm", slots=slots), domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"]


@pytest.mark.parametrize("lang,phone,shown", [("fr", "", "—"), ("en", "+44 20 7946 0005", "+44 20 7946 0005")])
async def test_ask_invite_confirm_summary(admin_tracker, domain, lang, phone, shown):
    slots = {"admin_invite_email": "ann.lee@acme.fr", "admin_invite_name": "Ann Lee", "admin_invite_phone": phone}
    dispatcher, _ = await run(ActionAskAdminInviteConfirm(), invite_tracker(admin_tracker, "", lang=lang,
                                                                            slots=slots), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_admin_invite_confirm"
    assert (msg["name"], msg["email"], msg["phone"]) == ("Ann Lee", "ann.lee@acme.fr", shown)


def invite_submit_tracker(admin_tracker, confirm: Optional[bool] = True, **extra: Any):
    slots = {"admin_invite_email": "ann.lee@acme.fr", "admin_invite_name": "Ann Lee", "admin_invite_phone": "",
             "admin_invite_confirm": confirm, "submission_key": "inv-1", **extra}
    return admin_tracker("oui", "affirm", form=None, slots=slots)


async def test_submit_invite_sends_the_exact_payload(admin_tracker, admin_backend, portal, domain):
    dispatcher, events = await run(ActionAdminSubmitInvite(), invite_submit_tracker(admin_tracker), domain)
    (call,) = portal.calls("POST", "/users/invitations")
    assert call["json"] == {"email": "ann.lee@acme.fr", "full_name": "Ann Lee", "phone": ""}
    assert call["headers"]["idempotency-key"] == "inv-1"
    assert call["headers"]["authorization"] == f"Bearer {ADMIN_TOKEN}"
    msg = message(dispatcher, "utter_admin_invite_sent")
    assert (msg["name"], msg["email"]) == ("Ann Lee", "ann.lee@acme.fr")
    assert slot_values(events) == INVITE_RESET
    invited = admin_backend.users[-1]
    assert (invited["status"], invited["origin"]) == ("pending", "invitation")


async def test_submit_invite_declined_writes_nothing(admin_tracker, portal, domain):
    dispatcher, events = await run(ActionAdminSubmitInvite(), invite_submit_tracker(admin_tracker, confirm=False),
                                   domain)
    assert responses(dispatcher) == ["utter_admin_invite_not_sent"]
    assert portal.calls("POST") == [] and slot_values(events) == INVITE_RESET


async def test_submit_invite_email_taken_is_refused_with_the_backends_reason(admin_tracker, admin_backend, domain):
    admin_backend.users.append(managed_user(8, "ann.lee@acme.fr", "Ann Lee", "user", "active"))
    dispatcher, events = await run(ActionAdminSubmitInvite(), invite_submit_tracker(admin_tracker), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == \
        "Un utilisateur du portail a déjà cette adresse e-mail."
    assert slot_values(events) == INVITE_RESET


async def test_submit_invite_down_then_retry_invites_once(admin_tracker, admin_backend, portal, domain):
    portal.fail(503, "POST", "/users/invitations")
    dispatcher, events = await run(ActionAdminSubmitInvite(), invite_submit_tracker(admin_tracker), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events)["pending_action"] == "action_admin_submit_invite"
    portal.recover()
    retry = invite_submit_tracker(admin_tracker, pending_submit=True, pending_action="action_admin_submit_invite")
    await run(ActionRetrySubmit(), retry, domain)
    # the answer of the first success is lost: the same key again gives the same invitation
    dispatcher, _ = await run(ActionRetrySubmit(), retry, domain)
    assert responses(dispatcher) == ["utter_admin_invite_sent"]
    assert [c["headers"]["idempotency-key"] for c in portal.calls("POST")] == ["inv-1"] * 3
    assert sum(1 for u in admin_backend.users if u["email"] == "ann.lee@acme.fr") == 1


# --- the domain: every response in French (default) and English -------------------------------------------------------
async def test_every_admin_response_has_french_default_and_english(domain):
    names = [n for n in domain["responses"] if n.startswith(("utter_admin_", "utter_ask_admin_"))]
    assert len(names) > 30
    for name in names:
        variants = domain["responses"][name]
        english = [v for v in variants if v.get("condition") == [{"type": "slot", "name": "language", "value": "en"}]]
        default = [v for v in variants if not v.get("condition")]
        assert len(english) == 1 and len(default) == 1, name


async def test_every_response_the_actions_name_exists(domain):
    import re as _re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "actions" / "admin.py").read_text(encoding="utf-8")
    named = set(_re.findall(r'"(utter_[a-z_]+)"', source))
    actions = ("approve", "reject", "upgrade", "deactivate", "password_reset")
    dynamic = {f"utter_ask_admin_user_target_{s}" for s in actions if s != "reject"} | \
        {f"utter_ask_admin_user_confirm_{s}" for s in actions} | {f"utter_admin_user_done_{s}" for s in actions}
    missing = sorted(n for n in named | dynamic if n not in domain["responses"])
    assert missing == []


async def test_user_token_cannot_reach_the_users(make_tracker, admin_backend, portal, domain):
    """The backend stays the enforcer: with a standard user's token every write is refused."""
    tracker = make_tracker("yes", "affirm", active_loop=None, token=TOKEN, portal_user=USER_PROFILE_SEED,
                           slots={"admin_user_operation": "upgrade", "admin_user_target": target(SNTESTDM),
                                  "admin_user_confirm": True, "submission_key": "k"})
    dispatcher, _ = await run(ActionAdminSubmitUserChange(), tracker, domain)
    assert responses(dispatcher) == ["utter_portal_refused"]
    assert admin_backend.user(2)["role"] == "user"


async def test_form_started_after_a_switch_offer_takes_the_operation_of_the_request(make_tracker, admin_tracker,
                                                                                   domain):
    # "désactive Alan" inside a fault report was offered as a switch; "oui" left that form and opened this one
    switched = await accepted_switch(make_tracker, domain, "désactive Alan", "deactivate_user",
                                     token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, slots={"language": "fr"})
    _, events = await run(ValidateAdminUserForm(), admin_tracker("oui", "affirm", slots=switched), domain)
    slots = slot_values(events)
    assert slots["admin_user_operation"] == "deactivate"
    assert slots["requested_slot"] == "admin_user_target"
    assert slots["switch_request"] is None  # read by this opening turn: never by a later request


async def test_form_started_without_an_operation_asks_it(admin_tracker, domain):
    _, events = await run(ValidateAdminUserForm(), admin_tracker("oui", "affirm"), domain)
    slots = slot_values(events)
    assert slots.get("admin_user_operation") is None and slots["requested_slot"] == "admin_user_operation"


async def test_opening_approve_naming_an_unknown_person_does_not_pick_the_pending_one(admin_tracker, domain):
    tracker = admin_tracker("approuve la demande de Bob", "approve_access_request", entities=[("person", "Bob")])
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    assert message(dispatcher, "utter_admin_no_access_request_from")["reference"] == "Bob"  # and who is waiting
    assert slot_values(events).get("admin_user_target") is None


UPGRADE_SNTESTDM = {"admin_user_operation": "upgrade", "admin_user_target": target(SNTESTDM),
                    "requested_slot": "admin_user_confirm"}


@pytest.mark.parametrize("started", STARTS)
@pytest.mark.parametrize("text, intent, entities_, expected", [
    ("passer sntestdemoportaldm@yopmail.com admin", "upgrade_user", [("email", "sntestdemoportaldm@yopmail.com")],
     UPGRADE_SNTESTDM),
    ("passer SNTestDM DemoPortal administrateur", "upgrade_user", [], UPGRADE_SNTESTDM),  # a name, no entity
    ("approuve la demande d'accès de Priya", "approve_access_request", [("person", "Priya")],
     {"admin_user_operation": "approve", "admin_user_target": target(PRIYA), "admin_user_decision": "approve"}),
    ("refuser la demande d'accès de priya.pending@canon-uk-demo.example", "approve_access_request",
     [("email", "priya.pending@canon-uk-demo.example")],
     {"admin_user_operation": "approve", "admin_user_target": target(PRIYA), "admin_user_decision": "reject"}),
])
async def test_person_and_decision_named_in_the_request_are_taken_however_the_form_started(
        make_tracker, admin_backend, domain, started, text, intent, entities_, expected):
    tracker = await opening_tracker(make_tracker, domain, started, text, intent, USER_FORM, entities=entities_,
                                    token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, slots={"language": "fr"})
    dispatcher, events = await run(ValidateAdminUserForm(), tracker, domain)
    slots = slot_values(events)
    assert {name: slots.get(name) for name in expected} == expected  # nobody asked again
    assert dispatcher.messages == []
    assert_switch_request_forgotten(events, started)


@pytest.mark.parametrize("started", STARTS)
async def test_invitation_details_of_the_request_are_taken_however_the_form_started(make_tracker, admin_backend,
                                                                                   domain, started):
    tracker = await opening_tracker(make_tracker, domain, started,
                                    "invite Karim Benali Karim.Benali@Acme.fr +33 6 12 34 56 78", "invite_user",
                                    INVITE_FORM,
                                    entities=[("person", "Karim Benali"), ("email", "Karim.Benali@Acme.fr")],
                                    token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, slots={"language": "fr"})
    dispatcher, events = await run(ValidateAdminInviteForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["admin_invite_email"], slots["admin_invite_name"], slots["admin_invite_phone"]) == \
        ("karim.benali@acme.fr", "Karim Benali", "+33 6 12 34 56 78")
    assert dispatcher.messages == []
    assert_switch_request_forgotten(events, started)
