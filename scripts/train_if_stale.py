"""Train the Rasa model only when its inputs changed (run with the Rasa venv's Python).

The fingerprint covers config, domain, the NLU/rules/stories files and the Rasa version; it is stored
next to the model, so a fresh clone trains once and later runs start at once.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import rasa

ROOT = Path(__file__).resolve().parents[1]
TRAINING_DATA = [ROOT / "data" / "nlu", ROOT / "data" / "rules", ROOT / "data" / "stories"]
MODEL_DIR = ROOT / "models"
MODEL = MODEL_DIR / "portal.tar.gz"
FINGERPRINT = MODEL_DIR / "portal.fingerprint"
LOG = ROOT / "var" / "logs" / "train.log"


def fingerprint() -> str:
    digest = hashlib.sha256(f"rasa {rasa.__version__}\n".encode())
    files = [ROOT / "config.yml", *sorted((ROOT / "domain").rglob("*.yml"))]
    for directory in TRAINING_DATA:
        files += sorted(directory.rglob("*.yml"))
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def main() -> int:
    wanted = fingerprint()
    if MODEL.exists() and FINGERPRINT.exists() and FINGERPRINT.read_text().strip() == wanted:
        print(f"==> Rasa model up to date ({MODEL.relative_to(ROOT)})")
        return 0
    MODEL_DIR.mkdir(exist_ok=True)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    print(f"==> training the Rasa model (a few minutes; log: {LOG.relative_to(ROOT)})", flush=True)
    started = time.monotonic()
    command = [
        str(Path(sys.executable).with_name("rasa")), "train",
        "--data", *map(str, TRAINING_DATA), "--domain", str(ROOT / "domain"), "--config", str(ROOT / "config.yml"),
        "--out", str(MODEL_DIR), "--fixed-model-name", "portal",
    ]
    with LOG.open("w") as log:
        result = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0 or not MODEL.exists():
        print(LOG.read_text()[-4000:], file=sys.stderr)
        print(f"error: training failed (exit {result.returncode}); see {LOG}", file=sys.stderr)
        return 1
    FINGERPRINT.write_text(wanted)
    print(f"==> model trained in {time.monotonic() - started:.0f} s -> {MODEL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
