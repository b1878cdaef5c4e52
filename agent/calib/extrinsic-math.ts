// Small rigid-transform helpers for drift: quaternions to matrices, and how far one pose moved
// from another (translation in mm, rotation angle in degrees).
import type { Extrinsic } from './types.ts';

/** Row-major rotation matrix of a unit quaternion given as [x, y, z, w] (ROS order). */
export function quaternionToMatrix([x, y, z, w]: readonly [number, number, number, number]): number[] {
  return [
    1 - 2 * (y * y + z * z),
    2 * (x * y - z * w),
    2 * (x * z + y * w),
    2 * (x * y + z * w),
    1 - 2 * (x * x + z * z),
    2 * (y * z - x * w),
    2 * (x * z - y * w),
    2 * (y * z + x * w),
    1 - 2 * (x * x + y * y),
  ];
}

/** How far `b` moved from `a`: translation distance in mm and the angle of aᵀ·b in degrees. */
export function extrinsicDelta(a: Extrinsic, b: Extrinsic): { translationMm: number; rotationDeg: number } {
  const d = a.translationM.map((v, i) => (b.translationM[i] ?? 0) - v);
  const translationMm = Math.hypot(...d) * 1000;
  // trace(aᵀ b) = Σ a_ij b_ij for row-major matrices
  const trace = a.rotation.reduce((acc, v, i) => acc + v * (b.rotation[i] ?? 0), 0);
  const cos = Math.min(1, Math.max(-1, (trace - 1) / 2));
  return { translationMm, rotationDeg: (Math.acos(cos) * 180) / Math.PI };
}

/** Problems with a 3×3 rotation: not orthonormal or not right-handed (tolerance for printed digits). */
export function rotationProblem(r: readonly number[], tolerance = 1e-3): string | undefined {
  const at = (i: number, j: number): number => r[i * 3 + j] ?? Number.NaN;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const dot = at(0, i) * at(0, j) + at(1, i) * at(1, j) + at(2, i) * at(2, j);
      if (Math.abs(dot - (i === j ? 1 : 0)) > tolerance) return 'rotation part is not orthonormal';
    }
  }
  const det =
    at(0, 0) * (at(1, 1) * at(2, 2) - at(1, 2) * at(2, 1)) -
    at(0, 1) * (at(1, 0) * at(2, 2) - at(1, 2) * at(2, 0)) +
    at(0, 2) * (at(1, 0) * at(2, 1) - at(1, 1) * at(2, 0));
  return det > 0 ? undefined : 'rotation part is a reflection (determinant < 0)';
}
