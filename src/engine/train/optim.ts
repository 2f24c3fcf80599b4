/**
 * StableAdamW and global gradient-norm clipping, exactly as the reference training loop
 * (Dinomaly/INP-Former/AnyAD `optimizers/StableAdamW.py` + `torch.nn.utils.clip_grad_norm_`)
 * computes them in float32 on the CPU.
 *
 * Every float32 operation of the reference is reproduced as one IEEE float32 operation: the
 * operands are float32 values, the exact result of +, −, ×, ÷ or √ of two float32 values is
 * computed in float64 and rounded once by Math.fround (float64 carries enough bits that this
 * single rounding equals the float32 operation). Python scalars (learning rate, bias
 * corrections) stay float64 until torch casts them to float32, and are cast at the same place.
 * Reductions (norms) are accumulated in float64, more accurately than torch's float32 lanes;
 * that is the only place results can differ, by float32 rounding noise.
 *
 * The two per-element passes run on a WebAssembly SIMD kernel (stableAdamWKernel.ts) that
 * performs the same float32 operations in the same order; the scalar loops here are its
 * fallback and, in the tests, its bit-for-bit oracle.
 */
import type { Params } from './params';
import { kernelApply, kernelMoments, type MomentsConstants } from './stableAdamWKernel';

export interface StableAdamWOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  /** RMS of the would-be update (grad / denom) above which the step size is scaled down. */
  clipThreshold: number;
}

/** The reference's training settings (lr comes from the schedule). */
export const REFERENCE_STABLE_ADAMW: Readonly<StableAdamWOptions> = Object.freeze({
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-10,
  weightDecay: 1e-4,
  amsgrad: true,
  clipThreshold: 1.0,
});

/** The reference clips the global gradient norm to this before every step. */
export const REFERENCE_MAX_GRAD_NORM = 0.1;

export interface AdamParamState {
  /** Steps this parameter has taken (a parameter without a gradient does not step). */
  step: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Present when amsgrad is on. */
  maxExpAvgSq: Float32Array | null;
}

export type Gradients = ReadonlyMap<string, Float32Array> | Readonly<Record<string, Float32Array | undefined>>;

const isGradientMap = (grads: Gradients): grads is ReadonlyMap<string, Float32Array> => grads instanceof Map;

function gradOf(grads: Gradients, name: string): Float32Array | undefined {
  return isGradientMap(grads) ? grads.get(name) : grads[name];
}

function gradNames(grads: Gradients): string[] {
  return isGradientMap(grads) ? [...grads.keys()] : Object.keys(grads).filter((k) => grads[k] !== undefined);
}

const f = Math.fround;

export class StableAdamW {
  readonly options: Readonly<StableAdamWOptions>;
  /** Per-parameter state, created at a parameter's first gradient (as torch does). */
  readonly state = new Map<string, AdamParamState>();
  private scratch = new Float32Array(0);

  constructor(
    readonly params: Params,
    options: Partial<StableAdamWOptions> = {},
  ) {
    const o = { ...REFERENCE_STABLE_ADAMW, ...options };
    const [b1, b2] = o.betas;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new RangeError(`betas must be in [0, 1), got [${o.betas.join(', ')}]`);
    if (!(o.eps >= 0) || !(o.weightDecay >= 0) || !(o.clipThreshold > 0))
      throw new RangeError('eps and weightDecay must be ≥ 0 and clipThreshold > 0');
    this.options = Object.freeze({ ...o, betas: [b1, b2] as [number, number] });
  }

  /**
   * One optimiser step with learning rate `lr`: updates the parameters in place. Parameters
   * missing from `grads` are left untouched (no weight decay either), as the reference skips
   * parameters whose `.grad` is None.
   */
  step(grads: Gradients, lr: number): void {
    for (const name of gradNames(grads)) {
      if (!this.params.has(name)) throw new RangeError(`gradient given for unknown parameter '${name}'`);
    }
    for (const [name, p] of this.params) {
      const g = gradOf(grads, name);
      if (!g) continue;
      if (g.length !== p.data.length) throw new RangeError(`gradient of '${name}' has ${g.length} values, the parameter ${p.data.length}`);
      let st = this.state.get(name);
      if (!st) {
        const n = p.data.length;
        st = {
          step: 0,
          expAvg: new Float32Array(n),
          expAvgSq: new Float32Array(n),
          maxExpAvgSq: this.options.amsgrad ? new Float32Array(n) : null,
        };
        this.state.set(name, st);
      }
      this.stepParam(p.data, g, st, lr);
    }
  }

  private stepParam(p: Float32Array, g: Float32Array, st: AdamParamState, lr: number): void {
    const {
      betas: [beta1, beta2],
      eps,
      weightDecay,
      clipThreshold,
    } = this.options;
    const n = p.length;
    if (this.scratch.length < n) this.scratch = new Float32Array(n);
    const denom = this.scratch.subarray(0, n);

    st.step += 1;
    const bc1 = 1 - beta1 ** st.step;
    const bc2 = 1 - beta2 ** st.step;
    const c: MomentsConstants = {
      // p.data.mul_(1 - lr * wd): the Python float is cast to float32 by the kernel.
      decay: f(1 - lr * weightDecay),
      b1: f(beta1),
      c1: f(1 - beta1),
      b2: f(beta2),
      c2: f(1 - beta2),
      sqrtBc2: f(Math.sqrt(bc2)),
      eps: f(eps),
    };
    const sumSq =
      kernelMoments(p, g, st.expAvg, st.expAvgSq, st.maxExpAvgSq, denom, c) ??
      momentsScalar(p, g, st.expAvg, st.expAvgSq, st.maxExpAvgSq, denom, c);
    // lr_scale = max(1.0, rms(grad / denom) / clip_threshold), rms = norm / sqrt(numel)
    const rms = f(f(Math.sqrt(sumSq)) / f(Math.sqrt(n)));
    const ratio = f(rms / f(clipThreshold));
    // step_size = lr / bc1 / lr_scale; when lr_scale is the (float32) tensor, `float / tensor`
    // is `tensor.reciprocal() * float` in torch, all in float32.
    const stepSize = ratio > 1 ? f(f(1 / ratio) * f(lr / bc1)) : lr / bc1;
    const value = f(-stepSize);
    if (!kernelApply(p, st.expAvg, denom, value)) applyScalar(p, st.expAvg, denom, value);
  }
}

/**
 * StableAdamW's first pass in scalar float32 (the WebAssembly kernel computes the same, bit for
 * bit): p *= decay; exp_avg, exp_avg_sq (and max_exp_avg_sq) updated; denom filled. Returns
 * Σ (grad / denom)², in float64, in index order.
 */
export function momentsScalar(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vmax: Float32Array | null,
  denom: Float32Array,
  c: MomentsConstants,
): number {
  const { decay, b1, c1, b2, c2, sqrtBc2, eps } = c;
  let sumSq = 0;
  for (let i = 0; i < p.length; i++) {
    p[i] = f(p[i] * decay);
    const gi = g[i];
    m[i] = f(f(m[i] * b1) + f(c1 * gi)); // exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
    v[i] = f(f(v[i] * b2) + f(f(c2 * gi) * gi)); // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
    let second = v[i];
    if (vmax) {
      if (second > vmax[i]) vmax[i] = second; // torch.max(max_exp_avg_sq, exp_avg_sq, out=…)
      second = vmax[i];
    }
    const d = f(f(f(Math.sqrt(second)) / sqrtBc2) + eps); // (sqrt / sqrt(bc2)).add_(eps)
    denom[i] = d;
    const r = f(gi / d); // lr_scale = grad / denom
    sumSq += r * r;
  }
  return sumSq;
}

/** StableAdamW's second pass in scalar float32: p.addcdiv_(exp_avg, denom, value=-step_size). */
export function applyScalar(p: Float32Array, m: Float32Array, denom: Float32Array, value: number): void {
  for (let i = 0; i < p.length; i++) p[i] = f(p[i] + f(f(value * m[i]) / denom[i]));
}

/**
 * torch.nn.utils.clip_grad_norm_ (torch 1.13): total L2 norm over all gradients; when it
 * exceeds `maxNorm` the gradients are scaled in place by maxNorm / (total + 1e-6).
 * Returns the norm before clipping.
 */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const list = [...grads];
  if (list.length === 0) return 0;
  let totalSq = 0;
  for (const g of list) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    const norm = f(Math.sqrt(s)); // torch.norm(g) is a float32 tensor
    totalSq += norm * norm;
  }
  const total = f(Math.sqrt(totalSq));
  // clip_coef = max_norm / (total + 1e-6) → (total + 1e-6).reciprocal() * max_norm, float32
  const coef = f(f(1 / f(total + f(1e-6))) * f(maxNorm));
  if (coef < 1) {
    for (const g of list) for (let i = 0; i < g.length; i++) g[i] = f(g[i] * coef);
  }
  return total;
}
