"""Retrieval-quality regression: hybrid recall@3 on the labelled queries must stay >= 0.95 per language.

Uses the repo's own index when it is fresh for data/knowledge (as `make data` leaves it), else
builds one in a temporary directory (about a minute on 2 cores); var/ is never written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_index.evaluation import evaluate, format_table, load_queries
from knowledge_index.store import KnowledgeSearcher, build_index, is_stale

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "data" / "knowledge"
QUERIES = REPO / "data" / "knowledge_eval" / "queries.yml"
REPO_INDEX = REPO / "var" / "knowledge_index"
MIN_RECALL_AT_3 = 0.95


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    if not is_stale(CORPUS, REPO_INDEX):
        return REPO_INDEX
    out = tmp_path_factory.mktemp("real") / "knowledge_index"
    build_index(CORPUS, out, progress=False)
    return out


@pytest.mark.skipif(not QUERIES.is_file(), reason=f"no labelled queries yet ({QUERIES.relative_to(REPO)} is missing)")
def test_hybrid_recall_at_3_per_language(real_index: Path):
    queries = load_queries(QUERIES)
    result = evaluate(KnowledgeSearcher.load(real_index), queries, modes=("hybrid",), k=3)
    assert not result.unknown, f"queries name articles missing from data/knowledge: {result.unknown}"
    table = format_table(result.metrics, 3)
    for lang in ("fr", "en"):
        metrics = result.metrics[(lang, "hybrid")]
        assert metrics.count > 0, f"no {lang} query in {QUERIES}"
        assert metrics.recall_at_k >= MIN_RECALL_AT_3, f"hybrid recall@3 ({lang}) fell below {MIN_RECALL_AT_3}:\n{table}"
