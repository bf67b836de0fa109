"""The assistant follows the language the user writes in.

`WrittenLanguageExtractor`, the last component of the NLU pipeline (config.yml), adds a `written_language`
entity ("fr" / "en") to a message that is clearly written in one language; the `language` slot is mapped from
that entity (domain/core.yml), so Rasa switches the slot itself before predicting the answer and every
response (FR and EN variations) follows at once. Saving that language in the portal profile is then offered as a
question, once per language, as part of the dialogue (bot/policy.py, actions/profile.py).

This used to be a custom slot-mapping action: one action-server round trip after every message (about 30 ms
of a 100 ms turn) for a test that needs no data but the text.

Which language a chat message is written in: French, English, or "can't tell".

Chat messages are short ("ok", "WHJ01481", "45300"), so a statistical detector would guess wildly on most of
them. This counts unambiguous function words and common portal words of each language (accents folded) plus
French accented letters, and only answers when one language clearly wins: a message that could be either
leaves the conversation's language unchanged.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, ENTITY_ATTRIBUTE_TYPE, ENTITY_ATTRIBUTE_VALUE, INTENT,
    INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.text import fold_accents
from actions.text import plain as plain_text

# Words that greet, thank or answer on their own: one is enough.
STRONG = {
    "fr": {"bonjour", "bonsoir", "merci", "oui", "salut", "svp", "stp", "francais", "coucou", "daccord", "annuler"},
    "en": {"hello", "hi", "hey", "thanks", "thank", "yes", "please", "english", "cheers", "yeah", "cancel"},
}
WORDS = {
    "fr": set("""
        je j tu il elle on nous vous ils elles le la les l un une des du de d au aux ce cet cette ces c ca ça
        est et ou mais donc pour dans sur avec sans chez pas ne n plus qui que qu quoi comment quel quelle
        quels quelles pourquoi quand mon ma mes ton ta tes votre vos notre nos leur leurs son sa ses
        suis es sont ai as avons avez ont fait faire veux voudrais voudrait peux pouvez puis besoin
        encore toujours rien aussi tres bien bonne journee soir aide aidez imprimante copieur panne papier
        commander commande compteur compteurs releve releves dossier dossiers facture contrat appareil
        appareils utilisateur utilisateurs mot passe changer ajouter voir afficher montrer envoyer bourrage
        encre tiroir marche fonctionne plus niveau derniere dernier mes quoi anglais langue non
    """.split()),
    "en": set("""
        i you he she we they the a an is are was were am be been and or but so for in on with without at
        not what how which who whom why when my your our their his her its me us them it this that these
        those to of do does did done have has had want would like can could need please show see add
        change send get printer copier broken paper order orders meter meters reading readings invoice
        contract device devices user users password help jam ink tray working work anymore last latest
        there here about from no any some all my mine
    """.split()),
}
ACCENTED = re.compile(r"[éèêëàâçùûôîïœ]")
TOKEN = re.compile(r"[a-z]+")


def detect_language(text: str) -> Optional[str]:
    """"fr", "en" or None when the message does not clearly belong to one language."""
    if not text or text.startswith("/"):  # button payloads are not the user's words
        return None
    tokens = TOKEN.findall(fold_accents(text).replace("'", " ").replace("’", " "))
    scores = {lang: 0 for lang in WORDS}
    for token in tokens:
        for lang in WORDS:
            if token in STRONG[lang]:
                scores[lang] += 2
            elif token in WORDS[lang]:
                scores[lang] += 1
    scores["fr"] += min(2, len(ACCENTED.findall(text.lower())))
    best = max(scores, key=scores.get)
    other = "en" if best == "fr" else "fr"
    if scores[best] >= 2 and scores[best] >= 2 * scores[other] + 1:
        return best
    return None


WRITTEN_LANGUAGE = "written_language"  # the entity; the `language` slot is mapped from it
CHANGE_LANGUAGE = "change_language"
# A message that asks, in so many words, to go on in a language ("can we carry on in English?", "on peut continuer
# en français ?", "répondez en anglais"): the classifier reads "continue" as a cancel or a form answer too often for
# the one request that must always work. A language named under a negation ("he doesn't read French") is not asked.
_LANGUAGE_NAME = r"(?:le\s+|l')?(francais|french|anglais|english)\b"
_FILLER = (r"(?:\s+(?:on|we|nous|moi|me|us|you|vous|tu|it|please|pls|svp|stp|the|this|chat|conversation|la|discussion|"
           r"ca|everything|tout|rest|suite|from|now|desormais|dorenavant|maintenant|plutot|rather|instead|back|"
           r"over|to|with|avec|me|m'))*")
LANGUAGE_REQUEST = re.compile(
    r"\b(?:continu\w*|carry on|keep going|go on|switch\w*|passe[rz]?|repasse[rz]?|passons|parle[rz]?|parlons|speak|"
    r"talk|repond\w*|reply|answer|write|ecri\w*|poursui\w*|discuter|chat|la suite|the rest)\b" + _FILLER
    + r"\s+(?:en|in|to|into)\s+" + _LANGUAGE_NAME)
BARE_LANGUAGE = re.compile(r"^\s*(?:(?:en|in)\s+)?" + _LANGUAGE_NAME
                           + r"\s*(?:please|pls|svp|stp|s'il (?:te|vous) plait)?\s*[?!.]*\s*$")


def asks_for_language(text: str) -> bool:
    """The message asks to go on in French or English (see LANGUAGE_REQUEST)."""
    if not text or text.startswith("/"):
        return False
    plain = plain_text(text)
    return bool(LANGUAGE_REQUEST.search(plain) or BARE_LANGUAGE.match(plain))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class WrittenLanguageExtractor(GraphComponent, EntityExtractorMixin):
    """Adds the `written_language` entity (the whole message) when the message's language is clear, and reads a
    message that asks to go on in a language as `change_language` (LANGUAGE_REQUEST)."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "WrittenLanguageExtractor":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = (message.get(TEXT) or "").strip()
            intent = message.get(INTENT) or {}
            if asks_for_language(text) and intent.get(INTENT_NAME_KEY) != CHANGE_LANGUAGE:
                asked = {INTENT_NAME_KEY: CHANGE_LANGUAGE, PREDICTED_CONFIDENCE_KEY: 1.0}
                ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != CHANGE_LANGUAGE]
                message.set(INTENT, asked, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [asked, *ranking], add_to_output=True)
            written = detect_language(text)
            if written is None:
                continue
            found = {ENTITY_ATTRIBUTE_TYPE: WRITTEN_LANGUAGE, ENTITY_ATTRIBUTE_VALUE: written,
                     ENTITY_ATTRIBUTE_START: 0, ENTITY_ATTRIBUTE_END: len(text)}
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name([found]), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # nothing to learn; training examples keep their own annotations
