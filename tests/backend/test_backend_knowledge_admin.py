"""backend/knowledge_admin.py: importing articles updates the database and the index incrementally,
and a running backend serves the new version without a restart."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend.core.db import Base
from backend.knowledge_admin import sync_articles, update_index
from backend.models import KnowledgeArticle
from backend.services import knowledge as knowledge_service
from knowledge_index import KnowledgeSearcher, load_corpus


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
