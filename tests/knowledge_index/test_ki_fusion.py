"""Fusion of the dense and BM25 rankings (pure functions) and its use by the searcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_index.fusion import FusionParams, convex_fusion, fuse, max_normalise, reciprocal_rank_fusion
from knowledge_index.store import CODE_BOOST, KnowledgeSearcher

# doc 1: first for dense, last for BM25; doc 2: second in both; doc 3: BM25 only, far ahead;
# doc 4: dense only; doc 5: low in both.
DENSE = [(1, 0.80), (2, 0.78), (4, 0.40), (5, 0.20)]
LEXICAL = [(3, 12.0), (2, 3.0), (5, 2.8), (1, 1.0)]


def ordered(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda d: (-scores[d], d))


def test_rrf_ordering_and_scale():
    fused = reciprocal_rank_fusion([DENSE, LEXICAL], k=60)
    # Second in both lists beats first-and-last; ranks only: doc 3's big BM25 lead counts for
    # no more than a first place, and doc 5, low in both lists, passes it.
    assert ordered(fused) == [2, 1, 5, 3, 4]
    assert fused[2] == pytest.approx(61 / 62)
    assert max(fused.values()) <= 1.0
    assert reciprocal_rank_fusion([DENSE, DENSE], k=60)[1] == pytest.approx(1.0)  # first everywhere = 1
    # Weights shift the balance: trusting BM25 alone puts its order first.
    assert ordered(reciprocal_rank_fusion([DENSE, LEXICAL], k=60, weights=[0.0, 1.0]))[:3] == [3, 2, 5]
    # A small k makes the head of each list count more.
    assert ordered(reciprocal_rank_fusion([DENSE, LEXICAL], k=0)) == [1, 2, 3, 5, 4]


def test_rrf_errors():
    with pytest.raises(ValueError, match="1 weights for 2 rankings"):
        reciprocal_rank_fusion([DENSE, LEXICAL], weights=[1.0])
    with pytest.raises(ValueError, match="positive"):
        reciprocal_rank_fusion([DENSE], weights=[0.0])
    assert reciprocal_rank_fusion([[], []]) == {}


def test_convex_fusion_keeps_score_gaps():
    assert max_normalise(LEXICAL) == {3: 1.0, 2: 0.25, 5: pytest.approx(2.8 / 12), 1: pytest.approx(1 / 12)}
    assert max_normalise([]) == {}
    fused = convex_fusion(DENSE, LEXICAL, alpha=0.5)
    # Unlike RRF, doc 3's large BM25 lead keeps it ahead of doc 5, weak in both lists.
    assert ordered(fused) == [2, 1, 3, 4, 5]
    assert fused[2] == pytest.approx(0.5 * 0.78 / 0.8 + 0.5 * 0.25)
    assert fused[3] == pytest.approx(0.5)
    assert ordered(convex_fusion(DENSE, LEXICAL, alpha=1.0))[:4] == [1, 2, 4, 5]
    assert ordered(convex_fusion(DENSE, LEXICAL, alpha=0.0))[:4] == [3, 2, 5, 1]
    assert convex_fusion(DENSE, [], 0.5) == {1: 0.5, 2: pytest.approx(0.4875), 4: 0.25, 5: 0.125}
    with pytest.raises(ValueError, match="alpha"):
        convex_fusion(DENSE, LEXICAL, alpha=1.5)


def test_fuse_dispatches_on_params():
    assert fuse(DENSE, LEXICAL, FusionParams()) == convex_fusion(DENSE, LEXICAL, 0.6)
    rrf = FusionParams(method="rrf", rrf_k=10, dense_weight=2.0, lexical_weight=1.0)
    assert fuse(DENSE, LEXICAL, rrf) == reciprocal_rank_fusion([DENSE, LEXICAL], 10, [2.0, 1.0])
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse(DENSE, LEXICAL, FusionParams(method="magic"))  # type: ignore[arg-type]


@pytest.mark.parametrize("params", [FusionParams(), FusionParams(method="rrf")])
def test_searcher_fuses_both_lists(built_index: Path, params):
    searcher = KnowledgeSearcher.load(built_index)
    searcher.fusion = params
    query = "squeaking"  # BM25 also matches the toner article ("squeaking" is not in it, but its 5-grams are)
    dense = searcher.search(query, lang="en", k=5, mode="dense", min_score=-1)
    bm25 = searcher.search(query, lang="en", k=5, mode="bm25", min_score=-1)
    hybrid = searcher.search(query, lang="en", k=5, min_score=-1)
    assert dense[0].number == bm25[0].number == hybrid[0].number == "KB0010001"
    # Every hybrid score is the fusion of the two lists, and the order follows it.
    expected = fuse([(h.doc_id, h.similarity) for h in dense], [(h.doc_id, h.bm25) for h in bm25], params)
    assert [h.score for h in hybrid] == pytest.approx([expected[h.doc_id] for h in hybrid])
    assert [h.doc_id for h in hybrid] == sorted(expected, key=lambda d: (-expected[d], d))
    # BM25 evidence moves the toner article up from its dense rank.
    rank = {mode: [h.number for h in hits].index("KB0010002") for mode, hits in (("dense", dense), ("hybrid", hybrid))}
    assert rank["hybrid"] < rank["dense"]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_error_code_in_query_puts_its_article_first(built_index: Path, mode):
    searcher = KnowledgeSearcher.load(built_index)
    # "E100" is only the first part of the listed "E100-0001"; the code means nothing to the embedding.
    hits = searcher.search("what does E100 mean", lang="en", k=3, mode=mode, min_score=-1)
    assert hits[0].number == "KB0010003" and hits[0].score >= CODE_BOOST
    assert all(h.score < CODE_BOOST for h in hits[1:])
