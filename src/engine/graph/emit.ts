/**
 * Graph → ONNX ModelProto bytes (ir_version 8, opset 17). Only nodes that some output
 * needs are emitted; params become initializers (inference) or graph inputs (training:
 * the trainer feeds them and reads gradients from the outputs). Every intermediate value
 * gets a value_info with its static shape, so ONNX's own shape inference cross-checks ours.
 */
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
}

/** Ops whose trailing outputs are optional: unused ones are emitted as '' so they are not computed. */
const OPTIONAL_OUTPUTS = new Set(['LayerNormalization']);

/** The nodes needed to compute the graph's outputs, in creation (topological) order. */
export function liveNodes(graph: Graph): Node[] {
  const live = new Set<Node>();
  const stack: Tensor[] = [...graph.outputs];
  const seen = new Set<Tensor>(stack);
  while (stack.length) {
    const t = stack.pop()!;
    const n = t.producer;
    if (!n || live.has(n)) continue;
    live.add(n);
    for (const i of n.inputs) if (i && !seen.has(i)) { seen.add(i); stack.push(i); }
  }
  return graph.nodes.filter((n) => live.has(n));
}

function valueInfo(t: Tensor): ValueInfoInit {
  return { name: t.name, dtype: t.dtype, dims: t.shape };
}

function attributes(n: Node): AttributeInit[] {
  return Object.entries(n.attrs).map(([name, a]) => ({ name, ...a }) as AttributeInit);
}

function initializer(t: Tensor): TensorProtoInit {
  const d = t.data!;
  return { name: t.name, dtype: t.dtype, dims: t.shape, raw: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

export function emitModel(graph: Graph, opts: EmitOptions = {}): Uint8Array {
  if (graph.outputs.length === 0) throw graphError('emit', `graph '${graph.name}' has no outputs`);
  const nodes = liveNodes(graph);
  const used = new Set<Tensor>(graph.outputs);
  for (const n of nodes) for (const i of n.inputs) if (i) used.add(i);
  const asInput = new Set<Tensor>(opts.inputParams ?? (opts.paramsAs === 'inputs' ? graph.params : []));
  for (const t of asInput) if (t.kind !== 'param' || t.graph !== graph) throw graphError('emit', `${t.name} is not a parameter of graph '${graph.name}'`);
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
  const intermediates = opts.valueInfo === false ? [] : nodes.flatMap((n) => n.outputs.filter((t, k) => !outputs.has(t) && (k === 0 || !OPTIONAL_OUTPUTS.has(n.opType) || used.has(t))));
  return encodeModel({
    graphName: graph.name,
    producerName: 'anyad-vscode',
    producerVersion: '0.1.0',
    docString: opts.docString,
    opsetVersion: OPSET_VERSION,
    irVersion: IR_VERSION,
    nodes: nodeInits,
    initializers: initializers.map(initializer),
    inputs: inputs.map(valueInfo),
    outputs: graph.outputs.map(valueInfo),
    valueInfo: intermediates.map(valueInfo),
  });
}
