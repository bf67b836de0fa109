"""actions/roles.py: action_check_role before every guarded conversation (the seed's "Rôles utilisateurs"
table as GET /users/me/permissions answers it), the polite refusal naming the account's administrators, and
the helpers require_permission / restricted_categories / my_permissions."""
from __future__ import annotations

from typing import Any, Dict

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.roles import (
    ROLE_GUARDS, ActionCheckRole, administrators_text, my_permissions, require_permission, restricted_categories,
)
from actions_fakes import TOKEN, FakePortal, responses, slot_values
from fakes_admin import ADMIN_PROFILE, ADMIN_TOKEN, USER_PROFILE_SEED, USER_RESTRICTED, AdminBackend

pytestmark = pytest.mark.asyncio

ADMIN_ONLY = sorted(i for i, g in ROLE_GUARDS.items() if "any" in g)
CATEGORY_GUARDED = sorted(i for i, g in ROLE_GUARDS.items() if "category" in g)
ADMINS_TEXT = "SNTest DemoPortal (sntestportaldemo@outlook.com)"


@pytest.fixture
def roles_backend(portal: FakePortal) -> AdminBackend:
    return AdminBackend(portal)


@pytest.fixture
def as_user(make_tracker, roles_backend):
    def make(intent: str, lang: str = "en", **kwargs: Any):
        return make_tracker("…", intent=intent, active_loop=None, token=TOKEN, portal_user=USER_PROFILE_SEED,
                            slots={"language": lang}, **kwargs)

    return make


@pytest.fixture
def as_admin(make_tracker, roles_backend):
    def make(intent: str, lang: str = "fr", **kwargs: Any):
        return make_tracker("…", intent=intent, active_loop=None, token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE,
                            slots={"language": lang}, **kwargs)

    return make


async def check(tracker: Any, domain: Dict[str, Any]) -> tuple:
    dispatcher = CollectingDispatcher()
    events = await ActionCheckRole().run(dispatcher, tracker, domain)
    return dispatcher, events


async def test_the_guards_cover_the_admin_conversations_and_the_restricted_requests():
    assert {"list_users", "invite_user", "approve_access_request", "upgrade_user", "deactivate_user",
            "reset_user_password", "manage_asset_contacts"} <= set(ADMIN_ONLY)
    assert CATEGORY_GUARDED == sorted(USER_RESTRICTED)
    for guard in ROLE_GUARDS.values():
        what_fr, what_en = guard["what"]
        assert what_fr and what_en and what_fr != what_en


@pytest.mark.parametrize("intent", ADMIN_ONLY + CATEGORY_GUARDED)
async def test_an_administrator_may_do_everything(as_admin, domain, portal, intent):
    dispatcher, events = await check(as_admin(intent), domain)
    assert slot_values(events) == {"role_allowed": True}
    assert dispatcher.messages == []
    (call,) = portal.calls("GET", "/users/me/permissions")
    assert call["headers"]["authorization"] == f"Bearer {ADMIN_TOKEN}"


@pytest.mark.parametrize("intent", ADMIN_ONLY)
async def test_a_user_is_refused_politely_with_the_administrators_named(as_user, domain, intent):
    dispatcher, events = await check(as_user(intent), domain)
    assert slot_values(events) == {"role_allowed": False}
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_admin_only"
    assert msg["what"] == ROLE_GUARDS[intent]["what"][1]  # English profile
    assert msg["administrators"] == ADMINS_TEXT


@pytest.mark.parametrize("intent", CATEGORY_GUARDED)
async def test_a_user_cannot_submit_the_restricted_request_categories(as_user, domain, intent):
    dispatcher, events = await check(as_user(intent, lang="fr"), domain)
    assert slot_values(events) == {"role_allowed": False}
    (msg,) = dispatcher.messages
    assert msg["what"] == ROLE_GUARDS[intent]["what"][0]  # French
    assert msg["administrators"] == ADMINS_TEXT


@pytest.mark.parametrize("intent", ["report_fault", "list_cases", "request_change", "general_enquiry", "greet", ""])
async def test_an_unguarded_intent_is_allowed_without_asking_the_portal(as_user, domain, portal, intent):
    dispatcher, events = await check(as_user(intent or None), domain)
    assert slot_values(events) == {"role_allowed": True}
    assert dispatcher.messages == [] and portal.requests == []


async def test_the_refusal_follows_the_conversation_language(as_user, domain):
    french, _ = await check(as_user("invite_user", lang="fr"), domain)
    english, _ = await check(as_user("invite_user", lang="en"), domain)
    assert french.messages[0]["what"] == "inviter un utilisateur"
    assert english.messages[0]["what"] == "invite a user"
    # the response itself exists in both languages
    variants = domain["responses"]["utter_admin_only"]
    assert any(v.get("condition") for v in variants) and any(not v.get("condition") for v in variants)


async def test_several_administrators_are_all_named(as_user, roles_backend, domain):
    roles_backend.administrators = [{"email": "a@x.com", "full_name": "Ann A"}, {"email": "b@x.com",
                                                                                "full_name": "Bob B"}]
    dispatcher, _ = await check(as_user("deactivate_user"), domain)
    assert dispatcher.messages[0]["administrators"] == "Ann A (a@x.com), Bob B (b@x.com)"


async def test_administrators_unknown_still_refuses(as_user, portal, domain):
    portal.fail("down", "GET", "/users/me/administrators")
    dispatcher, events = await check(as_user("upgrade_user"), domain)
    assert slot_values(events) == {"role_allowed": False}
    assert dispatcher.messages[0]["administrators"] == "—"


async def test_portal_down_refuses_and_says_why(as_admin, portal, domain):
    portal.fail("down", "GET", "/users/me/permissions")
    dispatcher, events = await check(as_admin("list_users"), domain)
    assert slot_values(events) == {"role_allowed": False}
    assert responses(dispatcher) == ["utter_backend_unavailable"]


async def test_expired_session_refuses_and_asks_to_log_in(make_tracker, roles_backend, domain):
    tracker = make_tracker("…", intent="invite_user", active_loop=None, token="expired", portal_user=ADMIN_PROFILE)
    dispatcher, events = await check(tracker, domain)
    assert slot_values(events) == {"role_allowed": False}
    assert responses(dispatcher) == ["utter_login_required"]


async def test_helpers(as_user, as_admin, portal, domain):
    mine = await my_permissions(as_user("list_users"))
    assert mine["role"] == "user" and "invite_users" not in mine["permissions"]
    assert await restricted_categories(as_user("x")) == set(USER_RESTRICTED)
    assert await restricted_categories(as_admin("x")) == set()
    assert await administrators_text(as_user("x")) == ADMINS_TEXT

    dispatcher = CollectingDispatcher()
    assert await require_permission(dispatcher, as_admin("x"), "reset_passwords", "réinitialiser", "reset") is True
    assert dispatcher.messages == []
    assert await require_permission(dispatcher, as_user("x"), "reset_passwords", "réinitialiser", "reset") is False
    assert dispatcher.messages[0]["what"] == "reset"

    portal.fail("down", "GET", "/users/me/permissions")
    dispatcher = CollectingDispatcher()
    assert await my_permissions(as_user("x"), dispatcher) is None
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert await restricted_categories(as_user("x")) == set()  # unknown: the backend still enforces it
