#!/usr/bin/env bash
# The multi-process proof (scripts/multiprocess.py, `make test-faults`) balances every request over the replicas
# with Debian's haproxy. Installs it when missing and we may (root with apt).
# Exit status 3: haproxy is missing and cannot be installed here (not root, or no apt-get).
set -uo pipefail
command -v haproxy >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing haproxy (apt)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq haproxy >/dev/null 2>&1 \
     || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq haproxy >/dev/null 2>&1; }; then
    # Only the binary is wanted: the package's own service (on the system configuration) is never ours to run.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl disable --now haproxy >/dev/null 2>&1 || true
    fi
    command -v haproxy >/dev/null 2>&1 && exit 0
  fi
fi
echo "error: haproxy is not installed and could not be installed (needs root and apt-get:" \
  "'sudo apt-get install haproxy')" >&2
exit 3
