"""backend/release.py: the migration step and the backends' wait for the release (schema at head, index published)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from backend import release
from backend.core.config import get_settings
from backend.seed import migrate
from knowledge_index import build_index, publish_index


@pytest.fixture
def fresh_database(tmp_path, monkeypatch):
    """An empty SQLite database as the release's database (the suite's own is already migrated)."""
    url = f"sqlite:///{tmp_path / 'release.db'}"
    engine = create_engine(url)
    monkeypatch.setattr(release, "get_engine", lambda: engine)
    yield url
    engine.dispose()


def corpus(directory: Path) -> Path:
    directory.mkdir(parents=True)
    entry = {"number": "KB0099001", "tags": ["fault.paper_jam.drawer_tray"], "models": [], "error_codes": [],
             "en": {"title": "Paper jam in tray 2", "summary": "Paper jam.", "body": "Open the drawer."},
             "fr": {"title": "Bourrage bac 2", "summary": "Bourrage.", "body": "Ouvrez le tiroir."}}
    (directory / "articles.yml").write_text(yaml.safe_dump({"articles": [entry]}, allow_unicode=True))
    return directory


def test_the_backends_wait_for_the_migrations(fresh_database):
    assert release.missing() == [f"database schema at nothing, not {sorted(release.schema_heads())}"]
    migrate(fresh_database)
    assert release.missing() == []


def test_the_backends_wait_for_their_index_version(fresh_database, tmp_path, monkeypatch):
    migrate(fresh_database)
    settings = get_settings()
    root, source = tmp_path / "published", corpus(tmp_path / "corpus")
    monkeypatch.setattr(settings, "knowledge_index_dir", root)
    monkeypatch.setattr(settings, "knowledge_index_version", "0" * 16)
    assert release.missing() == [f"knowledge index version {'0' * 16} not published in {root}"]
    build_index(source, root / ("0" * 16), progress=False)  # something else under that name
    assert release.missing() == [f"knowledge index version {'0' * 16} not published in {root}"]

    published = publish_index(source, root)
    monkeypatch.setattr(settings, "knowledge_index_version", published.version)
    assert release.missing() == []


def test_wait_polls_until_ready_or_times_out(monkeypatch, caplog):
    answers = [["database unreachable (OperationalError)"], ["database schema at nothing, not ['0005']"], []]
    monkeypatch.setattr(release, "missing", lambda: answers.pop(0))
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    assert release.wait(timeout=60, interval=2, sleep=sleep, clock=lambda: now[0]) == 0
    assert slept == [2, 2]

    monkeypatch.setattr(release, "missing", lambda: ["database unreachable (OperationalError)"])
    assert release.wait(timeout=5, interval=2, sleep=sleep, clock=lambda: now[0]) == 1
    assert "release not in place after 5 s: database unreachable (OperationalError)" in caplog.text


def test_the_suite_database_is_at_head(seeded):
    with release.get_engine().connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert release.missing() == []
