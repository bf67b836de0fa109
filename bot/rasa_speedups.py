"""Two fixes to Rasa 3.6 hot spots that cost most of a turn's CPU here (profiled with py-spy, see
benchmarks/README.md). Behaviour is unchanged; only repeated work is removed.

1. Every custom-action response is checked against Rasa's response schema with `jsonschema.validate()`, which
   first re-checks the *schema itself* against the JSON-Schema meta-schema, on every call: 45 % of the Rasa
   process's CPU with jsonschema 4.17. Here the validator is built (and the schema checked) once; responses are
   still validated exactly as before and an invalid one still raises `ValidationError`.
2. RulePolicy decodes each rule key (a JSON string) through an `lru_cache(maxsize=1000)`. Our rule-only
   assistant has 1,330 rule keys, and the lookup walks all of them in the same order every prediction, so an
   LRU smaller than the key set misses every time (RasaHQ/rasa#10703; the larger-cache PR #10704 was never
   merged): 30 % of the CPU went to `json.loads`. The cache here is unbounded: it holds one decoded copy per rule
   key of the loaded model (a few MB at most).
3. Even decoded, RulePolicy tests every one of those keys against the current state on each prediction, though
   a rule can only apply if its last turn's previous action matches the conversation's. The keys are grouped
   once per lookup table by that previous action; only the groups compatible with the current state are then
   tested by Rasa's own `_is_rule_applicable`, so the result is the same set of keys.

4. Every request Rasa sends to the action server opens a new aiohttp session, i.e. a new TCP connection, and
   closes it after the answer. Here each endpoint keeps one session per event loop (a pool of kept-alive
   connections, dropped after 2 s idle, before the action server's own 5 s keep-alive timeout closes them) and
   encodes the tracker sent with each call with ujson (already a Rasa dependency): about 3x faster than the
   standard json module on these payloads.

5. RedisTrackerStore.save re-reads the stored tracker, rebuilds it event by event, rebuilds the new tracker up to
   the stored one's last event, and compares, so as to merge older conversation sessions: three replays of the
   conversation on every save. When the stored events are exactly the first events of the tracker being saved (a
   conversation going on), the merge returns the new tracker unchanged: that is checked on the stored JSON and the
   replays are skipped; any other case takes Rasa's merge.

`install()` is idempotent; it is called when Rasa imports our channels (bot/channels.py) and our NLU component
(bot/language_detector.py), i.e. before any message is handled.
"""
from __future__ import annotations

import asyncio
import functools
import json
from typing import Any, Dict, List, Optional, Set, Text, Tuple

import aiohttp
import ujson
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.constants import PREVIOUS_ACTION
from rasa.utils.endpoints import EndpointConfig

_INSTALLED = "_portal_speedups_installed"
# Rasa's own implementations, kept for the equivalence tests (tests/bot/test_bot_rasa_speedups.py).
ORIGINALS = {
    "_validate_action_result": RemoteAction._validate_action_result,
    "_get_possible_keys": RulePolicy._get_possible_keys,
    "redis_save": RedisTrackerStore.save,
}


@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)  # what jsonschema.validate() did on every call, now once
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    # what jsonschema.validate() does after checking the schema: report the most relevant error
    error = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (  # same message as Rasa's own implementation
        ". Failed to validate Action server response from API, make sure your response from the Action "
        f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


@functools.lru_cache(maxsize=None)
def _rule_key_to_state(rule_key: Text) -> List[Dict[Text, Any]]:
    return json.loads(rule_key)


class _KeysByPreviousAction:
    """A lookup table's rule keys grouped by the previous action of the rule's last turn."""

    def __init__(self, lookup: Dict[Text, Any]) -> None:
        self.lookup = lookup  # held so that id(lookup) cannot be reused while this index exists
        self.size = len(lookup)  # a table still being filled (training) is indexed again
        self.always: Set[Text] = set()  # rules with no turn at all: applicable at any state
        self.groups: Dict[Text, Tuple[Dict[Text, Any], Set[Text]]] = {}
        for key in lookup:
            states = _rule_key_to_state(key)
            if not states:
                self.always.add(key)
                continue
            previous = states[-1].get(PREVIOUS_ACTION) or {}
            group = json.dumps(previous, sort_keys=True)
            self.groups.setdefault(group, (previous, set()))[1].add(key)

    def candidates(self, state: Dict[Text, Any]) -> Set[Text]:
        """A superset of the keys Rasa's turn-0 test accepts for `state` (the same starter rules apply)."""
        current = state.get(PREVIOUS_ACTION)
        found = set(self.always)
        for previous, keys in self.groups.values():
            if not previous or not current:
                if not previous and not current:
                    found |= keys
                continue
            if RulePolicy._does_rule_match_state({PREVIOUS_ACTION: previous}, state):
                found |= keys
        return found


_indexes: Dict[int, _KeysByPreviousAction] = {}


def _extends_stored(stored: Any, tracker: Any) -> bool:
    """The stored tracker's events are the first events of `tracker` (merging them would give `tracker`)."""
    prior = json.loads(stored).get("events") or []
    events = tracker.events
    return len(prior) <= len(events) and all(
        stored_event == events[i].as_dict() for i, stored_event in enumerate(prior))


async def _redis_save(self: RedisTrackerStore, tracker: Any, timeout: Optional[float] = None) -> None:
    """Rasa's RedisTrackerStore.save, without rebuilding the trackers when nothing needs merging."""
    await self.stream_events(tracker)
    if not timeout and self.record_exp:
        timeout = self.record_exp
    stored = self.red.get(self.key_prefix + tracker.sender_id)
    if stored is not None and not _extends_stored(stored, tracker):
        prior_tracker = self.deserialise_tracker(tracker.sender_id, stored)
        tracker = self._merge_trackers(prior_tracker, tracker)
    self.red.set(self.key_prefix + tracker.sender_id, self.serialise_tracker(tracker), ex=timeout)


class _KeptOpen:
    """`async with endpoint.session() as session` without closing the shared session at the end."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


_sessions: Dict[Tuple[int, int], Tuple[EndpointConfig, aiohttp.ClientSession]] = {}


def _endpoint_session(self: EndpointConfig) -> _KeptOpen:
    loop = asyncio.get_running_loop()
    key = (id(self), id(loop))
    known = _sessions.get(key)
    if known is None or known[0] is not self or known[1].closed:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        session = aiohttp.ClientSession(  # Rasa's own settings (headers, basic auth, timeout), plus ours
            headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=2.0), json_serialize=ujson.dumps)
        known = _sessions[key] = (self, session)
    return _KeptOpen(known[1])


def _get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> Set[Text]:
    """Rasa's `RulePolicy._get_possible_keys`, starting from the compatible groups instead of every key."""
    if not states:
        return set(lookup.keys())
    index = _indexes.get(id(lookup))
    if index is None or index.lookup is not lookup or index.size != len(lookup):
        index = _indexes[id(lookup)] = _KeysByPreviousAction(lookup)
    possible_keys = index.candidates(states[-1])
    for i, state in enumerate(reversed(states)):
        if not possible_keys:
            break  # Rasa keeps looping over an empty set: same result
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, i, state)}
    return possible_keys


def install() -> None:
    if getattr(RemoteAction, _INSTALLED, False):
        return
    RemoteAction._validate_action_result = _validate_action_result
    RulePolicy._rule_key_to_state = staticmethod(_rule_key_to_state)
    RulePolicy._get_possible_keys = _get_possible_keys
    EndpointConfig.session = _endpoint_session
    RedisTrackerStore.save = _redis_save
    setattr(RemoteAction, _INSTALLED, True)
