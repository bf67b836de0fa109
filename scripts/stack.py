"""Start the whole stack (the project's Procfile under honcho) on free local ports with a fresh demo database,
and talk to it: REST channel conversations and backend API calls as a logged-in portal user.

Used by the end-to-end tests (tests/e2e/conftest.py) and the conversation benchmark (benchmarks/).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from wait_ready import wait_until_ready  # noqa: E402

PASSWORD = "e2e-password"
ADMIN = "sntestportaldemo@outlook.com"
USER = "sntestdemoportaldm@yopmail.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What identifies each service's processes in its command line (Rasa: the main process and its workers).
SERVICES = {"rasa": "bot.serve --interface", "actions": "rasa run actions", "backend": "uvicorn backend.main",
            "redis": "redis-server"}


def service_processes(supervisor_pid: int) -> dict[str, list[tuple[int, float]]]:
    """(pid, CPU seconds used so far) of every process of each service that `supervisor_pid` (honcho) started,
    read from Linux /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    processes = {}  # pid -> (parent pid, cpu seconds, command line)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name: state, ppid, ...
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        processes[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, cmdline)

    def started_by_stack(pid: int) -> bool:
        while pid in processes and pid != supervisor_pid:
            pid = processes[pid][0]
        return pid == supervisor_pid

    found: dict[str, list[tuple[int, float]]] = {name: [] for name in SERVICES}
    for pid, (_, cpu, cmdline) in processes.items():
        for name, marker in SERVICES.items():
            if marker in cmdline and not cmdline.startswith(("/bin/sh", "bash ")) and started_by_stack(pid):
                found[name].append((pid, cpu))
    return found


@dataclass
class Stack:
    backend_url: str
    rasa_url: str
    log_path: Path
    supervisor_pid: int = 0  # honcho, parent of every service of this stack (for CPU accounting)
    tokens: dict[str, str] = field(default_factory=dict)
    redis_port: int = 0
    redis_password: str = field(default="", repr=False)
    rasa_api_token: str = field(default="", repr=False)

    def processes(self) -> dict[str, list[tuple[int, float]]]:
        return service_processes(self.supervisor_pid)

    def token(self, email: str) -> str:
        if email not in self.tokens:
            response = httpx.post(f"{self.backend_url}/auth/token", data={"username": email, "password": PASSWORD})
            response.raise_for_status()
            self.tokens[email] = response.json()["access_token"]
        return self.tokens[email]

    def say(self, sender: str, text: str, email: Optional[str] = None, metadata: Optional[dict] = None) -> list[dict]:
        response = self.post_message(sender, text, email, metadata)
        response.raise_for_status()
        return response.json()

    def post_message(self, sender: str, text: str, email: Optional[str] = None, metadata: Optional[dict] = None,
                     **fields: Any) -> httpx.Response:
        """The REST channel's raw answer (`fields`: more body fields, e.g. a message_id)."""
        if metadata is None:
            metadata = {"token": self.token(email)} if email else {}
        return httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": metadata, **fields},
            timeout=60,
        )

    def api(self, email: str, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
        """A backend call as that user; a token revoked meanwhile (the user logged out in the browser, which ends all
        of their sessions) is replaced once by a new login."""
        for attempt in (1, 2):
            response = httpx.request(method, f"{self.backend_url}{path}",
                                     headers={"Authorization": f"Bearer {self.token(email)}"}, timeout=30, **kwargs)
            if response.status_code != 401 or attempt == 2:
                return response
            self.tokens.pop(email, None)
        return response


def model_path() -> Path:
    """The trained model every Rasa process loads (never trained here)."""
    model = ROOT / "models" / "portal.tar.gz"
    if not model.exists():
        raise RuntimeError("no trained model: run `make test` or `make model` (they train it when stale)")
    return model


def knowledge_index_dir(workdir: Path) -> Path:
    """The repository's knowledge index when up to date, else one built in `workdir`."""
    from knowledge_index import build_index, is_stale

    index_dir = ROOT / "var" / "knowledge_index"
    if is_stale(ROOT / "data" / "knowledge", index_dir):
        index_dir = workdir / "knowledge_index"
        build_index(ROOT / "data" / "knowledge", index_dir, progress=False)
    return index_dir


def stack_env(workdir: Path, ports: dict[str, int], database_url: str, extra_env: Optional[dict[str, str]] = None,
              ) -> dict[str, str]:
    """The environment every service of a test stack shares: ports, URLs, fresh secrets, the demo password, the
    knowledge index, quiet offline settings."""
    return {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "BACKEND_URL": f"http://localhost:{ports['BACKEND_PORT']}",
        "RASA_PUBLIC_URL": f"http://localhost:{ports['RASA_PORT']}",
        "ACTION_ENDPOINT_URL": f"http://localhost:{ports['ACTION_PORT']}/webhook",
        "RASA_API_TOKEN": secrets.token_hex(16),  # never starts with "-" (an option to rasa run)
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "ASSISTANT_KEY": secrets.token_urlsafe(32),
        "CHANNEL_KEY": secrets.token_urlsafe(32),
        "NLU_KEY": secrets.token_urlsafe(32),
        "REDIS_PASSWORD": secrets.token_hex(16),
        "CHAT_ALLOWED_ORIGINS": f"http://localhost:{ports['BACKEND_PORT']} http://127.0.0.1:{ports['BACKEND_PORT']}",
        "CONVERSATION_IDLE_SECONDS": "3600",
        "DEMO_PASSWORD": PASSWORD,
        "KNOWLEDGE_INDEX_DIR": str(knowledge_index_dir(workdir)),
        "HF_HUB_OFFLINE": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **(extra_env or {}),
    }


def seed_database(env: dict[str, str]) -> None:
    """Migrations and the demo data (users with the test password) into env's DATABASE_URL."""
    python = str(ROOT / ".venv-app" / "bin" / "python")
    done = subprocess.run([python, "-m", "backend.seed"], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"backend.seed failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@contextlib.contextmanager
def running_stack(workdir: Path, timeout: float = 420, extra_env: Optional[dict[str, str]] = None) -> Iterator[Stack]:
    """Seeds a fresh SQLite demo database in `workdir`, starts the Procfile on free ports, yields a Stack once
    every service answers, and stops everything it started on exit."""
    model_path()
    ports = {"BACKEND_PORT": free_port(), "RASA_PORT": free_port(), "ACTION_PORT": free_port(),
             "REDIS_PORT": free_port()}
    env = stack_env(workdir, ports, f"sqlite:///{workdir / 'portal.db'}", extra_env)
    seed_database(env)
    log_path = workdir / "stack.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(ROOT / ".venv-app" / "bin" / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        try:
            wait_until_ready(env, timeout=timeout, alive=lambda: process.poll() is None)
        except TimeoutError as exc:
            raise RuntimeError(f"stack did not start: {exc}\n{log_path.read_text()[-6000:]}") from exc
        yield Stack(env["BACKEND_URL"], env["RASA_PUBLIC_URL"], log_path, supervisor_pid=process.pid,
                    redis_port=ports["REDIS_PORT"], redis_password=env["REDIS_PASSWORD"],
                    rasa_api_token=env["RASA_API_TOKEN"])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # honcho forwards it to every service it started
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
