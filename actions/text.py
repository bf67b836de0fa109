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


# References said character by character, as on the phone or in a dictated message ("W H J zéro un quatre huit un",
# "C S 0 0 3 2 4 9 8", "w-h-j 0 1 4 8 1"): joined when the characters make a serial, an asset, case or order number.
SPELLED_REFERENCE = re.compile(r"[A-Z]{3}\d{5}|\d{8}|CS\d{7}|ORD\d{7}")
_SPELLING_SEPARATORS = re.compile(r"([\s.,;:/-]+)")
_MAX_SPELLED_UNITS = 16


_REFERENCE_PREFIXES = {"cs", "ord"}
# one digit said as a word, as references are spelled out (a closed list: read per word on every message, where
# text2num's parser would cost a few milliseconds per message)
DIGIT_WORDS = {word: digit for digit, words in enumerate((
    ("zero", "zéro", "oh"), ("one", "un", "une"), ("two", "deux"), ("three", "trois"), ("four", "quatre"),
    ("five", "cinq"), ("six",), ("seven", "sept"), ("eight", "huit"), ("nine", "neuf"))) for word in words}


def _spelled_unit(token: str, first: bool) -> str | None:
    """A token that can be part of a spelled reference: digits (written, or one said as a word), one letter, a group
    of two or three capital letters ("WHJ", "CS"), or a reference's prefix in lower case starting the run ("ord")."""
    if token.isdigit():
        return token
    if token.isalpha() and (len(token) == 1 or (len(token) <= 3 and token.isupper())
                            or (first and token.lower() in _REFERENCE_PREFIXES)):
        return token.upper()
    digit = DIGIT_WORDS.get(token.lower())
    return None if digit is None else str(digit)


def spelled_references(text: str) -> str:
    """The text with each reference said character by character written as one ("W H J zéro un quatre huit un" →
    "WHJ01481"); every other word is kept as typed."""
    if not text:
        return text
    pieces = _SPELLING_SEPARATORS.split(text)  # words at even indexes, the separators between them at odd ones
    words, separators = pieces[0::2], pieces[1::2]
    out: list[str] = []
    i = 0
    while i < len(words):
        best, joined, letters, grouped = None, "", False, False
        for j in range(i, min(len(words), i + _MAX_SPELLED_UNITS)):
            unit = _spelled_unit(words[j], first=j == i)
            if unit is None:
                break
            joined += unit
            letters = letters or unit.isalpha()
            grouped = grouped or (unit.isdigit() and len(unit) > 1)
            # digits said one by one, or a group after the letters ("WHJ 01481"); never numbers side by side
            # ("112 = 15 390 / 113 = …" is no asset number)
            if j > i and SPELLED_REFERENCE.fullmatch(joined) and (letters or not grouped):
                best = (j, joined)
        if best and ((best[0] + 1 < len(words) and _spelled_unit(words[best[0] + 1], first=False) is not None)
                     or (i > 0 and _spelled_unit(words[i - 1], first=False) is not None)):
            best = None  # the spelling goes on around the reference ("0 1 2 3 4 5 6 7 8 9", a phone number): as typed
        last = best[0] if best else i
        out.append(best[1] if best else words[i])
        if last < len(separators):
            out.append(separators[last])
        i = last + 1
    return "".join(out)


# An e-mail address said aloud or typed as said: "marc point lefevre arobase canon-uk-demo point example",
# "jane dot smith at example dot com" (the domain needs a "dot"/"point" and the part after it letters only)
_SAID_SEPARATOR = r"\s+(?:point|dot|tiret bas|tiret|dash|hyphen|underscore)\s+|[._-]"
_NOT_A_DOMAIN = r"(?!(?:the|a|an|le|la|les|un|une|of|de|du|des)\b)"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![\w@.])(?P<local>[a-z0-9%+]+(?:(?:{_SAID_SEPARATOR})[a-z0-9%+]+)*)\s+(?:arobase|arrobase|arobas|at)\s+"
    rf"{_NOT_A_DOMAIN}(?P<domain>[a-z0-9]+(?:(?:{_SAID_SEPARATOR})[a-z0-9]+)*(?:\s+(?:point|dot)\s+|\.)"
    r"(?:com|fr|uk|org|net|eu|io|co|de|be|ch|ca|es|it|nl|info|biz|example|test))(?![\w@])", re.I)
_SEPARATOR_WORDS = [(re.compile(r"\s+(?:point|dot)\s+", re.I), "."), (re.compile(r"\s+tiret bas\s+|\s+underscore\s+", re.I), "_"),
                    (re.compile(r"\s+(?:tiret|dash|hyphen)\s+", re.I), "-")]


def _written(said: str) -> str:
    for pattern, written in _SEPARATOR_WORDS:
        said = pattern.sub(written, said)
    return said


def spoken_emails(text: str) -> str:
    """The text with e-mail addresses said in words written as addresses ("jane dot smith at example dot com" →
    "jane.smith@example.com"); everything else as typed."""
    if not text:
        return text
    return _SPOKEN_EMAIL.sub(lambda m: _written(m.group("local")) + "@" + _written(m.group("domain")), text)


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
