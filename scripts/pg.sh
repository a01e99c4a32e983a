#!/usr/bin/env bash
# A private PostgreSQL cluster for demos and tests, in a data directory of its own.
#
#   scripts/pg.sh start NAME PORT   -> prints its DATABASE_URL (starts it if not running)
#   scripts/pg.sh stop NAME
#   scripts/pg.sh crash NAME        -> stops it the way a crash would (immediate: no checkpoint)
#   scripts/pg.sh destroy NAME      -> stops it and deletes its data directory
#
# Uses Debian's PostgreSQL binaries (scripts/setup.sh installs them). As root the server
# runs as the `postgres` user, since PostgreSQL refuses to run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cmd="${1:?usage: pg.sh start|stop|crash|destroy NAME [PORT]}"; name="${2:?name}"; port="${3:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
[ -x "$bin/initdb" ] || { echo "PostgreSQL binaries not found: run scripts/setup.sh build" >&2; exit 1; }
dir="$SY_CACHE/pg/$name"
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir" && chmod 700 "$dir" && \
      { d="$SY_CACHE"; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done; }
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    # Sized for an ingest-heavy read model (every cluster): shared buffers that hold the
    # hot indexes, and room for 8 GB of WAL between checkpoints, so a burst of events does
    # not set off checkpoints whose full-page images double the WAL written (PostgreSQL's
    # defaults, 128 MB and 1 GB, are sized for a small machine). Override with PG_EXTRA.
    extra="-c shared_buffers=${PG_SHARED_BUFFERS:-1GB} -c max_wal_size=${PG_MAX_WAL_SIZE:-8GB} -c checkpoint_timeout=15min"
    # Test clusters trade crash safety of the OS for speed; demo and bench clusters keep
    # fsync and synchronous commit on.
    case "$name" in test*) extra="$extra -c fsync=off -c synchronous_commit=off" ;; esac
    extra="$extra ${PG_EXTRA:-}"
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $extra" start >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
  crash)
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    ;;
  destroy)
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: pg.sh start|stop|crash|destroy NAME [PORT]" >&2; exit 2 ;;
esac
