/**
 * The trainable AnyAD head as a graph, with the reference's exact arithmetic (INP-Former code
 * as used by AnyAD; see docs/reference-arithmetic.md#head):
 *
 *   x ─┬─ Aggregation_Block(INPs, x) → P            (6 INPs refined by softmax cross-attention)
 *      ├─ gather loss: mean over tokens of min over INPs of 1 − cos(x, P)
 *      └─ bottleneck Mlp (D → 4D → D) → z0 → 8 × Prototype_Block(z, P) → dec 0..7
 *   De0 = mean(dec 7,6,5,4), De1 = mean(dec 3,2,1,0), each [B,n,D] → [B,D,s,s] (row-major patches).
 *
 * Gradient reaches x only through the bottleneck: the INP extractor reads x stop-gradient.
 * The head only needs the fused features x [B,n,D]; the encoder groups En0/En1 are the
 * reconstruction targets and enter in losses.ts. The gather loss lives here because the
 * reference computes it inside the model's forward (INP_Former.gather_loss).
 */
import { ConfigError } from '../errors';
import {
  type Graph,
  type Tensor,
  add,
  concat,
  expand,
  gelu,
  l2Normalize,
  layerNorm,
  matmul,
  mul,
  reduceMean,
  reduceMin,
  relu,
  reshape,
  softmax,
  split,
  stopGradient,
  sub,
  transpose,
  transposeLast2,
  unsqueeze,
} from '../graph';
import type { HeadConfig, WeightMap } from './headWeights';

/** Graph tensors of parameters by name (what `addGraphParams` returns). */
export type GraphParams = ReadonlyMap<string, Tensor>;

/** Declares each weight as a trainable graph parameter named as in the map (reference names). */
export function addGraphParams(g: Graph, weights: WeightMap): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, w] of weights) out.set(name, g.param(name, w.shape, w.data));
  return out;
}

export interface HeadOutputs {
  /** INPs after the aggregation block [B, inpCount, D]. */
  inp: Tensor;
  /** Bottleneck output = decoder input z0 [B, n, D]. */
  bottleneck: Tensor;
  /** Output of decoder block k (execution order) [B, n, D]. */
  decBlocks: Tensor[];
  /** [De0, De1], each [B, D, s, s]. */
  de: [Tensor, Tensor];
  /** INP coherence (gather) loss, scalar; it trains the INPs and the aggregation block, never x. */
  gatherLoss: Tensor;
}

export function buildHead(g: Graph, inputs: { fused: Tensor }, params: GraphParams, cfg: HeadConfig): HeadOutputs {
  const x = inputs.fused;
  const [b, n, d] = x.shape;
  if (x.rank !== 3 || d !== cfg.dim)
    throw new ConfigError('config/head', `head input must be [B, n, ${cfg.dim}], got [${x.shape.join(', ')}]`);
  const side = Math.round(Math.sqrt(n));
  if (side * side !== n) throw new ConfigError('config/head', `head input has ${n} tokens, not a square patch grid`);
  const p = (name: string): Tensor => {
    const t = params.get(name);
    if (!t) throw new ConfigError('config/head', `head parameter '${name}' was not given`);
    return t;
  };

  return g.scope('head', () => {
    // The INP extractor sees x without gradient: in the reference x is frozen, and a trainable
    // path into x (the modality affine) must not let INP coherence pull the features together.
    const xFrozen = stopGradient(x);
    const inp0 = expand(unsqueeze(p('prototype_token'), 0), [b, cfg.inpCount, d]);
    const inp = g.scope('aggregation.0', () => aggregationBlock(inp0, xFrozen, 'aggregation.0', p, cfg));
    const gatherLoss = g.scope('gather', () => inpCoherenceLoss(xFrozen, inp));

    const bottleneck = g.scope('bottleneck', () => mlp(x, 'bottleneck.0', p));
    const decBlocks: Tensor[] = [];
    let z = bottleneck;
    for (let k = 0; k < cfg.decoderDepth; k++) {
      z = g.scope(`decoder.${k}`, () => prototypeBlock(z, inp, `decoder.${k}`, p, cfg));
      decBlocks.push(z);
    }
    // The reference reverses the decoder outputs, then fuses the first and second halves.
    const reversed = [...decBlocks].reverse();
    const half = cfg.decoderDepth / 2;
    const fuse = (ts: Tensor[]): Tensor =>
      toSpatial(
        reduceMean(
          concat(
            ts.map((t) => unsqueeze(t, 1)),
            1,
          ),
          [1],
          false,
        ),
        side,
      );
    const de: [Tensor, Tensor] = [fuse(reversed.slice(0, half)), fuse(reversed.slice(half))];
    return { inp, bottleneck, decBlocks, de, gatherLoss };
  });
}

type ParamOf = (name: string) => Tensor;

/** torch Linear: x · Wᵀ + b with W [out, in]. */
function linear(x: Tensor, prefix: string, p: ParamOf): Tensor {
  return add(matmul(x, transpose(p(`${prefix}.weight`))), p(`${prefix}.bias`));
}

/** Mlp: fc2(GELU(fc1(x))), exact GELU, no dropout (p = 0 in the reference). */
function mlp(x: Tensor, prefix: string, p: ParamOf): Tensor {
  return linear(gelu(linear(x, `${prefix}.fc1`, p)), `${prefix}.fc2`, p);
}

function norm(x: Tensor, prefix: string, p: ParamOf, cfg: HeadConfig): Tensor {
  return layerNorm(x, p(`${prefix}.weight`), p(`${prefix}.bias`), cfg.lnEps);
}

/** [B, N, D] → [B, H, N, D/H] (heads contiguous along D). */
function splitHeads(t: Tensor, heads: number): Tensor {
  const [b, n, d] = t.shape;
  return transpose(reshape(t, [b, n, heads, d / heads]), [0, 2, 1, 3]);
}

/** [B, H, N, hd] → [B, N, H·hd]. */
function mergeHeads(t: Tensor): Tensor {
  const [b, h, n, hd] = t.shape;
  return reshape(transpose(t, [0, 2, 1, 3]), [b, n, h * hd]);
}

/** kv projection whose output rows are [k; v], each heads-contiguous → (k, v) as [B, H, N, hd]. */
function keysValues(y: Tensor, prefix: string, p: ParamOf, cfg: HeadConfig): [Tensor, Tensor] {
  const [k, v] = split(linear(y, `${prefix}.attn.kv`, p), [cfg.dim, cfg.dim], -1);
  return [splitHeads(k, cfg.heads), splitHeads(v, cfg.heads)];
}

/**
 * Aggregation_Block: the same norm1 normalises the INPs (queries) and x (keys/values);
 * softmax((q kᵀ)·hd^-½) v → proj; P1 = P0 + attn; P = P1 + mlp(norm2(P1)).
 */
function aggregationBlock(inp0: Tensor, x: Tensor, prefix: string, p: ParamOf, cfg: HeadConfig): Tensor {
  const q = splitHeads(linear(norm(inp0, `${prefix}.norm1`, p, cfg), `${prefix}.attn.q`, p), cfg.heads);
  const [k, v] = keysValues(norm(x, `${prefix}.norm1`, p, cfg), prefix, p, cfg);
  const attn = softmax(mul(matmul(q, transposeLast2(k)), (cfg.dim / cfg.heads) ** -0.5), -1);
  const p1 = add(inp0, linear(mergeHeads(matmul(attn, v)), `${prefix}.attn.proj`, p));
  return add(p1, mlp(norm(p1, `${prefix}.norm2`, p, cfg), `${prefix}.mlp`, p));
}

/**
 * Prototype_Block: q from norm1(z), k/v from norm1(P) (the same norm1); q and k L2-normalised
 * per head; attn = ReLU((q̂ k̂ᵀ)·learn_scale[h]) (no softmax); z = proj(attn v) with no
 * residual around the attention; then z + mlp(norm2(z)).
 */
function prototypeBlock(z: Tensor, inp: Tensor, prefix: string, p: ParamOf, cfg: HeadConfig): Tensor {
  const q = l2Normalize(splitHeads(linear(norm(z, `${prefix}.norm1`, p, cfg), `${prefix}.attn.q`, p), cfg.heads), -1, 1e-12);
  const [k, v] = keysValues(norm(inp, `${prefix}.norm1`, p, cfg), prefix, p, cfg);
  const attn = relu(mul(matmul(q, transposeLast2(l2Normalize(k, -1, 1e-12))), p(`${prefix}.attn.learn_scale`)));
  const out = linear(mergeHeads(matmul(attn, v)), `${prefix}.attn.proj`, p);
  return add(out, mlp(norm(out, `${prefix}.norm2`, p, cfg), `${prefix}.mlp`, p));
}

/** Tokens [B, n, D] → feature map [B, D, s, s] (patches row-major). */
export function toSpatial(t: Tensor, side: number): Tensor {
  const [b, , d] = t.shape;
  return reshape(transposeLast2(t), [b, d, side, side]);
}

/** Feature map [B, D, s, s] → tokens [B, s·s, D]. */
export function toTokens(t: Tensor): Tensor {
  const [b, d, h, w] = t.shape;
  return transposeLast2(reshape(t, [b, d, h * w]));
}

/**
 * INP coherence ("gather") loss: mean over batch and tokens of min over INPs of
 * 1 − cos(x[b,l], P[b,t]), with torch 1.13's cosine (each side divided by max(‖·‖, 1e-8)).
 * x [B, N, D], inps [B, T, D] → scalar.
 */
export function inpCoherenceLoss(x: Tensor, inps: Tensor): Tensor {
  const cos = matmul(l2Normalize(x, -1, 1e-8), transposeLast2(l2Normalize(inps, -1, 1e-8)));
  return reduceMean(reduceMin(sub(1, cos), [2], false));
}
