#!/usr/bin/env bash
# ecsim's side of the testbed comparison, from measurements already made:
# for every SCENARIO/PATTERN/measured in DIR, calibrate a config, run ecsim
# on it, and compare (DIR/SCENARIO/comparison.csv and .png). Needs no
# servers and is deterministic: scripts/regen-results.sh runs it on
# results/testbed, so the committed predictions stay those of the code.
#
#   experiments/testbed/predict.sh [DIR]      (default results/testbed)
#
# TESTBED_CHECK=1 passes --check to the comparison. ECSIM=PATH uses that
# ecsim binary instead of building one in release (CI reuses the one its
# tests built: the outputs do not depend on the profile).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(realpath "${1:-results/testbed}")
if [ -n "${ECSIM:-}" ]; then
  ecsim=$(realpath "$ECSIM")
else
  cargo build -q --release -p experiments
  ecsim=$PWD/target/release/ecsim
fi
for scenario in "$dir"/*/; do
  scenario=${scenario%/}
  [ -d "$scenario" ] || continue
  for d in "$scenario"/*/; do
    d=${d%/}
    [ -f "$d/measured/run.json" ] || continue
    # Relative paths, so the committed files name no machine's folders.
    # The prediction is replaced whole: ecsim writes a new folder.
    # A fault scenario takes its times from the healthy run of the same
    # pattern when there is one: the fault is predicted, not fitted. (A
    # variant without a fault, such as the outbox, has times of its own.)
    healthy=()
    if grep -q '"outage": {' "$d/measured/run.json" && [ -f "$dir/no-faults/$(basename "$d")/measured/run.json" ]; then
      healthy=(--times-from "../../no-faults/$(basename "$d")/measured")
    fi
    (cd "$d" && rm -rf predicted && "$ecsim" testbed calibrate measured "${healthy[@]}" --out calibrated.toml &&
      "$ecsim" run calibrated.toml --out predicted --quiet)
  done
  echo "[testbed] $(basename "$scenario"):" >&2
  "$ecsim" testbed compare "$scenario" ${TESTBED_CHECK:+--check}
done
