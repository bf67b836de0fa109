"""Conversation retention (`python -m bot.conversation_store prune`, bot/conversation_store.py) on the tables Rasa's
own SQL tracker store writes: conversations whose last event is older than the retention go, recent ones and an old
conversation with one recent event stay whole, a second run removes nothing.

Always on SQLite; on PostgreSQL too when RASA_TEST_DATABASE_URL names a server (`bash scripts/postgres.sh start`,
then `RASA_TEST_DATABASE_URL=$(bash scripts/postgres.sh url)`): a throwaway database is created there and dropped,
and the command reads deploy/files/rasa-endpoints.yml itself, as the Kubernetes CronJob does."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import conversation_store
from bot.conversation_store import RetentionError, prune, retention_days, tracker_store_url

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "deploy" / "files" / "rasa-endpoints.yml"
DAY = 86400.0
NOW = time.time()


class Database:
    """One empty conversation database: the endpoints file naming it, the environment its ${VAR}s need, and Rasa's
    SQL tracker store on it."""

    def __init__(self, endpoints: Path, env: Dict[str, str], store_config: EndpointConfig) -> None:
        self.endpoints, self.env = endpoints, env
        self.store: SQLTrackerStore = TrackerStore.create(store_config)
        assert isinstance(self.store, SQLTrackerStore)

    def engine(self) -> sa.engine.Engine:
        old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return sa.create_engine(tracker_store_url(self.endpoints))
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key)
                else:
                    os.environ[key] = value

    def events_by_sender(self) -> Dict[str, int]:
        with self.store.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT sender_id, count(*) FROM events GROUP BY sender_id"))
            return {sender: count for sender, count in rows}


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Database:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: ${TEST_RASA_DB}\n")
    path = str(tmp_path / "rasa.db")
    return Database(endpoints, {"TEST_RASA_DB": path}, EndpointConfig(type="SQL", dialect="sqlite", db=path))


@pytest.fixture
def postgresql_database() -> Iterator[Database]:
    server = os.environ.get("RASA_TEST_DATABASE_URL")
    if not server:
        pytest.skip("RASA_TEST_DATABASE_URL names no PostgreSQL server")
    url = sa.engine.make_url(server).set(drivername="postgresql")
    name = f"retention_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(server)
    env = {"RASA_DB_HOST": parts.hostname, "RASA_DB_PORT": str(parts.port or 5432), "RASA_DB_NAME": name,
           "RASA_DB_USER": parts.username or "postgres", "RASA_DB_PASSWORD": parts.password or ""}
    database = Database(PRODUCTION, env, EndpointConfig(
        type="SQL", url=env["RASA_DB_HOST"], dialect="postgresql", port=env["RASA_DB_PORT"], db=name,
        username=env["RASA_DB_USER"], password=env["RASA_DB_PASSWORD"]))
    try:
        yield database
    finally:
        database.store.engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue(f"{request.param}_database")


def turn(at: float, text: str = "bonjour") -> List[Event]:
    return [UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=at),
            BotUttered("Bonjour !", timestamp=at + 1), ActionExecuted("action_listen", timestamp=at + 2)]


async def save(database: Database, sender: str, *turn_times: float) -> None:
    events: List[Event] = [ActionExecuted("action_listen", timestamp=turn_times[0] - 1)]
    for at in turn_times:
        events += turn(at)
    await database.store.save(DialogueStateTracker.from_events(sender, events))


async def conversations(database: Database) -> Dict[str, int]:
    """Sender -> number of events, as the tables hold them (Rasa's retrieve reads the last session only)."""
    return database.events_by_sender()


@pytest.mark.asyncio
async def test_old_conversations_go_recent_ones_and_one_with_a_recent_event_stay(database):
    await save(database, "old-1", NOW - 200 * DAY, NOW - 120 * DAY)
    await save(database, "old-2", NOW - 91 * DAY)
    await save(database, "recent", NOW - 3600)
    await save(database, "old-but-one-recent-event", NOW - 300 * DAY, NOW - 150 * DAY, NOW - 2 * DAY)
    await save(database, "just-inside", NOW - 89 * DAY)
    before = await conversations(database)
    engine = database.engine()

    result = prune(engine, days=90, batch_size=1, now=NOW)  # one conversation per transaction: several batches

    assert (result.conversations, result.events) == (2, before["old-1"] + before["old-2"])
    after = await conversations(database)
    assert after == {k: v for k, v in before.items() if k not in ("old-1", "old-2")}  # the others whole
    assert await database.store.retrieve("old-1") is None
    kept = await database.store.retrieve("old-but-one-recent-event")
    assert [e.text for e in kept.events if isinstance(e, UserUttered)] == ["bonjour"] * 3

    again = prune(engine, days=90, batch_size=1, now=NOW)
    assert (again.conversations, again.events) == (0, 0)
    assert await conversations(database) == after
    engine.dispose()


@pytest.mark.asyncio
async def test_a_conversation_continued_after_it_was_listed_is_not_deleted(database, monkeypatch):
    """Rasa serving meanwhile: between the listing of old conversations and their batch's delete, a user of one of
    them writes again. The delete re-checks, in its own transaction, and leaves that conversation whole."""
    await save(database, "old", NOW - 100 * DAY)
    await save(database, "comes-back", NOW - 100 * DAY)
    delete_batch = conversation_store._delete_batch
    continued: List[str] = []

    def user_writes_first(engine, events, candidates, *rest):  # noqa: ANN001, ANN202
        if "comes-back" in candidates and not continued:
            event = UserUttered("me revoilà", {"name": "greet", "confidence": 1.0})
            with engine.begin() as connection:  # a turn saved by Rasa now: one more event, recent (Rasa's row)
                connection.execute(database.store.SQLEvent.__table__.insert().values(
                    sender_id="comes-back", type_name=event.type_name, timestamp=event.timestamp,
                    intent_name="greet", data=json.dumps(event.as_dict())))
            continued.append("comes-back")
        return delete_batch(engine, events, candidates, *rest)

    monkeypatch.setattr(conversation_store, "_delete_batch", user_writes_first)
    before = await conversations(database)
    result = prune(database.engine(), days=90, batch_size=10, now=NOW)
    assert continued and (result.conversations, result.events) == (1, before["old"])
    assert await conversations(database) == {"comes-back": before["comes-back"] + 1}


@pytest.mark.asyncio
async def test_dry_run_counts_and_removes_nothing(database):
    await save(database, "old", NOW - 100 * DAY)
    await save(database, "recent", NOW)
    before = await conversations(database)
    result = prune(database.engine(), days=90, now=NOW, dry_run=True)
    assert (result.conversations, result.events) == (1, before["old"])
    assert await conversations(database) == before


def test_an_empty_database_has_nothing_to_remove(database):
    engine = database.engine()
    with engine.begin() as connection:  # Rasa created its table on start; here, none yet
        connection.execute(sa.text("DROP TABLE IF EXISTS events"))
    assert prune(engine, days=90).conversations == 0


def run_command(database: Database, *args: str, retention: str = "90") -> subprocess.CompletedProcess:
    # Only what the CronJob gives it: the database settings and the retention (no model, no Redis, no action server).
    env = {"PATH": os.environ["PATH"], "CONVERSATION_RETENTION_DAYS": retention, **database.env}
    return subprocess.run([sys.executable, "-m", "bot.conversation_store", "prune", "--endpoints",
                           str(database.endpoints), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.asyncio
async def test_the_command_prints_what_it_removed_and_a_second_run_removes_nothing(database):
    await save(database, "old", NOW - 400 * DAY)
    await save(database, "kept", NOW - 10 * DAY)
    events = (await conversations(database))["old"]

    first = run_command(database, "--batch-size", "10")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"removed 1 conversations ({events} events) whose last event is older than 90 days")
    assert set(await conversations(database)) == {"kept"}
    password = database.env.get("RASA_DB_PASSWORD")
    assert not password or password not in first.stdout + first.stderr

    second = run_command(database)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("removed 0 conversations (0 events)")

    shorter = run_command(database, retention="5")  # the setting is read from the environment
    assert shorter.stdout.startswith("removed 1 conversations") and await conversations(database) == {}


def test_bad_settings_are_refused_before_anything_is_deleted(sqlite_database, tmp_path):
    for value in ("0", "-3", "ninety"):
        result = run_command(sqlite_database, retention=value)
        assert result.returncode == 2 and "CONVERSATION_RETENTION_DAYS" in result.stderr
    redis_store = tmp_path / "redis-endpoints.yml"
    redis_store.write_text((REPO / "endpoints.yml").read_text())
    result = subprocess.run([sys.executable, "-m", "bot.conversation_store", "prune", "--endpoints", str(redis_store)],
                            cwd=REPO, capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert result.returncode == 2 and "no SQL tracker store" in result.stderr


def test_the_production_endpoints_name_the_database_rasa_writes_to(monkeypatch):
    for name, value in {"RASA_DB_HOST": "postgres", "RASA_DB_PORT": "5432", "RASA_DB_NAME": "rasa",
                        "RASA_DB_USER": "rasa", "RASA_DB_PASSWORD": "p@ss:w/rd"}.items():
        monkeypatch.setenv(name, value)
    url = tracker_store_url(PRODUCTION)
    assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == \
        ("postgresql", "postgres", 5432, "rasa", "rasa", "p@ss:w/rd")
    # The same URL Rasa's SQL tracker store composes from the same section.
    assert SQLTrackerStore.get_db_url("postgresql", "postgres", "5432", "rasa", "rasa", "p@ss:w/rd") \
        .render_as_string(hide_password=False) == url.render_as_string(hide_password=False)
    monkeypatch.delenv("RASA_DB_PASSWORD")
    with pytest.raises(RetentionError, match="RASA_DB_PASSWORD"):
        tracker_store_url(PRODUCTION)


def test_the_retention_defaults_to_90_days(monkeypatch):
    monkeypatch.delenv("CONVERSATION_RETENTION_DAYS", raising=False)
    assert retention_days() == conversation_store.DEFAULT_RETENTION_DAYS == 90
