#!/usr/bin/env bash
# Prints the path of a Python interpreter of the requested minor version (3.10 or 3.11), or explains
# what to install. Looks at pythonX.Y on PATH, then at pyenv's installed versions.
set -euo pipefail
want="$1"  # e.g. 3.10

is_version() { "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; }

candidates=()
if command -v pyenv >/dev/null 2>&1; then
  root="$(pyenv root)"
  for dir in "$root"/versions/"$want".*; do
    [ -x "$dir/bin/python$want" ] && candidates+=("$dir/bin/python$want")
  done
fi
command -v "python$want" >/dev/null 2>&1 && candidates+=("$(command -v "python$want")")
[ "$want" = "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" ] && candidates+=("$(command -v python3)")

for candidate in "${candidates[@]}"; do
  if is_version "$candidate"; then echo "$candidate"; exit 0; fi
done

case "$want" in
  3.10) why="Rasa 3.6 (the assistant and its action server) supports Python 3.8-3.10 only" ;;
  *) why="the portal backend and knowledge index are tested on Python $want" ;;
esac
echo "error: Python $want not found: $why." >&2
echo "Install it, e.g. 'pyenv install $want' (then rerun), or your system's python$want package with its venv module." >&2
exit 1
