#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the database tests and print its URL.
#
#   export INSUREFLOW_TEST_POSTGRES_URL="$(.ci/postgres.sh)"
#
# Idempotent: installs Debian's postgresql package when missing (needs root), creates
# the cluster once, starts it when it is not running, creates the test database once.
# Only the URL goes to stdout; progress goes to stderr. Override with PG_PORT,
# PG_ROOT (cluster directory), PG_USER, PG_DB.
set -euo pipefail

PG_PORT="${PG_PORT:-55432}"
PG_ROOT="${PG_ROOT:-/tmp/insureflow-pg}"
PG_USER="${PG_USER:-insureflow}"
PG_DB="${PG_DB:-insureflow_test}"
PG_DATA="$PG_ROOT/data"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    # The newest installed major version; Debian keeps the server tools off PATH.
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        echo "$dir"
    fi
}

BINDIR="$(find_bindir)"
if [[ -z "$BINDIR" ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        log "PostgreSQL is not installed and installing it needs root"
        exit 1
    fi
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
    BINDIR="$(find_bindir)"
    if [[ -z "$BINDIR" ]]; then
        log "postgresql installed but no initdb found under /usr/lib/postgresql"
        exit 1
    fi
fi

# initdb and the server refuse to run as root: as root, run them as the postgres user.
if [[ "$(id -u)" -eq 0 ]]; then
    as_owner() { runuser -u postgres -- "$@"; }
    mkdir -p "$PG_ROOT"
    chown postgres:postgres "$PG_ROOT"
    chmod 700 "$PG_ROOT"
else
    as_owner() { "$@"; }
    mkdir -p "$PG_ROOT"
    chmod 700 "$PG_ROOT"
fi

if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
    log "initialising a cluster in $PG_DATA"
    as_owner "$BINDIR/initdb" -D "$PG_DATA" -A trust -U "$PG_USER" -E UTF8 --no-sync >&2
fi

if ! as_owner "$BINDIR/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # Sockets in /tmp: /var/run/postgresql may not exist on a fresh machine.
    # fsync off: the data is throwaway and the tests run faster.
    as_owner "$BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_ROOT/server.log" -w -t 60 \
        -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
fi

for _ in $(seq 1 60); do
    if "$BINDIR/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -q; then
        break
    fi
    sleep 0.5
done
"$BINDIR/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" >&2

exists="$("$BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")"
if [[ "$exists" != "1" ]]; then
    log "creating database $PG_DB"
    "$BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
fi

echo "postgresql+asyncpg://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
