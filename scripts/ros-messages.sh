#!/usr/bin/env bash
# Generates rclnodejs's JavaScript message code (node_modules/rclnodejs/generated) once, at install,
# inside the sourced ROS 2 environment (scripts/ros-env.sh: the distro plus RIGCAP_ROS_OVERLAY).
# rclnodejs's init() would otherwise write it on first start, and under the unit's
# ProtectSystem=strict the rigcap folder is read-only: rigcap then fails with
# RIGCAP_ROS2_GENERATED_READONLY. Run it again (as root) after installing more message packages.
#
#   scripts/ros-messages.sh [--force] [--dry-run]
#
# Does nothing (exit 0) when rclnodejs is not installed: a rig without ROS 2 streams needs none.
set -euo pipefail

FORCE=0
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "ros-messages.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

APP_DIR=$(cd "$(dirname "$0")/.." && pwd -P)
PKG="$APP_DIR/node_modules/rclnodejs"
GENERATOR="$PKG/scripts/generate_messages.js"
if [[ ! -f "$PKG/package.json" ]]; then
  echo "ros-messages: rclnodejs is not installed in $APP_DIR; nothing to generate"
  exit 0
fi
if [[ ! -f "$GENERATOR" ]]; then
  echo "RIGCAP_ROS2_UNAVAILABLE: $GENERATOR not found; reinstall rclnodejs with ROS 2 sourced" >&2
  exit 1
fi
if [[ "$FORCE" = 0 && -f "$PKG/generated/generator.json" ]]; then
  echo "ros-messages: $PKG/generated is already generated (--force regenerates)"
  exit 0
fi

NODE="$APP_DIR/node_modules/node/bin/node"
[[ -x "$NODE" ]] || NODE=$(command -v node)
if [[ "$DRY_RUN" = 1 ]]; then
  echo "would run: $APP_DIR/scripts/ros-env.sh $NODE $GENERATOR (in $PKG)"
  exit 0
fi
# The agent's user reads what root writes here.
umask 022
cd "$PKG"
"$APP_DIR/scripts/ros-env.sh" "$NODE" "$GENERATOR"
if [[ ! -f "$PKG/generated/generator.json" ]]; then
  echo "RIGCAP_ROS2_GENERATED_READONLY: the generator ran but $PKG/generated/generator.json is missing" >&2
  exit 1
fi
echo "ros-messages: generated $PKG/generated"
