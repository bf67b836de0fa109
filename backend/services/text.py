"""Text normalisation shared by keyword matching: lower case, no accents, apostrophes unified."""
from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    without_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", without_accents).strip()


def contains_phrase(normalized_text: str, phrase: str) -> bool:
    """Whole-word match of a (normalised) phrase, so "bac" does not match "backup"."""
    return re.search(rf"(?<![\w]){re.escape(normalize(phrase))}(?![\w])", normalized_text) is not None
