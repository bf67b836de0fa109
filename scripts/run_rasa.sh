#!/usr/bin/env bash
# Starts Rasa for the Procfile. With Redis (scripts/run_redis.sh): RASA_WORKERS processes (default 2, one per
# core) sharing conversations through Redis tracker and lock stores (endpoints.yml), so that one slow turn
# never queues every other user's behind it. Without redis-server, or with RASA_WORKERS=1: one process,
# in-memory stores (the same endpoints minus the two stores).
set -uo pipefail
cd "$(dirname "$0")/.."
endpoints=endpoints.yml
if command -v redis-server >/dev/null 2>&1 && [ "${RASA_WORKERS:-2}" != 1 ]; then
  # Rasa connects to Redis at start-up: wait for the Procfile's Redis (a few ms after launch)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
    sleep 0.1
  done
  export SANIC_WORKERS="${RASA_WORKERS:-2}"
  # The channel's "save this language?" offer, made once per conversation whichever worker gets the message
  export LANGUAGE_OFFER_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/2"
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
exec .venv-rasa/bin/rasa run --interface 127.0.0.1 --port "$RASA_PORT" --enable-api --auth-token "$RASA_API_TOKEN" \
  --cors "*" --model models/portal.tar.gz --credentials credentials.yml --endpoints "$endpoints"
