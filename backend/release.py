"""The backend's steps of a deployment (deploy/README.md):

    python -m backend.release migrate           # the release job: `alembic upgrade head`
    python -m backend.release wait [--timeout S] # each backend pod's init container: until the release is in place

`wait` returns once the database schema is at the migrations' head and, with KNOWLEDGE_INDEX_VERSION, that index
version is published (complete) under KNOWLEDGE_INDEX_DIR; exit 1 after the timeout, naming what is missing. So the
new backends start only on the schema and the index they were built for, whichever order Kubernetes runs things in.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from backend.core.config import REPO_ROOT, get_settings
from backend.core.db import get_engine
from backend.seed import migrate
from knowledge_index.store import published_version

log = logging.getLogger("backend.release")


def schema_heads() -> set[str]:
    config = Config(str(REPO_ROOT / "backend" / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "backend" / "migrations"))
    return set(ScriptDirectory.from_config(config).get_heads())


def missing() -> list[str]:
    """What the release still lacks for this backend (empty: ready to start)."""
    reasons: list[str] = []
    try:
        with get_engine().connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        if current != schema_heads():
            reasons.append(f"database schema at {sorted(current) or 'nothing'}, not {sorted(schema_heads())}")
    except Exception as error:  # noqa: BLE001 (not reachable yet, or not created yet: keep waiting)
        reasons.append(f"database unreachable ({error.__class__.__name__})")
    settings = get_settings()
    version = settings.knowledge_index_version
    if version and published_version(settings.knowledge_index_path()) != version:
        reasons.append(f"knowledge index version {version} not published in {settings.knowledge_index_dir}")
    return reasons


def wait(timeout: float, interval: float = 2.0, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> int:
    deadline = clock() + timeout
    while True:
        reasons = missing()
        if not reasons:
            log.info("release in place: schema at head%s", ", knowledge index published"
                     if get_settings().knowledge_index_version else "")
            return 0
        if clock() >= deadline:
            log.error("release not in place after %.0f s: %s", timeout, "; ".join(reasons))
            return 1
        log.info("waiting: %s", "; ".join(reasons))
        sleep(interval)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m backend.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database schema to the migrations' head")
    waiter = commands.add_parser("wait", help="wait until the schema is at head and the index version published")
    waiter.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        migrate()
        log.info("database schema at %s", ", ".join(sorted(schema_heads())))
        return 0
    return wait(args.timeout)


if __name__ == "__main__":
    sys.exit(main())
