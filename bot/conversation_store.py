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
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Dict

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
