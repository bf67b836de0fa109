"""A turn during which no action server can be reached fails whole, like a turn whose conversation store fails.

What Rasa 3.6 does, read at the source and measured (tests/bot/test_bot_action_server_down.py):
`RemoteAction.run` (rasa/core/actions/action.py) turns a refused or dropped connection to the action endpoint, and
an error status from it (the balancer in front of the action servers answers 503 when none is up), into a
`RasaException`; `MessageProcessor._run_action` (rasa/core/processor.py) catches *any* `Exception` an action raises,
logs "Bot will continue, but the actions events are lost", records the action as run with no events, predicts on,
and the turn's tracker is saved at the end of `handle_message`. So the user got no answer at all, and the stored
conversation kept a half-taken turn: in a form, the user's answer followed by the form's run without its validation
(the form still asks the same question, but the history holds a message that was never taken); a failed submission
or lookup action is recorded as done and the rules carry on after it.

Here, within a turn that one of our channel adapters delivers (`IdentityLayer.deliver`, which opens
`failing_turn()`), such a failure stops the turn at once:

- the failed action raises `ActionServerUnavailable`. It is a `BaseException`, like `asyncio.CancelledError` (and
  pytest's outcome exceptions), precisely so that the processor's `except Exception` does not swallow it; nothing
  else of the turn runs (no further prediction, no message);
- the processor saves a turn's tracker only at the end of `handle_message` (the message is logged with
  `should_save_tracker=False`), so nothing of the turn is stored: the conversation is exactly as before the message,
  the form at the same question with the same slots;
- the lock store releases the conversation's lock on the way out (`LockStore.lock` is a context manager whose
  `finally` cleans its ticket up), so the next message is not delayed;
- `IdentityLayer.deliver` turns it into `TurnFailed`, an ordinary exception, which every adapter answers its own way
  ("send it again" on REST and the web chat, a message in Teams, "could you say that again" on the phone).

What counts as "no action server": the connection refused, reset or dropped (aiohttp's `ClientConnectionError`), the
balancer's 502/503/504, or Rasa's own 5-minute request timeout. An action that *ran* and failed (a 500 from the action
server, a rejection) keeps Rasa's behaviour. A dropped connection or a timeout may come after the action server did
the work: sending the message again is safe for submissions because a form's submission carries the same
idempotency key on every attempt (actions/submission.py; the backend takes a key once).

Outside such a turn (Rasa's HTTP API, `rasa shell`, reminders) Rasa's behaviour is unchanged.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
from typing import Any, Iterator, Optional

import aiohttp

log = logging.getLogger(__name__)

UNAVAILABLE_STATUSES = frozenset({502, 503, 504})  # what a balancer answers when it has no live action server

_failing_turn: contextvars.ContextVar[bool] = contextvars.ContextVar("portal_failing_turn", default=False)


class ActionServerUnavailable(BaseException):
    """No action server could run an action of this turn. A BaseException so that Rasa's processor, which catches
    every Exception an action raises and carries on, lets it through: the turn stops and is not saved."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"action '{action}': {reason}")
        self.action = action
        self.reason = reason


class TurnFailed(Exception):
    """What an adapter receives from `IdentityLayer.deliver` when the turn was stopped before anything was kept."""


@contextlib.contextmanager
def failing_turn() -> Iterator[None]:
    """Within this block (one task's turn), an unreachable action server fails the turn instead of being skipped."""
    token = _failing_turn.set(True)
    try:
        yield
    finally:
        _failing_turn.reset(token)


def unavailability(error: BaseException) -> Optional[str]:
    """Why `error` (raised by RemoteAction.run) means that no action server could be reached; None if it does not.
    Rasa raises its RasaException inside its `except` of the aiohttp error (`__context__`) or `from` it
    (`__cause__`)."""
    from rasa.utils.endpoints import ClientResponseError  # what EndpointConfig.request raises for an error status

    seen = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ClientResponseError, aiohttp.ClientResponseError)):
            return f"status {current.status}" if current.status in UNAVAILABLE_STATUSES else None
        if isinstance(current, aiohttp.ClientConnectionError):
            return type(current).__name__
        if isinstance(current, asyncio.TimeoutError):
            return "timeout"
        current = current.__cause__ or current.__context__
    return None


def _failing_when_unreachable(run):  # noqa: ANN001, ANN202
    @functools.wraps(run)
    async def wrapped(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
        try:
            return await run(self, *args, **kwargs)
        except Exception as error:
            reason = unavailability(error) if _failing_turn.get() else None
            if reason is None:
                raise
            log.error("action server unreachable for '%s' (%s): the turn is stopped, nothing of it is kept, the "
                      "user is asked to send the message again", self.name(), reason)
            raise ActionServerUnavailable(self.name(), reason) from error

    wrapped.portal_failing_turn = True
    return wrapped


def install() -> None:
    """Idempotent; called at Rasa's start-up (bot/channels/__init__.py). Every remote call Rasa makes for a turn goes
    through RemoteAction.run: custom actions, form validators (FormAction) and custom slot mappings
    (ActionExtractSlots)."""
    from rasa.core.actions.action import RemoteAction

    if not getattr(RemoteAction.run, "portal_failing_turn", False):
        RemoteAction.run = _failing_when_unreachable(RemoteAction.run)
