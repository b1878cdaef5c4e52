// Pure: calibration file bytes in, kind + extrinsics + every problem out. No file system here; the
// registry reads bytes and hands them over.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parseDocument } from 'yaml';
import { describeErrors } from '../config/load.ts';
import {
  cameraInfoSchema,
  kalibrCamchainSchema,
  kalibrImuSchema,
  rigcapExtrinsicsSchema,
  type CameraInfo,
  type KalibrCamchain,
  type KalibrCamera,
  type KalibrImu,
  type RigcapExtrinsics,
} from './calibration-schemas.ts';
import { quaternionToMatrix, rotationProblem } from './extrinsic-math.ts';
import type { CalibrationIssue, CalibrationKind, Extrinsic } from './types.ts';

export interface ParsedCalibration {
  kind: CalibrationKind | undefined;
  extrinsics: Extrinsic[];
  issues: CalibrationIssue[];
}

type Issue = Omit<CalibrationIssue, 'file'>;

/** One validator per convention, each a type guard for the type derived from its schema. */
interface Validators {
  'camera-info': ValidateFunction<CameraInfo>;
  'kalibr-camchain': ValidateFunction<KalibrCamchain>;
  'kalibr-imu': ValidateFunction<KalibrImu>;
  'rigcap-extrinsics': ValidateFunction<RigcapExtrinsics>;
}

let compiled: Validators | undefined;
function validators(): Validators {
  if (compiled === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    compiled = {
      'camera-info': ajv.compile<CameraInfo>(cameraInfoSchema),
      'kalibr-camchain': ajv.compile<KalibrCamchain>(kalibrCamchainSchema),
      'kalibr-imu': ajv.compile<KalibrImu>(kalibrImuSchema),
      'rigcap-extrinsics': ajv.compile<RigcapExtrinsics>(rigcapExtrinsicsSchema),
    };
  }
  return compiled;
}

const distortionCounts: Record<string, number> = { plumb_bob: 5, rational_polynomial: 8, equidistant: 4 };
const kalibrDistortionCounts: Record<string, number> = { radtan: 4, equidistant: 4, fov: 1, none: 0 };
const kalibrIntrinsicCounts: Record<string, number> = { pinhole: 4, omni: 5, eucm: 6, ds: 6 };

/** Which convention a parsed YAML mapping follows, judged by its keys. */
export function detectKind(doc: Record<string, unknown>): CalibrationKind | undefined {
  const keys = Object.keys(doc);
  if ('rigcap_extrinsics' in doc) return 'rigcap-extrinsics';
  if ('camera_matrix' in doc || 'image_width' in doc) return 'camera-info';
  if (keys.some((k) => /^cam[0-9]+$/.test(k))) return 'kalibr-camchain';
  if ('accelerometer_noise_density' in doc || keys.some((k) => /^imu[0-9]+$/.test(k))) return 'kalibr-imu';
  return undefined;
}

/** Validates a calibration file's bytes and extracts its rigid transforms. */
export function parseCalibration(file: string, bytes: Uint8Array): ParsedCalibration {
  const withFile = (issues: Issue[]): CalibrationIssue[] => issues.map((i) => ({ file, ...i }));
  const doc = parseDocument(new TextDecoder().decode(bytes), { uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      kind: undefined,
      extrinsics: [],
      issues: withFile(
        doc.errors.map((e) => ({
          path: '(file)',
          message: e.message.split('\n')[0] ?? e.message,
          fix: 'fix the YAML syntax',
        })),
      ),
    };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      kind: undefined,
      extrinsics: [],
      issues: withFile([
        {
          path: '(file)',
          message: 'is not a YAML mapping',
          fix: 'start from an example in config/calibration/',
        },
      ]),
    };
  }
  const data = raw as Record<string, unknown>;
  const kind = detectKind(data);
  if (kind === undefined) {
    return {
      kind,
      extrinsics: [],
      issues: withFile([
        {
          path: '(file)',
          message: 'is not a recognised calibration format',
          fix: 'use ROS camera_info YAML, Kalibr camchain/imu YAML, or rigcap extrinsics (`rigcap_extrinsics: 1`)',
        },
      ]),
    };
  }
  if (kind === 'kalibr-imu' && !('accelerometer_noise_density' in data)) {
    // nested `imu0: {…}` form: validate each entry with its path prefixed
    const issues: Issue[] = [];
    for (const [key, value] of Object.entries(data)) {
      if (!/^imu[0-9]+$/.test(key)) {
        issues.push({
          path: key,
          message: 'is not a known key',
          fix: `remove \`${key}\` or name IMUs imu0, imu1, …`,
        });
        continue;
      }
      issues.push(
        ...schemaIssues(validators()['kalibr-imu'], value).map((i) => ({
          ...i,
          path: i.path === '' ? key : `${key}.${i.path}`,
        })),
      );
    }
    return { kind, extrinsics: [], issues: withFile(issues) };
  }
  const { extrinsics, issues } = checked(kind, data);
  return { kind, extrinsics, issues: withFile(issues) };
}

function schemaIssues(check: ValidateFunction, value: unknown): Issue[] {
  return check(value) ? [] : failedChecks(check);
}

/** The problems a validator found on its last run. */
function failedChecks(check: ValidateFunction): Issue[] {
  return describeErrors(check.errors ?? []).map((i) => ({ path: i.path, message: i.message, fix: i.fix }));
}

/** Structure against the kind's schema first; the cross-field rules only on a file that passes. */
function checked(
  kind: CalibrationKind,
  data: Record<string, unknown>,
): { extrinsics: Extrinsic[]; issues: Issue[] } {
  const v = validators();
  const structural = (check: ValidateFunction): { extrinsics: Extrinsic[]; issues: Issue[] } => ({
    extrinsics: [],
    issues: failedChecks(check),
  });
  switch (kind) {
    case 'camera-info':
      return v[kind](data) ? { extrinsics: [], issues: cameraInfoIssues(data) } : structural(v[kind]);
    case 'kalibr-camchain':
      return v[kind](data) ? camchain(data) : structural(v[kind]);
    case 'rigcap-extrinsics':
      return v[kind](data) ? rigcapExtrinsics(data) : structural(v[kind]);
    case 'kalibr-imu':
      return v[kind](data) ? { extrinsics: [], issues: [] } : structural(v[kind]);
  }
}

function cameraInfoIssues(info: CameraInfo): Issue[] {
  const issues: Issue[] = [];
  const expected = distortionCounts[info.distortion_model];
  const coeffs = info.distortion_coefficients;
  if (expected !== undefined && coeffs.data.length !== expected) {
    issues.push({
      path: 'distortion_coefficients.data',
      message: `has ${coeffs.data.length} values, ${info.distortion_model} needs ${expected}`,
      fix: `write ${expected} coefficients`,
    });
  }
  if (coeffs.cols !== coeffs.data.length) {
    issues.push({
      path: 'distortion_coefficients.cols',
      message: `is ${coeffs.cols} but data has ${coeffs.data.length} values`,
      fix: `set cols to ${coeffs.data.length}`,
    });
  }
  const [fx = 0, , cx = 0, , fy = 0, cy = 0] = info.camera_matrix.data;
  if (!(fx > 0 && fy > 0))
    issues.push({
      path: 'camera_matrix.data',
      message: 'focal lengths fx, fy must be positive',
      fix: 'K is [fx 0 cx; 0 fy cy; 0 0 1]',
    });
  if (cx < 0 || cx > info.image_width || cy < 0 || cy > info.image_height) {
    issues.push({
      path: 'camera_matrix.data',
      message: `principal point (${cx}, ${cy}) lies outside the ${info.image_width}×${info.image_height} image`,
      fix: 'check image_width/image_height match the calibrated resolution',
    });
  }
  return issues;
}

/** The camera's name for drift pairs: the first segment of its rostopic, else `camN`. */
function cameraName(key: string, cam: KalibrCamera): string {
  return cam.rostopic?.split('/').find((part) => part !== '') ?? key;
}

function rigidFromMatrix(pair: string, m: number[][], path: string, issues: Issue[]): Extrinsic | undefined {
  const row = (i: number): number[] => m[i] ?? [];
  const last = row(3);
  if (last[0] !== 0 || last[1] !== 0 || last[2] !== 0 || last[3] !== 1) {
    issues.push({
      path,
      message: 'last row is not [0, 0, 0, 1]',
      fix: 'write a 4×4 homogeneous rigid transform',
    });
    return undefined;
  }
  const rotation = [0, 1, 2].flatMap((i) => row(i).slice(0, 3));
  const problem = rotationProblem(rotation);
  if (problem !== undefined) {
    issues.push({
      path,
      message: problem,
      fix: 'write the rotation with all printed digits (Kalibr prints ~1e-9 precision)',
    });
    return undefined;
  }
  return { pair, translationM: [row(0)[3] ?? 0, row(1)[3] ?? 0, row(2)[3] ?? 0], rotation };
}

function camchain(doc: KalibrCamchain): { extrinsics: Extrinsic[]; issues: Issue[] } {
  const issues: Issue[] = [];
  const extrinsics: Extrinsic[] = [];
  const keys = Object.keys(doc).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  keys.forEach((key, index) => {
    const cam = doc[key];
    if (cam === undefined) return;
    const name = cameraName(key, cam);
    const intrinsicCount = kalibrIntrinsicCounts[cam.camera_model];
    if (intrinsicCount !== undefined && cam.intrinsics.length !== intrinsicCount) {
      issues.push({
        path: `${key}.intrinsics`,
        message: `has ${cam.intrinsics.length} values, ${cam.camera_model} needs ${intrinsicCount}`,
        fix: `write ${intrinsicCount} values`,
      });
    }
    const distCount = kalibrDistortionCounts[cam.distortion_model];
    if (distCount !== undefined && cam.distortion_coeffs.length !== distCount) {
      issues.push({
        path: `${key}.distortion_coeffs`,
        message: `has ${cam.distortion_coeffs.length} values, ${cam.distortion_model} needs ${distCount}`,
        fix: `write ${distCount} values`,
      });
    }
    if (cam.T_cam_imu !== undefined) {
      const e = rigidFromMatrix(`imu→${name}`, cam.T_cam_imu, `${key}.T_cam_imu`, issues);
      if (e !== undefined) extrinsics.push(e);
    }
    if (cam.T_cn_cnm1 !== undefined) {
      const prevKey = keys[index - 1];
      const prev = prevKey === undefined ? undefined : doc[prevKey];
      if (prevKey === undefined || prev === undefined) {
        issues.push({
          path: `${key}.T_cn_cnm1`,
          message: 'the first camera has no previous camera',
          fix: 'remove T_cn_cnm1 from the first camera',
        });
      } else {
        const e = rigidFromMatrix(
          `${cameraName(prevKey, prev)}→${name}`,
          cam.T_cn_cnm1,
          `${key}.T_cn_cnm1`,
          issues,
        );
        if (e !== undefined) extrinsics.push(e);
      }
    }
  });
  return { extrinsics, issues };
}

function rigcapExtrinsics(doc: RigcapExtrinsics): { extrinsics: Extrinsic[]; issues: Issue[] } {
  const issues: Issue[] = [];
  const extrinsics: Extrinsic[] = [];
  const seen = new Set<string>();
  doc.transforms.forEach((t, i) => {
    const norm = Math.hypot(...t.rotation);
    if (Math.abs(norm - 1) > 1e-3) {
      issues.push({
        path: `transforms[${i}].rotation`,
        message: `quaternion norm is ${norm.toFixed(4)}, not 1`,
        fix: 'write a unit quaternion [x, y, z, w]',
      });
      return;
    }
    const pair = `${t.parent}→${t.child}`;
    if (seen.has(pair))
      issues.push({
        path: `transforms[${i}]`,
        message: `${pair} is listed twice`,
        fix: 'keep one transform per parent/child pair',
      });
    seen.add(pair);
    // The schema holds translation to 3 numbers and rotation to 4.
    const [x = 0, y = 0, z = 0] = t.translation;
    const [qx = 0, qy = 0, qz = 0, qw = 1] = t.rotation.map((v) => v / norm);
    extrinsics.push({ pair, translationM: [x, y, z], rotation: quaternionToMatrix([qx, qy, qz, qw]) });
  });
  return { extrinsics, issues };
}
