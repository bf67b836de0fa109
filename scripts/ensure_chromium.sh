#!/usr/bin/env bash
# The browser test drives Debian's chromium (playwright never downloads a browser here). Installs it when
# missing and we may (root with apt); otherwise the browser test is skipped and says why.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing chromium for the browser test (apt)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; then
    exit 0
  fi
fi
echo "warning: chromium is not installed and could not be installed: the browser test will be skipped" >&2
exit 0
