/**
 * Pixel work of the viewer, kept free of DOM globals so it is unit-tested in Node: windows
 * from percentiles, colormaps, label colours, and the composition of one slice (intensity +
 * heatmap + contour + label mask + annotation) into RGBA bytes at voxel resolution.
 *
 * Screen convention (the engine's axialImage for axial, radiological): row r, column c of a
 * plane's image shows in-plane voxel (a, b) with b = height − 1 − r (anterior/superior up)
 * and a = width − 1 − c when `flipA` (axial/coronal radiological: patient right on the
 * left; sagittal always: anterior on the left), else a = c.
 */
import { PLANE_AXES, planeShape, type Dims, type Plane } from '../extension/model/planes';
import type { Colormap } from './protocol';

export type Rgb = [number, number, number];

/** Intensity window [lo, hi] from the `pLo`/`pHi` percentiles of the non-zero voxels (sampled). */
export function percentileWindow(v: Float32Array, pLo = 0.01, pHi = 0.99, maxSamples = 200000): [number, number] {
  const step = Math.max(1, Math.floor(v.length / maxSamples));
  const sample: number[] = [];
  for (let i = 0; i < v.length; i += step) if (v[i] !== 0 && Number.isFinite(v[i])) sample.push(v[i]);
  if (sample.length === 0) return [0, 1];
  sample.sort((a, b) => a - b);
  const lo = sample[Math.floor(pLo * (sample.length - 1))];
  const hi = sample[Math.floor(pHi * (sample.length - 1))];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** Finite minimum and maximum (NaN entries, e.g. unscored slices of a heatmap, are skipped). */
export function finiteRange(v: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (!(hi >= lo)) return [0, 1];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

const ANCHORS: Record<Colormap, Rgb[]> = {
  hot: [[0, 0, 0], [230, 0, 0], [255, 210, 0], [255, 255, 255]],
  jet: [[0, 0, 143], [0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0], [128, 0, 0]],
  viridis: [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
};

/** A 256-entry RGB lookup table (flat, 768 bytes) by piecewise-linear interpolation of the map's anchors. */
export function colormapLut(name: Colormap): Uint8Array {
  const anchors = ANCHORS[name];
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (anchors.length - 1);
    const k = Math.min(anchors.length - 2, Math.floor(t));
    const f = t - k;
    for (let ch = 0; ch < 3; ch++) lut[3 * i + ch] = Math.round(anchors[k][ch] * (1 - f) + anchors[k + 1][ch] * f);
  }
  return lut;
}

const LABEL_COLOURS: Rgb[] = [[255, 64, 64], [64, 200, 64], [64, 128, 255], [255, 200, 0], [200, 64, 255], [0, 220, 220], [255, 128, 0], [255, 105, 180]];
/** Display colour of label value `v` (> 0). */
export function labelColour(v: number): Rgb {
  return LABEL_COLOURS[(v - 1) % LABEL_COLOURS.length];
}

export interface SliceLayers {
  base: Float32Array | null;
  window: [number, number];
  heatmap?: { data: Float32Array; range: [number, number]; lut: Uint8Array; opacity: number; threshold: number; contour: boolean } | null;
  mask?: { data: Uint8Array; opacity: number } | null;
  annotation?: { data: Uint8Array; opacity: number } | null;
}

/** In-plane voxel coordinates (a, b) of screen pixel (c, r), or null outside the slice. */
export function screenToPlane(dims: Dims, plane: Plane, flipA: boolean, c: number, r: number): [number, number] | null {
  const { width, height } = planeShape(dims, plane);
  if (!(c >= 0 && r >= 0 && c < width && r < height)) return null;
  return [flipA ? width - 1 - c : c, height - 1 - r];
}

/**
 * Composes slice `slice` of `plane` into `out` (RGBA, width × height of the plane): grey
 * intensities in the window, then heatmap (alpha grows with the normalised value), the
 * threshold contour, the label mask and the annotation, each blended with its opacity.
 */
export function renderSlice(out: Uint8ClampedArray, dims: Dims, plane: Plane, slice: number, flipA: boolean, layers: SliceLayers): void {
  const { width, height } = planeShape(dims, plane);
  const ax = PLANE_AXES[plane];
  const stride = [1, dims[0], dims[0] * dims[1]];
  const sa = stride[ax.a];
  const sb = stride[ax.b];
  const origin = slice * stride[ax.slice];
  const [lo, hi] = layers.window;
  const gain = 255 / (hi - lo);
  const { base, heatmap, mask, annotation } = layers;
  const hScale = heatmap ? 255 / (heatmap.range[1] - heatmap.range[0]) : 0;
  for (let r = 0; r < height; r++) {
    const b = height - 1 - r;
    for (let c = 0; c < width; c++) {
      const a = flipA ? width - 1 - c : c;
      const i = origin + a * sa + b * sb;
      let g = base ? (base[i] - lo) * gain : 0;
      g = g < 0 ? 0 : g > 255 ? 255 : g;
      let R = g;
      let G = g;
      let B = g;
      if (heatmap) {
        const h = heatmap.data[i];
        if (h === h) {
          let t = Math.round((h - heatmap.range[0]) * hScale);
          t = t < 0 ? 0 : t > 255 ? 255 : t;
          const alpha = (heatmap.opacity * t) / 255;
          R += (heatmap.lut[3 * t] - R) * alpha;
          G += (heatmap.lut[3 * t + 1] - G) * alpha;
          B += (heatmap.lut[3 * t + 2] - B) * alpha;
          if (heatmap.contour && h >= heatmap.threshold && isEdge(heatmap.data, heatmap.threshold, i, a, b, sa, sb, width, height)) {
            R = 0; G = 255; B = 255;
          }
        }
      }
      if (mask && mask.data[i] > 0) [R, G, B] = blend(R, G, B, labelColour(mask.data[i]), mask.opacity);
      if (annotation && annotation.data[i] > 0) [R, G, B] = blend(R, G, B, labelColour(annotation.data[i]), annotation.opacity);
      const o = 4 * (r * width + c);
      out[o] = R;
      out[o + 1] = G;
      out[o + 2] = B;
      out[o + 3] = 255;
    }
  }
}

/** A supra-threshold pixel with an in-plane 4-neighbour below threshold (or not computed, or off the slice). */
function isEdge(d: Float32Array, thr: number, i: number, a: number, b: number, sa: number, sb: number, width: number, height: number): boolean {
  return a === 0 || b === 0 || a === width - 1 || b === height - 1
    || !(d[i - sa] >= thr) || !(d[i + sa] >= thr) || !(d[i - sb] >= thr) || !(d[i + sb] >= thr);
}

function blend(R: number, G: number, B: number, c: Rgb, alpha: number): Rgb {
  return [R + (c[0] - R) * alpha, G + (c[1] - G) * alpha, B + (c[2] - B) * alpha];
}
