"""Fixes to Rasa 3.6 hot spots that cost most of a turn's CPU here (profiled with py-spy, see
benchmarks/README.md). Behaviour is unchanged; only repeated work is removed.

1. Every custom-action response is checked against Rasa's response schema with `jsonschema.validate()`, which
   first re-checks the *schema itself* against the JSON-Schema meta-schema, on every call: 45 % of the Rasa
   process's CPU with jsonschema 4.17. Here the validator is built (and the schema checked) once; responses are
   still validated exactly as before and an invalid one still raises `ValidationError`. A valid response is
   recognised without testing each event against all 23 `oneOf` branches of the schema (only its own event
   type's); anything else goes through the full validator, which gives Rasa's error.
2. RulePolicy decodes each rule key (a JSON string) through an `lru_cache(maxsize=1000)`. Our rule-only
   assistant has 1,330 rule keys, and the lookup walks all of them in the same order every prediction, so an
   LRU smaller than the key set misses every time (RasaHQ/rasa#10703; the larger-cache PR #10704 was never
   merged): 30 % of the CPU went to `json.loads`. The cache here is unbounded: it holds one decoded copy per rule
   key of the loaded model (a few MB at most).
3. Even decoded, RulePolicy tests every one of those keys against the current state on each prediction, though
   a rule can only apply if its last turn's previous action and user intent/entities match the conversation's.
   The keys are grouped once per lookup table by those two; only the groups compatible with the current state
   are then tested by Rasa's own `_is_rule_applicable`, so the result is the same set of keys.

4. Every request Rasa sends to the action server opens a new aiohttp session, i.e. a new TCP connection, and
   closes it after the answer. Here each endpoint keeps one session per event loop (a pool of kept-alive
   connections, dropped after 2 s idle, before the action server's own 5 s keep-alive timeout closes them) and
   encodes the tracker sent with each call with ujson (already a Rasa dependency): about 3x faster than the
   standard json module on these payloads.

5. RedisTrackerStore.save re-reads the stored tracker, rebuilds it event by event, rebuilds the new tracker up to
   the stored one's last event, compares, and when they differ (always here: the channel's metadata slot is set
   before the session starts, so the stored conversation has one event more than the session Rasa retrieves)
   rebuilds a third tracker and tests every new event against every stored one (as dicts): several replays and a
   quadratic comparison on every save. Here the same decisions are taken on the event lists themselves (the same
   Event comparisons, the duplicate test bucketed by event type and timestamp) and the same JSON is stored.
6. Event.resolve_by_type walks every Event subclass, checking each is not abstract, for every event it
   deserialises (tracker loads, action results); the class found for a type name is remembered.
7. Every tracker built (loads, copies, form checks, rule featurisation) copies every slot of the domain with
   `copy.copy`; Slot gets a `__copy__` that does what the generic protocol does for such plain objects, directly.
8. After the model is loaded, `gc.freeze()` takes the ≈ 770,000 objects then alive out of the garbage collector's
   reach: each full collection walked all of them and stopped the worker for ≈ 360 ms.
9. Rasa runs its NLU and policy graphs (a dozen nodes each) through dask for every message: dask rebuilds the task
   graph, orders it and schedules it each time. The graphs are fixed once the model is loaded, so the order of a
   run's nodes is computed once per set of targets and the nodes are called in that order with the same inputs,
   i.e. what dask's synchronous scheduler does.
10. DIET's prediction is a `tf.function` traced once with a fixed input signature; each call still re-derives
   the function's type from its arguments and re-checks them. The traced (concrete) function is called directly
   with the batch's arrays when they match that signature (dtype and rank); anything else goes the usual way.

11. With `enable_selective_domain`, Rasa sends the whole domain (125 kB of JSON here, 86 % of it the bilingual
   responses) with every call to a form validator or an action declared `send_domain: true`: encoded by Rasa,
   decoded by the action server, on most form turns. Our actions read the domain's slots and forms; only the
   actions listed under the action endpoint's `domain_responses_for` (endpoints.yml) render responses
   themselves. The others get the same domain without its `responses`. Without that key, Rasa's behaviour.
12. Each parsed message's sparse features (four featurizers, sequence and sentence) are joined side by side with
   `scipy.sparse.hstack`, which goes through the general block-matrix builder (`bmat`) and re-validates every
   block: ≈ 1 ms per message. Two COO matrices are joined here by concatenating their entries, the right one's
   columns shifted, into the same COO matrix (same entries in the same order, shape and dtype); any other pair of
   formats goes to `hstack` as before.
13. Rasa's lock store takes seven Redis round trips per message: issue a ticket (read, write), read the lock
   again to see whether the ticket is served, then on release remove the ticket (read, write), read again to see
   whether anyone waits, delete. Each is a blocking call on the worker's event loop. Here the lock just written
   answers whether the ticket is served (when it is not, Rasa's own waiting loop runs, re-reading as before), and
   the release reads once, then writes the lock back if someone waits or deletes it: four round trips, the same
   stored locks at each step.

14. With several workers (scripts/run_rasa.sh), Sanic binds one listening socket and the forked workers share it.
   Each worker's event loop, when woken for a new connection, accepts every pending one in a loop, and clients
   keep their connections open (the web widget's socket, the Bot Framework's and any REST client's kept-alive
   pool), so one worker ended up with nearly all of them: in a 50-user run one worker used 34 s of CPU, the
   other 1.2 s, and turns queued behind each other on one core while the other idled. Here every worker binds
   its own socket to the same address with SO_REUSEPORT, and the kernel spreads connections over them (by
   address hash, at connection time). Sanic 21.12 already passes `reuse_port=True` to each worker's server;
   it just bound the shared socket first. A socket or Unix path given by the caller keeps Sanic's behaviour.

`install()` is idempotent; it is called when Rasa imports our channels (bot/channels/__init__.py), i.e. at start-up,
before any message is handled.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import gc
import graphlib
import json
import multiprocessing
import os
import signal
from typing import Any, Dict, List, Optional, Set, Text, Tuple, Type

import aiohttp
import numpy as np
import sanic.app
import sanic.server.runners
import scipy.sparse
import tensorflow as tf
import ujson
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.tracker_store import RedisTrackerStore
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.constants import PREVIOUS_ACTION, USER
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.events import Event
from rasa.shared.core.slots import Slot
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.endpoints import EndpointConfig
from rasa.utils.tensorflow.models import RasaModel

_INSTALLED = "_portal_speedups_installed"
# Rasa's own implementations, kept for the equivalence tests (tests/bot/test_bot_rasa_speedups.py).
ORIGINALS = {
    "_validate_action_result": RemoteAction._validate_action_result,
    "_get_possible_keys": RulePolicy._get_possible_keys,
    "redis_save": RedisTrackerStore.save,
    "resolve_by_type": Event.resolve_by_type,
    "load_model": Agent.load_model,
    "graph_run": DaskGraphRunner.run,
    "rasa_predict": RasaModel._rasa_predict,
    "action_call_format": RemoteAction._action_call_format,
    "combine_sparse": Features._combine_sparse_features,
    "cleanup": LockStore.cleanup,
    "serve_multiple": sanic.app.serve_multiple,
}


@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)  # what jsonschema.validate() did on every call, now once
    return validator_class(schema)


@functools.lru_cache(maxsize=1)
def _event_validators() -> Optional[Tuple[Any, Dict[Text, Any]]]:
    """(the schema without its per-event `oneOf`, one validator per event type). Each `oneOf` branch fixes the
    event name with a `const`, so an event can only match the branch of its own name: a response is valid exactly
    when it passes the rest of the schema and every event passes its own branch. Checking that directly spares
    testing every event against all 23 branches. None if the schema is not of that shape."""
    schema = copy.deepcopy(RemoteAction.action_response_format_spec())
    validator_class = validator_for(schema)
    items = schema.get("properties", {}).get("events", {}).get("items", {})
    branches: Dict[Text, Any] = {}
    for branch in items.pop("oneOf", []):
        name = branch.get("properties", {}).get("event", {}).get("const")
        if not isinstance(name, str) or name in branches:
            return None
        branches[name] = validator_class(branch)
    return (validator_class(schema), branches) if branches else None


def _is_valid_by_event_type(result: Any) -> bool:
    validators = _event_validators()
    if validators is None or not isinstance(result, dict):
        return False
    envelope, branches = validators
    if not envelope.is_valid(result):
        return False
    for event in result.get("events") or []:
        name = event.get("event") if isinstance(event, dict) else None
        if not isinstance(name, str) or name not in branches or not branches[name].is_valid(event):
            return False
    return True


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    if _is_valid_by_event_type(result):
        return True
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


class _KeysByLastTurn:
    """A lookup table's rule keys grouped by the previous action, then by the user sub-state (intent, entities) of
    the rule's last turn."""

    def __init__(self, lookup: Dict[Text, Any]) -> None:
        self.lookup = lookup  # held so that id(lookup) cannot be reused while this index exists
        self.size = len(lookup)  # a table still being filled (training) is indexed again
        self.always: Set[Text] = set()  # rules with no turn at all: applicable at any state
        self.groups: Dict[Text, Tuple[Dict[Text, Any], Dict[Text, Tuple[Dict[Text, Any], Set[Text]]]]] = {}
        for key in lookup:
            states = _rule_key_to_state(key)
            if not states:
                self.always.add(key)
                continue
            previous = states[-1].get(PREVIOUS_ACTION) or {}
            user = states[-1].get(USER) or {}
            by_user = self.groups.setdefault(json.dumps(previous, sort_keys=True), (previous, {}))[1]
            by_user.setdefault(json.dumps(user, sort_keys=True), ({USER: user} if user else {}, set()))[1].add(key)

    def candidates(self, state: Dict[Text, Any]) -> Set[Text]:
        """A superset of the keys Rasa's turn-0 test accepts for `state`: the same starter rules, and the rules
        whose last turn's previous action and user sub-state both match the state (a part of Rasa's test)."""
        current = state.get(PREVIOUS_ACTION)
        found = set(self.always)
        for previous, by_user in self.groups.values():
            if not previous or not current:
                if not previous and not current:
                    for _, keys in by_user.values():
                        found |= keys
                continue
            if not RulePolicy._does_rule_match_state({PREVIOUS_ACTION: previous}, state):
                continue
            for user, keys in by_user.values():
                if RulePolicy._does_rule_match_state(user, state):
                    found |= keys
        return found


_indexes: Dict[int, _KeysByLastTurn] = {}


def _event_key(event: Dict[Text, Any]) -> Tuple[Any, Any]:
    """Equal event dicts have equal keys (buckets for the duplicate test of Rasa's merge)."""
    return event.get("event"), event.get("timestamp")


def _merged_tracker_json(self: RedisTrackerStore, stored: Any, tracker: Any) -> Optional[Text]:
    """What Rasa's `_merge_trackers(deserialise_tracker(stored), tracker)` then `serialise_tracker` give, without
    building either tracker: None when the merge returns `tracker` itself, else the JSON to store."""
    prior = Dialogue.from_parameters(json.loads(stored)).events  # the events deserialise_tracker replays
    if not prior:
        return None
    last_timestamp = prior[-1].timestamp
    past = []  # travel_back_in_time(last_timestamp).events
    for event in tracker.events:
        if event.timestamp > last_timestamp:
            break
        past.append(event)
    if past == prior:  # Rasa compares the two event lists with Event.__eq__
        return None
    merged = [event.as_dict() for event in prior]
    seen: Dict[Tuple[Any, Any], List[Dict[Text, Any]]] = {}
    for event in merged:
        seen.setdefault(_event_key(event), []).append(event)
    for new_event in tracker.events:  # appended unless equal (as dicts) to an event already there
        event = new_event.as_dict()
        same_key = seen.setdefault(_event_key(event), [])
        if event not in same_key:
            same_key.append(event)
            merged.append(event)
    return json.dumps({"events": merged, "name": tracker.sender_id})


async def _redis_save(self: RedisTrackerStore, tracker: Any, timeout: Optional[float] = None) -> None:
    """Rasa's RedisTrackerStore.save, with the merge done on event lists instead of replayed trackers."""
    await self.stream_events(tracker)
    if not timeout and self.record_exp:
        timeout = self.record_exp
    stored = self.red.get(self.key_prefix + tracker.sender_id)
    merged = None
    if stored is not None:
        if self.max_event_history or tracker._max_event_history:  # truncated histories: Rasa's own merge
            tracker = self._merge_trackers(self.deserialise_tracker(tracker.sender_id, stored), tracker)
        else:
            merged = _merged_tracker_json(self, stored, tracker)
    self.red.set(self.key_prefix + tracker.sender_id, merged or self.serialise_tracker(tracker), ex=timeout)


_event_classes: Dict[Text, Type[Event]] = {}


def _resolve_event_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """Rasa's `Event.resolve_by_type`, which walks every Event subclass (and checks each is not abstract) for every
    event it deserialises: the class found for a name is remembered."""
    found = _event_classes.get(type_name)
    if found is None:
        found = ORIGINALS["resolve_by_type"](type_name, default)
        if found is not None and found is not default:
            _event_classes[type_name] = found
    return found


def _copy_slot(self: Slot) -> Slot:
    """`copy.copy(slot)` as Python does it for a plain object (a new instance sharing the attribute values), without
    the generic reduce/reconstruct protocol: every tracker copies every slot of the domain when it is built."""
    clone = self.__class__.__new__(self.__class__)
    clone.__dict__.update(self.__dict__)
    return clone


def _load_model_then_freeze(self: Agent, *args: Any, **kwargs: Any) -> None:
    """Loads the model, then moves every object alive at that point out of the garbage collector's reach: a full
    collection walks the ≈ 770,000 objects of the loaded model (TensorFlow, rules, domain) and stopped the worker
    for ≈ 360 ms each time; afterwards it only walks what conversations create. A model loaded later lets the
    previous one be collected first."""
    gc.unfreeze()
    ORIGINALS["load_model"](self, *args, **kwargs)
    gc.collect()
    gc.freeze()


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
        index = _indexes[id(lookup)] = _KeysByLastTurn(lookup)
    possible_keys = index.candidates(states[-1])
    for i, state in enumerate(reversed(states)):
        if not possible_keys:
            break  # Rasa keeps looping over an empty set: same result
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, i, state)}
    return possible_keys


# A run's plan: (node name, node, the names it needs) in dependency order, or None when dask must run it.
_Plan = Optional[List[Tuple[Text, Any, Tuple[Text, ...]]]]


def _graph_plan(runner: DaskGraphRunner, targets: Tuple[Text, ...]) -> _Plan:
    plans: Dict[Tuple[Text, ...], _Plan] = runner.__dict__.setdefault("_portal_plans", {})
    if targets not in plans:
        nodes = runner._graph_schema.minimal_graph_schema(list(targets)).nodes
        needs = {name: tuple(node.needs.values()) for name, node in nodes.items()}
        try:
            order = graphlib.TopologicalSorter(
                {name: [need for need in node_needs if need in nodes] for name, node_needs in needs.items()}
            ).static_order()
            plans[targets] = [(name, runner._instantiated_nodes[name], needs[name]) for name in order]
        except graphlib.CycleError:
            plans[targets] = None  # dask reports it
    return plans[targets]


def _run_graph(
    self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None
) -> Dict[Text, Any]:
    """`DaskGraphRunner.run` without dask: each node of the minimal graph for the targets is called once, after the
    nodes it needs, with their `(name, output)` results or the `(name, value)` of the run's inputs, as dask does."""
    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    plan = _graph_plan(self, run_targets)
    inputs = inputs or {}
    if plan is None or any(isinstance(value, str) and value in self._graph_schema.nodes for value in inputs.values()):
        return ORIGINALS["graph_run"](self, inputs, targets)  # Rasa's own error for a clash, dask's for a cycle
    results: Dict[Text, Any] = {name: (name, value) for name, value in inputs.items()}
    if any(target not in results and target not in self._graph_schema.nodes for target in run_targets):
        return ORIGINALS["graph_run"](self, inputs, targets)
    try:
        for name, node, needs in plan:
            results[name] = node(*(results.get(need, need) for need in needs))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results[target] for target in run_targets)


class _DirectCall:
    """DIET's traced prediction function, called directly when a batch matches the signature it was traced with."""

    def __init__(self, traced: Any) -> None:
        self.traced = traced
        self.concrete = traced.get_concrete_function()
        self.specs = list(traced.input_signature[0])

    def matches(self, batch_in: Any) -> bool:
        return len(batch_in) == len(self.specs) and all(
            isinstance(array, np.ndarray)
            and array.dtype == spec.dtype.as_numpy_dtype
            and spec.shape.is_compatible_with(array.shape)
            for array, spec in zip(batch_in, self.specs)
        )

    def __call__(self, batch_in: Any) -> Any:
        if not self.matches(batch_in):
            return self.traced(batch_in)
        tensors = [tf.convert_to_tensor(array) for array in batch_in]
        return self.concrete._call_flat(tensors, captured_inputs=self.concrete.captured_inputs)


def _rasa_predict(self: RasaModel, batch_in: Any) -> Dict[Text, Any]:
    traced = self._tf_predict_step
    if traced is not None and not isinstance(traced, _DirectCall) and getattr(traced, "input_signature", None):
        self._tf_predict_step = _DirectCall(traced)
    return ORIGINALS["rasa_predict"](self, batch_in)


RESPONSES_KEY = "domain_responses_for"  # action endpoint setting: the actions that get the domain's responses
_domains_without_responses: Dict[int, Tuple[Any, Dict[Text, Any]]] = {}


def _domain_without_responses(domain: Any) -> Dict[Text, Any]:
    """The domain's dict minus `responses`, built once per loaded domain (kept with it: ids are not reused)."""
    known = _domains_without_responses.get(id(domain))
    if known is None or known[0] is not domain:
        if len(_domains_without_responses) > 8:  # a model reloaded many times: drop the old domains
            _domains_without_responses.clear()
        slim = {key: value for key, value in domain.as_dict().items() if key != "responses"}
        known = _domains_without_responses[id(domain)] = (domain, slim)
    return known[1]


def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> Dict[Text, Any]:
    result = ORIGINALS["action_call_format"](self, tracker, domain)
    needs_responses = self.action_endpoint.kwargs.get(RESPONSES_KEY) if self.action_endpoint else None
    if "domain" in result and needs_responses is not None and self.name() not in needs_responses:
        result["domain"] = _domain_without_responses(domain)
    return result


def hstack_coo(left: Any, right: Any) -> Any:
    """`scipy.sparse.hstack([left, right])` for two COO matrices with as many rows."""
    dtype = np.result_type(left.dtype, right.dtype)
    return scipy.sparse.coo_matrix(
        (np.concatenate((left.data, right.data)),
         (np.concatenate((left.row, right.row)), np.concatenate((left.col, right.col + left.shape[1])))),
        shape=(left.shape[0], left.shape[1] + right.shape[1]), dtype=dtype)


def _combine_sparse_features(self: Features, additional_features: Features) -> None:
    left, right = self.features, additional_features.features
    if not (scipy.sparse.isspmatrix_coo(left) and scipy.sparse.isspmatrix_coo(right)) \
            or left.shape[0] != right.shape[0]:
        return ORIGINALS["combine_sparse"](self, additional_features)  # Rasa's error, or another format
    self.features = hstack_coo(left, right)
    self._cached_fingerprint = None


@contextlib.asynccontextmanager
async def _lock(self: LockStore, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                wait_time_in_seconds: float = 1) -> Any:
    try:  # LockStore.issue_ticket, keeping the lock it writes
        lock = self.get_or_create_lock(conversation_id)
        ticket = lock.issue_ticket(lock_lifetime)
        self.save_lock(lock)
    except Exception as e:
        raise LockError(f"Error while acquiring lock. Error:\n{e}")
    try:
        if lock.is_locked(ticket):  # an earlier message of this conversation is running: Rasa's wait
            lock = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        yield lock
    finally:
        self.cleanup(conversation_id, ticket)


def _cleanup(self: LockStore, conversation_id: Text, ticket_number: int) -> None:
    """finish_serving, then delete the lock unless someone is waiting, from one read."""
    lock = self.get_lock(conversation_id)
    if lock is not None:
        lock.remove_ticket_for(ticket_number)
        if lock.is_someone_waiting():
            self.save_lock(lock)
            return
    self.delete_lock(conversation_id)


def _serve_multiple(server_settings: Dict[Text, Any], workers: int) -> None:
    """Sanic 21.12's `serve_multiple`, minus the socket bound before forking: each worker's `serve` then binds
    its own, with SO_REUSEPORT (`reuse_port=True`, which Sanic sets for multiple workers)."""
    if server_settings.get("sock") is not None or server_settings.get("unix"):
        return ORIGINALS["serve_multiple"](server_settings, workers)
    server_settings["reuse_port"] = True
    server_settings["run_multiple"] = True
    main_start = server_settings.pop("main_start", None)
    main_stop = server_settings.pop("main_stop", None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sanic.server.runners.trigger_events(main_start, loop)
    processes: List[Any] = []

    def stop_workers(signal_number: int, frame: Any) -> None:
        sanic.server.runners.logger.info("Received signal %s. Shutting down.", signal.Signals(signal_number).name)
        for process in processes:
            os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop_workers)
    signal.signal(signal.SIGTERM, stop_workers)
    context = multiprocessing.get_context("fork")
    for _ in range(workers):
        process = context.Process(target=sanic.server.runners.serve, kwargs=server_settings)
        process.daemon = True
        process.start()
        processes.append(process)
    for process in processes:
        process.join()
    for process in processes:
        process.terminate()
    sanic.server.runners.trigger_events(main_stop, loop)
    loop.close()
    return None


def install() -> None:
    if getattr(RemoteAction, _INSTALLED, False):
        return
    RemoteAction._validate_action_result = _validate_action_result
    RulePolicy._rule_key_to_state = staticmethod(_rule_key_to_state)
    RulePolicy._get_possible_keys = _get_possible_keys
    EndpointConfig.session = _endpoint_session
    RedisTrackerStore.save = _redis_save
    Event.resolve_by_type = staticmethod(_resolve_event_type)
    Slot.__copy__ = _copy_slot
    Agent.load_model = _load_model_then_freeze
    DaskGraphRunner.run = _run_graph
    RasaModel._rasa_predict = _rasa_predict
    RemoteAction._action_call_format = _action_call_format
    Features._combine_sparse_features = _combine_sparse_features
    LockStore.lock = _lock
    LockStore.cleanup = _cleanup
    sanic.app.serve_multiple = _serve_multiple
    setattr(RemoteAction, _INSTALLED, True)
