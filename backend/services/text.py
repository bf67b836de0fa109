"""Text normalisation shared by keyword matching: lower case, no accents, apostrophes unified."""
from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    without_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", without_accents).strip()


def contains_phrase(normalized_text: str, phrase: str, plural: bool = False) -> bool:
    """Whole-word match of a (normalised) phrase, so "bac" does not match "backup"; with `plural`, its last word may
    also end in s or x ("ligne" matches "lignes", and "lignes" matches "ligne")."""
    words = normalize(phrase)
    if plural:
        words = re.sub(r"[sx]$", "", words) if len(words) > 4 else words
        return re.search(rf"(?<![\w]){re.escape(words)}[sx]?(?![\w])", normalized_text) is not None
    return re.search(rf"(?<![\w]){re.escape(words)}(?![\w])", normalized_text) is not None


# Words that mean the same thing in a device's alias, in French or English: "the printer on the 2nd floor" names
# the alias "Copieur 2e étage". Ordinals become "<n>e", floor words "etage", ground floor "rdc".
_ORDINAL_WORDS = {
    "premier": 1, "premiere": 1, "first": 1, "deuxieme": 2, "second": 2, "seconde": 2, "troisieme": 3, "third": 3,
    "quatrieme": 4, "fourth": 4, "cinquieme": 5, "fifth": 5, "sixieme": 6, "sixth": 6, "septieme": 7,
    "seventh": 7, "huitieme": 8, "eighth": 8, "neuvieme": 9, "ninth": 9, "dixieme": 10, "tenth": 10,
}
_NUMERIC_ORDINAL = re.compile(r"(\d+)(?:e|er|ere|eme|em|nd|st|rd|th)")
# ... and the places people name a device by, in either language ("celle de l'accueil", "the one at reception").
_SAME_WORD = {"floor": "etage", "level": "etage", "niveau": "etage", "storey": "etage", "story": "etage",
              "reception": "accueil", "lobby": "accueil", "entrance": "entree", "basement": "soussol",
              "accounts": "compta", "accounting": "compta", "comptabilite": "compta", "finance": "compta",
              "hr": "rh", "warehouse": "entrepot", "office": "bureau", "room": "salle", "meeting": "reunion"}
_PHRASES = [(re.compile(r"\b(?:rez de chaussee|ground floor|rdc)\b"), "rdc"),
            (re.compile(r"\b(?:front desk|front office)\b"), "accueil"),
            (re.compile(r"\b(?:sous sol)\b"), "soussol"),
            (re.compile(r"\b(?:ressources humaines|human resources)\b"), "rh")]


def canonical_words(text: str) -> list[str]:
    """The words of a text, normalised, with ordinals, floor and place words in one form for both languages."""
    words = []
    text = normalize(text).replace("-", " ")
    for phrase, word in _PHRASES:
        text = phrase.sub(word, text)
    for word in re.findall(r"\w+", text):
        ordinal = _NUMERIC_ORDINAL.fullmatch(word)
        if ordinal:
            word = f"{int(ordinal.group(1))}e"
        elif word in _ORDINAL_WORDS:
            word = f"{_ORDINAL_WORDS[word]}e"
        words.append(_SAME_WORD.get(word, word))
    return words
