"""actions/teams.py: unlinking Microsoft Teams in the chat. In Teams a linked user is asked at once (they talk
through the link), an unlinked one is told there is nothing to unlink; from the web chat or the phone the link is
looked up first; the link is removed only on "yes" (DELETE /teams/links/me with the assistant token), and what
went wrong is said."""
from __future__ import annotations

from typing import Any, Dict, Set

import httpx
import pytest

import actions.session as session
from actions.teams import ActionAskUnlinkTeams, ActionUnlinkTeams
from actions_fakes import FakePortal, TOKEN, USER_PROFILE, responses, run, slot_values

pytestmark = pytest.mark.asyncio


class TeamsLinks:
    """GET/DELETE /teams/links/me as backend/api/routes/teams.py answers them, for the fake portal's user."""

    def __init__(self, portal: FakePortal) -> None:
        self.linked: Set[str] = {TOKEN}
        portal.route("GET", r"/teams/links/me", self._read)
        portal.route("DELETE", r"/teams/links/me", self._delete)

    @staticmethod
    def _token(request: httpx.Request) -> str:
        return request.headers["authorization"].split(" ", 1)[1]

    def _read(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self._token(request) not in self.linked:
            return httpx.Response(404, json={"code": "not_found", "message": "Teams link not found."})
        return httpx.Response(200, json={"tenant_id": "tenant-1", "created_at": "2026-12-07T10:00:00Z"})

    def _delete(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self._token(request) not in self.linked:
            return httpx.Response(404, json={"code": "not_found", "message": "Teams link not found."})
        self.linked.discard(self._token(request))
        return httpx.Response(204)


@pytest.fixture
def links(portal: FakePortal) -> TeamsLinks:
    return TeamsLinks(portal)


def says(make_tracker, text: str, intent: str, channel: str = "teams", lang: str = "en"):
    return make_tracker(text, intent=intent, active_loop=None, input_channel=channel, slots={"language": lang})


def unlinked_teams_user(make_tracker, text: str, intent: str, channel: str = "teams"):
    """A message as the Teams (or phone) channel delivers it for someone it could not tie to a portal user."""
    tracker = make_tracker(text, intent=intent, active_loop=None, portal_user=None, slots={"language": "fr"})
    tracker.latest_message["metadata"] = {session.IDENTITY_KEY: {
        "anonymous": True, "id": None, "language": "fr", "channel": channel, "channel_user": f"{channel}:unlinked"}}
    return tracker


def variation(domain: Dict[str, Any], name: str, lang: str) -> Dict[str, Any]:
    fr, en = domain["responses"][name][1], domain["responses"][name][0]
    return en if lang == "en" else fr


async def test_in_teams_a_linked_user_is_asked_at_once_then_yes_unlinks(links, portal, make_tracker, domain):
    dispatcher, events = await run(ActionAskUnlinkTeams(), says(make_tracker, "unlink my Teams", "unlink_teams"),
                                   domain)
    assert responses(dispatcher) == ["utter_ask_unlink_teams"] and slot_values(events) == {"teams_unlink_asked": True}
    assert portal.calls() == []  # in Teams the user talks through the link: nothing to look up
    dispatcher, events = await run(ActionUnlinkTeams(), says(make_tracker, "/affirm", "affirm"), domain)
    assert responses(dispatcher) == ["utter_teams_unlinked"] and slot_values(events) == {"teams_unlink_asked": None}
    (call,) = portal.calls("DELETE", "/teams/links/me")
    assert call["headers"]["authorization"] == f"Bearer {TOKEN}" and links.linked == set()


async def test_from_the_web_chat_the_link_is_looked_up_first(links, portal, make_tracker, domain):
    dispatcher, events = await run(ActionAskUnlinkTeams(), says(make_tracker, "délie Teams", "unlink_teams",
                                                                channel="socketio", lang="fr"), domain)
    assert responses(dispatcher) == ["utter_ask_unlink_teams"] and slot_values(events) == {"teams_unlink_asked": True}
    assert len(portal.calls("GET", "/teams/links/me")) == 1 and portal.calls("DELETE") == []
    await run(ActionUnlinkTeams(), says(make_tracker, "oui", "affirm", channel="socketio", lang="fr"), domain)
    # nothing linked any more: said at once, no question
    dispatcher, events = await run(ActionAskUnlinkTeams(), says(make_tracker, "délie Teams", "unlink_teams",
                                                                channel="socketio", lang="fr"), domain)
    assert responses(dispatcher) == ["utter_teams_none_linked"] and slot_values(events) == {"teams_unlink_asked": False}


async def test_from_the_phone_a_verified_caller_without_a_link_is_told_so(links, portal, make_tracker, domain):
    links.linked.clear()
    dispatcher, events = await run(ActionAskUnlinkTeams(), says(make_tracker, "unlink Teams", "unlink_teams",
                                                                channel="voice"), domain)
    assert responses(dispatcher) == ["utter_teams_none_linked"] and slot_values(events) == {"teams_unlink_asked": False}


async def test_an_unlinked_teams_user_has_nothing_to_unlink_and_nothing_is_asked_of_the_backend(
        links, portal, make_tracker, domain):
    for action in (ActionAskUnlinkTeams(), ActionUnlinkTeams()):
        dispatcher, events = await run(action, unlinked_teams_user(make_tracker, "délie mon Teams", "unlink_teams"),
                                       domain)
        assert responses(dispatcher) == ["utter_teams_not_linked_here"]
        assert slot_values(events)["teams_unlink_asked"] in (False, None)
    assert portal.calls() == [] and links.linked == {TOKEN}


async def test_an_unverified_caller_is_asked_to_identify(links, portal, make_tracker, domain):
    tracker = unlinked_teams_user(make_tracker, "unlink my Teams", "unlink_teams", channel="phone")
    dispatcher, events = await run(ActionAskUnlinkTeams(), tracker, domain)
    assert responses(dispatcher) == ["utter_login_required"] and slot_values(events) == {"teams_unlink_asked": False}
    assert portal.calls() == []


async def test_unlinked_meanwhile_is_said_as_nothing_linked(links, portal, make_tracker, domain):
    links.linked.clear()  # e.g. by an administrator between the question and the "yes"
    dispatcher, _ = await run(ActionUnlinkTeams(), says(make_tracker, "yes", "affirm"), domain)
    assert responses(dispatcher) == ["utter_teams_none_linked"]


@pytest.mark.parametrize("failure, response", [("down", "utter_teams_not_unlinked"), (503, "utter_teams_not_unlinked"),
                                               (401, "utter_login_required")])
async def test_unlinking_when_the_portal_fails_says_so(links, portal, make_tracker, domain, failure, response):
    portal.fail(failure, "DELETE", "/teams/links/me")
    dispatcher, _ = await run(ActionUnlinkTeams(), says(make_tracker, "oui", "affirm", lang="fr"), domain)
    assert responses(dispatcher) == [response] and links.linked == {TOKEN}


@pytest.mark.parametrize("failure, response", [("down", "utter_backend_unavailable"),
                                               (401, "utter_login_required")])
async def test_the_look_up_failing_asks_nothing(links, portal, make_tracker, domain, failure, response):
    portal.fail(failure, "GET", "/teams/links/me")
    dispatcher, events = await run(ActionAskUnlinkTeams(), says(make_tracker, "unlink Teams", "unlink_teams",
                                                                channel="rest"), domain)
    assert responses(dispatcher) == [response] and slot_values(events) == {"teams_unlink_asked": False}


async def test_the_question_has_yes_and_no_buttons_and_every_answer_both_languages(domain):
    for lang, yes, no in (("en", "Yes, unlink Teams", "No, keep it"), ("fr", "Oui, délier Teams", "Non, le garder")):
        buttons = variation(domain, "utter_ask_unlink_teams", lang)["buttons"]
        assert [(b["title"], b["payload"]) for b in buttons] == [(yes, "/affirm"), (no, "/deny")]
    for name in ("utter_ask_unlink_teams", "utter_teams_unlinked", "utter_teams_link_kept", "utter_teams_none_linked",
                 "utter_teams_not_linked_here", "utter_teams_not_unlinked"):
        en, fr = domain["responses"][name]
        assert en["condition"] == [{"type": "slot", "name": "language", "value": "en"}] and "condition" not in fr
        assert "Teams" in en["text"] and "Teams" in fr["text"]
