"""Text folding shared by every area: what users type is compared without case or accents."""
from __future__ import annotations

import unicodedata

from text_to_num import alpha2digit


def fold_accents(text: str) -> str:
    """Lower case without accents ("Étage" -> "etage"); everything else is kept as typed."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def digits_of(text: str, lang: str = "fr", threshold: int = 0) -> str:
    """Numbers written in words as digits, in the conversation's language first, then the other ("deux" → "2",
    "mille cinq cent soixante-quatre" → "1564", "six thousand nine hundred and twelve" → "6912"). Numbers below
    `threshold` standing alone stay words ("pas un seul" with 10)."""
    other = "en" if lang == "fr" else "fr"
    return alpha2digit(alpha2digit(text, lang, threshold=threshold), other, threshold=threshold)
