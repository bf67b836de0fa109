#!/usr/bin/env bash
# The whole suite (called by `make test`): each part runs in the environment it belongs to, every part runs
# even if an earlier one failed, and the last line sums up all parts.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mkdir -p results && rm -f results/junit-*.xml
status=0
part() {
  local name="$1"; shift
  echo; echo "==> $name"
  "$@" || status=1
}
part "backend and knowledge index (Python 3.11)" \
  .venv-app/bin/python -m pytest tests/backend tests/knowledge_index -q --junitxml=results/junit-app.xml
part "assistant: actions, channels, Rasa data and test stories (Python 3.10)" \
  .venv-rasa/bin/python -m pytest tests/actions tests/bot tests/rasa -q --junitxml=results/junit-rasa.xml
bash scripts/ensure_chromium.sh
part "end to end: the Procfile's three services, REST channel and the web page in Chromium" \
  .venv-app/bin/python -m pytest tests/e2e -q --junitxml=results/junit-e2e.xml
echo
.venv-app/bin/python scripts/junit_summary.py results/junit-*.xml || status=1
exit $status
