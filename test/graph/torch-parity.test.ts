/** Forward (and block gradient) parity with PyTorch 1.13, from scripts/fixtures/make_graph_fixtures.py. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  Graph,
  type Tensor,
  concat,
  cosineSimilarity,
  interpolationMatrix,
  reshape,
  slice,
  transpose,
  gelu,
  grad,
  l2Normalize,
  layerNorm,
  mul,
  reduceSum,
  resize,
} from '../../src/engine/graph';
import { getFloat32, readSafetensors } from '../../src/engine/safetensors';
import { BLOCK_PARAMS, blockParamShapes, transformerBlock } from './block';
import { relErr, runGraph } from './helpers';

const FIX = join(__dirname, '..', 'fixtures', 'graph');

test('torch parity: DINOv2-style transformer block forward and parameter gradients', async () => {
  const f = readSafetensors(join(FIX, 'block.safetensors'));
  const meta = f.metadata;
  const [B, N, D, H] = [Number(meta.B), Number(meta.N), Number(meta.D), Number(meta.H)];
  const g = new Graph('block');
  const x = g.input('x', [B, N, D]);
  const shapes = blockParamShapes(D);
  const p: Record<string, Tensor> = {};
  for (const name of BLOCK_PARAMS) p[name] = g.param(name, shapes[name], getFloat32(f, `param.${name}`, shapes[name]).data);
  const out = g.output('out', transformerBlock(g, x, p, H, Number(meta.ln_eps)));
  const r = g.constant(getFloat32(f, 'r').data, [B, N, D]);
  const loss = g.output('loss', reduceSum(mul(out, r)));
  grad(loss, [...BLOCK_PARAMS.map((n) => p[n]), x]);
  const feeds: Record<string, Float32Array> = { x: getFloat32(f, 'x').data };
  for (const name of BLOCK_PARAMS) feeds[name] = p[name].data as Float32Array;
  const res = await runGraph(g, feeds, { paramsAs: 'inputs' });
  const e = relErr(res.out as Float32Array, getFloat32(f, 'out').data);
  assert.ok(e < 1e-5, `block output rel err ${e}`);
  for (const name of [...BLOCK_PARAMS, 'x']) {
    const ge = relErr(res[`grad.${name}`] as Float32Array, getFloat32(f, `grad.${name}`).data);
    assert.ok(ge < 1e-5, `grad.${name} rel err ${ge}`);
  }
});

test('torch parity: layerNorm, gelu, cosineSimilarity, l2Normalize forward', async () => {
  const f = readSafetensors(join(FIX, 'ops.safetensors'));
  const g = new Graph('ops');
  const t = (name: string): Tensor => {
    const v = getFloat32(f, name);
    return g.constant(v.data, v.shape);
  };
  g.output('ln', layerNorm(t('layernorm.x'), t('layernorm.w'), t('layernorm.b'), 1e-6));
  g.output('gelu', gelu(t('gelu.x')));
  g.output('cos', cosineSimilarity(t('cos.a'), t('cos.b'), 1, 1e-8));
  g.output('norm', l2Normalize(t('cos.a'), 1, 1e-12));
  const res = await runGraph(g, {});
  for (const [ours, ref] of [
    ['ln', 'layernorm.out'],
    ['gelu', 'gelu.out'],
    ['cos', 'cos.out'],
    ['norm', 'normalize.out'],
  ]) {
    const e = relErr(res[ours] as Float32Array, getFloat32(f, ref).data);
    assert.ok(e < 1e-6, `${ours}: rel err ${e}`);
  }
});

test('torch parity: F.interpolate bicubic (size, scale_factor) and bilinear (align_corners true/false)', async () => {
  const f = readSafetensors(join(FIX, 'resize.safetensors'));
  const sf = Number(f.metadata.scale_37to28);
  const g = new Graph('resize');
  const t = (name: string): Tensor => {
    const v = getFloat32(f, name);
    return g.constant(v.data, v.shape);
  };
  const cases: Array<[string, Tensor]> = [
    ['bicubic.size.37to28', resize(t('big'), { mode: 'bicubic', size: [28, 28] })],
    ['bicubic.scale.37to28', resize(t('big'), { mode: 'bicubic', scaleFactor: [sf, sf] })],
    ['bicubic.size.8to12', resize(t('small'), { mode: 'bicubic', size: [12, 12] })],
    ['bicubic.scale.8to12', resize(t('small'), { mode: 'bicubic', scaleFactor: [1.55, 1.55] })],
    ['bilinear.align.8to20', resize(t('small'), { mode: 'bilinear', alignCorners: true, size: [20, 20] })],
    ['bilinear.align.20to13', resize(t('mid'), { mode: 'bilinear', alignCorners: true, size: [13, 13] })],
    ['bilinear.noalign.20to13', resize(t('mid'), { mode: 'bilinear', size: [13, 13] })],
    ['bilinear.noalign.7x5to16x11', resize(t('tiny'), { mode: 'bilinear', size: [16, 11] })],
    ['bicubic.size.7x5to16x11', resize(t('tiny'), { mode: 'bicubic', size: [16, 11] })],
  ];
  for (const [name, y] of cases) g.output(name, y);
  const res = await runGraph(g, {});
  for (const [name, y] of cases) {
    const ref = getFloat32(f, name);
    assert.deepEqual([...y.shape], ref.shape, `${name} shape`);
    const e = relErr(res[name] as Float32Array, ref.data);
    assert.ok(e < 1e-6, `${name}: rel err ${e}`);
  }
  // The scale-factor variant really differs from the size variant (else the test would not discriminate).
  assert.ok(relErr(res['bicubic.scale.37to28'] as Float32Array, getFloat32(f, 'bicubic.size.37to28').data) > 1e-3);
});

test("torch parity: interpolation weight matrices equal torch 1.13's to 1 float32 ulp", () => {
  const f = readSafetensors(join(FIX, 'resize.safetensors'));
  const sf = Number(f.metadata.scale_37to28);
  const cases: Array<[string, number, number, Parameters<typeof interpolationMatrix>[2]]> = [
    ['weights.bicubic.size.37to28', 37, 28, { mode: 'bicubic' }],
    ['weights.bicubic.scale.37to28', 37, 28, { mode: 'bicubic', scaleFactor: sf }],
    ['weights.bicubic.size.8to12', 8, 12, { mode: 'bicubic' }],
    ['weights.bilinear.align.20to13', 20, 13, { mode: 'bilinear', alignCorners: true }],
    ['weights.bilinear.align.8to20', 8, 20, { mode: 'bilinear', alignCorners: true }],
    ['weights.bilinear.noalign.20to13', 20, 13, { mode: 'bilinear' }],
    ['weights.bilinear.noalign.7to16', 7, 16, { mode: 'bilinear' }],
  ];
  for (const [name, n, m, opts] of cases) {
    const ref = getFloat32(f, name, [m, n]).data;
    const ours = interpolationMatrix(n, m, opts);
    let worst = 0;
    ref.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - ours[i]));
    });
    // 1 ulp of values below 1 is at most 2^-24 ≈ 6e-8 (bicubic taps merged at the border can differ by that).
    assert.ok(worst <= (name.includes('bicubic') ? 1.2e-7 : 0), `${name}: max weight difference ${worst}`);
  }
});

test('golden parity: DINOv2 interpolate_pos_encoding (37×37 → 8×8, scale_factor 8.1/37) of the AnyAD reference', async () => {
  const f = readSafetensors(join(FIX, 'pos-embed.safetensors'));
  const g = new Graph('pos');
  const pos = getFloat32(f, 'pos_embed', [1, 1370, 64]);
  const table = g.constant(pos.data, pos.shape);
  const s = (112 / 14 + 0.1) / 37; // w0 / 37 with interpolate_offset 0.1, as the reference computes it
  const grid = transpose(reshape(slice(table, [1], [1370], [1]), [1, 37, 37, 64]), [0, 3, 1, 2]);
  const patches = reshape(transpose(resize(grid, { mode: 'bicubic', scaleFactor: [s, s] }), [0, 2, 3, 1]), [1, 64, 64]);
  g.output('interp', concat([slice(table, [0], [1], [1]), patches], 1));
  const res = await runGraph(g, {});
  const ref = getFloat32(f, 'pos_embed_interp', [1, 65, 64]).data;
  const e = relErr(res.interp as Float32Array, ref);
  assert.ok(e < 1e-6, `pos-embed interpolation rel err ${e}`);
});
