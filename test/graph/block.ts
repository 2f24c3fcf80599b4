/** A DINOv2-style pre-norm transformer block built with the graph ops (tests and timing only). */
import {
  type Graph,
  type Tensor,
  add,
  gelu,
  layerNorm,
  matmul,
  mul,
  reshape,
  softmax,
  split,
  transpose,
  transposeLast2,
} from '../../src/engine/graph';

export const BLOCK_PARAMS = [
  'norm1.weight',
  'norm1.bias',
  'attn.qkv.weight',
  'attn.qkv.bias',
  'attn.proj.weight',
  'attn.proj.bias',
  'ls1.gamma',
  'norm2.weight',
  'norm2.bias',
  'mlp.fc1.weight',
  'mlp.fc1.bias',
  'mlp.fc2.weight',
  'mlp.fc2.bias',
  'ls2.gamma',
] as const;

export function blockParamShapes(d: number): Record<(typeof BLOCK_PARAMS)[number], number[]> {
  return {
    'norm1.weight': [d],
    'norm1.bias': [d],
    'attn.qkv.weight': [3 * d, d],
    'attn.qkv.bias': [3 * d],
    'attn.proj.weight': [d, d],
    'attn.proj.bias': [d],
    'ls1.gamma': [d],
    'norm2.weight': [d],
    'norm2.bias': [d],
    'mlp.fc1.weight': [4 * d, d],
    'mlp.fc1.bias': [4 * d],
    'mlp.fc2.weight': [d, 4 * d],
    'mlp.fc2.bias': [d],
    'ls2.gamma': [d],
  };
}

/** torch Linear: x Wᵀ + b with W [out, in]. */
function linear(x: Tensor, w: Tensor, b: Tensor): Tensor {
  return add(matmul(x, transposeLast2(w)), b);
}

export function transformerBlock(g: Graph, x: Tensor, p: Record<string, Tensor>, heads: number, eps = 1e-6): Tensor {
  const [b, n, d] = x.shape;
  const hd = d / heads;
  const attnOut = g.scope('attn', () => {
    const h = layerNorm(x, p['norm1.weight'], p['norm1.bias'], eps);
    const qkv = transpose(reshape(linear(h, p['attn.qkv.weight'], p['attn.qkv.bias']), [b, n, 3, heads, hd]), [2, 0, 3, 1, 4]);
    const [q, k, v] = split(qkv, [1, 1, 1], 0).map((t) => reshape(t, [b, heads, n, hd]));
    const attn = softmax(matmul(mul(q, hd ** -0.5), transposeLast2(k)), -1);
    const o = reshape(transpose(matmul(attn, v), [0, 2, 1, 3]), [b, n, d]);
    return linear(o, p['attn.proj.weight'], p['attn.proj.bias']);
  });
  const y = add(x, mul(p['ls1.gamma'], attnOut));
  const m = g.scope('mlp', () => {
    const h = layerNorm(y, p['norm2.weight'], p['norm2.bias'], eps);
    return linear(gelu(linear(h, p['mlp.fc1.weight'], p['mlp.fc1.bias'])), p['mlp.fc2.weight'], p['mlp.fc2.bias']);
  });
  return add(y, mul(p['ls2.gamma'], m));
}
