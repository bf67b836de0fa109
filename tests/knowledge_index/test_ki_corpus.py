from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_index.corpus import Article, CorpusError, corpus_fingerprint, load_corpus

FIXTURE_COUNT = 10  # 5 fixture articles x 2 languages (see conftest.py)


def test_loads_one_article_per_entry_and_language(make_corpus):
    articles = load_corpus(make_corpus())
    assert len(articles) == FIXTURE_COUNT
    # Files in sorted order, entries in file order, fr before en.
    assert [(a.number, a.lang) for a in articles[:4]] == [
        ("KB0010001", "fr"), ("KB0010001", "en"), ("KB0010002", "fr"), ("KB0010002", "en"),
    ]
    assert articles[-1].number == "KB0010005"

    noise_en = articles[1]
    assert isinstance(noise_en, Article)
    assert noise_en.doc_id == 10001 * 10 + 1
    assert articles[0].doc_id == 100010
    assert noise_en.tags == ("fault.malfunction.unusual_noise",)
    assert noise_en.models == ("iR-ADV C5560i",)
    assert noise_en.error_codes == ()
    assert noise_en.title == "Grinding noise from the fuser unit"
    assert noise_en.text.startswith("Grinding noise from the fuser unit\nThe copier makes")
    assert noise_en.body in noise_en.text
    assert len({a.doc_id for a in articles}) == FIXTURE_COUNT


def test_empty_file_is_ignored(make_corpus, corpus_files):
    corpus = make_corpus()
    (corpus / "c_new.yml").write_text("")
    assert len(load_corpus(corpus)) == FIXTURE_COUNT


def _error(make_corpus, files) -> str:
    with pytest.raises(CorpusError) as info:
        load_corpus(make_corpus(files))
    return str(info.value)


def test_missing_language(make_corpus, corpus_files):
    del corpus_files["b_more.yml"][1]["en"]
    msg = _error(make_corpus, corpus_files)
    assert "b_more.yml" in msg and "KB0010005" in msg and "missing 'en'" in msg


def test_missing_title(make_corpus, corpus_files):
    corpus_files["a_faults.yml"][0]["fr"]["title"] = " "
    msg = _error(make_corpus, corpus_files)
    assert "KB0010001" in msg and "fr.title" in msg


def test_duplicate_number_across_files(make_corpus, corpus_files):
    corpus_files["b_more.yml"][0]["number"] = "KB0010002"
    msg = _error(make_corpus, corpus_files)
    assert "b_more.yml" in msg and "KB0010002" in msg and "duplicate" in msg and "a_faults.yml" in msg


@pytest.mark.parametrize("number", ["KB001", "kb0010001", "KA0010001", "KB00100011", 10001, None])
def test_bad_number_format(make_corpus, corpus_files, number):
    corpus_files["a_faults.yml"][1]["number"] = number
    msg = _error(make_corpus, corpus_files)
    assert "a_faults.yml" in msg and "bad number format" in msg


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fault.malfunction.flying_paper", "unknown subcategory 'flying_paper'"),
        ("fault.explosion.loud", "unknown fault category 'explosion'"),
        ("fault.malfunction", "bad tag"),
        ("howto", "bad tag"),
        ("howto.Scan To Email", "bad tag"),
        ("misc.whatever", "bad tag"),
    ],
)
def test_bad_tags(make_corpus, corpus_files, tag, expected):
    corpus_files["a_faults.yml"][2]["tags"] = [tag]
    msg = _error(make_corpus, corpus_files)
    assert "a_faults.yml" in msg and "KB0010003" in msg and expected in msg


def test_taxonomy_path_parameter(make_corpus, corpus_files, tmp_path: Path):
    taxonomy = tmp_path / "taxonomy.yml"
    taxonomy.write_text("faults:\n  malfunction:\n    subcategories:\n      unusual_noise: {}\n")
    corpus = make_corpus({"x.yml": [corpus_files["a_faults.yml"][0]]})  # unusual_noise only
    assert len(load_corpus(corpus, taxonomy_path=taxonomy)) == 2
    with pytest.raises(CorpusError, match="unknown subcategory 'toner_problem'"):
        load_corpus(make_corpus(name="full"), taxonomy_path=taxonomy)


def test_half_written_yaml_names_the_file(make_corpus):
    corpus = make_corpus()
    (corpus / "c_draft.yml").write_text("articles:\n  - number: KB0010009\n    fr: {title: 'unterminated\n")
    with pytest.raises(CorpusError, match=r"c_draft\.yml: invalid YAML"):
        load_corpus(corpus)


def test_wrong_top_level_shape(make_corpus):
    corpus = make_corpus()
    (corpus / "c_list.yml").write_text("- number: KB0010009\n")
    with pytest.raises(CorpusError, match=r"c_list\.yml: expected a mapping with an 'articles' list"):
        load_corpus(corpus)


def test_models_must_be_a_list_of_strings(make_corpus, corpus_files):
    corpus_files["a_faults.yml"][0]["models"] = "iR-ADV C5560i"
    assert "'models' must be a list" in _error(make_corpus, corpus_files)


def test_missing_directory(tmp_path: Path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_fingerprint_tracks_names_and_contents(make_corpus):
    corpus = make_corpus()
    first = corpus_fingerprint(corpus)
    assert first == corpus_fingerprint(corpus) and len(first) == 64
    (corpus / "notes.txt").write_text("ignored: not a *.yml file")
    assert corpus_fingerprint(corpus) == first

    path = corpus / "b_more.yml"
    original = path.read_text()
    path.write_text(original.replace("Burning smell", "Burnt smell"))
    assert corpus_fingerprint(corpus) != first
    path.write_text(original)
    assert corpus_fingerprint(corpus) == first

    path.rename(corpus / "c_more.yml")
    assert corpus_fingerprint(corpus) != first
