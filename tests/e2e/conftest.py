"""Starts the real stack (the project's Procfile under honcho) on free local ports with a fresh demo
database, and offers helpers to chat over the REST channel and read the backend API."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from wait_ready import wait_until_ready  # noqa: E402

from knowledge_index import build_index, is_stale  # noqa: E402

PASSWORD = "e2e-password"
ADMIN = "sntestportaldemo@outlook.com"
USER = "sntestdemoportaldm@yopmail.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    backend_url: str
    rasa_url: str
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, email: str) -> str:
        if email not in self.tokens:
            response = httpx.post(f"{self.backend_url}/auth/token", data={"username": email, "password": PASSWORD})
            response.raise_for_status()
            self.tokens[email] = response.json()["access_token"]
        return self.tokens[email]

    def say(self, sender: str, text: str, email: str | None = None, metadata: dict | None = None) -> list[dict]:
        if metadata is None:
            metadata = {"token": self.token(email)} if email else {}
        response = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": metadata},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def api(self, email: str, path: str) -> httpx.Response:
        return httpx.get(f"{self.backend_url}{path}", headers={"Authorization": f"Bearer {self.token(email)}"})


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    model = ROOT / "models" / "portal.tar.gz"
    assert model.exists(), "no trained model: run `make test` (it trains the model when stale)"
    workdir = tmp_path_factory.mktemp("e2e")
    index_dir = ROOT / "var" / "knowledge_index"
    if is_stale(ROOT / "data" / "knowledge", index_dir):
        index_dir = workdir / "knowledge_index"
        build_index(ROOT / "data" / "knowledge", index_dir, progress=False)
    ports = {"BACKEND_PORT": free_port(), "RASA_PORT": free_port(), "ACTION_PORT": free_port()}
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "BACKEND_URL": f"http://localhost:{ports['BACKEND_PORT']}",
        "RASA_PUBLIC_URL": f"http://localhost:{ports['RASA_PORT']}",
        "ACTION_ENDPOINT_URL": f"http://localhost:{ports['ACTION_PORT']}/webhook",
        "RASA_API_TOKEN": secrets.token_urlsafe(16),
        "DATABASE_URL": f"sqlite:///{workdir / 'portal.db'}",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DEMO_PASSWORD": PASSWORD,
        "KNOWLEDGE_INDEX_DIR": str(index_dir),
        "HF_HUB_OFFLINE": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    python = str(ROOT / ".venv-app" / "bin" / "python")
    subprocess.run([python, "-m", "backend.seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    log_path = workdir / "stack.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(ROOT / ".venv-app" / "bin" / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_ready(env, timeout=420, alive=lambda: process.poll() is None)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        pytest.fail(f"stack did not start:\n{log_path.read_text()[-6000:]}")
    yield Stack(env["BACKEND_URL"], env["RASA_PUBLIC_URL"], log_path)
    os.killpg(process.pid, signal.SIGTERM)  # honcho forwards it to every service it started
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
