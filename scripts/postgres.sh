#!/usr/bin/env bash
# postgres.sh start|stop|url|status
# A private, throwaway PostgreSQL cluster for the backend tests (never the system service):
#   start   installs Debian `postgresql` if missing (root + apt only), then initdb's a cluster in $PG_DIR
#           (default /tmp/portal-pg-$UID; owned by the `postgres` OS user when run as root), listening only on
#           127.0.0.1 at $PG_PORT or a free port, trust auth, with an empty database `portal_test`.
#           Idempotent: when the cluster is already running it is kept as is.
#   url     prints the SQLAlchemy URL of the running cluster (postgresql+psycopg://postgres@127.0.0.1:PORT/portal_test)
#   stop    stops the cluster (pg_ctl stop -m fast) and removes $PG_DIR
#   restart restarts the running cluster (pg_ctl restart -m fast: every client connection is cut; the fault tests)
#   status  exits 0 when the cluster is running
#   bindir  prints the directory of the server's programs (psql, pg_ctl...)
# Exit status 3: PostgreSQL is missing and cannot be installed here (not root, or no apt-get).
set -euo pipefail

PG_DIR="${PG_DIR:-/tmp/portal-pg-$UID}"
DATA="$PG_DIR/data"
DB_NAME="portal_test"

die() { echo "postgres.sh: error: $*" >&2; exit 1; }
say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

install_postgres() {
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: error: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin) and installing it needs root:" >&2
    echo "  run 'sudo apt-get install postgresql' (Debian/Ubuntu), or run this script as root" >&2
    exit 3
  fi
  if ! command -v apt-get >/dev/null; then
    echo "postgres.sh: error: PostgreSQL is not installed and apt-get is missing: install the Debian/Ubuntu" \
      "postgresql package (initdb and pg_ctl under /usr/lib/postgresql/<version>/bin)" >&2
    exit 3
  fi
  say "installing Debian postgresql (apt-get)"
  local start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
  say "postgresql installed in $((SECONDS - start)) s"
}

# Runs a command as the owner of the cluster: `postgres` when we are root (initdb refuses root), else ourselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null; then
      (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
      (cd "$PG_DIR" && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
    fi
  else
    (cd "$PG_DIR" && "$@")
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

is_running() {
  local bin
  bin="$(find_bin)" || return 1
  [ -f "$DATA/PG_VERSION" ] && [ -f "$PG_DIR/port" ] && as_owner "$bin/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

port() { cat "$PG_DIR/port"; }

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$(port)/$DB_NAME"; }

start() {
  local bin
  bin="$(find_bin)" || { install_postgres; bin="$(find_bin)" || die "no initdb/pg_ctl under /usr/lib/postgresql/*/bin after installing"; }
  if is_running; then
    say "already running on 127.0.0.1:$(port) ($PG_DIR)"
    return 0
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    die "the 'postgres' OS user is missing (it is created by the Debian postgresql package)"
  fi
  local t0=$SECONDS
  # A leftover directory (crash, reboot) is throwaway: start from scratch.
  if [ -f "$DATA/PG_VERSION" ]; then
    as_owner "$bin/pg_ctl" stop -D "$DATA" -m immediate >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
  mkdir -p "$PG_DIR"
  chmod 700 "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
  local p="${PG_PORT:-$(free_port)}"
  # C.UTF-8 like a stock Debian server (lower()/upper() are Unicode-aware, unlike in the plain C locale).
  local locale=(--no-locale)
  locale -a 2>/dev/null | grep -qix 'c.utf-\?8' && locale=(--locale=C.UTF-8)
  as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 "${locale[@]}" >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  # Only 127.0.0.1 and a socket inside $PG_DIR; durability is pointless for a throwaway test database.
  as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# scripts/postgres.sh: private throwaway cluster for the tests
listen_addresses = '127.0.0.1'
port = $p
unix_socket_directories = '$PG_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  echo "$p" > "$PG_DIR/port"
  as_owner "$bin/pg_ctl" start -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 >/dev/null \
    || { tail -n 30 "$PG_DIR/server.log" >&2 || true; die "the server did not start (port $p taken? set PG_PORT)"; }
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$p" -U postgres "$DB_NAME" || die "createdb $DB_NAME failed"
  say "PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') running on 127.0.0.1:$p ($PG_DIR), started in $((SECONDS - t0)) s"
}

stop() {
  [ -d "$PG_DIR" ] || { say "not running (no $PG_DIR)"; return 0; }
  local bin
  if bin="$(find_bin)" && [ -f "$DATA/PG_VERSION" ]; then
    if as_owner "$bin/pg_ctl" status -D "$DATA" >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null || die "pg_ctl stop failed ($PG_DIR kept)"
      say "stopped"
    fi
  fi
  rm -rf "$PG_DIR"
}

restart() {
  is_running || die "no cluster running in $PG_DIR"
  as_owner "$(find_bin)/pg_ctl" restart -D "$DATA" -m fast -w -t 60 -l "$PG_DIR/server.log" >/dev/null \
    || die "pg_ctl restart failed"
  say "restarted on 127.0.0.1:$(port)"
}

case "${1:-}" in
  start) start ;;
  restart) restart ;;
  bindir) find_bin || die "PostgreSQL is not installed" ;;
  stop) stop ;;
  url) is_running || die "no cluster running in $PG_DIR: run 'bash scripts/postgres.sh start' first"; url ;;
  status) if is_running; then echo "running: $(url)"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|restart|url|status|bindir" >&2; exit 2 ;;
esac
