#!/usr/bin/env bash
# Creates/updates both virtual environments, in parallel (they are independent and each is mostly download
# and unpack time). Rasa 3.6 needs Python 3.10; the backend and index use Python 3.11.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/make_venv.sh .venv-app 3.11 requirements/app.txt requirements/app.lock & app=$!
bash scripts/make_venv.sh .venv-rasa 3.10 requirements/rasa.txt requirements/rasa.lock & rasa=$!
status=0
wait $app || status=1
wait $rasa || status=1
bash scripts/ensure_redis.sh
exit $status
