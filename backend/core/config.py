"""One pydantic-settings object for the whole backend; every value can come from the environment."""
from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = REPO_ROOT / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = f"sqlite:///{VAR_DIR / 'portal.db'}"
    # Signing key for access tokens. When unset: SECRET_KEY_FILE, else var/secret.key (a random key made once, so
    # that tokens survive restarts of the demo stack). Every replica of a deployment must share it.
    secret_key: str = ""
    secret_key_file: Path = VAR_DIR / "secret.key"
    # Lifetime of an access token; a client keeps its session with the refresh token (POST /auth/refresh), which
    # lives `refresh_token_hours` and is exchanged once. A password change or reset, a deactivation or a logout
    # revokes both at once.
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_hours: int = Field(default=12, ge=1, le=24 * 30)

    # Login throttling (POST /auth/token). Failures are counted per account (e-mail) and per client address within
    # `login_failure_window_minutes`; past the free ones, each further failure doubles the wait (from
    # `login_backoff_seconds`, at most `login_backoff_max_seconds`) during which the key is refused with 429 and
    # Retry-After, before any password is hashed.
    login_free_failures_per_account: int = Field(default=5, ge=1)
    login_free_failures_per_ip: int = Field(default=30, ge=1)
    login_backoff_seconds: int = Field(default=2, ge=1)
    login_backoff_max_seconds: int = Field(default=15 * 60, ge=1)
    login_failure_window_minutes: int = Field(default=15, ge=1)
    # Password hashes (Argon2id, 64 MiB each) computed at once by one backend process; a request that waits longer
    # than `password_hash_wait_seconds` for a slot is answered 503 with Retry-After.
    password_hash_concurrency: int = Field(default=2, ge=1)
    password_hash_wait_seconds: float = Field(default=5.0, ge=0)
    # Public access requests (POST /access-requests) accepted per client address and hour; and how long the link
    # that verifies the requester's e-mail address stays valid (administrators see only verified requests).
    access_requests_per_ip_per_hour: int = Field(default=5, ge=1)
    access_request_verification_hours: int = Field(default=24, ge=1)
    # Password given to the demo users when the demo database is first seeded (documented in the README).
    demo_password: str = "DemoPortal-2026"
    taxonomy_path: Path = REPO_ROOT / "data" / "taxonomy" / "taxonomy.yml"
    knowledge_corpus_dir: Path = REPO_ROOT / "data" / "knowledge"
    knowledge_index_dir: Path = VAR_DIR / "knowledge_index"
    # Production (deploy/README.md): the published index version to serve (`python -m knowledge_index publish`),
    # read from KNOWLEDGE_INDEX_DIR/<version>, which then holds the published versions. Loaded once and never reloaded:
    # every replica configured with a version serves exactly that index, and an import publishes a new version
    # instead of changing this one. Empty (`make run`): KNOWLEDGE_INDEX_DIR is the index itself, updated in place by
    # imports and reloaded by running backends.
    knowledge_index_version: str = Field(default="", pattern=r"^([0-9a-f]{16})?$")
    # Sentence-transformers model for query embeddings; empty = the model the index was built with.
    knowledge_model: str = ""
    # How queries are embedded: ONNX Runtime (same vectors as torch, 6.9 instead of 14.5 ms per query, p50),
    # torch, or auto (ONNX, falling back to torch with a logged warning if the export is unavailable).
    knowledge_encoder_runtime: Literal["auto", "onnx", "torch"] = "auto"
    # Threads per query embedding. One query is too small to split: a second torch thread gave the same latency
    # for twice the CPU (12.8 vs 25 ms per query, measured), CPU the other services on the 2 cores then lack.
    knowledge_encoder_threads: int = Field(default=1, ge=1)
    # Public URL of the Rasa server, handed to the web chat page.
    rasa_public_url: str = Field(default="http://localhost:5005")
    web_dir: Path = REPO_ROOT / "bot" / "web"
    # Portal origins allowed to embed the chat widget (frame-ancestors, CORS for the widget's API calls);
    # space or comma separated. The same variable configures Rasa's side (bot/serve.py, bot/channels/socketio.py).
    chat_allowed_origins: str = "http://localhost:8000 http://127.0.0.1:8000"

    def allowed_origins(self) -> list[str]:
        return [o.rstrip("/") for o in self.chat_allowed_origins.replace(",", " ").split() if o and o != "*"]

    # Key of the short-lived tokens the action server mints for the chat user it acts for (backend/core/security.py);
    # shared with the action server only. When unset: ASSISTANT_KEY_FILE, else var/assistant.key (made once, 0600).
    assistant_key: str = ""
    assistant_key_file: Path = VAR_DIR / "assistant.key"

    # Key of the short-lived service tokens chat channels run by the Rasa server (Teams) call the backend with, to
    # resolve a linked channel identity (backend/api/routes/teams.py). Shared with the Rasa server only. When unset:
    # CHANNEL_KEY_FILE, else var/channel.key (made once, 0600).
    channel_key: str = ""
    channel_key_file: Path = VAR_DIR / "channel.key"
    # Lifetime of the single-use code that links a Teams user to a portal user (the sign-in card's link).
    teams_link_code_minutes: int = Field(default=10, ge=1, le=60)

    # Phone assistant: wrong voice PINs in a row that lock a user's voice access, and for how long.
    voice_max_pin_attempts: int = Field(default=3, ge=1, le=10)
    voice_lock_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The portal's address as people reach it (links sent outside the portal, e.g. an article's by SMS); the same
    # variable as the action server's. Empty: the address the request came to.
    backend_public_url: str = ""

    def knowledge_index_path(self) -> Path:
        """The directory of the index to serve."""
        if self.knowledge_index_version:
            return self.knowledge_index_dir / self.knowledge_index_version
        return self.knowledge_index_dir

    def resolved_secret_key(self) -> str:
        return self.secret_key or secret_from_file(self.secret_key_file)

    def resolved_assistant_key(self) -> str:
        return self.assistant_key or secret_from_file(self.assistant_key_file)

    def resolved_channel_key(self) -> str:
        return self.channel_key or secret_from_file(self.channel_key_file)


def secret_from_file(path: Path) -> str:
    """A secret kept in a file readable by its owner only; generated the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
