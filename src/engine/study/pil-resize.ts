/**
 * Bit-exact re-implementation of Pillow 9.4's `Image.resize(size, Image.BILINEAR)` for
 * 8-bit single-channel images (Resample.c, 8bpc path, default box, no reducing_gap).
 *
 * Pillow's "bilinear" is a triangle filter whose support widens with the scale when
 * downsampling (so it antialiases), with coefficients rounded to fixed point
 * (PRECISION_BITS = 32 - 8 - 2). It resizes horizontally first into an 8-bit temporary
 * image (rounded and clipped), then vertically. An RGB image is the same per channel.
 */

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;

interface Coeffs {
  /** Coefficients per output pixel, `ksize` slots each. */
  ksize: number;
  /** [first input index, number of taps] per output pixel. */
  bounds: Int32Array;
  /** Fixed-point weights. */
  kk: Int32Array;
}

function triangle(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize). */
function precomputeCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1.0 * filterscale; // bilinear support is 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5); // C (int) cast truncates
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      let w = x < xmax ? k[x] : 0;
      if (x < xmax && ww !== 0.0) w /= ww;
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE); // == v >> PRECISION_BITS for the positive range here
}

/**
 * Resizes an 8-bit image (row-major, `width`×`height`) to `outWidth`×`outHeight` exactly
 * as Pillow 9.4 BILINEAR does. Returns the input copy when the size does not change.
 */
export function resizeBilinearU8(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height) throw new RangeError(`resizeBilinearU8: ${src.length} pixels is not ${width}×${height}`);
  if (!(outWidth > 0 && outHeight > 0)) throw new RangeError(`resizeBilinearU8: bad output size ${outWidth}×${outHeight}`);
  let img = src;
  let w = width;
  if (outWidth !== width) {
    const { ksize, bounds, kk } = precomputeCoeffs(width, outWidth);
    const out = new Uint8Array(outWidth * height);
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2];
        const n = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        let ss = ONE >> 1;
        for (let x = 0; x < n; x++) ss += img[row + xmin + x] * kk[kb + x];
        out[y * outWidth + xx] = clip8(ss);
      }
    }
    img = out;
    w = outWidth;
  }
  if (outHeight !== height) {
    const { ksize, bounds, kk } = precomputeCoeffs(height, outHeight);
    const out = new Uint8Array(w * outHeight);
    for (let yy = 0; yy < outHeight; yy++) {
      const ymin = bounds[yy * 2];
      const n = bounds[yy * 2 + 1];
      const kb = yy * ksize;
      for (let x = 0; x < w; x++) {
        let ss = ONE >> 1;
        for (let y = 0; y < n; y++) ss += img[(ymin + y) * w + x] * kk[kb + y];
        out[yy * w + x] = clip8(ss);
      }
    }
    img = out;
  }
  return img === src ? src.slice() : img;
}
