// Public surface of agent/calib for the composition root and the CLI.
export {
  CalibrationRegistry,
  rigDigestOf,
  sensorOfFile,
  type CalibrationChange,
  type CalibrationRegistryOptions,
  type CalibrationWatchOptions,
} from './calibration-registry.ts';
export { parseCalibration, detectKind, type ParsedCalibration } from './calibration-parser.ts';
export { extrinsicDrift } from './drift-history.ts';
export { extrinsicDelta, quaternionToMatrix } from './extrinsic-math.ts';
export {
  MemoryCalibrationHistoryStore,
  SqliteCalibrationHistoryStore,
  calibrationHistoryFileName,
  openSpoolCalibrationHistory,
  type CalibrationHistoryStore,
  type CalibrationVersionRow,
} from './history-store.ts';
export type * from './types.ts';
