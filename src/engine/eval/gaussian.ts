/** The reference's Gaussian smoothing of anomaly maps: get_gaussian_kernel(5, 4) + Conv2d(padding=2). */
import { EvalError } from '../errors';

/**
 * The kernel as the reference builds it, in float32: grid 0..size−1, mean (size−1)/2,
 * variance σ², k = 1/(2π·σ²) · exp(−((x−m)² + (y−m)²) / (2σ²)), then k /= Σk.
 * Each float32 operation is rounded as torch rounds it (exp rounded from float64); the
 * golden test checks the result bit for bit.
 * Row-major [size, size]; symmetric, so x/y order does not matter.
 */
export function gaussianKernel(size = 5, sigma = 4): Float32Array {
  const f = Math.fround;
  const mean = f((size - 1) / 2);
  const variance = f(sigma ** 2);
  const twoVar = f(2 * variance);
  const norm = f(1 / (2 * Math.PI * variance));
  const k = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = f(x - mean);
      const dy = f(y - mean);
      const d2 = f(f(dx * dx) + f(dy * dy));
      k[y * size + x] = f(norm * f(Math.exp(f(-d2 / twoVar))));
    }
  }
  // torch's float32 sum is pairwise/vectorised; summing in float64 and rounding once gives
  // the same float32 here (a sequential float32 sum would be 1 ulp off).
  let sum = 0;
  for (const v of k) sum += v;
  const total = f(sum);
  for (let i = 0; i < k.length; i++) k[i] = f(k[i] / total);
  return k;
}

/**
 * 2-D cross-correlation of a [h, w] plane with a square odd kernel, zero padding so the
 * output keeps the size (borders are pulled toward 0, as the reference's Conv2d does).
 * Sums in float64, rounds once to float32.
 */
export function convolveZeroPad(src: Float32Array, h: number, w: number, kernel: Float32Array): Float32Array {
  const size = Math.round(Math.sqrt(kernel.length));
  if (size * size !== kernel.length || size % 2 !== 1) {
    throw new EvalError('eval/bad-kernel', `convolution kernel of ${kernel.length} values is not an odd square`);
  }
  if (src.length !== h * w) throw new EvalError('eval/size-mismatch', `convolution: ${src.length} values for a ${h}×${w} plane`);
  const r = (size - 1) / 2;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const ky0 = Math.max(0, r - y);
    const ky1 = Math.min(size - 1, h - 1 - y + r);
    for (let x = 0; x < w; x++) {
      const kx0 = Math.max(0, r - x);
      const kx1 = Math.min(size - 1, w - 1 - x + r);
      let acc = 0;
      for (let ky = ky0; ky <= ky1; ky++) {
        const row = (y + ky - r) * w + (x - r);
        const krow = ky * size;
        for (let kx = kx0; kx <= kx1; kx++) acc += kernel[krow + kx] * src[row + kx];
      }
      out[y * w + x] = acc;
    }
  }
  return out;
}
