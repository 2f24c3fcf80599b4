/**
 * One synthetic multi-sequence brain case (FLAIR, T1, T1ce, T2 + BraTS label map), fully
 * determined by its seed. Pipeline per sequence: tissue signal → lesion signal → slight
 * partial-volume blur → smooth multiplicative bias field → per-case intensity scale →
 * Rician noise → int16, with the background outside the brain exactly 0 (skull-stripped,
 * as BraTS). Files use BraTS' LPS storage (affine diag(-1, -1, 1), 1 mm voxels).
 */
import { StudyError } from '../errors';
import type { Volume } from '../nifti/types';
import { createRng, type Rng } from '../util/random';
import { buildBrain, gridOrigin, Tissue, type BrainModel } from './anatomy';
import { jitteredTissueSignal, PHANTOM_SEQUENCES, type PhantomSequence } from './contrast';
import { LABEL_EDEMA, LABEL_ENHANCING, LABEL_NECROTIC, makeLesions, type LesionInfo, type LesionMaps } from './lesions';
import { ValueNoise3D } from './noise';

export const DEFAULT_PHANTOM_SIZE: readonly [number, number, number] = [240, 240, 155];
/** Smallest grid on which every structure still exists. */
export const MIN_PHANTOM_SIZE: readonly [number, number, number] = [32, 32, 24];

export interface PhantomParams {
  seed: number;
  /** Grid size (voxels, 1 mm each); default 240×240×155. */
  size?: readonly [number, number, number];
  /** Whether the case has lesions; default true. */
  anomalous?: boolean;
}

/** A case as stored: int16 images and a uint8 label map on one grid. */
export interface PhantomArrays {
  dims: [number, number, number];
  affine: Float64Array;
  images: Record<PhantomSequence, Int16Array>;
  seg: Uint8Array;
  /** Ground-truth tissue map (Tissue codes) of the normal anatomy underneath. */
  tissue: Uint8Array;
  /** Which lesion (1-based index into `lesions`) each labelled voxel belongs to; 0 elsewhere. */
  lesionMap: Uint8Array;
  lesions: LesionInfo[];
}

export interface PhantomCase {
  flair: Volume;
  t1: Volume;
  t1ce: Volume;
  t2: Volume;
  seg: Volume;
  tissue: Uint8Array;
  lesionMap: Uint8Array;
  lesions: LesionInfo[];
}

/** BraTS-like storage affine: LPS, 1 mm, grid centre at world (0, 0, 0). */
export function phantomAffine(dims: readonly [number, number, number]): Float64Array {
  const [ox, oy, oz] = gridOrigin(dims);
  return Float64Array.from([-1, 0, 0, ox, 0, -1, 0, oy, 0, 0, 1, oz, 0, 0, 0, 1]);
}

export function checkPhantomSize(size: readonly number[]): [number, number, number] {
  if (size.length !== 3 || size.some((d, i) => !Number.isInteger(d) || d < MIN_PHANTOM_SIZE[i] || d > 1024)) {
    throw new StudyError(
      'phantom/bad-size',
      `phantom size must be 3 integers from ${MIN_PHANTOM_SIZE.join('×')} to 1024³, got ${size.join('×')}`,
    );
  }
  return [size[0], size[1], size[2]];
}

export function generatePhantomArrays(params: PhantomParams): PhantomArrays {
  const dims = checkPhantomSize(params.size ?? DEFAULT_PHANTOM_SIZE);
  const rng = createRng(params.seed);
  const brain = buildBrain(rng, dims);
  const n = dims[0] * dims[1] * dims[2];
  const { lesions, maps } =
    params.anomalous === false
      ? { lesions: [], maps: { seg: new Uint8Array(n), lesionId: new Uint8Array(n), edemaWeight: new Uint8Array(n) } }
      : makeLesions(rng, brain);
  const scratch = new Float32Array(n);
  const images = {} as Record<PhantomSequence, Int16Array>;
  for (const seq of PHANTOM_SEQUENCES) images[seq] = synthesise(rng, brain, seq, lesions, maps, scratch);
  return { dims, affine: phantomAffine(dims), images, seg: maps.seg, tissue: brain.tissue, lesionMap: maps.lesionId, lesions };
}

/** The same case as in-memory volumes (storage orientation, values as written). */
export function generatePhantomCase(params: PhantomParams): PhantomCase {
  const a = generatePhantomArrays(params);
  const vol = (data: ArrayLike<number>): Volume => ({
    dims: [...a.dims],
    spacing: [1, 1, 1],
    affine: a.affine.slice(),
    data: Float32Array.from(data),
  });
  return {
    flair: vol(a.images.flair),
    t1: vol(a.images.t1),
    t1ce: vol(a.images.t1ce),
    t2: vol(a.images.t2),
    seg: vol(a.seg),
    tissue: a.tissue,
    lesionMap: a.lesionMap,
    lesions: a.lesions,
  };
}

function synthesise(
  rng: Rng,
  brain: BrainModel,
  seq: PhantomSequence,
  lesions: LesionInfo[],
  maps: LesionMaps,
  img: Float32Array,
): Int16Array {
  const [nx, ny] = brain.dims;
  const [i0, i1, j0, j1, k0, k1] = brain.bbox;
  const tissue = brain.tissue;
  const table = jitteredTissueSignal(seq, () => rng.range(0.95, 1.05));
  const scale = rng.range(500, 1400);
  const biasAmp = rng.range(0.03, 0.1);
  const bias = new ValueNoise3D(rng, brain.dims, Math.max(90 * brain.scale, 20));
  const sigma = rng.range(0.015, 0.04) * scale;

  const BG = Tissue.Background; // a local: imported bindings are getters under some loaders
  // Signal of one voxel: its tissue, blended toward its lesion compartment's target.
  const signal = (idx: number): number => {
    const t = tissue[idx];
    if (t === BG) return 0;
    let v = table[t];
    const id = maps.lesionId[idx];
    if (id !== 0) {
      const lesion = lesions[id - 1];
      const vis = lesion.visibility[seq];
      const sig = lesion.signal[seq];
      const label = maps.seg[idx];
      if (label === LABEL_EDEMA) v += ((vis * maps.edemaWeight[idx]) / 255) * (sig.edema - v);
      else if (label === LABEL_NECROTIC) v += vis * (sig.core - v);
      else if (label === LABEL_ENHANCING) v += vis * (sig.rim - v);
    }
    return v;
  };
  blur121(img, brain, signal);

  // Rician noise: |signal + complex Gaussian|. Normals come from a seeded table indexed by
  // an inlined xorshift32 (seeded from rng), because Box–Muller and closure calls per voxel
  // dominated the run time.
  const gauss = gaussianTable(rng);
  let x = rng.nextUint32() | 1;
  const out = new Int16Array(img.length);
  const gain = biasRow(bias, biasAmp, scale, i0, i1);
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      gain.fill(j, k);
      let idx = i0 + nx * (j + ny * k);
      for (let i = i0; i <= i1; i++, idx++) {
        if (tissue[idx] === BG) continue; // skull-stripped: exactly 0 outside
        const clean = img[idx] * gain.row[i - i0];
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        const re = clean + sigma * gauss[x >>> GAUSS_SHIFT];
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        const im = sigma * gauss[x >>> GAUSS_SHIFT];
        out[idx] = Math.min(32767, Math.round(Math.sqrt(re * re + im * im)));
      }
    }
  }
  return out;
}

/**
 * The smooth gain `scale × exp(amp × bias)` along one row of the box, evaluated every
 * BIAS_STEP voxels and linearly interpolated between (the field varies over ≥ 20 voxels).
 */
const BIAS_STEP = 8;
function biasRow(
  bias: ValueNoise3D,
  amp: number,
  scale: number,
  i0: number,
  i1: number,
): { row: Float32Array; fill(j: number, k: number): void } {
  const len = i1 - i0 + 1;
  const row = new Float32Array(Math.max(len, 0));
  return {
    row,
    fill(j, k) {
      let prev = scale * Math.exp(amp * bias.sample(i0, j, k));
      for (let s = 0; s < len; s += BIAS_STEP) {
        const e = Math.min(s + BIAS_STEP, len - 1);
        const next = e === s ? prev : scale * Math.exp(amp * bias.sample(i0 + e, j, k));
        for (let t = s; t <= e; t++) row[t] = e === s ? prev : prev + ((next - prev) * (t - s)) / (e - s);
        prev = next;
      }
    },
  };
}

const GAUSS_BITS = 16;
const GAUSS_SHIFT = 32 - GAUSS_BITS;

/** 2^16 standard normal deviates (Box–Muller) for fast noise. */
function gaussianTable(rng: Rng): Float32Array {
  const t = new Float32Array(1 << GAUSS_BITS);
  for (let i = 0; i < t.length; i++) t[i] = rng.normal();
  return t;
}

/**
 * Writes `signal` over the brain's bounding box, blurred with a separable [1 2 1]/4 kernel
 * (edges replicated): a little partial-volume softness. The x pass reads the signal
 * directly; every pass works on whole rows so memory is read in order. Voxels outside
 * the box are left untouched (nothing reads them).
 */
function blur121(img: Float32Array, brain: BrainModel, signal: (idx: number) => number): void {
  const [nx, ny] = brain.dims;
  const [i0, i1, j0, j1, k0, k1] = brain.bbox;
  if (i1 < i0) return; // no brain
  const w = i1 - i0 + 1;
  const plane = nx * ny;
  // x: along each row.
  const line = new Float32Array(w);
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      const o = i0 + nx * j + plane * k;
      for (let t = 0; t < w; t++) line[t] = signal(o + t);
      for (let t = 0; t < w; t++) {
        const prev = line[t > 0 ? t - 1 : 0];
        const next = line[t < w - 1 ? t + 1 : w - 1];
        img[o + t] = 0.25 * prev + 0.5 * line[t] + 0.25 * next;
      }
    }
  }
  // y and z: combine neighbouring rows; `before` keeps the unblurred previous row.
  const before = new Float32Array(w);
  const cur = new Float32Array(w);
  const pass = (outerLo: number, outerHi: number, lo: number, hi: number, rowAt: (outer: number, inner: number) => number) => {
    for (let o = outerLo; o <= outerHi; o++) {
      before.set(img.subarray(rowAt(o, lo), rowAt(o, lo) + w));
      for (let r = lo; r <= hi; r++) {
        const at = rowAt(o, r);
        cur.set(img.subarray(at, at + w));
        const nextAt = rowAt(o, r < hi ? r + 1 : hi);
        for (let t = 0; t < w; t++) img[at + t] = 0.25 * before[t] + 0.5 * cur[t] + 0.25 * img[nextAt + t];
        before.set(cur);
      }
    }
  };
  pass(k0, k1, j0, j1, (k, j) => i0 + nx * j + plane * k);
  pass(j0, j1, k0, k1, (j, k) => i0 + nx * j + plane * k);
}
