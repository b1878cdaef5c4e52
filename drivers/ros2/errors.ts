// The ROS 2 driver's own error type. drivers/ never imports agent/, so the agent maps these stable
// codes into its catalogue; each message already says what to do. It is a DriverError, so the
// agent's driver-failure mapping keeps its code.
import { DriverError } from '../errors.ts';

/** Stable codes this driver fails with. */
export type Ros2DriverErrorCode =
  /** ROS_DISTRO / AMENT_PREFIX_PATH unset: the process was not started from a sourced ROS 2 shell. */
  | 'RIGCAP_ROS2_ENV_MISSING'
  /** rclnodejs is not installed, or its native binding was never built for this ROS distro. */
  | 'RIGCAP_ROS2_UNAVAILABLE'
  /** rclnodejs loaded but could not start a node (middleware or context failure). */
  | 'RIGCAP_ROS2_INIT_FAILED'
  /** rclnodejs must write its generated message code, but its package folder is read-only. */
  | 'RIGCAP_ROS2_GENERATED_READONLY';

/** The fix printed with each code, for the agent's error catalogue. */
export const ros2ErrorFixes: Readonly<Record<Ros2DriverErrorCode, string>> = {
  RIGCAP_ROS2_ENV_MISSING:
    'Start rigcap from a shell (or systemd unit) that sourced /opt/ros/<distro>/setup.bash, e.g. via scripts/ros-env.sh.',
  RIGCAP_ROS2_UNAVAILABLE:
    'Source /opt/ros/<distro>/setup.bash, then `npm install rclnodejs` (or `npm rebuild rclnodejs`) in the rigcap folder.',
  RIGCAP_ROS2_INIT_FAILED:
    'Check `ros2 topic list` works as the rigcap user (same ROS_DOMAIN_ID and RMW_IMPLEMENTATION), then restart.',
  RIGCAP_ROS2_GENERATED_READONLY:
    'Generate the rclnodejs message code at install (`sudo scripts/install.sh`), or run `npx generate-ros-messages` in the rigcap folder as its owner.',
};

/** A ROS 2 driver failure with a stable `code` and the fix. */
export class Ros2DriverError extends DriverError {
  declare readonly code: Ros2DriverErrorCode;
  readonly hint: string;

  constructor(
    code: Ros2DriverErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.name = 'Ros2DriverError';
    this.hint = ros2ErrorFixes[code];
  }
}
