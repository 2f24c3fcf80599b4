/**
 * The distribution alignment term and the modality affine that gives it a gradient:
 * identity at init (= the reference head), a non-zero gradient on the affine, exactly zero
 * gradient in the reference-compatible mode (the reference's bug), a moment-matching optimum
 * that undoes a channel shift, and a penalised collapse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChannelStatsAccumulator, type ChannelStats, initModalityAffine } from '../../src/engine/model/alignment';
import { ConfigError } from '../../src/engine/errors';
import { Graph } from '../../src/engine/graph';
import { addGraphParams } from '../../src/engine/model/head';
import { type WeightMap } from '../../src/engine/model/headWeights';
import { DEFAULT_OBJECTIVE, type ObjectiveConfig, REFERENCE_OBJECTIVE, buildObjective } from '../../src/engine/model/losses';
import { type Feeds, buildTiny, goldenFeeds, images, mulberry, referenceHead, runBuilt, sessionOf } from './head-helpers';

const { config, params: headWeights } = referenceHead();
const D = config.dim;
const B = 4;
const FULL_ROW = 6;

/** Full-modality statistics of group g over the 4 golden images. */
function fullStats(g: number): ChannelStats {
  const acc = new ChannelStatsAccumulator(D);
  acc.add(images(`full.en${g}`, 0, B), [B, D, 8, 8]);
  return acc.result();
}
const STATS = [fullStats(0), fullStats(1)];

/** A per-channel shift of the features, standing in for a missing modality: a_c·f + c_c. */
const SCALE = Float32Array.from({ length: D }, (_, c) => 0.5 + (c % 7) / 6);
const SHIFT = Float32Array.from({ length: D }, (_, c) => ((c % 5) - 2) / 4);

/** Golden feeds with images in `shifted` replaced by a·f + c (the same a, c for En0, En1 and fused, so fused = ½(En0 + En1) holds). */
function shiftedFeeds(weights: WeightMap, subset: number[], shifted: number[]): Feeds {
  const feeds = goldenFeeds(0, B, weights, subset);
  for (const key of ['en0', 'en1'] as const) {
    const f = (feeds[key] as Float32Array).slice();
    for (const i of shifted)
      for (let c = 0; c < D; c++)
        for (let k = 0; k < 64; k++) {
          const j = (i * D + c) * 64 + k;
          f[j] = SCALE[c] * f[j] + SHIFT[c];
        }
    feeds[key] = f;
  }
  const fused = (feeds.fused as Float32Array).slice();
  for (const i of shifted)
    for (let k = 0; k < 64; k++)
      for (let c = 0; c < D; c++) {
        const j = (i * 64 + k) * D + c;
        fused[j] = SCALE[c] * fused[j] + SHIFT[c];
      }
  feeds.fused = fused;
  return feeds;
}

function withAffine(): WeightMap {
  return new Map([...headWeights, ...initModalityAffine(D)]);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

test('the affine at identity reproduces the reference head exactly', async () => {
  const weights = withAffine();
  const ours = buildTiny(B, config, weights, DEFAULT_OBJECTIVE, { stats: STATS, extraOutputs: true });
  const ref = buildTiny(B, config, headWeights, REFERENCE_OBJECTIVE, { extraOutputs: true });
  const full = [FULL_ROW, FULL_ROW, FULL_ROW, FULL_ROW];
  const a = await runBuilt(await sessionOf(ours), ours, goldenFeeds(0, B, weights, full));
  const r = await runBuilt(await sessionOf(ref), ref, goldenFeeds(0, B, headWeights));
  assert.deepEqual(a['out.headInput'], images('full.fused', 0, B));
  for (const name of ['out.de0', 'out.de1', 'out.inp', 'loss.recon', 'loss.gather']) assert.deepEqual(a[name], r[name], name);
  // Full-modality features against their own statistics: the alignment term is ~0 at identity.
  assert.ok(a['loss.align'][0] < 1e-9, `align ${a['loss.align'][0]}`);
});

test('the alignment term has a non-zero gradient on the affine of the subsets in the batch', async () => {
  const weights = withAffine();
  const built = buildTiny(B, config, weights, DEFAULT_OBJECTIVE, { stats: STATS, gradsOf: (o) => o.align! });
  const out = await runBuilt(await sessionOf(built), built, shiftedFeeds(weights, [0, 0, FULL_ROW, FULL_ROW], [0, 1]));
  assert.ok(out['loss.align'][0] > 1e-3, `align ${out['loss.align'][0]}`);
  const row = (name: string, r: number): Float32Array => out[`grad.${name}`].subarray(r * D, (r + 1) * D);
  for (const name of ['modality_affine.en1.weight', 'modality_affine.en1.bias']) {
    assert.ok(maxAbs(row(name, 0)) > 1e-4, `${name} row 0: ${maxAbs(row(name, 0))}`);
    assert.ok(maxAbs(row(name, FULL_ROW)) > 1e-5, `${name} row ${FULL_ROW}: ${maxAbs(row(name, FULL_ROW))}`);
    for (let r = 1; r < FULL_ROW; r++) assert.equal(maxAbs(row(name, r)), 0, `${name} row ${r} (subset not in the batch)`);
  }
  // Only En1 is aligned (the paper's best), and the head itself is not touched by this term.
  for (const name of ['modality_affine.en0.weight', 'bottleneck.0.fc1.weight', 'prototype_token'])
    assert.equal(maxAbs(out[`grad.${name}`]), 0, name);
});

test("recon trains both groups' affines through the head input; the gather loss never reaches them", async () => {
  const weights = withAffine();
  const feeds = shiftedFeeds(weights, [0, 0, FULL_ROW, FULL_ROW], [0, 1]);
  const recon = buildTiny(B, config, weights, DEFAULT_OBJECTIVE, { stats: STATS, gradsOf: (o) => o.recon });
  const r = await runBuilt(await sessionOf(recon), recon, feeds);
  for (const name of ['modality_affine.en0.weight', 'modality_affine.en0.bias', 'modality_affine.en1.weight', 'modality_affine.en1.bias']) {
    assert.ok(maxAbs(r[`grad.${name}`].subarray(0, D)) > 1e-6, name);
  }
  // INP coherence trains the INPs and the aggregation block only (x' is read stop-gradient).
  const gather = buildTiny(B, config, weights, DEFAULT_OBJECTIVE, { stats: STATS, gradsOf: (o) => o.gather });
  const gOut = await runBuilt(await sessionOf(gather), gather, feeds);
  for (const name of ['prototype_token', 'aggregation.0.mlp.fc2.weight']) assert.ok(maxAbs(gOut[`grad.${name}`]) > 1e-6, name);
  for (const name of ['modality_affine.en0.weight', 'modality_affine.en0.bias', 'modality_affine.en1.weight', 'modality_affine.en1.bias']) {
    assert.equal(maxAbs(gOut[`grad.${name}`]), 0, name);
  }
});

test('reference-compatible mode (no affine): the alignment term changes the loss but its gradient is exactly zero', async () => {
  // The public reference computes the alignment on frozen encoder features (docs/reference-arithmetic.md, finding 4).
  const refWithAlign: ObjectiveConfig = { ...REFERENCE_OBJECTIVE, lambdaAlign: 0.2 };
  const a = buildTiny(B, config, headWeights, refWithAlign, { stats: STATS, gradsOf: (o) => o.total });
  const r = buildTiny(B, config, headWeights, REFERENCE_OBJECTIVE, { gradsOf: (o) => o.total });
  const feeds = shiftedFeeds(headWeights, [0, 0, 0, 0], [0, 1]);
  const outA = await runBuilt(await sessionOf(a), a, feeds);
  const outR = await runBuilt(await sessionOf(r), r, feeds);
  const align = outA['loss.align'][0];
  assert.ok(align > 1e-3, `align ${align}`);
  assert.ok(Math.abs(outA.loss[0] - (outR.loss[0] + 0.2 * align)) < 1e-6);
  for (const name of headWeights.keys()) assert.deepEqual(outA[`grad.${name}`], outR[`grad.${name}`], name);
});

test('the alignment optimum undoes a channel shift (moment matching), and collapsed features are penalised', async () => {
  const alignOnly: ObjectiveConfig = { ...DEFAULT_OBJECTIVE };
  const run = async (gamma: (c: number) => number, beta: (c: number) => number): Promise<{ align: number; gradNorm: number }> => {
    const weights = withAffine();
    const w = weights.get('modality_affine.en1.weight')!.data;
    const b = weights.get('modality_affine.en1.bias')!.data;
    for (let c = 0; c < D; c++) {
      w[c] = gamma(c);
      b[c] = beta(c);
    } // row 0 (flair only)
    const built = buildTiny(B, config, weights, alignOnly, { stats: STATS, gradsOf: (o) => o.align! });
    const out = await runBuilt(await sessionOf(built), built, shiftedFeeds(weights, [0, 0, 0, 0], [0, 1, 2, 3]));
    let sq = 0;
    for (const v of out['grad.modality_affine.en1.weight']) sq += v * v;
    for (const v of out['grad.modality_affine.en1.bias']) sq += v * v;
    return { align: out['loss.align'][0], gradNorm: Math.sqrt(sq) };
  };
  const identity = await run(
    () => 1,
    () => 0,
  );
  // γ = 1/a, β = −c/a maps a·f + c back to f, whose statistics are the full-modality ones.
  const optimum = await run(
    (c) => 1 / SCALE[c],
    (c) => -SHIFT[c] / SCALE[c],
  );
  assert.ok(identity.align > 0.05, `identity ${identity.align}`);
  assert.ok(optimum.align < 1e-9 && optimum.gradNorm < 1e-4 * identity.gradNorm, `optimum ${JSON.stringify(optimum)}`);
  // Collapse (γ = 0, β = μ_full): every feature equal; the spread term costs mean σ_full² (~0.67 here).
  const collapsed = await run(
    () => 0,
    (c) => STATS[1].mean[c],
  );
  const expected = STATS[1].std.reduce((s, v) => s + v * v, 0) / D;
  assert.ok(Math.abs(collapsed.align - expected) < 1e-4 * expected, `collapsed ${collapsed.align} vs mean σ² ${expected}`);
  // γ = 0 is a stationary point of the spread term, but a maximum along γ: worse than no alignment at all.
  assert.ok(collapsed.align > identity.align && expected > 0.1, `collapsed ${collapsed.align}, identity ${identity.align}`);
});

test('ChannelStatsAccumulator: chunked running sums equal a two-pass computation', () => {
  const data = images('full.en1', 0, B);
  const chunked = new ChannelStatsAccumulator(D);
  chunked.add(data.subarray(0, D * 64), [1, D, 8, 8]);
  chunked.add(data.subarray(D * 64), [3, D, 8, 8]);
  const s = chunked.result();
  assert.equal(s.count, B * 64);
  for (let c = 0; c < D; c++) {
    let m = 0;
    for (let i = 0; i < B; i++) for (let k = 0; k < 64; k++) m += data[(i * D + c) * 64 + k];
    m /= B * 64;
    let v = 0;
    for (let i = 0; i < B; i++) for (let k = 0; k < 64; k++) v += (data[(i * D + c) * 64 + k] - m) ** 2;
    assert.ok(Math.abs(s.mean[c] - m) < 1e-6 && Math.abs(s.std[c] - Math.sqrt(v / (B * 64))) < 1e-5, `channel ${c}`);
  }
  assert.throws(() => chunked.add(new Float32Array(10), [1, D, 8, 8]), ConfigError);
  assert.throws(() => new ChannelStatsAccumulator(D).result(), ConfigError);
});

test('buildObjective refuses an affine without subsets and an alignment without statistics', () => {
  const g = new Graph();
  const fused = g.input('fused', [1, 64, D]);
  const en = [g.input('en0', [1, D, 8, 8]), g.input('en1', [1, D, 8, 8])] as const;
  const params = addGraphParams(g, withAffine());
  assert.throws(() => buildObjective(g, { fused, en }, params, config, DEFAULT_OBJECTIVE, STATS), /subset/);
  const subset = g.input('subset', [1], 'int64');
  assert.throws(() => buildObjective(g, { fused, en, subset }, params, config, DEFAULT_OBJECTIVE, []), /statistics .* group 1/);
});

test('finite differences of the alignment term agree with its gradient on the affine', async (t) => {
  // The alignment term alone: the total's gradient on the affine is by design not the derivative
  // of its value (the INP extractor reads x' stop-gradient, and the recon hook rescales).
  const weights = withAffine();
  const feeds = shiftedFeeds(weights, [0, 3, FULL_ROW, FULL_ROW], [0, 1]);
  const withGrads = buildTiny(B, config, weights, DEFAULT_OBJECTIVE, { stats: STATS, gradsOf: (o) => o.align! });
  const forward = buildTiny(B, config, weights, DEFAULT_OBJECTIVE, { stats: STATS });
  const analytic = await runBuilt(await sessionOf(withGrads), withGrads, feeds);
  const fs = await sessionOf(forward);
  const rand = mulberry(5);
  for (const name of ['modality_affine.en1.weight', 'modality_affine.en1.bias']) {
    const g = analytic[`grad.${name}`];
    // A random direction over the rows of the subsets in the batch (0, 3, 6), and the gradient's own.
    const random = g.map((_, i) => ([0, 3, FULL_ROW].includes(Math.floor(i / D)) ? rand() * 2 - 1 : 0));
    for (const [what, dir] of [
      ['random direction', random],
      ['its gradient', g],
    ] as const) {
      const norm = Math.sqrt(dir.reduce((s, v) => s + v * v, 0));
      const u = dir.map((v) => v / norm);
      const expected = u.reduce((s, v, i) => s + v * g[i], 0);
      const alignAt = async (step: number): Promise<number> => {
        const data = weights.get(name)!.data.map((v, i) => v + step * u[i]);
        return (await runBuilt(fs, forward, { ...feeds, [name]: data }, ['loss.align']))['loss.align'][0];
      };
      const h = 1e-3;
      const fd = ((await alignAt(h)) - (await alignAt(-h))) / (2 * h);
      const rel = Math.abs(fd - expected) / Math.abs(expected);
      t.diagnostic(
        `${name} along ${what}: analytic ${expected.toExponential(4)}, finite difference ${fd.toExponential(4)}, rel ${rel.toExponential(2)}`,
      );
      assert.ok(rel < 1e-2, `${name} along ${what}: ${rel}`);
    }
  }
});
