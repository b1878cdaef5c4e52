#!/usr/bin/env bash
# restart-rgw.sh DIR
#
# Restarts the radosgw that start-ceph-rgw.sh started in DIR (SIGTERM, wait, start again with the
# same config; the mon and OSD keep running), appends the new pid to DIR/pids and DIR/daemons so
# stop.sh stops it, and returns once S3 answers on its port again. Runs as root, like the start.
set -Eeuo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
DIR=$(cd "$1" && pwd -P)
CONF=$DIR/ceph.conf
TIMEOUT=${CEPH_START_TIMEOUT:-120}
[ -f "$CONF" ] || { echo "no cluster in $DIR (ceph.conf missing)" >&2; exit 2; }
PORT=$(sed -n 's/^rgw frontends = beast endpoint=127\.0\.0\.1:\([0-9]*\)$/\1/p' "$CONF")
[ -n "$PORT" ] || { echo "no rgw port in $CONF" >&2; exit 2; }

ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$DIR/"; }
OLD=$(awk '$2 == "rgw" {pid=$1} END {print pid}' "$DIR/daemons")
if [ -n "$OLD" ] && ours "$OLD"; then
  kill -TERM "$OLD" 2>/dev/null || true
  deadline=$(( $(date +%s) + 30 ))
  while ours "$OLD"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then kill -KILL "$OLD" 2>/dev/null || true; sleep 0.5; break; fi
    sleep 0.05
  done
fi

(
  for fd in "/proc/$BASHPID/fd/"*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  exec radosgw -c "$CONF" -f -n client.rgw.s3
) </dev/null >>"$DIR/log/rgw.out" 2>&1 &
NEW=$!
echo "$NEW" >> "$DIR/pids"
echo "$NEW rgw" >> "$DIR/daemons"

deadline=$(( $(date +%s) + TIMEOUT ))
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/"; do
  [ -d "/proc/$NEW" ] || { echo "radosgw (pid $NEW) exited on restart" >&2; tail -n 15 "$DIR/log/rgw.out" >&2; exit 1; }
  [ "$(date +%s)" -lt "$deadline" ] || { echo "radosgw did not answer on $PORT within ${TIMEOUT}s" >&2; exit 1; }
  sleep 0.1
done
echo "[restart-rgw $(date +%T)] radosgw pid $NEW answers on 127.0.0.1:$PORT" >&2
