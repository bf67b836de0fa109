"""A form without a key yet gets one derived from the conversation and the form's opening (actions/submission.py
form_key): a submission replayed after its turn could not be stored sends the same Idempotency-Key."""
from __future__ import annotations

from rasa_sdk import Tracker

from actions.submission import submission_key


def tracker(sender: str, opened_at: float, slots: dict | None = None) -> Tracker:
    events = [{"event": "action", "name": "action_listen", "timestamp": 1.0},
              {"event": "active_loop", "name": "meter_reading_form", "timestamp": opened_at},
              {"event": "slot", "name": "meter_value", "value": "15730", "timestamp": opened_at + 1}]
    return Tracker(sender, slots or {}, {}, events, False, None, {}, "action_listen")


def test_the_same_form_replayed_gets_the_same_key():
    first = submission_key(tracker("u2:abc", 1700000000.25), "action_submit_meter_reading")
    assert first == submission_key(tracker("u2:abc", 1700000000.25), "action_submit_meter_reading")
    assert len(first) == 32 and int(first, 16) >= 0


def test_another_form_conversation_or_action_gets_another_key():
    key = submission_key(tracker("u2:abc", 1700000000.25), "action_submit_meter_reading")
    assert key != submission_key(tracker("u2:abc", 1700000099.5), "action_submit_meter_reading")
    assert key != submission_key(tracker("u3:abc", 1700000000.25), "action_submit_meter_reading")
    assert key != submission_key(tracker("u2:abc", 1700000000.25), "action_submit_order")


def test_a_key_kept_in_the_slot_wins():
    assert submission_key(tracker("u2:abc", 1.5, {"submission_key": "kept"}), "action_submit_order") == "kept"
