#!/usr/bin/env bash
# A throwaway local PostgreSQL for the tests: `eval "$(scripts/pg.sh start)"` starts one on
# 127.0.0.1 at a free port and exports SEALGRID_TEST_PG_URL and SEALGRID_PG_DIR;
# `scripts/pg.sh stop` stops it and removes its data. Runs the server as `postgres` when
# invoked as root (PostgreSQL refuses to run as root).
set -euo pipefail
cmd="${1:-}"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
  for b in initdb pg_ctl; do
    command -v "$b" >/dev/null || { echo "scripts/pg.sh: $b not found (PostgreSQL server binaries)" >&2; exit 1; }
  done
  dir=$(mktemp -d /tmp/sealgrid-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  as_pg initdb -D "$dir/data" -U sealgrid --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export SEALGRID_PG_DIR=$dir"
  echo "export SEALGRID_TEST_PG_URL=postgres://sealgrid@127.0.0.1:$port/postgres"
  ;;
stop)
  dir="${SEALGRID_PG_DIR:?SEALGRID_PG_DIR is not set}"
  as_pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: scripts/pg.sh start|stop" >&2
  exit 2
  ;;
esac
