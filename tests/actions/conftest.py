"""Fixtures for the action-server tests (helpers and the fake portal live in actions_fakes.py).

`portal` plugs a `FakePortal` in as the transport of every `BackendClient`, so every action talks to it with the tracker's own token and language; `make_tracker` builds trackers as the action server
receives them during a form turn.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import pytest
import yaml
from rasa_sdk import Tracker

import actions.backend_client as backend_client
import actions.session as session
from actions_fakes import BASE_URL, FORM, TOKEN, USER_PROFILE, FakePortal, initial_slots, load_domain


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> FakePortal:
    fake = FakePortal()
    backend_client._taxonomy_cache.clear()

    # every BackendClient the actions create talks to the fake, with the tracker's own token and language
    monkeypatch.setattr(backend_client, "default_transport", lambda: fake.transport)
    monkeypatch.setenv("BACKEND_URL", BASE_URL)
    monkeypatch.delenv("BACKEND_PUBLIC_URL", raising=False)
    yield fake
    backend_client._taxonomy_cache.clear()


TEST_TOKEN_KEY = "_test_token"  # which of the fake portal's tokens stands for the identity's minted token
CHANNEL_CODES = {"rest": "rest", "socketio": "web", "teams": "teams", "voice": "phone"}  # as credentials.yml declares


@pytest.fixture(autouse=True)
def _fake_assistant_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake portal knows fixed tokens per user; the real minting is tested in test_actions_session.py."""
    monkeypatch.setattr(session, "assistant_token", lambda identity: (identity or {}).get(TEST_TOKEN_KEY, ""))


@pytest.fixture(autouse=True)
def _no_parse_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """No message is read part by part (actions/clauses.py) unless a test plugs a fake parse service in."""
    monkeypatch.delenv("NLU_KEY", raising=False)
    monkeypatch.delenv("NLU_KEY_FILE", raising=False)


@pytest.fixture(autouse=True)
def _clear_taxonomy_cache() -> None:
    backend_client._taxonomy_cache.clear()
    yield
    backend_client._taxonomy_cache.clear()


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return load_domain()


@pytest.fixture
def make_tracker(domain: Dict[str, Any]) -> Callable[..., Tracker]:
    """A tracker as the action server receives it.

    `candidates` are slot values Rasa's form extracted itself (e.g. the from_text description): as in Rasa's
    temporary validation tracker they come as SlotSet events right after the form's ActionExecuted.
    """

    def make(
        text: str = "",
        intent: Optional[str] = "inform",
        entities: Optional[Iterable[Tuple[str, str]]] = None,
        slots: Optional[Dict[str, Any]] = None,
        requested_slot: Optional[str] = None,
        token: Optional[str] = TOKEN,
        portal_user: Optional[Dict[str, Any]] = USER_PROFILE,
        input_channel: Optional[str] = "rest",
        history: Optional[List[Dict[str, Any]]] = None,
        candidates: Optional[Dict[str, Any]] = None,
        active_loop: Optional[str] = FORM,
    ) -> Tracker:
        metadata: Dict[str, Any] = {}
        if portal_user is not None:  # the verified identity, as the channel layer sets it (no token in it)
            metadata[session.IDENTITY_KEY] = dict(portal_user, channel=CHANNEL_CODES.get(input_channel or "", "api"))
            if token is not None:
                metadata[session.IDENTITY_KEY][TEST_TOKEN_KEY] = token
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0} if intent else {},
            "entities": [{"entity": name, "value": value, "start": 0, "end": 0} for name, value in entities or []],
            "metadata": metadata,
        }
        values = initial_slots(domain)
        values.update(slots or {})
        values["requested_slot"] = requested_slot
        events: List[Dict[str, Any]] = [{"event": "action", "name": "action_session_start"},
                                        {"event": "session_started"},
                                        {"event": "action", "name": "action_listen"}]
        events += list(history or [])
        events.append({"event": "user", "text": text, "parse_data": latest, "input_channel": input_channel,
                       "metadata": metadata})
        if active_loop:
            events.append({"event": "slot", "name": "requested_slot", "value": requested_slot})
            events.append({"event": "action", "name": active_loop})
        for name, value in (candidates or {}).items():
            values[name] = value
            events.append({"event": "slot", "name": name, "value": value})
        return Tracker("conv-1", values, latest, events, False, None,
                       {"name": active_loop} if active_loop else {}, "action_listen")

    return make
