"""Building, persisting and querying the knowledge index: the part the backend uses.

Search is hybrid by default: dense embeddings (FAISS) and BM25 (lexical.py) each rank the
candidates, and the two rankings are fused (fusion.py). Embeddings carry paraphrases; BM25 carries
exact words the small English embedding model handles poorly: French wording, error codes, part names.

On-disk layout of an index directory::

    index.faiss, index_meta.json   vectors, two per document (see embedding_texts)
    lexical.json, bm25_<lang>/     BM25 (see lexical.py)
    articles.json                  doc_id -> display metadata (no body: the backend links to the article)
    build.json                     BuildInfo; written last, so its presence marks a complete build

Published versions (production, see deploy/README.md): :func:`publish_index` builds a corpus once into
``<root>/<version>``, where the version is a hash of the corpus, the model, the index format and the BM25 analyzer
(:func:`index_version`). The directory appears whole (built aside, then renamed), is made read-only, and is never
modified afterwards: every backend configured with that version serves the same index.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from ._io import atomic_write_json, read_json
from .analysis import ANALYZER_VERSION, error_code_keys
from .base import VectorIndex
from .corpus import (
    LANGUAGES,
    Article,
    corpus_fingerprint,
    fingerprint_files,
    parse_corpus_files,
    read_corpus_files,
)
from .embedder import DEFAULT_MODEL, Encoder, Runtime, load_encoder
from .faiss_index import INDEX_FILE, META_FILE, FaissVectorIndex
from .fusion import FusionParams, fuse
from .lexical import LEXICAL_FILE, BM25Params, LexicalIndex

FORMAT_VERSION = 2  # 2: BM25 files added
BUILD_FILE = "build.json"
ARTICLES_FILE = "articles.json"
INDEX_FILES = (INDEX_FILE, META_FILE, LEXICAL_FILE, ARTICLES_FILE, BUILD_FILE)

SearchMode = Literal["hybrid", "dense", "bm25"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
# The backend refuses shorter queries with a user-facing message; below 3 characters neither
# the embedding nor BM25 says anything useful, so the library refuses them too.
MIN_QUERY_CHARS = 3

# A matching product model is a strong hint but must not beat a clearly better generic answer.
# Every mode's score lies in [0, 1] before the boost (cosine; BM25 / best BM25; fused rank score):
# 0.05 cosine is roughly the gap between "same topic" and "same topic, other wording".
MODEL_BOOST = 0.05
# An article whose metadata lists an error code the user typed is the answer to that code. Fusion
# alone can bury it: a code carries no meaning for the embedding, whose best (unrelated) article
# then outweighs BM25's clear lead ("code #0037" put KB0010109 4th). Scores before boosts are at
# most 1, so this puts exact-code articles first, still ordered among themselves.
CODE_BOOST = 1.0
# Each document gets two vectors: its full text, and its title + summary alone. The full text is
# cut at the model's 256 word pieces (French needs many more pieces than English) and buries the
# symptom under procedure steps; chat-style questions match the short pair better. The dense
# similarity is the better of the two (labelled queries, dense recall@3: fr 0.67 -> 0.77, en 0.96 -> 0.97).
VECTORS_PER_DOC = 2


def embedding_texts(article: Article) -> tuple[str, ...]:
    """The texts embedded for one document, in vector-part order."""
    return (article.text, f"{article.title}\n{article.summary}")


def _vector_ids(doc_ids: Iterable[int]) -> list[int]:
    return [doc_id * VECTORS_PER_DOC + part for doc_id in doc_ids for part in range(VECTORS_PER_DOC)]


def _embed_articles(encoder: Encoder, articles: Sequence[Article], progress: bool = False) -> np.ndarray:
    return encoder.encode([text for a in articles for text in embedding_texts(a)], show_progress=progress)


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
    analyzer: str | None = None  # analysis.ANALYZER_VERSION of the BM25 tokens
    encoder_runtime: str | None = None  # "onnx" or "torch": what embedded the documents (same vectors either way)
    version: str | None = None  # index_version() of the corpus and model it was built from; None once updated in place

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
    # Ranking score of the search mode, in [0, 1] plus MODEL_BOOST when the article targets the
    # user's product and CODE_BOOST when it lists an error code of the query: hybrid = fused
    # score, dense = cosine, bm25 = BM25 / best BM25 of the query.
    # Comparable within one result list only; threshold on `similarity`.
    score: float
    error_codes: tuple[str, ...] = ()
    similarity: float = 0.0  # dense cosine similarity of query and document in every mode, before any boost
    bm25: float = 0.0  # raw BM25 score (0.0: no query term in the document, or mode="dense")


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
    directory: Path,
    index: VectorIndex,
    lexical: LexicalIndex,
    articles: Mapping[int, IndexedArticle],
    info: BuildInfo,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    index.save(directory)
    lexical.save(directory)
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
    bm25: BM25Params | None = None,
    runtime: Runtime = "auto",
) -> BuildInfo:
    """Embed and BM25-index the whole corpus into ``out_dir``. Raises CorpusError on bad input."""
    # Parse and fingerprint one snapshot of the files: authors may be saving while we build.
    return _build_from_files(read_corpus_files(Path(corpus_dir)), Path(out_dir), model, progress, taxonomy_path,
                             bm25, runtime)


def _build_from_files(
    files: list[tuple[Path, bytes]],
    out_dir: Path,
    model: str,
    progress: bool,
    taxonomy_path: Path | None,
    bm25: BM25Params | None,
    runtime: Runtime,
) -> BuildInfo:
    started = time.perf_counter()
    articles = parse_corpus_files(files, taxonomy_path)  # validate before paying for the model
    encoder = load_encoder(model, runtime)
    vectors = _embed_articles(encoder, articles, progress)

    index = FaissVectorIndex(encoder.dim)
    index.add(_vector_ids(a.doc_id for a in articles), vectors)
    lexical = LexicalIndex.from_articles(articles, bm25)
    fingerprint = fingerprint_files(files)
    info = BuildInfo(
        format_version=FORMAT_VERSION,
        model=model,
        dim=index.dim,
        count=len(articles),
        built_at=_now_iso(),
        corpus_fingerprint=fingerprint,
        languages=_language_counts(articles),
        build_seconds=round(time.perf_counter() - started, 3),
        analyzer=ANALYZER_VERSION,
        encoder_runtime=encoder.runtime,
        version=_version_of(fingerprint, model),
    )
    metas = {a.doc_id: IndexedArticle.from_article(a) for a in articles}
    _write_index_dir(out_dir, index, lexical, metas, info)
    return info


# A published version's name: 16 hex digits of a sha256 (the backend's setting accepts exactly this shape).
VERSION_PATTERN = r"^[0-9a-f]{16}$"


def _version_of(corpus_fingerprint: str, model: str) -> str:
    key = f"{FORMAT_VERSION}\0{ANALYZER_VERSION}\0{model}\0{corpus_fingerprint}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def index_version(corpus_dir: Path, model: str = DEFAULT_MODEL) -> str:
    """The version name a corpus builds to: the same corpus files, model, index format and BM25 analyzer always
    give the same name, any change another one. Reads the files only (no model loaded)."""
    return _version_of(corpus_fingerprint(Path(corpus_dir)), model)


def _is_complete(index_dir: Path) -> bool:
    return all((index_dir / name).is_file() for name in INDEX_FILES)


def published_version(index_dir: Path) -> str | None:
    """The version a complete index directory holds; None when it is incomplete or was updated in place. Reads
    build.json only."""
    if not _is_complete(Path(index_dir)):
        return None
    try:
        return read_build_info(Path(index_dir)).version
    except (OSError, ValueError, TypeError, KeyError):
        return None


@dataclass(frozen=True)
class PublishedIndex:
    version: str
    path: Path
    built: bool  # False: that version was already published, nothing was done
    info: BuildInfo


def publish_index(
    corpus_dir: Path,
    root: Path,
    model: str = DEFAULT_MODEL,
    progress: bool = False,
    taxonomy_path: Path | None = None,
    runtime: Runtime = "auto",
) -> PublishedIndex:
    """Build the corpus into ``root/<version>`` unless that version is already there; return what is published.

    The build is written into a private directory under ``root`` and renamed into place when complete, so a reader
    never sees a partial version, and two publishers of the same version (two jobs, a job and an import) are
    harmless: the first rename wins and the other build is discarded. A published version is read-only."""
    root = Path(root)
    files = read_corpus_files(Path(corpus_dir))  # one snapshot: the version names exactly what is built
    version = _version_of(fingerprint_files(files), model)
    target = root / version
    if _is_complete(target):
        held = published_version(target)
        if held != version:
            raise ValueError(f"{target}: holds index version {held!r}, not {version!r}; remove it")
        return PublishedIndex(version, target, False, read_build_info(target))
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    try:
        info = _build_from_files(files, work, model, progress, taxonomy_path, None, runtime)
        for path in work.rglob("*"):
            path.chmod(0o555 if path.is_dir() else 0o444)
        work.chmod(0o755)  # mkdtemp makes it private; made read-only once in place
        try:
            os.rename(work, target)  # replaces an empty directory, fails on a complete one
        except OSError:
            if not _is_complete(target):
                raise
            return PublishedIndex(version, target, False, read_build_info(target))  # another publisher won
        target.chmod(0o555)
        return PublishedIndex(version, target, True, info)
    finally:
        if work.exists():
            for path in [work, *work.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)  # files in a read-only directory cannot be removed
            shutil.rmtree(work, ignore_errors=True)


def read_build_info(index_dir: Path) -> BuildInfo:
    return BuildInfo.from_json(read_json(Path(index_dir) / BUILD_FILE))


def is_stale(corpus_dir: Path, out_dir: Path, model: str = DEFAULT_MODEL) -> bool:
    """True if the index in ``out_dir`` is missing, incomplete, or built from another corpus, model or analyzer."""
    out_dir = Path(out_dir)
    if not _is_complete(out_dir):
        return True
    try:
        info = read_build_info(out_dir)
    except (OSError, ValueError, TypeError, KeyError):
        return True
    return (
        info.format_version != FORMAT_VERSION
        or info.model != model
        or info.analyzer != ANALYZER_VERSION
        or info.corpus_fingerprint != corpus_fingerprint(Path(corpus_dir))
    )


class KnowledgeSearcher:
    """Hybrid (dense + BM25) search over a built index, with incremental updates.

    Thread-safe: neither FAISS nor the BM25 matrices may be read while being modified, so index
    access is serialised by a lock (embedding, the slow part, runs outside it).
    """

    def __init__(
        self,
        index: VectorIndex,
        articles: Mapping[int, IndexedArticle],
        encoder: Encoder,
        build_info: BuildInfo,
        index_dir: Path | None = None,
        *,
        lexical: LexicalIndex,
        fusion: FusionParams | None = None,
    ) -> None:
        if sorted(index.ids()) != _vector_ids(sorted(articles)):
            raise ValueError("vector index and article metadata disagree; rebuild the index")
        if set(lexical.ids()) != set(articles):
            raise ValueError("BM25 index and article metadata disagree; rebuild the index")
        if encoder.dim != index.dim:
            raise ValueError(
                f"embedding model produces {encoder.dim}-d vectors but the index holds "
                f"{index.dim}-d vectors (built with model {build_info.model!r})"
            )
        self._index = index
        self._lexical = lexical
        self.fusion = fusion or FusionParams()  # public: the evaluation compares settings on one loaded index
        self._articles = dict(articles)
        self._encoder = encoder
        self._info = build_info
        self._index_dir = Path(index_dir) if index_dir is not None else None
        self._lock = threading.RLock()

    @classmethod
    def load(
        cls, index_dir: Path, model: str | None = None, runtime: Runtime = "auto", threads: int | None = None
    ) -> KnowledgeSearcher:
        """Open an index written by :func:`build_index`; ``model`` defaults to the one it was built with.

        ``runtime`` and ``threads`` choose how queries are embedded (see :func:`load_encoder`)."""
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
        lexical = LexicalIndex.load(index_dir)
        encoder = load_encoder(model or info.model, runtime, threads)
        return cls(index, articles, encoder, info, index_dir, lexical=lexical)

    @property
    def build_info(self) -> BuildInfo:
        return self._info

    @property
    def model_name(self) -> str:
        return self._info.model

    @property
    def encoder(self) -> Encoder:
        return self._encoder

    def __len__(self) -> int:
        return len(self._articles)

    def get(self, doc_id: int) -> IndexedArticle | None:
        return self._articles.get(doc_id)

    def article_numbers(self) -> set[str]:
        with self._lock:
            return {meta.number for meta in self._articles.values()}

    def search(
        self,
        query: str,
        lang: str | None = None,
        product_model: str | None = None,
        k: int = 5,
        min_score: float = 0.0,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """Best ``k`` articles for ``query``, at most one language version per article number.

        ``mode``: "hybrid" fuses the dense and BM25 rankings, "dense" and "bm25" use one of them.
        ``min_score`` is a floor on the mode's score *before* the boosts (product model, error
        code), so a boost can reorder hits but never lets one through. In dense mode that is the cosine, as before
        hybrid search existed; in the other modes the default 0.0 only drops documents the
        embedding points away from and BM25 does not rescue. It is deliberately not the cosine
        there: an exact error-code match can have a cosine below zero ("#0037": -0.03). For a
        relevance threshold, use ``hit.similarity``.
        With ``product_model``, articles written for other models only are left out: their steps
        do not apply to the user's device. Raises ValueError for a query under MIN_QUERY_CHARS characters.
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"unsupported search mode {mode!r}; expected one of {SEARCH_MODES}")
        if lang is not None and lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}; expected one of {LANGUAGES}")
        if len(query.strip()) < MIN_QUERY_CHARS:
            raise ValueError(f"query too short: at least {MIN_QUERY_CHARS} characters are needed, got {query.strip()!r}")
        if k <= 0:
            return []
        vector = self._encoder.encode([query])[0]
        pool = max(k * CANDIDATE_FACTOR, MIN_CANDIDATES)
        with self._lock:
            dense: list[tuple[int, float]] = []
            if mode != "bm25":
                dense = self._dense_search(vector, lang, pool)
            lexical = self._lexical.search(query, lang, pool) if mode != "dense" else []
            similarity = dict(dense)
            # BM25-only candidates still get their true cosine: the caller thresholds on it.
            missing = [d for d, _ in lexical if d not in similarity]
            if missing:
                parts = (self._index.reconstruct(_vector_ids(missing)) @ vector).reshape(len(missing), VECTORS_PER_DOC)
                similarity.update(zip(missing, parts.max(axis=1).tolist()))
            candidates = [(self._articles[d], base) for d, base in self._base_scores(mode, dense, lexical).items()]

        bm25 = dict(lexical)
        codes = error_code_keys(query)
        best: dict[str, SearchHit] = {}
        for meta, base in candidates:
            if base < min_score:
                continue
            boosted = product_model is not None and any(model_matches(product_model, m) for m in meta.models)
            if product_model is not None and meta.models and not boosted:
                continue
            code_hit = bool(codes) and bool(codes & error_code_keys(" ".join(meta.error_codes)))
            hit = SearchHit(
                doc_id=meta.doc_id,
                number=meta.number,
                lang=meta.lang,
                title=meta.title,
                summary=meta.summary,
                tags=meta.tags,
                models=meta.models,
                score=base + (MODEL_BOOST if boosted else 0.0) + (CODE_BOOST if code_hit else 0.0),
                error_codes=meta.error_codes,
                similarity=float(similarity[meta.doc_id]),
                bm25=bm25.get(meta.doc_id, 0.0),
            )
            kept = best.get(meta.number)
            if kept is None or hit.score > kept.score:
                best[meta.number] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.doc_id))[:k]

    def _dense_search(self, vector: np.ndarray, lang: str | None, pool: int) -> list[tuple[int, float]]:
        """Documents by their best vector's cosine, best first. Caller holds the lock."""
        best: dict[int, float] = {}
        for vector_id, score in self._index.search(vector, pool * VECTORS_PER_DOC)[0]:
            doc_id = vector_id // VECTORS_PER_DOC
            # Results come best first, so a document's first vector is its best one.
            if doc_id not in best and (lang is None or self._articles[doc_id].lang == lang):
                best[doc_id] = score
        return list(best.items())

    def _base_scores(
        self, mode: str, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]
    ) -> dict[int, float]:
        """Per-mode score in [0, 1] before the boosts. Fused on the language-filtered lists, before
        the product-model exclusion, so a hit scores the same with or without a product model."""
        if mode == "dense":
            return dict(dense)
        if mode == "bm25":
            top = lexical[0][1] if lexical else 1.0
            return {d: s / top for d, s in lexical}
        return dict(fuse(dense, lexical, self.fusion))

    def _touch(self) -> None:
        self._info = replace(
            self._info,
            count=len(self._articles),
            languages=_language_counts(self._articles.values()),
            corpus_fingerprint=None,  # forces the next `build --if-stale` to resync with the corpus
            version=None,  # no longer what any corpus version builds to
            updated_at=_now_iso(),
        )

    def add_articles(self, articles: Iterable[Article]) -> int:
        """Embed and insert articles; an existing doc_id (same number and language) is replaced."""
        articles = list({a.doc_id: a for a in articles}.values())
        if not articles:
            return 0
        vectors = _embed_articles(self._encoder, articles)
        with self._lock:
            self._index.add(_vector_ids(a.doc_id for a in articles), vectors)
            self._lexical.add(articles)  # re-indexes the touched languages: milliseconds at KB scale
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
            self._index.remove(_vector_ids(doc_ids))
            self._lexical.remove(doc_ids)
            for doc_id in doc_ids:
                del self._articles[doc_id]
            self._touch()
        return len(doc_ids)

    def save(self, directory: Path | None = None) -> None:
        """Write the current state (to the directory it was loaded from by default)."""
        target = Path(directory) if directory is not None else self._index_dir
        if target is None:
            raise ValueError("no directory given and the searcher was not loaded from one")
        with self._lock:
            _write_index_dir(target, self._index, self._lexical, self._articles, self._info)
        self._index_dir = target
