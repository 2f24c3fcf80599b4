// Case-bootstrap intervals (eval/bootstrap.ts through SubsetEvaluator): where they sit, how
// they scale with the number of cases, that the unit is the case, seeding, the binned pixel
// path's documented bound, and the image label from SliceInfo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubsetEvaluator, type SubsetResult } from '../../src/engine/eval/subsetEvaluator';
import { binaryMetrics } from '../../src/engine/eval/binaryMetrics';
import { binBounds, blockAurocAp, caseBootstrap, interval95, percentileSorted } from '../../src/engine/eval/bootstrap';
import { PixelMetricAccumulator } from '../../src/engine/eval/pixelAccumulator';
import { createRng } from '../../src/engine/util/random';
import { mulberry32 as rng } from '../helpers/random';

const SIZE = 24;

interface Slice {
  map: Float32Array;
  mask: Uint8Array | null;
  caseId: string;
  score: number;
}

/**
 * `cases` cases of `perCase` slices; each case has its own lesion contrast and score offset
 * (slices of a case are alike, as in real data), half the slices a disc lesion.
 */
function cohort(cases: number, perCase: number, seed: number, prefix = 'c'): Slice[] {
  const r = rng(seed);
  const out: Slice[] = [];
  for (let c = 0; c < cases; c++) {
    const gain = 0.2 + 1.2 * r();
    const offset = 0.5 * r();
    for (let s = 0; s < perCase; s++) {
      const anomalous = (c + s) % 2 === 1;
      const map = new Float32Array(SIZE * SIZE);
      const mask = anomalous ? new Uint8Array(SIZE * SIZE) : null;
      const cx = 5 + r() * 14,
        cy = 5 + r() * 14,
        rad = 2 + r() * 3;
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++) {
          const i = y * SIZE + x;
          if ((x - 11.5) ** 2 + (y - 11.5) ** 2 > 121) {
            map[i] = -1;
            continue;
          } // a constant background tie block
          const inLesion = mask !== null && (x - cx) ** 2 + (y - cy) ** 2 <= rad * rad;
          if (inLesion) mask[i] = 1;
          map[i] = r() + (inLesion ? gain * r() : 0);
        }
      }
      out.push({ map, mask, caseId: `${prefix}${c}`, score: offset + r() + (anomalous ? 0.8 * gain : 0) });
    }
  }
  return out;
}

function evaluate(slices: Slice[], opts: { samples?: number; seed?: number; bins?: number; caseIds?: boolean } = {}): SubsetResult {
  const ev = new SubsetEvaluator({ mapSize: SIZE, bootstrap: { samples: opts.samples ?? 1000, seed: opts.seed ?? 0, bins: opts.bins } });
  for (const s of slices) ev.addSlice(s.map, s.mask, { score: s.score, caseId: opts.caseIds === false ? undefined : s.caseId });
  return ev.finalize();
}

const width = (iv: [number, number] | null): number => (iv ? iv[1] - iv[0] : NaN);
const METRICS = [
  ['image', 'auroc'],
  ['image', 'ap'],
  ['pixel', 'auroc'],
  ['pixel', 'ap'],
] as const;

test('each 95 % interval contains its point estimate and lies in [0, 1]', () => {
  for (const seed of [1, 2, 3]) {
    const r = evaluate(cohort(12, 6, seed));
    const ci = r.metrics.ci!;
    for (const [level, metric] of METRICS) {
      const iv = ci[level][metric];
      const point = r.metrics[level][metric]!;
      assert.ok(iv, `${level} ${metric}: interval`);
      assert.ok(iv[0] <= point && point <= iv[1], `seed ${seed}, ${level} ${metric}: ${point} outside [${iv.join(',')}]`);
      assert.ok(iv[0] >= 0 && iv[1] <= 1 && iv[0] < iv[1], `${level} ${metric}: [${iv.join(',')}]`);
    }
  }
});

test('intervals shrink as cases grow: 64 cases give about 1/√8 of the width of 8', () => {
  const small = evaluate(cohort(8, 5, 11)).metrics.ci!;
  const large = evaluate(cohort(64, 5, 11)).metrics.ci!;
  for (const [level, metric] of METRICS) {
    const ratio = width(large[level][metric]) / width(small[level][metric]);
    // Expected ≈ 0.35; 0.7 leaves room for the sampling noise of two finite cohorts.
    assert.ok(ratio < 0.7, `${level} ${metric}: width ratio ${ratio.toFixed(3)}`);
  }
});

test('same seed gives identical intervals, another seed different ones', () => {
  const slices = cohort(10, 5, 5);
  const a = evaluate(slices, { seed: 42 }).metrics.ci!;
  const b = evaluate(slices, { seed: 42 }).metrics.ci!;
  const c = evaluate(slices, { seed: 43 }).metrics.ci!;
  assert.deepEqual(a, b);
  for (const [level, metric] of METRICS) assert.notDeepEqual(a[level][metric], c[level][metric], `${level} ${metric}`);
});

test('the resampling unit is the case: duplicating slices within cases keeps the intervals, duplicating cases shrinks them', () => {
  const slices = cohort(10, 5, 9);
  const base = evaluate(slices);
  // Every slice twice in its own case: each resample's metrics are unchanged (all counts double).
  const dupSlices = evaluate(slices.flatMap((s) => [s, s]));
  // Every case twice, as two cases: twice the independent units.
  const dupCases = evaluate([...slices, ...slices.map((s) => ({ ...s, caseId: `${s.caseId}-copy` }))]);
  assert.equal(dupSlices.metrics.counts!.cases, 10);
  assert.equal(dupCases.metrics.counts!.cases, 20);
  for (const [level, metric] of METRICS) {
    const b = base.metrics.ci![level][metric]!;
    const s = dupSlices.metrics.ci![level][metric]!;
    // Same draws, every count doubled: AUROC and AP of each resample are the same numbers
    // (up to the last bit of the pixel-level shift, which is a difference of two values).
    assert.ok(Math.abs(s[0] - b[0]) < 1e-12 && Math.abs(s[1] - b[1]) < 1e-12, `${level} ${metric}: [${s.join(',')}] vs [${b.join(',')}]`);
    const ratio = width(dupCases.metrics.ci![level][metric]) / width(b);
    assert.ok(ratio < 0.85, `${level} ${metric}: duplicating cases, width ratio ${ratio.toFixed(3)} (≈ 0.71 expected)`);
  }
  // Without case ids every slice is a unit: duplicated slices then do shrink the interval.
  const perSlice = evaluate(slices, { caseIds: false });
  const perSliceDup = evaluate(
    slices.flatMap((s) => [s, s]),
    { caseIds: false },
  );
  assert.equal(perSlice.metrics.counts!.cases, 50);
  assert.ok(width(perSliceDup.metrics.ci!.image.auroc) < 0.85 * width(perSlice.metrics.ci!.image.auroc));
});

test('image-level draws are exact: each equals binaryMetrics of the explicitly resampled slices', () => {
  const slices = cohort(7, 4, 21);
  const r = rng(4);
  const scores = slices.map(() => Math.round(r() * 10) / 10); // many ties
  const labels = slices.map((s) => (s.mask ? 1 : 0));
  const unitOf = (id: string) => Number(id.slice(1));
  const units = slices.map((s) => unitOf(s.caseId));
  const draws = caseBootstrap(7, { scores, labels, units }, undefined, { samples: 50, seed: 3 });
  const g = createRng(3);
  for (let s = 0; s < 50; s++) {
    const w = new Array(7).fill(0);
    for (let i = 0; i < 7; i++) w[g.int(7)]++;
    const S: number[] = [];
    const L: number[] = [];
    slices.forEach((_, i) => {
      for (let k = 0; k < w[units[i]]; k++) {
        S.push(scores[i]);
        L.push(labels[i]);
      }
    });
    const m = binaryMetrics(S, L);
    // Same integer counts and the same sweep formulas; only the AP sum's order of additions may differ.
    if (m.auroc === null) assert.ok(Number.isNaN(draws.image.auroc[s]));
    else assert.ok(Math.abs(draws.image.auroc[s] - m.auroc) < 1e-14, `resample ${s}`);
    if (m.ap === null) assert.ok(Number.isNaN(draws.image.ap[s]));
    else assert.ok(Math.abs(draws.image.ap[s] - m.ap) < 1e-14, `resample ${s}`);
  }
});

test('blockAurocAp with one block per tie equals binaryMetrics exactly', () => {
  const r = rng(8);
  const scores = Array.from({ length: 300 }, () => Math.floor(r() * 40));
  const labels = scores.map((s) => (r() < 0.2 + s / 60 ? 1 : 0));
  const pos = new Float64Array(40);
  const neg = new Float64Array(40);
  scores.forEach((s, i) => {
    if (labels[i]) pos[39 - s]++;
    else neg[39 - s]++;
  });
  const got = blockAurocAp(pos, neg);
  const want = binaryMetrics(scores, labels);
  assert.equal(got.auroc, want.auroc);
  assert.ok(Math.abs(got.ap - want.ap!) < 1e-15);
});

test('binned pixel AUROC/AP of the full sample stay within the documented bound of the exact values', () => {
  const slices = cohort(12, 6, 31);
  for (const bins of [4, 16, 64, 4096]) {
    const r = evaluate(slices, { bins, samples: 10 });
    const pb = r.pixelBinning!;
    assert.ok(pb.bins <= bins);
    const dA = Math.abs(r.pixel.auroc! - pb.binned.auroc);
    const dP = Math.abs(r.pixel.ap! - pb.binned.ap);
    assert.ok(dA <= pb.bound.auroc + 1e-15, `${bins} bins: AUROC |Δ| ${dA} > bound ${pb.bound.auroc}`);
    assert.ok(dP <= pb.bound.ap + 1e-15, `${bins} bins: AP |Δ| ${dP} > bound ${pb.bound.ap}`);
    if (bins === 4) assert.ok(dA > 1e-4, 'coarse bins do move the value (the check can fail)');
  }
  // With the default bins the bound itself is small (measured sizes in bootstrap.ts's header).
  const pb = evaluate(slices, { samples: 10 }).pixelBinning!;
  assert.ok(pb.bound.auroc < 2e-3 && pb.bound.ap < 1e-2, JSON.stringify(pb));
});

test('binBounds and the binned counts: one bin per tie block makes the binned values exact', () => {
  const slices = cohort(5, 4, 41).map((s) => ({ ...s, map: s.map.map((v) => Math.round(v * 4) / 4) })); // few distinct scores
  const acc = new PixelMetricAccumulator();
  for (const s of slices) acc.add(s.map, s.mask, SIZE, SIZE);
  const unit = slices.map((s) => Number(s.caseId.slice(1)));
  const { metrics, binned } = acc.finalizeBinned({ imageUnit: unit, units: 5, bins: 1 << 16 });
  assert.equal(binned.bins, metrics.distinctThresholds);
  const pos = new Float64Array(binned.bins);
  const neg = new Float64Array(binned.bins);
  for (let u = 0; u < 5; u++)
    for (let b = 0; b < binned.bins; b++) {
      pos[b] += binned.pos[u * binned.bins + b];
      neg[b] += binned.neg[u * binned.bins + b];
    }
  assert.equal(
    pos.reduce((a, b) => a + b),
    metrics.positives,
  );
  assert.equal(
    neg.reduce((a, b) => a + b),
    metrics.negatives,
  );
  const v = blockAurocAp(pos, neg);
  assert.equal(v.auroc, metrics.auroc);
  assert.ok(Math.abs(v.ap - metrics.ap!) < 1e-15);
  assert.ok(binBounds(pos, neg).auroc > 0); // the bound does not know the bins are exact
  // Per unit: each case's pixels are in its own row.
  const perUnit = Array.from(
    { length: 5 },
    (_, u) =>
      binned.neg.subarray(u * binned.bins, (u + 1) * binned.bins).reduce((a, b) => a + b) +
      binned.pos.subarray(u * binned.bins, (u + 1) * binned.bins).reduce((a, b) => a + b),
  );
  assert.deepEqual(
    perUnit,
    unit.reduce(
      (acc2, u) => {
        acc2[u] += SIZE * SIZE;
        return acc2;
      },
      [0, 0, 0, 0, 0],
    ),
  );
});

test('SliceInfo.anomalous sets the image label: a slice with an empty mask can be anomalous', () => {
  const ev = new SubsetEvaluator({ mapSize: 4, bootstrap: { samples: 0, seed: 0 } });
  const map = (v: number) => new Float32Array(16).fill(v);
  ev.addSlice(map(0.1), null, { caseId: 'a' });
  ev.addSlice(map(0.9), null, { caseId: 'a', anomalous: true }); // lesion lost in resizing
  ev.addSlice(map(0.5), new Uint8Array(16), { caseId: 'b', anomalous: true }); // all-zero mask
  const withPixels = new Uint8Array(16);
  withPixels[3] = 1;
  ev.addSlice(map(0.2), withPixels, { caseId: 'b' }); // label from the mask
  ev.addSlice(map(0.3), withPixels, { anomalous: false }); // the caller's label wins; own unit
  const r = ev.finalize();
  assert.deepEqual(r.metrics.counts, { cases: 3, slices: 5, normal: 2, anomalous: 3 });
  assert.equal(r.image.positives, 3);
  assert.equal(r.pixel.positives, 2); // pixel metrics still use the masks
  assert.equal(r.metrics.ci, undefined); // samples 0: no intervals
  // Image AUROC: positives 0.9, 0.5, 0.2 vs normals 0.1, 0.3 → (2 + 2 + 1) / 6.
  assert.equal(r.metrics.image.auroc, 5 / 6);
});

test('intervals are null where the metric is undefined; without a bootstrap option the intervals are on', () => {
  const ev = new SubsetEvaluator({ mapSize: SIZE });
  for (const s of cohort(4, 3, 51).filter((x) => !x.mask)) ev.addSlice(s.map, null, { caseId: s.caseId });
  const r = ev.finalize();
  assert.deepEqual(r.metrics.ci, { image: { auroc: null, ap: null }, pixel: { auroc: null, ap: null } });
  const ok = evaluate(cohort(6, 4, 52));
  assert.ok(ok.metrics.ci!.image.auroc);
});

test("percentileSorted is numpy's linear percentile", () => {
  // np.percentile([1, 2, 3, 4], q) for q = 2.5, 50, 97.5, 99 and of [5] → 5.
  const a = [1, 2, 3, 4];
  assert.equal(percentileSorted(a, 2.5), 1.075);
  assert.equal(percentileSorted(a, 50), 2.5);
  assert.equal(percentileSorted(a, 97.5), 3.925);
  assert.equal(percentileSorted(a, 99), 3.9699999999999998);
  assert.equal(percentileSorted([5], 99), 5);
  assert.deepEqual(interval95([NaN, 1, 2, 3, 4, NaN]), [1.075, 3.925]);
  assert.equal(interval95([NaN]), null);
});
