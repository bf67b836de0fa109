"""Yes and no are short (an NLU component after DIETClassifier, before FallbackClassifier).

DIET sometimes reads a long sentence with a negation in it as a plain "no" ("My phone number's wrong on the portal –
it should be 020 7946 0999, not the one ending 0001. Can you sort it?" → deny at 0.93; "While I've got you, who's
down as the contact on that machine? I think it's still someone who left." → deny at 0.73): at a summary, that "no"
cancels what the user was doing. A yes or a no that is a sentence of its own starts with its word ("non, j'ai déjà
essayé", "yes please, go ahead"); a longer message that does not is no answer: the next intent of the ranking is
taken, with its own confidence (so that an unsure one goes to the fallback's suggestions instead).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.text import plain

YES_NO = {"affirm", "deny"}
MAX_BARE_WORDS = 6  # "non pas vraiment, ça n'a rien changé" may go on; a sentence about something else is longer
# the words a yes or a no starts with (accents folded)
ANSWER_START = re.compile(
    r"^\W*(oui|ouais|ouaip|non|nan|nope|no|nah|yes|yep|yeah|yup|ok|okay|d'accord|daccord|dac|bien sur|tout a fait|"
    r"exact|exactement|correct|c'est ca|c'est bon|parfait|volontiers|absolument|pas du tout|pas vraiment|jamais|"
    r"surtout pas|certainly|sure|of course|absolutely|definitely|not really|not at all|never|please|go ahead|vas-y|"
    r"allez-y|allons-y|negatif|negative|affirmatif|confirm|je confirme|valide|valider|annule|pas la peine|inutile|"
    r"that'?s right|right|that'?s it|correct|it did|it didn'?t|ca a marche|ca n'a pas|c'est pas|ce n'est pas)\b")


def is_long_non_answer(text: str) -> bool:
    """A message too long to be a bare yes or no, that does not start like one."""
    if not text or text.startswith("/"):
        return False
    folded = plain(text).strip()
    return len(folded.split()) > MAX_BARE_WORDS and not ANSWER_START.search(folded)


def reread(text: str, intent: Dict[str, Any], ranking: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The intent a long yes/no-looking message gets instead (the best other one of the ranking), or None."""
    if (intent or {}).get("name") not in YES_NO or not is_long_non_answer(text):
        return None
    return next(({"name": r["name"], "confidence": r.get("confidence")} for r in ranking
                 if r.get("name") not in YES_NO), None)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class ShortAnswers(GraphComponent):
    """The NLU component (config.yml): after DIETClassifier, before FallbackClassifier."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "ShortAnswers":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            ranking = list(message.get(INTENT_RANKING_KEY) or [])
            chosen = reread(message.get(TEXT) or "", message.get(INTENT) or {}, ranking)
            if chosen is None:
                continue
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [r for r in ranking if r.get("name") not in YES_NO], add_to_output=True)
        return messages
