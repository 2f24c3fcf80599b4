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

/** Output window of a resize: columns [left, left + width), rows [top, top + height). */
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

const coeffCache = new Map<string, Coeffs>();
/** Coefficients are pure functions of the sizes: a volume's slices share them. */
function coeffs(inSize: number, outSize: number): Coeffs {
  const key = `${inSize}>${outSize}`;
  let c = coeffCache.get(key);
  if (!c) {
    if (coeffCache.size > 64) coeffCache.clear();
    c = precomputeCoeffs(inSize, outSize);
    coeffCache.set(key, c);
  }
  return c;
}

/**
 * Resizes an 8-bit image (row-major, `width`×`height`) to `outWidth`×`outHeight` exactly
 * as Pillow 9.4 BILINEAR does. Returns the input copy when the size does not change.
 * `window`: only that part of the output (e.g. a centre crop), each pixel the same as in the
 * full output; the horizontal pass then skips columns and the vertical pass rows nobody reads.
 */
export function resizeBilinearU8(
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  window?: ResizeWindow,
): Uint8Array {
  if (src.length !== width * height) throw new RangeError(`resizeBilinearU8: ${src.length} pixels is not ${width}×${height}`);
  if (!(outWidth > 0 && outHeight > 0)) throw new RangeError(`resizeBilinearU8: bad output size ${outWidth}×${outHeight}`);
  const win = window ?? { left: 0, top: 0, width: outWidth, height: outHeight };
  if (!(
    win.left >= 0 &&
    win.top >= 0 &&
    win.width > 0 &&
    win.height > 0 &&
    win.left + win.width <= outWidth &&
    win.top + win.height <= outHeight
  )) {
    throw new RangeError(`resizeBilinearU8: window ${JSON.stringify(win)} is outside ${outWidth}×${outHeight}`);
  }
  const img = horizontalPass(src, width, height, outWidth, win);
  const out = verticalPass(img, height, outHeight, win);
  return out === src || out.buffer === src.buffer ? out.slice() : out;
}

/** The window's columns of every input row, resized horizontally (an identity pass just crops). */
function horizontalPass(src: Uint8Array, width: number, height: number, outWidth: number, win: ResizeWindow): Uint8Array {
  const w = win.width;
  if (outWidth === width) {
    if (win.left === 0 && w === width) return src;
    const img = new Uint8Array(w * height);
    for (let y = 0; y < height; y++) img.set(src.subarray(y * width + win.left, y * width + win.left + w), y * w);
    return img;
  }
  const { ksize, bounds, kk } = coeffs(width, outWidth);
  const img = new Uint8Array(w * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < w; i++) {
      const xx = win.left + i;
      const xmin = bounds[xx * 2];
      const n = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      let ss = ONE >> 1;
      for (let x = 0; x < n; x++) ss += src[row + xmin + x] * kk[kb + x];
      img[y * w + i] = clip8(ss);
    }
  }
  return img;
}

/** The window's rows of the horizontally resized image (`win.width` wide), resized vertically. */
function verticalPass(img: Uint8Array, height: number, outHeight: number, win: ResizeWindow): Uint8Array {
  const w = win.width;
  if (outHeight === height) return img.subarray(win.top * w, (win.top + win.height) * w);
  const { ksize, bounds, kk } = coeffs(height, outHeight);
  const out = new Uint8Array(w * win.height);
  for (let j = 0; j < win.height; j++) {
    const yy = win.top + j;
    const ymin = bounds[yy * 2];
    const n = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    for (let x = 0; x < w; x++) {
      let ss = ONE >> 1;
      for (let y = 0; y < n; y++) ss += img[(ymin + y) * w + x] * kk[kb + y];
      out[j * w + x] = clip8(ss);
    }
  }
  return out;
}
