#!/usr/bin/env bash
# One command: the testbed against ecsim's prediction, from a fresh clone,
# as root. Installs and starts PostgreSQL and RabbitMQ (servers.sh), runs
# each pattern for real, calibrates an ecsim config from each run, runs
# ecsim on it, and compares; the servers are stopped on every exit.
#
#   experiments/testbed/compare.sh [OUT]      (default results/testbed)
#
# Environment: TESTBED_DURATION (s, default 180), TESTBED_RATE (/s, 50),
# TESTBED_CUSTOMERS (10000), TESTBED_CHECK=1 to fail unless every p50
# agrees with its prediction within the sampling error.
# OUT is written whole or not at all (a staging folder beside it, renamed).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-results/testbed}")
duration=${TESTBED_DURATION:-180}
rate=${TESTBED_RATE:-50}
customers=${TESTBED_CUSTOMERS:-10000}
servers=$(mktemp -d /tmp/ecsim-testbed.XXXXXX)
# The servers run as their own users, who must reach their folders.
chmod 755 "$servers"
stage="$out.partial"

cleanup() {
  bash experiments/testbed/servers.sh stop "$servers" || true
  rm -rf "$servers" "$stage"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The testbed in the dev profile (its dependencies optimised, as
# `cargo test` builds them, so CI compiles them once); ecsim in release.
cargo build -q -p testbed --bin ecsim-testbed
cargo build -q --release -p experiments
tb=$PWD/target/debug/ecsim-testbed
ecsim=$PWD/target/release/ecsim

bash experiments/testbed/servers.sh start "$servers"
rm -rf "$stage"
mkdir -p "$stage/no-faults"
for pattern in background_sync orchestrated event_based; do
  d="$stage/no-faults/$pattern"
  mkdir -p "$d"
  echo "[testbed] $pattern: $rate/s for $duration s over $customers customers" >&2
  "$tb" --pattern "$pattern" --rate "$rate" --duration "$duration" --customers "$customers" --out "$d/measured"
  # Relative paths, so the committed files name no machine's folders.
  (cd "$d" && "$ecsim" testbed calibrate measured --out calibrated.toml &&
    "$ecsim" run calibrated.toml --out predicted --quiet)
done
"$ecsim" testbed compare "$stage/no-faults" ${TESTBED_CHECK:+--check}
rm -rf "$out"
mv "$stage" "$out"
echo "[testbed] results: $out" >&2
