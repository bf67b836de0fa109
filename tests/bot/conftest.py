"""Fixtures for the input-channel tests (helpers in bot_fakes.py)."""
from __future__ import annotations

import pytest

from bot.identity import IdentityVerifier
from bot_fakes import BACKEND, FakeUsersBackend, Recorder


@pytest.fixture
def users_backend() -> FakeUsersBackend:
    return FakeUsersBackend()


@pytest.fixture
def verifier(users_backend: FakeUsersBackend) -> IdentityVerifier:
    return IdentityVerifier(backend_url=BACKEND, transport=users_backend.transport)


@pytest.fixture
def on_new_message() -> Recorder:
    return Recorder()
