"""The assistant follows the language the user writes in.

`action_follow_language` is the `language` slot's custom mapping action, so Rasa runs it after every user
message, before predicting the answer: when the message is clearly in the other language, the slot switches
at once (every response has a FR and an EN variation). The input channel offers, once per conversation, to
save that language in the profile (bot/channels.py; the button sends /change_language, actions/profile.py).

Which language a chat message is written in: French, English, or "can't tell".

Chat messages are short ("ok", "WHJ01481", "45300"), so a statistical detector would guess wildly on most of
them. This counts unambiguous function words and common portal words of each language (accents folded) plus
French accented letters, and only answers when one language clearly wins: a message that could be either
leaves the conversation's language unchanged.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.text import fold_accents

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


class ActionFollowLanguage(Action):
    def name(self) -> Text:
        return "action_follow_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        written = detect_language(((tracker.latest_message or {}).get("text") or "").strip())
        if written is None or written == tracker.get_slot("language"):
            return []
        # The offer to save it in the profile comes from the input channel (bot/channels.py): Rasa drops the
        # messages of a slot-mapping action.
        return [SlotSet("language", written)]
