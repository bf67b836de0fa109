"""Retrieval evaluation: labelled queries -> recall@1, recall@k and MRR per language and search mode.

Query file (YAML)::

    queries:
      - id: fr-001
        lang: fr
        query: "le copieur fait un bruit de grincement"
        relevant: [KB0010001]          # any of these in the results counts as a hit
        asset_model: iR-ADV C5560i     # optional: searched as the user's product model

recall@k is the share of queries with at least one relevant article in the top k; MRR averages
1 / rank of the first relevant article (0 when none is within ``depth`` results).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .corpus import LANGUAGES, NUMBER_RE

if TYPE_CHECKING:
    from .store import KnowledgeSearcher

ALL = "all"
MRR_DEPTH = 10  # MRR looks this deep even when the table's recall cut-off is smaller


@dataclass(frozen=True)
class EvalQuery:
    id: str
    lang: str
    query: str
    relevant: tuple[str, ...]
    asset_model: str | None = None


@dataclass(frozen=True)
class Metrics:
    count: int
    recall_at_1: float
    recall_at_k: float
    mrr: float


@dataclass(frozen=True)
class EvalResult:
    k: int
    metrics: dict[tuple[str, str], Metrics]  # (lang or "all", mode) -> metrics
    ranks: dict[tuple[str, str], int | None]  # (query id, mode) -> rank of the first relevant hit
    unknown: tuple[str, ...]  # relevant numbers absent from the index: labels or index out of date


def load_queries(path: Path) -> list[EvalQuery]:
    """Read and validate a query file; ValueError names the offending entry."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    entries = data.get("queries") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a mapping with a 'queries' list")
    queries: list[EvalQuery] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        queries.append(_parse_query(entry, f"{path}: queries[{i}]"))
        if queries[-1].id in seen:
            raise ValueError(f"{path}: queries[{i}]: duplicate id {queries[-1].id!r}")
        seen.add(queries[-1].id)
    return queries


def _parse_query(entry: Any, where: str) -> EvalQuery:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    missing = [key for key in ("id", "lang", "query", "relevant") if entry.get(key) in (None, "", [])]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if entry["lang"] not in LANGUAGES:
        raise ValueError(f"{where}: lang {entry['lang']!r} is not one of {LANGUAGES}")
    relevant = entry["relevant"]
    relevant = [relevant] if isinstance(relevant, str) else relevant
    if not isinstance(relevant, list) or not all(isinstance(n, str) and NUMBER_RE.match(n) for n in relevant):
        raise ValueError(f"{where}: 'relevant' must be a list of article numbers like KB0010001")
    asset = entry.get("asset_model")
    return EvalQuery(
        id=str(entry["id"]),
        lang=entry["lang"],
        query=str(entry["query"]),
        relevant=tuple(relevant),
        asset_model=str(asset) if asset else None,
    )


# --- metrics (pure) ------------------------------------------------------------------------------

def first_relevant_rank(ranked: Sequence[str], relevant: Collection[str]) -> int | None:
    """1-based rank of the first relevant item of ``ranked``, None if there is none."""
    return next((rank for rank, item in enumerate(ranked, 1) if item in relevant), None)


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of queries whose first relevant item is within the top ``k``."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mean_reciprocal_rank(ranks: Sequence[int | None], depth: int = MRR_DEPTH) -> float:
    return sum(1.0 / r for r in ranks if r is not None and r <= depth) / len(ranks) if ranks else 0.0


def compute_metrics(ranks: Sequence[int | None], k: int) -> Metrics:
    return Metrics(len(ranks), recall_at(ranks, 1), recall_at(ranks, k), mean_reciprocal_rank(ranks))


def aggregate(
    queries: Sequence[EvalQuery], ranks: Mapping[tuple[str, str], int | None], modes: Sequence[str], k: int
) -> dict[tuple[str, str], Metrics]:
    """Metrics per (language, mode) and over all languages (``"all"``)."""
    table: dict[tuple[str, str], Metrics] = {}
    for lang in (*LANGUAGES, ALL):
        subset = [q for q in queries if lang in (ALL, q.lang)]
        for mode in modes:
            table[(lang, mode)] = compute_metrics([ranks[(q.id, mode)] for q in subset], k)
    return table


def format_table(metrics: Mapping[tuple[str, str], Metrics], k: int) -> str:
    """One plain-text table: rows language x mode, columns n, recall@1, recall@k, MRR."""
    header = f"{'lang':<5} {'method':<7} {'n':>4}  {'recall@1':>8}  {f'recall@{k}':>8}  {f'MRR@{MRR_DEPTH}':>7}"
    lines = [header, "-" * len(header)]
    for (lang, mode), m in metrics.items():
        lines.append(f"{lang:<5} {mode:<7} {m.count:>4}  {m.recall_at_1:>8.3f}  {m.recall_at_k:>8.3f}  {m.mrr:>7.3f}")
    return "\n".join(lines)


# --- running ---------------------------------------------------------------------------------------

def evaluate(
    searcher: KnowledgeSearcher,
    queries: Sequence[EvalQuery],
    modes: Iterable[str] = ("bm25", "dense", "hybrid"),
    k: int = 3,
) -> EvalResult:
    """Run every query in every mode, the way the backend searches (its language, its device)."""
    modes = tuple(modes)
    depth = max(k, MRR_DEPTH)
    known = searcher.article_numbers()
    ranks: dict[tuple[str, str], int | None] = {}
    for query in queries:
        for mode in modes:
            hits = searcher.search(query.query, lang=query.lang, product_model=query.asset_model, k=depth, mode=mode)
            ranks[(query.id, mode)] = first_relevant_rank([h.number for h in hits], query.relevant)
    unknown = sorted({n for q in queries for n in q.relevant} - known)
    return EvalResult(k, aggregate(queries, ranks, modes, k), ranks, tuple(unknown))
