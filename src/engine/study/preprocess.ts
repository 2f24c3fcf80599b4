/**
 * Per-slice preprocessing, arithmetic-for-arithmetic as the reference (predict.py
 * `load_single_image` + its torchvision transforms), for each channel [FLAIR, T1, T2]:
 *
 *   1. min–max in float32: (img - min) / (max - min + 1e-8)   (numpy: the denominator is
 *      a float64 scalar, cast back to float32 for the array division)
 *   2. ×255 in float32, truncated to uint8
 *   3. Resize((R, R)): Pillow BILINEAR on the 8-bit image
 *   4. ToTensor: ÷255 in float32
 *   5. CenterCrop(C): top = round((R - C) / 2) with Python's round-half-even
 *   6. Normalize: (x - mean[c]) / std[c] in float32, ImageNet mean/std
 *   7. a channel whose sequence is not in the subset is exactly 0.0
 *
 * The reference starts from 8-bit PNG slices; we start from the volume's float values, so
 * step 1 sees the original intensities (no extra 8-bit quantisation before it).
 */
import { StudyError } from '../errors';
import { CHANNELS, type ChannelName, type ModalitySubset } from './modalities';
import { resizeBilinearU8 } from './pil-resize';

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

export interface PreprocessGeometry {
  /** Square resize size R. */
  resize: number;
  /** Centre crop size C (<= R). */
  crop: number;
}

/** Step 1–2: float32 min–max normalisation, ×255, truncated to uint8. NaNs become 0. */
export function minMaxToUint8(img: Float32Array): Uint8Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < img.length; i++) {
    const v = img[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Uint8Array(img.length);
  if (min === Infinity) return out; // empty or all NaN
  min = Math.fround(min);
  const range = Math.fround(max - min);
  const denom = Math.fround(range + 1e-8);
  for (let i = 0; i < img.length; i++) {
    const v = img[i];
    if (v !== v) continue;
    const x = Math.fround(Math.fround(v - min) / denom);
    out[i] = Math.fround(x * 255); // Uint8Array store truncates x in [0, 255]
  }
  return out;
}

/** torchvision's CenterCrop offset: int(round((size - crop) / 2.0)), round half to even. */
export function centerCropOffset(size: number, crop: number): number {
  const h = (size - crop) / 2;
  const f = Math.floor(h);
  if (h - f !== 0.5) return Math.round(h);
  return f % 2 === 0 ? f : f + 1;
}

function checkGeometry(width: number, height: number, geom: PreprocessGeometry, expectedLength: number, got: number, what: string): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new StudyError('study/bad-slice', `slice size must be positive integers, got ${width}×${height}`);
  }
  if (got !== expectedLength)
    throw new StudyError('study/bad-slice', `${what} has ${got} values, expected ${width}×${height} = ${expectedLength}`);
  if (!(Number.isInteger(geom.resize) && Number.isInteger(geom.crop) && geom.crop > 0 && geom.crop <= geom.resize)) {
    throw new StudyError(
      'study/bad-geometry',
      `preprocess geometry needs integers 0 < crop <= resize, got resize ${geom.resize}, crop ${geom.crop}`,
    );
  }
}

const normTables: Float32Array[] = [];
/** Channel c's value of each uint8 pixel: (u/255 − mean)/std in float32, the reference's arithmetic. */
function normalisationTable(c: number): Float32Array {
  if (!normTables[c]) {
    const mean = Math.fround(IMAGENET_MEAN[c]);
    const std = Math.fround(IMAGENET_STD[c]);
    normTables[c] = Float32Array.from({ length: 256 }, (_, u) => Math.fround(Math.fround(u / 255) - mean) / std);
  }
  return normTables[c];
}

/**
 * Preprocesses one slice into the model input `[3, C, C]` (channel-major, float32).
 * `slices` holds the axial images (row-major, `width`×`height`) of the available
 * sequences; every channel of `subset` must be there. Channels outside the subset are 0.
 */
export function preprocessSlice(
  slices: Partial<Record<ChannelName, Float32Array>>,
  width: number,
  height: number,
  subset: ModalitySubset,
  geom: PreprocessGeometry,
): Float32Array {
  const { resize: R, crop: C } = geom;
  const out = new Float32Array(3 * C * C);
  const top = centerCropOffset(R, C);
  const left = centerCropOffset(R, C);
  CHANNELS.forEach((name, c) => {
    if (!subset.keep[c]) return;
    const img = slices[name];
    if (!img)
      throw new StudyError(
        'study/missing-sequence',
        `modality subset ${subset.label} needs a ${name.toUpperCase()} slice, but none was given`,
      );
    checkGeometry(width, height, geom, width * height, img.length, `the ${name} slice`);
    // Only the centre crop of the resized image is computed (same pixels as resize-then-crop).
    const u8 = resizeBilinearU8(minMaxToUint8(img), width, height, R, R, { left, top, width: C, height: C });
    const lut = normalisationTable(c);
    const base = c * C * C;
    for (let i = 0; i < C * C; i++) out[base + i] = lut[u8[i]];
  });
  return out;
}

/**
 * The label mask of a slice on the model's `C×C` input grid (1 = anomalous pixel).
 * Geometry as the reference's ground-truth transform (Resize with PIL bilinear, then
 * CenterCrop): the binary mask as a 0/255 8-bit image is resized with the same exact
 * Pillow bilinear as the images, cropped, and thresholded at > 0.5 (value >= 128).
 * `anomalyLabels` 'any' counts every label > 0.
 */
export function preprocessMask(
  label: Float32Array,
  width: number,
  height: number,
  geom: PreprocessGeometry,
  anomalyLabels: 'any' | readonly number[] = 'any',
): Uint8Array {
  checkGeometry(width, height, geom, width * height, label.length, 'the label slice');
  const { resize: R, crop: C } = geom;
  const bin = new Uint8Array(label.length);
  const isAnomalous = anomalyPredicate(anomalyLabels);
  for (let i = 0; i < label.length; i++) if (isAnomalous(label[i])) bin[i] = 255;
  const u8 = resizeBilinearU8(bin, width, height, R, R);
  const top = centerCropOffset(R, C);
  const out = new Uint8Array(C * C);
  for (let y = 0; y < C; y++) for (let x = 0; x < C; x++) out[y * C + x] = u8[(y + top) * R + top + x] >= 128 ? 1 : 0;
  return out;
}

/** Whether a label value counts as anomalous. */
export function anomalyPredicate(anomalyLabels: 'any' | readonly number[]): (v: number) => boolean {
  if (anomalyLabels === 'any') return (v) => v > 0;
  const set = new Set(anomalyLabels);
  return (v) => set.has(Math.round(v));
}
