#!/usr/bin/env bash
# Runs a command inside a sourced ROS 2 environment, for systemd units (which start with an empty
# environment and cannot `source` a setup file themselves).
#
#   ExecStart=/opt/rigcap/scripts/ros-env.sh /opt/rigcap/node_modules/node/bin/node /opt/rigcap/bin/rigcap.js run --config /etc/rigcap/rigcap.yaml
#
# Reads ROS_DISTRO (default: the only folder under /opt/ros), an optional overlay workspace
# RIGCAP_ROS_OVERLAY (its install/setup.bash is sourced after the distro, so custom messages resolve)
# and any ROS_DOMAIN_ID / RMW_IMPLEMENTATION / ROS_LOCALHOST_ONLY the unit sets (see
# systemd/rigcap-ros.env.example).
set -euo pipefail

if [[ -z "${ROS_DISTRO:-}" ]]; then
  shopt -s nullglob
  distros=(/opt/ros/*/setup.bash)
  if [[ ${#distros[@]} -ne 1 ]]; then
    echo "RIGCAP_ROS2_ENV_MISSING: set ROS_DISTRO (found ${#distros[@]} ROS 2 installs under /opt/ros)" >&2
    exit 2
  fi
  ROS_DISTRO="$(basename "$(dirname "${distros[0]}")")"
fi

setup="/opt/ros/${ROS_DISTRO}/setup.bash"
if [[ ! -r "$setup" ]]; then
  echo "RIGCAP_ROS2_ENV_MISSING: $setup not found; install ros-${ROS_DISTRO}-ros-base or fix ROS_DISTRO" >&2
  exit 2
fi

# setup.bash reads unset variables, so relax -u while sourcing.
set +u
# shellcheck disable=SC1090
source "$setup"
if [[ -n "${RIGCAP_ROS_OVERLAY:-}" ]]; then
  # shellcheck disable=SC1091
  source "${RIGCAP_ROS_OVERLAY}/install/setup.bash"
fi
set -u

exec "$@"
