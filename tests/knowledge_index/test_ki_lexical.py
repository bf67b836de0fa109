"""BM25 index: per-language search, save/load round trip, add/remove kept in sync (also through the searcher)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from knowledge_index.corpus import Article, load_corpus
from knowledge_index.lexical import LEXICAL_FILE, BM25Params, LexicalIndex
from knowledge_index.store import KnowledgeSearcher


@pytest.fixture
def articles(make_corpus) -> list[Article]:
    return load_corpus(make_corpus())


def numbers(index: LexicalIndex, query: str, lang: str | None) -> list[int]:
    return [doc_id for doc_id, _ in index.search(query, lang, 10)]


def test_search_per_language(articles):
    index = LexicalIndex.from_articles(articles)
    assert len(index) == 10
    hits = index.search("bourrage dans le chargeur", "fr", 10)
    assert hits[0][0] == 100030 and all(doc_id % 10 == 0 for doc_id, _ in hits)  # French versions only
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True) and all(s > 0 for _, s in hits)
    assert numbers(index, "paper jam in the feeder", "en")[0] == 100031
    # An error code listed only as metadata is searchable; "0001" alone finds it too.
    assert numbers(index, "E100-0001", "en")[0] == 100031
    # Without a language, each language's documents are scored with that language's analysis.
    assert set(numbers(index, "toner", None)[:2]) == {100020, 100021}
    assert index.search("zzzz qqqq", "fr", 10) == []  # no shared term: no candidate
    assert len(index.search("toner", "en", 1)) == 1


def test_save_load_round_trip(articles, tmp_path: Path):
    index = LexicalIndex.from_articles(articles, BM25Params(k1=1.2, b=0.6))
    tmp_path = tmp_path / "index"
    index.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {LEXICAL_FILE, "bm25_fr", "bm25_en"}  # no temp dir left
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.params == index.params and sorted(loaded.ids()) == sorted(index.ids())
    for query, lang in [("grincement fixation", "fr"), ("toner powder", "en"), ("smell", None)]:
        assert loaded.search(query, lang, 10) == index.search(query, lang, 10)
    assert loaded.terms(100011) == index.terms(100011)

    # Missing or mismatched bm25s files: re-indexed from the saved texts, same results.
    shutil.rmtree(tmp_path / "bm25_fr")
    assert LexicalIndex.load(tmp_path).search("grincement", "fr", 10) == index.search("grincement", "fr", 10)
    # Written by an older analyzer: re-indexed as well.
    data = json.loads((tmp_path / LEXICAL_FILE).read_text())
    (tmp_path / LEXICAL_FILE).write_text(json.dumps({**data, "analyzer": "old"}))
    assert LexicalIndex.load(tmp_path).search("toner", "en", 10) == index.search("toner", "en", 10)
    (tmp_path / LEXICAL_FILE).write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(ValueError, match="unsupported lexical index format"):
        LexicalIndex.load(tmp_path)


def test_add_replace_remove_stay_in_sync(articles):
    index = LexicalIndex.from_articles(articles)
    toner_en = next(a for a in articles if a.doc_id == 100021)
    wifi = dataclasses.replace(toner_en, title="Wireless network setup", summary="Join the Wi-Fi.", body="Enter the key.")
    index.add([wifi])
    assert len(index) == 10  # replaced, not duplicated
    assert numbers(index, "wireless network", "en") == [100021]
    assert 100021 not in numbers(index, "toner powder", "en")
    assert 100020 in numbers(index, "poudre de toner", "fr")  # the other language is untouched

    new = dataclasses.replace(wifi, doc_id=100061, number="KB0010006", title="Smudged copies", summary="Grey smudges.")
    index.add([new])
    assert numbers(index, "smudges", "en") == [100061]

    assert index.remove([100061, 100031, 999]) == 2
    assert len(index) == 9 and 100031 not in index.ids()
    assert numbers(index, "smudges", "en") == [] and 100031 not in numbers(index, "paper jam feeder", "en")
    # Removing every document of a language leaves an empty, still searchable, index.
    index.remove([d for d in index.ids() if d % 10 == 1])
    assert index.search("toner", "en", 10) == [] and index.search("toner", "fr", 10)


def test_searcher_add_remove_keep_bm25_in_sync(fresh_index, corpus_files, make_corpus):
    _, index_dir = fresh_index
    searcher = KnowledgeSearcher.load(index_dir)
    corpus_files["b_more.yml"].append(
        {**corpus_files["b_more.yml"][1], "number": "KB0010006", "error_codes": ["#0752"],
         "en": {"title": "Scanner glass streaks", "summary": "Lines on scans.", "body": "Clean the glass."}}
    )
    added = [a for a in load_corpus(make_corpus(corpus_files, name="v2")) if a.number == "KB0010006"]
    searcher.add_articles(added)
    hits = searcher.search("#0752", lang="en", mode="bm25")
    assert hits[0].number == "KB0010006" and hits[0].bm25 > 0

    searcher.remove_articles("KB0010006")
    assert all(h.number != "KB0010006" for h in searcher.search("#0752 scanner glass", mode="bm25", min_score=-1))
    searcher.remove_articles("KB0010003")
    searcher.save()
    reloaded = KnowledgeSearcher.load(index_dir)
    assert all(h.number != "KB0010003" for h in reloaded.search("document feeder jam", mode="bm25", min_score=-1))
    assert json.loads((index_dir / LEXICAL_FILE).read_text())["languages"]["en"]["doc_ids"] == [100011, 100021, 100041, 100051]


def test_searcher_refuses_bm25_that_disagrees(built_index: Path, tmp_path: Path):
    broken = tmp_path / "broken"
    shutil.copytree(built_index, broken)
    data = json.loads((broken / LEXICAL_FILE).read_text())
    data["languages"]["en"] = {"doc_ids": data["languages"]["en"]["doc_ids"][1:],
                               "texts": data["languages"]["en"]["texts"][1:]}
    (broken / LEXICAL_FILE).write_text(json.dumps(data))
    with pytest.raises(ValueError, match="BM25 index and article metadata disagree"):
        KnowledgeSearcher.load(broken)
