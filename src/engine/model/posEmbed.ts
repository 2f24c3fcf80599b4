/**
 * DINOv2 position embeddings resampled to an input size exactly as the AnyAD reference
 * (dinov2 `interpolate_pos_encoding` with interpolate_offset 0.1, no antialias, under torch
 * 1.13): bicubic (A = −0.75) with torch's *scale-factor* sampling
 * src = f32(G / (h + 0.1))·(i + 0.5) − 0.5, clamped taps, separable over rows (H) and
 * columns (W). The table is computed once in float64 from float32 weights and rounded to
 * float32, then baked into the encoder graph as a constant.
 */
import { ConfigError } from '../errors';
import { interpolationMatrix, scaledSize } from '../graph/interp';

/** The reference's interpolate_offset: the grid size is nudged by 0.1 before dividing. */
export const POS_INTERPOLATE_OFFSET = 0.1;

/** Patch-grid size [rows, cols] of an H×W input; throws when a side is not a multiple of the patch. */
export function patchGrid(height: number, width: number, patchSize: number): [number, number] {
  for (const [name, v] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < patchSize || v % patchSize !== 0) {
      throw new ConfigError('config/image-size', `image ${name} ${v} must be a positive multiple of the patch size ${patchSize}`);
    }
  }
  return [height / patchSize, width / patchSize];
}

/**
 * The position-embedding table for an H×W input: [1 + h·w, D] row-major (row 0 = cls, then
 * patches in row-major order r·w + c). `table` is the checkpoint's [1 + G², D] embedding.
 * When the grid already matches (h·w = G²) and H = W, the table is returned as is (copied),
 * as the reference does.
 */
export function interpolatePosEmbed(
  table: Float32Array,
  embedDim: number,
  posGrid: number,
  height: number,
  width: number,
  patchSize: number,
): Float32Array {
  const d = embedDim;
  const g = posGrid;
  if (table.length !== (1 + g * g) * d) {
    throw new ConfigError(
      'config/pos-embed',
      `position embedding has ${table.length} values, expected (1 + ${g}²)·${d} = ${(1 + g * g) * d}`,
    );
  }
  const [h, w] = patchGrid(height, width, patchSize);
  if (h * w === g * g && height === width) return table.slice();

  // torch 1.13 F.interpolate(scale_factor=(sx, sy)): out = floor(G·s), sampled with 1/s.
  const sx = (h + POS_INTERPOLATE_OFFSET) / g;
  const sy = (w + POS_INTERPOLATE_OFFSET) / g;
  if (scaledSize(g, sx) !== h || scaledSize(g, sy) !== w) {
    throw new ConfigError('config/pos-embed', `position grid ${g} cannot be resampled to ${h}×${w} with the reference's scale factors`);
  }
  const rows = interpolationMatrix(g, h, { mode: 'bicubic', scaleFactor: sx }); // [h, g]
  const cols = interpolationMatrix(g, w, { mode: 'bicubic', scaleFactor: sy }); // [w, g]

  // Separable: first along columns (W), then along rows (H), in float64.
  const tmp = new Float64Array(g * w * d); // [g, w, d]
  for (let i = 0; i < g; i++) {
    for (let c = 0; c < w; c++) {
      const acc = tmp.subarray((i * w + c) * d, (i * w + c + 1) * d);
      for (let j = 0; j < g; j++) {
        const wt = cols[c * g + j];
        if (wt === 0) continue;
        const src = 1 + i * g + j;
        for (let k = 0; k < d; k++) acc[k] += wt * table[src * d + k];
      }
    }
  }
  const out = new Float32Array((1 + h * w) * d);
  out.set(table.subarray(0, d), 0); // cls position, unchanged
  const acc = new Float64Array(d);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      acc.fill(0);
      for (let i = 0; i < g; i++) {
        const wt = rows[r * g + i];
        if (wt === 0) continue;
        const src = (i * w + c) * d;
        for (let k = 0; k < d; k++) acc[k] += wt * tmp[src + k];
      }
      out.set(acc, (1 + r * w + c) * d);
    }
  }
  return out;
}
