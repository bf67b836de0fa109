"""Starts the real stack (the project's Procfile under honcho) on free local ports with a fresh demo
database (scripts/stack.py), and offers helpers to chat over the REST channel and read the backend API."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
from microsoft_mock import APP_PASSWORD, MicrosoftMock  # noqa: E402

# The phone channel's settings for the stack (tests/e2e/test_e2e_voice.py signs its calls with this token)
TWILIO_AUTH_TOKEN = "e2e-twilio-auth-token-0123456789abcdef"
SUPPORT_NUMBER = "+441234567890"
from stack import ADMIN, PASSWORD, USER, Stack, running_stack  # noqa: E402,F401


@pytest.fixture(scope="session")
def microsoft() -> MicrosoftMock:
    """The offline Microsoft side of the Teams channel (tests/microsoft_mock.py), which the stack is pointed at."""
    with MicrosoftMock() as mock:
        yield mock


@pytest.fixture(scope="session")
def stack(tmp_path_factory, microsoft: MicrosoftMock) -> Stack:
    settings = microsoft.settings
    teams_env = {"TEAMS_APP_ID": settings["app_id"], "TEAMS_APP_PASSWORD": APP_PASSWORD,
                 "TEAMS_TENANT_ID": settings["tenant_id"], "TEAMS_OPENID_METADATA_URL": settings["openid_metadata_url"],
                 "TEAMS_TOKEN_URL": settings["token_url"], "TEAMS_BACKOFF_SECONDS": "0.05",
                 "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN, "VOICE_SUPPORT_NUMBER": SUPPORT_NUMBER}
    try:
        with running_stack(tmp_path_factory.mktemp("e2e"), extra_env=teams_env) as started:
            yield started
    except RuntimeError as exc:
        pytest.fail(str(exc))
