"""The production profile's process layout on one machine, no cluster needed (deploy/README.md, "Local
multi-process proof"): a private PostgreSQL (scripts/postgres.sh) with the portal's and Rasa's databases
(deploy/files/postgres-init.sh), Redis with a password (deploy/files/redis.conf), two backends, two action servers
and two Rasa processes (each its own process, one Sanic worker, SQL tracker store + Redis lock store from
deploy/files/rasa-endpoints.yml, the same models/portal.tar.gz), and Debian's HAProxy balancing every request
round robin in front of the backends, the action servers and Rasa's channel webhooks (as deploy/files/haproxy.cfg
and haproxy-public.cfg do with DNS-discovered pods; here on free local ports). Every response through HAProxy says
which replica served it (`X-Served-By`).

Used by the fault tests (tests/faults, `make test-faults`) and the load benchmark
(benchmarks/load_multiprocess.py). By hand: `.venv-app/bin/python scripts/multiprocess.py` starts it and prints
where to reach it (Ctrl+C stops everything it started).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ADMIN, PASSWORD, ROOT, USER, Stack, free_port, model_path, seed_database, stack_env  # noqa: E402,F401
from wait_ready import wait_for_urls  # noqa: E402

APP = ROOT / ".venv-app" / "bin"
RASA = ROOT / ".venv-rasa" / "bin"
REPLICAS = 2


class Unavailable(RuntimeError):
    """Something this profile needs (PostgreSQL, Redis, HAProxy) is not installed and cannot be installed here."""


@dataclass
class Service:
    """One process of the profile, in a process group of its own (so that killing it kills nothing else)."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(repr=False)
    log_path: Path
    ready_url: Optional[str] = None
    stdin: Optional[str] = field(default=None, repr=False)  # Redis reads its configuration (the password) here
    process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                stdin=subprocess.PIPE if self.stdin is not None else subprocess.DEVNULL, text=True)
        if self.stdin is not None:
            self.process.stdin.write(self.stdin)
            self.process.stdin.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self, sig: int = signal.SIGKILL, wait: float = 30) -> None:
        """Sends `sig` to the service's process group and waits for it to end (SIGKILL after `wait` s)."""
        if not self.alive:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@dataclass
class Cluster(Stack):
    """A Stack (scripts/stack.py: tokens, REST chat, API calls) whose URLs are HAProxy's, with its processes."""

    services: dict[str, Service] = field(default_factory=dict, repr=False)
    pg_dir: str = ""
    portal_db_url: str = field(default="", repr=False)
    rasa_db_url: str = field(default="", repr=False)
    lb_health_url: str = ""

    def say_served(self, sender: str, text: str, email: str, **fields: Any) -> tuple[list[dict], str]:
        """The bot's answer to one REST message and the Rasa replica that served it."""
        response = self.post_message(sender, text, email, **fields)
        response.raise_for_status()
        return response.json(), response.headers.get("x-served-by", "")

    def start(self, name: str, timeout: float = 300) -> None:
        """(Re)starts a service and returns once it answers."""
        service = self.services[name]
        service.start()
        if service.ready_url:
            wait_for_urls({name: service.ready_url}, timeout, alive=lambda: service.alive)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.services[name].kill(sig)

    def replicas(self, kind: str) -> list[str]:
        return sorted(name for name in self.services if name.startswith(f"{kind}-"))

    def wait_balanced(self, kind: str, timeout: float = 30) -> None:
        """Returns once HAProxy marks every running replica of `kind` up (its checks run every second)."""
        wanted = {name for name in self.replicas(kind) if self.services[name].alive}
        deadline = time.monotonic() + timeout
        while True:
            stats = httpx.get(self.lb_health_url.replace("/healthz", "/stats;csv"), timeout=5).text
            up = {line.split(",")[1] for line in stats.splitlines()
                  if line.startswith(f"{kind},") and ",UP," in line}
            if wanted <= up:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"HAProxy does not see {sorted(wanted - up)} up")
            time.sleep(0.3)

    def restart_postgres(self) -> None:
        """pg_ctl restart -m fast: every open connection of every service is cut."""
        subprocess.run(["bash", "scripts/postgres.sh", "restart"], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "PG_DIR": self.pg_dir})

    def portal_rows(self, sql: str, *params: Any) -> list[tuple]:
        """Rows of a query on the portal's database (the audits)."""
        import psycopg

        with psycopg.connect(self.portal_db_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
            return connection.execute(sql, params).fetchall()

    def rasa_rows(self, sql: str, *params: Any) -> list[tuple]:
        """Rows of a query on Rasa's database (the conversations' events, SQL tracker store)."""
        import psycopg

        with psycopg.connect(self.rasa_db_url) as connection:
            return connection.execute(sql, params).fetchall()


def haproxy_config(ports: dict[str, int], replicas: dict[str, list[int]]) -> str:
    """deploy/files/haproxy.cfg + haproxy-public.cfg for local replicas: the same per-request round robin and the
    same readiness checks, on fixed local ports instead of DNS-discovered pods. `http-reuse never` and
    `option http-server-close`: no server connection is kept, so each request is balanced on its own."""
    def servers(kind: str) -> str:
        return "\n".join(f"    server {kind}-{i + 1} 127.0.0.1:{port}" for i, port in enumerate(replicas[kind]))

    return f"""# Generated by scripts/multiprocess.py (from deploy/files/haproxy.cfg and haproxy-public.cfg)
global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 60s
    option redispatch
    retries 2
    option http-server-close
    http-reuse never
    # A Rasa process answers its probe only between two CPU-bound turns (one event loop): under load a check
    # taking more than `inter` marked both down and HAProxy answered 503 (measured, benchmarks/README.md).
    # A killed process is still skipped at once: its refused connection is retried on the other (redispatch).
    timeout check 10s
    default-server check inter 2s fall 3 rise 1

frontend health
    bind 127.0.0.1:{ports['HAPROXY_HEALTH_PORT']}
    monitor-uri /healthz
    stats enable
    stats uri /stats

frontend backend_in
    bind 127.0.0.1:{ports['BACKEND_PORT']}
    default_backend backend

frontend actions_in
    bind 127.0.0.1:{ports['ACTION_PORT']}
    default_backend actions

frontend rasa_in
    bind 127.0.0.1:{ports['RASA_PORT']}
    http-request deny deny_status 404 unless {{ path_beg /webhooks/ /socket.io/ }}
    default_backend rasa

backend backend
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    http-response set-header X-Served-By %s
{servers('backend')}

backend actions
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    http-response set-header X-Served-By %s
{servers('actions')}

backend rasa
    balance roundrobin
    timeout tunnel 1h
    option httpchk GET /webhooks/rest/ready
    http-check expect status 200
    http-response set-header X-Served-By %s
{servers('rasa')}
"""


def _ensure(script: str, what: str) -> None:
    done = subprocess.run(["bash", f"scripts/{script}"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 3:
        raise Unavailable(f"{what} is not installed and cannot be installed here: {done.stderr.strip()}")
    if done.returncode:
        raise RuntimeError(f"scripts/{script} failed: {done.stderr}")


@contextlib.contextmanager
def running_cluster(workdir: Path, timeout: float = 420, extra_env: Optional[dict[str, str]] = None,
                    ) -> Iterator[Cluster]:
    """Starts everything (see the module's docstring) on free ports, yields the Cluster once every replica answers
    and HAProxy balances over all of them, and stops every process it started on exit."""
    model_path()
    _ensure("ensure_haproxy.sh", "HAProxy")
    _ensure("ensure_redis.sh", "redis-server")
    if not shutil.which("redis-server"):
        raise Unavailable("redis-server is not installed and cannot be installed here")
    workdir.mkdir(parents=True, exist_ok=True)
    # Owned by the postgres OS user when we are root: outside workdir, which only we may enter.
    pg_dir = tempfile.mkdtemp(prefix="portal-faults-pg-")
    os.rmdir(pg_dir)  # scripts/postgres.sh creates it with the right owner
    pg_env = {**os.environ, "PG_DIR": pg_dir}
    services: dict[str, Service] = {}
    try:
        started = subprocess.run(["bash", "scripts/postgres.sh", "start"], cwd=ROOT, env=pg_env, capture_output=True,
                                 text=True)
        if started.returncode == 3:
            raise Unavailable(f"PostgreSQL: {started.stderr.strip()}")
        if started.returncode:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}")
        pg_port = int(Path(pg_dir, "port").read_text())
        bindir = subprocess.run(["bash", "scripts/postgres.sh", "bindir"], cwd=ROOT, env=pg_env, check=True,
                                capture_output=True, text=True).stdout.strip()
        portal_password, rasa_password = secrets.token_hex(12), secrets.token_hex(12)
        subprocess.run(["bash", "deploy/files/postgres-init.sh"], cwd=ROOT, check=True, capture_output=True, env={
            **os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PGHOST": "127.0.0.1", "PGPORT": str(pg_port),
            "POSTGRES_USER": "postgres", "PORTAL_DB_PASSWORD": portal_password, "RASA_DB_PASSWORD": rasa_password})
        portal_db_url = f"postgresql+psycopg://portal:{portal_password}@127.0.0.1:{pg_port}/portal"

        ports = {name: free_port() for name in ("BACKEND_PORT", "RASA_PORT", "ACTION_PORT", "REDIS_PORT",
                                                 "HAPROXY_HEALTH_PORT")}
        replicas = {kind: [free_port() for _ in range(REPLICAS)] for kind in ("backend", "actions", "rasa")}
        env = stack_env(workdir, ports, portal_db_url, {
            # the action servers reach Rasa's /webhooks/nlu/parse through the balancer too
            "RASA_URL": f"http://localhost:{ports['RASA_PORT']}",
            "IDENTITY_CACHE_SECONDS": "0",
            **(extra_env or {}),
        })
        redis_password = env["REDIS_PASSWORD"]
        seed_database(env)

        logs = workdir / "logs"
        logs.mkdir(exist_ok=True)
        # The deployment's Redis settings (append-only file, no eviction) on a local port, in workdir; Redis reads
        # its file line by line, so the lines replaced here are left out rather than overridden.
        redis_conf = "".join(
            line for line in (ROOT / "deploy" / "files" / "redis.conf").read_text().splitlines(keepends=True)
            if not line.startswith(("port ", "bind ", "dir "))) + (
            f"\n# scripts/multiprocess.py\nport {ports['REDIS_PORT']}\nbind 127.0.0.1\ndir {workdir}\n"
            f"requirepass {redis_password}\n")
        services["redis"] = Service("redis", ["redis-server", "-"], env, logs / "redis.log", stdin=redis_conf)
        for i, port in enumerate(replicas["backend"], 1):
            services[f"backend-{i}"] = Service(
                f"backend-{i}", [str(APP / "uvicorn"), "backend.main:app", "--host", "127.0.0.1", "--port", str(port)],
                env, logs / f"backend-{i}.log", f"http://127.0.0.1:{port}/health/ready")
        for i, port in enumerate(replicas["actions"], 1):
            services[f"actions-{i}"] = Service(
                f"actions-{i}", [str(RASA / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)],
                {**env, "SANIC_HOST": "127.0.0.1", "ACTION_SERVER_SANIC_WORKERS": "1"},
                logs / f"actions-{i}.log", f"http://127.0.0.1:{port}/health")
        rasa_env = {
            **env,
            "RASA_ENDPOINTS": "deploy/files/rasa-endpoints.yml",
            "RASA_DB_HOST": "127.0.0.1", "RASA_DB_PORT": str(pg_port), "RASA_DB_NAME": "rasa",
            "RASA_DB_USER": "rasa", "RASA_DB_PASSWORD": rasa_password,
            "REDIS_HOST": "127.0.0.1",
            "CHAT_SESSIONS_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{ports['REDIS_PORT']}/2",
            "SQL_POOL_SIZE": "5", "SQL_MAX_OVERFLOW": "10",
        }
        for i, port in enumerate(replicas["rasa"], 1):
            services[f"rasa-{i}"] = Service(
                f"rasa-{i}", ["bash", "scripts/run_rasa.sh"], {**rasa_env, "RASA_PORT": str(port)},
                logs / f"rasa-{i}.log", f"http://127.0.0.1:{port}/webhooks/rest/ready")
        haproxy_cfg = workdir / "haproxy.cfg"
        haproxy_cfg.write_text(haproxy_config(ports, replicas))
        services["haproxy"] = Service("haproxy", ["haproxy", "-W", "-db", "-f", str(haproxy_cfg)], env,
                                      logs / "haproxy.log", f"http://127.0.0.1:{ports['HAPROXY_HEALTH_PORT']}/healthz")

        services["redis"].start()
        for _ in range(100):  # Rasa connects to Redis at start-up
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", ports["REDIS_PORT"]), timeout=1).close()
                break
            time.sleep(0.1)
        for name, service in services.items():
            if name != "redis":
                service.start()
        urls = {name: s.ready_url for name, s in services.items() if s.ready_url}
        try:
            wait_for_urls(urls, timeout, alive=lambda: all(s.alive for s in services.values()))
        except TimeoutError as exc:
            tails = "\n".join(f"--- {s.name}\n{s.log_path.read_text()[-1500:]}" for s in services.values()
                              if s.log_path.exists())
            raise RuntimeError(f"the multi-process stack did not start: {exc}\n{tails}") from exc
        cluster = Cluster(env["BACKEND_URL"], env["RASA_PUBLIC_URL"], logs, redis_port=ports["REDIS_PORT"],
                          redis_password=redis_password, rasa_api_token=env["RASA_API_TOKEN"], services=services,
                          pg_dir=pg_dir, portal_db_url=portal_db_url,
                          rasa_db_url=f"postgresql://rasa:{rasa_password}@127.0.0.1:{pg_port}/rasa",
                          lb_health_url=services["haproxy"].ready_url)
        for kind in ("backend", "actions", "rasa"):
            cluster.wait_balanced(kind)
        yield cluster
    finally:
        for service in reversed(list(services.values())):
            service.kill(signal.SIGTERM)
        subprocess.run(["bash", "scripts/postgres.sh", "stop"], cwd=ROOT, env=pg_env, capture_output=True)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="portal-multiprocess-"))
    with running_cluster(workdir) as cluster:
        print(f"\n  Ready (logs in {workdir}/logs).\n"
              f"    portal (HAProxy over 2 backends):      {cluster.backend_url}\n"
              f"    Rasa REST channel (HAProxy over 2 Rasa): {cluster.rasa_url}/webhooks/rest/webhook\n"
              f"    HAProxy stats: {cluster.lb_health_url.replace('/healthz', '/stats')}\n"
              f"    demo users' password: {PASSWORD}\n  Press Ctrl+C to stop everything.\n", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
