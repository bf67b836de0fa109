"""deploy/files/rasa-endpoints.yml, read by Rasa itself: conversations in PostgreSQL (SQL tracker store), the lock
store in Redis with its password, the same action endpoint as endpoints.yml (`make run`'s, unchanged).

Offline, the SQL tracker store is built by Rasa from that file's settings on SQLite (the same class and arguments,
another dialect). With RASA_TEST_DATABASE_URL (a PostgreSQL server: `bash scripts/postgres.sh start`, then
`RASA_TEST_DATABASE_URL=$(bash scripts/postgres.sh url)`) and RASA_TEST_REDIS_URL (redis://:password@host:port),
the file is used as it is against the real servers."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict
from urllib.parse import urlsplit

import pytest
import yaml
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "deploy" / "files" / "rasa-endpoints.yml"
SETTINGS = {"ACTION_ENDPOINT_URL": "http://internal-lb:5055/webhook", "RASA_DB_HOST": "postgres",
            "RASA_DB_PORT": "5432", "RASA_DB_NAME": "rasa", "RASA_DB_USER": "rasa", "RASA_DB_PASSWORD": "db-secret",
            "REDIS_HOST": "redis", "REDIS_PORT": "6379", "REDIS_PASSWORD": "redis-secret"}


def read(monkeypatch: pytest.MonkeyPatch, settings: Dict[str, str]) -> AvailableEndpoints:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return AvailableEndpoints.read_endpoints(str(PRODUCTION))


def test_rasa_reads_the_production_endpoints(monkeypatch):
    endpoints = read(monkeypatch, SETTINGS)
    store = endpoints.tracker_store
    assert store.type == "SQL"
    assert store.url == "postgres"
    assert store.kwargs == {"dialect": "postgresql", "port": "5432", "db": "rasa", "username": "rasa",
                            "password": "db-secret"}
    lock = endpoints.lock_store
    assert (lock.type, lock.url, lock.kwargs) == ("redis", "redis", {"port": "6379", "password": "redis-secret", "db": 1})
    assert endpoints.action.url == "http://internal-lb:5055/webhook"


def test_the_action_endpoint_is_make_runs(monkeypatch):
    ours = yaml.safe_load(PRODUCTION.read_text())["action_endpoint"]
    assert ours == yaml.safe_load((REPO / "endpoints.yml").read_text())["action_endpoint"]


def tracker(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen"), UserUttered("bonjour", {"name": "greet", "confidence": 1.0}),
        BotUttered("Bonjour !"), ActionExecuted("action_listen")])


@pytest.mark.asyncio
async def test_the_sql_tracker_store_rasa_builds_from_them_keeps_conversations(monkeypatch, tmp_path):
    endpoints = read(monkeypatch, SETTINGS)
    config = endpoints.tracker_store
    # The same store on SQLite (which takes no server, port nor login): Rasa builds it from the file's settings and
    # stores and reads conversations back.
    config.kwargs = {**config.kwargs, "dialect": "sqlite", "db": str(tmp_path / "rasa.db"), "port": None,
                     "username": None, "password": None}
    config.url = None
    store = TrackerStore.create(config)
    assert isinstance(store, SQLTrackerStore)
    await store.save(tracker("u2:abc"))
    loaded = await store.retrieve("u2:abc")
    assert [e.as_dict()["event"] for e in loaded.events] == ["action", "user", "bot", "action"]


@pytest.mark.asyncio
@pytest.mark.skipif(not os.environ.get("RASA_TEST_DATABASE_URL") or not os.environ.get("RASA_TEST_REDIS_URL"),
                    reason="RASA_TEST_DATABASE_URL and RASA_TEST_REDIS_URL name no PostgreSQL and Redis servers")
async def test_the_production_endpoints_on_real_servers(monkeypatch):
    database, redis = urlsplit(os.environ["RASA_TEST_DATABASE_URL"]), urlsplit(os.environ["RASA_TEST_REDIS_URL"])
    endpoints = read(monkeypatch, {
        **SETTINGS, "RASA_DB_HOST": database.hostname, "RASA_DB_PORT": str(database.port),
        "RASA_DB_NAME": database.path.lstrip("/"), "RASA_DB_USER": database.username or "postgres",
        "RASA_DB_PASSWORD": database.password or "", "REDIS_HOST": redis.hostname, "REDIS_PORT": str(redis.port),
        "REDIS_PASSWORD": redis.password or ""})
    store = TrackerStore.create(endpoints.tracker_store)
    assert isinstance(store, SQLTrackerStore) and store.engine.dialect.name == "postgresql"
    sender = f"u2:{os.urandom(6).hex()}"
    await store.save(tracker(sender))
    assert len((await store.retrieve(sender)).events) == 4
    assert sender in await store.keys()

    locks = LockStore.create(endpoints.lock_store)
    assert isinstance(locks, RedisLockStore)
    ticket = locks.issue_ticket(sender)
    assert locks.get_lock(sender).is_someone_waiting()
    locks.finish_serving(sender, ticket)
