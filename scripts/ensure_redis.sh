#!/usr/bin/env bash
# Rasa runs two worker processes that share conversations through Redis (tracker and lock stores,
# endpoints.yml). Installs Debian's redis-server when missing and we may (root with apt); otherwise Rasa falls
# back to one process with in-memory stores (scripts/run_rasa.sh) and says so.
set -uo pipefail
command -v redis-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing redis-server (apt)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq redis-server >/dev/null 2>&1 \
     || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq redis-server >/dev/null 2>&1; }; then
    exit 0
  fi
fi
echo "warning: redis-server is not installed and could not be installed: Rasa will run one process" >&2
exit 0
