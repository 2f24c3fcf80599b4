/**
 * 2-D resampling of one float32 plane (row-major) as torch 1.13's CPU F.interpolate does it,
 * so maps match the reference: source coordinates and weights are computed with torch's
 * float32/float64 mix (ATen UpSample.h), the interpolation itself in float64 and rounded
 * once to float32 (torch rounds each float32 multiply-add; the difference is ~1 ulp).
 */
import { EvalError } from '../errors';

interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float64Array;
  w1: Float64Array;
}

function checkSize(what: string, h: number, w: number): void {
  if (!(Number.isSafeInteger(h) && Number.isSafeInteger(w) && h > 0 && w > 0)) {
    throw new EvalError('eval/bad-size', `${what}: size ${h}×${w} is not a positive integer size`);
  }
}

/**
 * Linear taps of one axis. align_corners=True: src = i·(in−1)/(out−1); False:
 * src = max((i + 0.5)·in/out − 0.5, 0). The scale is a float32 (torch's scalar_t), the source
 * index a double (acc_type), the weight λ1 = float32(src − i0), λ0 = 1 − λ1 in float32; the
 * upper tap is clamped to in − 1. Equal sizes copy (torch's shortcut).
 */
function linearTaps(inSize: number, outSize: number, alignCorners: boolean): AxisTaps {
  const taps: AxisTaps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float64Array(outSize),
    w1: new Float64Array(outSize),
  };
  const scale = alignCorners ? (outSize > 1 ? Math.fround((inSize - 1) / (outSize - 1)) : 0) : Math.fround(inSize / outSize);
  for (let i = 0; i < outSize; i++) {
    if (inSize === outSize) {
      taps.i0[i] = i;
      taps.i1[i] = i;
      taps.w0[i] = 1;
      taps.w1[i] = 0;
      continue;
    }
    let src = alignCorners ? scale * i : scale * (i + 0.5) - 0.5;
    if (src < 0) src = 0;
    const i0 = Math.trunc(src);
    const lambda1 = Math.fround(src - i0);
    taps.i0[i] = i0;
    taps.i1[i] = i0 < inSize - 1 ? i0 + 1 : i0;
    taps.w1[i] = lambda1;
    taps.w0[i] = Math.fround(1 - lambda1);
  }
  return taps;
}

/** F.interpolate(mode='bilinear', align_corners, no antialias) of a [srcH, srcW] plane. */
export function resizeBilinear(
  src: Float32Array,
  srcH: number,
  srcW: number,
  dstH: number,
  dstW: number,
  alignCorners: boolean,
): Float32Array {
  checkSize('bilinear resize source', srcH, srcW);
  checkSize('bilinear resize target', dstH, dstW);
  if (src.length !== srcH * srcW) {
    throw new EvalError('eval/size-mismatch', `bilinear resize: ${src.length} values for a ${srcH}×${srcW} plane`);
  }
  const ty = linearTaps(srcH, dstH, alignCorners);
  const tx = linearTaps(srcW, dstW, alignCorners);
  const out = new Float32Array(dstH * dstW);
  for (let y = 0; y < dstH; y++) {
    const r0 = ty.i0[y] * srcW;
    const r1 = ty.i1[y] * srcW;
    const wy0 = ty.w0[y];
    const wy1 = ty.w1[y];
    for (let x = 0; x < dstW; x++) {
      const c0 = tx.i0[x];
      const c1 = tx.i1[x];
      const wx0 = tx.w0[x];
      const wx1 = tx.w1[x];
      out[y * dstW + x] = wy0 * (wx0 * src[r0 + c0] + wx1 * src[r0 + c1]) + wy1 * (wx0 * src[r1 + c0] + wx1 * src[r1 + c1]);
    }
  }
  return out;
}

/**
 * F.interpolate(mode='nearest') of a [srcH, srcW] mask (the reference resizes ground truth
 * this way): src = min(floor(float32(i · float32(in/out))), in − 1); equal sizes copy and
 * out = 2·in takes i >> 1, as torch's nearest_idx.
 */
export function resizeNearest(src: Uint8Array, srcH: number, srcW: number, dstH: number, dstW: number): Uint8Array;
/** The same nearest-neighbour resize of a float plane (e.g. a score map on the mask's grid). */
export function resizeNearest(src: Float32Array, srcH: number, srcW: number, dstH: number, dstW: number): Float32Array;
export function resizeNearest(
  src: Uint8Array | Float32Array,
  srcH: number,
  srcW: number,
  dstH: number,
  dstW: number,
): Uint8Array | Float32Array {
  checkSize('nearest resize source', srcH, srcW);
  checkSize('nearest resize target', dstH, dstW);
  if (src.length !== srcH * srcW) {
    throw new EvalError('eval/size-mismatch', `nearest resize: ${src.length} values for a ${srcH}×${srcW} plane`);
  }
  const index = (inSize: number, outSize: number): Int32Array => {
    const idx = new Int32Array(outSize);
    const scale = Math.fround(inSize / outSize);
    for (let i = 0; i < outSize; i++) {
      if (outSize === inSize) idx[i] = i;
      else if (outSize === 2 * inSize) idx[i] = i >> 1;
      else idx[i] = Math.min(Math.floor(Math.fround(i * scale)), inSize - 1);
    }
    return idx;
  };
  const iy = index(srcH, dstH);
  const ix = index(srcW, dstW);
  const out = src instanceof Float32Array ? new Float32Array(dstH * dstW) : new Uint8Array(dstH * dstW);
  for (let y = 0; y < dstH; y++) {
    const row = iy[y] * srcW;
    for (let x = 0; x < dstW; x++) out[y * dstW + x] = src[row + ix[x]];
  }
  return out;
}
