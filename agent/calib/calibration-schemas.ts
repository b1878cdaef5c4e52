// JSON Schemas (2020-12) for the calibration conventions rigcap accepts. Structure is checked here;
// cross-field rules (matrix sizes, coefficient counts, rigid transforms) live in the parser, which
// reads each file through the type derived from its schema.
import type { FromSchema } from 'json-schema-to-ts';

const num = { type: 'number' } as const;
const matrixBlock = (rows: number, cols: number, description: string) =>
  ({
    type: 'object',
    description,
    required: ['rows', 'cols', 'data'],
    properties: {
      rows: { const: rows },
      cols: { const: cols },
      data: { type: 'array', items: num, minItems: rows * cols, maxItems: rows * cols },
    },
  }) as const;

/** ROS camera_info YAML as written by camera_calibration / camera_info_manager. */
export const cameraInfoSchema = {
  type: 'object',
  required: [
    'image_width',
    'image_height',
    'camera_name',
    'camera_matrix',
    'distortion_model',
    'distortion_coefficients',
    'rectification_matrix',
    'projection_matrix',
  ],
  properties: {
    image_width: { type: 'integer', minimum: 1 },
    image_height: { type: 'integer', minimum: 1 },
    camera_name: { type: 'string', minLength: 1 },
    camera_matrix: matrixBlock(3, 3, 'K: 3×3, row-major'),
    distortion_model: { enum: ['plumb_bob', 'rational_polynomial', 'equidistant'] },
    distortion_coefficients: {
      type: 'object',
      required: ['rows', 'cols', 'data'],
      properties: {
        rows: { const: 1 },
        cols: { type: 'integer', minimum: 0 },
        data: { type: 'array', items: num },
      },
    },
    rectification_matrix: matrixBlock(3, 3, 'R: 3×3, row-major'),
    projection_matrix: matrixBlock(3, 4, 'P: 3×4, row-major'),
  },
} as const;

const transform4x4 = {
  type: 'array',
  minItems: 4,
  maxItems: 4,
  items: { type: 'array', items: num, minItems: 4, maxItems: 4 },
} as const;

const kalibrCamera = {
  type: 'object',
  required: ['camera_model', 'intrinsics', 'distortion_model', 'distortion_coeffs', 'resolution'],
  properties: {
    camera_model: { enum: ['pinhole', 'omni', 'eucm', 'ds'] },
    intrinsics: { type: 'array', items: num, minItems: 4, maxItems: 6 },
    distortion_model: { enum: ['radtan', 'equidistant', 'fov', 'none'] },
    distortion_coeffs: { type: 'array', items: num, maxItems: 4 },
    resolution: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 },
    T_cam_imu: transform4x4,
    T_cn_cnm1: transform4x4,
    timeshift_cam_imu: num,
    rostopic: { type: 'string' },
    cam_overlaps: { type: 'array', items: { type: 'integer', minimum: 0 } },
  },
} as const;

/** Kalibr camchain.yaml / camchain-imucam.yaml: `cam0`, `cam1`, … */
export const kalibrCamchainSchema = {
  type: 'object',
  minProperties: 1,
  patternProperties: { '^cam[0-9]+$': kalibrCamera },
  additionalProperties: false,
} as const;

/** Kalibr imu.yaml (one IMU; the `imu0:` nested form is validated entry by entry). */
export const kalibrImuSchema = {
  type: 'object',
  required: [
    'accelerometer_noise_density',
    'accelerometer_random_walk',
    'gyroscope_noise_density',
    'gyroscope_random_walk',
    'update_rate',
  ],
  properties: {
    accelerometer_noise_density: { type: 'number', exclusiveMinimum: 0 },
    accelerometer_random_walk: { type: 'number', exclusiveMinimum: 0 },
    gyroscope_noise_density: { type: 'number', exclusiveMinimum: 0 },
    gyroscope_random_walk: { type: 'number', exclusiveMinimum: 0 },
    update_rate: { type: 'number', exclusiveMinimum: 0 },
    rostopic: { type: 'string' },
    time_offset: num,
    T_i_b: transform4x4,
  },
} as const;

/** rigcap extrinsics YAML: rigid transforms between frames Kalibr does not cover (lidar, GNSS). */
export const rigcapExtrinsicsSchema = {
  type: 'object',
  required: ['rigcap_extrinsics', 'transforms'],
  additionalProperties: false,
  properties: {
    rigcap_extrinsics: { const: 1 },
    transforms: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['parent', 'child', 'translation', 'rotation'],
        additionalProperties: false,
        properties: {
          parent: { type: 'string', minLength: 1 },
          child: { type: 'string', minLength: 1 },
          translation: {
            type: 'array',
            items: num,
            minItems: 3,
            maxItems: 3,
            description: 'metres, [x, y, z] of child in parent',
          },
          rotation: {
            type: 'array',
            items: num,
            minItems: 4,
            maxItems: 4,
            description: 'unit quaternion [x, y, z, w]',
          },
          time_offset_ns: { type: 'integer', description: 'sensor clock minus rig clock, nanoseconds' },
        },
      },
    },
  },
} as const;

/** A camera_info file as its schema accepts it. */
export type CameraInfo = FromSchema<typeof cameraInfoSchema>;
/** A Kalibr camchain file as its schema accepts it: cameras by `camN` key. */
export type KalibrCamchain = FromSchema<typeof kalibrCamchainSchema>;
export type KalibrCamera = KalibrCamchain[string];
/** A Kalibr imu file (flat form) as its schema accepts it. */
export type KalibrImu = FromSchema<typeof kalibrImuSchema>;
/** A rigcap extrinsics file as its schema accepts it. */
export type RigcapExtrinsics = FromSchema<typeof rigcapExtrinsicsSchema>;
