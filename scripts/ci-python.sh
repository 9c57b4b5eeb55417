#!/usr/bin/env bash
# The analyst's view of the committed results, checked the way an analyst
# would read them: every CSV with pandas and polars under default options,
# the summaries of all experiments concatenated, and the Python example
# that redraws a chart. Installs both readers in a virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ECSIM_VENV:-target/ci-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-ci.txt
"$venv/bin/python" scripts/check_results.py
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$venv/bin/python" examples/python/lag_by_latency.py results/latency "$out/lag.png"
test -s "$out/lag.png"
