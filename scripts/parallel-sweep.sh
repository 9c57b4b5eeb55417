#!/usr/bin/env bash
# Runs an ecsim sweep as N shards with GNU parallel, on this machine or over ssh, then merges.
#
#   scripts/parallel-sweep.sh CONFIG OUTDIR N [SSHLOGINS]
#   scripts/parallel-sweep.sh experiments/configs/load.toml /tmp/load 8
#   scripts/parallel-sweep.sh experiments/configs/load.toml /shared/load 32 ':,4/node1,4/node2'
#
# The command line it runs is the template:
#   parallel --jobs 2 [--sshlogin LOGINS] ecsim sweep CONFIG --shard {}/N --out OUTDIR --quiet ::: 0 .. N-1
# With --sshlogin, CONFIG and OUTDIR must be at the same paths on every host
# (a shared file system), and ecsim on every host's PATH (or set ECSIM).
set -euo pipefail
config=${1:?usage: parallel-sweep.sh CONFIG OUTDIR N [SSHLOGINS]}
outdir=${2:?usage: parallel-sweep.sh CONFIG OUTDIR N [SSHLOGINS]}
n=${3:?usage: parallel-sweep.sh CONFIG OUTDIR N [SSHLOGINS]}
ecsim=${ECSIM:-ecsim}
logins=()
if [ -n "${4:-}" ]; then
  logins=(--sshlogin "$4")
fi
parallel --halt never --jobs "${JOBS:-2}" "${logins[@]}" \
  "$ecsim" sweep "$config" --shard "{}/$n" --out "$outdir" --quiet ::: $(seq 0 $((n - 1)))
"$ecsim" merge "$outdir"
