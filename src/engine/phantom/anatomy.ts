/**
 * Normal anatomy of a phantom brain as a tissue map: a deformed ellipsoidal envelope, a
 * folded cortical ribbon with sulcal CSF, the interhemispheric fissure, white matter,
 * lateral and third ventricles with choroid plexus, deep grey nuclei, and a few vessels.
 *
 * Geometry is defined in an anatomical frame in mm (x → patient right, y → anterior,
 * z → superior, origin at the brain centre, rotated slightly per case) and rasterised on
 * the storage grid of the phantom files (LPS: voxel i → left, j → posterior, k → superior).
 * Sizes scale with the grid (`scale` = 1 at BraTS' 240×240×155), with lower limits in
 * voxels so that small test phantoms keep every structure.
 */
import type { Rng } from '../util/random';
import { ValueNoise3D } from './noise';

/** Tissue codes of the tissue map. */
export const Tissue = { Background: 0, Csf: 1, Grey: 2, White: 3, DeepGrey: 4, Choroid: 5, Vessel: 6 } as const;
export type Tissue = (typeof Tissue)[keyof typeof Tissue];
export const TISSUE_COUNT = 7;
export const TISSUE_NAMES = ['background', 'csf', 'grey', 'white', 'deep-grey', 'choroid', 'vessel'] as const;

export interface BrainModel {
  dims: [number, number, number];
  /** Grid scale relative to 240×240×155. */
  scale: number;
  tissue: Uint8Array;
  /** Depth below the brain surface in mm (0 outside the brain). */
  depth: Float32Array;
  /** Inclusive voxel bounding box of the brain: [i0, i1, j0, j1, k0, k1]. */
  bbox: [number, number, number, number, number, number];
  /** Maps a storage voxel (i, j, k) to the anatomical frame (mm). */
  toAnatomy(i: number, j: number, k: number): [number, number, number];
}

/** Voxel index → world mm offset of the phantom grid: world = (-i + ox, -j + oy, k + oz). */
export function gridOrigin(dims: readonly [number, number, number]): [number, number, number] {
  return [(dims[0] - 1) / 2, (dims[1] - 1) / 2, -(dims[2] - 1) / 2];
}

/** A case's brain envelope: semi-axes (a, b, c), asymmetries, and placement in the grid. */
interface BrainShape {
  /** Grid scale relative to 240 × 240 × 155. */
  s: number;
  a: number;
  b: number;
  c: number;
  frontalTaper: number;
  baseFlatten: number;
  envAmp: number;
  /** Brain centre (world mm). */
  center: number[];
  /** Row-major world → anatomy rotation. */
  rot: number[];
}

/** The per-case shape (its random draws come first, in this order, so a seed gives the same brain). */
function drawBrainShape(rng: Rng, dims: [number, number, number]): BrainShape {
  const [nx, ny, nz] = dims;
  const s = Math.min(nx / 240, ny / 240, nz / 155);
  const a = 68 * s * rng.range(0.92, 1.08);
  const b = 86 * s * rng.range(0.92, 1.08);
  const c = 62 * s * rng.range(0.92, 1.06);
  const frontalTaper = rng.range(0.04, 0.12);
  const baseFlatten = rng.range(0.78, 0.9);
  const envAmp = rng.range(0.03, 0.07);
  const oz = gridOrigin(dims)[2];
  // Near the grid centre in-plane, at 47 % of the height.
  const center = [rng.range(-3, 3) * s, rng.range(-4, 4) * s, oz + nz * 0.47 + rng.range(-3, 3) * s];
  const rot = rotation(rng.range(-6, 6), rng.range(-4, 4), rng.range(-4, 4)); // yaw, pitch, roll (deg)
  return { s, a, b, c, frontalTaper, baseFlatten, envAmp, center, rot };
}

/** Structure sizes (mm, with voxel minimums), ventricle scales, and the noise fields of envelope, sulci and vessels. */
interface BrainStructures {
  csfT: number;
  gmT: number;
  sulcDepth: number;
  maxSulcDepth: number;
  /** Sulcal CSF half-width. */
  sulcW: number;
  fissW: number;
  ventScaleL: number;
  ventScaleR: number;
  thirdW: number;
  sinusW: number;
  envNoise: ValueNoise3D;
  fold: ValueNoise3D;
  fold2: ValueNoise3D;
  sulcNoise: ValueNoise3D;
  vesselNoise: ValueNoise3D;
}

/** The structures (random draws after the shape's, in this order). */
function drawBrainStructures(rng: Rng, dims: [number, number, number], s: number): BrainStructures {
  const vox = (mm: number, minVoxels: number): number => Math.max(mm * s, minVoxels);
  const sulcDepth = vox(18, 3);
  const foldSpacing = Math.max(10 * s, 4);
  const ventScaleL = rng.range(0.75, 1.4);
  const ventScaleR = ventScaleL * rng.range(0.9, 1.1);
  const extent: [number, number, number] = [...dims];
  return {
    csfT: vox(1.0, 0.55),
    gmT: vox(3.0, 1.2),
    sulcDepth,
    maxSulcDepth: sulcDepth * 1.4,
    sulcW: vox(0.8, 0.5),
    fissW: vox(0.9, 0.5),
    ventScaleL,
    ventScaleR,
    thirdW: vox(1.2, 0.5),
    sinusW: vox(2.5, 0.8),
    envNoise: new ValueNoise3D(rng, extent, Math.max(40 * s, 8)),
    fold: new ValueNoise3D(rng, extent, foldSpacing),
    fold2: new ValueNoise3D(rng, extent, foldSpacing * 0.5),
    sulcNoise: new ValueNoise3D(rng, extent, Math.max(30 * s, 6)),
    vesselNoise: new ValueNoise3D(rng, extent, Math.max(6 * s, 3)),
  };
}

/** Anatomical coordinates are affine in (i, j, k): p = R · (world − centre). */
function anatomyTransform(dims: readonly [number, number, number], { center, rot }: BrainShape) {
  const [ox, oy, oz] = gridOrigin(dims);
  return (i: number, j: number, k: number): [number, number, number] => {
    const wx = -i + ox - center[0];
    const wy = -j + oy - center[1];
    const wz = k + oz - center[2];
    return [rot[0] * wx + rot[1] * wy + rot[2] * wz, rot[3] * wx + rot[4] * wy + rot[5] * wz, rot[6] * wx + rot[7] * wy + rot[8] * wz];
  };
}

export function buildBrain(rng: Rng, dims: [number, number, number]): BrainModel {
  const shape = drawBrainShape(rng, dims);
  const structures = drawBrainStructures(rng, dims, shape.s);
  const toAnatomy = anatomyTransform(dims, shape);
  const { tissue, depth, bbox } = rasterise(dims, shape, structures, toAnatomy);
  return { dims, scale: shape.s, tissue, depth, bbox, toAnatomy };
}

/** The voxel range the envelope can reach: never beyond 1.15 × the largest semi-axis from the centre. */
function scanBox(dims: readonly [number, number, number], { a, b, c, center }: BrainShape): number[] {
  const [nx, ny, nz] = dims;
  const [ox, oy, oz] = gridOrigin(dims);
  const r = 1.15 * Math.max(a, b, c);
  const ci = ox - center[0];
  const cj = oy - center[1];
  const ck = center[2] - oz;
  const clampI = (v: number, n: number) => Math.min(n - 1, Math.max(0, Math.round(v)));
  return [clampI(ci - r, nx), clampI(ci + r, nx), clampI(cj - r, ny), clampI(cj + r, ny), clampI(ck - r, nz), clampI(ck + r, nz)];
}

/** Tissue labels and depth below the envelope of every voxel, and the tight box of the brain's voxels (empty if none). */
function rasterise(
  dims: [number, number, number],
  shape: BrainShape,
  st: BrainStructures,
  toAnatomy: (i: number, j: number, k: number) => [number, number, number],
): Pick<BrainModel, 'tissue' | 'depth' | 'bbox'> {
  const [nx, ny, nz] = dims;
  const { a, b, c, frontalTaper, baseFlatten, envAmp, rot } = shape;
  const classify = tissueClassifier(shape, st);
  const scan = scanBox(dims, shape);
  const bbox: [number, number, number, number, number, number] = [nx, -1, ny, -1, nz, -1];
  const tissue = new Uint8Array(nx * ny * nz);
  const depthMap = new Float32Array(nx * ny * nz);
  const [di0, di1, di2] = [-rot[0], -rot[3], -rot[6]]; // d p / d i
  for (let k = scan[4]; k <= scan[5]; k++) {
    for (let j = scan[2]; j <= scan[3]; j++) {
      let [px, py, pz] = toAnatomy(scan[0], j, k);
      let idx = scan[0] + nx * (j + ny * k);
      for (let i = scan[0]; i <= scan[1]; i++, idx++, px += di0, py += di1, pz += di2) {
        const aEff = a * (1 - frontalTaper * (py / b));
        const cEff = pz < 0 ? c * baseFlatten : c;
        const xa = px / aEff;
        const ya = py / b;
        const za = pz / cEff;
        const rho2 = xa * xa + ya * ya + za * za;
        if (rho2 > 1.25) continue;
        const rho = Math.sqrt(rho2);
        const B = 1 + envAmp * st.envNoise.sample(i, j, k);
        if (rho >= B) continue;
        const gx = xa / aEff;
        const gy = ya / b;
        const gz = za / cEff;
        const grad = Math.sqrt(gx * gx + gy * gy + gz * gz) / Math.max(rho, 1e-6);
        const depth = (B - rho) / grad;
        depthMap[idx] = depth;
        tissue[idx] = classify(i, j, k, px, py, pz, depth);
        growBox(bbox, i, j, k);
      }
    }
  }
  return { tissue, depth: depthMap, bbox };
}

function growBox(bbox: [number, number, number, number, number, number], i: number, j: number, k: number): void {
  if (i < bbox[0]) bbox[0] = i;
  if (i > bbox[1]) bbox[1] = i;
  if (j < bbox[2]) bbox[2] = j;
  if (j > bbox[3]) bbox[3] = j;
  if (k < bbox[4]) bbox[4] = k;
  if (k > bbox[5]) bbox[5] = k;
}

/** The tissue at anatomical position p, `depth` mm below the envelope: cortex and sulci near the surface, deep structures inside. */
function tissueClassifier(shape: BrainShape, st: BrainStructures) {
  const { a, b, c } = shape;
  const { csfT, gmT, sinusW, fissW, maxSulcDepth } = st;
  const cortex = corticalTissue(st);
  return (i: number, j: number, k: number, px: number, py: number, pz: number, depth: number): Tissue => {
    const ax = Math.abs(px);
    if (depth < csfT) return Tissue.Csf;
    // Superior sagittal sinus: along the top of the midline.
    if (ax < sinusW && depth < 2 * sinusW && pz > 0.1 * c) return Tissue.Vessel;
    // Interhemispheric fissure above and around the corpus callosum.
    const ccY = py / (0.42 * b);
    const ccZ = (pz - 0.1 * c) / (0.24 * c);
    const aboveCallosum = ccY * ccY + ccZ * ccZ > 1 && pz > -0.3 * c;
    if (aboveCallosum && ax < fissW) return Tissue.Csf;
    if (aboveCallosum && ax < fissW + gmT) return Tissue.Grey;
    if (depth < maxSulcDepth + gmT) {
      const t = cortex(i, j, k, depth);
      if (t !== undefined) return t;
    }
    return deepTissue(a, b, c, st, px, py, pz);
  };
}

/** The cortical ribbon with sulci, or undefined below it. */
function corticalTissue(st: BrainStructures) {
  const { csfT, gmT, sulcDepth, sulcW, sulcNoise, fold, fold2, vesselNoise } = st;
  const g1 = new Float64Array(3);
  const g2 = new Float64Array(3);
  return (i: number, j: number, k: number, depth: number): Tissue | undefined => {
    const d = sulcDepth * (0.6 + 0.8 * Math.abs(sulcNoise.sample(i, j, k)));
    if (depth < d + gmT) {
      // Distance (mm) to the folding field's zero surface, |f| / |∇f|: sulci are thin
      // sheets of CSF reaching down from the surface, lined by the grey-matter ribbon.
      const f = fold.sampleWithGradient(i, j, k, g1) + 0.5 * fold2.sampleWithGradient(i, j, k, g2);
      const gxF = g1[0] + 0.5 * g2[0];
      const gyF = g1[1] + 0.5 * g2[1];
      const gzF = g1[2] + 0.5 * g2[2];
      const dist = Math.abs(f) / Math.max(Math.sqrt(gxF * gxF + gyF * gyF + gzF * gzF), 1e-3);
      if (depth < d && dist < sulcW * (1.3 - (0.6 * depth) / d)) {
        return vesselNoise.sample(i, j, k) > 0.62 ? Tissue.Vessel : Tissue.Csf;
      }
      if (dist < sulcW + gmT) return Tissue.Grey;
    }
    if (depth < csfT + gmT) return Tissue.Grey;
    return undefined;
  };
}

/** Ventricles, deep grey nuclei and white matter. */
function deepTissue(a: number, b: number, c: number, st: BrainStructures, px: number, py: number, pz: number): Tissue {
  const ax = Math.abs(px);
  // Lateral ventricles: banana-shaped tubes either side of the midline.
  const vs = px < 0 ? st.ventScaleL : st.ventScaleR;
  const t = py / (0.4 * b);
  if (t > -1 && t < 1) {
    const t2 = t * t;
    const xV = a * (0.09 + 0.1 * t2);
    const wx = a * 0.075 * vs * (1 - 0.3 * t2);
    const zV = c * (0.16 - 0.28 * t2);
    const hz = c * 0.1 * vs * (1 - 0.4 * t2);
    const ex = (ax - xV) / wx;
    const ez = (pz - zV) / hz;
    const e = ex * ex + t2 + ez * ez;
    if (e < 1) return t < -0.35 && e < 0.45 ? Tissue.Choroid : Tissue.Csf;
  }
  // Third ventricle: a thin midline slit.
  if (ax < st.thirdW && pz > -0.2 * c && pz < 0.05 * c && Math.abs(py + 0.05 * b) < 0.12 * b) return Tissue.Csf;
  // Deep grey nuclei: thalamus, lentiform nucleus, caudate head.
  if (inEllipsoid(ax - 0.13 * a, py + 0.12 * b, pz, 0.11 * a, 0.13 * b, 0.14 * c)) return Tissue.DeepGrey;
  if (inEllipsoid(ax - 0.33 * a, py - 0.06 * b, pz + 0.02 * c, 0.07 * a, 0.16 * b, 0.14 * c)) return Tissue.DeepGrey;
  if (inEllipsoid(ax - 0.17 * a, py - 0.22 * b, pz - 0.12 * c, 0.06 * a, 0.1 * b, 0.12 * c)) return Tissue.DeepGrey;
  return Tissue.White;
}

function inEllipsoid(x: number, y: number, z: number, a: number, b: number, c: number): boolean {
  const u = x / a;
  const v = y / b;
  const w = z / c;
  return u * u + v * v + w * w < 1;
}

/** Row-major world → anatomy rotation from yaw (about z), pitch (about x), roll (about y), degrees. */
function rotation(yawDeg: number, pitchDeg: number, rollDeg: number): number[] {
  const [y, p, r] = [yawDeg, pitchDeg, rollDeg].map((d) => (d * Math.PI) / 180);
  const rz = [Math.cos(y), -Math.sin(y), 0, Math.sin(y), Math.cos(y), 0, 0, 0, 1];
  const rx = [1, 0, 0, 0, Math.cos(p), -Math.sin(p), 0, Math.sin(p), Math.cos(p)];
  const ry = [Math.cos(r), 0, Math.sin(r), 0, 1, 0, -Math.sin(r), 0, Math.cos(r)];
  return mul3(rz, mul3(rx, ry));
}

function mul3(m: number[], n: number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) out[r * 3 + c] += m[r * 3 + k] * n[k * 3 + c];
  return out;
}
