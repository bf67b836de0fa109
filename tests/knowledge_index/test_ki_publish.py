"""Published index versions: one read-only directory per corpus version, built once, never modified in place."""
from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import pytest

from knowledge_index.cli import main
from knowledge_index.store import (
    VERSION_PATTERN,
    KnowledgeSearcher,
    build_index,
    index_version,
    is_stale,
    publish_index,
    published_version,
    read_build_info,
)


def test_version_names_the_corpus_content_and_the_model(make_corpus, tmp_path: Path):
    corpus = make_corpus()
    version = index_version(corpus)
    assert re.match(VERSION_PATTERN, version)
    assert index_version(make_corpus(name="same")) == version  # where the corpus lies does not matter
    assert index_version(corpus, model="another-model") != version

    (corpus / "b_more.yml").write_text((corpus / "b_more.yml").read_text().replace("Burning", "Burnt"))
    assert index_version(corpus) != version


def test_publish_builds_once_into_a_read_only_version(make_corpus, tmp_path: Path, embedder):
    corpus, root = make_corpus(), tmp_path / "published"
    first = publish_index(corpus, root)

    assert first.built and first.version == index_version(corpus) and first.path == root / first.version
    assert read_build_info(first.path).version == first.version == first.info.version
    assert published_version(first.path) == first.version and published_version(root / "nothing") is None
    assert not is_stale(corpus, first.path)  # the same build `build --if-stale` would accept
    assert sorted(p.name for p in root.iterdir()) == [first.version]  # no work directory left behind
    for path in [first.path, *first.path.rglob("*")]:
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    built_at = first.info.built_at

    again = publish_index(corpus, root)
    assert not again.built and again.version == first.version and again.info.built_at == built_at

    searcher = KnowledgeSearcher.load(first.path)
    assert searcher.build_info.version == first.version
    assert searcher.search("paper stuck in the document feeder", lang="en", k=1)[0].number == "KB0010003"


def test_a_new_corpus_publishes_beside_the_old_version(make_corpus, tmp_path: Path, embedder):
    corpus, root = make_corpus(), tmp_path / "published"
    old = publish_index(corpus, root)
    (corpus / "b_more.yml").write_text((corpus / "b_more.yml").read_text().replace("Burning", "Burnt"))
    new = publish_index(corpus, root)

    assert new.built and new.version != old.version
    assert sorted(p.name for p in root.iterdir()) == sorted([old.version, new.version])
    assert read_build_info(old.path).version == old.version  # the old version is untouched


def test_concurrent_publishers_of_one_version_are_harmless(make_corpus, tmp_path: Path, embedder):
    corpus, root = make_corpus(), tmp_path / "published"
    results, errors = [], []

    def publish() -> None:
        try:
            results.append(publish_index(corpus, root))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert {r.version for r in results} == {index_version(corpus)}
    assert sorted(p.name for p in root.iterdir()) == [index_version(corpus)]


def test_a_directory_holding_another_version_is_refused(make_corpus, tmp_path: Path, embedder):
    corpus, root = make_corpus(), tmp_path / "published"
    other = make_corpus(name="other")
    (other / "b_more.yml").write_text((other / "b_more.yml").read_text().replace("Burning", "Burnt"))
    build_index(other, root / index_version(corpus), progress=False)
    with pytest.raises(ValueError, match="remove it"):
        publish_index(corpus, root)


def test_an_update_in_place_forgets_the_version(fresh_index):
    corpus, index_dir = fresh_index
    searcher = KnowledgeSearcher.load(index_dir)
    assert searcher.build_info.version == index_version(corpus)
    searcher.remove_articles("KB0010005")
    searcher.save()
    assert read_build_info(index_dir).version is None and published_version(index_dir) is None


def test_cli_version_and_publish(make_corpus, tmp_path: Path, capsys, embedder):
    corpus, root = make_corpus(), tmp_path / "published"
    assert main(["version", "--corpus", str(corpus)]) == 0
    version = capsys.readouterr().out.strip()
    assert version == index_version(corpus)

    assert main(["publish", "--root", str(root), "--corpus", str(corpus), "--expect", "0" * 16]) == 3
    assert f"is index version {version}, not 0000000000000000" in capsys.readouterr().err
    assert not root.exists()  # nothing built for a refused version

    assert main(["publish", "--root", str(root), "--corpus", str(corpus), "--expect", version]) == 0
    assert capsys.readouterr().out.startswith(f"index version {version} published: 10 documents -> ")
    assert main(["publish", "--root", str(root), "--corpus", str(corpus)]) == 0
    assert f"index version {version} already published" in capsys.readouterr().out
    assert os.listdir(root) == [version]
