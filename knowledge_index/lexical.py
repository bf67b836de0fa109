"""BM25 side of the hybrid search: one bm25s index per language over analysed article text.

Per-language indexes keep document frequencies and average lengths within one language: a
French word would otherwise get its IDF from a collection half made of English documents.

bm25s cannot delete documents, so add/remove re-index the touched language from the documents'
texts, which are kept for that (in memory and in lexical.json: the rest of the index directory
holds no article body). That costs milliseconds at knowledge-base scale (benchmarks/README.md).

On-disk files::

    lexical.json        format, analyzer version, BM25 parameters, doc ids and texts per language
    bm25_<lang>/        bm25s' own save (sparse score matrix + vocabulary), read back at load
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import bm25s
import numpy as np

from ._io import atomic_write_bytes, atomic_write_json, read_json
from .analysis import ANALYZER_VERSION, NGRAM, index_terms
from .corpus import LANGUAGES, Article

LEXICAL_FILE = "lexical.json"
FORMAT_VERSION = 1
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BM25Params:
    """Defaults tuned on data/knowledge_eval/queries.yml (benchmarks/README.md has the grid)."""

    k1: float = 1.5
    b: float = 0.75
    # Title tokens are repeated this many times: a cheap BM25F, the title says what the article is about.
    title_weight: int = 2
    ngram: int = NGRAM  # character n-grams indexed next to the stems; 0 = stems only


def document_text(article: Article, title_weight: int) -> str:
    """What BM25 sees: title (weighted), summary, body, and the error codes listed as metadata."""
    return "\n".join([article.title] * title_weight + [article.summary, article.body, " ".join(article.error_codes)])


class _LanguageIndex:
    """bm25s retriever + the doc ids of its columns, for one language."""

    def __init__(self, doc_ids: list[int], retriever: bm25s.BM25 | None) -> None:
        self.doc_ids = doc_ids
        self.retriever = retriever  # None when the language has no document (bm25s cannot index nothing)

    @classmethod
    def build(cls, tokens: Mapping[int, list[str]], params: BM25Params) -> _LanguageIndex:
        doc_ids = sorted(tokens)
        if not doc_ids:
            return cls([], None)
        retriever = bm25s.BM25(k1=params.k1, b=params.b, method="lucene")
        # An empty document would make bm25s' vocabulary inference fail; "" is its own empty token.
        retriever.index([tokens[d] or [""] for d in doc_ids], show_progress=False)
        return cls(doc_ids, retriever)

    def scores(self, terms: list[str]) -> np.ndarray:
        if self.retriever is None:
            return np.zeros(0, dtype=np.float32)
        ids = self.retriever.get_tokens_ids([t for t in terms if t])
        if not ids:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return self.retriever.get_scores_from_ids(ids)


class LexicalIndex:
    """BM25 over (article, language) documents, with replace/remove by doc id.

    Not thread-safe by itself: KnowledgeSearcher serialises access with its lock.
    """

    def __init__(self, docs: Mapping[int, tuple[str, str]] | None = None, params: BM25Params | None = None) -> None:
        """``docs``: doc_id -> (lang, text as returned by :func:`document_text`)."""
        self.params = params or BM25Params()
        self._docs: dict[int, tuple[str, str]] = dict(docs or {})
        self._terms: dict[int, list[str]] = {}  # analysed lazily: a loaded index needs none until it changes
        self._indexes: dict[str, _LanguageIndex] = {}
        self._rebuild(LANGUAGES)

    @classmethod
    def from_articles(cls, articles: Iterable[Article], params: BM25Params | None = None) -> Self:
        params = params or BM25Params()
        return cls({a.doc_id: (a.lang, document_text(a, params.title_weight)) for a in articles}, params)

    def _rebuild(self, langs: Iterable[str]) -> None:
        for lang in langs:
            doc_ids = [d for d, (doc_lang, _) in self._docs.items() if doc_lang == lang]
            self._indexes[lang] = _LanguageIndex.build({d: self.terms(d) for d in doc_ids}, self.params)

    def __len__(self) -> int:
        return len(self._docs)

    def ids(self) -> list[int]:
        return list(self._docs)

    def terms(self, doc_id: int) -> list[str]:
        """The analysed terms BM25 indexes for ``doc_id`` (KeyError if absent)."""
        if doc_id not in self._terms:
            lang, text = self._docs[doc_id]
            # Interned: the same n-gram recurs across thousands of documents; one string object
            # each instead of one per occurrence: 445 -> 162 MB at 10k documents (benchmarks/README.md).
            self._terms[doc_id] = [sys.intern(t) for t in index_terms(text, lang, self.params.ngram)]
        return self._terms[doc_id]

    def add(self, articles: Iterable[Article]) -> None:
        """Insert or replace; only the languages touched are re-indexed."""
        new = {a.doc_id: (a.lang, document_text(a, self.params.title_weight)) for a in articles}
        touched = {lang for lang, _ in new.values()} | {self._docs[d][0] for d in new if d in self._docs}
        for doc_id in new:
            self._terms.pop(doc_id, None)
        self._docs.update(new)
        self._rebuild(touched)

    def remove(self, doc_ids: Iterable[int]) -> int:
        wanted = set(doc_ids)
        gone = [self._docs.pop(d) for d in wanted if d in self._docs]
        for doc_id in wanted:
            self._terms.pop(doc_id, None)
        self._rebuild({lang for lang, _ in gone})
        return len(gone)

    def search(self, query: str, lang: str | None, limit: int) -> list[tuple[int, float]]:
        """Up to ``limit`` ``(doc_id, bm25)`` with a positive score, best first.

        Without ``lang`` the query is analysed in each language and scored against that language's
        documents; the scores of both indexes share one scale (same formula, same parameters).
        """
        results: list[tuple[int, float]] = []
        for doc_lang in (lang,) if lang is not None else LANGUAGES:
            index = self._indexes[doc_lang]
            scores = index.scores(index_terms(query, doc_lang, self.params.ngram))
            if not len(scores):
                continue
            top = np.argsort(-scores, kind="stable")[:limit]
            results.extend((index.doc_ids[i], float(scores[i])) for i in top if scores[i] > 0)
        results.sort(key=lambda pair: (-pair[1], pair[0]))
        return results[:limit]

    # --- persistence ---------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for lang, index in self._indexes.items():
            if index.retriever is None:
                continue
            # bm25s writes its files in place; write them elsewhere and move each one atomically,
            # so a backend loading concurrently never reads a half-written array.
            with tempfile.TemporaryDirectory(dir=directory) as tmp:
                index.retriever.save(tmp, show_progress=False)
                for path in Path(tmp).iterdir():
                    atomic_write_bytes(directory / f"bm25_{lang}" / path.name, path.read_bytes())
        atomic_write_json(directory / LEXICAL_FILE, {
            "format_version": FORMAT_VERSION,
            "analyzer": ANALYZER_VERSION,
            "params": asdict(self.params),
            "bm25s_version": bm25s.__version__,
            # Texts rather than terms: 5x smaller, and enough to re-index after add/remove.
            "languages": {
                lang: {"doc_ids": index.doc_ids, "texts": [self._docs[d][1] for d in index.doc_ids]}
                for lang, index in self._indexes.items()
            },
        })

    @classmethod
    def load(cls, directory: Path) -> Self:
        directory = Path(directory)
        data: dict[str, Any] = read_json(directory / LEXICAL_FILE)
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{directory / LEXICAL_FILE}: unsupported lexical index format; rebuild the index")
        index = cls.__new__(cls)  # not __init__: that would re-analyse every text
        index.params = BM25Params(**data["params"])
        index._docs, index._terms, index._indexes = {}, {}, {}
        # Matrices written by another analyzer would not match today's query terms: re-index the texts.
        fresh = data.get("analyzer") == ANALYZER_VERSION
        for lang in LANGUAGES:
            entry = data["languages"].get(lang, {"doc_ids": [], "texts": []})
            doc_ids = [int(d) for d in entry["doc_ids"]]
            index._docs.update((d, (lang, text)) for d, text in zip(doc_ids, entry["texts"], strict=True))
            loaded = index._load_language(directory / f"bm25_{lang}", doc_ids) if fresh else None
            index._indexes[lang] = loaded or _LanguageIndex.build({d: index.terms(d) for d in doc_ids}, index.params)
        return index

    def _load_language(self, path: Path, doc_ids: list[int]) -> _LanguageIndex | None:
        if not doc_ids:
            return _LanguageIndex([], None)
        try:
            retriever = bm25s.BM25.load(path, show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cannot read %s (%s); re-indexing from the saved texts", path, exc)
            return None
        if retriever.scores["num_docs"] != len(doc_ids) or (retriever.k1, retriever.b) != (self.params.k1, self.params.b):
            log.warning("%s does not match %s; re-indexing from the saved texts", path, LEXICAL_FILE)
            return None
        return _LanguageIndex(doc_ids, retriever)
