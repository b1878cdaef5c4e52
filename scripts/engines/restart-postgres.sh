#!/usr/bin/env bash
# restart-postgres.sh DIR
#
# Restarts (fast shutdown, then start) the PostgreSQL that start-postgres.sh started in DIR, as the
# user that owns DIR/pgdata, and appends the new postmaster pid to DIR/pids so stop.sh stops it.
set -Eeuo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
DIR=$(cd "$1" && pwd -P)
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
OWNER=$(stat -c %U "$DIR/pgdata")
as_user() {
  if [ "$(id -u)" != 0 ]; then "$@"; else setpriv --reuid="$OWNER" --regid="$(id -gn "$OWNER")" --init-groups -- "$@"; fi
}
close_extra_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}
(close_extra_fds; cd "$DIR" && as_user "$PG_BIN/pg_ctl" -D "$DIR/pgdata" -l "$DIR/log/postgres.log" -m fast -w -t 60 restart \
  </dev/null >"$DIR/log/pg_ctl-restart.out" 2>&1) || { cat "$DIR/log/pg_ctl-restart.out" >&2; exit 1; }
head -n 1 "$DIR/pgdata/postmaster.pid" >> "$DIR/pids"
