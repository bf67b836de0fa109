"""50 concurrent scripted conversations over the REST channel against the running stack.

Starts its own stack (scripts/stack.py: the Procfile on free ports, a fresh seeded SQLite database). Then
`--conversations` simulated users (50 by default) chat at the same time for `--duration` seconds: each user runs
one scripted conversation after another (a new conversation id each time), sending the next message only after
the bot's answer and a think time (1-3 s by default), as a person reads and types. Users join over the first
`--ramp` seconds (default 3: the longest think time), so the 50 conversations overlap from then on without all
first messages landing in the same millisecond; `--ramp 0` measures that burst instead. Every turn is timed and
labelled:

- `nlu`: answered by a rule with a response only (greeting, thanks, help text, a form question re-asked);
- `action`: the answer runs a custom action that calls the backend (lists, forms, submissions);
- `kb`: the answer searches the knowledge base (knowledge question, fault triage with articles).

It reports p50/p95/max per turn type, the CPU time each service used per turn (from /proc), and afterwards checks,
in the benchmark's own database, that every case, order and meter reading the conversations submitted exists
exactly once (no loss, no duplicate).

    .venv-app/bin/python benchmarks/conversations.py [--conversations 50] [--duration 60] [--ramp 3] [--json out.json]
        [--py-spy /path/to/py-spy --profile-dir var/profiles]

Not a test: figures depend on the machine; benchmarks/README.md quotes runs.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from stack import ADMIN, USER, Stack, running_stack  # noqa: E402

CASE = re.compile(r"\bCS\d{7}\b")
ORDER = re.compile(r"\bORD\d{7}\b")
USER_ASSET = "53463252"  # the demo user's only device


def _readings(ctx: Context) -> str:
    return ", ".join(f"{code}: {value + 100 + ctx.index}" for code, value in sorted(ctx.meters.items()))


@dataclass
class Turn:
    text: str
    kind: str  # nlu | action | kb
    expect: Optional[str] = None  # a regex the bot's answer must match, else the turn counts as an error


@dataclass
class Context:
    index: int
    think: Tuple[float, float] = (0.0, 0.0)  # seconds a user takes to read and type, drawn per turn
    meters: Dict[str, int] = field(default_factory=dict)  # code -> last reading, read just before the script


@dataclass
class Script:
    name: str
    email: str
    turns: Callable[[Context], List[Turn]]
    creates: Optional[str] = None  # "case" | "order" | "reading": what the conversation submits once
    # Meter readings must never go down: conversations sending readings for the same device take turns
    # (as one person reads one device), and read the current values first.
    meter_asset: Optional[str] = None


@dataclass
class Result:
    script: str
    latencies: List[Tuple[str, float]] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    references: List[str] = field(default_factory=list)
    readings: Dict[str, int] = field(default_factory=dict)  # meter code -> value sent


def scripts() -> List[Script]:
    """The mix of conversations: chit-chat, knowledge, lists, a fault case, an order and meter readings."""
    return [
        Script("chit-chat FR", ADMIN, lambda c: [
            Turn("bonjour", "nlu", r"Bonjour"), Turn("merci", "nlu"), Turn("au revoir", "nlu")]),
        Script("chit-chat EN", USER, lambda c: [
            Turn("hello", "nlu", r"Hello"), Turn("thanks", "nlu"), Turn("bye", "nlu")]),
        Script("knowledge FR", ADMIN, lambda c: [
            Turn("comment remplacer la cartouche de toner ?", "kb", r"KB\d+"),
            Turn("merci", "nlu")]),
        Script("knowledge EN", USER, lambda c: [
            Turn("how do I clear a paper jam in the drawer?", "kb", r"KB\d+"),
            Turn("thank you", "nlu")]),
        Script("my cases", ADMIN, lambda c: [
            Turn("montre mes dossiers", "action", r"CS\d{7}"),
            Turn("quel est le statut du dossier CS0032498 ?", "action", r"CS0032498")]),
        Script("fault case", USER, lambda c: [
            Turn("the copier keeps jamming in tray 2", "action", r"GNM75498"),
            Turn("yes", "kb", r"help you solve"),
            Turn("no", "nlu", r"about to open this case"),
            Turn("yes", "action", r"CS\d{7}")], creates="case"),
        Script("consumables order", ADMIN, lambda c: [
            Turn("je voudrais commander du toner", "action", r"appareil"),
            Turn('/inform{"asset_ref":"53463252"}', "action"),
            Turn('/inform{"order_part":"2790B002"}', "action"),
            Turn("2", "action"),
            Turn("non", "action", r"2790B002"),
            Turn("oui", "action", r"ORD\d{7}")], creates="order"),
        Script("meter readings", USER, lambda c: [
            Turn("I'd like to enter my meter readings", "action", r"112"),
            Turn(_readings(c), "action"),
            Turn("yes", "action")], creates="reading", meter_asset=USER_ASSET),
    ]


_meter_locks: Dict[str, asyncio.Lock] = {}


async def run_conversation(client: httpx.AsyncClient, stack: Stack, script: Script, ctx: Context) -> Result:
    if script.meter_asset is None:
        return await _converse(client, stack, script, ctx)
    async with _meter_locks.setdefault(script.meter_asset, asyncio.Lock()):
        response = await client.get(f"{stack.backend_url}/assets/{script.meter_asset}/meters",
                                    headers={"Authorization": f"Bearer {stack.token(script.email)}"})
        ctx.meters = {m["code"]: m["last_reading"] or 0 for m in response.json()}
        result = await _converse(client, stack, script, ctx)
        result.readings = {code: value + 100 + ctx.index for code, value in ctx.meters.items()}
        return result


async def _converse(client: httpx.AsyncClient, stack: Stack, script: Script, ctx: Context) -> Result:
    result = Result(script.name)
    sender = f"bench-{uuid.uuid4().hex}"
    metadata = {"token": stack.token(script.email)}
    for turn in script.turns(ctx):
        started = time.perf_counter()
        try:
            response = await client.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                                         json={"sender": sender, "message": turn.text, "metadata": metadata})
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            answer = "\n".join(m.get("text", "") for m in response.json())
        except httpx.HTTPError as exc:
            result.errors.append(f"{script.name}: {turn.text!r}: {exc!r}")
            return result
        result.latencies.append((turn.kind, elapsed))
        if turn.expect and not re.search(turn.expect, answer):
            result.errors.append(f"{script.name}: {turn.text!r} -> unexpected answer {answer[:300]!r}")
            return result
        result.references += CASE.findall(answer) + ORDER.findall(answer)
        if ctx.think[1] > 0:
            await asyncio.sleep(random.Random(f"{ctx.index}-{turn.text}").uniform(*ctx.think))
    return result


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def count_rows(db: Path, table: str, column: str, values: List[str]) -> Dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {v: conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (v,)).fetchone()[0]
                for v in values}


async def simulated_user(client: httpx.AsyncClient, stack: Stack, mix: List[Script], user: int,
                         args: argparse.Namespace, deadline: float) -> List[Result]:
    """One person: joins after their share of the ramp, then chats, one conversation after another, until the
    deadline (the conversation under way is finished)."""
    await asyncio.sleep(args.ramp * user / max(1, args.conversations))
    order = random.Random(user)
    results = []
    conversation = 0
    while time.perf_counter() < deadline:
        script = mix[(user + order.randrange(len(mix))) % len(mix)]
        while script.meter_asset and _meter_locks.setdefault(script.meter_asset, asyncio.Lock()).locked():
            script = mix[order.randrange(len(mix))]  # someone is reading that device: do something else
        index = user * 100 + conversation  # distinct meter values per conversation (rises stay plausible)
        results.append(await run_conversation(client, stack, script, Context(index, think=tuple(args.think))))
        conversation += 1
    return results


def cpu_seconds(stack: Stack) -> Tuple[Dict[str, float], Dict[int, float]]:
    """User + system CPU seconds used so far by each service of the stack, and by each Rasa process (the main one
    and its workers: shows how evenly the workers share), from one reading of /proc."""
    processes = stack.processes()
    return ({name: sum(cpu for _, cpu in found) for name, found in processes.items()},
            dict(processes.get("rasa", [])))


def start_profilers(stack: Stack, args: argparse.Namespace) -> List[subprocess.Popen]:
    """py-spy on every process of every service (except Redis) while the users chat: collapsed stacks, one file
    per process, in --profile-dir (e.g. for flamegraph.pl or `sort | uniq`)."""
    out = Path(args.profile_dir)
    out.mkdir(parents=True, exist_ok=True)
    profilers = []
    for name, found in stack.processes().items():
        for pid, _ in found if name != "redis" else []:
            profilers.append(subprocess.Popen(
                [args.py_spy, "record", "--pid", str(pid), "--rate", "50", "--format", "raw", "--nonblocking",
                 "--output", str(out / f"{name}-{pid}.txt")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return profilers


def stop_profilers(profilers: List[subprocess.Popen]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for profiler in profilers:
        profiler.wait(timeout=60)


async def main_async(args: argparse.Namespace) -> int:
    mix = scripts()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, running_stack(Path(tmp)) as stack:
        db = Path(tmp) / "portal.db"
        for email in (ADMIN, USER):
            stack.token(email)
        limits = httpx.Limits(max_connections=args.conversations, max_keepalive_connections=args.conversations)
        async with contextlib.AsyncExitStack() as clients:
            client = await clients.enter_async_context(httpx.AsyncClient(timeout=60, limits=limits))
            # Each person chats from their own client (browser, app), i.e. over their own connection; with
            # --shared-pool all users go through one pool of kept-alive connections, as behind a gateway.
            user_clients = [client if args.shared_pool else
                            await clients.enter_async_context(httpx.AsyncClient(timeout=60))
                            for _ in range(args.conversations)]
            # warm-up: one conversation of each kind, not measured
            await asyncio.gather(*(run_conversation(client, stack, s, Context(-1)) for s in mix))
            with sqlite3.connect(db) as conn:
                before = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("cases", "orders")}
            cpu_before, rasa_before = cpu_seconds(stack)
            profilers = start_profilers(stack, args) if args.py_spy else []
            own_before = time.process_time()  # the load generator shares the machine: its CPU is reported too
            started = time.perf_counter()
            deadline = started + args.duration
            per_user = await asyncio.gather(*(simulated_user(user_clients[user], stack, mix, user, args, deadline)
                                              for user in range(args.conversations)))
            wall = time.perf_counter() - started
            cpu_after, rasa_after = cpu_seconds(stack)
            stop_profilers(profilers)
            cpu_after["load generator"] = time.process_time() - own_before
            cpu_before["load generator"] = 0.0
        results = [result for user_results in per_user for result in user_results]
        report = summarise(results, wall, args)
        turns = max(1, report["turns"])
        report["cpu_ms_per_turn"] = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / turns, 1)
                                     for name in cpu_after}
        used = sorted((rasa_after[pid] - rasa_before.get(pid, 0.0) for pid in rasa_after), reverse=True)
        total = max(sum(used), 1e-9)
        report["rasa_cpu_share"] = [round(cpu / total, 2) for cpu in used if cpu > 0.005 * total]
        report["integrity"] = check_integrity(db, results, before, mix)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    ok = not report["errors"] and report["integrity"]["ok"]
    return 0 if ok else 1


def summarise(results: List[Result], wall: float, args: argparse.Namespace) -> Dict:
    by_kind: Dict[str, List[float]] = {}
    for result in results:
        for kind, seconds in result.latencies:
            by_kind.setdefault(kind, []).append(seconds * 1000)
    return {
        "conversations": len(results), "concurrency": args.conversations, "wall_seconds": round(wall, 1),
        "think_seconds": list(args.think), "ramp_seconds": args.ramp, "shared_pool": args.shared_pool,
        "turns": sum(len(r.latencies) for r in results),
        "latency_ms": {kind: {"n": len(v), "p50": round(percentile(v, .5), 1), "p95": round(percentile(v, .95), 1),
                              "max": round(max(v), 1), "mean": round(statistics.fmean(v), 1)}
                       for kind, v in sorted(by_kind.items())},
        "errors": [e for r in results for e in r.errors],
    }


def check_integrity(db: Path, results: List[Result], before: Dict[str, int], mix: List[Script]) -> Dict:
    creates = {s.name: s.creates for s in mix}
    cases = [ref for r in results for ref in r.references if ref.startswith("CS") and creates.get(r.script) == "case"]
    orders = [ref for r in results for ref in r.references if ref.startswith("ORD") and creates.get(r.script) == "order"]
    expected = {kind: sum(1 for r in results if creates.get(r.script) == kind and not r.errors)
                for kind in ("case", "order")}
    case_rows = count_rows(db, "cases", "number", sorted(set(cases)))
    order_rows = count_rows(db, "orders", "number", sorted(set(orders)))
    with sqlite3.connect(db) as conn:
        after = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("cases", "orders")}
    problems = []
    if len(set(cases)) != expected["case"]:
        problems.append(f"{expected['case']} conversations created a case, {len(set(cases))} case numbers quoted")
    if after["cases"] - before["cases"] != expected["case"]:
        problems.append(f"cases table grew by {after['cases'] - before['cases']}, expected {expected['case']}")
    if after["orders"] - before["orders"] != expected["order"]:
        problems.append(f"orders table grew by {after['orders'] - before['orders']}, expected {expected['order']}")
    with sqlite3.connect(db) as conn:
        for result in results:
            if creates.get(result.script) != "reading" or result.errors:
                continue
            for code, value in result.readings.items():
                stored = conn.execute(
                    "SELECT COUNT(*) FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
                    "JOIN assets a ON a.id = m.asset_id WHERE a.asset_number = ? AND m.code = ? AND r.value = ?",
                    (USER_ASSET, code, value)).fetchone()[0]
                if stored != 1:
                    problems.append(f"reading {code}={value} stored {stored} times")
    problems += [f"case {n} stored {k} times" for n, k in case_rows.items() if k != 1]
    problems += [f"order {n} stored {k} times" for n, k in order_rows.items() if k != 1]
    readings = sum(1 for r in results if creates.get(r.script) == "reading" and not r.errors)
    return {"ok": not problems, "problems": problems, "cases_created": len(set(cases)),
            "orders_created": len(set(orders)), "reading_submissions": readings}


def print_report(report: Dict) -> None:
    print(f"{report['concurrency']} users chatting at once (joining over {report['ramp_seconds']:g} s, think time "
          f"{report['think_seconds'][0]:g}-{report['think_seconds'][1]:g} s, "
          f"{'one shared connection pool' if report['shared_pool'] else 'a connection each'}): {report['conversations']} conversations, "
          f"{report['turns']} turns in {report['wall_seconds']} s "
          f"({report['turns'] / max(report['wall_seconds'], 1e-9):.1f} turns/s)")
    print(f"{'turn type':<10} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind, s in report["latency_ms"].items():
        print(f"{kind:<10} {s['n']:>5} {s['p50']:>8} {s['p95']:>8} {s['max']:>8}")
    print("CPU per turn: " + ", ".join(f"{name} {ms} ms" for name, ms in report["cpu_ms_per_turn"].items()))
    print("Rasa CPU per busy process: " + " / ".join(f"{share:.0%}" for share in report["rasa_cpu_share"]))
    print(f"errors: {len(report['errors'])}")
    for error in report["errors"][:20]:
        print(f"  {error}")
    integrity = report["integrity"]
    print(f"submissions: {integrity['cases_created']} cases, {integrity['orders_created']} orders, "
          f"{integrity['reading_submissions']} meter reading submissions; "
          f"{'each stored exactly once' if integrity['ok'] else 'PROBLEMS: ' + '; '.join(integrity['problems'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60,
                        help="seconds during which users start new conversations (default 60)")
    parser.add_argument("--ramp", type=float, default=3,
                        help="seconds over which the users join (default 3; 0: all first messages at once)")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                        help="seconds each user waits between an answer and their next message (default 1 3; "
                             "0 0 sends the next message at once: a stress test, not a conversation)")
    parser.add_argument("--shared-pool", action="store_true",
                        help="all users share one pool of kept-alive connections (as behind a gateway) instead of "
                             "one connection each")
    parser.add_argument("--json", help="also write the report to this file")
    parser.add_argument("--py-spy", metavar="PATH", help="profile every service during the run with this py-spy "
                        "executable (not a project dependency: `pip install py-spy` anywhere)")
    parser.add_argument("--profile-dir", default="var/profiles", help="where --py-spy writes (default var/profiles)")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
