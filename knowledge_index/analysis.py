"""Language-aware text analysis for the lexical (BM25) side: French and English.

Pipeline per text: Unicode/case normalisation -> elision removal -> accent folding ->
tokenisation (error codes kept whole) -> stop words -> Snowball stemming (PyStemmer); BM25 also
indexes character 5-grams of the words (index_terms), for typos and word-form variants.

Accents are folded *before* stemming so that a word typed without accents (common in chat)
always gets the same term as the accented one. The French Snowball rules lose a little on
unaccented participles ("numerisee" -> "numerise" but "numerisation" -> "numeris"), so one
trailing "e" is dropped from French stems: on the corpus vocabulary this cut the inflection pairs
that accent-aware stemming conflates but folded stemming split from 354 to 65 (of 1614).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_FRENCH

from .corpus import LANGUAGES

# Bump whenever the output of analyze() changes: persisted token lists become invalid (is_stale).
ANALYZER_VERSION = "fr-en-snowball-5gram-1"
# Character n-gram length: 5 was best or tied among 3, 4, 5 and 3+4+5 in the fusion settings tried
# on the labelled queries (benchmarks/README.md); specific enough, yet a typo leaves most grams intact.
NGRAM = 5

_SNOWBALL = {"fr": "french", "en": "english"}
# French elided articles/pronouns/conjunctions: l'imprimante, d'encre, qu'il, j'ai, n'imprime, s'allume, c'est...
_ELISION_RE = re.compile(r"\b(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu|quoiqu)'(?=\w)")
# A token: optional '#', word characters, optionally joined by '-' or '.' ("#0001", "e000007-0000",
# "wi-fi", "192.168.1.10"). Apostrophes split tokens (English "printer's" -> "printer", "s").
_TOKEN_RE = re.compile(r"#?\w+(?:[-.]\w+)*")
_PART_RE = re.compile(r"[-.#]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})


def fold_accents(text: str) -> str:
    """``"numérisation"`` -> ``"numerisation"``; ``"œ"`` -> ``"oe"`` (NFKD drops the combining marks)."""
    text = text.replace("œ", "oe").replace("æ", "ae")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _stop_set(words: Iterable[str]) -> frozenset[str]:
    # Compared after folding, so "à"/"a" and "été"/"ete" are both caught.
    return frozenset(fold_accents(w.casefold()) for w in words)


# The richer English list (~180 words) matches the French one (NLTK, ~160) in coverage: the short
# Lucene list keeps "my", "when", "how"..., which only add noise to chat-style questions.
_STOP_WORDS: dict[str, frozenset[str]] = {"fr": _stop_set(STOPWORDS_FRENCH), "en": _stop_set(STOPWORDS_EN_PLUS)}


_local = threading.local()


def _stemmer(lang: str) -> Stemmer.Stemmer:
    # PyStemmer documents its stemmer objects as not thread-safe, and the backend searches from
    # several worker threads: one instance per (thread, language). Its own cache memoises words.
    stemmers: dict[str, Stemmer.Stemmer] = _local.__dict__.setdefault("stemmers", {})
    if lang not in stemmers:
        stemmers[lang] = Stemmer.Stemmer(_SNOWBALL[lang])
    return stemmers[lang]


def _is_code(token: str) -> bool:
    """Error codes, model and part numbers: anything with a digit or a leading '#'. Never stemmed."""
    return token.startswith("#") or any(ch.isdigit() for ch in token)


def _stem(word: str, lang: str) -> str:
    stem: str = _stemmer(lang).stemWord(word)  # already folded: see the module docstring
    if lang == "fr" and len(stem) > 4 and stem.endswith("e"):
        stem = stem[:-1]  # see the module docstring: unaccented "-ee"/"-e" endings
    return stem


_WORD, _CODE, _PART = "word", "code", "part"


def _terms(text: str, lang: str) -> Iterator[tuple[str, str]]:
    """``(term, kind)`` in text order: codes kept whole (plus their parts), words stop-word
    filtered but not yet stemmed; everything case- and accent-folded."""
    if lang not in _SNOWBALL:
        raise ValueError(f"unsupported language {lang!r}; expected one of {LANGUAGES}")
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    if lang == "fr":
        text = _ELISION_RE.sub("", text)
    stop = _STOP_WORDS[lang]
    for token in _TOKEN_RE.findall(fold_accents(text)):
        if _is_code(token):
            yield token, _CODE
            # Also the parts, so "0001" or "E000007" alone still match "#0001" / "E000007-0000".
            parts = [p for p in _PART_RE.split(token) if p]
            if len(parts) > 1 or token.startswith("#"):
                yield from ((part, _PART) for part in parts)
            continue
        words = [w for w in _PART_RE.split(token) if w]
        if len(words) > 1:
            words.append("".join(words))  # "wi-fi" also as "wifi", "e-mail" as "email"
        yield from ((w, _WORD) for w in words if len(w) >= 2 and w not in stop)


def analyze(text: str, lang: str) -> list[str]:
    """Word-level terms of ``text`` analysed as language ``lang`` ("fr" or "en"), in text order."""
    return [_stem(term, lang) if kind == _WORD else term for term, kind in _terms(text, lang)]


def char_ngrams(text: str, lang: str, n: int = NGRAM) -> list[str]:
    """Character ``n``-grams of each (folded, unstemmed) word or code, padded with spaces, marked "~".

    They match what stemming cannot: typos ("imprimente"), derivations ("recommander" /
    "commande"), compounds ("photocopieuse" / "copieur"). The "~" keeps them apart from stems.
    Codes get them too, else a long common word (many grams) would outweigh an exact code match.
    """
    grams: list[str] = []
    for term, kind in _terms(text, lang):
        if kind != _PART:  # a code's parts are covered by the code's own grams
            padded = f" {term} "
            grams.extend("~" + padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def error_code_keys(text: str) -> frozenset[str]:
    """Comparable forms of the codes in ``text``: folded, without "#", whole and first part
    ("E000007-0000" -> {"e000007-0000", "e000007"}), so "0037" meets "#0037" and "E000007" meets
    "E000007-0000". Language-neutral: codes are not words."""
    keys: set[str] = set()
    for term, kind in _terms(text, "en"):
        if kind == _CODE:
            code = term.lstrip("#")
            keys.update(k for k in (code, _PART_RE.split(code)[0]) if k)
    return frozenset(keys)


def index_terms(text: str, lang: str, ngram: int = NGRAM) -> list[str]:
    """What BM25 indexes and queries: word terms, plus character n-grams unless ``ngram`` is 0."""
    return analyze(text, lang) + (char_ngrams(text, lang, ngram) if ngram else [])
