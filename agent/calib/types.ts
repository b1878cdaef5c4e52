// Shapes of the calibration registry: what a chunk carries (bytes + digest + version per sensor)
// and what the drift history records.

/** Which convention a calibration file follows. */
export type CalibrationKind = 'camera-info' | 'kalibr-camchain' | 'kalibr-imu' | 'rigcap-extrinsics';

/** One rigid transform read from a calibration file. */
export interface Extrinsic {
  /** `from→to`: the transform maps points in `from` coordinates into `to` coordinates. */
  pair: string;
  translationM: [number, number, number];
  /** Row-major 3×3 rotation matrix. */
  rotation: number[];
}

/** One sensor's calibration as loaded. */
export interface SensorCalibration {
  /** The file's base name (`cam_front.yaml` → `cam_front`). */
  sensor: string;
  /** Attachment name inside every chunk: `calibration/<sensor>.yaml`. */
  name: string;
  path: string;
  /** The file's exact bytes as stored. */
  bytes: Uint8Array;
  /** Lowercase hex SHA-256 of `bytes`. */
  sha256: string;
  /** Monotonic per sensor: a new digest gets the next version. */
  version: number;
  kind: CalibrationKind;
  extrinsics: Extrinsic[];
}

/** The rig's calibration at one moment. */
export interface CalibrationSet {
  /** sha256 over `"<sensor> <sha256>\n"` lines sorted by sensor. */
  rigDigest: string;
  sensors: SensorCalibration[];
  /** Wall time the set was loaded. */
  loadedAtNs: bigint;
}

/** An MCAP attachment as the chunk writer takes it. */
export interface CalibrationAttachment {
  name: string;
  mediaType: 'application/yaml';
  data: Uint8Array;
}

/** One problem in a calibration file. */
export interface CalibrationIssue {
  file: string;
  path: string;
  message: string;
  fix: string;
}

/** One movement of one extrinsic between two versions of its file. */
export interface ExtrinsicDrift {
  sensor: string;
  pair: string;
  version: number;
  atNs: bigint;
  /** Null for the first version an extrinsic appears in. */
  translationMm: number | null;
  rotationDeg: number | null;
}
