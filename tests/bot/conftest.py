"""Fixtures for the input-channel tests (helpers in bot_fakes.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/microsoft_mock.py, shared with tests/e2e

from bot.identity import IdentityVerifier  # noqa: E402
from bot_fakes import BACKEND, FakeUsersBackend, Recorder  # noqa: E402


@pytest.fixture
def users_backend() -> FakeUsersBackend:
    return FakeUsersBackend()


@pytest.fixture
def verifier(users_backend: FakeUsersBackend) -> IdentityVerifier:
    return IdentityVerifier(backend_url=BACKEND, transport=users_backend.transport)


@pytest.fixture
def on_new_message() -> Recorder:
    return Recorder()
