#!/usr/bin/env bash
# Starts Rasa for the Procfile (and each Rasa replica of scripts/multiprocess.py: RASA_ENDPOINTS). With Redis (scripts/run_redis.sh): RASA_WORKERS processes (default 2, one per
# core) sharing conversations through Redis tracker and lock stores (endpoints.yml), so that one slow turn
# never queues every other user's behind it. Without redis-server, or with RASA_WORKERS=1: one process,
# in-memory stores (the same endpoints minus the two stores).
set -uo pipefail
cd "$(dirname "$0")/.."
endpoints=endpoints.yml
if [ -n "${RASA_ENDPOINTS:-}" ]; then
  # A replica of the production profile (scripts/multiprocess.py): the deployment's endpoints
  # (deploy/files/rasa-endpoints.yml: SQL tracker store, Redis lock store), one process, the balancer in front.
  endpoints="$RASA_ENDPOINTS"
  export SANIC_WORKERS=1
elif command -v redis-server >/dev/null 2>&1 && [ "${RASA_WORKERS:-2}" != 1 ]; then
  # Rasa connects to Redis at start-up: wait for the Procfile's Redis (a few ms after launch)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
    sleep 0.1
  done
  export SANIC_WORKERS="${RASA_WORKERS:-2}"
  # Which user each web chat session id belongs to, whichever worker gets the socket (bot/channels/socketio.py)
  export CHAT_SESSIONS_REDIS_URL="redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/2"
else
  endpoints=var/endpoints-single-process.yml
  .venv-rasa/bin/python - "$endpoints" <<'PY'
import os, sys, yaml
config = yaml.safe_load(os.path.expandvars(open("endpoints.yml").read()))  # ${VAR}s resolved here
for store in ("tracker_store", "lock_store"):
    config.pop(store, None)
yaml.safe_dump(config, open(sys.argv[1], "w"))
PY
fi
# One TensorFlow thread per worker: a message is a tiny inference, and TensorFlow's default pools (one thread per
# core in each worker) only make the workers and the other services preempt each other.
export TF_INTRA_OP_PARALLELISM_THREADS="${TF_INTRA_OP_PARALLELISM_THREADS:-1}"
export TF_INTER_OP_PARALLELISM_THREADS="${TF_INTER_OP_PARALLELISM_THREADS:-1}"
# TensorFlow's oneDNN kernels (on by default on x86) cost more than the stock ones for DIET's one-message batches:
# DIET 3.2-3.5 instead of 4.0-5.3 ms, whole parse 7.5-7.9 instead of 9.4-11.7 ms (one thread, measured). Same
# predictions: 4,028 utterances parsed both ways gave the same intents and entities, confidences within 6e-7.
export TF_ENABLE_ONEDNN_OPTS="${TF_ENABLE_ONEDNN_OPTS:-0}"
# Request bodies: 64 kB at most (Sanic's default is 100 MB); a chat message is at most MAX_MESSAGE_CHARS characters.
export SANIC_REQUEST_MAX_SIZE="${SANIC_REQUEST_MAX_SIZE:-65536}"
export CONVERSATION_IDLE_SECONDS="${CONVERSATION_IDLE_SECONDS:-86400}"
# bot/serve.py adds the API token and the allowed origins (CHAT_ALLOWED_ORIGINS) to Rasa's arguments itself.
exec .venv-rasa/bin/python -m bot.serve --interface 127.0.0.1 --port "$RASA_PORT" --enable-api \
  --model models/portal.tar.gz --credentials credentials.yml --endpoints "$endpoints"
