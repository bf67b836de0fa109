"""bot/rasa_speedups.py removes repeated work from Rasa hot spots; results must stay exactly Rasa's."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION

from bot import rasa_speedups

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "portal.tar.gz"


@pytest.fixture(autouse=True, scope="module")
def installed():
    rasa_speedups.install()


def test_install_is_idempotent_and_patches_both_hot_spots():
    rasa_speedups.install()
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result
    assert RulePolicy._get_possible_keys is rasa_speedups._get_possible_keys
    assert RulePolicy._rule_key_to_state("[{\"a\": 1}]") == [{"a": 1}]


VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "active_loop", "name": "meter_reading_form"}, {"event": "slot", "name": "x", "value": [1]},
                {"event": "followup", "name": "action_x"}, {"event": "bot", "text": "hi", "data": {}}],
     "responses": [{"text": "a", "buttons": []}]},
    {"events": [{"event": "slot", "name": "language", "value": "en"}], "responses": [{"text": "hi"}]},
    {"events": [{"event": "action", "name": "action_listen"}], "responses": [{"response": "utter_greet"}]},
    {},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": 3}]},
    {"events": [{"event": "active_loop", "name": "f"}, {"event": "user", "text": 5}]},
    {"events": [{"event": "slot", "name": "x", "timestamp": "yesterday"}]},
    {"events": [["event", "slot"]]},
    "not an object",
    {"events": None},
    {"events": [{"no_event_key": 1}]},
    {"events": [{"event": 3}]},
    {"responses": "text"},
]


@pytest.mark.parametrize("result", VALID)
def test_valid_action_responses_pass_as_with_rasa(result):
    action = RemoteAction("action_x", None)
    assert rasa_speedups.ORIGINALS["_validate_action_result"](action, result) is True
    assert action._validate_action_result(result) is True
    assert rasa_speedups._is_valid_by_event_type(result)  # recognised without the full oneOf walk


@pytest.mark.parametrize("result", INVALID)
def test_invalid_action_responses_are_refused_as_with_rasa(result):
    action = RemoteAction("action_x", None)
    with pytest.raises(ValidationError) as rasa_error:
        rasa_speedups.ORIGINALS["_validate_action_result"](action, result)
    with pytest.raises(ValidationError) as ours:
        action._validate_action_result(result)
    assert ours.value.message == rasa_error.value.message
    assert "Failed to validate Action server response" in ours.value.message


def _model_lookups() -> dict:
    assert MODEL.exists(), "no trained model: `make test` trains it before running the tests"
    with tarfile.open(MODEL) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("RulePolicy1/rule_policy.json"))
        return json.load(archive.extractfile(member))["lookup"]


def _conversations(lookup: dict) -> list:
    """Realistic conversation states: every rule's own turns, each prefix of them, and variants whose last
    previous action or intent differs (so that most rules must be rejected)."""
    conversations = []
    for key in lookup:
        states = json.loads(key)
        for end in range(1, len(states) + 1):
            conversations.append(states[:end])
        last = dict(states[-1])
        last[PREVIOUS_ACTION] = {"action_name": "action_listen"}
        conversations.append(states[:-1] + [last])
        if "user" in last:
            conversations.append(states[:-1] + [dict(last, user={"intent": "greet"})])
            # the same intent with entities the rule may or may not require, and no user turn at all
            with_entities = dict(last["user"], entities=("asset_ref", "case_number"))
            conversations.append(states[:-1] + [dict(states[-1], user=with_entities)])
            conversations.append(states[:-1] + [{k: v for k, v in states[-1].items() if k != "user"}])
    conversations.append([{}])
    conversations.append([])
    return conversations


def test_rule_lookup_finds_exactly_rasas_keys_on_the_trained_model():
    lookups = _model_lookups()
    policy = RulePolicy.__new__(RulePolicy)  # the lookup code only uses static helpers
    compared = 0
    for table in ("rules", "rules_for_loop_unhappy_path"):
        lookup = lookups[table]
        assert len(lookup) > 100
        for states in _conversations(lookup):
            expected = rasa_speedups.ORIGINALS["_get_possible_keys"](policy, lookup, states)
            assert policy._get_possible_keys(lookup, states) == expected, states
            compared += 1
    assert compared > 2000


def test_a_lookup_table_that_grows_is_indexed_again():
    policy = RulePolicy.__new__(RulePolicy)
    state = {PREVIOUS_ACTION: {"action_name": "action_listen"}, "user": {"intent": "greet"}}
    lookup = {json.dumps([state]): "utter_greet"}
    assert policy._get_possible_keys(lookup, [state]) == set(lookup)
    other = dict(state, user={"intent": "goodbye"})
    lookup[json.dumps([other])] = "utter_goodbye"
    assert policy._get_possible_keys(lookup, [other]) == {json.dumps([other])}


@pytest.fixture(scope="module")
def portal_domain():
    from rasa.shared.core.domain import Domain
    return Domain.load(ROOT / "domain")


def _call_format(portal_domain, name, **endpoint_settings):
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    tracker = DialogueStateTracker.from_events("someone", [UserUttered("bonjour", {"name": "greet"})],
                                               slots=portal_domain.slots)
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", enable_selective_domain=True, **endpoint_settings)
    action = RemoteAction(name, endpoint)
    return rasa_speedups.ORIGINALS["action_call_format"](action, tracker, portal_domain), \
        action._action_call_format(tracker, portal_domain)


def test_the_domain_goes_without_its_responses_to_actions_not_listed(portal_domain):
    rasa, ours = _call_format(portal_domain, "validate_fault_report_form",
                              domain_responses_for=["action_change_language"])
    assert "responses" in rasa["domain"] and "responses" not in ours["domain"]
    assert ours["domain"] == {k: v for k, v in rasa["domain"].items() if k != "responses"}
    assert {k: v for k, v in ours.items() if k != "domain"} == {k: v for k, v in rasa.items() if k != "domain"}
    assert len(json.dumps(ours["domain"])) < len(json.dumps(rasa["domain"])) / 4
    assert portal_domain.as_dict()["responses"], "the loaded domain itself is left whole"


def test_listed_actions_and_endpoints_without_the_setting_get_rasas_call(portal_domain):
    rasa, ours = _call_format(portal_domain, "action_change_language", domain_responses_for=["action_change_language"])
    assert ours == rasa and "responses" in ours["domain"]
    rasa, ours = _call_format(portal_domain, "validate_fault_report_form")
    assert ours == rasa and "responses" in ours["domain"]
    rasa, ours = _call_format(portal_domain, "action_search_knowledge", domain_responses_for=[])
    assert ours == rasa and "domain" not in ours  # selective domain: this action gets none at all


@pytest.mark.asyncio
async def test_endpoint_calls_reuse_one_open_session_per_endpoint():
    from aiohttp import web

    received = []

    async def webhook(request):
        received.append((await request.json(), request.headers.get("X-Test")))
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        from rasa.utils.endpoints import EndpointConfig
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Test": "yes"})
        payload = {"next_action": "action_x", "tracker": {"events": [{"event": "user", "text": "é/ü"}]}}
        for _ in range(3):
            assert await endpoint.request(json=payload, method="post") == {"events": [], "responses": []}
        assert received == [(payload, "yes")] * 3  # Rasa's headers kept, payload intact (accents, slashes)
        async with endpoint.session() as first:
            pass
        async with endpoint.session() as second:
            pass
        assert first is second and not first.closed  # one pooled session, never closed after a call
        other = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        async with other.session() as third:
            assert third is not first
    finally:
        for _, session in list(rasa_speedups._sessions.values()):
            await session.close()  # a server process keeps them for its lifetime; this test's loop ends here
        rasa_speedups._sessions.clear()
        await runner.cleanup()


class FakeRedis:
    def __init__(self) -> None:
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value, ex=None):
        self.data[key] = value


def _redis_store():
    from rasa.core.tracker_store import RedisTrackerStore
    from rasa.shared.core.domain import Domain

    store = RedisTrackerStore.__new__(RedisTrackerStore)
    store.red, store.key_prefix, store.record_exp, store.event_broker = FakeRedis(), "tracker:", None, None
    store.max_event_history = None
    store.domain = Domain.empty()
    return store


def _conversations_to_save():
    """(stored events, events saved next): a conversation going on, one whose stored events start with the slot the
    channel sets before the session starts (as every conversation here), a new session after an old one, a restart
    with fewer events, an out-of-order timestamp, duplicates, and events sharing a timestamp."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

    def turn(text, at):
        return [UserUttered(text, {"name": "greet", "confidence": 0.9}, timestamp=at),
                ActionExecuted("utter_greet", timestamp=at + 0.1), ActionExecuted("action_listen", timestamp=at + 0.2)]

    start = [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.0),
             SlotSet("language", "en", timestamp=1.0), ActionExecuted("action_listen", timestamp=1.0)]
    first = start + turn("hello", 2.0)
    going_on = first + turn("thanks", 3.0)
    new_session = [ActionExecuted("action_session_start", timestamp=9.0), SessionStarted(timestamp=9.0),
                   ActionExecuted("action_listen", timestamp=9.0)] + turn("back again", 10.0)
    metadata = [SlotSet("session_started_metadata", {"token": "t"}, timestamp=0.5)]
    same_time = [SlotSet("language", "en", timestamp=3.5), SlotSet("language", "en", timestamp=3.5),
                 SlotSet("user_name", "Ann", timestamp=3.5)]
    return [
        (None, first),
        (first, going_on),
        (first, new_session),  # retrieve() only gives the last session: the older one must be kept
        (going_on, first),  # fewer events than stored
        (first, going_on[:4] + turn("late", 1.5) + going_on[4:]),
        (first, going_on + turn("thanks", 3.0)),
        (metadata + first, going_on),  # what retrieve() gives without the metadata slot, one turn later
        (metadata + first, going_on + same_time),  # Rasa's merge drops an event equal to one already there
        (metadata + going_on, going_on),  # saved again without new events
        (metadata + first, []),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("case", range(10))
async def test_redis_save_stores_exactly_what_rasa_would(case):
    from rasa.shared.core.trackers import DialogueStateTracker

    stored_events, new_events = _conversations_to_save()[case]
    ours, rasas = _redis_store(), _redis_store()
    for store, save in ((ours, rasa_speedups._redis_save), (rasas, rasa_speedups.ORIGINALS["redis_save"])):
        if stored_events is not None:
            store.red.set("tracker:c1", store.serialise_tracker(DialogueStateTracker.from_events("c1", stored_events)))
        await save(store, DialogueStateTracker.from_events("c1", new_events))
    assert json.loads(ours.red.data["tracker:c1"]) == json.loads(rasas.red.data["tracker:c1"])


def test_saving_a_session_after_the_channel_metadata_slot_rebuilds_no_tracker(monkeypatch):
    from rasa.shared.core.trackers import DialogueStateTracker

    stored_events, new_events = _conversations_to_save()[6]
    store = _redis_store()
    stored = store.serialise_tracker(DialogueStateTracker.from_events("c1", stored_events))
    built = []
    original_init = DialogueStateTracker.__init__
    monkeypatch.setattr(DialogueStateTracker, "__init__",
                        lambda self, *a, **k: built.append(1) or original_init(self, *a, **k))
    tracker = DialogueStateTracker.from_events("c1", new_events)
    built.clear()
    merged = json.loads(rasa_speedups._merged_tracker_json(store, stored, tracker))
    assert built == []
    assert merged["events"][0]["name"] == "session_started_metadata"
    assert len(merged["events"]) == len(new_events) + 1


def test_event_types_resolve_as_with_rasa():
    from rasa.shared.core.events import Event, SlotSet, UserUttered

    for name in ("user", "slot", "action", "session_started", "bot", "active_loop", "user_featurization"):
        assert Event.resolve_by_type(name) is rasa_speedups.ORIGINALS["resolve_by_type"](name)
    assert Event.resolve_by_type("user") is UserUttered and Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("no such event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        Event.resolve_by_type("no such event")


def test_a_copied_slot_is_an_independent_equal_slot():
    import copy

    from rasa.shared.core.slots import CategoricalSlot, ListSlot, TextSlot

    for slot in (TextSlot("language", mappings=[], initial_value="fr"), ListSlot("items", mappings=[]),
                 CategoricalSlot("kind", mappings=[], values=["a", "b"], influence_conversation=True)):
        slot.value = ["x"] if isinstance(slot, ListSlot) else "a"
        clone = copy.copy(slot)
        assert type(clone) is type(slot) and clone is not slot
        assert clone.__dict__ == slot.__dict__
        clone.value = None
        assert slot.value is not None and clone.value is None
        assert clone.as_feature() is not None


def test_the_loaded_model_is_kept_out_of_the_garbage_collectors_walks(monkeypatch):
    import gc

    from rasa.core.agent import Agent

    loaded = []
    monkeypatch.setitem(rasa_speedups.ORIGINALS, "load_model", lambda self, path: loaded.append(path))
    try:
        Agent.load_model(object.__new__(Agent), "models/x.tar.gz")
        assert loaded == ["models/x.tar.gz"]
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


def _runner(needs_by_node, calls, failing=None):
    """A DaskGraphRunner over plain callables that record their calls and return what a GraphNode returns."""
    from rasa.engine.graph import GraphSchema, SchemaNode
    from rasa.engine.runner.dask import DaskGraphRunner

    def node(name):
        def run(*inputs):
            calls.append(name)
            if name == failing:
                raise RuntimeError("node failed")
            return name, (name, sorted(map(str, inputs)))
        return run

    runner = DaskGraphRunner.__new__(DaskGraphRunner)
    runner._graph_schema = GraphSchema(
        {name: SchemaNode(needs=needs, uses=object, constructor_name="load", fn="run", config={},
                          is_target=name.startswith("target")) for name, needs in needs_by_node.items()})
    runner._instantiated_nodes = {name: node(name) for name in needs_by_node}
    runner._execution_context = None
    return runner


GRAPH = {  # a diamond fed by an input, a node needing a literal (no such node or input), an unrelated branch
    "tokens": {"messages": "__message__"},
    "counts": {"messages": "tokens"},
    "regex": {"messages": "tokens", "extra": "not_a_node"},
    "target_intent": {"a": "counts", "b": "regex"},
    "target_other": {"messages": "unrelated"},
    "unrelated": {},
}


@pytest.mark.parametrize("inputs, targets", [
    ({"__message__": "hello"}, ["target_intent"]),
    ({"__message__": "hello"}, None),
    ({"__message__": ["a", "b"]}, ["counts", "__message__"]),  # a target that is an input, an unhashable input
    ({}, ["target_other"]),
])
def test_graphs_run_without_dask_as_dask_runs_them(inputs, targets):
    from rasa.engine.runner.dask import DaskGraphRunner

    dask_calls, our_calls = [], []
    expected = rasa_speedups.ORIGINALS["graph_run"](_runner(GRAPH, dask_calls), dict(inputs), targets)
    runner = _runner(GRAPH, our_calls)
    assert DaskGraphRunner.run is rasa_speedups._run_graph
    assert runner.run(dict(inputs), targets) == expected
    assert runner.run(dict(inputs), targets) == expected  # the cached plan
    assert sorted(our_calls) == sorted(dask_calls * 2)  # each node once per run, only the needed ones
    for name, needs in GRAPH.items():  # every node after the nodes it needs
        for need in needs.values():
            if name in our_calls and need in GRAPH:
                assert our_calls.index(need) < our_calls.index(name)


def test_graph_errors_are_rasas():
    from rasa.engine.exceptions import GraphRunError

    with pytest.raises(GraphRunError, match="Error running runner"):
        _runner(GRAPH, [], failing="counts").run({"__message__": "x"}, ["target_intent"])
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        _runner(GRAPH, []).run({"__message__": "tokens"}, ["target_intent"])
    cyclic = {"target_a": {"x": "b"}, "b": {"x": "target_a"}}
    with pytest.raises(Exception) as ours:
        _runner(cyclic, []).run({}, ["target_a"])
    with pytest.raises(Exception) as dasks:
        rasa_speedups.ORIGINALS["graph_run"](_runner(cyclic, []), {}, ["target_a"])
    assert type(ours.value) is type(dasks.value)


def test_a_traced_function_is_called_directly_only_with_matching_arrays():
    import numpy as np
    import tensorflow as tf

    signature = [[tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([None], tf.int64)]]
    traced = tf.function(lambda batch: {"sum": tf.reduce_sum(batch[0], axis=1) + tf.cast(batch[1], tf.float32)},
                         input_signature=signature)
    direct = rasa_speedups._DirectCall(traced)
    batch = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    assert direct.matches(batch)
    np.testing.assert_array_equal(direct(batch)["sum"].numpy(), traced(batch)["sum"].numpy())
    for other in [(batch[0].astype(np.float64), batch[1]),  # castable: the usual path casts it
                  (batch[0].reshape(6), batch[1]),  # wrong rank: the usual path's error
                  (batch[0],)]:
        assert not direct.matches(other)
    np.testing.assert_array_equal(direct((batch[0].astype(np.float64), batch[1]))["sum"].numpy(), [4.0, 14.0])
    with pytest.raises((TypeError, ValueError)):
        direct((batch[0].reshape(6), batch[1]))


@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make model)")
@pytest.mark.asyncio
async def test_the_trained_model_parses_exactly_as_without_the_speedups(monkeypatch):
    import re

    from rasa.core.agent import Agent
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.utils.tensorflow.models import RasaModel

    texts = [re.sub(r"\[([^\]]*)\][({][^)}]*[)}]", r"\1", line.strip()[2:])
             for name in ("heldout_fr.yml", "heldout_en.yml")
             for line in (ROOT / "tests" / "nlu" / name).read_text(encoding="utf-8").splitlines()
             if line.strip().startswith("- ") and "intent:" not in line][::15]
    assert len(texts) > 20
    agent = Agent.load(str(MODEL))
    ours = [await agent.parse_message(text) for text in texts]

    diet_models = [node._component.model for node in agent.processor.graph_runner._instantiated_nodes.values()
                   if isinstance(getattr(node._component, "model", None), RasaModel)]
    assert diet_models and all(isinstance(m._tf_predict_step, rasa_speedups._DirectCall) for m in diet_models)
    for model in diet_models:
        model._tf_predict_step = model._tf_predict_step.traced
    monkeypatch.setattr(DaskGraphRunner, "run", rasa_speedups.ORIGINALS["graph_run"])
    monkeypatch.setattr(RasaModel, "_rasa_predict", rasa_speedups.ORIGINALS["rasa_predict"])
    rasas = [await agent.parse_message(text) for text in texts]
    assert ours == rasas
    assert {parsed["intent"]["name"] for parsed in ours} != {None}


@pytest.mark.parametrize("left_shape,right_shape,dtypes", [
    ((7, 40), (7, 3000), (np.float64, np.float32)),
    ((1, 12), (1, 900), (np.int64, np.float64)),
    ((0, 5), (0, 6), (np.float64, np.float64)),
    ((3, 4), (3, 0), (np.float32, np.float32)),
])
def test_sparse_features_are_joined_as_scipy_joins_them(left_shape, right_shape, dtypes):
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features

    left = scipy.sparse.random(*left_shape, density=0.3, format="coo", random_state=1, dtype=dtypes[0])
    right = scipy.sparse.random(*right_shape, density=0.05, format="coo", random_state=2, dtype=dtypes[1])
    features = Features(left, "sequence", "text", "a")
    features.combine_with_features(Features(right, "sequence", "text", "b"))
    expected = scipy.sparse.hstack([left, right])
    joined = features.features
    assert type(joined) is type(expected) and joined.shape == expected.shape and joined.dtype == expected.dtype
    for part in ("row", "col", "data"):
        assert np.array_equal(getattr(joined, part), getattr(expected, part))


def test_other_sparse_formats_and_mismatched_rows_go_to_rasa():
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features

    features = Features(scipy.sparse.csr_matrix(np.eye(2)), "sequence", "text", "a")
    features.combine_with_features(Features(scipy.sparse.coo_matrix(np.ones((2, 1))), "sequence", "text", "b"))
    assert (features.features.toarray() == [[1, 0, 1], [0, 1, 1]]).all()
    with pytest.raises(ValueError, match="sequence dimensions do not match"):
        Features(scipy.sparse.coo_matrix(np.eye(2)), "sequence", "text", "a").combine_with_features(
            Features(scipy.sparse.coo_matrix(np.ones((3, 1))), "sequence", "text", "b"))


class CountingLockStore:
    """An in-memory lock store that counts its storage calls (each one a Redis round trip with RedisLockStore)."""

    @staticmethod
    def make():
        from rasa.core.lock_store import InMemoryLockStore

        class Counting(InMemoryLockStore):
            def __init__(self):
                super().__init__()
                self.calls = []

            def get_lock(self, conversation_id):
                self.calls.append("get")
                return super().get_lock(conversation_id)

            def save_lock(self, lock):
                self.calls.append("save")
                super().save_lock(lock)

            def delete_lock(self, conversation_id):
                self.calls.append("delete")
                super().delete_lock(conversation_id)

        return Counting()


@pytest.mark.asyncio
async def test_a_message_takes_four_lock_round_trips_and_leaves_no_lock():
    store = CountingLockStore.make()
    async with store.lock("c1") as lock:
        assert not lock.is_locked(lock.last_issued)
        assert store.get_lock("c1") is not None
    assert store.get_lock("c1") is None
    assert store.calls == ["get", "save", "get", "get", "delete", "get"]  # 4 + the two test reads


@pytest.mark.asyncio
async def test_messages_of_one_conversation_still_run_one_at_a_time_in_arrival_order():
    import asyncio

    store = CountingLockStore.make()
    order = []

    async def message(name, hold):
        async with store.lock("c1", wait_time_in_seconds=0.01):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    await asyncio.gather(message("first", 0.05), message("second", 0), message("third", 0))
    assert order == ["first in", "first out", "second in", "second out", "third in", "third out"]
    assert store.get_lock("c1") is None


@pytest.mark.asyncio
async def test_a_failing_turn_releases_its_ticket_and_keeps_the_waiters_lock():
    import asyncio

    store = CountingLockStore.make()
    entered = asyncio.Event()

    async def failing():
        async with store.lock("c1", wait_time_in_seconds=0.01):
            entered.set()
            await asyncio.sleep(0.03)
            raise RuntimeError("boom")

    async def waiting():
        await entered.wait()
        async with store.lock("c1", wait_time_in_seconds=0.01) as lock:
            return lock.now_serving

    results = await asyncio.gather(failing(), waiting(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] == 1  # the second ticket got served
    assert store.get_lock("c1") is None


def test_releasing_stores_what_rasas_release_stores():
    from rasa.core.lock_store import InMemoryLockStore

    for waiting in (0, 2):
        stores = []
        for cleanup in (rasa_speedups.ORIGINALS["cleanup"], rasa_speedups._cleanup):
            store = InMemoryLockStore()
            tickets = [store.issue_ticket("c1") for _ in range(1 + waiting)]
            cleanup(store, "c1", tickets[0])
            stored = store.get_lock("c1")
            stores.append(None if stored is None else [t.number for t in stored.tickets])
        assert stores[0] == stores[1]
        assert (stores[0] is None) == (waiting == 0)


SERVER = """
import os, sys
from sanic import Sanic, response
from bot import rasa_speedups

rasa_speedups.install()
app = Sanic("reuse_port_probe")

@app.get("/pid")
async def pid(request):
    return response.text(str(os.getpid()))

app.run(host="127.0.0.1", port=int(sys.argv[1]), workers=2, access_log=False)
"""


def _pids_answering(port: int, connections: int) -> list:
    import http.client

    opened = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(connections)]
    try:
        for connection in opened:
            connection.connect()
        pids = []
        for connection in opened:
            connection.request("GET", "/pid")
            pids.append(int(connection.getresponse().read()))
        return pids
    finally:
        for connection in opened:
            connection.close()


def test_workers_listen_on_their_own_sockets_so_connections_spread_over_them(tmp_path: Path):
    import contextlib
    import http.client
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    server = subprocess.Popen([sys.executable, str(script), str(port)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: set = set()
        deadline = time.monotonic() + 90
        while len(workers) < 2 and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                workers |= set(_pids_answering(port, 10))
            time.sleep(0.3)
        assert len(workers) == 2, "two workers did not come up"
        # One listening socket per worker (two LISTEN entries for the port), not one shared by both.
        listening = [line for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                     if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"]
        assert len(listening) == 2
        # 40 connections arrive while both workers are busy (stopped), as a client's pool opening at once: with a
        # shared socket the first worker to resume accepts every pending connection, and keeps them.
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        pending = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(40)]
        for connection in pending:
            connection.connect()  # the kernel completes the handshake; the connection waits to be accepted
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        pids = []
        for connection in pending:
            connection.request("GET", "/pid")
            pids.append(int(connection.getresponse().read()))
        for connection in pending:
            connection.close()
        counts = sorted(pids.count(pid) for pid in workers)
        assert counts[0] >= 6, counts  # a hash split of 40 below 6 is a one-in-a-million event
    finally:
        os.kill(server.pid, signal.SIGTERM)  # the main process stops its workers, then exits
        try:
            server.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)  # whatever is left of the group
    assert server.returncode == 0
