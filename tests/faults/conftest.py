"""The production profile's processes on this machine (scripts/multiprocess.py: PostgreSQL, Redis, backend,
action server and Rasa x2, HAProxy per request), started once for the fault tests (`make test-faults`)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from multiprocess import Cluster, Unavailable, running_cluster  # noqa: E402
from stack import ADMIN, USER  # noqa: E402,F401

METER_CODE = re.compile(r"\bMeter (112|113|122|123)\b")  # the question, not a value such as "88,123"
DEVICE = "53463252"  # the demo user's only device


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    # A token checked in the last 20 s is trusted without asking the backend again (IDENTITY_CACHE_SECONDS, a
    # deployment's choice to ride out a backend blip): so that a message can reach the assistant while every backend
    # is down, and the action server's own retry path (pending submission, same idempotency key) is what is tested.
    try:
        with running_cluster(tmp_path_factory.mktemp("faults"), extra_env={"IDENTITY_CACHE_SECONDS": "20"}) as started:
            yield started
    except Unavailable as exc:
        if os.environ.get("CI", "false") not in ("", "false"):
            pytest.fail(f"required in CI: {exc}")
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.fail(str(exc))
