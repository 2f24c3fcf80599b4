/**
 * Arithmetic on decoded images and the drawing layer, free of DOM and NiiVue so it is
 * unit-tested in Node: display windows and their presets, NIfTI intensity scaling, telling
 * label images apart, the heatmap's transparent "not computed" voxels, the diff of a drawing
 * action against the confirmed annotation, and the annotation hash the tests compare.
 */

/** The display-range fields NiiVue keeps on an image (any may be missing before it computes them). */
export interface DisplayRange {
  cal_min?: number;
  cal_max?: number;
  robust_min?: number;
  robust_max?: number;
  global_min?: number;
  global_max?: number;
}

/** Robust display window of an image: NiiVue's own robust range (2–98 %), never empty. */
export function autoWindow(img: DisplayRange): [number, number] {
  const lo = img.robust_min ?? img.cal_min ?? 0;
  const hi = img.robust_max ?? img.cal_max ?? 1;
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** A file's intensity scaling as NIfTI says: slope 0 (or absent) means none, and then no intercept either. */
export function niftiScaling(sclSlope: number | undefined, sclInter: number | undefined): { slope: number; inter: number } {
  return { slope: sclSlope || 1, inter: sclSlope ? sclInter || 0 : 0 };
}

/**
 * The pLo and pHi quantiles of an image's non-zero scaled intensities, from a sample of at
 * most about 200,000 voxels; [0, 1] for an all-zero image.
 */
export function percentiles(
  data: ArrayLike<number>,
  scaling: { slope: number; inter: number },
  pLo: number,
  pHi: number,
): [number, number] {
  const step = Math.max(1, Math.floor(data.length / 200000));
  const sample: number[] = [];
  for (let i = 0; i < data.length; i += step) if (data[i] !== 0) sample.push(data[i] * scaling.slope + scaling.inter);
  if (!sample.length) return [0, 1];
  sample.sort((a, b) => a - b);
  return [sample[Math.floor(pLo * (sample.length - 1))], sample[Math.floor(pHi * (sample.length - 1))]];
}

export type WindowPreset = 'auto' | 'full' | 'narrow' | 'custom';

/**
 * The display range a W/L preset picks: full range, the 5–95 % of non-zero voxels, the
 * typed min/max, or (any other value) the robust window. Null when it is empty or not a number.
 */
export function windowRange(
  preset: string,
  img: DisplayRange,
  data: ArrayLike<number>,
  scaling: { slope: number; inter: number },
  typed: { min: string; max: string },
): [number, number] | null {
  let lo: number | undefined;
  let hi: number | undefined;
  if (preset === 'full') [lo, hi] = [img.global_min ?? img.cal_min, img.global_max ?? img.cal_max];
  else if (preset === 'narrow') [lo, hi] = percentiles(data, scaling, 0.05, 0.95);
  else if (preset === 'custom') [lo, hi] = [Number(typed.min), Number(typed.max)];
  else [lo, hi] = autoWindow(img);
  return lo !== undefined && hi !== undefined && hi > lo ? [lo, hi] : null;
}

const DATATYPE_NAMES: Record<number, string> = {
  2: 'uint8',
  4: 'int16',
  8: 'int32',
  16: 'float32',
  64: 'float64',
  256: 'int8',
  512: 'uint16',
  768: 'uint32',
};

/** The NIfTI datatype code's name ('other' for the rest). */
export function datatypeName(code: number): string {
  return DATATYPE_NAMES[code] ?? 'other';
}

/** An overlay of small non-negative integers (integer type, at most 64 values in 0..255 over a 1-in-7 sample) is a label image. */
export function isLabelData(data: ArrayLike<number> | null, datatypeCode: number): boolean {
  if (!data || !/^(uint8|int8|uint16|int16|int32|uint32)$/.test(datatypeName(datatypeCode))) return false;
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i += 7) {
    const v = data[i];
    if (v < 0 || v > 255) return false;
    seen.add(v);
    if (seen.size > 64) return false;
  }
  return true;
}

/** Largest label of a label image, at least the table's own largest (and 1), at most 255: its colour table stops there. */
export function labelMax(data: ArrayLike<number>, tableValues: readonly number[]): number {
  let max = Math.max(...tableValues, 1);
  for (let i = 0; i < data.length; i++) if (data[i] > max) max = data[i];
  return Math.min(255, max);
}

/** Heatmap values for display: NaN (not computed) goes below the colour range, so it is transparent. */
export function heatmapDisplayValues(values: Float32Array, range: [number, number]): Float32Array {
  const [lo, hi] = range;
  return values.map((v) => (v === v ? v : lo - (hi - lo)));
}

/**
 * The voxels a drawing action changed against the confirmed bitmap `mirror` (both in draw
 * order): their canonical indices (ascending) and new values, as one edit for the host.
 * `mirror` is updated to the bitmap. Null when nothing changed or the sizes differ.
 */
export function drawingEdit(
  bitmap: Uint8Array,
  mirror: Uint8Array,
  drawToCanonicalIndex: (j: number) => number,
): { indices: Uint32Array<ArrayBuffer>; values: Uint8Array<ArrayBuffer> } | null {
  if (bitmap.length !== mirror.length) return null;
  const changed: [number, number][] = [];
  for (let j = 0; j < bitmap.length; j++) {
    if (bitmap[j] !== mirror[j]) {
      changed.push([drawToCanonicalIndex(j), bitmap[j]]);
      mirror[j] = bitmap[j];
    }
  }
  if (changed.length === 0) return null;
  changed.sort((a, b) => a[0] - b[0]);
  return { indices: new Uint32Array(changed.map((c) => c[0])), values: new Uint8Array(changed.map((c) => c[1])) };
}

/** True when two bitmaps hold the same values (lengths must match). */
export function sameBitmap(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** FNV-1a (32-bit) of an annotation in the file's voxel order: the end-to-end tests compare it with the saved file. */
export function annotationHash(annotation: ArrayLike<number>): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < annotation.length; i++) hash = Math.imul(hash ^ annotation[i], 0x01000193);
  return hash >>> 0;
}
