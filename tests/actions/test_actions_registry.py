"""The action server starts: rasa-sdk registers every concrete action of the `actions` package, and each
action and form validator the domain names exists exactly once."""
from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

RASA_BUILT_IN = {"action_listen", "action_restart", "action_default_fallback", "action_deactivate_loop",
                 "action_revert_fallback_events", "action_default_ask_affirmation", "action_default_ask_rephrase",
                 "action_two_stage_fallback", "action_back", "action_unlikely_intent", "action_extract_slots"}


def test_every_domain_action_is_served(domain):
    executor = ActionExecutor()
    executor.register_package("actions")  # what `rasa run actions --actions actions` does
    served = set(executor.actions)
    assert "" not in served
    custom = {a for a in domain["actions"] if not a.startswith("utter_")} - RASA_BUILT_IN
    assert custom - served == set(), "declared in the domain but not served"
    validators = {f"validate_{form}" for form in domain["forms"]}
    assert validators <= served
    assert len(domain["actions"]) == len(set(domain["actions"])), "an action is declared twice"
