/**
 * The frozen DINOv2 encoder as graph ops: patch embedding, cls (+ position), registers after
 * cls without position embedding, pre-norm blocks with LayerScale up to the last target
 * layer, no final norm. Outputs the target blocks' patch tokens, their mean (the decoder
 * input) and the per-group means as feature maps En0, En1 — the AnyAD reference's
 * arithmetic (docs/reference-arithmetic.md#encoder). All weights are graph constants (initializers):
 * the encoder is inference-only, and training caches its outputs.
 */
import {
  Graph,
  type Tensor,
  add,
  concat,
  conv,
  div,
  emitModel,
  expand,
  gelu,
  layerNorm,
  matmul,
  mul,
  reshape,
  slice,
  softmax,
  split,
  sum,
  transpose,
  unsqueeze,
} from '../graph';
import { GraphError, required } from '../errors';
import { type EncoderBlockWeights, type EncoderWeights, type LinearWeights, describeProvenance } from './encoderWeights';
import { interpolatePosEmbed, patchGrid } from './posEmbed';
import { blocksUsed } from './vitConfig';

export interface EncoderOutputs {
  /** Patch tokens [B, n, D] of each target layer (cls and registers removed). */
  layers: Tensor[];
  /** Mean of all target layers [B, n, D] (the decoder's input). */
  fused: Tensor;
  /** One [B, D, h, w] map per fuse group (En0 = layers 2–5, En1 = layers 6–9). */
  en: Tensor[];
  /** The token sequence entering block 0: [B, 1 + R + n, D] = [cls+pos, registers, patches+pos]. */
  tokens: Tensor;
  /** Patch grid [h, w]. */
  grid: [number, number];
}

export interface EncoderBuildOptions {
  /**
   * How the patch embedding is computed: a stride-p Conv, or patches cut by reshape/transpose
   * and one MatMul. Same function and, on onnxruntime CPU at ViT-B/14 392 px, the same speed
   * within noise (~6 ms, < 1 % of the encoder; bench/encoder-bench.ts); 'conv' is the default.
   */
  patchEmbed?: 'conv' | 'matmul';
  /** Prefix of the constants' names (default 'encoder'); distinct encoders in one graph need distinct prefixes. */
  prefix?: string;
}

/**
 * Builds the encoder on `x` [B, 3, H, W] (H, W multiples of the patch size). The position
 * table for H×W is computed here (reference interpolation) and baked in as a constant.
 */
export function buildEncoder(g: Graph, x: Tensor, weights: EncoderWeights, opts: EncoderBuildOptions = {}): EncoderOutputs {
  const cfg = weights.config;
  const d = cfg.embedDim;
  const prefix = opts.prefix ?? 'encoder';
  if (x.rank !== 4 || x.shape[1] !== 3 || x.dtype !== 'float32') {
    throw new GraphError('graph/encoder-input', `encoder input must be float32 [B, 3, H, W], got ${x.dtype}[${x.shape.join(', ')}]`);
  }
  if (weights.blocks.length < blocksUsed(cfg)) {
    throw new GraphError(
      'graph/encoder-weights',
      `the encoder weights hold ${weights.blocks.length} blocks, but target layer ${blocksUsed(cfg) - 1} needs ${blocksUsed(cfg)}`,
    );
  }
  const [b, , height, width] = x.shape;
  const [h, w] = patchGrid(height, width, cfg.patchSize);
  const n = h * w;
  const r = cfg.registers;
  const c = (name: string, data: Float32Array, shape: number[]): Tensor => g.constant(data, shape, `${prefix}.${name}`);

  const tokens = g.scope('embed', () => {
    const patches = buildPatchEmbedding(g, x, weights.patchEmbed, cfg.patchSize, opts.patchEmbed ?? 'conv', prefix);
    const pos = interpolatePosEmbed(weights.posEmbed, d, cfg.posGrid, height, width, cfg.patchSize);
    // cls + pos[0] is one float32 add, as the reference's cat(cls, x) + pos does it.
    const clsPos = Float32Array.from(weights.clsToken, (v, i) => v + pos[i]);
    const parts = [expand(c('cls_pos', clsPos, [1, 1, d]), [b, 1, d])];
    if (r > 0) parts.push(expand(c('register_tokens', weights.registerTokens.subarray(0, r * d), [1, r, d]), [b, r, d]));
    parts.push(add(patches, c('pos_embed_patches', pos.subarray(d), [1, n, d])));
    return concat(parts, 1);
  });

  const last = blocksUsed(cfg) - 1;
  const byLayer = new Map<number, Tensor>();
  let t = tokens;
  for (let i = 0; i <= last; i++) {
    t = g.scope(`block${i}`, () => block(t, weights.blocks[i], cfg.numHeads, cfg.lnEps, (nm, dt, sh) => c(`blocks.${i}.${nm}`, dt, sh)));
    if (cfg.targetLayers.includes(i)) byLayer.set(i, t);
  }
  const layers = cfg.targetLayers.map((l) => slice(required(byLayer.get(l), `block ${l}'s output`), [1 + r], [1 + r + n], [1]));
  // stack().mean() as Sum / k (the same sequential sum): onnxruntime's ReduceMean over a non-last axis is far slower.
  const mean = (ts: Tensor[]): Tensor => div(sum(ts), ts.length);
  const fused = g.scope('fused', () => mean(layers));
  const en = cfg.fuseGroups.map((grp, k) =>
    g.scope(`en${k}`, () => reshape(transpose(mean(grp.map((j) => layers[j])), [0, 2, 1]), [b, d, h, w])),
  );
  return { layers, fused, en, tokens, grid: [h, w] };
}

type ConstFn = (name: string, data: Float32Array, shape: number[]) => Tensor;

/** Patch embedding of x [B, 3, H, W] → tokens [B, n, D] (row-major patches), by either variant. */
export function buildPatchEmbedding(
  g: Graph,
  x: Tensor,
  pe: LinearWeights,
  patchSize: number,
  variant: 'conv' | 'matmul',
  prefix = 'encoder',
): Tensor {
  const [h, w] = patchGrid(x.shape[2], x.shape[3], patchSize);
  const c: ConstFn = (name, data, shape) => g.constant(data, shape, `${prefix}.${name}`);
  return variant === 'matmul' ? patchEmbedMatmul(x, pe, patchSize, h, w, c) : patchEmbedConv(x, pe, patchSize, h, w, c);
}

/** Conv stride p → [B, D, h, w] → [B, n, D]. */
function patchEmbedConv(x: Tensor, pe: LinearWeights, p: number, h: number, w: number, c: ConstFn): Tensor {
  const d = pe.bias.length;
  const y = conv(x, c('patch_embed.weight', pe.weight, [d, 3, p, p]), c('patch_embed.bias', pe.bias, [d]), { strides: p });
  return transpose(reshape(y, [x.shape[0], d, h * w]), [0, 2, 1]);
}

/** Patches [B, n, 3·p·p] (channel-major inside a patch, as the conv weight) · Wᵀ + b. */
function patchEmbedMatmul(x: Tensor, pe: LinearWeights, p: number, h: number, w: number, c: ConstFn): Tensor {
  const d = pe.bias.length;
  const b = x.shape[0];
  const patches = reshape(transpose(reshape(x, [b, 3, h, p, w, p]), [0, 2, 4, 1, 3, 5]), [b, h * w, 3 * p * p]);
  return add(
    matmul(patches, c('patch_embed.weightT', transposed(pe.weight, d, 3 * p * p), [3 * p * p, d])),
    c('patch_embed.bias', pe.bias, [d]),
  );
}

/** torch Linear with the weight stored transposed ([in, out]) so no Transpose runs. */
function linear(x: Tensor, lw: LinearWeights, name: string, c: ConstFn, scaleRows?: { rows: number; by: number }): Tensor {
  const out = lw.bias.length;
  const inp = lw.weight.length / out;
  let wt = transposed(lw.weight, out, inp);
  let bias = lw.bias;
  if (scaleRows) {
    // Fold the attention scale into the q rows: exact when the scale is a power of two (hd = 16, 64, …).
    wt = wt.slice();
    bias = bias.slice();
    for (let o = 0; o < scaleRows.rows; o++) {
      bias[o] *= scaleRows.by;
      for (let i = 0; i < inp; i++) wt[i * out + o] *= scaleRows.by;
    }
  }
  return add(matmul(x, c(`${name}.weightT`, wt, [inp, out])), c(`${name}.bias`, bias, [out]));
}

function block(x: Tensor, bw: EncoderBlockWeights, heads: number, eps: number, c: ConstFn): Tensor {
  const [b, t, d] = x.shape;
  const hd = d / heads;
  const norm = (name: string, nw: { weight: Float32Array; bias: Float32Array }, v: Tensor): Tensor =>
    layerNorm(v, c(`${name}.weight`, nw.weight, [d]), c(`${name}.bias`, nw.bias, [d]), eps);
  const scaled = (v: Tensor, gamma: Float32Array | undefined, name: string): Tensor => (gamma ? mul(v, c(name, gamma, [d])) : v);

  const attn = (() => {
    const qkv = linear(norm('norm1', bw.norm1, x), bw.qkv, 'attn.qkv', c, { rows: d, by: hd ** -0.5 });
    const [q, k, v] = split(qkv, [d, d, d], 2).map((u) => reshape(u, [b, t, heads, hd]));
    // q·kᵀ with kᵀ taken directly as [B, H, hd, T].
    const scores = matmul(transpose(q, [0, 2, 1, 3]), transpose(k, [0, 2, 3, 1]));
    const ctx = matmul(softmax(scores, -1), transpose(v, [0, 2, 1, 3]));
    return linear(reshape(transpose(ctx, [0, 2, 1, 3]), [b, t, d]), bw.proj, 'attn.proj', c);
  })();
  const y = add(x, scaled(attn, bw.ls1, 'ls1.gamma'));
  const mlp = linear(gelu(linear(norm('norm2', bw.norm2, y), bw.fc1, 'mlp.fc1', c)), bw.fc2, 'mlp.fc2', c);
  return add(y, scaled(mlp, bw.ls2, 'ls2.gamma'));
}

function transposed(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = m[r * cols + k];
  return out;
}

/** Output names of an encoder inference model. */
export const ENCODER_OUTPUTS = { fused: 'fused', en: (k: number) => `en${k}`, layers: 'layers', tokens: 'tokens' } as const;

export interface EncoderModelOptions extends EncoderBuildOptions {
  batch: number;
  height: number;
  width: number;
  /** Also output the stacked target layers [B, L, n, D] as 'layers' (default false). */
  layers?: boolean;
  /** Also output the block-0 token sequence as 'tokens' (default false). */
  tokens?: boolean;
}

/**
 * A standalone encoder inference graph: input 'image' [B, 3, H, W] → 'fused' [B, n, D],
 * 'en0', 'en1', … [B, D, h, w] (+ 'layers', 'tokens' when asked). Emit it with
 * `emitModel(graph)` and run it with the runtime; training caches these outputs.
 */
export function buildEncoderModel(weights: EncoderWeights, opts: EncoderModelOptions): { graph: Graph; outputs: EncoderOutputs } {
  const g = new Graph('dinov2-encoder');
  const x = g.input('image', [opts.batch, 3, opts.height, opts.width]);
  const outputs = buildEncoder(g, x, weights, opts);
  g.output(ENCODER_OUTPUTS.fused, outputs.fused);
  outputs.en.forEach((t, k) => g.output(ENCODER_OUTPUTS.en(k), t));
  if (opts.layers)
    g.output(
      ENCODER_OUTPUTS.layers,
      concat(
        outputs.layers.map((l) => unsqueeze(l, 1)),
        1,
      ),
    );
  if (opts.tokens) g.output(ENCODER_OUTPUTS.tokens, outputs.tokens);
  return { graph: g, outputs };
}

/** ONNX bytes of `buildEncoderModel` (weights as initializers). */
export function encoderModelBytes(weights: EncoderWeights, opts: EncoderModelOptions): Uint8Array {
  return emitModel(buildEncoderModel(weights, opts).graph, {
    docString: `DINOv2 encoder (AnyAD features): ${describeProvenance(weights.provenance)}`,
  });
}
