#!/usr/bin/env bash
# The project-managed PostGIS cluster under var/ (used when DATABASE_URL is not set).
#   scripts/devdb.sh start   initdb on first use, start on a fixed port, create the databases
#   scripts/devdb.sh stop    stop it (data is kept)
#   scripts/devdb.sh status
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
set -euo pipefail

cd "$(dirname "$0")/.."
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PORT="${DEVDB_PORT:-54329}"
VAR="$PWD/var"
DATA="$VAR/pgdata"
SOCK="$VAR/run"
LOG="$SOCK/postgres.log"
DBS=(groupfinder)

if [ -n "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL is set: using that server, not starting one."
  exit 0
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# As root, the `postgres` user must be able to reach var/. When the checkout sits somewhere it
# cannot (under /root, say), the cluster lives in /var/lib/groupfinder-dev/<checkout hash>.
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$VAR"
  chmod o+x "$PWD" "$VAR" 2>/dev/null || true
  if ! runuser -u postgres -- test -x "$VAR"; then
    VAR="/var/lib/groupfinder-dev/$(printf %s "$PWD" | md5sum | cut -c1-12)"
    DATA="$VAR/pgdata"
    SOCK="$VAR/run"
    LOG="$SOCK/postgres.log"
    mkdir -p "$VAR"
    chmod 755 /var/lib/groupfinder-dev "$VAR"
  fi
fi

psql_dev() { as_owner "$PG_BIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -qtAX "$@"; }

running() { as_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  mkdir -p "$VAR" "$SOCK"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "error: no 'postgres' system user; install postgresql-15" >&2; exit 1; }
    chown postgres: "$SOCK"
  fi
  if [ ! -s "$DATA/PG_VERSION" ]; then
    echo "Creating the PostGIS cluster in var/pgdata (first use)..."
    mkdir -p "$DATA"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DATA"
    chmod 700 "$DATA"
    as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
fsync = ${DEVDB_FSYNC:-on}
shared_buffers = 256MB
max_connections = 100
CONF
  fi
  if ! running; then
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null \
      || { echo "error: PostgreSQL did not start; see $LOG" >&2; tail -5 "$LOG" >&2; exit 1; }
  fi
  for db in "${DBS[@]}"; do
    if [ -z "$(psql_dev -c "select 1 from pg_database where datname = '$db'")" ]; then
      psql_dev -c "create database $db"
    fi
  done
  echo "PostGIS is running on 127.0.0.1:$PORT (data in $DATA)."
}

stop() {
  if [ -s "$DATA/PG_VERSION" ] && running; then
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    echo "PostGIS stopped."
  else
    echo "PostGIS is not running."
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if [ -s "$DATA/PG_VERSION" ] && running; then echo running; else echo stopped; exit 3; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
