#!/usr/bin/env bash
# The fault tests (tests/faults, issue 19): the production profile's processes on this machine
# (scripts/multiprocess.py: PostgreSQL, Redis, backend/action server/Rasa x2, HAProxy per request), a form conversation
# across the replicas, and processes killed, the backends down, duplicate deliveries, a PostgreSQL restart. Run by
# `make test-faults` and, as its own part, by `make test` (scripts/test.sh). Installs Debian haproxy, redis-server
# and postgresql when missing (root with apt); without them the tests are skipped, except in CI (CI=true): failed.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mkdir -p results
bash scripts/ensure_redis.sh
bash scripts/ensure_haproxy.sh || true  # exit 3 (cannot install): the tests say so and skip (fail in CI)
exec .venv-app/bin/python -m pytest tests/faults -q -s --junitxml=results/junit-faults.xml "$@"
