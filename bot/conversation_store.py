"""How Rasa's conversation store behaves when its database fails (the multi-process profile: SQL tracker store on
PostgreSQL, deploy/files/rasa-endpoints.yml).

1. Rasa's SQL tracker store builds its engine without `pool_pre_ping`: after a PostgreSQL restart every pooled
   connection is dead, and each turn would fail on one of them until the pool had cycled through. Here the engine
   tests a connection before lending it (one `SELECT 1` round trip), so the first turn after the restart succeeds.
2. Rasa wraps every tracker store in a `FailSafeTrackerStore` that, when the store cannot be read, answers "no
   conversation" (the turn then runs on a new, empty conversation: a user at a form's confirmation would get the
   greeting of a new session, and the form's answers would seem lost) and, when it cannot be written, keeps the
   conversation in the process's memory (where the next turn, on another replica, never finds it). Here a store
   that fails fails the turn: nothing is predicted, nothing is written anywhere, and the channel tells the user to
   send the message again (bot/channels/rest.py), which, once the database is back, continues the stored
   conversation at the same question.
3. Retention (`python -m bot.conversation_store prune`): Rasa's SQL tracker store keeps every event forever. The
   command deletes the events of the conversations whose last event is older than CONVERSATION_RETENTION_DAYS
   (default 90), a bounded batch of conversations per transaction, and prints what it removed. It reads the
   database settings from the tracker_store section of Rasa's endpoints file (deploy/files/rasa-endpoints.yml,
   ${VAR}s from the environment) and needs neither the model nor Rasa itself (SQLAlchemy only). Safe while Rasa
   serves: a conversation is deleted only if, at the moment of the delete, none of its events is recent (checked in
   the deleting statement; on PostgreSQL under a table lock that holds back new events for the batch's few
   milliseconds, so none can slip in between the check and the delete). A turn that read an old conversation just
   before it was deleted writes it back whole when it saves (Rasa stores the events it does not find in the table).
   Idempotent: a second run finds nothing to remove.
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

log = logging.getLogger(__name__)


class ConversationStoreUnavailable(Exception):
    """The conversation could not be read or written: the turn is not taken."""


def _engine_kwargs_with_pre_ping(original):  # noqa: ANN001, ANN202
    @functools.wraps(original)
    def create_engine_kwargs(url: Any) -> Dict[str, Any]:
        kwargs = original(url)
        kwargs["pool_pre_ping"] = True
        return kwargs

    create_engine_kwargs.portal_pre_ping = True
    return create_engine_kwargs


def _strict(name: str):  # noqa: ANN202
    async def method(self, *args: Any) -> Any:  # noqa: ANN001
        try:
            return await getattr(self._tracker_store, name)(*args)
        except Exception as error:
            log.error("conversation store %s failed (%s): the turn is refused, the user is asked to resend",
                      name, type(error).__name__)
            raise ConversationStoreUnavailable(str(error)) from error

    method.__name__ = name
    return method


def install() -> None:
    """Idempotent; called at Rasa's start-up (bot/channels/__init__.py), before the tracker store is built."""
    import rasa.core.tracker_store as tracker_store

    if not getattr(tracker_store.create_engine_kwargs, "portal_pre_ping", False):
        tracker_store.create_engine_kwargs = _engine_kwargs_with_pre_ping(tracker_store.create_engine_kwargs)
    fail_safe = tracker_store.FailSafeTrackerStore
    for name in ("retrieve", "retrieve_full_tracker", "save"):
        setattr(fail_safe, name, _strict(name))


# --- Retention: python -m bot.conversation_store prune ------------------------------------------------------------

DEFAULT_RETENTION_DAYS = 90
DEFAULT_BATCH_SIZE = 500
DEFAULT_ENDPOINTS = "endpoints.yml"
LOCK_TIMEOUT = "5s"  # PostgreSQL: how long a batch waits for the table lock before it is tried again
LOCK_ATTEMPTS = 5
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class RetentionError(Exception):
    """The clean-up cannot run (settings, endpoints file, unsupported store): nothing was deleted."""


@dataclass
class PruneResult:
    conversations: int = 0
    events: int = 0
    cutoff: float = 0.0


def retention_days(value: Optional[str] = None) -> int:
    """CONVERSATION_RETENTION_DAYS (or `value`): a whole number of days, at least 1."""
    raw = value if value is not None else os.environ.get("CONVERSATION_RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS))
    try:
        days = int(raw)
    except ValueError:
        raise RetentionError(f"CONVERSATION_RETENTION_DAYS must be a whole number of days, not {raw!r}") from None
    if days < 1:
        raise RetentionError(f"CONVERSATION_RETENTION_DAYS must be at least 1 (got {days})")
    return days


def _expand(value: str, where: str) -> str:
    """${VAR} from the environment, as Rasa expands its endpoints file; a missing variable is an error."""
    missing = [name for name in _VARIABLE.findall(value) if name not in os.environ]
    if missing:
        raise RetentionError(f"{where}: set the environment variable(s) {', '.join(missing)}")
    return _VARIABLE.sub(lambda match: os.environ[match.group(1)], value)


def tracker_store_url(endpoints: Path) -> Any:
    """The SQLAlchemy URL of the SQL tracker store the endpoints file configures (Rasa's own composition of it:
    dialect, url (host, possibly with a port), port, db, username, password, query)."""
    import yaml
    from sqlalchemy.engine import URL, make_url

    try:
        # BaseLoader: every scalar a string, and none of the implicit resolvers Rasa registers globally on import.
        document = yaml.load(endpoints.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
    except (OSError, yaml.YAMLError) as error:
        raise RetentionError(f"cannot read {endpoints}: {error}") from None
    section = document.get("tracker_store") if isinstance(document, dict) else None
    if not isinstance(section, dict) or str(section.get("type", "")).lower() != "sql":
        raise RetentionError(f"{endpoints}: no SQL tracker store (tracker_store.type: SQL); nothing to clean up "
                             "(a Redis tracker store expires conversations itself: record_exp)")

    def setting(key: str) -> Optional[str]:
        value = section.get(key)
        if value in (None, "", "null", "~"):
            return None
        return _expand(str(value), f"{endpoints}: tracker_store.{key}")

    dialect = setting("dialect") or "sqlite"
    host, port = setting("url"), setting("port")
    if host and "://" in host:
        return make_url(host)
    if host and ":" in host:
        host, _, port = host.rpartition(":")
    query = section.get("query") if isinstance(section.get("query"), dict) else {}
    return URL.create(dialect, username=setting("username"), password=setting("password"), host=host,
                      port=int(port) if port else None, database=setting("db") or "rasa.db",
                      query={k: _expand(str(v), f"{endpoints}: tracker_store.query.{k}") for k, v in query.items()})


def _events_table() -> Any:
    import sqlalchemy as sa

    # The columns of Rasa's SQLTrackerStore.SQLEvent this command uses (rasa/core/tracker_store.py).
    return sa.Table("events", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("sender_id", sa.String(255)), sa.Column("timestamp", sa.Float))


def prune(engine: Any, days: int, batch_size: int = DEFAULT_BATCH_SIZE, now: Optional[float] = None,
          dry_run: bool = False) -> PruneResult:
    """Deletes every event of the conversations whose last event is older than `days` days, `batch_size`
    conversations per transaction. A conversation with any event at or after the cutoff is never touched."""
    import sqlalchemy as sa

    if engine.dialect.name not in ("postgresql", "sqlite"):
        raise RetentionError(f"the {engine.dialect.name} dialect is not supported (PostgreSQL and SQLite are)")
    if batch_size < 1:
        raise RetentionError("the batch size must be at least 1")
    events = _events_table()
    result = PruneResult(cutoff=(time.time() if now is None else now) - days * 86400)
    if not sa.inspect(engine).has_table("events"):
        return result  # Rasa has stored no conversation yet
    other = events.alias("recent")
    recent = sa.exists().where(other.c.sender_id == events.c.sender_id, other.c.timestamp >= result.cutoff)

    def old_conversations(connection: Any, after: Optional[str], within: Optional[List[str]] = None) -> List[str]:
        query = sa.select(events.c.sender_id).group_by(events.c.sender_id) \
            .having(sa.func.max(events.c.timestamp) < result.cutoff).order_by(events.c.sender_id)
        if within is not None:
            query = query.where(events.c.sender_id.in_(within))
        else:
            if after is not None:
                query = query.where(events.c.sender_id > after)
            query = query.limit(batch_size)
        return [row[0] for row in connection.execute(query)]

    after: Optional[str] = None
    while True:
        with engine.connect() as connection:
            candidates = old_conversations(connection, after)
        if not candidates:
            return result
        after = candidates[-1]
        if dry_run:
            with engine.connect() as connection:
                result.events += connection.execute(sa.select(sa.func.count()).select_from(events)
                                                    .where(events.c.sender_id.in_(candidates))).scalar_one()
            result.conversations += len(candidates)
            continue
        for attempt in range(1, LOCK_ATTEMPTS + 1):
            try:
                removed, deleted = _delete_batch(engine, events, candidates, recent, old_conversations)
                break
            except sa.exc.OperationalError as error:
                if attempt == LOCK_ATTEMPTS or "lock" not in str(error.orig).lower():
                    raise
                log.warning("the events table stayed busy (%s): batch tried again", type(error.orig).__name__)
                time.sleep(attempt)
        result.conversations += removed
        result.events += deleted


def _delete_batch(engine: Any, events: Any, candidates: List[str], recent: Any, old_conversations: Any
                  ) -> "tuple[int, int]":
    import sqlalchemy as sa

    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # SHARE ROW EXCLUSIVE conflicts with the inserts of Rasa's saves (ROW EXCLUSIVE): none commits between
            # the check below and the delete. Reads go on; a save waits for this short transaction.
            connection.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            connection.execute(sa.text("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE"))
        # Still old now? (A conversation continued since the candidates were listed is left alone.) On SQLite the
        # DELETE's own NOT EXISTS is the check: SQLite runs one writer at a time.
        still_old = old_conversations(connection, None, within=candidates)
        if not still_old:
            return 0, 0
        deleted = connection.execute(
            events.delete().where(events.c.sender_id.in_(still_old), ~recent)).rowcount
        left = {row[0] for row in connection.execute(
            sa.select(events.c.sender_id).where(events.c.sender_id.in_(still_old)).distinct())}
        return len(still_old) - len(left), deleted


def _main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.conversation_store",
        description="Conversation retention for Rasa's SQL tracker store (deploy/README.md, \"Conversation "
                    "retention\").")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "prune", help="delete the events of the conversations whose last event is older than the retention")
    command.add_argument("--endpoints", type=Path, default=Path(DEFAULT_ENDPOINTS),
                         help="Rasa's endpoints file whose tracker_store section names the database "
                              f"(default: {DEFAULT_ENDPOINTS})")
    command.add_argument("--retention-days", default=None,
                         help=f"default: $CONVERSATION_RETENTION_DAYS or {DEFAULT_RETENTION_DAYS}")
    command.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                         help=f"conversations deleted per transaction (default {DEFAULT_BATCH_SIZE})")
    command.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import sqlalchemy as sa

    try:
        days = retention_days(args.retention_days)
        url = tracker_store_url(args.endpoints)
        engine = sa.create_engine(url, pool_pre_ping=True)
        try:
            result = prune(engine, days, batch_size=args.batch_size, dry_run=args.dry_run)
        finally:
            engine.dispose()
    except RetentionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as error:
        # The message names the server and the statement, never the password (SQLAlchemy hides it in URLs).
        cause = getattr(error, "orig", None) or error
        print(f"error: the conversation database failed: {type(error).__name__}: {cause}", file=sys.stderr)
        return 1
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(result.cutoff))
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {result.conversations} conversations ({result.events} events) whose last event is older than "
          f"{days} days (before {since}) from {url.render_as_string(hide_password=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
