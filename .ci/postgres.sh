#!/usr/bin/env bash
# Start a throwaway PostgreSQL (Debian's packages) on 127.0.0.1 for the Postgres run-store test and print
# its DSN. Usage: export REBUTTAL_TEST_POSTGRES_DSN="$(bash .ci/postgres.sh [DATA_DIR] [PORT])"
# Stop it with: bash .ci/postgres.sh --stop DATA_DIR
# Installs postgresql with apt-get when it is missing (needs root); the server runs as the `postgres`
# user from DATA_DIR (default: a new temporary folder), trust auth on loopback only.
set -euo pipefail
stop=false
if [ "${1:-}" = "--stop" ]; then stop=true; shift; fi
data="${1:-$(mktemp -d /tmp/rebuttal-pg.XXXXXX)}"
port="${2:-54329}"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
fi
initdb="$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
bin="$(dirname "$initdb")"
as_pg() { if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if $stop; then
  as_pg "$bin/pg_ctl" -D "$data" stop -m fast >&2
  exit 0
fi

mkdir -p "$data"
[ "$(id -u)" = "0" ] && chown postgres "$data"
if [ ! -f "$data/PG_VERSION" ]; then
  as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data" start >&2
as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='rebuttal'" \
  | grep -q 1 || as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres rebuttal
echo "postgresql://postgres@127.0.0.1:$port/rebuttal"
