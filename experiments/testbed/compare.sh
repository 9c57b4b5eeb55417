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
# agrees with its prediction within the sampling error, ECSIM and
# ECSIM_TESTBED (binaries to use instead of building them; CI reuses the
# ones its tests built), TESTBED_SCENARIOS ("no-faults broker-outage"): broker-outage stops the
# broker's application a third of the way in for a third of the duration,
# for the event-based pattern (redelivery) and background sync (which
# does not use the broker, and must not notice).
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

measured=false
cleanup() {
  bash experiments/testbed/servers.sh stop "$servers" || true
  rm -rf "$servers"
  # Measurements are kept when only ecsim's side failed: they took minutes
  # of real time, and predict.sh redoes the rest from them.
  if [ "$measured" = true ] && [ -d "$stage" ]; then
    echo "[testbed] measurements kept in $stage: experiments/testbed/predict.sh $stage, then move it to $out" >&2
  else
    rm -rf "$stage"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The testbed in the dev profile (its dependencies optimised, as
# `cargo test` builds them, so CI compiles them once); ecsim in release,
# unless ECSIM names a binary (see predict.sh). Both before the servers
# start, so that a build error leaves nothing to stop.
if [ -n "${ECSIM_TESTBED:-}" ]; then
  tb=$(realpath "$ECSIM_TESTBED")
else
  cargo build -q -p testbed --bin ecsim-testbed
  tb=$PWD/target/debug/ecsim-testbed
fi
[ -n "${ECSIM:-}" ] || cargo build -q --release -p experiments

bash experiments/testbed/servers.sh start "$servers"
rm -rf "$stage"
third=$(python3 -c "print($duration / 3)")
for scenario in ${TESTBED_SCENARIOS:-no-faults broker-outage outbox}; do
  case "$scenario" in
    no-faults) patterns="background_sync orchestrated event_based"; extra=() ;;
    broker-outage) patterns="event_based background_sync"; extra=(--broker-outage "$third,$third" --servers "$servers") ;;
    outbox) patterns="event_based"; extra=(--outbox) ;;
    *) echo "compare.sh: unknown scenario $scenario (no-faults, broker-outage, outbox)" >&2; exit 2 ;;
  esac
  for pattern in $patterns; do
    d="$stage/$scenario/$pattern"
    mkdir -p "$d"
    echo "[testbed] $scenario, $pattern: $rate/s for $duration s over $customers customers" >&2
    "$tb" --pattern "$pattern" --rate "$rate" --duration "$duration" --customers "$customers" "${extra[@]}" --out "$d/measured"
  done
done
measured=true
# The servers are no longer needed: stop them before ecsim's side.
bash experiments/testbed/servers.sh stop "$servers"
bash experiments/testbed/predict.sh "$stage"
rm -rf "$out"
mv "$stage" "$out"
echo "[testbed] results: $out" >&2
