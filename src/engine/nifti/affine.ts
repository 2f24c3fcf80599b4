/**
 * 4×4 voxel → world affines (row-major Float64Array of 16): building them from the NIfTI
 * qform/pixdim fields, decomposing them back into a qform for writing, validating them, and
 * naming their orientation ('RAS', 'LPS', …).
 */
import { NiftiError } from '../errors';

/** Row-major 4×4 matrix. */
export type Affine = Float64Array;

export function identityAffine(): Affine {
  const a = new Float64Array(16);
  a[0] = a[5] = a[10] = a[15] = 1;
  return a;
}

/** Copies any 16-number array (row-major) into a fresh Affine. */
export function toAffine(values: ArrayLike<number>): Affine {
  const a = new Float64Array(16);
  for (let i = 0; i < 16; i++) a[i] = values[i];
  return a;
}

/** Length of column j (0..2) of the 3×3 part: the voxel size along voxel axis j, in mm. */
export function columnNorm(a: Affine, j: number): number {
  return Math.hypot(a[j], a[4 + j], a[8 + j]);
}

export function det3(a: Affine): number {
  return a[0] * (a[5] * a[10] - a[6] * a[9]) - a[1] * (a[4] * a[10] - a[6] * a[8]) + a[2] * (a[4] * a[9] - a[5] * a[8]);
}

/**
 * Why the affine cannot map voxels to world space, or null when it can: entries must be finite,
 * the last row [0 0 0 1], and the 3×3 part invertible (not degenerate relative to its scale).
 */
export function affineProblem(a: ArrayLike<number>): string | null {
  if (a.length !== 16) return `affine must have 16 entries, got ${a.length}`;
  for (let i = 0; i < 16; i++)
    if (!Number.isFinite(a[i])) return `affine has a non-finite entry (${a[i]}) at row ${Math.floor(i / 4)}, column ${i % 4}`;
  if (a[12] !== 0 || a[13] !== 0 || a[14] !== 0 || a[15] !== 1) return 'affine bottom row is not [0 0 0 1]';
  const m = toAffine(a);
  const norms = [0, 1, 2].map((j) => columnNorm(m, j));
  if (norms.some((n) => n === 0)) return `affine maps voxel axis ${norms.findIndex((n) => n === 0)} to a point (zero voxel size)`;
  // |det| / product of column norms is 1 for orthogonal axes and 0 for collinear ones.
  if (Math.abs(det3(m)) / (norms[0] * norms[1] * norms[2]) < 1e-6)
    return 'affine is singular (voxel axes are collinear), so it has no inverse';
  return null;
}

export function checkAffine(a: ArrayLike<number>, file: string | undefined, what: string): void {
  const problem = affineProblem(a);
  if (problem) throw new NiftiError('nifti/bad-affine', `${what}: ${problem}`, file);
}

/** NIfTI method 0: voxel sizes on the diagonal, no rotation, no offset. */
export function pixdimAffine(pixdim: readonly number[]): Affine {
  const a = identityAffine();
  a[0] = pixdim[0] ?? 1;
  a[5] = pixdim[1] ?? 1;
  a[10] = pixdim[2] ?? 1;
  return a;
}

/**
 * NIfTI method 2 (qform): rotation from the quaternion (b, c, d; a = √(1 − b² − c² − d²)),
 * scaled by the voxel sizes, with the k axis flipped when qfac = −1, then offset.
 */
export function quaternionAffine(
  b: number,
  c: number,
  d: number,
  offset: readonly number[],
  zooms: readonly number[],
  qfac: 1 | -1,
): Affine {
  let aa = 1 - (b * b + c * c + d * d);
  if (aa < 1e-7) {
    // (b, c, d) is (nearly) a unit vector: a 180° rotation; renormalise as nifti1_io does.
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    aa = 0;
  }
  const a = Math.sqrt(aa);
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - b * b - c * c],
  ];
  const m = identityAffine();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) m[i * 4 + j] = r[i][j] * zooms[j] * (j === 2 ? qfac : 1);
    m[i * 4 + 3] = offset[i];
  }
  return m;
}

export interface Qform {
  b: number;
  c: number;
  d: number;
  qfac: 1 | -1;
  zooms: [number, number, number];
  offset: [number, number, number];
}

/**
 * The qform that best represents `a`: voxel sizes are the column norms, the rotation is the
 * nearest proper rotation (polar decomposition) of the column-normalised 3×3 part after the
 * k axis is flipped when the determinant is negative (qfac = −1). Exact for affines without shear.
 */
export function qformFromAffine(a: Affine): Qform {
  const zooms: [number, number, number] = [columnNorm(a, 0), columnNorm(a, 1), columnNorm(a, 2)];
  const qfac: 1 | -1 = det3(a) < 0 ? -1 : 1;
  // m is row-major 3×3.
  let m = [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => (a[i * 4 + j] / zooms[j]) * (j === 2 ? qfac : 1)));
  // Polar decomposition by Newton iteration R ← (R + R⁻ᵀ)/2; converges to the nearest rotation.
  for (let it = 0; it < 50; it++) {
    const inv = invert3(m);
    const next = m.map((v, k) => 0.5 * (v + inv[(k % 3) * 3 + Math.floor(k / 3)]));
    const change = Math.max(...next.map((v, k) => Math.abs(v - m[k])));
    m = next;
    if (change < 1e-15) break;
  }
  const [r00, r01, r02, r10, r11, r12, r20, r21, r22] = m;
  let qa: number, qb: number, qc: number, qd: number;
  const trace = r00 + r11 + r22;
  if (trace > 0) {
    const s = 0.5 / Math.sqrt(trace + 1);
    qa = 0.25 / s;
    qb = (r21 - r12) * s;
    qc = (r02 - r20) * s;
    qd = (r10 - r01) * s;
  } else if (r00 > r11 && r00 > r22) {
    const s = 2 * Math.sqrt(1 + r00 - r11 - r22);
    qa = (r21 - r12) / s;
    qb = 0.25 * s;
    qc = (r01 + r10) / s;
    qd = (r02 + r20) / s;
  } else if (r11 > r22) {
    const s = 2 * Math.sqrt(1 + r11 - r00 - r22);
    qa = (r02 - r20) / s;
    qb = (r01 + r10) / s;
    qc = 0.25 * s;
    qd = (r12 + r21) / s;
  } else {
    const s = 2 * Math.sqrt(1 + r22 - r00 - r11);
    qa = (r10 - r01) / s;
    qb = (r02 + r20) / s;
    qc = (r12 + r21) / s;
    qd = 0.25 * s;
  }
  // NIfTI stores only b, c, d and takes a ≥ 0, so use the equivalent quaternion with a ≥ 0.
  const sign = qa < 0 ? -1 : 1;
  return { b: sign * qb, c: sign * qc, d: sign * qd, qfac, zooms, offset: [a[3], a[7], a[11]] };
}

function invert3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h,
    B = -(d * i - f * g),
    C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    A / det,
    -(b * i - c * h) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    C / det,
    -(a * h - b * g) / det,
    (a * e - b * d) / det,
  ];
}

/** For voxel axis j: the world axis (0 = x, 1 = y, 2 = z) it mostly runs along, and the direction. */
export interface AxisOrientation {
  worldAxis: 0 | 1 | 2;
  sign: 1 | -1;
}

/**
 * The world axis each voxel axis runs along. Greedy on the column-normalised 3×3 part: the
 * largest |entry| fixes one (voxel axis, world axis) pair, then the next largest among the
 * remaining rows and columns, so every world axis is used exactly once even for oblique scans.
 */
export function axisOrientations(a: Affine): [AxisOrientation, AxisOrientation, AxisOrientation] {
  const norms = [0, 1, 2].map((j) => columnNorm(a, j) || 1);
  const out: AxisOrientation[] = [];
  const usedRow = [false, false, false];
  const usedCol = [false, false, false];
  for (let step = 0; step < 3; step++) {
    let best = -1,
      bi = 0,
      bj = 0;
    for (let i = 0; i < 3; i++) {
      if (usedRow[i]) continue;
      for (let j = 0; j < 3; j++) {
        if (usedCol[j]) continue;
        const v = Math.abs(a[i * 4 + j] / norms[j]);
        if (v > best) {
          best = v;
          bi = i;
          bj = j;
        }
      }
    }
    usedRow[bi] = usedCol[bj] = true;
    out[bj] = { worldAxis: bi as 0 | 1 | 2, sign: a[bi * 4 + bj] < 0 ? -1 : 1 };
  }
  return out as [AxisOrientation, AxisOrientation, AxisOrientation];
}

const AXIS_LETTERS: Record<number, [string, string]> = { 0: ['R', 'L'], 1: ['A', 'P'], 2: ['S', 'I'] };

/**
 * Orientation code of the voxel axes: letter k says towards which side voxel axis k increases
 * (world is RAS+: x → Right, y → Anterior, z → Superior). 'RAS' is canonical; DICOM-style
 * storage is 'LPS'. Matches nibabel's aff2axcodes for non-oblique affines.
 */
export function orientationCode(a: ArrayLike<number>): string {
  return axisOrientations(toAffine(a))
    .map(({ worldAxis, sign }) => AXIS_LETTERS[worldAxis][sign > 0 ? 0 : 1])
    .join('');
}
