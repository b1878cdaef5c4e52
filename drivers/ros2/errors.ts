// The ROS 2 driver's own error type. drivers/ never imports agent/, so the agent maps these stable
// codes into its catalogue, which holds the one fix for each. It is a DriverError, so the agent's
// driver-failure mapping keeps its code.
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

/** A ROS 2 driver failure with a stable `code`; its fix is the catalogue's (agent/errors.ts). */
export class Ros2DriverError extends DriverError {
  declare readonly code: Ros2DriverErrorCode;

  constructor(
    code: Ros2DriverErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.name = 'Ros2DriverError';
  }
}
