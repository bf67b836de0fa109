from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from knowledge_index.analysis import ANALYZER_VERSION
from knowledge_index.corpus import load_corpus
from knowledge_index.embedder import DEFAULT_MODEL
from knowledge_index.store import (
    MIN_QUERY_CHARS,
    MODEL_BOOST,
    SEARCH_MODES,
    KnowledgeSearcher,
    build_index,
    is_stale,
    model_matches,
)

QUERIES = [
    ("paper stuck in the document feeder", "en", "KB0010003"),
    ("toner powder spilled everywhere", "en", "KB0010002"),
    ("le copieur fait un grincement", "fr", "KB0010001"),
    ("fuite de poudre de toner", "fr", "KB0010002"),
    ("how do I send a scan by email", "en", "KB0010004"),
]


def test_build_writes_metadata(built_index: Path):
    build = json.loads((built_index / "build.json").read_text())
    assert build["format_version"] == 2 and build["model"] == DEFAULT_MODEL
    assert build["dim"] == 384 and build["count"] == 10
    assert build["languages"] == {"fr": 5, "en": 5}
    assert len(build["corpus_fingerprint"]) == 64 and build["built_at"].endswith("+00:00")
    assert build["build_seconds"] >= 0

    articles = json.loads((built_index / "articles.json").read_text())
    assert articles["100031"] == {
        "number": "KB0010003",
        "lang": "en",
        "title": "Paper jam in the document feeder",
        "summary": "Originals get stuck in the top document feeder (DADF).",
        "tags": ["fault.paper_jam.dadf"],
        "models": [],
        "error_codes": ["E100-0001"],
    }
    assert build["analyzer"] == ANALYZER_VERSION
    assert {"index.faiss", "index_meta.json", "lexical.json", "bm25_fr", "bm25_en"} <= {p.name for p in built_index.iterdir()}
    # Two vectors per document: full text, and title + summary.
    assert json.loads((built_index / "index_meta.json").read_text())["count"] == 20


@pytest.mark.parametrize("mode", SEARCH_MODES)
@pytest.mark.parametrize(("query", "lang", "expected"), QUERIES)
def test_search_finds_the_relevant_article(built_index: Path, query, lang, expected, mode):
    searcher = KnowledgeSearcher.load(built_index)
    hits = searcher.search(query, lang=lang, k=3, mode=mode)
    assert hits[0].number == expected and hits[0].lang == lang
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 < h.score <= 1.0 + 1e-6 for h in hits)  # every mode scores in [0, 1] before any boost


def test_lang_filter_and_dedup(built_index: Path):
    searcher = KnowledgeSearcher.load(built_index)
    for lang in ("fr", "en"):
        hits = searcher.search("paper jam", lang=lang, k=10, min_score=-1.0)
        assert len(hits) == 5 and {h.lang for h in hits} == {lang}
    # Without a language, each article number appears once, in its better-scoring language.
    hits = searcher.search("paper jam", k=10, min_score=-1.0)
    assert len(hits) == 5 and len({h.number for h in hits}) == 5
    # The default min_score=0.0 drops documents that point away from the query (and BM25 does not match).
    assert all(h.similarity >= 0.0 for h in searcher.search("paper jam", k=10, mode="dense"))
    assert all(h.similarity >= 0.0 or h.bm25 > 0 for h in searcher.search("paper jam", k=10))
    assert len(searcher.search("paper jam", k=2)) == 2
    assert searcher.search("paper", k=0) == []
    with pytest.raises(ValueError, match="unsupported language"):
        searcher.search("paper jam", lang="de")


@pytest.mark.parametrize("query", ["", "  ", "ab", " ab ", "#1"])
def test_short_queries_are_refused(built_index: Path, query):
    searcher = KnowledgeSearcher.load(built_index)
    with pytest.raises(ValueError, match="at least 3 characters"):
        searcher.search(query)
    assert MIN_QUERY_CHARS == 3
    assert searcher.search("fax", k=1) is not None  # exactly 3 characters is fine


def test_mode_is_validated(built_index: Path):
    searcher = KnowledgeSearcher.load(built_index)
    with pytest.raises(ValueError, match="unsupported search mode 'semantic'"):
        searcher.search("paper jam", mode="semantic")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_min_score_applies_to_the_score_before_boosts(built_index: Path, mode):
    searcher = KnowledgeSearcher.load(built_index)
    hits = searcher.search("the copier makes a noise", lang="en", k=5, mode=mode, min_score=-1.0)
    strict = searcher.search("the copier makes a noise", lang="en", k=5, mode=mode, min_score=hits[1].score - 1e-6)
    assert [h.number for h in strict] == [h.number for h in hits[:2]]
    assert searcher.search("the copier makes a noise", k=5, mode=mode, min_score=1.01) == []  # unboosted scores are <= 1
    if mode == "dense":  # as before hybrid search: the floor is on the cosine
        assert all(h.score == h.similarity for h in hits)
    # The product-model boost reorders but never lets a hit through.
    boosted = searcher.search("the copier makes a noise", lang="en", k=5, mode=mode, min_score=hits[1].score - 1e-6,
                              product_model="iR-ADV C5560i")
    assert {h.number for h in boosted} <= {h.number for h in strict}


def test_hits_carry_cosine_and_bm25(built_index: Path):
    searcher = KnowledgeSearcher.load(built_index)
    dense = {h.number: h for h in searcher.search("toner powder spilled", lang="en", k=5, mode="dense", min_score=-1)}
    for mode in ("hybrid", "bm25"):
        for hit in searcher.search("toner powder spilled", lang="en", k=5, mode=mode, min_score=-1):
            # The same cosine whichever list found the document (BM25-only hits are reconstructed).
            assert hit.similarity == pytest.approx(dense[hit.number].similarity, abs=1e-5)
    bm25_hits = searcher.search("toner powder spilled", lang="en", k=5, mode="bm25")
    assert bm25_hits[0].number == "KB0010002" and bm25_hits[0].bm25 > 0 and bm25_hits[0].score == pytest.approx(1.0)
    assert all(h.bm25 == 0.0 for h in dense.values())


def test_save_load_round_trip_gives_identical_results(built_index: Path, tmp_path: Path):
    first = KnowledgeSearcher.load(built_index)
    first.save(tmp_path / "copy")
    second = KnowledgeSearcher.load(tmp_path / "copy")
    assert len(second) == len(first) == 10 and second.build_info == first.build_info
    for query, lang, _ in QUERIES:
        for kwargs in ({"lang": lang}, {}, {"product_model": "Canon iR-ADV C5560i"}):
            assert second.search(query, k=5, **kwargs) == first.search(query, k=5, **kwargs)


@pytest.mark.parametrize(
    ("product", "article", "expected"),
    [
        ("Canon iR-ADV C5560i", "iR-ADV C5560i", True),
        ("ir-adv c5560i", "iR-ADV C5560i", True),
        ("iR ADV C5560i", "Canon iR-ADV C5560i", True),
        ("iR-ADV C5560", "iR-ADV C5560i", False),
        ("iR-ADV C3530i", "iR-ADV C5560i", False),
        ("Canon", "Canon iR-ADV C5560i", False),
        ("iR-ADV", "iR-ADV C5560i", False),
        ("", "iR-ADV C5560i", False),
    ],
)
def test_model_matching(product, article, expected):
    assert model_matches(product, article) is expected


def test_product_model_boost_orders_model_specific_first(make_corpus, corpus_files, tmp_path: Path, embedder):
    # Two articles with the same text: only the product model can separate them.
    noise = corpus_files["a_faults.yml"][0]
    generic = {**noise, "number": "KB0010009", "models": []}
    other = {**noise, "number": "KB0010008", "models": ["iR-ADV C3530i"]}
    corpus = make_corpus({"noise.yml": [generic, other, noise]})
    build_index(corpus, tmp_path / "idx", progress=False)
    searcher = KnowledgeSearcher.load(tmp_path / "idx")

    query = "grinding noise when printing"
    plain = {h.number: h for h in searcher.search(query, lang="en", k=3, mode="dense")}
    assert all(h.score == h.similarity for h in plain.values())  # dense mode: the score is the cosine

    boosted = searcher.search(query, lang="en", k=3, product_model="Canon iR-ADV C5560i", mode="dense")
    assert boosted[0].number == "KB0010001"
    assert boosted[0].score == pytest.approx(plain["KB0010001"].similarity + MODEL_BOOST)
    # The generic article follows, unpenalised; the one written only for another model is left out.
    assert [(h.number, h.score) for h in boosted[1:]] == [("KB0010009", plain["KB0010009"].score)]
    # Another product: its own article first, the generic one is not penalised.
    other_first = searcher.search(query, lang="en", k=3, product_model="ir-adv c3530i", mode="dense")
    assert [h.number for h in other_first] == ["KB0010008", "KB0010009"]
    assert other_first[1].score == plain["KB0010009"].score
    # Without a product, every article is a candidate.
    assert set(plain) == {"KB0010001", "KB0010008", "KB0010009"}

    # Hybrid: fused before the exclusion, so the boost is exactly MODEL_BOOST on the same score.
    fused = {h.number: h for h in searcher.search(query, lang="en", k=3)}
    hybrid = searcher.search(query, lang="en", k=3, product_model="Canon iR-ADV C5560i")
    assert [h.number for h in hybrid] == ["KB0010001", "KB0010009"]
    assert hybrid[0].score == pytest.approx(fused["KB0010001"].score + MODEL_BOOST)
    assert hybrid[1].score == fused["KB0010009"].score


def test_add_replaces_and_remove_deletes_without_rebuild(fresh_index, corpus_files, make_corpus, tmp_path: Path):
    _, index_dir = fresh_index
    searcher = KnowledgeSearcher.load(index_dir)

    # Rewrite KB0010002 (toner) into a Wi-Fi article and add a brand-new KB0010006.
    corpus_files["a_faults.yml"][1]["en"] = {
        "title": "Connect the copier to the Wi-Fi network",
        "summary": "Set up the wireless LAN connection.",
        "body": "Open Settings, Network, Wireless LAN and enter the network password.",
    }
    corpus_files["b_more.yml"].append(
        {**corpus_files["b_more.yml"][1], "number": "KB0010006",
         "en": {"title": "Smudged copies", "summary": "Copies show grey smudges.", "body": "Clean the platen glass."}}
    )
    updated = [a for a in load_corpus(make_corpus(corpus_files, name="v2"))
               if a.number in {"KB0010002", "KB0010006"}]
    assert searcher.add_articles(updated) == 4
    assert len(searcher) == 12  # KB0010002 replaced (not duplicated), KB0010006 added

    assert searcher.search("wireless network setup", lang="en", k=1)[0].number == "KB0010002"
    toner = searcher.search("toner leaking inside", lang="en", k=5)
    assert toner[0].number != "KB0010002"
    assert searcher.search("grey smudges on copies", lang="en", k=1)[0].number == "KB0010006"

    assert searcher.remove_articles(["KB0010003", "KB0099999"]) == 2
    assert len(searcher) == 10
    assert all(h.number != "KB0010003" for h in searcher.search("paper jam document feeder", k=10, min_score=-1))
    assert searcher.remove_articles("KB0010003") == 0

    searcher.save()
    reloaded = KnowledgeSearcher.load(index_dir)
    assert len(reloaded) == 10 and reloaded.build_info.count == 10
    assert reloaded.build_info.languages == {"fr": 5, "en": 5}
    assert reloaded.search("wireless network setup", lang="en", k=1)[0].number == "KB0010002"
    assert all(h.number != "KB0010003" for h in reloaded.search("paper jam document feeder", k=10, min_score=-1))


def test_staleness(fresh_index, tmp_path: Path):
    corpus, index_dir = fresh_index
    assert not is_stale(corpus, index_dir, DEFAULT_MODEL)
    assert is_stale(corpus, tmp_path / "missing", DEFAULT_MODEL)
    assert is_stale(corpus, index_dir, "some-other-model")

    # Content change, new file, removed file.
    path = corpus / "b_more.yml"
    original = path.read_text()
    path.write_text(original.replace("Burning smell", "Burnt smell"))
    assert is_stale(corpus, index_dir, DEFAULT_MODEL)
    path.write_text(original)
    assert not is_stale(corpus, index_dir, DEFAULT_MODEL)
    (corpus / "c_new.yml").write_text("")
    assert is_stale(corpus, index_dir, DEFAULT_MODEL)
    (corpus / "c_new.yml").unlink()
    assert not is_stale(corpus, index_dir, DEFAULT_MODEL)

    # Incomplete or corrupt index directories.
    broken = tmp_path / "broken"
    shutil.copytree(index_dir, broken)
    (broken / "build.json").write_text("{not json")
    assert is_stale(corpus, broken, DEFAULT_MODEL)
    (broken / "build.json").unlink()
    assert is_stale(corpus, broken, DEFAULT_MODEL)
    (index_dir / "articles.json").unlink()
    assert is_stale(corpus, index_dir, DEFAULT_MODEL)


def test_incremental_update_marks_index_stale(fresh_index):
    corpus, index_dir = fresh_index
    searcher = KnowledgeSearcher.load(index_dir)
    searcher.remove_articles(["KB0010005"])
    searcher.save()
    # The index no longer mirrors a corpus snapshot: the next `build --if-stale` must rebuild.
    assert is_stale(corpus, index_dir, DEFAULT_MODEL)
    assert KnowledgeSearcher.load(index_dir).build_info.corpus_fingerprint is None


def test_load_errors(tmp_path: Path, built_index: Path):
    with pytest.raises(FileNotFoundError, match="no complete knowledge index"):
        KnowledgeSearcher.load(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(built_index, broken)
    articles = json.loads((broken / "articles.json").read_text())
    del articles["100011"]
    (broken / "articles.json").write_text(json.dumps(articles))
    with pytest.raises(ValueError, match="disagree"):
        KnowledgeSearcher.load(broken)
