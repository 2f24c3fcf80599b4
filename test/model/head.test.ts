/**
 * Golden parity of the AnyAD head and its losses against the public PyTorch reference
 * (goldens tiny-112, trimmed into test/fixtures/model: docs/fixtures.md#make_head_fixturespy):
 * forward outputs per image (B = 1), the training gradients on the 4 full-modality images
 * (recon + 0.2·gather, gradient hook included), and finite differences of the loss.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initModalityAffine } from '../../src/engine/model/alignment';
import { headConfig, initHeadParams } from '../../src/engine/model/headWeights';
import { DEFAULT_OBJECTIVE, REFERENCE_OBJECTIVE } from '../../src/engine/model/losses';
import {
  type Feeds,
  buildTiny,
  goldenFeeds,
  goldenTensor,
  images,
  maxErr,
  mulberry,
  referenceHead,
  runBuilt,
  sessionOf,
} from './head-helpers';

const { config, params: weights } = referenceHead();
/** Float32 port vs float32 reference: ~1e-5 of the largest reference value (docs/reference-arithmetic.md#tolerances). */
const TOL = 1e-5;
/** Combination 7 (all modalities) on the goldens' combination axis. */
const FULL = 6;

test('weights: the config inferred from the reference file is the tiny head', () => {
  assert.deepEqual(config, { dim: 64, heads: 4, inpCount: 6, decoderDepth: 8, mlpRatio: 4, lnEps: 1e-8 });
});

test('forward per image (B = 1) matches the reference head outputs and losses', async (t) => {
  const built = buildTiny(1, config, weights, REFERENCE_OBJECTIVE, { extraOutputs: true });
  const session = await sessionOf(built);
  const worst: Record<string, { abs: number; ref: number; rel: number }> = {};
  const note = (name: string, e: { abs: number; ref: number; rel: number }): void => {
    const w = worst[name];
    if (!w || e.rel > w.rel) worst[name] = e;
  };
  const n = goldenTensor('full.fused').shape[0];
  for (let i = 0; i < n; i++) {
    const out = await runBuilt(session, built, goldenFeeds(i, i + 1, weights));
    note('inp_agg', maxErr(out['out.inp'], images('full.inp_agg', i, i + 1)));
    note('bottleneck', maxErr(out['out.bottleneck'], images('full.bottleneck', i, i + 1)));
    const dec = images('full.dec_blocks', i, i + 1);
    const per = dec.length / 8;
    for (let k = 0; k < 8; k++) note(`dec_blocks[${k}]`, maxErr(out[`out.dec${k}`], dec.subarray(k * per, (k + 1) * per)));
    note('de0', maxErr(out['out.de0'], images('full.de0', i, i + 1)));
    note('de1', maxErr(out['out.de1'], images('full.de1', i, i + 1)));
    note('loss_gather', maxErr(out['loss.gather'], [goldenTensor('all.loss_gather').data[i * 7 + FULL]]));
    note('loss_recon', maxErr(out['loss.recon'], [goldenTensor('all.loss_recon').data[i * 7 + FULL]]));
  }
  for (const [name, e] of Object.entries(worst)) {
    t.diagnostic(`${name}: max abs err ${e.abs.toExponential(2)} at max|ref| ${e.ref.toPrecision(3)} (rel ${e.rel.toExponential(2)})`);
    assert.ok(e.rel < TOL, `${name}: relative error ${e.rel} ≥ ${TOL}`);
  }
});

test('training gradients on the 4 full-modality images match the reference (hook included)', async (t) => {
  const built = buildTiny(4, config, weights, REFERENCE_OBJECTIVE, { gradsOf: (o) => o.total });
  const session = await sessionOf(built);
  const out = await runBuilt(session, built, goldenFeeds(0, 4, weights));
  const check = (name: string, ours: ArrayLike<number>, refName: string): void => {
    const e = maxErr(ours, goldenTensor(refName).data);
    t.diagnostic(`${name}: max abs err ${e.abs.toExponential(2)} at max|ref| ${e.ref.toPrecision(3)} (rel ${e.rel.toExponential(2)})`);
    assert.ok(e.rel < TOL, `${name}: relative error ${e.rel} ≥ ${TOL}`);
  };
  check('loss_recon', out['loss.recon'], 'grad.loss_recon');
  check('loss_gather', out['loss.gather'], 'grad.loss_gather');
  check('loss_total', out.loss, 'grad.loss_total');
  for (const name of [
    'bottleneck.0.fc1.weight',
    'decoder.0.attn.q.weight',
    'decoder.0.attn.learn_scale',
    'decoder.7.attn.q.weight',
    'aggregation.0.attn.q.weight',
    'prototype_token',
  ]) {
    check(`grad ${name}`, out[`grad.${name}`], `grad.${name}`);
  }
  let sq = 0;
  for (const name of weights.keys()) for (const v of out[`grad.${name}`]) sq += v * v;
  check('grad total_norm', [Math.sqrt(sq)], 'grad.total_norm');
});

test('without the gradient hook the gradients differ from the reference (the hook is exercised)', async () => {
  const noHook = { ...REFERENCE_OBJECTIVE, recon: { softMining: false } };
  const built = buildTiny(4, config, weights, noHook, { gradsOf: (o) => o.total });
  const out = await runBuilt(await sessionOf(built), built, goldenFeeds(0, 4, weights));
  const e = maxErr(out['grad.bottleneck.0.fc1.weight'], goldenTensor('grad.bottleneck.0.fc1.weight').data);
  assert.ok(e.rel > 1000 * TOL, `relative difference ${e.rel}`);
});

test('finite differences of the loss (no hook) agree with the analytic gradient', async (t) => {
  // The hook makes the training gradient differ from the derivative of the value on purpose
  // (checked against the reference above), so the check is on the plain derivative.
  const noHook = { ...REFERENCE_OBJECTIVE, recon: { softMining: false } };
  const b = 2;
  const withGrads = buildTiny(b, config, weights, noHook, { gradsOf: (o) => o.total });
  const forward = buildTiny(b, config, weights, noHook);
  const [gs, fs] = [await sessionOf(withGrads), await sessionOf(forward)];
  const feeds = goldenFeeds(0, b, weights);
  const analytic = await runBuilt(gs, withGrads, feeds);
  /** The loss with parameter `name` moved by t·u. */
  const lossAt = async (name: string, u: Float32Array, step: number): Promise<number> => {
    const data = weights.get(name)!.data.slice();
    for (let i = 0; i < data.length; i++) data[i] += step * u[i];
    return (await runBuilt(fs, forward, { ...feeds, [name]: data }, ['loss'])).loss[0];
  };
  const rand = mulberry(7);
  let worst = 0;
  const record = (what: string, fd: number, exact: number): void => {
    const rel = Math.abs(fd - exact) / Math.abs(exact);
    worst = Math.max(worst, rel);
    t.diagnostic(`${what}: analytic ${exact.toExponential(4)}, finite difference ${fd.toExponential(4)}, rel ${rel.toExponential(2)}`);
  };
  // Coordinates of weight matrices, among the largest gradients (float32 losses near 1 resolve
  // ~1e-7, so a coordinate must move the loss well above that): fourth-order central difference.
  for (const name of [
    'bottleneck.0.fc1.weight',
    'decoder.0.attn.q.weight',
    'decoder.4.attn.kv.weight',
    'decoder.7.mlp.fc2.weight',
    'prototype_token',
  ]) {
    const g = analytic[`grad.${name}`];
    const gmax = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const big = [...g.keys()].filter((i) => Math.abs(g[i]) >= 0.5 * gmax);
    for (let k = 0; k < 2; k++) {
      const i = big[Math.floor(rand() * big.length)];
      const e = new Float32Array(g.length);
      e[i] = 1;
      // Loss change ≈ 2e-4 (≫ float32 resolution), but never more than 1e-2 (kinks, curvature).
      const h = Math.min(1e-2, 1e-4 / Math.abs(g[i]));
      const fd =
        (8 * ((await lossAt(name, e, h)) - (await lossAt(name, e, -h))) -
          ((await lossAt(name, e, 2 * h)) - (await lossAt(name, e, -2 * h)))) /
        (12 * h);
      record(`${name}[${i}]`, fd, g[i]);
    }
  }
  // Directional derivatives along each tensor's own gradient (expected: its norm), covering
  // biases, norms, learn_scale and the aggregation block, whose single coordinates are too weak
  // or too close to ReLU kinks for float32 differences. Step: loss change ≈ 1e-4, within [1e-3, 1e-2].
  for (const name of [
    'bottleneck.0.fc1.weight',
    'bottleneck.0.fc2.bias',
    'decoder.0.attn.learn_scale',
    'decoder.3.attn.proj.weight',
    'decoder.7.norm2.weight',
    'aggregation.0.attn.kv.weight',
    'aggregation.0.mlp.fc2.bias',
    'prototype_token',
  ]) {
    const g = analytic[`grad.${name}`];
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    const u = g.map((v) => v / norm);
    const h = Math.min(1e-2, Math.max(1e-3, 5e-5 / norm));
    record(`${name} along its gradient`, ((await lossAt(name, u, h)) - (await lossAt(name, u, -h))) / (2 * h), norm);
  }
  assert.ok(worst < 1e-2, `worst relative error ${worst}`);
});

test('an initialised head of another shape (D 48, 3 heads, 4 INPs, 4 blocks) builds, runs and trains finitely', async () => {
  const cfg = headConfig(48, 3, { inpCount: 4, decoderDepth: 4 });
  const w = new Map([...initHeadParams(cfg, 3), ...initModalityAffine(48)]);
  const objective = { ...DEFAULT_OBJECTIVE, lambdaAlign: 0 };
  const built = buildTiny(2, cfg, w, objective, { gradsOf: (o) => o.total, extraOutputs: true });
  assert.deepEqual(
    built.objective.head.de.map((t) => t.shape),
    [
      [2, 48, 8, 8],
      [2, 48, 8, 8],
    ],
  );
  assert.deepEqual(built.objective.head.inp.shape, [2, 4, 48]);
  const rand = mulberry(11);
  const feeds: Feeds = { subset: BigInt64Array.from([0n, 5n]) };
  for (const name of ['fused', 'en0', 'en1']) feeds[name] = Float32Array.from({ length: 2 * 64 * 48 }, () => rand() * 2 - 1);
  for (const [name, t] of w) feeds[name] = t.data;
  const out = await runBuilt(await sessionOf(built), built, feeds);
  for (const [name, v] of Object.entries(out)) assert.ok(v.every(Number.isFinite), name);
  assert.ok(out['loss.recon'][0] > 0.5 && out['loss.gather'][0] > 0);
  assert.ok(out['grad.decoder.3.mlp.fc2.weight'].some((v) => v !== 0));
});
