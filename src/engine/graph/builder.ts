/**
 * The graph under construction: inputs, parameters, constants, nodes (in creation order,
 * which is a topological order), named outputs, name scopes and composites. Ops are free
 * functions in ops.ts / composites.ts that call `addNode`; autodiff appends backward nodes
 * to the same graph through the same ops.
 */
import {
  type Attr,
  type Composite,
  type DType,
  type Node,
  type Shape,
  type TensorData,
  Tensor,
  dtypeOfData,
  fmt,
  graphError,
  isFloat,
  sizeOf,
} from './tensor';

export interface OutputSpec {
  shape: Shape;
  dtype: DType;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly params: Tensor[] = [];
  readonly constants: Tensor[] = [];
  /** Graph outputs in declaration order (their tensor names are the output names). */
  readonly outputs: Tensor[] = [];
  private nextId = 0;
  private readonly usedNames = new Set<string>();
  private readonly scopes: string[] = [];
  private readonly constantCache = new Map<string, Tensor>();

  constructor(readonly name = 'anyad') {}

  /** A graph input fed at run time. */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
    const t = this.newTensor(this.claimName('input', name), shape, dtype, 'input');
    this.inputs.push(t);
    return t;
  }

  /**
   * A trainable parameter with its initial data (dtype from the array). Emitted as an
   * initializer for inference or as a graph input for training (see emitModel).
   */
  param(name: string, shape: Shape, data: Float32Array | Float64Array): Tensor {
    checkShape('param', shape);
    if (data.length !== sizeOf(shape))
      throw graphError('param', `'${name}' has shape ${fmt(shape)} (${sizeOf(shape)} values) but ${data.length} values were given`);
    const t = this.newTensor(this.claimName('param', name), shape, dtypeOfData(data), 'param');
    t.data = data;
    this.params.push(t);
    return t;
  }

  /** Replaces a parameter's data (e.g. weights loaded after the graph was built). */
  setParamData(t: Tensor, data: Float32Array | Float64Array): void {
    if (t.kind !== 'param' || t.graph !== this) throw graphError('setParamData', `${t.name} is not a parameter of this graph`);
    if (data.length !== t.size || dtypeOfData(data) !== t.dtype) {
      throw graphError('setParamData', `'${t.name}' is ${t.dtype}${fmt(t.shape)}; got ${data.length} ${dtypeOfData(data)} values`);
    }
    t.data = data;
  }

  /** A constant (emitted as an initializer). Small constants are shared. */
  constant(data: TensorData, shape: Shape, name?: string): Tensor {
    checkShape('constant', shape);
    if (data.length !== sizeOf(shape))
      throw graphError('constant', `shape ${fmt(shape)} needs ${sizeOf(shape)} values but ${data.length} were given`);
    const dtype = dtypeOfData(data);
    const key =
      !name && data.length <= 16
        ? `${dtype}${fmt(shape)}${Array.from(data as ArrayLike<number | bigint>, (v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`
        : undefined;
    const cached = key !== undefined ? this.constantCache.get(key) : undefined;
    if (cached) return cached;
    const t = this.newTensor(name ? this.claimName('constant', name) : this.autoName('const'), shape, dtype, 'constant');
    t.data = data;
    this.constants.push(t);
    if (key !== undefined) this.constantCache.set(key, t);
    return t;
  }

  /** A 0-d constant of the given dtype. */
  scalar(value: number, dtype: DType = 'float32'): Tensor {
    return this.constant(makeData(dtype, [value]), []);
  }

  /** A 1-d int64 constant (shapes, axes, indices). */
  int64s(values: readonly number[]): Tensor {
    return this.constant(
      BigInt64Array.from(values, (v) => BigInt(v)),
      [values.length],
    );
  }

  /**
   * Declares a graph output named `name`. The tensor is renamed when it is a plain
   * intermediate value; otherwise an Identity node gives it the name.
   */
  output(name: string, t: Tensor): Tensor {
    this.own('output', t);
    if (this.outputs.includes(t) && t.name === name) return t;
    let out = t;
    if (t.kind === 'value' && !this.outputs.includes(t) && !this.usedNames.has(name)) {
      this.usedNames.delete(t.name);
      t.name = this.claimName('output', name);
    } else {
      out = this.addNode('Identity', [t], [{ shape: t.shape, dtype: t.dtype }], {}, name)[0];
    }
    this.outputs.push(out);
    return out;
  }

  /** Runs `fn` with `name/` prefixed to the names of the nodes and values it creates. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * Builds a composite op: `forward` creates primitive nodes from `inputs` and returns the
   * outputs plus their vector–Jacobian product. Autodiff differentiates the composite as a
   * whole with that vjp instead of going through its primitives. `recompute` (optional, per
   * output) rebuilds an output for the backward (see Composite.recompute).
   */
  composite(
    name: string,
    inputs: readonly Tensor[],
    forward: () => { outputs: Tensor[]; vjp: Composite['vjp']; recompute?: Composite['recompute'] },
  ): Tensor[] {
    const start = this.nodes.length;
    const { outputs, vjp, recompute } = this.scope(name, forward);
    const c: Composite = { name, inputs, outputs, vjp, ...(recompute ? { recompute } : {}) };
    const inside = new Set<Tensor>(inputs);
    for (let i = start; i < this.nodes.length; i++) {
      const n = this.nodes[i];
      for (const t of n.inputs) {
        if (t && !inside.has(t) && t.kind !== 'constant' && isFloat(t.dtype)) {
          throw graphError(name, `internal node ${n.name} reads ${t.name}, which is not an input of the composite`);
        }
      }
      for (const t of n.outputs) inside.add(t);
      n.composite = c;
    }
    return outputs;
  }

  /** Creates a node and its output tensors. `baseName` overrides the generated value name of a single output. */
  addNode(
    opType: string,
    inputs: ReadonlyArray<Tensor | null>,
    outputs: readonly OutputSpec[],
    attrs: Record<string, Attr> = {},
    baseName?: string,
  ): Tensor[] {
    for (const t of inputs) if (t) this.own(opType, t);
    const nodeName = this.autoName(opType);
    const outs = outputs.map((o, i) => {
      checkShape(opType, o.shape);
      const name =
        baseName !== undefined && outputs.length === 1
          ? this.claimName(opType, baseName)
          : outputs.length === 1
            ? nodeName
            : `${nodeName}.out${i}`;
      return this.newTensor(name, o.shape, o.dtype, 'value');
    });
    const node: Node = { id: this.nodes.length, name: nodeName, opType, inputs, outputs: outs, attrs };
    for (const t of outs) t.producer = node;
    this.nodes.push(node);
    return outs;
  }

  private own(op: string, t: Tensor): void {
    if (t.graph !== this) throw graphError(op, `${t.name} belongs to another graph`);
  }

  private newTensor(name: string, shape: Shape, dtype: DType, kind: Tensor['kind']): Tensor {
    this.usedNames.add(name);
    return new Tensor(this, this.nextId++, name, Object.freeze([...shape]), dtype, kind);
  }

  private claimName(op: string, name: string): string {
    if (!name) throw graphError(op, 'a name must not be empty');
    if (this.usedNames.has(name)) throw graphError(op, `the name '${name}' is already used in this graph`);
    this.usedNames.add(name);
    return name;
  }

  private autoName(base: string): string {
    const prefix = this.scopes.length ? `${this.scopes.join('/')}/` : '';
    let name: string;
    do name = `${prefix}${base}_${this.nextId++}`;
    while (this.usedNames.has(name));
    this.usedNames.add(name);
    return name;
  }
}

function checkShape(op: string, shape: Shape): void {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw graphError(op, `shape ${fmt(shape)} is not a list of non-negative integers`);
}

/** A typed array of the given dtype holding `values`. */
export function makeData(dtype: DType, values: ArrayLike<number>): TensorData {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(Array.from(values), (v) => BigInt(v));
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
  }
}
