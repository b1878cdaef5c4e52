// Driver-side errors. drivers/ may not import agent/, so codes are plain strings chosen to equal
// the agent's catalogue codes: the agent maps a DriverError to a RigcapError by `code` alone.

/** Codes a driver may throw; each is also a code in agent/errors.ts. */
export type DriverErrorCode =
  | 'RIGCAP_DRIVER_UNKNOWN'
  | 'RIGCAP_DRIVER_UNAVAILABLE'
  | 'RIGCAP_DRIVER_OPEN_FAILED'
  | 'RIGCAP_MCAP_INVALID'
  | 'RIGCAP_FRAME_MALFORMED'
  | 'RIGCAP_ROS2_ENV_MISSING'
  | 'RIGCAP_ROS2_UNAVAILABLE'
  | 'RIGCAP_ROS2_INIT_FAILED'
  | 'RIGCAP_ROS2_GENERATED_READONLY';

/** An error thrown by a driver, with a stable `code` the agent maps to its own catalogue. */
export class DriverError extends Error {
  readonly code: DriverErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: DriverErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DriverError';
    this.code = code;
    this.details = options.details;
  }
}

/** Narrowing helper for catch blocks. */
export function isDriverError(err: unknown, code?: DriverErrorCode): err is DriverError {
  return err instanceof DriverError && (code === undefined || err.code === code);
}
