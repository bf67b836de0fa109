"""Fusion of the dense and BM25 candidate lists into one ranking (pure functions).

Both functions return scores in [0, 1] (1 = first in every list), so the product-model boost,
an absolute bonus, means the same thing whichever fusion is configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Ranked = Sequence[tuple[int, float]]  # (doc_id, score), best first


@dataclass(frozen=True)
class FusionParams:
    """Defaults measured on data/knowledge_eval/queries.yml (benchmarks/README.md has the grid).

    Convex fusion beat RRF there (hybrid recall@3 fr 0.956 vs 0.897 at k=60, MRR higher in both
    languages): RRF discards the score gaps, and a BM25 lead of 4x on an error code or a rare word
    is information. Recall@3 is flat for alpha 0.4-0.65 (fr) and 0.5-0.7 (en); 0.6 is where hybrid
    beats both single methods on every metric in both languages.
    """

    method: Literal["convex", "rrf"] = "convex"
    # Relative trust in each list: convex uses alpha = dense_weight / (dense_weight + lexical_weight);
    # RRF uses them as per-list weights.
    dense_weight: float = 0.6
    lexical_weight: float = 0.4
    # RRF constant: 60 in the original paper (Cormack et al., 2009), tuned for lists of 1000.
    rrf_k: int = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Ranked], k: int = 60, weights: Sequence[float] | None = None
) -> dict[int, float]:
    """Weighted RRF: ``sum_i w_i / (k + rank_i)``, divided by its maximum ``sum_i w_i / (k + 1)``.

    Ranks only, so the lists' score scales (cosine vs unbounded BM25) never need calibrating; a
    document missing from a list gets nothing from it.
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    best = sum(w / (k + 1) for w in weights)
    if best <= 0:
        raise ValueError("weights must sum to a positive number")
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, (doc_id, _) in enumerate(ranking, 1):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    return {doc_id: score / best for doc_id, score in fused.items()}


def max_normalise(ranking: Ranked) -> dict[int, float]:
    """Scores divided by the list's best one, so the top document gets 1.0.

    Unlike min-max, the result does not depend on how deep the candidate list goes (its minimum
    moves with the pool size); both BM25 and cosine have a natural zero.
    """
    top = max((s for _, s in ranking), default=0.0)
    return {doc_id: s / top if top > 0 else 0.0 for doc_id, s in ranking}


def convex_fusion(dense: Ranked, lexical: Ranked, alpha: float = 0.5) -> dict[int, float]:
    """``alpha * norm(cosine) + (1 - alpha) * norm(bm25)``: keeps the score gaps RRF throws away
    (a BM25 score 4x the runner-up's, typical of an error-code match, counts as such)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    d, b = max_normalise(dense), max_normalise(lexical)
    return {doc_id: alpha * d.get(doc_id, 0.0) + (1 - alpha) * b.get(doc_id, 0.0) for doc_id in d.keys() | b.keys()}


def fuse(dense: Ranked, lexical: Ranked, params: FusionParams) -> Mapping[int, float]:
    if params.method == "rrf":
        return reciprocal_rank_fusion([dense, lexical], params.rrf_k, [params.dense_weight, params.lexical_weight])
    if params.method == "convex":
        alpha = params.dense_weight / (params.dense_weight + params.lexical_weight)
        return convex_fusion(dense, lexical, alpha)
    raise ValueError(f"unknown fusion method {params.method!r}")
