"""Starts the real stack (the project's Procfile under honcho) on free local ports with a fresh demo
database (scripts/stack.py), and offers helpers to chat over the REST channel and read the backend API."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from stack import ADMIN, PASSWORD, USER, Stack, running_stack  # noqa: E402,F401


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    try:
        with running_stack(tmp_path_factory.mktemp("e2e")) as started:
            yield started
    except RuntimeError as exc:
        pytest.fail(str(exc))
