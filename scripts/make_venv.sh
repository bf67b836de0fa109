#!/usr/bin/env bash
# make_venv.sh <venv dir> <python minor version> <requirements> <lock>
# Creates the virtual environment if missing and installs the pinned requirements (the lock file is used
# as constraints, so a fresh machine gets exactly the tested versions). Reinstalls when either file changes.
set -euo pipefail
venv="$1"; version="$2"; requirements="$3"; lock="$4"
stamp="$venv/.requirements.sha256"
wanted="$(cat "$requirements" "$lock" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
python="$(bash "$(dirname "$0")/python_for.sh" "$version")"
if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating $venv with $python"
  "$python" -m venv "$venv"
fi
echo "==> installing $requirements into $venv (first time: a few minutes)"
log="$venv/pip-install.log"
pip_install() { "$venv/bin/python" -m pip install --disable-pip-version-check "$@" >>"$log" 2>&1; }
: > "$log"
if ! pip_install --upgrade pip || ! pip_install -r "$requirements" -c "$lock"; then
  grep -v "^WARNING: Location" "$log" | tail -n 40 >&2
  echo "error: installing $requirements failed (full log: $log)" >&2
  exit 1
fi
echo "$wanted" > "$stamp"
