"""The deployment's tests (deploy/): offline and fast, no cluster and no container engine needed."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # deploy_manifests.py
