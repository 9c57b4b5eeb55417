#!/usr/bin/env bash
# Every committed report.html, opened from disk in headless Chromium: no
# console output, every chart laid out, a screenshot that is not blank
# (scripts/check_report.py). Installs Debian's chromium when it is missing
# (CI runs as root), and Pillow in the Python environment of ci-python.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
venv="${ECSIM_VENV:-target/ci-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-ci.txt
work=$(mktemp -d /tmp/ecsim-report.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The flags a sandboxed root CI needs, and none of Chromium's own traffic.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --enable-logging=stderr --v=0)
reports=(results/*/report.html)
[ "${#reports[@]}" -ge 14 ] || { echo "ci-report: only ${#reports[@]} reports under results/" >&2; exit 1; }
failed=0
for report in "${reports[@]}"; do
  name=$(basename "$(dirname "$report")")
  url="file://$PWD/$report"
  timeout 120 chromium "${flags[@]}" --user-data-dir="$work/$name-dom" --dump-dom "$url" \
    >"$work/$name.dom" 2>"$work/$name.log"
  timeout 120 chromium "${flags[@]}" --user-data-dir="$work/$name-shot" --window-size=1200,2400 \
    --screenshot="$work/$name.png" "$url" >/dev/null 2>>"$work/$name.log"
  "$venv/bin/python" scripts/check_report.py "$report" "$work/$name.dom" "$work/$name.log" "$work/$name.png" || failed=1
done
exit "$failed"
