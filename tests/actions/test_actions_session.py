"""actions/session.py: identity, language, channel, transcript and the session start."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.session as session
from actions.backend_client import BackendRejected, BackendUnavailable, NotAuthenticated
from actions.session import ActionSessionStart
from actions_fakes import USER_PROFILE, initial_slots, responses


def session_tracker(domain, metadata) -> Tracker:
    slots = initial_slots(domain)
    slots["session_started_metadata"] = metadata
    events = [{"event": "slot", "name": "session_started_metadata", "value": metadata}] if metadata else []
    return Tracker("conv-1", slots, {}, events, False, None, {}, None)


def compact(events):
    return [(e["event"], e.get("name"), e.get("value")) for e in events]


def from_profile(events, domain):
    """The events beyond the carried-over slots (which repeat the tracker's current values)."""
    carried = {(name, value) for name, value in initial_slots(domain).items() if value is not None}
    return [e for e in compact(events) if e[0] != "slot" or (e[1], e[2]) not in carried]


@pytest.mark.asyncio
async def test_session_start_from_the_verified_profile(domain):
    metadata = {"token": "t", "portal_user": dict(USER_PROFILE, language="en", full_name="Ada Lovelace")}
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart().run(dispatcher, session_tracker(domain, metadata), domain)
    assert from_profile(events, domain) == [
        ("session_started", None, None),
        ("slot", "language", "en"),
        ("slot", "user_name", "Ada Lovelace"),
        ("action", "action_listen", None),
    ]
    assert dispatcher.messages == []


@pytest.mark.asyncio
async def test_session_start_without_metadata(domain):
    events = await ActionSessionStart().run(CollectingDispatcher(), session_tracker(domain, None), domain)
    assert from_profile(events, domain) == [("session_started", None, None), ("action", "action_listen", None)]


@pytest.mark.asyncio
async def test_session_start_with_a_forged_non_dict_user(domain):
    events = await ActionSessionStart().run(CollectingDispatcher(),
                                            session_tracker(domain, {"portal_user": "admin"}), domain)
    assert [e[0] for e in from_profile(events, domain)] == ["session_started", "action"]


@pytest.mark.asyncio
async def test_session_start_unsupported_language_sets_only_the_name(domain):
    metadata = {"portal_user": {"language": "de", "full_name": "Hans"}}
    events = await ActionSessionStart().run(CollectingDispatcher(), session_tracker(domain, metadata), domain)
    assert from_profile(events, domain) == [("session_started", None, None), ("slot", "user_name", "Hans"),
                               ("action", "action_listen", None)]


def test_language_slot_then_profile_then_french(make_tracker):
    assert session.language(make_tracker(slots={"language": "en"})) == "en"
    assert session.language(make_tracker(slots={"language": None}, portal_user={"language": "en"})) == "en"
    assert session.language(make_tracker(slots={"language": None}, portal_user={"language": "de"})) == "fr"
    assert session.language(make_tracker(slots={"language": None}, portal_user=None)) == "fr"


def test_portal_user_only_from_metadata_dict(make_tracker):
    assert session.portal_user(make_tracker(portal_user=USER_PROFILE)) == USER_PROFILE
    assert session.portal_user(make_tracker(portal_user=None)) is None


def test_backend_uses_the_message_token_and_language(make_tracker, monkeypatch):
    monkeypatch.setenv("BACKEND_URL", "http://backend:8000/")
    client = session.backend(make_tracker(token="abc", slots={"language": "en"}))
    assert client.headers == {"Authorization": "Bearer abc", "Accept-Language": "en", "X-Display-Language": "en"}
    assert client.base_url == "http://backend:8000"
    assert session.backend(make_tracker(token=None)).headers["Authorization"] == "Bearer "


def test_channel_code_from_the_latest_user_event(make_tracker):
    assert session.channel_code(make_tracker(input_channel="socketio")) == "web"
    assert session.channel_code(make_tracker(input_channel="rest")) == "rest"
    assert session.channel_code(make_tracker(input_channel="botframework")) == "teams"
    assert session.channel_code(make_tracker(input_channel=None)) == "api"
    # the latest user event counts, not an earlier one
    tracker = make_tracker(input_channel="rest", history=[{"event": "user", "text": "a", "input_channel": "socketio"}])
    assert session.channel_code(tracker) == "rest"


def test_transcript_keeps_user_and_bot_texts_in_order(make_tracker):
    history = [{"event": "user", "text": "bonjour"}, {"event": "bot", "text": "Bonjour !"},
               {"event": "bot", "text": None}, {"event": "slot", "name": "x", "value": 1},
               {"event": "user", "text": "bourrage"}]
    text = session.transcript(make_tracker("oui", history=history, active_loop=None))
    assert text.splitlines() == ["user: bonjour", "bot: Bonjour !", "user: bourrage", "user: oui"]


def test_transcript_keeps_the_whole_conversation(make_tracker):
    history = [{"event": "user", "text": f"m{i}"} for i in range(100)]
    lines = session.transcript(make_tracker("last", history=history, active_loop=None)).splitlines()
    assert len(lines) == 101 and lines[0] == "user: m0" and lines[-1] == "user: last"


def test_transcript_beyond_the_backend_limit_keeps_the_end_from_a_line_start(make_tracker):
    history = [{"event": "user", "text": f"message {i:04d} " + "x" * 90} for i in range(400)]
    text = session.transcript(make_tracker("last", history=history, active_loop=None))
    assert 19_900 < len(text) <= session.MAX_TRANSCRIPT_CHARS == 20_000
    assert text.startswith("user: message ") and text.endswith("user: last")


@pytest.mark.parametrize("error, expected", [
    (NotAuthenticated(), "utter_login_required"),
    (BackendRejected(422, "bad", "Refusé."), "utter_portal_refused"),
    (BackendUnavailable("x"), "utter_backend_unavailable"),
])
def test_report_backend_error(error, expected):
    dispatcher = CollectingDispatcher()
    session.report_backend_error(dispatcher, error)
    assert responses(dispatcher) == [expected]
    if expected == "utter_portal_refused":
        assert dispatcher.messages[0]["reason"] == "Refusé."


@pytest.mark.asyncio
async def test_session_start_carries_a_pending_submission_over(domain):
    metadata = {"token": "t", "portal_user": dict(USER_PROFILE, language="en")}
    tracker = session_tracker(domain, metadata)
    tracker.slots.update(pending_submit=True, submission_key="req-7", fault_category="paper_jam")
    events = compact(await ActionSessionStart().run(CollectingDispatcher(), tracker, domain))
    assert ("slot", "pending_submit", True) in events
    assert ("slot", "submission_key", "req-7") in events
    assert ("slot", "fault_category", "paper_jam") in events
    assert not any(e[1] == "session_started_metadata" for e in events)
