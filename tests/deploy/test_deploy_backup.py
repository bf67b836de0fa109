"""The databases' backups: deploy/files/postgres-backup.sh (what the CronJob postgres-backup and compose's `backup`
run) and postgres-restore.sh (deploy/README.md "Backups"), run as they are against a real PostgreSQL: a row written
before the backup is there again after the restore, whether the database was damaged or recreated empty, and only
the newest BACKUP_KEEP archives stay.

Needs TEST_DATABASE_URL (a PostgreSQL server where the login may create databases, e.g. `bash scripts/postgres.sh
start`, then `TEST_DATABASE_URL=$(bash scripts/postgres.sh url)`; scripts/test.sh runs this with the backend suite
on PostgreSQL) and that server's programs (pg_dump, pg_restore: `scripts/postgres.sh bindir`, else on PATH)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy_manifests import DEPLOY, REPO

SERVER = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not SERVER.startswith("postgresql"),
                                 reason="TEST_DATABASE_URL names no PostgreSQL server")
BACKUP = DEPLOY / "files" / "postgres-backup.sh"
RESTORE = DEPLOY / "files" / "postgres-restore.sh"


def server_programs() -> str:
    found = subprocess.run(["bash", str(REPO / "scripts" / "postgres.sh"), "bindir"], capture_output=True, text=True)
    directory = found.stdout.strip() if found.returncode == 0 else ""
    if not directory and shutil.which("pg_dump") is None:
        pytest.skip("no pg_dump / pg_restore on this machine")
    return directory


@pytest.fixture
def database():
    url = sa.engine.make_url(SERVER)
    name = f"backup_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(url.set(database=name))
    try:
        yield name, engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_env(**extra: str) -> dict[str, str]:
    """What the CronJob's container has: libpq's variables (the password, when the server needs one, from a
    Secret), no URL and nothing on the command line."""
    url = sa.engine.make_url(SERVER)
    directory = server_programs()
    env = {"PATH": f"{directory}:/usr/bin:/bin" if directory else "/usr/bin:/bin", "PGHOST": url.host,
           "PGPORT": str(url.port or 5432), "PGUSER": url.username or "postgres", **extra}
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], env=libpq_env(**env), capture_output=True, text=True,
                          timeout=120)


def rows(engine: sa.engine.Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.text("SELECT id, body FROM cases ORDER BY id"))]


def one_case(engine: sa.engine.Engine, body: str) -> None:
    """The table the tests back up, with one row."""
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE cases (id integer PRIMARY KEY, body text NOT NULL)"))
        connection.execute(sa.text("INSERT INTO cases VALUES (1, :body)"), {"body": body})


def test_a_row_survives_backup_and_restore_and_old_archives_go(database, tmp_path):
    name, engine = database
    one_case(engine, "toner low, printer 3rd floor — imprimante")
    backups = tmp_path / "backups"
    for _ in range(3):  # three runs a second apart (the archive name's time has seconds): the newest two stay
        done = run(BACKUP, BACKUP_DIR=str(backups), BACKUP_DATABASES=name, BACKUP_KEEP="2")
        assert done.returncode == 0, done.stderr
        time.sleep(1.1)
    archives = sorted((backups / name).iterdir())
    assert len(archives) == 2 and all(a.name.startswith(f"{name}-") and a.suffix == ".dump" for a in archives)
    assert archives[-1].read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert "removed" in done.stdout

    # Damaged: the row changed, another added. The restore brings back what the archive holds, and only that.
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE cases SET body = 'corrupted' WHERE id = 1"))
        connection.execute(sa.text("INSERT INTO cases VALUES (2, 'after the backup')"))
    restored = run(RESTORE, name, str(archives[-1]))
    assert restored.returncode == 0, restored.stderr
    assert rows(engine) == [(1, "toner low, printer 3rd floor — imprimante")]

    # Lost: the database dropped and created again empty (postgres-init.sh on a new volume).
    engine.dispose()
    url = sa.engine.make_url(SERVER)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    restored = run(RESTORE, name, str(archives[0]))
    assert restored.returncode == 0, restored.stderr
    assert rows(engine) == [(1, "toner low, printer 3rd floor — imprimante")]


def test_a_failed_dump_leaves_no_archive_and_removes_none(database, tmp_path):
    name, _ = database
    backups = tmp_path / "backups"
    assert run(BACKUP, BACKUP_DIR=str(backups), BACKUP_DATABASES=name, BACKUP_KEEP="1").returncode == 0
    before = sorted(p.name for p in (backups / name).iterdir())
    time.sleep(1.1)
    failed = run(BACKUP, BACKUP_DIR=str(backups), BACKUP_DATABASES="no_such_database", BACKUP_KEEP="1")
    assert failed.returncode != 0
    assert not list((backups / "no_such_database").iterdir())  # no partial archive left behind
    assert sorted(p.name for p in (backups / name).iterdir()) == before
    assert run(BACKUP, BACKUP_DIR=str(backups), BACKUP_DATABASES=name, BACKUP_KEEP="0").returncode == 2


def test_a_bad_archive_changes_nothing(database, tmp_path):
    name, engine = database
    one_case(engine, "kept")
    bad = tmp_path / "bad.dump"
    bad.write_bytes(b"PGDMP not really")
    assert run(RESTORE, name, str(bad)).returncode != 0
    assert rows(engine) == [(1, "kept")]
