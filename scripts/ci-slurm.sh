#!/usr/bin/env bash
# Tests the sharded sweep on a one-machine Slurm cluster and with GNU parallel.
#
# Run by .ci/run after the unit tests, as root. It installs Debian's slurm
# and munge packages and GNU parallel if they are missing, starts munged,
# slurmctld and slurmd by hand (there is no systemd), and checks that:
#   1. a bundled sweep run as an 8-task job array merges byte-identical to
#      the unsharded run;
#   2. the same sweep through `parallel --jobs 2` does too;
#   3. a shard that fails on purpose is reported, and `ecsim merge` names it
#      and writes nothing.
# The daemons are stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

config=experiments/configs/latency.toml
started=$SECONDS
say() { printf '[ci-slurm %3ds] %s\n' $((SECONDS - started)) "$*"; }
fail() { say "FAIL: $*"; exit 1; }

missing=()
for cmd in munged slurmctld slurmd sbatch squeue scontrol parallel; do
  command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing slurm, munge and parallel (missing: ${missing[*]})"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge parallel >/dev/null
fi

# The binary cargo test just built (the test profile is optimised): this
# only checks it is fresh. (`cargo build -p experiments` would unify the
# features differently and rebuild it: minutes on CI.)
cargo test -q --workspace --no-run
ecsim=$PWD/target/debug/ecsim
[ -x "$ecsim" ] || fail "no ecsim binary at $ecsim"

work=$(mktemp -d /tmp/ecsim-slurm.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
}
trap cleanup EXIT

# munge: a fresh key, a private socket.
mkdir -p "$work/munge"
dd if=/dev/urandom bs=1 count=1024 of="$work/munge/munge.key" status=none
chmod 400 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed"
for _ in $(seq 50); do [ -s "$work/munge/munged.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/munge/munged.pid")")

cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
mkdir -p "$work/state" "$work/spool"
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=ecsim-ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MinJobAge=600
ReturnToService=2
MpiDefault=none
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld
for _ in $(seq 50); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -N localhost
for _ in $(seq 50); do [ -s "$work/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 100); do
  state=$(sinfo -h -N -o %t 2>/dev/null | head -n1 || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "the Slurm node did not come up (state '$state'); see $work/slurmctld.log"
say "slurm up: 1 node, $cpus CPUs"

# Waits for a job to leave the queue; squeue polling avoids sbatch --wait's 30 s poll.
wait_job() {
  for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  fail "job $1 did not finish in 120 s"
}

same_as_single() {
  for f in "$work/single"/*.csv "$work/single"/*.toml "$work/single"/*.svg "$work/single"/*.png; do
    cmp -s "$f" "$1/$(basename "$f")" || fail "$1/$(basename "$f") differs from the unsharded run"
  done
}

"$ecsim" run "$config" --quiet --out "$work/single"
say "unsharded run done"

# 1. An 8-task job array.
job=$(sbatch --parsable --array=0-7 --cpus-per-task=1 --output="$work/array-%A_%a.out" \
  --export=ALL,ECSIM="$ecsim" scripts/slurm/sweep.sbatch "$config" "$work/slurm-shards")
wait_job "$job"
"$ecsim" merge "$work/slurm-shards" --quiet
same_as_single "$work/slurm-shards"
say "slurm: 8-task array merged byte-identical to the unsharded run"

# 2. GNU parallel, two at a time.
parallel --jobs 2 "$ecsim" sweep "$config" --shard '{}/8' --out "$work/parallel-shards" --quiet ::: $(seq 0 7)
"$ecsim" merge "$work/parallel-shards" --quiet
same_as_single "$work/parallel-shards"
say "parallel: 8 shards merged byte-identical to the unsharded run"

# 3. Shard 3 fails on purpose.
cat >"$work/failing.sbatch" <<EOF
#!/usr/bin/env bash
if [ "\$SLURM_ARRAY_TASK_ID" = 3 ]; then echo "shard 3 fails on purpose" >&2; exit 3; fi
exec "$ecsim" sweep "$config" --out "$work/failed-shards" --quiet
EOF
job=$(sbatch --parsable --array=0-7 --cpus-per-task=1 --output="$work/fail-%A_%a.out" "$work/failing.sbatch")
wait_job "$job"
scontrol show job "${job}_3" | grep -q 'JobState=FAILED' || fail "Slurm did not report task 3 as failed"
grep -q "fails on purpose" "$work/fail-${job}_3.out" || fail "task 3's output does not say why"
if "$ecsim" merge "$work/failed-shards" --out "$work/failed-merge" 2>"$work/merge.err"; then
  fail "merge accepted a sweep with a missing shard"
fi
grep -q "missing shard(s) 3 of 8" "$work/merge.err" || fail "merge did not name shard 3: $(cat "$work/merge.err")"
[ ! -e "$work/failed-merge" ] || fail "merge wrote a partial result"
say "a failed shard is reported by Slurm and named by merge, which writes nothing"

cleanup
trap - EXIT
rm -rf "$work"
say "ok"
