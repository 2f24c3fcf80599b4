/**
 * Symbolic tensors and nodes of a graph under construction, plus the shape arithmetic
 * (numpy broadcasting, axis normalisation) every op needs. Shapes are static: every
 * dimension is a known non-negative integer.
 */
import { GraphError } from '../errors';
import type { Graph } from './builder';

export type DType = 'float32' | 'float64' | 'int64' | 'bool';
export type Shape = readonly number[];

/** Typed array that holds the data of a tensor of each dtype. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** Where a tensor's value comes from. */
export type TensorKind = 'input' | 'param' | 'constant' | 'value';

export class Tensor {
  /** Unique value name in the emitted ONNX graph (readable, scope-prefixed). */
  name: string;
  /** For params and constants: their data (little-endian typed array). */
  data?: TensorData;
  /** The node that computes this tensor (kind 'value' only). */
  producer?: Node;
  constructor(
    readonly graph: Graph,
    readonly id: number,
    name: string,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly kind: TensorKind,
  ) {
    this.name = name;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  toString(): string {
    return `${this.name}: ${this.dtype}${fmt(this.shape)}`;
  }
}

/** One ONNX attribute value; ints and floats are distinguished explicitly. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
};

/**
 * A composite op: a sub-graph of primitive nodes that autodiff treats as one unit with a
 * hand-written vector–Jacobian product (e.g. GELU, whose closed-form backward is cheaper
 * than differentiating its primitives).
 */
export interface Composite {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  /** Gradients of the inputs given the upstream gradients of the outputs (null = none flows). */
  readonly vjp: (gOut: ReadonlyArray<Tensor | null>, needs: readonly boolean[]) => Array<Tensor | null>;
  /**
   * Per output, a bit-identical recomputation from values the vjp keeps anyway: the backward
   * rules of other ops read the recomputed value, so the forward one is freed after its forward
   * uses instead of living until the backward (training memory).
   */
  readonly recompute?: ReadonlyArray<(() => Tensor) | undefined>;
}

/** Autodiff behaviour of an Identity node that is not a plain identity. */
export type GradMarker = { kind: 'stop' } | { kind: 'scale'; scale: Tensor };

export interface Node {
  readonly id: number;
  readonly name: string;
  readonly opType: string;
  /** null = an omitted optional input (emitted as ''). */
  readonly inputs: ReadonlyArray<Tensor | null>;
  readonly outputs: readonly Tensor[];
  readonly attrs: Readonly<Record<string, Attr>>;
  /** The outermost composite this node belongs to, if any. */
  composite?: Composite;
  gradMarker?: GradMarker;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function graphError(op: string, message: string): GraphError {
  return new GraphError(`graph/${op}`, `${op}: ${message}`);
}

/**
 * The gradient of a unit's first output, the one its backward differentiates (`unit` names it
 * in the error). Missing only if grad reached the unit through another output: a bug.
 */
export function firstOutputGradient(unit: string, gs: ReadonlyArray<Tensor | null>): Tensor {
  const g = gs[0];
  if (!g)
    throw new GraphError(
      'graph/internal',
      `grad: only a secondary output of ${unit} lies on a path to the loss, and its backward differentiates the first`,
    );
  return g;
}

/** Numpy broadcasting of any number of shapes; the error names the op and every shape. */
export function broadcastShapes(op: string, shapes: readonly Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      const v = k < 0 ? 1 : s[k];
      if (v === 1) continue;
      if (d !== 1 && v !== d) {
        throw graphError(op, `${shapes.map(fmt).join(' and ')} do not broadcast (axis ${i - rank}: ${d} vs ${v})`);
      }
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Maps a possibly negative axis into [0, rank). */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw graphError(op, `axis ${axis} is out of range for a rank-${rank} tensor`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function normAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw graphError(op, `axes [${axes.join(',')}] repeat an axis`);
  return out.sort((a, b) => a - b);
}

export function dtypeOfData(data: TensorData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}
