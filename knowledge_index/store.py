"""Building, persisting and querying the knowledge index: the part the backend uses.

On-disk layout of an index directory::

    index.faiss, index_meta.json   vectors (see faiss_index.py)
    articles.json                  doc_id -> display metadata (no body: the backend links to the article)
    build.json                     BuildInfo; written last, so its presence marks a complete build
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._io import atomic_write_json, read_json
from .base import VectorIndex
from .corpus import (
    LANGUAGES,
    Article,
    corpus_fingerprint,
    fingerprint_files,
    parse_corpus_files,
    read_corpus_files,
)
from .embedder import DEFAULT_MODEL, embed, embedding_dim, load_embedder
from .faiss_index import INDEX_FILE, META_FILE, FaissVectorIndex

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

FORMAT_VERSION = 1
BUILD_FILE = "build.json"
ARTICLES_FILE = "articles.json"
INDEX_FILES = (INDEX_FILE, META_FILE, ARTICLES_FILE, BUILD_FILE)

# A matching product model is a strong hint but must not beat a clearly better generic answer:
# 0.05 cosine is roughly the gap between "same topic" and "same topic, other wording".
MODEL_BOOST = 0.05
# Candidates fetched before filtering/boosting/deduplication. A flat index scores every vector
# anyway, so a generous pool is nearly free and keeps the language filter from starving results.
CANDIDATE_FACTOR = 8
MIN_CANDIDATES = 200


@dataclass(frozen=True)
class BuildInfo:
    format_version: int
    model: str
    dim: int
    count: int
    built_at: str
    corpus_fingerprint: str | None  # None once incremental updates made the index diverge from a corpus snapshot
    languages: dict[str, int]
    build_seconds: float
    updated_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BuildInfo:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


@dataclass(frozen=True)
class IndexedArticle:
    """What the index remembers about each document (everything but the body)."""

    doc_id: int
    number: str
    lang: str
    title: str
    summary: str
    tags: tuple[str, ...]
    models: tuple[str, ...]
    error_codes: tuple[str, ...]

    @classmethod
    def from_article(cls, article: Article) -> IndexedArticle:
        return cls(**{field.name: getattr(article, field.name) for field in fields(cls)})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["doc_id"]  # it is the key of articles.json
        return data

    @classmethod
    def from_json(cls, doc_id: int, data: Mapping[str, Any]) -> IndexedArticle:
        # JSON turns the tuples into lists: turn them back.
        values = {field.name: data[field.name] for field in fields(cls) if field.name != "doc_id"}
        return cls(doc_id=doc_id, **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class SearchHit:
    doc_id: int
    number: str
    lang: str
    title: str
    summary: str
    tags: tuple[str, ...]
    models: tuple[str, ...]
    score: float  # cosine similarity, plus MODEL_BOOST when the article targets the user's product
    error_codes: tuple[str, ...] = ()
    similarity: float = 0.0  # raw cosine similarity, before the boost


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _language_counts(articles: Iterable[IndexedArticle | Article]) -> dict[str, int]:
    counts = Counter(a.lang for a in articles)
    return {lang: counts.get(lang, 0) for lang in LANGUAGES}


def normalize_model_name(name: str) -> str:
    """``"Canon iR-ADV C5560i"`` -> ``"canon ir adv c5560i"``: case and punctuation vary between sources."""
    return " ".join(re.findall(r"[0-9a-z]+", name.casefold()))


def model_matches(product_model: str, article_model: str) -> bool:
    """True when one normalised name contains the other on word boundaries.

    This tolerates a brand prefix ("Canon iR-ADV C5560i" vs "iR-ADV C5560i") but not a different
    model number ("C5560" vs "C5560i"). The shorter name must contain a digit, so a bare brand or
    series ("Canon", "iR-ADV") never matches everything.
    """
    a, b = normalize_model_name(product_model), normalize_model_name(article_model)
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return any(ch.isdigit() for ch in short) and f" {short} " in f" {long} "


def _write_index_dir(
    directory: Path, index: VectorIndex, articles: Mapping[int, IndexedArticle], info: BuildInfo
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    index.save(directory)
    atomic_write_json(
        directory / ARTICLES_FILE,
        {str(doc_id): articles[doc_id].to_json() for doc_id in sorted(articles)},
    )
    atomic_write_json(directory / BUILD_FILE, info.to_json())


def build_index(
    corpus_dir: Path,
    out_dir: Path,
    model: str = DEFAULT_MODEL,
    progress: bool = True,
    taxonomy_path: Path | None = None,
) -> BuildInfo:
    """Embed the whole corpus and write a fresh index to ``out_dir``. Raises CorpusError on bad input."""
    started = time.perf_counter()
    # Parse and fingerprint one snapshot of the files: authors may be saving while we build.
    files = read_corpus_files(Path(corpus_dir))
    articles = parse_corpus_files(files, taxonomy_path)  # validate before paying for the model
    encoder = load_embedder(model)
    vectors = embed(encoder, [a.text for a in articles], show_progress=progress)

    index = FaissVectorIndex(embedding_dim(encoder))
    index.add([a.doc_id for a in articles], vectors)
    info = BuildInfo(
        format_version=FORMAT_VERSION,
        model=model,
        dim=index.dim,
        count=len(index),
        built_at=_now_iso(),
        corpus_fingerprint=fingerprint_files(files),
        languages=_language_counts(articles),
        build_seconds=round(time.perf_counter() - started, 3),
    )
    metas = {a.doc_id: IndexedArticle.from_article(a) for a in articles}
    _write_index_dir(Path(out_dir), index, metas, info)
    return info


def read_build_info(index_dir: Path) -> BuildInfo:
    return BuildInfo.from_json(read_json(Path(index_dir) / BUILD_FILE))


def is_stale(corpus_dir: Path, out_dir: Path, model: str = DEFAULT_MODEL) -> bool:
    """True if the index in ``out_dir`` is missing, incomplete, or built from another corpus or model."""
    out_dir = Path(out_dir)
    if not all((out_dir / name).is_file() for name in INDEX_FILES):
        return True
    try:
        info = read_build_info(out_dir)
    except (OSError, ValueError, TypeError, KeyError):
        return True
    return (
        info.format_version != FORMAT_VERSION
        or info.model != model
        or info.corpus_fingerprint != corpus_fingerprint(Path(corpus_dir))
    )


class KnowledgeSearcher:
    """Semantic search over a built index, with incremental updates.

    Thread-safe: FAISS must not be searched while it is being modified, so index access is
    serialised by a lock (embedding, the slow part, runs outside it).
    """

    def __init__(
        self,
        index: VectorIndex,
        articles: Mapping[int, IndexedArticle],
        encoder: SentenceTransformer,
        build_info: BuildInfo,
        index_dir: Path | None = None,
    ) -> None:
        if set(index.ids()) != set(articles):
            raise ValueError("vector index and article metadata disagree; rebuild the index")
        if embedding_dim(encoder) != index.dim:
            raise ValueError(
                f"embedding model produces {embedding_dim(encoder)}-d vectors but the index holds "
                f"{index.dim}-d vectors (built with model {build_info.model!r})"
            )
        self._index = index
        self._articles = dict(articles)
        self._encoder = encoder
        self._info = build_info
        self._index_dir = Path(index_dir) if index_dir is not None else None
        self._lock = threading.RLock()

    @classmethod
    def load(cls, index_dir: Path, model: str | None = None) -> KnowledgeSearcher:
        """Open an index written by :func:`build_index`; ``model`` defaults to the one it was built with."""
        index_dir = Path(index_dir)
        missing = [name for name in INDEX_FILES if not (index_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{index_dir}: no complete knowledge index (missing {', '.join(missing)})")
        info = read_build_info(index_dir)
        if info.format_version != FORMAT_VERSION:
            raise ValueError(f"{index_dir}: index format {info.format_version}, expected {FORMAT_VERSION}")
        raw_articles = read_json(index_dir / ARTICLES_FILE)
        articles = {int(k): IndexedArticle.from_json(int(k), v) for k, v in raw_articles.items()}
        index = FaissVectorIndex.load(index_dir)
        return cls(index, articles, load_embedder(model or info.model), info, index_dir)

    @property
    def build_info(self) -> BuildInfo:
        return self._info

    @property
    def model_name(self) -> str:
        return self._info.model

    def __len__(self) -> int:
        return len(self._index)

    def get(self, doc_id: int) -> IndexedArticle | None:
        return self._articles.get(doc_id)

    def search(
        self,
        query: str,
        lang: str | None = None,
        product_model: str | None = None,
        k: int = 5,
        min_score: float = 0.0,
    ) -> list[SearchHit]:
        """Best ``k`` articles for ``query``, at most one language version per article number.

        ``min_score`` applies to the raw similarity, so the product-model boost can reorder
        relevant articles but never lets an irrelevant one through. With ``product_model``, articles
        written for other models only are left out: their steps do not apply to the user's device.
        """
        if lang is not None and lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}; expected one of {LANGUAGES}")
        if k <= 0 or not query.strip():
            return []
        vector = embed(self._encoder, [query])
        with self._lock:
            pool = max(k * CANDIDATE_FACTOR, MIN_CANDIDATES)
            candidates = [(self._articles[d], s) for d, s in self._index.search(vector, pool)[0]]

        best: dict[str, SearchHit] = {}
        for meta, similarity in candidates:
            if (lang is not None and meta.lang != lang) or similarity < min_score:
                continue
            boosted = product_model is not None and any(model_matches(product_model, m) for m in meta.models)
            if product_model is not None and meta.models and not boosted:
                continue
            hit = SearchHit(
                doc_id=meta.doc_id,
                number=meta.number,
                lang=meta.lang,
                title=meta.title,
                summary=meta.summary,
                tags=meta.tags,
                models=meta.models,
                score=similarity + (MODEL_BOOST if boosted else 0.0),
                error_codes=meta.error_codes,
                similarity=similarity,
            )
            kept = best.get(meta.number)
            if kept is None or hit.score > kept.score:
                best[meta.number] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.doc_id))[:k]

    def _touch(self) -> None:
        self._info = replace(
            self._info,
            count=len(self._index),
            languages=_language_counts(self._articles.values()),
            corpus_fingerprint=None,  # forces the next `build --if-stale` to resync with the corpus
            updated_at=_now_iso(),
        )

    def add_articles(self, articles: Iterable[Article]) -> int:
        """Embed and insert articles; an existing doc_id (same number and language) is replaced."""
        articles = list({a.doc_id: a for a in articles}.values())
        if not articles:
            return 0
        vectors = embed(self._encoder, [a.text for a in articles])
        with self._lock:
            self._index.add([a.doc_id for a in articles], vectors)
            self._articles.update((a.doc_id, IndexedArticle.from_article(a)) for a in articles)
            self._touch()
        return len(articles)

    def remove_articles(self, numbers: Iterable[str] | str) -> int:
        """Remove every language version of the given article numbers; return documents removed."""
        wanted = {numbers} if isinstance(numbers, str) else set(numbers)
        with self._lock:
            doc_ids: Sequence[int] = [d for d, meta in self._articles.items() if meta.number in wanted]
            if not doc_ids:
                return 0
            removed = self._index.remove(doc_ids)
            for doc_id in doc_ids:
                del self._articles[doc_id]
            self._touch()
        return removed

    def save(self, directory: Path | None = None) -> None:
        """Write the current state (to the directory it was loaded from by default)."""
        target = Path(directory) if directory is not None else self._index_dir
        if target is None:
            raise ValueError("no directory given and the searcher was not loaded from one")
        with self._lock:
            _write_index_dir(target, self._index, self._articles, self._info)
        self._index_dir = target
