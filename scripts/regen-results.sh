#!/usr/bin/env bash
# Regenerates every committed result from its bundled config, in place.
# Committed results are the regression oracle: after a refactor,
# `git status --short results/` must print nothing.
#
#   scripts/regen-results.sh            # build, regenerate, then show what changed
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p experiments
ecsim=target/release/ecsim
for cfg in experiments/configs/*.toml; do
  "$ecsim" run "$cfg" --quiet
done
"$ecsim" trace experiments/configs/partition-trace.toml --customer 6052 --quiet
"$ecsim" validation --quiet
"$ecsim" explore --seeds 200 --quiet 2>/dev/null || test $? -eq 1  # exit 1: a promise broke, by design
# The testbed's predictions, from its committed measurements (no servers).
bash experiments/testbed/predict.sh results/testbed 2>/dev/null >/dev/null
git status --short results/
