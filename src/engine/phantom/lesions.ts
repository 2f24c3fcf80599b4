/**
 * Tumour-like lesions in BraTS 2018 label convention: 1 necrotic / non-enhancing core,
 * 2 peritumoural edema, 4 enhancing tumour (a rim around the core). Each lesion has its
 * own contrast per sequence, and often one of FLAIR/T1/T2 on which it is nearly isointense,
 * so that different sequence subsets carry different evidence, as in real data.
 */
import type { Rng } from '../util/random';
import { Tissue, type BrainModel } from './anatomy';
import { LESION_SIGNAL, NON_ENHANCING_CORE, PHANTOM_SEQUENCES, TISSUE_SIGNAL, type LesionSignal, type PhantomSequence } from './contrast';
import { ValueNoise3D } from './noise';

export const LABEL_NECROTIC = 1;
export const LABEL_EDEMA = 2;
export const LABEL_ENHANCING = 4;

export interface LesionInfo {
  /** Centre voxel on the storage grid. */
  center: [number, number, number];
  /** Semi-axes of the edema in voxels (before the irregular border). */
  radii: [number, number, number];
  /** 'enhancing': necrotic core (1) + enhancing rim (4); 'non-enhancing': core (1) only. */
  kind: 'enhancing' | 'non-enhancing';
  /** The channel sequence on which this lesion is near-isointense, if any. */
  weakSequence?: 'flair' | 't1' | 't2';
  /** Fraction of the full lesion contrast shown per sequence. */
  visibility: Record<PhantomSequence, number>;
  /** Target signal of each compartment per sequence. */
  signal: Record<PhantomSequence, LesionSignal>;
  /** Voxels per label of this lesion (after overlaps with earlier lesions). */
  voxels: { necrotic: number; edema: number; enhancing: number };
}

/** Voxel-wise lesion rasterisation: label map, which lesion, and the soft edema weight. */
export interface LesionMaps {
  seg: Uint8Array;
  /** 1-based lesion index per voxel (0 = none). */
  lesionId: Uint8Array;
  /** Edema blending weight × 255 (soft inner border of the edema). */
  edemaWeight: Uint8Array;
}

const WEAK_CHOICES = ['flair', 't1', 't2'] as const;

export function makeLesions(rng: Rng, brain: BrainModel): { lesions: LesionInfo[]; maps: LesionMaps } {
  const [nx, ny, nz] = brain.dims;
  const n = nx * ny * nz;
  const maps: LesionMaps = { seg: new Uint8Array(n), lesionId: new Uint8Array(n), edemaWeight: new Uint8Array(n) };
  const count = rng.uniform() < 0.7 ? 1 : 2;
  const lesions: LesionInfo[] = [];
  for (let l = 0; l < count; l++) {
    const lesion = designLesion(rng, brain);
    rasterise(rng, brain, lesion, l + 1, maps);
    lesions.push(lesion);
  }
  countLesionVoxels(lesions, maps);
  return { lesions, maps };
}

function designLesion(rng: Rng, brain: BrainModel): LesionInfo {
  const s = brain.scale;
  const re = Math.max(rng.range(9, 22) * s, 4);
  const radii: [number, number, number] = [re * rng.range(0.8, 1.2), re * rng.range(0.8, 1.2), re * rng.range(0.75, 1.1)];
  const center = pickCenter(rng, brain, re);
  const kind = rng.uniform() < 0.65 ? 'enhancing' : 'non-enhancing';
  const weakSequence = rng.uniform() < 0.6 ? WEAK_CHOICES[rng.int(3)] : undefined;
  const visibility = {} as Record<PhantomSequence, number>;
  const signal = {} as Record<PhantomSequence, LesionSignal>;
  const flairCore = rng.range(0.25, 0.9); // necrosis on FLAIR: anything from dark to bright
  for (const seq of PHANTOM_SEQUENCES) {
    // Weak: the edema keeps only 1–6 % contrast against white matter on this sequence.
    visibility[seq] = seq === weakSequence ? Math.min(1, rng.range(0.01, 0.06) / edemaContrast(seq)) : rng.range(0.8, 1.0);
    const base = LESION_SIGNAL[seq];
    const j = () => rng.range(0.93, 1.07);
    const core = kind === 'enhancing' ? (seq === 'flair' ? flairCore : base.core) : NON_ENHANCING_CORE[seq];
    signal[seq] = { edema: base.edema * j(), core: core * j(), rim: base.rim * j() };
  }
  return { center, radii, kind, weakSequence, visibility, signal, voxels: { necrotic: 0, edema: 0, enhancing: 0 } };
}

/** A white-matter / deep-grey voxel in the axial band 56–74 % of the height (80–115 of 155). */
/** Relative edema contrast against white matter, |edema / WM − 1|, of a sequence. */
function edemaContrast(seq: PhantomSequence): number {
  return Math.abs(LESION_SIGNAL[seq].edema / TISSUE_SIGNAL[seq][Tissue.White] - 1);
}

function pickCenter(rng: Rng, brain: BrainModel, re: number): [number, number, number] {
  const [nx, ny, nz] = brain.dims;
  const [i0, i1, j0, j1] = brain.bbox;
  const k0 = Math.round(0.56 * nz);
  const k1 = Math.round(0.74 * nz);
  let fallback: [number, number, number] | undefined;
  for (let tries = 0; tries < 4000; tries++) {
    const i = i0 + rng.int(i1 - i0 + 1);
    const j = j0 + rng.int(j1 - j0 + 1);
    const k = k0 + rng.int(k1 - k0 + 1);
    const idx = i + nx * (j + ny * k);
    const t = brain.tissue[idx];
    if (t === Tissue.Background) continue;
    fallback ??= [i, j, k];
    if ((t === Tissue.White || t === Tissue.DeepGrey) && brain.depth[idx] > 0.35 * re) return [i, j, k];
  }
  if (fallback) return fallback;
  // A brain too small for the band: use the centre of its bounding box.
  return [Math.round((i0 + i1) / 2), Math.round((j0 + j1) / 2), Math.round((brain.bbox[4] + brain.bbox[5]) / 2)];
}

function rasterise(rng: Rng, brain: BrainModel, lesion: LesionInfo, id: number, maps: LesionMaps): void {
  const [nx, ny, nz] = brain.dims;
  const [rx, ry, rz] = lesion.radii;
  const re = (rx + ry + rz) / 3;
  const coreFrac = rng.range(0.3, 0.55);
  // At least 2 voxels thick, so the rim survives the partial-volume blur on small grids.
  const rimOuter = 1 + Math.max(rng.range(2, 4) * brain.scale, 2) / (coreFrac * re);
  const edemaNoise = new ValueNoise3D(rng, brain.dims, Math.max(re * 0.5, 2));
  const coreNoise = new ValueNoise3D(rng, brain.dims, Math.max(re * 0.35, 1.5));
  const [ci, cj, ck] = lesion.center;
  const reach = 1.35;
  const lo = (c: number, r: number) => Math.max(0, Math.floor(c - reach * r));
  const hi = (c: number, r: number, n: number) => Math.min(n - 1, Math.ceil(c + reach * r));
  const enhancing = lesion.kind === 'enhancing';
  const { Background: BG, White: WM, Grey: GM, DeepGrey: DGM } = Tissue; // locals for the hot loop
  for (let k = lo(ck, rz); k <= hi(ck, rz, nz); k++) {
    for (let j = lo(cj, ry); j <= hi(cj, ry, ny); j++) {
      for (let i = lo(ci, rx); i <= hi(ci, rx, nx); i++) {
        const idx = i + nx * (j + ny * k);
        const t = brain.tissue[idx];
        if (t === BG) continue;
        const u = (i - ci) / rx;
        const v = (j - cj) / ry;
        const w = (k - ck) / rz;
        const r = Math.sqrt(u * u + v * v + w * w);
        const de = r / (1 + 0.28 * edemaNoise.sample(i, j, k));
        if (de >= 1) continue;
        const dc = r / (coreFrac * (1 + 0.2 * coreNoise.sample(i, j, k)));
        let label = 0;
        if (dc < 1) label = LABEL_NECROTIC;
        else if (enhancing && dc < rimOuter) label = LABEL_ENHANCING;
        else if (t === WM || t === GM || t === DGM) label = LABEL_EDEMA;
        if (label === 0) continue;
        // Cores and rims win over another lesion's edema; edema never overwrites a core.
        if (label === LABEL_EDEMA && maps.seg[idx] !== 0) continue;
        maps.seg[idx] = label;
        maps.lesionId[idx] = id;
        maps.edemaWeight[idx] = label === LABEL_EDEMA ? Math.round(255 * Math.min(1, (1 - de) / 0.15)) : 255;
      }
    }
  }
}

/** Counts each lesion's voxels per label once all lesions are drawn. */
function countLesionVoxels(lesions: LesionInfo[], maps: LesionMaps): void {
  for (const l of lesions) l.voxels = { necrotic: 0, edema: 0, enhancing: 0 };
  for (let idx = 0; idx < maps.seg.length; idx++) {
    const id = maps.lesionId[idx];
    if (id === 0) continue;
    const v = lesions[id - 1].voxels;
    const label = maps.seg[idx];
    if (label === LABEL_NECROTIC) v.necrotic++;
    else if (label === LABEL_EDEMA) v.edema++;
    else if (label === LABEL_ENHANCING) v.enhancing++;
  }
}
