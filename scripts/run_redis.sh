#!/usr/bin/env bash
# The Procfile's Redis: private to this stack (its own port, nothing written to disk). Without redis-server it
# only waits, so that honcho keeps the other services up (Rasa then runs one process, scripts/run_rasa.sh).
set -uo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not installed: Rasa runs one process with in-memory conversation stores"
  exec sleep infinity
fi
exec redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning
