"""Text helpers shared by every area: what users type is compared without case or accents, and shown escaped."""
from __future__ import annotations

import re
import unicodedata

from text_to_num import alpha2digit


def fold_accents(text: str) -> str:
    """Lower case without accents ("Étage" -> "etage"); everything else is kept as typed."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def plain(text: str) -> str:
    """Folded as `fold_accents`, the typographic apostrophe typed as "'" ("l’accueil" -> "l'accueil"): how the
    assistant's word patterns read a message."""
    return fold_accents(text).replace("\u2019", "'")


def digits_of(text: str, lang: str = "fr", threshold: int = 0) -> str:
    """Numbers written in words as digits, in the conversation's language first, then the other ("deux" → "2",
    "mille cinq cent soixante-quatre" → "1564", "six thousand nine hundred and twelve" → "6912"). Numbers below
    `threshold` standing alone stay words ("pas un seul" with 10)."""
    other = "en" if lang == "fr" else "fr"
    return alpha2digit(alpha2digit(text, lang, threshold=threshold), other, threshold=threshold)


# What makes markup in the assistant's messages (the web widget, Teams, the voice channel's stripping): link brackets,
# emphasis, code, HTML, strike-through; an underscore that can open or close emphasis (not one inside a word); a
# heading's '#'; and the ':' of a link scheme, so that no typed address becomes a link.
_MARKUP = re.compile(r"[\\`*\[\]<>~]|(?<![^\W_])_|_(?![^\W_])")
_HEADING = re.compile(r"^(\s{0,3})#", re.MULTILINE)
_SCHEME = re.compile(r"(?i)\b(https?|ftp|mailto|javascript|data|file|tel)(:)")


def escape_markdown(text: object) -> str:
    """User-written text (a comment, a description, an alias, a name, an e-mail address) as it is shown inside the
    assistant's markdown messages: every markup character is backslash-escaped, so "[Your session expired – sign in
    again](https://evil.example)" reads as typed, never as a link, emphasis or HTML. Only for message text, never
    for button titles (shown as plain text) or what is sent to the backend."""
    escaped = _MARKUP.sub(lambda m: "\\" + m.group(0), "" if text is None else str(text))
    escaped = _HEADING.sub(r"\1\\#", escaped)
    return _SCHEME.sub(r"\1\\\2", escaped)


def shortened(text: str, limit: int) -> str:
    """Words quoted back (a question, a message): spaces folded, whole when short, else cut at a word with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"
