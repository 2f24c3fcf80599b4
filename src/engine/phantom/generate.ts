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
  lesions: LesionInfo[];
}

export interface PhantomCase {
  flair: Volume;
  t1: Volume;
  t1ce: Volume;
  t2: Volume;
  seg: Volume;
  tissue: Uint8Array;
  lesions: LesionInfo[];
}

/** BraTS-like storage affine: LPS, 1 mm, grid centre at world (0, 0, 0). */
export function phantomAffine(dims: readonly [number, number, number]): Float64Array {
  const [ox, oy, oz] = gridOrigin(dims);
  return Float64Array.from([-1, 0, 0, ox, 0, -1, 0, oy, 0, 0, 1, oz, 0, 0, 0, 1]);
}

export function checkPhantomSize(size: readonly number[]): [number, number, number] {
  if (size.length !== 3 || size.some((d, i) => !Number.isInteger(d) || d < MIN_PHANTOM_SIZE[i] || d > 1024)) {
    throw new StudyError('phantom/bad-size', `phantom size must be 3 integers from ${MIN_PHANTOM_SIZE.join('×')} to 1024³, got ${size.join('×')}`);
  }
  return [size[0], size[1], size[2]];
}

export function generatePhantomArrays(params: PhantomParams): PhantomArrays {
  const dims = checkPhantomSize(params.size ?? DEFAULT_PHANTOM_SIZE);
  const rng = createRng(params.seed);
  const brain = buildBrain(rng, dims);
  const n = dims[0] * dims[1] * dims[2];
  const { lesions, maps } = params.anomalous === false
    ? { lesions: [], maps: { seg: new Uint8Array(n), lesionId: new Uint8Array(n), edemaWeight: new Uint8Array(n) } }
    : makeLesions(rng, brain);
  const scratch = new Float32Array(n);
  const images = {} as Record<PhantomSequence, Int16Array>;
  for (const seq of PHANTOM_SEQUENCES) images[seq] = synthesise(rng, brain, seq, lesions, maps, scratch);
  return { dims, affine: phantomAffine(dims), images, seg: maps.seg, tissue: brain.tissue, lesions };
}

/** The same case as in-memory volumes (storage orientation, values as written). */
export function generatePhantomCase(params: PhantomParams): PhantomCase {
  const a = generatePhantomArrays(params);
  const vol = (data: ArrayLike<number>): Volume => ({ dims: [...a.dims], spacing: [1, 1, 1], affine: a.affine.slice(), data: Float32Array.from(data) });
  return {
    flair: vol(a.images.flair), t1: vol(a.images.t1), t1ce: vol(a.images.t1ce), t2: vol(a.images.t2), seg: vol(a.seg),
    tissue: a.tissue, lesions: a.lesions,
  };
}

function synthesise(rng: Rng, brain: BrainModel, seq: PhantomSequence, lesions: LesionInfo[], maps: LesionMaps, img: Float32Array): Int16Array {
  const [nx, ny] = brain.dims;
  const [i0, i1, j0, j1, k0, k1] = brain.bbox;
  const tissue = brain.tissue;
  const table = jitteredTissueSignal(seq, () => rng.range(0.95, 1.05));
  const scale = rng.range(500, 1400);
  const biasAmp = rng.range(0.05, 0.18);
  const bias = new ValueNoise3D(rng, brain.dims, Math.max(90 * brain.scale, 20));
  const sigma = rng.range(0.015, 0.04) * scale;

  img.fill(0);
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      const base = nx * (j + ny * k);
      for (let idx = base + i0; idx <= base + i1; idx++) {
        const t = tissue[idx];
        if (t === Tissue.Background) continue;
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
        img[idx] = v;
      }
    }
  }
  blur121(img, brain);

  // Rician noise: |signal + complex Gaussian|. Normals come from a seeded table (one
  // 32-bit draw each) because Box–Muller per voxel dominated the run time.
  const gauss = gaussianTable(rng);
  const out = new Int16Array(img.length);
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      let idx = i0 + nx * (j + ny * k);
      for (let i = i0; i <= i1; i++, idx++) {
        if (tissue[idx] === Tissue.Background) continue; // skull-stripped: exactly 0 outside
        const clean = img[idx] * scale * Math.exp(biasAmp * bias.sample(i, j, k));
        const re = clean + sigma * gauss[rng.nextUint32() >>> GAUSS_SHIFT];
        const im = sigma * gauss[rng.nextUint32() >>> GAUSS_SHIFT];
        out[idx] = Math.min(32767, Math.round(Math.sqrt(re * re + im * im)));
      }
    }
  }
  return out;
}

const GAUSS_BITS = 16;
const GAUSS_SHIFT = 32 - GAUSS_BITS;

/** 2^16 standard normal deviates (Box–Muller) for fast noise. */
function gaussianTable(rng: Rng): Float32Array {
  const t = new Float32Array(1 << GAUSS_BITS);
  for (let i = 0; i < t.length; i++) t[i] = rng.normal();
  return t;
}

/** Separable [1 2 1]/4 blur inside the brain's bounding box: a little partial-volume softness. */
function blur121(img: Float32Array, brain: BrainModel): void {
  const [nx, ny] = brain.dims;
  const [i0, i1, j0, j1, k0, k1] = brain.bbox;
  const strides = [1, nx, nx * ny];
  const ranges = [[i0, i1], [j0, j1], [k0, k1]];
  const line = new Float32Array(Math.max(i1 - i0, j1 - j0, k1 - k0) + 1);
  for (let axis = 0; axis < 3; axis++) {
    const stride = strides[axis];
    const [a0, a1] = ranges[axis];
    const others = [0, 1, 2].filter((x) => x !== axis);
    const [p0, p1] = ranges[others[0]];
    const [q0, q1] = ranges[others[1]];
    for (let q = q0; q <= q1; q++) {
      for (let p = p0; p <= p1; p++) {
        const start = p * strides[others[0]] + q * strides[others[1]] + a0 * stride;
        const len = a1 - a0 + 1;
        for (let t = 0; t < len; t++) line[t] = img[start + t * stride];
        for (let t = 0; t < len; t++) {
          const prev = t > 0 ? line[t - 1] : line[t];
          const next = t < len - 1 ? line[t + 1] : line[t];
          img[start + t * stride] = 0.25 * prev + 0.5 * line[t] + 0.25 * next;
        }
      }
    }
  }
}
