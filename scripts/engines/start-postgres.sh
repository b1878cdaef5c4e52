#!/usr/bin/env bash
# start-postgres.sh DIR PORT
#
# Starts a throw-away PostgreSQL (Debian's /usr/lib/postgresql/<ver>/bin) inside
# DIR: data in DIR/pgdata, unix socket in DIR/run, TCP on 127.0.0.1:PORT.
# As root, the server runs as an unprivileged user (PG_RUN_AS, default: postgres
# if that user exists, else nobody), because postgres refuses to run as root;
# as any other user it runs as that user. No systemd, no pg_ctlcluster, nothing under /etc/postgresql
# or /var/lib/postgresql.
#
# stdout: only `export ...` lines (DATABASE_URL etc.), so callers can do
#   eval "$(start-postgres.sh "$DIR" 15432)"
# The postmaster pid goes to DIR/pids; stop with: stop.sh DIR [--rm]
#
# Environment knobs (all optional):
#   PG_RUN_AS     unprivileged user to run the server as
#   PG_DB         database to create (default: test)
#   PG_BIN        directory with initdb/pg_ctl (default: newest /usr/lib/postgresql/*/bin)
#   PG_DURABLE=1  keep fsync/full_page_writes on (default off: faster, test-only)
set -Eeuo pipefail

if [ $# -ne 2 ]; then echo "usage: $0 DIR PORT" >&2; exit 2; fi
DIR=$1
PORT=$2
case $PORT in ''|*[!0-9]*) echo "PORT must be a number" >&2; exit 2 ;; esac

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PG_BIN/initdb" ] || { echo "no initdb found (apt-get install postgresql-15)" >&2; exit 2; }
if [ -z "${PG_RUN_AS:-}" ]; then
  if [ "$(id -u)" != 0 ]; then PG_RUN_AS=$(id -un)
  elif id postgres >/dev/null 2>&1; then PG_RUN_AS=postgres; else PG_RUN_AS=nobody; fi
fi
RUN_GROUP=$(id -gn "$PG_RUN_AS")
DB=${PG_DB:-test}
log() { echo "[start-postgres $(date +%T)] $*" >&2; }
# run a command as the unprivileged user (setpriv execs directly: no extra process)
as_user() {
  if [ "$(id -u)" != 0 ]; then "$@"; else setpriv --reuid="$PG_RUN_AS" --regid="$RUN_GROUP" --init-groups -- "$@"; fi
}
# close descriptors above 2 inherited from the caller (e.g. a CI runner's pipes),
# so the long-lived postmaster cannot keep the caller's pipes open
close_extra_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
if [ -e "$DIR/pgdata" ]; then echo "$DIR/pgdata already exists" >&2; exit 2; fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "port $PORT on 127.0.0.1 is already in use" >&2; exit 2
fi
# The server user must be able to reach DIR (e.g. mktemp -d makes it 0700 root).
chmod a+x "$DIR"
if ! as_user test -x "$DIR"; then
  echo "user $PG_RUN_AS cannot traverse $DIR (a parent dir is not world-searchable?)" >&2; exit 2
fi

T_START=$(date +%s.%N)
mkdir -p "$DIR/pgdata" "$DIR/run" "$DIR/log"
[ "$(id -u)" != 0 ] || chown "$PG_RUN_AS:$RUN_GROUP" "$DIR/pgdata" "$DIR/run" "$DIR/log"
chmod 0700 "$DIR/pgdata"
touch "$DIR/pids"

log "initdb ($PG_BIN) as $PG_RUN_AS"
# cwd must be readable by the server user, hence cd "$DIR"
(cd "$DIR" && as_user "$PG_BIN/initdb" -D "$DIR/pgdata" -U postgres --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 --no-instructions -N >"$DIR/log/initdb.out" 2>&1) || {
  cat "$DIR/log/initdb.out" >&2; exit 1; }

DURABLE=off
[ "${PG_DURABLE:-0}" = 1 ] && DURABLE=on
cat >> "$DIR/pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/run'
fsync = $DURABLE
full_page_writes = $DURABLE
synchronous_commit = $DURABLE
EOF

log "starting on 127.0.0.1:$PORT and $DIR/run/.s.PGSQL.$PORT"
(close_extra_fds; cd "$DIR" && as_user "$PG_BIN/pg_ctl" -D "$DIR/pgdata" -l "$DIR/log/postgres.log" -w -t 60 start \
  </dev/null >"$DIR/log/pg_ctl.out" 2>&1) || {
  cat "$DIR/log/pg_ctl.out" "$DIR/log/postgres.log" >&2
  # a postmaster that started but never became ready must still be stoppable
  [ -s "$DIR/pgdata/postmaster.pid" ] && head -n 1 "$DIR/pgdata/postmaster.pid" >> "$DIR/pids"
  exit 1; }
PID=$(head -n 1 "$DIR/pgdata/postmaster.pid")
echo "$PID" >> "$DIR/pids"

(cd "$DIR" && as_user "$PG_BIN/createdb" -h "$DIR/run" -p "$PORT" -U postgres "$DB")
T_END=$(date +%s.%N)
ELAPSED=$(awk -v a="$T_START" -v b="$T_END" 'BEGIN{printf "%.1f", b-a}')
echo "$ELAPSED" > "$DIR/startup-seconds"
log "ready in ${ELAPSED}s; postmaster pid $PID"

{
  printf 'export DATABASE_URL=%q\n' "postgresql://postgres@127.0.0.1:$PORT/$DB"
  printf 'export PGHOST=%q\n' "$DIR/run"
  printf 'export PGPORT=%q\n' "$PORT"
  printf 'export PGUSER=postgres\n'
  printf 'export PGDATABASE=%q\n' "$DB"
} > "$DIR/env"
cat "$DIR/env"
