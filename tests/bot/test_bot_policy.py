"""bot/policy.py: the offer to save the conversation's language in the profile is made by the dialogue, once per
language, only when the rules are about to listen outside a form."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.session import IDENTITY_KEY
from bot.policy import OFFER_ACTION, LanguageOfferRulePolicy, offer_due

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, affirm]
slots:
  language: {type: categorical, values: [fr, en], influence_conversation: false, mappings: [{type: custom}]}
  language_offered: {type: any, influence_conversation: false, mappings: [{type: custom}]}
actions: [action_offer_language, action_change_language, utter_greet]
responses:
  utter_greet: [{text: hi}]
forms:
  some_form: {required_slots: []}
""")


def tracker(spoken: Optional[str], profile: Optional[str], offered: Optional[str] = None,
            after: str = "utter_greet", form: Optional[str] = None, buttons: str = "") -> DialogueStateTracker:
    metadata: Dict[str, Any] = {IDENTITY_KEY: {"id": 2, "language": profile}} if profile else {}
    events: List[Any] = [ActionExecuted("action_listen"), UserUttered("hello", {"name": "greet"}, metadata=metadata)]
    if spoken:
        events.append(SlotSet("language", spoken))
    if offered:
        events.append(SlotSet("language_offered", offered))
    if form:
        events.append(ActiveLoop(form))
    events.append(ActionExecuted(after))
    events.append(BotUttered(buttons or "Here you are.", {"buttons": [{"title": "A", "payload": "/a"}]}))
    return DialogueStateTracker.from_events("c", events, slots=DOMAIN.slots)


@pytest.mark.parametrize("spoken, profile, offered, form, due", [
    ("en", "fr", None, None, True),
    ("fr", "fr", None, None, False),  # the profile's language
    ("en", "fr", "en", None, False),  # already offered for English
    ("fr", "en", "en", None, True),   # offered for English, now French: a new question
    ("en", "fr", None, "some_form", False),  # never in the middle of a form
    ("en", None, None, None, False),  # no verified identity (e.g. test stories)
])
def test_offer_due(spoken, profile, offered, form, due):
    assert offer_due(tracker(spoken, profile, offered, form=form)) is due


def test_no_offer_for_an_anonymous_identity():
    """An unlinked Teams user or an unverified caller has a language but no profile to save it in."""
    anonymous = tracker("en", "fr")
    anonymous.latest_message.metadata = {IDENTITY_KEY: {"anonymous": True, "id": None, "language": "fr"}}
    assert offer_due(anonymous) is False


@pytest.mark.parametrize("text, due", [
    ("I'm not sure I understood. Did you mean:", False),  # the low-confidence menu: answered first
    ("Which list would you like?", False),
    ("Here is what I can do for you: … Pick one below or just write your request.", True),  # shortcuts only
])
def test_no_offer_on_top_of_a_pending_choice(text, due):
    assert offer_due(tracker("en", "fr", buttons=text)) is due


def listen_or(action: Optional[str]):
    def predict(self, tracker, domain, rule_only_data=None, **kwargs) -> PolicyPrediction:
        probabilities = [0.0] * domain.num_actions
        if action:
            probabilities[domain.index_for_action(action)] = 1.0
        return PolicyPrediction(probabilities, "RulePolicy")
    return predict


def predicted(policy: LanguageOfferRulePolicy, tracker_: DialogueStateTracker) -> str:
    probabilities = policy.predict_action_probabilities(tracker_, DOMAIN).probabilities
    return DOMAIN.action_names_or_texts[probabilities.index(max(probabilities))]


@pytest.fixture
def policy() -> LanguageOfferRulePolicy:
    policy = LanguageOfferRulePolicy.__new__(LanguageOfferRulePolicy)  # no trained rules needed here
    policy.lookup, policy.priority = {}, 6
    return policy


def test_offer_instead_of_listening_then_listen(policy, monkeypatch):
    monkeypatch.setattr(RulePolicy, "predict_action_probabilities", listen_or("action_listen"))
    assert predicted(policy, tracker("en", "fr")) == OFFER_ACTION
    assert predicted(policy, tracker("en", "fr", after=OFFER_ACTION)) == "action_listen"
    assert predicted(policy, tracker("fr", "fr")) == "action_listen"


def test_never_interrupts_another_action(policy, monkeypatch):
    monkeypatch.setattr(RulePolicy, "predict_action_probabilities", listen_or("utter_greet"))
    assert predicted(policy, tracker("en", "fr", after="action_change_language")) == "utter_greet"
    monkeypatch.setattr(RulePolicy, "predict_action_probabilities", listen_or(None))  # nothing predicted
    assert max(policy.predict_action_probabilities(tracker("en", "fr"), DOMAIN).probabilities) == 0.0
