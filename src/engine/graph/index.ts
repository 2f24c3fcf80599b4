/**
 * graph/ — a typed ONNX graph builder with reverse-mode autodiff.
 *
 * ```ts
 * import { Graph, matmul, add, mul, gelu, reduceMean, grad, emitModel } from '../graph';
 * const g = new Graph('mlp');
 * const x = g.input('x', [8, 16]);                          // float32 by default
 * const w = g.param('fc.weight', [16, 4], new Float32Array(64));
 * const b = g.param('fc.bias', [4], new Float32Array(4));
 * const y = gelu(add(matmul(x, w), b));
 * const loss = g.output('loss', reduceMean(mul(y, y)));      // scalar
 * grad(loss, [w, b]);                                         // outputs 'grad.fc.weight', 'grad.fc.bias'
 * const bytes = emitModel(g, { paramsAs: 'inputs' });         // feed x, fc.weight, fc.bias
 * ```
 *
 * Graph (builder.ts)
 *   new Graph(name?)
 *   .input(name, shape, dtype = 'float32') → Tensor         graph input, fed at run time
 *   .param(name, shape, data: Float32Array|Float64Array)     trainable weight (dtype from data)
 *   .setParamData(param, data)                               replace a param's data
 *   .constant(data: TensorData, shape, name?) → Tensor       initializer (small ones shared)
 *   .scalar(value, dtype = 'float32'), .int64s(values)       convenience constants
 *   .output(name, t) → Tensor                                declare an output (renames t, or adds Identity)
 *   .scope(name, fn)                                         prefix node/value names with 'name/'
 *   .composite(name, inputs, () => ({ outputs, vjp }))       op with a hand-written backward
 *   .inputs / .params / .constants / .outputs / .nodes       what was declared/built
 * Tensor (tensor.ts): .name, .shape (static), .dtype ('float32'|'float64'|'int64'|'bool'),
 *   .rank, .size, .kind ('input'|'param'|'constant'|'value'), .graph, .data (params/constants)
 *
 * Ops (free functions; an operand may be a number = scalar of the other operand's dtype;
 * negative axes count from the end; numpy broadcasting; shape errors are GraphErrors that
 * name the op and the shapes, thrown when the graph is built):
 *   elementwise   add sub mul div pow (a, b) · sum([ts]) · neg sqrt exp log erf relu sigmoid tanh (x)
 *                 clip(x, min?, max?) · where(cond, a, b) · cast(x, dtype)
 *   compare       greater less greaterOrEqual lessOrEqual equal (a, b) → bool · and(a, b)
 *   linear        matmul(a, b) (rank ≥ 2, batch broadcast) · conv(x, w, bias?, { strides, pads })
 *   normalise     softmax(x, axis = -1) · layerNorm(x, w, b, eps) (last axis; float64 via primitives)
 *                 cosineSimilarity(a, b, axis = 1, eps = 1e-8) (axis removed; torch 1.13 formula)
 *                 l2Normalize(x, axis = -1, eps = 1e-12) (F.normalize)
 *   activations   gelu(x) (exact erf form; float32 only on ORT CPU) · dropout(x, mask, p)
 *   reductions    reduceSum / reduceMean / reduceMax / reduceMin (x, axes? = all, keepdims = false);
 *                 max/min send the gradient to the extremal entries, split equally among ties
 *                 argMin / argMax (x, axis, keepdims = false) → int64
 *                 topK(x, k, axis = -1, largest = true) → [values, int64 indices], sorted; forward only
 *   shape         reshape(x, shape with one -1 allowed) · unsqueeze(x, axis) · squeeze(x, axes)
 *                 transpose(x, perm?) · transposeLast2(x) · concat(ts, axis) · split(x, sizes, axis)
 *                 slice(x, starts, ends, axes?, steps?) (numpy semantics, steps ≥ 1) · pad(x, pads)
 *                 gather(x, indices: Tensor|number[]|number, axis = 0) · expand(x, shape)
 *   resize        resize(x, { mode: 'bilinear'|'bicubic', alignCorners?, size?: [h,w], scaleFactor?: [sh,sw] })
 *                 on the last two axes, PyTorch 1.13 F.interpolate arithmetic (see interp.ts);
 *                 interpolationMatrix(in, out, { mode, alignCorners?, scaleFactor? }) → [out×in] weights
 *   gradient      stopGradient(x) · scaleGradient(x, s) (backward × s, s broadcast to x)
 *   (float64: every op except erf/gelu and conv, which onnxruntime's CPU provider runs in float32 only)
 *   A torch Linear (W [out, in]) is matmul(x, transposeLast2(W)) + b: onnxruntime fuses it into
 *   Gemm, and the backward forms dW without a weight-sized transpose.
 *
 * Autodiff (autodiff.ts)
 *   grad(loss, wrt, { outputs = true, prefix = 'grad.' }) → Tensor[]   gradients (declared as outputs
 *   '<prefix><name>' unless outputs: false); zeros where the loss does not depend on a tensor.
 *   Backward nodes are named 'grad/…'; only ops on a wrt→loss path get one; a tensor with several
 *   consumers gets one Sum of its contributions; forward values are reused, never recomputed.
 *   Any float tensor can be in wrt (params, inputs, intermediates). Can be called more than once.
 *
 * Emission (emit.ts)
 *   emitModel(graph, { paramsAs = 'initializers' | 'inputs', inputParams?, valueInfo = true, docString?, symbolicBatch? }) → Uint8Array
 *   symbolicBatch { size }: a graph built with batch `size` (SYMBOLIC_BATCH_SENTINEL) emitted with axis 0 'batch'
 *   ONNX ModelProto, ir_version 8, opset 17; unreachable nodes are not emitted (nor unused
 *   initializers). Graph inputs are the declared inputs, then the params fed as inputs (all with
 *   paramsAs 'inputs', or exactly `inputParams`), in declaration order; outputs in declaration order.
 */
export { Graph, makeData } from './builder';
export type { OutputSpec } from './builder';
export { Tensor, attr, broadcastShapes, sizeOf } from './tensor';
export type { Attr, DType, Node, Shape, TensorData } from './tensor';
export {
  add,
  and,
  argMax,
  argMin,
  cast,
  clip,
  concat,
  conv,
  div,
  equal,
  erf,
  exp,
  expand,
  gather,
  greater,
  greaterOrEqual,
  less,
  lessOrEqual,
  log,
  matmul,
  maximum,
  mul,
  neg,
  pad,
  pow,
  reduceMax,
  reduceMean,
  reduceMin,
  reduceSum,
  relu,
  reshape,
  scaleGradient,
  sigmoid,
  slice,
  softmax,
  split,
  sqrt,
  squeeze,
  stopGradient,
  sub,
  sum,
  tanh,
  topK,
  transpose,
  transposeLast2,
  unsqueeze,
  where,
} from './ops';
export type { Conv2dOptions, Operand } from './ops';
export { cosineSimilarity, dropout, gelu, l2Normalize, layerNorm, resize } from './composites';
export type { ResizeOptions } from './composites';
export { interpolationMatrix, isIdentity, scaledSize } from './interp';
export type { InterpAxisOptions, InterpMode } from './interp';
export { grad, unbroadcast } from './autodiff';
export type { GradOptions } from './autodiff';
export { emitModel, liveNodes, IR_VERSION, OPSET_VERSION, SYMBOLIC_BATCH_SENTINEL } from './emit';
export type { EmitOptions } from './emit';
