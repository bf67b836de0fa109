"""backend/knowledge_admin.py: importing articles updates the database and the index incrementally,
and a running backend serves the new version without a restart."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend.core.config import Settings
from backend.core.db import Base
from backend.core.errors import ApiError
from backend.knowledge_admin import main as knowledge_admin_main
from backend.knowledge_admin import publish_version, sync_articles, update_index
from backend.models import KnowledgeArticle
from backend.services import knowledge as knowledge_service
from knowledge_index import DEFAULT_MODEL, KnowledgeSearcher, build_index, index_version, load_corpus, publish_index


def article(number: str, title_en: str, title_fr: str, tag: str = "fault.paper_jam.drawer_tray") -> dict:
    return {
        "number": number, "tags": [tag], "models": [], "error_codes": [],
        "en": {"title": title_en, "summary": f"{title_en}.", "body": "1. Open the drawer.\n2. Remove the paper."},
        "fr": {"title": title_fr, "summary": f"{title_fr}.", "body": "1. Ouvrez le tiroir.\n2. Retirez le papier."},
    }


def write_corpus(directory: Path, articles: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "articles.yml").write_text(yaml.safe_dump({"articles": articles}, allow_unicode=True))
    return directory


@pytest.fixture
def memory_session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_sync_inserts_updates_only_changes_and_prunes(tmp_path, memory_session):
    first = write_corpus(tmp_path / "v1", [article("KB0099001", "Jam in tray 2", "Bourrage bac 2"),
                                           article("KB0099002", "Toner empty", "Toner vide",
                                                   "fault.malfunction.toner_problem")])
    result = sync_articles(memory_session, load_corpus(first))
    assert len(result.changed) == 4 and result.removed == []
    assert sync_articles(memory_session, load_corpus(first)).changed == []  # nothing changed: nothing written

    second = write_corpus(tmp_path / "v2", [article("KB0099001", "Jam in tray 2 (updated)", "Bourrage bac 2")])
    result = sync_articles(memory_session, load_corpus(second), prune=True)
    assert [(a.number, a.lang) for a in result.changed] == [("KB0099001", "en")]
    assert result.removed == ["KB0099002"]
    rows = {(r.number, r.lang): r.title for r in memory_session.scalars(select(KnowledgeArticle))}
    assert rows == {("KB0099001", "en"): "Jam in tray 2 (updated)", ("KB0099001", "fr"): "Bourrage bac 2"}


def test_index_is_built_then_updated_incrementally(tmp_path, memory_session):
    corpus = write_corpus(tmp_path / "corpus", [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2")])
    index_dir = tmp_path / "index"
    assert update_index(index_dir, corpus, sync_articles(memory_session, load_corpus(corpus))) == "built"

    write_corpus(corpus, [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2"),
                          article("KB0099003", "Burning smell from the copier", "Odeur de brûlé",
                                  "fault.malfunction.unusual_smell")])
    result = sync_articles(memory_session, load_corpus(corpus))
    assert update_index(index_dir, corpus, result) == "updated"
    hits = KnowledgeSearcher.load(index_dir).search("burning smell", lang="en", k=1)
    assert [h.number for h in hits] == ["KB0099003"]
    assert update_index(index_dir, corpus, sync_articles(memory_session, load_corpus(corpus))) == "unchanged"


def test_running_backend_reloads_a_saved_index(tmp_path, memory_session, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2")])
    index_dir = tmp_path / "index"
    update_index(index_dir, corpus, sync_articles(memory_session, load_corpus(corpus)))
    settings = knowledge_service.get_settings()
    monkeypatch.setattr(settings, "knowledge_index_dir", index_dir)
    knowledge_service.reset_searcher()
    try:
        before = knowledge_service.get_searcher()
        assert knowledge_service.get_searcher() is before  # loaded once
        write_corpus(corpus, [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2"),
                              article("KB0099004", "Streaks on prints", "Traînées sur les impressions",
                                      "fault.print_quality.print_scan_copy")])
        update_index(index_dir, corpus, sync_articles(memory_session, load_corpus(corpus)))
        after = knowledge_service.get_searcher()
        assert after is not before
        assert "KB0099004" in {h.number for h in after.search("streaks on prints", lang="en", k=2)}
    finally:
        knowledge_service.reset_searcher()  # the next test loads the suite's own index again


# --- a deployment: published index versions (KNOWLEDGE_INDEX_VERSION) ---------------------------------------------
@pytest.fixture
def versioned(tmp_path, monkeypatch):
    """Settings of a deployment serving published versions under tmp_path/published; the suite's index afterwards."""
    settings = knowledge_service.get_settings()
    root = tmp_path / "published"
    monkeypatch.setattr(settings, "knowledge_index_dir", root)

    def serve(version: str) -> None:
        monkeypatch.setattr(settings, "knowledge_index_version", version)
        knowledge_service.reset_searcher()

    yield root, serve
    knowledge_service.reset_searcher()


def test_a_pinned_backend_serves_its_version_and_never_another(tmp_path, versioned):
    root, serve = versioned
    corpus = write_corpus(tmp_path / "corpus", [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2")])
    old = publish_index(corpus, root)
    serve(old.version)
    searcher = knowledge_service.get_searcher()
    assert searcher.build_info.version == old.version

    write_corpus(corpus, [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2"),
                          article("KB0099004", "Streaks on prints", "Traînées sur les impressions",
                                  "fault.print_quality.print_scan_copy")])
    new = publish_index(corpus, root)
    assert new.version != old.version
    assert knowledge_service.get_searcher() is searcher  # still the configured version, not the newest one
    serve(new.version)  # a rollout: new replicas configured with the new version
    assert "KB0099004" in {h.number for h in knowledge_service.get_searcher().search("streaks on prints", k=2)}


def test_a_directory_not_holding_the_configured_version_is_not_served(tmp_path, versioned):
    root, serve = versioned
    corpus = write_corpus(tmp_path / "corpus", [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2")])
    build_index(corpus, root / ("0" * 16), progress=False)  # a copy put there by hand, under another name
    serve("0" * 16)
    with pytest.raises(ApiError) as raised:
        knowledge_service.get_searcher()
    assert raised.value.status == 503
    serve("1" * 16)  # not published at all
    with pytest.raises(ApiError):
        knowledge_service.get_searcher()


def test_the_version_setting_is_a_version_name_only():
    with pytest.raises(ValidationError):
        Settings(knowledge_index_version="../elsewhere")
    assert Settings(knowledge_index_dir=Path("/index"), knowledge_index_version="0123456789abcdef") \
        .knowledge_index_path() == Path("/index/0123456789abcdef")
    assert Settings(knowledge_index_dir=Path("/index")).knowledge_index_path() == Path("/index")


def test_an_import_publishes_a_new_version_beside_the_served_one(tmp_path, versioned, memory_session):
    root, serve = versioned
    corpus = write_corpus(tmp_path / "corpus", [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2")])
    served = publish_index(corpus, root)
    assert publish_version(root, corpus, served.version, DEFAULT_MODEL) == \
        f"version {served.version} already published (the configured one)"

    write_corpus(corpus, [article("KB0099001", "Paper jam in tray 2 (updated)", "Bourrage dans le bac 2")])
    new_version = index_version(corpus)
    assert publish_version(root, corpus, served.version, DEFAULT_MODEL) == (
        f"version {new_version} published; the backends serve {served.version}: "
        f"set KNOWLEDGE_INDEX_VERSION={new_version} and roll them out")
    assert KnowledgeSearcher.load(served.path).build_info.version == served.version  # untouched


def test_the_deployment_import_refuses_a_corpus_of_another_version(tmp_path, versioned, capsys):
    root, serve = versioned
    corpus = write_corpus(tmp_path / "corpus", [article("KB0099001", "Paper jam in tray 2", "Bourrage dans le bac 2")])
    serve("0" * 16)
    assert knowledge_admin_main(["import", str(corpus), "--expect-configured"]) == 3
    assert f"is index version {index_version(corpus)}, not the configured" in capsys.readouterr().err
    assert not root.exists()  # nothing published (and nothing written to the database)
    serve("")
    with pytest.raises(SystemExit):  # a deployment's check without a deployment's setting
        knowledge_admin_main(["import", str(corpus), "--expect-configured"])
    assert "--expect-configured needs KNOWLEDGE_INDEX_VERSION" in capsys.readouterr().err
