"""actions/session.py: identity, language, channel, transcript and the session start."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.session as session
from actions.backend_client import BackendRejected, BackendUnavailable, NotAuthenticated
from actions.session import ActionSessionStart
from actions_fakes import USER_PROFILE, initial_slots, responses

REAL_ASSISTANT_TOKEN = session.assistant_token  # conftest replaces it by the fake portal's fixed tokens


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
    metadata = {session.IDENTITY_KEY: dict(USER_PROFILE, language="en", full_name="Ada Lovelace")}
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
                                            session_tracker(domain, {session.IDENTITY_KEY: "admin"}), domain)
    assert [e[0] for e in from_profile(events, domain)] == ["session_started", "action"]


@pytest.mark.asyncio
async def test_session_start_unsupported_language_sets_only_the_name(domain):
    metadata = {session.IDENTITY_KEY: {"id": 9, "language": "de", "full_name": "Hans"}}
    events = await ActionSessionStart().run(CollectingDispatcher(), session_tracker(domain, metadata), domain)
    assert from_profile(events, domain) == [("session_started", None, None), ("slot", "user_name", "Hans"),
                               ("action", "action_listen", None)]


def test_language_slot_then_profile_then_french(make_tracker):
    assert session.language(make_tracker(slots={"language": "en"})) == "en"
    assert session.language(make_tracker(slots={"language": None}, portal_user={"id": 2, "language": "en"})) == "en"
    assert session.language(make_tracker(slots={"language": None}, portal_user={"id": 2, "language": "de"})) == "fr"
    assert session.language(make_tracker(slots={"language": None}, portal_user=None)) == "fr"


def test_portal_user_only_from_the_reserved_metadata_key(make_tracker):
    assert session.portal_user(make_tracker(portal_user=USER_PROFILE))["email"] == USER_PROFILE["email"]
    assert session.portal_user(make_tracker(portal_user=None)) is None
    tracker = make_tracker(portal_user=None)
    tracker.latest_message["metadata"]["portal_user"] = USER_PROFILE  # the old key, or any other, means nothing
    assert session.portal_user(tracker) is None
    tracker.latest_message["metadata"][session.IDENTITY_KEY] = {"id": "2", "role": "admin"}  # not an int id
    assert session.portal_user(tracker) is None


def test_backend_uses_the_minted_token_and_language(make_tracker, monkeypatch):
    monkeypatch.setenv("BACKEND_URL", "http://backend:8000/")
    client = session.backend(make_tracker(token="abc", slots={"language": "en"}))
    assert client.headers == {"Authorization": "Bearer abc", "Accept-Language": "en", "X-Display-Language": "en"}
    assert client.base_url == "http://backend:8000"
    assert session.backend(make_tracker(portal_user=None)).headers["Authorization"] == "Bearer "


def test_assistant_token_is_short_lived_for_the_backend_audience(monkeypatch, tmp_path):
    jwt = pytest.importorskip("jwt")
    key_file = tmp_path / "assistant.key"
    key_file.write_text("k" * 48 + "\n")
    monkeypatch.delenv("ASSISTANT_KEY", raising=False)
    monkeypatch.setenv("ASSISTANT_KEY_FILE", str(key_file))
    monkeypatch.setattr(session, "_key_cache", {})
    real = REAL_ASSISTANT_TOKEN
    token = real(dict(USER_PROFILE, token_version=3))
    claims = jwt.decode(token, "k" * 48, algorithms=["HS256"], audience="portal-assistant")
    assert claims["sub"] == str(USER_PROFILE["id"]) and claims["ver"] == 3
    assert 0 < claims["exp"] - claims["iat"] <= 60
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another key", algorithms=["HS256"], audience="portal-assistant")
    assert real(None) == ""


def test_assistant_token_without_a_key_is_empty(monkeypatch, tmp_path):
    monkeypatch.delenv("ASSISTANT_KEY", raising=False)
    monkeypatch.setenv("ASSISTANT_KEY_FILE", str(tmp_path / "missing.key"))
    monkeypatch.setattr(session, "_key_cache", {})
    assert REAL_ASSISTANT_TOKEN(USER_PROFILE) == ""


def test_channel_code_is_the_one_the_adapter_declared(make_tracker):
    assert session.channel_code(make_tracker(input_channel="socketio")) == "web"
    assert session.channel_code(make_tracker(input_channel="rest")) == "rest"
    tracker = make_tracker(portal_user=dict(USER_PROFILE))
    tracker.latest_message["metadata"][session.IDENTITY_KEY]["channel"] = "teams"
    assert session.channel_code(tracker) == "teams"
    assert session.channel_code(make_tracker(portal_user=None)) == "api"


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
    metadata = {session.IDENTITY_KEY: dict(USER_PROFILE, language="en")}
    tracker = session_tracker(domain, metadata)
    tracker.slots.update(pending_submit=True, submission_key="req-7", fault_category="paper_jam")
    events = compact(await ActionSessionStart().run(CollectingDispatcher(), tracker, domain))
    assert ("slot", "pending_submit", True) in events
    assert ("slot", "submission_key", "req-7") in events
    assert ("slot", "fault_category", "paper_jam") in events
    assert not any(e[1] == "session_started_metadata" for e in events)


def test_an_unverified_caller_gets_a_knowledge_only_token(monkeypatch):
    """The phone channel delivers an unverified caller's messages with an identity without user id: the actions
    search the knowledge base with a token whose subject is no user (the backend refuses it anything else)."""
    import jwt

    monkeypatch.setenv("ASSISTANT_KEY", "actions-tests-assistant-key-0123456789abcdef")
    session._key_cache.clear()
    caller = {"anonymous": True, "id": None, "channel": "phone", "language": "en"}
    tracker = Tracker("call-1", {"language": "en"}, {"metadata": {session.IDENTITY_KEY: caller}}, [], False, None,
                      {}, None)
    assert session.portal_user(tracker) is None and session.anonymous_caller(tracker) == caller
    client = session.backend(tracker)
    claims = jwt.decode(client.headers["Authorization"][len("Bearer "):], "actions-tests-assistant-key-0123456789abcdef", algorithms=["HS256"],
                        audience="portal-assistant")
    assert claims["sub"] == "anonymous" and "ver" not in claims
    assert session.channel_code(tracker) == "phone"
    # a forged "anonymous" beside a user id is a user's identity, never the anonymous token
    forged = Tracker("call-2", {}, {"metadata": {session.IDENTITY_KEY: {**caller, "id": 7}}}, [], False, None, {},
                     None)
    assert session.anonymous_caller(forged) is None
    session._key_cache.clear()
