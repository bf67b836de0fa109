"""Load run on the multi-process setup (issue 19; not part of `make test`): scripts/multiprocess.py (Rasa, action
server and backend x2 behind HAProxy per request, PostgreSQL, Redis), N simulated users chatting over the REST
channel with a think time between turns, latency per turn kind (p50/p95), errors, and an audit in PostgreSQL that
every case, order and meter reading the users confirmed exists exactly once (and nothing else was created).

    .venv-app/bin/python benchmarks/load_multiprocess.py [--users 200] [--think 2 5] [--out results/load/…]

Each user has one conversation, started at a random moment of the first `--ramp` seconds:
- fault report, English user (one device): symptom -> "no" (articles did not help) -> "yes" (case);
- fault report, French admin: symptom -> device -> "non" -> "oui" (case);
- consumables order, French admin: order -> device -> part -> quantity -> "non" (no other item) -> "oui" (order);
- meter readings, English user (4 meters, one device): one such conversation at a time (two people reading the
  same device's meters at once would be refused a value lower than the other's, by design).
An error is a non-200 answer, a transport error, or a turn whose answer is not the expected one (the outcome's
number missing, a retry message).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from multiprocess import ADMIN, USER, Cluster, running_cluster  # noqa: E402

CASE = re.compile(r"\bCS\d{7}\b")
ORDER = re.compile(r"\bORD\d{7}\b")
METER_CODE = re.compile(r"\bMeter (112|113|122|123)\b")  # the question, not a value such as "88,123"
DEVICE = "53463252"


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


class Run:
    def __init__(self, cluster: Cluster, think: tuple[float, float]) -> None:
        self.cluster, self.think = cluster, think
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.confirmed = {"case": [], "order": [], "meter": []}
        self.meter_lock = asyncio.Lock()
        self.client = httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=400))
        self.served: dict[str, int] = defaultdict(int)

    async def turn(self, kind: str, sender: str, email: str, text: str) -> list[dict]:
        await asyncio.sleep(random.uniform(*self.think))
        started = time.monotonic()
        try:
            response = await self.client.post(f"{self.cluster.rasa_url}/webhooks/rest/webhook", json={
                "sender": sender, "message": text, "metadata": {"token": self.cluster.token(email)},
                "message_id": uuid.uuid4().hex})
        except httpx.HTTPError as exc:
            self.errors.append(f"{kind}: {type(exc).__name__}")
            raise
        self.latency[kind].append(time.monotonic() - started)
        self.served[response.headers.get("x-served-by", "?")] += 1
        if response.status_code != 200:
            self.errors.append(f"{kind}: HTTP {response.status_code}")
            raise RuntimeError(kind)
        replies = response.json()
        said = texts(replies)
        if "send it again" in said or "renvoyer" in said or "not responding" in said or "ne répond pas" in said:
            self.errors.append(f"{kind}: {said[:120]}")
            raise RuntimeError(kind)
        return replies

    def expect(self, ok: bool, what: str, replies: list[dict]) -> None:
        if not ok:
            self.errors.append(f"{what}: {texts(replies)[:200]!r}")
            raise RuntimeError(what)

    async def fault_user(self) -> None:
        sender = uuid.uuid4().hex
        replies = await self.turn("fault: symptom", sender, USER, "the copier keeps jamming in tray 2")
        self.expect("help" in texts(replies), "fault: articles", replies)
        replies = await self.turn("fault: articles did not help", sender, USER, "no")
        self.expect("open this case" in texts(replies), "fault: summary", replies)
        replies = await self.turn("confirm (writes)", sender, USER, "yes")
        found = CASE.findall(texts(replies))
        self.expect(bool(found), "fault: case number", replies)
        self.confirmed["case"].append(found[0])

    async def fault_admin(self) -> None:
        sender = uuid.uuid4().hex
        replies = await self.turn("fault: symptom", sender, ADMIN, "ça sent le brûlé quand j'imprime")
        self.expect("appareil" in texts(replies), "fault: which device", replies)
        replies = await self.turn("form answer", sender, ADMIN, "c'est la WHJ01481")
        self.expect("aidé" in texts(replies), "fault: articles", replies)
        replies = await self.turn("fault: articles did not help", sender, ADMIN, "non")
        self.expect("ouvrir ce dossier" in texts(replies), "fault: summary", replies)
        replies = await self.turn("confirm (writes)", sender, ADMIN, "oui")
        found = CASE.findall(texts(replies))
        self.expect(bool(found), "fault: case number", replies)
        self.confirmed["case"].append(found[0])

    async def order(self) -> None:
        sender = uuid.uuid4().hex
        replies = await self.turn("order: opening", sender, ADMIN, "je voudrais commander du toner")
        self.expect("appareil" in texts(replies).lower(), "order: which device", replies)
        for text in ('/inform{"asset_ref":"53463252"}', '/inform{"order_part":"2790B002"}', "2", "non"):
            replies = await self.turn("form answer", sender, ADMIN, text)
        self.expect("2790B002" in texts(replies), "order: summary", replies)
        replies = await self.turn("confirm (writes)", sender, ADMIN, "oui")
        found = ORDER.findall(texts(replies))
        self.expect(bool(found), "order: number", replies)
        self.confirmed["order"].append(found[0])

    async def meters(self) -> None:
        async with self.meter_lock:
            sender = uuid.uuid4().hex
            meters = (await self.client.get(f"{self.cluster.backend_url}/assets/{DEVICE}/meters", headers={
                "Authorization": f"Bearer {self.cluster.token(USER)}"})).json()
            wanted = {m["code"]: (m["last_reading"] or 0) + random.randint(50, 500) for m in meters}
            replies = await self.turn("meters: opening", sender, USER, "I'd like to enter my meter readings")
            for _ in wanted:
                codes = METER_CODE.findall(replies[-1].get("text", "")) if replies else []
                self.expect(bool(codes) and codes[-1] in wanted, "meters: question", replies)
                replies = await self.turn("form answer", sender, USER, str(wanted[codes[-1]]))
            self.expect("submit" in texts(replies).lower(), "meters: summary", replies)
            replies = await self.turn("confirm (writes)", sender, USER, "yes")
            self.expect("recorded" in texts(replies), "meters: recorded", replies)
            self.confirmed["meter"].append(wanted)

    async def user(self, flow, start_at: float) -> None:  # noqa: ANN001
        await asyncio.sleep(start_at)
        try:
            await flow()
        except Exception as exc:  # noqa: BLE001
            if not self.errors or str(exc) not in self.errors[-1]:
                self.errors.append(f"{flow.__name__}: {type(exc).__name__}: {exc}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def audit(cluster: Cluster, before: dict[str, int], confirmed: dict[str, list]) -> dict[str, str]:
    rows = cluster.portal_rows
    cases = [n for (n,) in rows("SELECT number FROM cases WHERE id > %s", before["cases"])]
    orders = [n for (n,) in rows("SELECT number FROM orders WHERE id > %s", before["orders"])]
    result = {
        "cases": f"{len(confirmed['case'])} confirmed, {len(cases)} created; "
                 + ("each exactly once" if sorted(cases) == sorted(confirmed["case"]) else "MISMATCH"),
        "orders": f"{len(confirmed['order'])} confirmed, {len(orders)} created; "
                  + ("each exactly once" if sorted(orders) == sorted(confirmed["order"]) else "MISMATCH"),
    }
    readings = rows("SELECT m.code, r.value FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
                    "WHERE r.id > %s", before["meter_readings"])
    expected = sorted((code, value) for wanted in confirmed["meter"] for code, value in wanted.items())
    result["meter readings"] = (f"{len(expected)} confirmed, {len(readings)} created; "
                                + ("each exactly once" if sorted(readings) == expected else "MISMATCH"))
    return result


async def drive(cluster: Cluster, users: int, think: tuple[float, float], ramp: float, meter_users: int) -> dict:
    run = Run(cluster, think)
    flows = [run.meters] * meter_users
    others = [run.fault_user, run.fault_admin, run.order]
    flows += [others[i % 3] for i in range(users - meter_users)]
    random.shuffle(flows)
    started = time.monotonic()
    await asyncio.gather(*(run.user(flow, random.uniform(0, ramp)) for flow in flows))
    elapsed = time.monotonic() - started
    await run.client.aclose()
    return {"run": run, "elapsed": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 5.0))
    parser.add_argument("--ramp", type=float, default=5.0)
    parser.add_argument("--meter-users", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "load" / "multiprocess.json")
    args = parser.parse_args()
    random.seed(19)
    workdir = Path(tempfile.mkdtemp(prefix="portal-load-"))
    with running_cluster(workdir) as cluster:
        for email in (USER, ADMIN):
            cluster.token(email)
        tables = ("cases", "orders", "meter_readings")
        before = {t: cluster.portal_rows(f"SELECT coalesce(max(id), 0) FROM {t}")[0][0] for t in tables}
        result = asyncio.run(drive(cluster, args.users, tuple(args.think), args.ramp, args.meter_users))
        run = result["run"]
        checks = audit(cluster, before, run.confirmed)
    turns = sum(len(v) for v in run.latency.values())
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "users": args.users, "think_seconds": list(args.think), "elapsed_seconds": round(result["elapsed"], 1),
        "turns": turns, "turns_per_second": round(turns / result["elapsed"], 2), "errors": len(run.errors),
        "error_samples": run.errors[:10], "served_by": dict(run.served), "audit": checks,
        "latency": {kind: {"n": len(v), "p50_ms": round(1000 * statistics.median(v)),
                           "p95_ms": round(1000 * percentile(v, 0.95)), "max_ms": round(1000 * max(v))}
                    for kind, v in sorted(run.latency.items())},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print("\n| turn kind | turns | p50 | p95 | max |\n|---|---|---|---|---|")
    for kind, figures in report["latency"].items():
        print(f"| {kind} | {figures['n']} | {figures['p50_ms']} ms | {figures['p95_ms']} ms | {figures['max_ms']} ms |")


if __name__ == "__main__":
    main()
