/**
 * One optimiser step as graph ops: the global gradient-norm clip and StableAdamW (optim.ts),
 * appended to a training graph so that a step's parameters and optimiser state can stay where
 * the session runs (on a GPU: device tensors fed back to the next run, no host copies).
 *
 * The float32 operations are optim.ts's, in the same order; only the reductions (each
 * gradient's norm, StableAdamW's Σ (grad/denom)²) are summed by onnxruntime in float32 where
 * optim.ts sums in float64, so results agree to float32 rounding, not bit for bit. Conditions
 * are written as Clip/Max (no bool tensors on the device): g·min(coef, 1) is g when coef ≥ 1,
 * and lr/bc1·min(1/ratio, 1) is lr/bc1 when ratio ≤ 1, exactly as optim.ts's branches.
 *
 * Every parameter steps at every run (the step count, and so the bias corrections, are shared):
 * a training graph gives every parameter a gradient.
 */
import { type Graph, type Tensor, add, clip, div, maximum, mul, reduceSum, sqrt, sum } from '../graph';
import { REFERENCE_MAX_GRAD_NORM, REFERENCE_STABLE_ADAMW, type StableAdamWOptions } from './optim';

const f = Math.fround;

/** Graph input / output names of the optimiser's state and per-step scalars. */
export const OPTIMIZER_NAMES = {
  expAvg: (p: string) => `opt.exp_avg.${p}`,
  expAvgSq: (p: string) => `opt.exp_avg_sq.${p}`,
  maxExpAvgSq: (p: string) => `opt.max_exp_avg_sq.${p}`,
  /** The updated value of an input: `${name}.next`. */
  next: (input: string) => `${input}.next`,
  /** float32 [1]: 1 − lr·weight decay. */
  decay: 'opt.decay',
  /** float32 [1]: lr / (1 − β1^step). */
  lrOverBc1: 'opt.lr_over_bc1',
  /** float32 [1]: √(1 − β2^step). */
  sqrtBc2: 'opt.sqrt_bc2',
  /** Output: the global gradient norm before clipping. */
  gradNorm: 'opt.grad_norm',
} as const;

/** The per-step scalar feeds of step `step` (1-based) at learning rate `lr`, cast as optim.ts casts them. */
export function optimizerScalars(step: number, lr: number, o: Partial<StableAdamWOptions> = {}): Record<string, Float32Array> {
  const { betas, weightDecay } = { ...REFERENCE_STABLE_ADAMW, ...o };
  return {
    [OPTIMIZER_NAMES.decay]: Float32Array.of(f(1 - lr * weightDecay)),
    [OPTIMIZER_NAMES.lrOverBc1]: Float32Array.of(f(lr / (1 - betas[0] ** step))),
    [OPTIMIZER_NAMES.sqrtBc2]: Float32Array.of(f(Math.sqrt(1 - betas[1] ** step))),
  };
}

/**
 * Appends clip + StableAdamW for `params` (each a graph input or param tensor with its
 * gradient tensor) and outputs every updated parameter and state tensor as `<input>.next`,
 * and the gradient norm. Returns the state input tensors by name.
 */
export function appendStableAdamW(
  g: Graph,
  params: readonly { name: string; value: Tensor; grad: Tensor }[],
  options: Partial<StableAdamWOptions> & { maxGradNorm?: number } = {},
): Map<string, Tensor> {
  const o = { ...REFERENCE_STABLE_ADAMW, ...options };
  const N = OPTIMIZER_NAMES;
  const scalar = (name: string) => g.input(name, [1]);
  const [decay, lrOverBc1, sqrtBc2] = [scalar(N.decay), scalar(N.lrOverBc1), scalar(N.sqrtBc2)];
  // torch.nn.utils.clip_grad_norm_: √Σ‖g‖², coef = (total + 1e-6)⁻¹ · max_norm, applied below 1.
  const norms = params.map((p) => sqrt(reduceSum(mul(p.grad, p.grad), undefined, false)));
  const total = g.output(N.gradNorm, sqrt(sum(norms.map((n) => mul(n, n)))));
  const coef = clip(mul(div(1, add(total, f(1e-6))), f(options.maxGradNorm ?? REFERENCE_MAX_GRAD_NORM)), undefined, 1);
  const state = new Map<string, Tensor>();
  for (const p of params) {
    const grad = mul(p.grad, coef);
    const input = (name: string) => {
      const t = g.input(name, [...p.value.shape]);
      state.set(name, t);
      return t;
    };
    const m = add(mul(input(N.expAvg(p.name)), f(o.betas[0])), mul(grad, f(1 - o.betas[0])));
    const v = add(mul(input(N.expAvgSq(p.name)), f(o.betas[1])), mul(mul(grad, f(1 - o.betas[1])), grad));
    const second = o.amsgrad ? maximum(input(N.maxExpAvgSq(p.name)), v) : v;
    const denom = add(div(sqrt(second), sqrtBc2), f(o.eps));
    const r = div(grad, denom);
    const n = p.value.shape.reduce((a, b) => a * b, 1);
    const ratio = div(div(sqrt(reduceSum(mul(r, r), undefined, false)), f(Math.sqrt(n))), f(o.clipThreshold));
    // −step_size = −lr/bc1 · min(1/ratio, 1); p·decay + (−step_size·m) / denom
    const value = mul(mul(clip(div(1, ratio), undefined, 1), lrOverBc1), -1);
    g.output(N.next(p.name), add(mul(p.value, decay), div(mul(value, m), denom)));
    g.output(N.next(N.expAvg(p.name)), m);
    g.output(N.next(N.expAvgSq(p.name)), v);
    if (o.amsgrad) g.output(N.next(N.maxExpAvgSq(p.name)), second);
  }
  return state;
}

/**
 * Appends the optimiser step to a training graph built by grad(): every parameter with its
 * `grad.<name>` output. The graph then takes the parameters and the optimiser state as inputs
 * and outputs their next values (OPTIMIZER_NAMES.next), whose names it returns: the outputs a
 * device session keeps on the device (SessionOptions.deviceOutputs).
 */
export function appendToTrainingGraph(g: Graph, options: Partial<StableAdamWOptions> & { maxGradNorm?: number } = {}): string[] {
  const outputs = new Map(g.outputs.map((t) => [t.name, t]));
  const params = g.params.map((p) => {
    const grad = outputs.get(`grad.${p.name}`);
    if (!grad) throw new RangeError(`the training graph has no gradient output for parameter '${p.name}'`);
    return { name: p.name, value: p, grad };
  });
  appendStableAdamW(g, params, options);
  // The gradients are used inside the graph now, no longer outputs. A step then fetches every
  // output, in order: onnxruntime-node 1.30 applies preferredOutputLocation by position in the
  // list of outputs fetched, so fetching a subset would put the wrong outputs on the device.
  for (const p of params) g.outputs.splice(g.outputs.indexOf(p.grad), 1);
  const amsgrad = options.amsgrad ?? REFERENCE_STABLE_ADAMW.amsgrad;
  return optimizerStateNames(
    params.map((p) => p.name),
    amsgrad,
  ).map(OPTIMIZER_NAMES.next);
}

/** The names of the state a step feeds and gets back for `params`: the parameters, then their moments. */
export function optimizerStateNames(paramNames: Iterable<string>, amsgrad: boolean): string[] {
  const N = OPTIMIZER_NAMES;
  const names: string[] = [];
  for (const p of paramNames) names.push(p, N.expAvg(p), N.expAvgSq(p), ...(amsgrad ? [N.maxExpAvgSq(p)] : []));
  return names;
}
