/**
 * Graph → ONNX ModelProto bytes (ir_version 8, opset 17). Only nodes that some output
 * needs are emitted; params become initializers (inference) or graph inputs (training:
 * the trainer feeds them and reads gradients from the outputs). Every intermediate value
 * gets a value_info with its static shape, so ONNX's own shape inference cross-checks ours.
 */
import { GraphError } from '../errors';
import type { Graph } from './builder';
import { type AttributeInit, type NodeInit, type TensorProtoInit, type ValueInfoInit, encodeModel } from './onnx-proto';
import { type Node, type Tensor, graphError } from './tensor';

export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

export interface EmitOptions {
  /** 'initializers' (default): weights baked in. 'inputs': every param is a graph input (after the declared inputs). */
  paramsAs?: 'initializers' | 'inputs';
  /** Overrides paramsAs: exactly these params are graph inputs (in declaration order); the rest are baked in. */
  inputParams?: readonly Tensor[];
  /** Write value_info for intermediate values (default true). */
  valueInfo?: boolean;
  docString?: string;
  /**
   * Emits axis 0 as a symbolic dimension named 'batch': the graph was built with batch size
   * `size` (a sentinel no other dimension equals, e.g. SYMBOLIC_BATCH_SENTINEL). Reshape targets
   * [size, …] become [0, …] (copy the input's batch), Expand targets [size, …] take the batch from
   * the first input's shape at run time; any other constant or attribute holding `size` is an error.
   */
  symbolicBatch?: { size: number; name?: string };
}

/** The build-time batch size of graphs emitted with a symbolic batch (prime, far from any model dimension). */
export const SYMBOLIC_BATCH_SENTINEL = 7919;

/** Ops whose trailing outputs are optional: unused ones are emitted as '' so they are not computed. */
const OPTIONAL_OUTPUTS = new Set(['LayerNormalization']);

/** The nodes needed to compute the graph's outputs, in creation (topological) order. */
export function liveNodes(graph: Graph): Node[] {
  const live = new Set<Node>();
  const stack: Tensor[] = [...graph.outputs];
  const seen = new Set<Tensor>(stack);
  for (let t = stack.pop(); t; t = stack.pop()) {
    const n = t.producer;
    if (!n || live.has(n)) continue;
    live.add(n);
    for (const i of n.inputs)
      if (i && !seen.has(i)) {
        seen.add(i);
        stack.push(i);
      }
  }
  return graph.nodes.filter((n) => live.has(n));
}

function valueInfo(t: Tensor, batch?: { size: number; name: string }): ValueInfoInit {
  return { name: t.name, dtype: t.dtype, dims: batch ? t.shape.map((d) => (d === batch.size ? batch.name : d)) : t.shape };
}

function attributes(n: Node): AttributeInit[] {
  return Object.entries(n.attrs).map(([name, a]) => ({ name, ...a }));
}

function initializer(t: Tensor): TensorProtoInit {
  const d = t.data;
  if (!d) throw new GraphError('graph/internal', `${t.kind} ${t.name} has no data to emit`);
  return { name: t.name, dtype: t.dtype, dims: t.shape, raw: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

export function emitModel(graph: Graph, opts: EmitOptions = {}): Uint8Array {
  if (graph.outputs.length === 0) throw graphError('emit', `graph '${graph.name}' has no outputs`);
  const nodes = liveNodes(graph);
  const used = new Set<Tensor>(graph.outputs);
  for (const n of nodes) for (const i of n.inputs) if (i) used.add(i);
  const asInput = new Set<Tensor>(opts.inputParams ?? (opts.paramsAs === 'inputs' ? graph.params : []));
  for (const t of asInput)
    if (t.kind !== 'param' || t.graph !== graph) throw graphError('emit', `${t.name} is not a parameter of graph '${graph.name}'`);
  const inputs = [...graph.inputs, ...graph.params.filter((t) => asInput.has(t))];
  const initializers = [...graph.params.filter((t) => !asInput.has(t)), ...graph.constants].filter((t) => used.has(t));
  const outputs = new Set(graph.outputs);
  const nodeInits: NodeInit[] = nodes.map((n) => ({
    name: n.name,
    opType: n.opType,
    inputs: n.inputs.map((t) => (t ? t.name : '')),
    outputs: n.outputs.map((t, k) => (k > 0 && OPTIONAL_OUTPUTS.has(n.opType) && !used.has(t) ? '' : t.name)),
    attributes: attributes(n),
  }));
  const intermediates =
    opts.valueInfo === false
      ? []
      : nodes.flatMap((n) => n.outputs.filter((t, k) => !outputs.has(t) && (k === 0 || !OPTIONAL_OUTPUTS.has(n.opType) || used.has(t))));
  const batch = opts.symbolicBatch ? { size: opts.symbolicBatch.size, name: opts.symbolicBatch.name ?? 'batch' } : undefined;
  const extra = batch ? symboliseBatch(graph, nodes, nodeInits, batch.size) : { nodes: [], initializers: [] };
  const vi = (t: Tensor) => valueInfo(t, batch);
  return encodeModel({
    graphName: graph.name,
    producerName: 'anyad-vscode',
    producerVersion: '0.1.0',
    docString: opts.docString,
    opsetVersion: OPSET_VERSION,
    irVersion: IR_VERSION,
    nodes: [...extra.nodes, ...nodeInits],
    initializers: [...initializers.map(initializer), ...extra.initializers],
    inputs: inputs.map(vi),
    outputs: graph.outputs.map(vi),
    valueInfo: intermediates.map(vi),
  });
}

function int64Values(t: Tensor | null): bigint[] | undefined {
  return t && t.kind === 'constant' && t.data instanceof BigInt64Array ? Array.from(t.data) : undefined;
}

function int64Init(name: string, values: readonly bigint[]): TensorProtoInit {
  const d = BigInt64Array.from(values);
  return { name, dtype: 'int64', dims: [values.length], raw: new Uint8Array(d.buffer) };
}

/** Shape(source)[0:1]: the batch the graph runs with, as a 1-d int64 tensor named `name`. */
function batchShapeNode(source: Tensor, name: string): NodeInit {
  return {
    name: 'batch/Shape',
    opType: 'Shape',
    inputs: [source.name],
    outputs: [name],
    attributes: [
      { name: 'start', kind: 'int', value: 0 },
      { name: 'end', kind: 'int', value: 1 },
    ],
  };
}

/**
 * Rewrites `nodeInits` (parallel to `nodes`) so that the sentinel batch `size` becomes a run-time
 * dimension; returns the nodes and initializers to add. Static shapes elsewhere stay as built.
 */
function symboliseBatch(
  graph: Graph,
  nodes: readonly Node[],
  nodeInits: NodeInit[],
  size: number,
): { nodes: NodeInit[]; initializers: TensorProtoInit[] } {
  const S = BigInt(size);
  const fail = (n: Node, what: string): never => {
    throw graphError('emit', `cannot emit a symbolic batch: ${n.opType} node ${n.name} ${what}`);
  };
  const source = graph.inputs.find((t) => t.shape[0] === size);
  if (!source) throw graphError('emit', `cannot emit a symbolic batch: no graph input has batch ${size} on axis 0`);
  const extraNodes: NodeInit[] = [];
  const extraInits: TensorProtoInit[] = [];
  let batchDim: string | undefined;
  const runtimeBatch = (): string => {
    if (batchDim) return batchDim;
    batchDim = 'batch/dim';
    extraNodes.push(batchShapeNode(source, batchDim));
    return batchDim;
  };
  nodes.forEach((n, i) => {
    for (const a of Object.values(n.attrs)) {
      if ((a.kind === 'int' && a.value === size) || (a.kind === 'ints' && a.value.includes(size)))
        fail(n, `has an attribute equal to the batch ${size}`);
    }
    n.inputs.forEach((t, k) => {
      const v = int64Values(t);
      if (!v || !v.some((x) => x !== 0n && x % S === 0n)) return;
      const rest = v.slice(1);
      if (v[0] !== S || rest.some((x) => x !== 0n && x % S === 0n)) fail(n, `has a constant [${v.join(', ')}] with the batch off axis 0`);
      const inputs = [...nodeInits[i].inputs];
      if (n.opType === 'Reshape' && k === 1 && n.inputs[0]?.shape[0] === size && !n.attrs.allowzero) {
        // 0 = "copy the input's axis 0" (allowzero unset).
        const name = `${nodeInits[i].name}/shape_batch`;
        extraInits.push(int64Init(name, [0n, ...rest]));
        inputs[1] = name;
      } else if (n.opType === 'Expand' && k === 1 && n.inputs[0]?.shape[0] === 1) {
        const tail = `${nodeInits[i].name}/shape_tail`;
        const shape = `${nodeInits[i].name}/shape_batch`;
        extraInits.push(int64Init(tail, rest));
        extraNodes.push({
          name: `${nodeInits[i].name}/Concat_batch`,
          opType: 'Concat',
          inputs: [runtimeBatch(), tail],
          outputs: [shape],
          attributes: [{ name: 'axis', kind: 'int', value: 0 }],
        });
        inputs[1] = shape;
      } else {
        fail(n, `reads the batch ${size} from a constant`);
      }
      nodeInits[i] = { ...nodeInits[i], inputs };
    });
  });
  return { nodes: extraNodes, initializers: extraInits };
}
