#!/usr/bin/env bash
# The testbed's real servers, by hand on loopback, with no systemd:
# PostgreSQL (one database per service: profile, contract, billing) and
# RabbitMQ. Installs Debian's packages if missing (as root).
#
#   servers.sh start DIR    install if needed, start both, create the databases
#   servers.sh stop DIR     stop both (also whatever a failed start left)
#   servers.sh status DIR   exit 0 if both answer
#   servers.sh broker-stop DIR / broker-start DIR
#                           stop or start RabbitMQ's application (the node
#                           stays up; its durable queues survive): a broker
#                           outage in the middle of a testbed run
#
# Every file a server writes is under DIR; nothing listens beyond 127.0.0.1.
# Callers trap EXIT and call `stop`, so no server outlives a failed run.
set -euo pipefail
cmd=${1:?usage: servers.sh start|stop|status DIR}
dir=$(realpath -m "${2:?usage: servers.sh start|stop|status DIR}")
# Below Linux's ephemeral range (32768-60999): a client's connect to a
# port in that range while nothing listens on it can bind that very port
# (a TCP self-connect), and then RabbitMQ cannot listen again after a
# broker outage (seen: eaddrinuse on start_app).
pg_port=${ECSIM_PG_PORT:-25432}
amqp_port=${ECSIM_AMQP_PORT:-26672}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)

say() { echo "[servers] $*" >&2; }

install_packages() {
  local missing=()
  [ -n "$pg_bin" ] && [ -x "$pg_bin/postgres" ] || missing+=(postgresql)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} from Debian"
    # The packages' own services must not start: this script runs them.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
}

# Runs a RabbitMQ command as its user, with its node, ports and files all
# under DIR, and every port on loopback (epmd and Erlang distribution too).
rabbit() {
  runuser -u rabbitmq -- env HOME="$dir/rabbitmq" RABBITMQ_NODENAME=ecsim@localhost \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" \
    RABBITMQ_DIST_PORT=$((amqp_port + 1000)) ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_MNESIA_BASE="$dir/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$dir/rabbitmq/log" \
    RABBITMQ_PID_FILE="$dir/rabbitmq/pid" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/rabbitmq/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq/rabbitmq" "$@"
}

start() {
  install_packages
  mkdir -p "$dir/pg-sock" "$dir/rabbitmq/mnesia" "$dir/rabbitmq/log"
  chown postgres "$dir/pg-sock"
  if [ ! -f "$dir/pg/PG_VERSION" ]; then
    install -d -o postgres "$dir/pg"
    runuser -u postgres -- "$pg_bin/initdb" -D "$dir/pg" --auth=trust --username=postgres >/dev/null
  fi
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w -t 60 \
    -o "-p $pg_port -k $dir/pg-sock -c listen_addresses=127.0.0.1" start >/dev/null
  for db in profile contract billing; do
    psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
      psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE $db"
  done
  say "postgresql on 127.0.0.1:$pg_port (databases profile, contract, billing)"

  printf '[].\n' > "$dir/rabbitmq/enabled_plugins"
  printf 'loopback_users = none\n' > "$dir/rabbitmq/rabbitmq.conf"
  chown -R rabbitmq "$dir/rabbitmq"
  rabbit /usr/lib/rabbitmq/bin/rabbitmq-server -detached
  if ! rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q wait --timeout 60 "$dir/rabbitmq/pid" >/dev/null; then
    say "rabbitmq did not start; its log:"
    tail -n 30 "$dir"/rabbitmq/log/*.log >&2 || true
    return 1
  fi
  say "rabbitmq on 127.0.0.1:$amqp_port"
}

stop() {
  if [ -f "$dir/rabbitmq/pid" ]; then
    rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q stop "$dir/rabbitmq/pid" >/dev/null 2>&1 || true
  fi
  # Whatever a failed start left: the Erlang VM of this node, and epmd.
  pkill -u rabbitmq -f "beam.smp.* -home $dir/rabbitmq( |$)" 2>/dev/null || true
  pkill -u rabbitmq -x epmd 2>/dev/null || true
  if [ -n "$pg_bin" ] && [ -f "$dir/pg/postmaster.pid" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  say "stopped"
}

status() {
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1" >/dev/null &&
    rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q status >/dev/null
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  broker-stop) rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q stop_app >/dev/null ;;
  broker-start) rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q start_app >/dev/null ;;
  *) echo "usage: servers.sh start|stop|status|broker-stop|broker-start DIR" >&2; exit 2 ;;
esac
