#!/bin/sh
# Installs rigcap as a systemd service on an x86_64 or aarch64 robot computer, either from a source
# checkout (this script's parent, after `npm ci`) or from an offline bundle (`npm run bundle`): this
# script at the root of an unpacked bundle, or `--bundle FILE`. Needs no network. Safe to run again:
# it changes only what differs. A bundle installs as a release under /opt/rigcap/releases; an upgrade
# keeps the spool, keys and config, runs `rigcap selftest` on the new release and goes back to the
# previous one when it fails. --uninstall removes the service but never the spool, keys or config.
set -eu

usage() {
  cat <<'USAGE'
usage: install.sh [--bundle FILE] [--prefix DIR] [--dry-run] [--config FILE] [--receiver] [--no-systemd] [--uninstall]

  --bundle FILE  install this bundle (rigcap-<version>-linux-<arch>.tar.zst or .tar.gz)
  --prefix DIR   install under DIR instead of / (a staging root: no users, ownership or systemctl)
  --dry-run      print what would be done, change nothing
  --config FILE  config to install as /etc/rigcap/rigcap.yaml when none exists yet
  --receiver     also install the reference receiver (rigcap-receiver.service)
  --no-systemd   install no units and never call systemctl (containers, manual supervision)
  --uninstall    stop and remove the services; keeps /var/lib/rigcap (spool, keys) and /etc/rigcap
USAGE
}

PREFIX=/
DRY_RUN=0
UNINSTALL=0
RECEIVER=0
NO_SYSTEMD=0
CONFIG_SOURCE=
BUNDLE_FILE=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --config) [ $# -ge 2 ] || { usage >&2; exit 2; }; CONFIG_SOURCE=$2; shift 2 ;;
    --config=*) CONFIG_SOURCE=${1#--config=}; shift ;;
    --bundle) [ $# -ge 2 ] || { usage >&2; exit 2; }; BUNDLE_FILE=$2; shift 2 ;;
    --bundle=*) BUNDLE_FILE=${1#--bundle=}; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --receiver) RECEIVER=1; shift ;;
    --no-systemd) NO_SYSTEMD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd -P)
ROOT=${PREFIX%/}
# A staging root cannot hold users or a running systemd: those steps are skipped there.
SYSTEM=0
[ -z "$ROOT" ] && SYSTEM=1
USER_NAME=rigcap
ETC_DIR=$ROOT/etc/rigcap
STATE_DIR=$ROOT/var/lib/rigcap
SPOOL_DIR=$STATE_DIR/spool
SECRETS_DIR=$STATE_DIR/secrets
UNIT_DIR=$ROOT/etc/systemd/system
TMPFILES_DIR=$ROOT/etc/tmpfiles.d
CONFIG=$ETC_DIR/rigcap.yaml
# Bundle installs: one folder per release, `current` points at the one in use.
INSTALL_DIR=$ROOT/opt/rigcap
RELEASES_DIR=$INSTALL_DIR/releases
CURRENT=$INSTALL_DIR/current
if [ "$SYSTEM" = 1 ]; then BIN_DIR=/usr/local/bin; else BIN_DIR=$ROOT/bin; fi

# Where the app comes from: a bundle (--bundle, or this script at an unpacked bundle's root) or the
# source checkout this script lives in.
BUNDLE_DIR=
if [ -n "$BUNDLE_FILE" ]; then
  MODE=bundle
elif [ -f "$SCRIPT_DIR/manifest.json" ] && [ -x "$SCRIPT_DIR/node/bin/node" ] && [ -f "$SCRIPT_DIR/app/bin/rigcap.js" ]; then
  MODE=bundle
  BUNDLE_DIR=$SCRIPT_DIR
else
  MODE=source
fi
APP_DIR=$(cd "$SCRIPT_DIR/.." && pwd -P)

say() { printf '%s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
# Runs a command, or prints it under --dry-run.
# The receiver unit serves HTTPS: a self-signed certificate for this host when none is there
# (agents trust it with sync.caFile); replace both files with a CA-issued pair at any time.
receiver_tls() {
  cert=$ETC_DIR/receiver-tls.crt
  key=$ETC_DIR/receiver-tls.key
  if [ -f "$cert" ] && [ -f "$key" ]; then say "receiver tls: keeping $cert"; return; fi
  if ! command -v openssl >/dev/null 2>&1; then
    say "warning: openssl not found; put a certificate and key at $cert and $key before starting rigcap-receiver"
    return
  fi
  host=$(hostname -f 2>/dev/null || hostname)
  run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=$host" -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" \
    -keyout "$key" -out "$cert" 2>/dev/null || fail "could not write a self-signed certificate to $cert"
  run chmod 0600 "$key"
  run chmod 0644 "$cert"
  say "receiver tls: self-signed certificate for $host at $cert (give it to agents as sync.caFile)"
}

run() {
  if [ "$DRY_RUN" = 1 ]; then
    say "would run: $*"
  else
    "$@"
  fi
}
have() { command -v "$1" >/dev/null 2>&1; }
systemd_running() { [ "$NO_SYSTEMD" = 0 ] && [ "$SYSTEM" = 1 ] && [ -d /run/systemd/system ] && have systemctl; }

check_platform() {
  arch=$(uname -m)
  case "$arch" in
    x86_64|aarch64) say "platform: linux $arch" ;;
    *) fail "unsupported architecture $arch (rigcap supports x86_64 and aarch64)" ;;
  esac
  if [ "$SYSTEM" = 1 ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    fail "run as root (or use --dry-run / --prefix DIR)"
  fi
  case "$APP_DIR" in
    /home/*|/root/*|/root|/run/user/*)
      # ProtectHome=yes hides these from the service.
      [ "$SYSTEM" = 1 ] && say "warning: $APP_DIR is under a home folder the service cannot read; unpack the release to /opt/rigcap" ;;
  esac
}

# Prints the absolute path of a Node 22: the bundled one from node_modules, else the system's.
find_node() {
  for candidate in "$APP_DIR/node_modules/node/bin/node" "$(command -v node 2>/dev/null || true)"; do
    if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then continue; fi
    major=$("$candidate" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$major" = 22 ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# Copies $3 to $2 only when the content differs (idempotent, no needless daemon-reload).
install_file() {
  mode=$1
  target=$2
  source=$3
  if [ -f "$target" ] && cmp -s "$source" "$target"; then
    say "unchanged: $target"
  else
    run install -D -m "$mode" "$source" "$target"
    [ "$DRY_RUN" = 1 ] || say "installed: $target"
    CHANGED_UNITS=1
  fi
}

make_dir() {
  mode=$1
  owner=$2
  dir=$3
  if [ "$SYSTEM" = 1 ]; then
    run install -d -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$dir"
  else
    run install -d -m "$mode" "$dir"
  fi
}

# Runs rigcap as the service user (as this user in a staging root).
rigcap_cmd() {
  if [ "$SYSTEM" = 1 ] && [ "$(id -u)" = 0 ]; then
    run runuser -u "$USER_NAME" -- "$NODE" "$APP_DIR/bin/rigcap.js" "$@"
  else
    run "$NODE" "$APP_DIR/bin/rigcap.js" "$@"
  fi
}

# Installs a unit, its /opt/rigcap paths pointed at this release and its Node 22.
install_unit() {
  tmp=$(mktemp)
  # The node path goes through a marker: it may itself lie under /opt/rigcap (a bundle's current/).
  sed -e "s#/opt/rigcap/node_modules/node/bin/node#@RIGCAP_NODE@#g" -e "s#/opt/rigcap#$APP_DIR#g" \
    -e "s#@RIGCAP_NODE@#$NODE#g" "$APP_DIR/systemd/$1" >"$tmp"
  install_file 0644 "$UNIT_DIR/$1" "$tmp"
  rm -f "$tmp"
}

do_install() {
  check_platform
  if [ "$MODE" = bundle ]; then
    stage_release
    NODE=$CURRENT/node/bin/node
    APP_DIR=$CURRENT/app
  else
    NODE=$(find_node) || fail "no Node 22 found: run 'npm ci' in $APP_DIR (it installs Node 22) or install Node 22 LTS"
  fi
  say "node: $NODE ($("$NODE" --version))"

  if [ "$MODE" = source ] && [ ! -f "$APP_DIR/agent/ops/native/build/sd_notify.node" ]; then
    have cc || fail "a C compiler is needed once to build the systemd notify addon (apt-get install gcc)"
    run "$NODE" "$APP_DIR/scripts/build-sd-notify.js"
  fi

  # rclnodejs writes generated message code on its first init(), which the unit cannot
  # (ProtectSystem=strict): generate it now, as root, in the sourced ROS 2 environment.
  if [ -f "$APP_DIR/node_modules/rclnodejs/package.json" ]; then
    run "$APP_DIR/scripts/ros-messages.sh" ||
      say "warning: rclnodejs message code not generated; ROS 2 streams fail with RIGCAP_ROS2_GENERATED_READONLY until scripts/ros-messages.sh succeeds"
  fi

  if [ "$SYSTEM" = 1 ]; then
    if getent passwd "$USER_NAME" >/dev/null 2>&1; then
      say "user: $USER_NAME exists"
    else
      run useradd --system --user-group --home-dir /var/lib/rigcap --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
    fi
    if [ "$RECEIVER" = 1 ] && ! getent passwd rigcap-receiver >/dev/null 2>&1; then
      run useradd --system --user-group --home-dir /var/lib/rigcap-receiver --no-create-home --shell /usr/sbin/nologin rigcap-receiver
    fi
  fi

  make_dir 0750 "root:$USER_NAME" "$ETC_DIR"
  make_dir 0750 "$USER_NAME:$USER_NAME" "$STATE_DIR"
  make_dir 0750 "$USER_NAME:$USER_NAME" "$SPOOL_DIR"
  make_dir 0700 "$USER_NAME:$USER_NAME" "$SECRETS_DIR"

  if [ "$RECEIVER" = 1 ]; then receiver_tls; fi

  CHANGED_UNITS=0
  if [ "$NO_SYSTEMD" = 0 ]; then
    install_unit rigcap.service
    if [ "$RECEIVER" = 1 ]; then install_unit rigcap-receiver.service; fi
    install_file 0644 "$TMPFILES_DIR/rigcap.conf" "$APP_DIR/systemd/rigcap.tmpfiles.conf"
  fi

  if [ -f "$CONFIG" ]; then
    say "config: keeping $CONFIG"
  elif [ -n "$CONFIG_SOURCE" ]; then
    [ -f "$CONFIG_SOURCE" ] || fail "config $CONFIG_SOURCE not found"
    if [ "$SYSTEM" = 1 ]; then
      run install -m 0640 -o root -g "$USER_NAME" "$CONFIG_SOURCE" "$CONFIG"
    else
      run install -m 0640 "$CONFIG_SOURCE" "$CONFIG"
    fi
  fi

  if systemd_running; then
    run systemd-tmpfiles --create "$TMPFILES_DIR/rigcap.conf"
    if [ "$CHANGED_UNITS" = 1 ]; then run systemctl daemon-reload; fi
  fi

  if [ -f "$CONFIG" ] || { [ "$DRY_RUN" = 1 ] && [ -n "$CONFIG_SOURCE" ]; }; then
    if [ -n "$(ls -A "$SECRETS_DIR" 2>/dev/null)" ]; then
      say "keys: $SECRETS_DIR already holds the device key"
    else
      rigcap_cmd keys init --config "$CONFIG"
    fi
    if [ "$MODE" = bundle ]; then
      check_release_or_roll_back run --config "$CONFIG" --check
      check_release_or_roll_back selftest --config "$CONFIG"
    else
      rigcap_cmd run --config "$CONFIG" --check
    fi
    if systemd_running; then
      run systemctl enable rigcap.service
      if [ "$MODE" = bundle ] && systemctl is-active --quiet rigcap.service; then run systemctl restart rigcap.service; fi
    fi
    NEXT_CONFIG="check $CONFIG (spool.dir $SPOOL_DIR, keys.dir $SECRETS_DIR, your streams)"
  else
    if [ "$MODE" = bundle ]; then check_release_or_roll_back selftest; fi
    NEXT_CONFIG="write $CONFIG (examples in $APP_DIR/config; spool.dir $SPOOL_DIR, keys.dir $SECRETS_DIR), then run this script again"
  fi

  if [ "$MODE" = bundle ]; then prune_releases; fi

  say ""
  say "next steps:"
  say "  1. $NEXT_CONFIG"
  say "  2. systemctl enable --now rigcap      (status: systemctl status rigcap; logs: journalctl -u rigcap -f)"
  say "  3. open http://127.0.0.1:9464/ on the robot for the status page; Prometheus scrapes /metrics"
  say "  4. rigcap mark \"what happened\" drops an event marker into the capture"
}

# Bundle mode: unpacks (--bundle) or copies the bundle into releases/, checks every file against its
# manifest with the bundled Node (which also proves the runtime starts here), then points `current`
# at it and remembers the release it replaces in PREVIOUS.
stage_release() {
  if [ "$DRY_RUN" = 1 ]; then
    say "would install the bundle ${BUNDLE_FILE:-$BUNDLE_DIR} into $RELEASES_DIR and point $CURRENT at it"
    fail "--dry-run is not supported for bundle installs yet; nothing was changed"
  fi
  if [ -n "$BUNDLE_FILE" ]; then
    [ -f "$BUNDLE_FILE" ] || fail "bundle $BUNDLE_FILE not found"
    case "$BUNDLE_FILE" in
      *.tar.zst|*.tar.gz|*.tgz) ;;
      *) fail "$BUNDLE_FILE: expected a .tar.zst or .tar.gz bundle" ;;
    esac
  fi
  mkdir -p "$RELEASES_DIR"
  incoming=$(mktemp -d "$RELEASES_DIR/.incoming.XXXXXX")
  trap 'rm -rf "$incoming"' EXIT
  if [ -n "$BUNDLE_FILE" ]; then
    case "$BUNDLE_FILE" in
      *.tar.zst)
        have zstd || fail "zstd is needed to unpack $BUNDLE_FILE (apt-get install zstd), or use the .tar.gz bundle"
        zstd -dcq "$BUNDLE_FILE" | tar -xf - -C "$incoming" --no-same-owner ;;
      *) tar -xzf "$BUNDLE_FILE" -C "$incoming" --no-same-owner ;;
    esac
    set -- "$incoming"/rigcap-*
    if [ $# != 1 ] || [ ! -d "$1" ]; then fail "$BUNDLE_FILE does not unpack to one rigcap-<version>-linux-<arch> folder"; fi
    unpacked=$1
  else
    unpacked=$incoming/$(basename "$BUNDLE_DIR")
    cp -R "$BUNDLE_DIR" "$unpacked"
  fi
  name=$(basename "$unpacked")
  case "$name:$(uname -m)" in
    *-linux-x64:x86_64|*-linux-arm64:aarch64) ;;
    *) fail "$name is for another architecture than this $(uname -m) machine" ;;
  esac
  problems=$("$unpacked/node/bin/node" "$unpacked/app/scripts/bundle/verify.ts" "$unpacked" 2>&1) \
    || fail "$name does not match its manifest (or its Node does not run here): $problems"
  say "bundle: $name verified against its manifest"

  PREVIOUS=
  if [ -L "$CURRENT" ]; then PREVIOUS=$(readlink "$CURRENT"); fi
  release=$RELEASES_DIR/$name
  if [ -d "$release" ] && cmp -s "$release/manifest.json" "$unpacked/manifest.json"; then
    say "unchanged: $release"
  else
    if [ -d "$release" ]; then
      [ "releases/$name" != "$PREVIOUS" ] || fail "$release differs from the bundle of the same name and is in use; remove it by hand first"
      rm -rf "$release"
    fi
    mv "$unpacked" "$release"
    say "installed: $release"
  fi
  rm -rf "$incoming"
  trap - EXIT
  point_current "releases/$name"
  NEW_RELEASE=releases/$name
  if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$NEW_RELEASE" ]; then say "upgrade: $PREVIOUS -> $NEW_RELEASE"; fi
  mkdir -p "$BIN_DIR"
  ln -sfn "$CURRENT/bin/rigcap" "$BIN_DIR/rigcap"
  say "command: $BIN_DIR/rigcap"
}

# Atomically points $CURRENT at a folder under $INSTALL_DIR (relative, so the tree can move).
point_current() {
  ln -sfn "$1" "$INSTALL_DIR/.current.new"
  mv -T "$INSTALL_DIR/.current.new" "$CURRENT"
}

# Runs a rigcap check with the new release; when it fails, `current` goes back to the previous
# release (which keeps running under systemd, it was never stopped) and the install fails.
check_release_or_roll_back() {
  if rigcap_cmd "$@"; then return 0; fi
  if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$NEW_RELEASE" ]; then
    point_current "$PREVIOUS"
    say "rollback: 'rigcap $*' failed with $NEW_RELEASE; $CURRENT points at $PREVIOUS again"
    rm -rf "${INSTALL_DIR:?}/$NEW_RELEASE"
  else
    say "rigcap $* failed with $NEW_RELEASE and there is no previous release to go back to"
  fi
  fail "the new release did not pass 'rigcap $*'; the spool, keys and config were not touched"
}

# Keeps the current and the previous release, removes older ones.
prune_releases() {
  [ -d "$RELEASES_DIR" ] || return 0
  for dir in "$RELEASES_DIR"/*; do
    [ -d "$dir" ] || continue
    rel=releases/$(basename "$dir")
    if [ "$rel" != "$NEW_RELEASE" ] && [ "$rel" != "$PREVIOUS" ]; then
      rm -rf "$dir"
      say "removed old release: $dir"
    fi
  done
}

do_uninstall() {
  if systemd_running; then
    run systemctl disable --now rigcap.service || true
    run systemctl disable --now rigcap-receiver.service 2>/dev/null || true
  fi
  for file in "$UNIT_DIR/rigcap.service" "$UNIT_DIR/rigcap-receiver.service" "$TMPFILES_DIR/rigcap.conf"; do
    if [ -e "$file" ]; then
      run rm -f "$file"
      say "removed: $file"
    fi
  done
  if systemd_running; then run systemctl daemon-reload; fi
  # A bundle install's program files go; the data below stays.
  if [ -L "$BIN_DIR/rigcap" ]; then
    run rm -f "$BIN_DIR/rigcap"
    say "removed: $BIN_DIR/rigcap"
  fi
  if [ -d "$RELEASES_DIR" ]; then
    run rm -rf "$RELEASES_DIR" "$CURRENT"
    say "removed: $RELEASES_DIR"
  fi
  say ""
  say "kept: $SPOOL_DIR: it may hold chunks not yet synced to the store."
  say "kept: $SECRETS_DIR (device key), $ETC_DIR (config) and the '$USER_NAME' user."
  say "Delete them by hand only after 'rigcap status' showed an empty sync backlog."
}

if [ "$UNINSTALL" = 1 ]; then
  do_uninstall
else
  do_install
fi
