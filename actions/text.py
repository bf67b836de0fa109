"""Text folding shared by every area: what users type is compared without case or accents."""
from __future__ import annotations

import unicodedata


def fold_accents(text: str) -> str:
    """Lower case without accents ("Étage" -> "etage"); everything else is kept as typed."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
