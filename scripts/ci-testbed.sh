#!/usr/bin/env bash
# The testbed's servers (experiments/testbed/servers.sh) as the testbed
# uses them, then the short comparison of the testbed against ecsim.
# Servers: PostgreSQL and RabbitMQ installed from Debian if missing,
# started by hand on loopback, answering, holding the three databases, and
# stopped with nothing left running, also when a start fails halfway (the
# AMQP port taken on purpose: PostgreSQL has started, RabbitMQ cannot).
set -euo pipefail
cd "$(dirname "$0")/.."
servers=experiments/testbed/servers.sh
work=$(mktemp -d /tmp/ecsim-testbed.XXXXXX)
chmod 755 "$work"
trap 'bash "$servers" stop "$work/ok" 2>/dev/null; bash "$servers" stop "$work/fail" 2>/dev/null; rm -rf "$work"' EXIT

# Nothing of the servers started under folder prefix $2 (default: this
# script's own folder) may still run.
nothing_left() {
  local left dir=${2:-$work}
  left=$(pgrep -a -f "beam.smp.* -home $dir|bin/epmd|postgres -D $dir" || true)
  if [ -n "$left" ]; then
    echo "ci-testbed: still running after stop ($1):" >&2
    echo "$left" >&2
    exit 1
  fi
}

bash "$servers" start "$work/ok"
bash "$servers" status "$work/ok"
dbs=$(psql -h 127.0.0.1 -p 25432 -U postgres -tAc \
  "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname IN ('profile','contract','billing')")
[ "$dbs" = "billing,contract,profile" ] || { echo "ci-testbed: databases: $dbs" >&2; exit 1; }
# Nothing listens beyond loopback.
if ss -ltnH | awk '{print $4}' | grep -E ':(25432|26672|27672|4369)$' | grep -vE '^(127\.0\.0\.1|\[::1\]):'; then
  echo "ci-testbed: a server listens beyond loopback" >&2
  exit 1
fi
bash "$servers" stop "$work/ok"
nothing_left "after a clean run"

# A start that fails halfway: the AMQP port is taken.
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",26672)); s.listen(); time.sleep(300)' &
blocker=$!
sleep 1
if bash "$servers" start "$work/fail" 2>"$work/fail.log"; then
  kill "$blocker"
  echo "ci-testbed: a start with the AMQP port taken succeeded" >&2
  exit 1
fi
bash "$servers" stop "$work/fail"
kill "$blocker"
nothing_left "after a failed start"
echo "ci-testbed: servers start, answer, stop, and leave nothing running (also after a failed start)"

# The short comparison: each pattern for 60 s at 10 unsubscribes/s, then
# ecsim's prediction from each run's calibration; every nonzero p50 must
# agree within 5% beyond both sampling errors (compare --check, its default
# --tolerance: the calibration's own biases, see experiments/testbed/README.md). The binaries are
# the ones cargo test built (`--no-run` only checks they are fresh).
cargo test -q --workspace --no-run
TESTBED_CHECK=1 TESTBED_SCENARIOS=no-faults TESTBED_DURATION=60 TESTBED_RATE=10 \
  ECSIM=target/debug/ecsim ECSIM_TESTBED=target/debug/ecsim-testbed \
  bash experiments/testbed/compare.sh "$work/compare"
[ -f "$work/compare/no-faults/comparison.csv" ] || { echo "ci-testbed: no comparison written" >&2; exit 1; }
# compare.sh starts its servers in a folder of its own, /tmp/ecsim-testbed.*.
nothing_left "after the comparison" /tmp/ecsim-testbed.
echo "ci-testbed: every pattern's p50 response and lag agree with ecsim's prediction within 5% beyond the sampling error"

