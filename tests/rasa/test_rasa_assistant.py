"""Rasa's own checks on the assistant: training data and domain are consistent, and the test
conversations (FR + EN: happy path, deflection, cancel, bad asset, digression, retry) are predicted
exactly by the trained model (`rasa test --fail-on-prediction-errors`)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).with_name("rasa"))
DATA = ["data/nlu", "data/rules", "data/stories"]
MODEL = ROOT / "models" / "portal.tar.gz"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(args: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([RASA, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_training_data_and_domain_are_valid():
    result = run(["data", "validate", "--data", *DATA, "--domain", "domain", "--config", "config.yml"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_conversations_are_predicted_exactly(tmp_path):
    assert MODEL.exists(), "train first: make model (or make test, which trains when stale)"
    result = run([
        "test", "core", "--model", str(MODEL), "--stories", "tests/rasa/stories",
        "--out", str(tmp_path), "--fail-on-prediction-errors", "--no-plot",
    ])
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:] + details)[-8000:]


def test_stories_hold_with_the_models_own_reading_of_each_message(tmp_path):
    """The stories again, every user text read by the trained NLU model (scripts/story_replay.py): where it reads a
    message as another intent than the story says, the conversation must still take the same actions."""
    assert MODEL.exists(), "train first: make model (or make test, which trains when stale)"
    result = subprocess.run(
        [sys.executable, "scripts/story_replay.py", "--model", str(MODEL), "--stories", "tests/rasa/stories",
         "--out", str(tmp_path)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900,
    )
    assert "stories read exactly as written" in result.stdout, result.stderr[-3000:]
    assert result.returncode == 0, result.stdout[-8000:]
