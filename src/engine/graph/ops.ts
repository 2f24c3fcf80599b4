/**
 * Primitive ops: each checks shapes/dtypes when the graph is built (a GraphError names the
 * op and the shapes) and adds one ONNX node (opset 17). Numbers passed as operands become
 * scalar constants of the other operand's dtype. Negative axes count from the end.
 */
import { GraphError } from '../errors';
import type { Graph } from './builder';
import {
  type DType,
  type Node,
  type Shape,
  Tensor,
  attr,
  broadcastShapes,
  fmt,
  graphError,
  isFloat,
  normAxes,
  normAxis,
  sameShape,
  sizeOf,
} from './tensor';

export type Operand = Tensor | number;

function graphOf(op: string, operands: readonly Operand[]): Graph {
  const t = operands.find((o): o is Tensor => o instanceof Tensor);
  if (!t) throw graphError(op, 'at least one operand must be a tensor');
  return t.graph;
}

/** Turns number operands into scalars of the tensor operands' dtype; all dtypes must agree. */
function lift(op: string, operands: readonly Operand[]): Tensor[] {
  const g = graphOf(op, operands);
  const dtype = (operands.find((o) => o instanceof Tensor) as Tensor).dtype;
  return operands.map((o) => {
    if (typeof o === 'number') return g.scalar(o, dtype);
    if (o.dtype !== dtype)
      throw graphError(op, `dtypes differ: ${operands.map((x) => (x instanceof Tensor ? x.dtype : 'number')).join(' and ')}`);
    return o;
  });
}

function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw graphError(op, `needs a float32/float64 tensor, got ${t.dtype} ${t.name}`);
}

function elementwise(op: string, onnx: string, operands: readonly Operand[], outDtype?: DType): Tensor {
  const ts = lift(op, operands);
  const shape = broadcastShapes(
    op,
    ts.map((t) => t.shape),
  );
  return ts[0].graph.addNode(onnx, ts, [{ shape, dtype: outDtype ?? ts[0].dtype }])[0];
}

function unary(op: string, onnx: string, x: Tensor, floatOnly = true): Tensor {
  if (floatOnly) requireFloat(op, x);
  return x.graph.addNode(onnx, [x], [{ shape: x.shape, dtype: x.dtype }])[0];
}

// ---- elementwise arithmetic -------------------------------------------------------------

export const add = (a: Operand, b: Operand): Tensor => elementwise('add', 'Add', [a, b]);
export const sub = (a: Operand, b: Operand): Tensor => elementwise('sub', 'Sub', [a, b]);
export const mul = (a: Operand, b: Operand): Tensor => elementwise('mul', 'Mul', [a, b]);
export const div = (a: Operand, b: Operand): Tensor => elementwise('div', 'Div', [a, b]);
export function pow(a: Operand, b: Operand): Tensor {
  const [ta] = lift('pow', [a, b]);
  requireFloat('pow', ta);
  return elementwise('pow', 'Pow', [a, b]);
}
/**
 * Sum of any number of same-dtype tensors (broadcasting) as a left fold of Add nodes: the
 * WebGPU provider has no Sum kernel (a Sum node would run on the CPU), and onnxruntime's CPU
 * Sum adds its inputs in this order, so the values are the same.
 */
export function sum(ts: readonly Tensor[]): Tensor {
  if (ts.length === 0) throw graphError('sum', 'needs at least one tensor');
  let acc = ts[0];
  for (let i = 1; i < ts.length; i++) acc = add(acc, ts[i]);
  return acc;
}

/** Elementwise maximum (ONNX Max of two operands); no gradient rule (used by the in-graph optimiser only). */
export const maximum = (a: Operand, b: Operand): Tensor => elementwise('maximum', 'Max', [a, b]);
export const neg = (x: Tensor): Tensor => unary('neg', 'Neg', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', 'Sqrt', x);
export const exp = (x: Tensor): Tensor => unary('exp', 'Exp', x);
export const log = (x: Tensor): Tensor => unary('log', 'Log', x);
/** Float32 only in onnxruntime's CPU provider. */
export const erf = (x: Tensor): Tensor => unary('erf', 'Erf', x);
export const relu = (x: Tensor): Tensor => unary('relu', 'Relu', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', 'Sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', 'Tanh', x);

/** Clamps to [min, max] (either may be omitted). Gradient passes where min ≤ x ≤ max, as torch.clamp. */
export function clip(x: Tensor, min?: number, max?: number): Tensor {
  requireFloat('clip', x);
  if (min === undefined && max === undefined) throw graphError('clip', 'needs min, max or both');
  if (min !== undefined && max !== undefined && min > max) throw graphError('clip', `min ${min} > max ${max}`);
  const g = x.graph;
  const lo = min === undefined ? null : g.scalar(min, x.dtype);
  const hi = max === undefined ? null : g.scalar(max, x.dtype);
  return g.addNode('Clip', [x, lo, hi], [{ shape: x.shape, dtype: x.dtype }])[0];
}

// ---- comparisons and selection (no gradient) --------------------------------------------

export const greater = (a: Operand, b: Operand): Tensor => elementwise('greater', 'Greater', [a, b], 'bool');
export const less = (a: Operand, b: Operand): Tensor => elementwise('less', 'Less', [a, b], 'bool');
export const greaterOrEqual = (a: Operand, b: Operand): Tensor => elementwise('greaterOrEqual', 'GreaterOrEqual', [a, b], 'bool');
export const lessOrEqual = (a: Operand, b: Operand): Tensor => elementwise('lessOrEqual', 'LessOrEqual', [a, b], 'bool');
export const equal = (a: Operand, b: Operand): Tensor => elementwise('equal', 'Equal', [a, b], 'bool');
export function and(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'bool' || b.dtype !== 'bool') throw graphError('and', `needs bool tensors, got ${a.dtype} and ${b.dtype}`);
  return elementwise('and', 'And', [a, b]);
}

/** cond ? a : b elementwise, with broadcasting over all three. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (cond.dtype !== 'bool') throw graphError('where', `condition must be bool, got ${cond.dtype}`);
  const [ta, tb] = lift('where', [a, b]);
  const shape = broadcastShapes('where', [cond.shape, ta.shape, tb.shape]);
  return cond.graph.addNode('Where', [cond, ta, tb], [{ shape, dtype: ta.dtype }])[0];
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const code = { float32: 1, float64: 11, int64: 7, bool: 9 }[dtype];
  return x.graph.addNode('Cast', [x], [{ shape: x.shape, dtype }], { to: attr.int(code) })[0];
}

// ---- linear algebra ---------------------------------------------------------------------

/**
 * Batched matrix product (numpy matmul semantics, both operands rank ≥ 2, batch axes
 * broadcast): [..., m, k] × [..., k, n] → [..., m, n].
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const [ta, tb] = lift('matmul', [a, b]);
  requireFloat('matmul', ta);
  if (ta.rank < 2 || tb.rank < 2) throw graphError('matmul', `${fmt(a.shape)} × ${fmt(b.shape)}: both operands need rank ≥ 2`);
  const k1 = ta.shape[ta.rank - 1];
  const k2 = tb.shape[tb.rank - 2];
  if (k1 !== k2) throw graphError('matmul', `${fmt(a.shape)} × ${fmt(b.shape)}: inner dimensions ${k1} and ${k2} differ`);
  const batch = broadcastShapes('matmul', [ta.shape.slice(0, -2), tb.shape.slice(0, -2)]);
  const shape = [...batch, ta.shape[ta.rank - 2], tb.shape[tb.rank - 1]];
  return a.graph.addNode('MatMul', [ta, tb], [{ shape, dtype: ta.dtype }])[0];
}

export interface Conv2dOptions {
  /** [sh, sw] or one number for both (default 1). */
  strides?: number | readonly [number, number];
  /** [top, left, bottom, right] zero padding, or one number for all four (default 0). */
  pads?: number | readonly [number, number, number, number];
}

/** 2-D convolution (cross-correlation, group 1, dilation 1): x [N,C,H,W], w [O,C,kh,kw], bias [O]. */
export function conv(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  requireFloat('conv', x);
  const strides = typeof opts.strides === 'number' ? [opts.strides, opts.strides] : [...(opts.strides ?? [1, 1])];
  const pads = typeof opts.pads === 'number' ? [opts.pads, opts.pads, opts.pads, opts.pads] : [...(opts.pads ?? [0, 0, 0, 0])];
  const desc = `x ${fmt(x.shape)}, w ${fmt(w.shape)}${bias ? `, bias ${fmt(bias.shape)}` : ''}`;
  if (x.rank !== 4 || w.rank !== 4) throw graphError('conv', `${desc}: x and w must be rank 4 ([N,C,H,W], [O,C,kh,kw])`);
  if (x.dtype !== w.dtype || (bias && bias.dtype !== x.dtype)) throw graphError('conv', `${desc}: dtypes differ`);
  if (w.shape[1] !== x.shape[1]) throw graphError('conv', `${desc}: input channels ${x.shape[1]} and weight channels ${w.shape[1]} differ`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) throw graphError('conv', `${desc}: bias must be [${w.shape[0]}]`);
  if (!strides.every((s) => Number.isInteger(s) && s >= 1) || !pads.every((p) => Number.isInteger(p) && p >= 0)) {
    throw graphError('conv', `${desc}: strides [${strides.join()}] must be ≥ 1 and pads [${pads.join()}] ≥ 0`);
  }
  const [kh, kw] = [w.shape[2], w.shape[3]];
  const ho = Math.floor((x.shape[2] + pads[0] + pads[2] - kh) / strides[0]) + 1;
  const wo = Math.floor((x.shape[3] + pads[1] + pads[3] - kw) / strides[1]) + 1;
  if (ho < 1 || wo < 1) throw graphError('conv', `${desc}: kernel larger than the padded input`);
  return x.graph.addNode('Conv', bias ? [x, w, bias] : [x, w], [{ shape: [x.shape[0], w.shape[0], ho, wo], dtype: x.dtype }], {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints(strides),
    pads: attr.ints(pads),
  })[0];
}

/** Transposed 2-D convolution (the input-gradient of conv): x [N,O,h,w], w [O,C,kh,kw]. */
export function convTranspose(
  x: Tensor,
  w: Tensor,
  strides: readonly [number, number],
  pads: readonly number[],
  outputPadding: readonly [number, number],
): Tensor {
  if (x.rank !== 4 || w.rank !== 4 || x.shape[1] !== w.shape[0])
    throw graphError('convTranspose', `x ${fmt(x.shape)} and w ${fmt(w.shape)} do not fit`);
  const [kh, kw] = [w.shape[2], w.shape[3]];
  const ho = strides[0] * (x.shape[2] - 1) + outputPadding[0] + kh - pads[0] - pads[2];
  const wo = strides[1] * (x.shape[3] - 1) + outputPadding[1] + kw - pads[1] - pads[3];
  return x.graph.addNode('ConvTranspose', [x, w], [{ shape: [x.shape[0], w.shape[1], ho, wo], dtype: x.dtype }], {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints(strides),
    pads: attr.ints(pads),
    output_padding: attr.ints(outputPadding),
  })[0];
}

// ---- normalisation and activations with their own ONNX op -------------------------------

/** Softmax along one axis. */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('softmax', x);
  const a = normAxis('softmax', axis, x.rank);
  return x.graph.addNode('Softmax', [x], [{ shape: x.shape, dtype: x.dtype }], { axis: attr.int(a) })[0];
}

// ---- reductions -------------------------------------------------------------------------

function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

function reduce(op: string, onnx: string, x: Tensor, axes: readonly number[] | undefined, keepdims: boolean): Tensor {
  requireFloat(op, x);
  if (x.rank === 0 && (axes === undefined || axes.length === 0)) return x;
  const ax = axes === undefined ? x.shape.map((_, i) => i) : normAxes(op, axes, x.rank);
  if (ax.length === 0) throw graphError(op, 'axes must not be empty');
  const shape = reducedShape(x.shape, ax, keepdims);
  const k = attr.int(keepdims ? 1 : 0);
  // Opset 17: ReduceSum takes axes as an input; ReduceMean/Max/Min as an attribute.
  if (onnx === 'ReduceSum') return x.graph.addNode(onnx, [x, x.graph.int64s(ax)], [{ shape, dtype: x.dtype }], { keepdims: k })[0];
  return x.graph.addNode(onnx, [x], [{ shape, dtype: x.dtype }], { axes: attr.ints(ax), keepdims: k })[0];
}

/** Reductions over `axes` (all axes when omitted). */
export const reduceSum = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce('reduceSum', 'ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce('reduceMean', 'ReduceMean', x, axes, keepdims);
/** Gradient goes to the maximal entries, split equally among ties. */
export const reduceMax = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce('reduceMax', 'ReduceMax', x, axes, keepdims);
/** Gradient goes to the minimal entries, split equally among ties. */
export const reduceMin = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce('reduceMin', 'ReduceMin', x, axes, keepdims);

function argReduce(op: string, onnx: string, x: Tensor, axis: number, keepdims: boolean): Tensor {
  const a = normAxis(op, axis, x.rank);
  return x.graph.addNode(onnx, [x], [{ shape: reducedShape(x.shape, [a], keepdims), dtype: 'int64' }], {
    axis: attr.int(a),
    keepdims: attr.int(keepdims ? 1 : 0),
    select_last_index: attr.int(0),
  })[0];
}
/** Index (int64) of the first minimum along `axis`; no gradient. */
export const argMin = (x: Tensor, axis: number, keepdims = false): Tensor => argReduce('argMin', 'ArgMin', x, axis, keepdims);
/** Index (int64) of the first maximum along `axis`; no gradient. */
export const argMax = (x: Tensor, axis: number, keepdims = false): Tensor => argReduce('argMax', 'ArgMax', x, axis, keepdims);

/**
 * The k largest (largest = true) or smallest entries along `axis`, sorted (ties: lower index
 * first): [values, int64 indices], each with that axis of size k. Forward only: autodiff has
 * no rule for it, so a topK on a path to a loss is a GraphError when gradients are asked for.
 */
export function topK(x: Tensor, k: number, axis = -1, largest = true): [Tensor, Tensor] {
  requireFloat('topK', x);
  const a = normAxis('topK', axis, x.rank);
  if (!Number.isInteger(k) || k < 1 || k > x.shape[a])
    throw graphError('topK', `k = ${k} must be an integer in [1, ${x.shape[a]}] (axis ${a} of ${fmt(x.shape)})`);
  const shape = x.shape.map((d, i) => (i === a ? k : d));
  const [values, indices] = x.graph.addNode(
    'TopK',
    [x, x.graph.int64s([k])],
    [
      { shape, dtype: x.dtype },
      { shape, dtype: 'int64' },
    ],
    {
      axis: attr.int(a),
      largest: attr.int(largest ? 1 : 0),
      sorted: attr.int(1),
    },
  );
  return [values, indices];
}

// ---- shape ops --------------------------------------------------------------------------

/** Reshape to `shape`; one entry may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const free = shape.filter((d) => d === -1).length;
  const known = sizeOf(shape.filter((d) => d !== -1));
  const bad = free > 1 || shape.some((d) => !Number.isInteger(d) || d < -1) || (free === 1 && (known === 0 || x.size % known !== 0));
  const out = shape.map((d) => (d === -1 ? x.size / known : d));
  if (bad || sizeOf(out) !== x.size) throw graphError('reshape', `cannot reshape ${fmt(x.shape)} (${x.size} values) to ${fmt(shape)}`);
  if (sameShape(out, x.shape)) return x;
  // allowzero: a 0 in the target means an empty axis, not "copy the input's axis".
  return x.graph.addNode(
    'Reshape',
    [x, x.graph.int64s(out)],
    [{ shape: out, dtype: x.dtype }],
    out.includes(0) ? { allowzero: attr.int(1) } : {},
  )[0];
}

/** Inserts a size-1 axis at `axis` (in the output's numbering). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes size-1 axes. */
export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const ax = normAxes('squeeze', axes, x.rank);
  for (const a of ax) if (x.shape[a] !== 1) throw graphError('squeeze', `axis ${a} of ${fmt(x.shape)} is not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => !ax.includes(i)),
  );
}

/** Permutes axes (reverses them when perm is omitted). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
    throw graphError('transpose', `perm [${p.join(',')}] is not a permutation of the ${x.rank} axes of ${fmt(x.shape)}`);
  }
  if (p.every((v, i) => v === i)) return x;
  // transpose(transpose(y)) = y when the permutations cancel (e.g. the gradient of x·Wᵀ).
  const inner = x.producer;
  if (inner?.opType === 'Transpose' && !inner.gradMarker) {
    const q = inner.attrs.perm.value as readonly number[];
    const source = inner.inputs[0];
    if (source && p.every((v, i) => q[v] === i)) return source;
  }
  return x.graph.addNode('Transpose', [x], [{ shape: p.map((i) => x.shape[i]), dtype: x.dtype }], { perm: attr.ints(p) })[0];
}

/** Swaps the last two axes. */
export function transposeLast2(x: Tensor): Tensor {
  const p = x.shape.map((_, i) => i);
  [p[x.rank - 2], p[x.rank - 1]] = [p[x.rank - 1], p[x.rank - 2]];
  return transpose(x, p);
}

export function concat(ts: readonly Tensor[], axis: number): Tensor {
  if (ts.length === 0) throw graphError('concat', 'needs at least one tensor');
  if (ts.length === 1) return ts[0];
  const a = normAxis('concat', axis, ts[0].rank);
  const first = ts[0];
  for (const t of ts) {
    if (t.dtype !== first.dtype || t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw graphError('concat', `${ts.map((x) => `${x.dtype}${fmt(x.shape)}`).join(', ')} differ outside axis ${a}`);
    }
  }
  const shape = first.shape.map((d, i) => (i === a ? ts.reduce((s, t) => s + t.shape[a], 0) : d));
  return first.graph.addNode('Concat', ts, [{ shape, dtype: first.dtype }], { axis: attr.int(a) })[0];
}

/** Splits along `axis` into pieces of the given sizes. */
export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  if (sizes.reduce((s, v) => s + v, 0) !== x.shape[a] || sizes.some((v) => !Number.isInteger(v) || v < 1)) {
    throw graphError('split', `sizes [${sizes.join(',')}] do not add up to axis ${a} of ${fmt(x.shape)}`);
  }
  if (sizes.length === 1) return [x];
  return x.graph.addNode(
    'Split',
    [x, x.graph.int64s(sizes)],
    sizes.map((s) => ({ shape: x.shape.map((d, i) => (i === a ? s : d)), dtype: x.dtype })),
    { axis: attr.int(a) },
  );
}

/** A resolved slice along one axis: elements start, start+step, … (count of them). */
export interface SliceAxis {
  axis: number;
  start: number;
  step: number;
  count: number;
}

/**
 * Numpy-style slicing: for each listed axis (default 0, 1, …) take start:end:step, with
 * negative start/end counting from the end and out-of-range values clamped. Steps ≥ 1.
 */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Tensor {
  const ax = axes ?? starts.map((_, i) => i);
  const st = steps ?? starts.map(() => 1);
  if (starts.length !== ends.length || ax.length !== starts.length || st.length !== starts.length) {
    throw graphError(
      'slice',
      `starts [${starts.join()}], ends [${ends.join()}], axes [${ax.join()}], steps [${st.join()}] differ in length`,
    );
  }
  const resolved: SliceAxis[] = [];
  const shape = [...x.shape];
  normAxes('slice', ax, x.rank);
  for (let i = 0; i < ax.length; i++) {
    const a = normAxis('slice', ax[i], x.rank);
    const n = x.shape[a];
    if (!Number.isInteger(st[i]) || st[i] < 1)
      throw graphError('slice', `step ${st[i]} on axis ${a} of ${fmt(x.shape)}: only steps ≥ 1 are supported`);
    const clampIdx = (v: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const s = clampIdx(starts[i]);
    const e = clampIdx(ends[i]);
    const count = Math.max(0, Math.ceil((e - s) / st[i]));
    if (count === 0) throw graphError('slice', `${starts[i]}:${ends[i]}:${st[i]} on axis ${a} of ${fmt(x.shape)} is empty`);
    resolved.push({ axis: a, start: s, step: st[i], count });
    shape[a] = count;
  }
  const g = x.graph;
  const [t] = g.addNode(
    'Slice',
    [
      x,
      g.int64s(resolved.map((r) => r.start)),
      g.int64s(resolved.map((r) => r.start + (r.count - 1) * r.step + 1)),
      g.int64s(resolved.map((r) => r.axis)),
      g.int64s(resolved.map((r) => r.step)),
    ],
    [{ shape, dtype: x.dtype }],
  );
  return t;
}

/** Zero (constant) padding: pads = [begin_0, …, begin_{r-1}, end_0, …, end_{r-1}], all ≥ 0. */
export function pad(x: Tensor, pads: readonly number[]): Tensor {
  if (pads.length !== 2 * x.rank || pads.some((p) => !Number.isInteger(p) || p < 0))
    throw graphError('pad', `pads [${pads.join()}] do not fit ${fmt(x.shape)}`);
  if (pads.every((p) => p === 0)) return x;
  const shape = x.shape.map((d, i) => d + pads[i] + pads[i + x.rank]);
  return x.graph.addNode('Pad', [x, x.graph.int64s(pads)], [{ shape, dtype: x.dtype }], { mode: attr.string('constant') })[0];
}

/**
 * Takes entries along `axis` at `indices` (int64 tensor, a list, or one number which
 * drops the axis). Output shape: x.shape[:axis] + indices.shape + x.shape[axis+1:].
 */
export function gather(x: Tensor, indices: Tensor | readonly number[] | number, axis = 0): Tensor {
  const a = normAxis('gather', axis, x.rank);
  const n = x.shape[a];
  const g = x.graph;
  let idx: Tensor;
  if (indices instanceof Tensor) {
    if (indices.dtype !== 'int64') throw graphError('gather', `indices must be int64, got ${indices.dtype}`);
    idx = indices;
  } else {
    const list = typeof indices === 'number' ? [indices] : indices;
    const bad = list.find((v) => !Number.isInteger(v) || v < -n || v >= n);
    if (bad !== undefined) throw graphError('gather', `index ${bad} is out of range for axis ${a} of ${fmt(x.shape)}`);
    idx = g.constant(
      BigInt64Array.from(list, (v) => BigInt(v)),
      typeof indices === 'number' ? [] : [list.length],
    );
  }
  if (idx.kind === 'constant') {
    const bad = Array.from(idx.data as BigInt64Array).find((v) => v < -n || v >= n);
    if (bad !== undefined) throw graphError('gather', `index ${bad} is out of range for axis ${a} of ${fmt(x.shape)}`);
  }
  const shape = [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)];
  return g.addNode('Gather', [x, idx], [{ shape, dtype: x.dtype }], { axis: attr.int(a) })[0];
}

/** Broadcasts x to `shape` (numpy rules; the result is their broadcast). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes('expand', [x.shape, shape]);
  if (sameShape(out, x.shape)) return x;
  return x.graph.addNode('Expand', [x, x.graph.int64s(shape)], [{ shape: out, dtype: x.dtype }])[0];
}

// ---- gradient control -------------------------------------------------------------------

/** Identity forward; no gradient flows back through it. */
export function stopGradient(x: Tensor): Tensor {
  const [y] = x.graph.addNode('Identity', [x], [{ shape: x.shape, dtype: x.dtype }]);
  producerOf(y).gradMarker = { kind: 'stop' };
  return y;
}

/**
 * Identity forward; backward multiplies the upstream gradient by `s` (a forward-pass
 * tensor that broadcasts to x's shape and gets no gradient itself).
 */
export function scaleGradient(x: Tensor, s: Tensor): Tensor {
  requireFloat('scaleGradient', x);
  if (s.dtype !== x.dtype) throw graphError('scaleGradient', `dtypes differ: ${x.dtype} and ${s.dtype}`);
  const b = broadcastShapes('scaleGradient', [x.shape, s.shape]);
  if (!sameShape(b, x.shape)) throw graphError('scaleGradient', `scale ${fmt(s.shape)} does not broadcast to ${fmt(x.shape)}`);
  const [y] = x.graph.addNode('Identity', [x], [{ shape: x.shape, dtype: x.dtype }]);
  producerOf(y).gradMarker = { kind: 'scale', scale: s };
  return y;
}

/** The node that computes t, which every tensor addNode returns has. */
function producerOf(t: Tensor): Node {
  if (!t.producer) throw new GraphError('graph/internal', `${t.name} has no producing node`);
  return t.producer;
}
