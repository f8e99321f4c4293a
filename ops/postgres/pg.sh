#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.
#   pg.sh up     start it (idempotent) and print its URL
#   pg.sh down   stop it (idempotent)
#   pg.sh crash-restart   stop it as a crash would (immediate mode), start it again
#   pg.sh url    print its URL
# PostgreSQL refuses to run as root, so as root it runs as the postgres user,
# with its data outside the repository where that user can write.
set -euo pipefail

port="${PROMOCREDITS_PG_PORT:-55432}"
data="${PROMOCREDITS_PG_DATA:-/tmp/promocredits-pg-$port}"
url="postgresql://postgres@127.0.0.1:$port/promocredits"
server_options="-h 127.0.0.1 -p $port -k $data -c max_connections=200 -c shared_buffers=256MB"

bindir=""
if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
  bindir="$(dirname "$(command -v pg_ctl)")"
fi
for candidate in /usr/lib/postgresql/*/bin; do
  [ -x "$candidate/initdb" ] && bindir="$candidate"
done
if [ -z "$bindir" ]; then
  echo "PostgreSQL server binaries not found: install them (Debian: apt-get install postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Running means the postmaster named in the lock file is alive. pg_ctl status
# also counts a killed postmaster that nobody has reaped yet (a zombie), or an
# unrelated process that reused its pid; the server would then never start.
running() {
  local pid state
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || return 1
  state=$(ps -o stat= -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $state != Z* && $state == *postgres* ]]
}

case "${1:-}" in
  up)
    if ! running; then
      # Left by a server that was killed: they would block the start.
      rm -f "$data/postmaster.pid" "$data/.s.PGSQL.$port.lock"
      if [ ! -f "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        [ "$(id -u)" = 0 ] && chown postgres: "$data"
        as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
      fi
      # Durability is kept (fsync on) so crash tests prove what production does.
      as_owner "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
        -o "$server_options" start >/dev/null
    fi
    # A server found running may still be recovering from a crash.
    for _ in $(seq 1 60); do
      "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break
      sleep 1
    done
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" || {
      echo "PostgreSQL on 127.0.0.1:$port does not accept connections; see $data/server.log" >&2
      exit 1
    }
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='promocredits'" | grep -q 1 ||
      as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres promocredits
    echo "$url"
    ;;
  down)
    if running; then as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi
    ;;
  crash-restart)
    running || { echo "PostgreSQL on 127.0.0.1:$port is not running" >&2; exit 1; }
    as_owner "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -m immediate -w -t 60 restart \
      -o "$server_options" >/dev/null
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 60
    ;;
  url)
    echo "$url"
    ;;
  *)
    echo "usage: $0 up|down|crash-restart|url" >&2
    exit 2
    ;;
esac
