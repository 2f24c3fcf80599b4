/**
 * Reverse-mode autodiff over a Graph. `grad(loss, wrt)` appends backward nodes (built with
 * the same ops, so they are shape-checked too) and returns d loss / d wrt.
 *
 * - Only units (nodes, or composites as a whole) on a path from `wrt` to `loss` get a
 *   backward; everything else is left alone (and pruned at emission if unused).
 * - A tensor read by several units gets its gradient contributions summed by one Sum node.
 * - Backward rules reuse forward tensors; nothing of the forward pass is re-emitted.
 * - Broadcasting is undone with ReduceSum over the broadcast axes + Reshape.
 * - stopGradient blocks the flow; scaleGradient multiplies it by its scale tensor.
 * - Reductions to max/min send the gradient to the extremal entries, split equally among ties.
 */
import { GraphError } from '../errors';
import {
  cast,
  concat,
  convTranspose,
  div,
  equal,
  exp,
  expand,
  gather,
  greater,
  greaterOrEqual,
  lessOrEqual,
  log,
  matmul,
  mul,
  neg,
  pad,
  pow,
  reduceSum,
  reshape,
  slice,
  split,
  sub,
  sum,
  transpose,
  transposeLast2,
  unsqueeze,
  where,
  and,
} from './ops';
import { layerNormBackward } from './composites';
import {
  type Composite,
  type Node,
  type Shape,
  type Tensor,
  firstOutputGradient,
  fmt,
  graphError,
  isFloat,
  sameShape,
  sizeOf,
} from './tensor';

export interface GradOptions {
  /** Declare each gradient as a graph output named `${prefix}${param.name}` (default true, prefix 'grad.'). */
  outputs?: boolean;
  prefix?: string;
}

/** Backward of an op whose gradient flows from its first output (every op but Split): g is that output's gradient. */
type Rule = (node: Node, g: Tensor, needs: readonly boolean[]) => Array<Tensor | null>;
/** Backward of an op with several differentiable outputs: a missing output gradient is null (zero). */
type MultiOutputRule = (node: Node, gs: ReadonlyArray<Tensor | null>, needs: readonly boolean[]) => Array<Tensor | null>;

/** A broken invariant of grad itself or of a graph's construction (a bug, not the caller's mistake). */
function internalError(message: string): GraphError {
  return new GraphError('graph/internal', `grad: ${message}`);
}

/** Input k of n, which n's op requires (its builder never leaves it out). */
function inputOf(n: Node, k: number): Tensor {
  const t = n.inputs[k];
  if (!t) throw internalError(`${n.opType} ${n.name} has no input ${k}`);
  return t;
}

/** Gradients of a scalar `loss` with respect to each tensor of `wrt` (zeros where it does not depend on it). */
export function grad(loss: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  checkGradArguments(loss, wrt);
  const graph = loss.graph;
  const nodes = graph.nodes.slice();
  const relevant = onPathFromWrtToLoss(nodes, loss, wrt);
  const grads = new GradientSums();
  const rebuilt = new RebuiltForwardValues();
  return graph.scope('grad', () => {
    grads.add(loss, expand(graph.scalar(1, loss.dtype), loss.shape));
    const seen = new Set<Composite>();
    // Creation order is topological: walking it backwards settles each output's gradient before its unit is visited.
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      if (n.composite && seen.has(n.composite)) continue;
      if (n.composite) seen.add(n.composite);
      backpropagateUnit(n, relevant, grads, rebuilt);
    }
    const prefix = opts.prefix ?? 'grad.';
    return wrt.map((t) => {
      const r = grads.of(t) ?? zeros(t);
      return opts.outputs === false ? r : graph.output(`${prefix}${t.name}`, r);
    });
  });
}

function checkGradArguments(loss: Tensor, wrt: readonly Tensor[]): void {
  if (!isFloat(loss.dtype) || loss.size !== 1)
    throw graphError('grad', `the loss must be a float scalar, got ${loss.dtype}${fmt(loss.shape)} ${loss.name}`);
  for (const t of wrt) {
    if (t.graph !== loss.graph) throw graphError('grad', `${t.name} belongs to another graph`);
    if (!isFloat(t.dtype)) throw graphError('grad', `cannot differentiate with respect to ${t.dtype} tensor ${t.name}`);
  }
}

/** Whether a tensor both depends on `wrt` (through differentiable float values) and feeds the loss. */
function onPathFromWrtToLoss(nodes: readonly Node[], loss: Tensor, wrt: readonly Tensor[]): (t: Tensor | null) => t is Tensor {
  const dependsOnWrt = new Set<Tensor>(wrt);
  for (const n of nodes) {
    if (n.gradMarker?.kind === 'stop') continue;
    if (n.inputs.some((t) => t && dependsOnWrt.has(t))) for (const o of n.outputs) if (isFloat(o.dtype)) dependsOnWrt.add(o);
  }
  const feedsLoss = new Set<Tensor>([loss]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n.outputs.some((o) => feedsLoss.has(o))) for (const t of n.inputs) if (t) feedsLoss.add(t);
  }
  return (t): t is Tensor => t !== null && dependsOnWrt.has(t) && feedsLoss.has(t);
}

/** Each tensor's gradient contributions, summed by one Sum node the first time the total is asked for. */
/**
 * Forward values a composite rebuilds for the backward (Composite.recompute): built once, where
 * the first rule reads them, so the forward value dies after its forward uses (GELU's 4·D-wide
 * output is the largest such value in a ViT's training graph).
 */
class RebuiltForwardValues {
  private readonly built = new Map<Tensor, Tensor>();

  private of(t: Tensor | null): Tensor | null {
    const c = t?.producer?.composite;
    const recipe = t && c?.recompute?.[c.outputs.indexOf(t)];
    if (!t || !recipe) return t;
    let r = this.built.get(t);
    if (!r) {
      r = recipe();
      this.built.set(t, r);
    }
    return r;
  }

  /** `n` with each input a composite rebuilds replaced by its rebuilt value (`n` itself when none is). */
  inputsOf(n: Node): Node {
    const inputs = n.inputs.map((t) => this.of(t));
    return inputs.some((t, k) => t !== n.inputs[k]) ? { ...n, inputs } : n;
  }
}

class GradientSums {
  private readonly contributions = new Map<Tensor, Tensor[]>();
  private readonly settled = new Map<Tensor, Tensor>();

  add(t: Tensor, g: Tensor): void {
    if (this.settled.has(t)) throw internalError(`a gradient contribution to ${t.name} arrived after its total was used`);
    const list = this.contributions.get(t) ?? [];
    list.push(g);
    this.contributions.set(t, list);
  }

  /** The total gradient of t, or null when nothing contributed to it. */
  of(t: Tensor): Tensor | null {
    const done = this.settled.get(t);
    if (done) return done;
    const list = this.contributions.get(t);
    if (!list) return null;
    const s = sum(list);
    this.settled.set(t, s);
    return s;
  }
}

/** Appends the backward of one unit (n, or the composite n belongs to) and records its inputs' gradient contributions. */
function backpropagateUnit(n: Node, relevant: (t: Tensor | null) => t is Tensor, grads: GradientSums, rebuilt: RebuiltForwardValues): void {
  const unit = n.composite ?? n;
  const ins = unit.inputs;
  if (!unit.outputs.some(relevant)) return;
  const needs = ins.map(relevant);
  if (!needs.some(Boolean)) return;
  const gOut = unit.outputs.map((o) => (relevant(o) ? grads.of(o) : null));
  if (gOut.every((x) => x === null)) return;
  let gIn: Array<Tensor | null>;
  if (n.composite) {
    gIn = n.composite.vjp(gOut, needs);
  } else {
    const rule = ruleFor(n);
    if (!rule) {
      const onPath = ins.flatMap((t, k) => (t && needs[k] ? [t.name] : []));
      throw new GraphError(
        'graph/no-gradient',
        `grad: ${n.opType} (${n.name}) has no gradient rule, but ${onPath.join(', ')} lies on a path from the parameters to the loss`,
      );
    }
    gIn = rule(rebuilt.inputsOf(n), gOut, needs);
  }
  ins.forEach((t, k) => {
    const gk = gIn[k];
    if (!t || !needs[k] || !gk) return;
    if (!sameShape(gk.shape, t.shape) || gk.dtype !== t.dtype)
      throw internalError(`rule for ${unit.name} gave ${gk.dtype}${fmt(gk.shape)} for input ${t.name} of ${t.dtype}${fmt(t.shape)}`);
    grads.add(t, gk);
  });
}

function zeros(t: Tensor): Tensor {
  return expand(t.graph.scalar(0, t.dtype), t.shape);
}

/** Sums g over the axes along which an operand of shape `shape` was broadcast to g's shape. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const d = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < d || (shape[i - d] === 1 && g.shape[i] !== 1)) axes.push(i);
  // Only leading axes broadcast (e.g. a bias): reduce them away directly, no Reshape needed.
  if (axes.every((a) => a < d)) return reduceSum(g, axes, false);
  return reshape(axes.length ? reduceSum(g, axes, true) : g, [...shape]);
}

/** The source of t when t is a Transpose that swaps only the last two axes (as in x·Wᵀ). */
function swappedSource(t: Tensor): Tensor | undefined {
  const n = t.producer;
  if (n?.opType !== 'Transpose' || n.gradMarker) return undefined;
  const perm = intsAttr(n, 'perm');
  const r = perm.length;
  return perm.every((v, i) => (i < r - 2 ? v === i : v === (i === r - 2 ? r - 1 : r - 2))) ? inputOf(n, 0) : undefined;
}

/** t with its last two axes swapped, reusing the source when t is itself such a transpose. */
function swapLast2(t: Tensor): Tensor {
  return swappedSource(t) ?? transposeLast2(t);
}

function constInts(t: Tensor | null, what: string): number[] {
  if (!t || t.kind !== 'constant' || !(t.data instanceof BigInt64Array))
    throw new GraphError('graph/internal', `grad: ${what} must be an int64 constant`);
  return Array.from(t.data, Number);
}

function intAttr(n: Node, name: string): number {
  const a = n.attrs[name];
  if (!a || a.kind !== 'int') throw new GraphError('graph/internal', `grad: ${n.name} lacks int attribute ${name}`);
  return a.value;
}

function intsAttr(n: Node, name: string): number[] {
  const a = n.attrs[name];
  if (!a || a.kind !== 'ints') throw new GraphError('graph/internal', `grad: ${n.name} lacks ints attribute ${name}`);
  return [...a.value];
}

function reduceAxes(n: Node): number[] {
  return n.opType === 'ReduceSum' ? constInts(n.inputs[1], 'ReduceSum axes') : intsAttr(n, 'axes');
}

/** Upstream gradient of a reduction, broadcast back to the input's shape (keepdims layout first). */
function keepdimsGrad(n: Node, g: Tensor): { gKeep: Tensor; keepShape: number[]; axes: number[] } {
  const x = inputOf(n, 0);
  const axes = reduceAxes(n);
  const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return { gKeep: reshape(g, keepShape), keepShape, axes };
}

const in0 = (n: Node): Tensor => inputOf(n, 0);
const in1 = (n: Node): Tensor => inputOf(n, 1);
const out0 = (n: Node): Tensor => n.outputs[0];
/** Applies `f` only where the input needs a gradient. */
const when = (need: boolean, f: () => Tensor): Tensor | null => (need ? f() : null);

/** The value of a scalar constant, if t is one. */
function scalarConstant(t: Tensor): number | undefined {
  if (t.kind !== 'constant' || t.size !== 1 || !(t.data instanceof Float32Array || t.data instanceof Float64Array)) return undefined;
  return t.data[0];
}

const RULES: Record<string, Rule> = {
  Identity: (n, g) => [g],
  Add: (n, g, [na, nb]) => [when(na, () => unbroadcast(g, in0(n).shape)), when(nb, () => unbroadcast(g, in1(n).shape))],
  Sub: (n, g, [na, nb]) => [when(na, () => unbroadcast(g, in0(n).shape)), when(nb, () => neg(unbroadcast(g, in1(n).shape)))],
  Sum: (n, g, needs) => n.inputs.map((_, k) => when(needs[k], () => unbroadcast(g, inputOf(n, k).shape))),
  Mul: (n, g, [na, nb]) => [
    when(na, () => unbroadcast(mul(g, in1(n)), in0(n).shape)),
    when(nb, () => unbroadcast(mul(g, in0(n)), in1(n).shape)),
  ],
  Div: (n, g, [na, nb]) => [
    when(na, () => unbroadcast(div(g, in1(n)), in0(n).shape)),
    // d(a/b)/db = −(a/b)/b
    when(nb, () => unbroadcast(neg(div(mul(g, out0(n)), in1(n))), in1(n).shape)),
  ],
  Pow: (n, g, [na, nb]) => {
    const [a, b] = [in0(n), in1(n)];
    return [
      when(na, () => {
        const c = scalarConstant(b);
        const slope = c === undefined ? mul(b, pow(a, sub(b, 1))) : c === 2 ? mul(a, 2) : c === 1 ? undefined : mul(pow(a, c - 1), c);
        return unbroadcast(slope ? mul(g, slope) : g, a.shape);
      }),
      when(nb, () => unbroadcast(mul(g, mul(out0(n), log(a))), b.shape)),
    ];
  },
  Neg: (n, g) => [neg(g)],
  Sqrt: (n, g) => [div(mul(g, 0.5), out0(n))],
  Exp: (n, g) => [mul(g, out0(n))],
  Log: (n, g) => [div(g, in0(n))],
  Erf: (n, g) => {
    const x = in0(n);
    return [mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
  Relu: (n, g) => [where(greater(out0(n), 0), g, 0)],
  Sigmoid: (n, g) => {
    const y = out0(n);
    return [mul(g, mul(y, sub(1, y)))];
  },
  Tanh: (n, g) => {
    const y = out0(n);
    return [mul(g, sub(1, mul(y, y)))];
  },
  Clip: (n, g) => {
    const [x, lo, hi] = [in0(n), n.inputs[1], n.inputs[2]];
    const inside = lo && hi ? and(greaterOrEqual(x, lo), lessOrEqual(x, hi)) : lo ? greaterOrEqual(x, lo) : lessOrEqual(x, inputOf(n, 2));
    // A float mask, not Where(bool): onnxruntime's layout optimiser may move a Transpose onto
    // the condition, and the WebGPU provider has no bool Transpose (it would run on the CPU).
    return [mul(g, cast(inside, x.dtype))];
  },
  Cast: (n, g) => [cast(g, in0(n).dtype)],
  Where: (n, g, [, na, nb]) => {
    const [c, a, b] = [in0(n), in1(n), inputOf(n, 2)];
    return [null, when(na, () => unbroadcast(where(c, g, 0), a.shape)), when(nb, () => unbroadcast(where(c, 0, g), b.shape))];
  },
  MatMul: (n, g, [na, nb]) => {
    const [a, b] = [in0(n), in1(n)];
    return [
      when(na, () => unbroadcast(matmul(g, swapLast2(b)), a.shape)),
      when(nb, () => {
        if (b.rank === 2 && a.rank > 2) {
          // Fold the batch into the rows: one [k, rows] × [rows, n] product.
          const a2 = reshape(a, [-1, a.shape[a.rank - 1]]);
          const g2 = reshape(g, [-1, b.shape[1]]);
          // b = Wᵀ (a torch-layout linear): form dW = g2ᵀ·a2 directly; the Transpose returned here
          // cancels against the one in Wᵀ's own rule, so no weight-sized transpose is computed.
          if (swappedSource(b)) return transposeLast2(matmul(transposeLast2(g2), a2));
          return matmul(transposeLast2(a2), g2);
        }
        return unbroadcast(matmul(swapLast2(a), g), b.shape);
      }),
    ];
  },
  Softmax: (n, g) => {
    const y = out0(n);
    const axis = intAttr(n, 'axis');
    return [mul(y, sub(g, reduceSum(mul(g, y), [axis], true)))];
  },
  LayerNormalization: (n, g, needs) => {
    const [, mean, invStd] = n.outputs;
    return layerNormBackward(g, in1(n), mul(sub(in0(n), mean), invStd), invStd, needs);
  },
  ReduceSum: (n, g) => {
    const { gKeep } = keepdimsGrad(n, g);
    return [expand(gKeep, in0(n).shape), null];
  },
  ReduceMean: (n, g) => {
    const x = in0(n);
    const { gKeep } = keepdimsGrad(n, g);
    return [expand(mul(gKeep, sizeOf(out0(n).shape) / x.size), x.shape)];
  },
  ReduceMax: (n, g) => extremumGrad(n, g),
  ReduceMin: (n, g) => extremumGrad(n, g),
  Reshape: (n, g) => [reshape(g, [...in0(n).shape]), null],
  Expand: (n, g) => [unbroadcast(g, in0(n).shape), null],
  Transpose: (n, g) => {
    const perm = intsAttr(n, 'perm');
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [transpose(g, inv)];
  },
  Concat: (n, g, needs) => {
    const axis = intAttr(n, 'axis');
    const parts = split(
      g,
      n.inputs.map((_, k) => inputOf(n, k).shape[axis]),
      axis,
    );
    return parts.map((p, k) => (needs[k] ? p : null));
  },
  Slice: (n, g) => [sliceGrad(n, g), null, null, null, null],
  Pad: (n, g) => {
    const x = in0(n);
    const pads = constInts(n.inputs[1], 'Pad pads');
    return [
      slice(
        g,
        pads.slice(0, x.rank),
        x.shape.map((d, i) => pads[i] + d),
      ),
      null,
    ];
  },
  Gather: (n, g) => [gatherGrad(n, g), null],
  Conv: (n, g, needs) => convGrad(n, g, needs),
};

const MULTI_OUTPUT_RULES: Record<string, MultiOutputRule> = {
  Split: (n, gs) => {
    const axis = intAttr(n, 'axis');
    return [
      concat(
        n.outputs.map((o, k) => gs[k] ?? zeros(o)),
        axis,
      ),
      null,
    ];
  },
};

const hasOwn = (table: object, key: string): boolean => Object.prototype.hasOwnProperty.call(table, key);

function ruleFor(n: Node): MultiOutputRule | undefined {
  if (n.gradMarker?.kind === 'scale') {
    const s = n.gradMarker.scale;
    return (_n, gs) => [mul(firstOutputGradient(`${n.opType} ${n.name}`, gs), s)];
  }
  if (hasOwn(MULTI_OUTPUT_RULES, n.opType)) return MULTI_OUTPUT_RULES[n.opType];
  if (!hasOwn(RULES, n.opType)) return undefined;
  const rule = RULES[n.opType];
  return (node, gs, needs) => rule(node, firstOutputGradient(`${node.opType} ${node.name}`, gs), needs);
}

function extremumGrad(n: Node, g: Tensor): Array<Tensor | null> {
  const x = in0(n);
  const { gKeep, keepShape, axes } = keepdimsGrad(n, g);
  const mask = cast(equal(x, reshape(out0(n), keepShape)), x.dtype);
  const count = reduceSum(mask, axes, true);
  return [mul(mask, div(gKeep, count))];
}

/** Scatters g back into a zero tensor of the input's shape (steps > 1 interleave zeros first). */
function sliceGrad(n: Node, g: Tensor): Tensor {
  const x = in0(n);
  const starts = constInts(n.inputs[1], 'Slice starts');
  const axes = constInts(n.inputs[3], 'Slice axes');
  const steps = constInts(n.inputs[4], 'Slice steps');
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  let t = g;
  axes.forEach((axis, k) => {
    const count = g.shape[axis];
    const dim = x.shape[axis];
    const step = steps[k];
    let span = count;
    if (step > 1) {
      // [.., count, ..] → [.., count, step, ..] with zeros after each value → [.., count·step, ..]
      const u = unsqueeze(t, axis + 1);
      const pads = u.shape.map(() => 0).concat(u.shape.map((_, i) => (i === axis + 1 ? step - 1 : 0)));
      const merged = [...t.shape];
      merged[axis] = count * step;
      t = reshape(pad(u, pads), merged);
      span = Math.min(count * step, dim - starts[k]);
      if (span < count * step) t = slice(t, [0], [span], [axis]);
    }
    before[axis] = starts[k];
    after[axis] = dim - starts[k] - span;
  });
  return pad(t, [...before, ...after]);
}

/** Gather's gradient as a product with a one-hot matrix [n, m] (duplicates accumulate). */
function gatherGrad(n: Node, g: Tensor): Tensor {
  const [x, idx] = [in0(n), in1(n)];
  const graph = x.graph;
  const axis = intAttr(n, 'axis');
  const dim = x.shape[axis];
  const m = idx.size;
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  let oneHotT: Tensor;
  if (idx.kind === 'constant') {
    const data = x.dtype === 'float32' ? new Float32Array(dim * m) : new Float64Array(dim * m);
    Array.from(idx.data as BigInt64Array, Number).forEach((v, j) => {
      data[(v < 0 ? v + dim : v) * m + j] = 1;
    });
    oneHotT = graph.constant(data, [dim, m]);
  } else {
    // Columns of an identity picked by Gather (which resolves negative indices itself): int64
    // arithmetic (Less/Add/Where/Equal) has no WebGPU kernel and would run on the CPU.
    const eye = x.dtype === 'float32' ? new Float32Array(dim * dim) : new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++) eye[i * dim + i] = 1;
    oneHotT = gather(graph.constant(eye, [dim, dim]), reshape(idx, [m]), 1);
  }
  const g3 = reshape(g, [outer, m, inner]);
  return reshape(matmul(oneHotT, g3), [...x.shape]);
}

function convGrad(n: Node, g: Tensor, needs: readonly boolean[]): Array<Tensor | null> {
  const [x, w, b] = [inputOf(n, 0), inputOf(n, 1), n.inputs[2]];
  const strides = intsAttr(n, 'strides') as [number, number];
  const pads = intsAttr(n, 'pads');
  const [kh, kw] = [w.shape[2], w.shape[3]];
  const [ho, wo] = [g.shape[2], g.shape[3]];
  const gx = when(needs[0], () =>
    convTranspose(g, w, strides, pads, [
      x.shape[2] - (strides[0] * (ho - 1) + kh - pads[0] - pads[2]),
      x.shape[3] - (strides[1] * (wo - 1) + kw - pads[1] - pads[3]),
    ]),
  );
  const gw = when(needs[1], () => {
    // dW[o,c] = Σ_n xpad[n,c] ⋆ g[n,o] with the stride as dilation: a conv over the batch axis.
    const xT = transpose(x, [1, 0, 2, 3]);
    const gT = transpose(g, [1, 0, 2, 3]);
    const outH = x.shape[2] + pads[0] + pads[2] - strides[0] * (ho - 1);
    const outW = x.shape[3] + pads[1] + pads[3] - strides[1] * (wo - 1);
    const [full] = x.graph.addNode('Conv', [xT, gT], [{ shape: [x.shape[1], g.shape[1], outH, outW], dtype: x.dtype }], {
      kernel_shape: { kind: 'ints', value: [ho, wo] },
      strides: { kind: 'ints', value: [1, 1] },
      dilations: { kind: 'ints', value: strides },
      pads: { kind: 'ints', value: pads },
    });
    const cropped = outH > kh || outW > kw ? slice(full, [0, 0], [kh, kw], [2, 3]) : full;
    return transpose(cropped, [1, 0, 2, 3]);
  });
  const gb = b ? when(needs[2], () => reduceSum(g, [0, 2, 3], false)) : null;
  return [gx, gw, gb];
}
