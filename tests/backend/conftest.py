"""Fixtures for the portal backend tests.

Settings, engine, session factory and taxonomy are all cached on first use, so the environment is set up
here, at import time, BEFORE anything from `backend` is imported: a private SQLite file (or the database
of TEST_DATABASE_URL, e.g. the PostgreSQL of scripts/postgres.sh, emptied first), a known signing key and
demo password, and a knowledge index that matches data/knowledge (the repo's own one when it is fresh,
otherwise one built into the temp dir).

One database is shared by the whole session: tests that create rows must never rely on global counts.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO / "data" / "knowledge"
TEST_PASSWORD = "test-password"
TEST_SECRET = "backend-tests-secret-key-0123456789abcdef"
TEST_RASA_URL = "http://rasa.backend-tests.invalid:5005"

TEST_ASSISTANT_KEY = "backend-tests-assistant-key-0123456789abcdef"
TEST_CHANNEL_KEY = "backend-tests-channel-key-0123456789abcdef"
_TMP = Path(tempfile.mkdtemp(prefix="portal-backend-tests-"))
atexit.register(shutil.rmtree, _TMP, True)  # also when the session aborts before the fixtures run
DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'portal.db'}"

os.environ.update(
    {
        "DATABASE_URL": DATABASE_URL,
        "SECRET_KEY": TEST_SECRET,
        "ASSISTANT_KEY": TEST_ASSISTANT_KEY,
        "CHANNEL_KEY": TEST_CHANNEL_KEY,
        "DEMO_PASSWORD": TEST_PASSWORD,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "KNOWLEDGE_CORPUS_DIR": str(CORPUS_DIR),
        "KNOWLEDGE_MODEL": "",
        "TAXONOMY_PATH": str(REPO / "data" / "taxonomy" / "taxonomy.yml"),
        "WEB_DIR": str(REPO / "bot" / "web"),
        "RASA_PUBLIC_URL": TEST_RASA_URL,
    }
)
os.environ.pop("ACCESS_TOKEN_MINUTES", None)

from knowledge_index import build_index, is_stale  # noqa: E402

_REPO_INDEX = REPO / "var" / "knowledge_index"
if is_stale(CORPUS_DIR, _REPO_INDEX):
    INDEX_DIR = _TMP / "knowledge_index"
    build_index(CORPUS_DIR, INDEX_DIR, progress=False)
else:
    INDEX_DIR = _REPO_INDEX
os.environ["KNOWLEDGE_INDEX_DIR"] = str(INDEX_DIR)

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from backend.core.config import get_settings  # noqa: E402
from backend.core.db import get_engine, get_session_factory  # noqa: E402
from backend.main import app  # noqa: E402
from backend.seed import migrate, seed_demo, sync_articles  # noqa: E402
from backend.services.knowledge import reset_searcher  # noqa: E402
from backend.taxonomy import get_taxonomy  # noqa: E402

# In case anything touched the caches before the environment above was in place.
for _cached in (get_settings, get_engine, get_session_factory, get_taxonomy):
    _cached.cache_clear()
reset_searcher()
assert get_settings().database_url == DATABASE_URL


def _empty_database(url: str) -> None:
    """Each run starts from an empty PostgreSQL database (the SQLite file is new anyway)."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


_empty_database(DATABASE_URL)

ADMIN_EMAIL = "sntestportaldemo@outlook.com"
USER_EMAIL = "sntestdemoportaldm@yopmail.com"
OTHER_ADMIN_EMAIL = "admin@northwind-imprimerie.fr"


def login(client: TestClient, email: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    """Log in through the API and return the Authorization header to send."""
    response = client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    return {"Authorization": f"Bearer {body['access_token']}"}


@pytest.fixture(scope="session")
def seeded() -> Iterator[dict[str, object]]:
    """Migrated and seeded database; yields what the seeding reported."""
    migrate()
    with get_session_factory()() as session:
        created = seed_demo(session, TEST_PASSWORD)
        written = sync_articles(session, CORPUS_DIR)
    yield {"created": created, "articles_written": written}
    get_engine().dispose()


@pytest.fixture(scope="session")
def client(seeded) -> Iterator[TestClient]:
    """The app with its lifespan run (loads the embedding model and the index once)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session", name="login")
def login_fixture() -> Callable[..., dict[str, str]]:
    return login


@pytest.fixture(scope="session")
def admin_headers(client) -> dict[str, str]:
    return login(client, ADMIN_EMAIL)


@pytest.fixture(scope="session")
def user_headers(client) -> dict[str, str]:
    return login(client, USER_EMAIL)


@pytest.fixture(scope="session")
def other_headers(client) -> dict[str, str]:
    return login(client, OTHER_ADMIN_EMAIL)


@pytest.fixture
def db(seeded) -> Iterator[Session]:
    """A direct ORM session on the test database (commit what other sessions must see)."""
    with get_session_factory()() as session:
        yield session
