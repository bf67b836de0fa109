"""Evaluation harness: metrics (pure), query file validation, the table, `python -m knowledge_index evaluate`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge_index.cli import main
from knowledge_index.evaluation import (
    EvalQuery,
    Metrics,
    aggregate,
    compute_metrics,
    evaluate,
    first_relevant_rank,
    format_table,
    load_queries,
    mean_reciprocal_rank,
    recall_at,
)
from knowledge_index.store import KnowledgeSearcher

FIXTURE_QUERIES = Path(__file__).parent / "data" / "fixture_queries.yml"


def test_first_relevant_rank():
    assert first_relevant_rank(["KB1", "KB2", "KB3"], {"KB3", "KB2"}) == 2
    assert first_relevant_rank(["KB1"], {"KB9"}) is None
    assert first_relevant_rank([], {"KB1"}) is None


def test_recall_and_mrr():
    ranks = [1, 3, None, 2]
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 3) == 0.75
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert mean_reciprocal_rank([11], depth=10) == 0.0  # beyond the depth counts as not found
    assert recall_at([], 3) == mean_reciprocal_rank([]) == 0.0
    assert compute_metrics(ranks, 3) == Metrics(4, 0.25, 0.75, pytest.approx(11 / 24))


def test_aggregate_per_language_and_all():
    queries = [EvalQuery("a", "fr", "q", ("KB1",)), EvalQuery("b", "en", "q", ("KB1",)), EvalQuery("c", "en", "q", ("KB1",))]
    ranks = {("a", "bm25"): 1, ("b", "bm25"): None, ("c", "bm25"): 2}
    table = aggregate(queries, ranks, ["bm25"], k=3)
    assert list(table) == [("fr", "bm25"), ("en", "bm25"), ("all", "bm25")]
    assert table[("fr", "bm25")] == Metrics(1, 1.0, 1.0, 1.0)
    assert table[("en", "bm25")] == Metrics(2, 0.0, 0.5, 0.25)
    assert table[("all", "bm25")].count == 3 and table[("all", "bm25")].recall_at_k == pytest.approx(2 / 3)

    text = format_table(table, k=3)
    lines = text.splitlines()
    assert lines[0].split() == ["lang", "method", "n", "recall@1", "recall@3", "MRR@10"]
    assert lines[3].split() == ["en", "bm25", "2", "0.000", "0.500", "0.250"]
    assert len(lines) == 5


def test_load_queries(tmp_path: Path):
    queries = load_queries(FIXTURE_QUERIES)
    assert len(queries) == 5 and queries[0] == EvalQuery(
        "fr-1", "fr", "le copieur grince pendant l'impression", ("KB0010001",), "iR-ADV C5560i"
    )
    assert queries[-1].relevant == ("KB0010005", "KB0010001") and queries[-1].asset_model is None

    def write(entries) -> Path:
        path = tmp_path / "q.yml"
        path.write_text(yaml.safe_dump({"queries": entries}))
        return path

    good = {"id": "x", "lang": "fr", "query": "bourrage", "relevant": "KB0010001"}
    assert load_queries(write([good]))[0].relevant == ("KB0010001",)  # a single number is accepted
    for bad, message in [
        ({**good, "lang": "de"}, "lang 'de'"),
        ({**good, "relevant": ["10001"]}, "article numbers"),
        ({k: v for k, v in good.items() if k != "query"}, "missing query"),
        ("just a string", "must be a mapping"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_queries(write([bad]))
    with pytest.raises(ValueError, match="duplicate id 'x'"):
        load_queries(write([good, good]))
    (tmp_path / "empty.yml").write_text("other: 1\n")
    with pytest.raises(ValueError, match="'queries' list"):
        load_queries(tmp_path / "empty.yml")


def test_evaluate_on_the_fixture_index(built_index: Path):
    searcher = KnowledgeSearcher.load(built_index)
    queries = load_queries(FIXTURE_QUERIES) + [EvalQuery("gone", "en", "paper jam", ("KB0099999",))]
    result = evaluate(searcher, queries, k=3)
    assert result.unknown == ("KB0099999",)
    assert set(result.metrics) == {(lang, mode) for lang in ("fr", "en", "all") for mode in ("bm25", "dense", "hybrid")}
    assert result.ranks[("gone", "hybrid")] is None
    assert result.ranks[("fr-3", "bm25")] == 1  # the error code
    hybrid = result.metrics[("all", "hybrid")]
    assert hybrid.count == 6 and hybrid.recall_at_k == pytest.approx(5 / 6)


def test_cli_evaluate(built_index: Path, tmp_path: Path, capsys):
    argv = ["evaluate", "--queries", str(FIXTURE_QUERIES), "--index", str(built_index), "--corpus", str(tmp_path)]
    assert main([*argv, "-k", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["lang", "method", "n", "recall@1", "recall@2"]
    assert [line.split()[:3] for line in out[2:]] == [
        [lang, mode, n] for lang, n in (("fr", "3"), ("en", "2"), ("all", "5")) for mode in ("bm25", "dense", "hybrid")
    ]
    assert main([*argv, "--queries", str(tmp_path / "none.yml")]) == 1
    assert "no query file" in capsys.readouterr().err
    assert main([*argv, "-k", "0"]) == 2
