"""RulePolicy plus the offer to save the conversation's language in the portal profile.

The conversation follows the language the user writes in (or asks for) at once; the profile changes only if the
user says yes to a question. That question is part of the dialogue (in the tracker, in case transcripts): when the
rules are about to listen, outside any form and with no choice of the bot's pending (buttons just offered), while
the conversation's language is not the profile's and the offer was not made yet for that language, this policy
predicts `action_offer_language` instead; after it, it listens.
The profile's language comes from the verified identity the channel layer put on the latest message.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.session import IDENTITY_KEY, LANGUAGES

OFFER_ACTION = "action_offer_language"


def choice_pending(tracker: DialogueStateTracker) -> bool:
    """The bot's last message of this turn asks the user to choose (buttons under a question or a menu: "Did you
    mean:", "Which list?"): the user's next message answers it, so no other question comes on top of it. Shortcut
    buttons under an answer ("Here is what I can do … Pick one below.") are no pending choice."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered):
            data = event.data or {}
            return bool(data.get("buttons") or data.get("quick_replies")) \
                and (event.text or "").rstrip().endswith(("?", ":"))
    return False


def offer_due(tracker: DialogueStateTracker) -> bool:
    if tracker.active_loop_name:
        return False
    spoken = tracker.get_slot("language")
    identity = (tracker.latest_message.metadata or {}).get(IDENTITY_KEY) if tracker.latest_message else None
    # an anonymous identity (an unlinked Teams user, an unverified caller) has a language but no profile to save it in
    profile = identity.get("language") if isinstance(identity, dict) and isinstance(identity.get("id"), int) \
        else None
    # the slot checks first: walking back through the turn's events is needed only when an offer is otherwise due
    return spoken in LANGUAGES and profile in LANGUAGES and spoken != profile \
        and tracker.get_slot("language_offered") != spoken and not choice_pending(tracker)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class LanguageOfferRulePolicy(RulePolicy):
    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None, **kwargs: Any) -> PolicyPrediction:
        if tracker.latest_action_name == OFFER_ACTION:
            return self._only(ACTION_LISTEN_NAME, domain)
        prediction = super().predict_action_probabilities(tracker, domain, rule_only_data, **kwargs)
        probabilities = prediction.probabilities
        if probabilities and max(probabilities) > 0 and \
                domain.action_names_or_texts[probabilities.index(max(probabilities))] == ACTION_LISTEN_NAME \
                and OFFER_ACTION in domain.action_names_or_texts and offer_due(tracker):
            return self._only(OFFER_ACTION, domain)
        return prediction

    def _only(self, action: Text, domain: Domain) -> PolicyPrediction:
        probabilities = [0.0] * domain.num_actions
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
