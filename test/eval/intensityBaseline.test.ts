// The non-learned intensity baseline against an independent numpy implementation of its
// definition, and the metrics of its maps against scikit-learn (fixture written by
// scripts/fixtures/make_baseline_fixtures.py: seeded synthetic [3, 56, 56] inputs with
// bright/dark blobs, a blank slice, a channel that is constant inside the brain).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { getFloat32, parseSafetensors } from '../../src/engine/safetensors';
import { intensityBaseline, percentileBySelection } from '../../src/engine/eval/intensityBaseline';
import { percentileSorted } from '../../src/engine/eval/bootstrap';
import { mulberry32 as rng } from '../helpers/random';
import { SubsetEvaluator } from '../../src/engine/eval/subsetEvaluator';
import { EvalError } from '../../src/engine/errors';

const FIX = join(__dirname, '..', 'fixtures', 'eval');
const file = parseSafetensors(gunzipSync(readFileSync(join(FIX, 'baseline.safetensors.gz'))));
const meta = JSON.parse(readFileSync(join(FIX, 'baseline.json'), 'utf8')) as {
  size: number;
  mapSize: number;
  labels: number[];
  caseIds: string[];
  metrics: Record<string, { imageAUROC: number; imageAP: number; pixelAUROC: number; pixelAP: number }>;
};
const C = meta.size;
const M = meta.mapSize;
const N = meta.labels.length;
const images = getFloat32(file, 'images', [N, 3, C, C]).data;
const masks = getFloat32(file, 'masks', [N, C, C]).data;
const maps = getFloat32(file, 'maps', [7, N, C, C]).data;
const nearest = getFloat32(file, 'nearest', [M]).data;
const scoresEntry = file.tensors.get('scores')!;
assert.equal(scoresEntry.dtype, 'F64');
const scoreView = new DataView(scoresEntry.bytes.buffer, scoresEntry.bytes.byteOffset, scoresEntry.bytes.byteLength);
const numpyScore = (subset: number, i: number) => scoreView.getFloat64(8 * ((subset - 1) * N + i), true);

const image = (i: number) => images.subarray(i * 3 * C * C, (i + 1) * 3 * C * C);
/** numpy's C×C map of slice i, taken to M² with torch's nearest indices (not our resize). */
function numpyMap256(subset: number, i: number): Float32Array {
  const src = maps.subarray(((subset - 1) * N + i) * C * C, ((subset - 1) * N + i + 1) * C * C);
  const out = new Float32Array(M * M);
  for (let y = 0; y < M; y++) for (let x = 0; x < M; x++) out[y * M + x] = src[nearest[y] * C + nearest[x]];
  return out;
}
function mask256(i: number): Uint8Array | null {
  if (!meta.labels[i]) return null;
  const out = new Uint8Array(M * M);
  for (let y = 0; y < M; y++) for (let x = 0; x < M; x++) out[y * M + x] = masks[i * C * C + nearest[y] * C + nearest[x]];
  return out;
}

test('intensity baseline: scores and 256² maps match the numpy implementation of the definition', () => {
  let worstMap = 0;
  for (let s = 1; s <= 7; s++) {
    for (let i = 0; i < N; i++) {
      const got = intensityBaseline(image(i), C, s);
      // Exact: the same float64 operations on the same float32 inputs (v = x·std + mean,
      // numpy's percentile formula, p99/med summed over channels in channel order).
      assert.equal(got.score, numpyScore(s, i), `subset ${s}, slice ${i}: score`);
      const want = numpyMap256(s, i);
      assert.equal(got.map.length, M * M);
      for (let k = 0; k < M * M; k++) {
        const d = Math.abs(got.map[k] - want[k]);
        worstMap = Math.max(worstMap, d / Math.max(1, Math.abs(want[k])));
        // The z maps agree in float64 to ~1e-15 (only numpy's pairwise vs our sequential sum
        // in mean and std differ); rounding to float32 could then land 1 ulp apart (6e-8
        // relative; measured on this fixture: 0). 4e-7 allows a few ulps and still fails any
        // real difference.
        if (d > 4e-7 * Math.max(1, Math.abs(want[k])))
          assert.fail(`subset ${s}, slice ${i}, pixel ${k}: ${got.map[k]} vs numpy ${want[k]}`);
      }
    }
  }
  assert.ok(worstMap < 4e-7, `worst relative map difference ${worstMap}`);
});

test('intensity baseline: a slice without brain scores 0 with an all-zero map; missing channels are ignored', () => {
  // The blank slice: every channel constant (the normalised zero background).
  const blank = meta.caseIds.findIndex((_, i) =>
    [0, 1, 2].every((c) =>
      image(i)
        .subarray(c * C * C, (c + 1) * C * C)
        .every((v, _k, a) => v === a[0]),
    ),
  );
  assert.ok(blank >= 0, 'the fixture has a blank slice');
  for (let s = 1; s <= 7; s++) {
    const r = intensityBaseline(image(blank), C, s);
    assert.equal(r.score, 0);
    assert.ok(r.map.every((v) => v === 0));
  }
  // Subset F ignores T1 and T2 entirely: changing them changes nothing.
  const x = Float32Array.from(image(1));
  const a = intensityBaseline(x, C, 1);
  for (let k = C * C; k < 3 * C * C; k++) x[k] = (k % 7) - 3;
  const b = intensityBaseline(x, C, 1);
  assert.equal(a.score, b.score);
  assert.deepEqual(a.map, b.map);
  assert.throws(() => intensityBaseline(x.subarray(1), C, 1), EvalError);
  assert.throws(() => intensityBaseline(x, C, 8), RangeError);
});

test('intensity baseline: image and pixel AUROC/AP of its maps match scikit-learn', () => {
  for (let s = 1; s <= 7; s++) {
    const ev = new SubsetEvaluator({ mapSize: M, expectedSlices: N, bootstrap: { samples: 0, seed: 0 } });
    for (let i = 0; i < N; i++) {
      const b = intensityBaseline(image(i), C, s);
      ev.addSlice(b.map, mask256(i), { score: b.score, caseId: meta.caseIds[i] });
    }
    const r = ev.finalize();
    const want = meta.metrics[String(s)];
    // Image level: the scores are bit-identical to numpy's, so AUROC is exact; AP agrees up
    // to the order sklearn and we add the same terms in (1e-15).
    assert.equal(r.metrics.image.auroc, want.imageAUROC, `subset ${s} image AUROC`);
    assert.ok(Math.abs(r.metrics.image.ap! - want.imageAP) < 1e-12, `subset ${s} image AP ${r.metrics.image.ap} vs ${want.imageAP}`);
    // Pixel level: our maps equal numpy's on this fixture (previous test), so the pixel
    // order is the same and only the order of additions differs (measured ≤ 4.5e-16). A
    // 1-ulp map difference would swap pixel pairs, each moving AUROC by 1/(P·N) ≈ 3e-10:
    // 1e-12 fails on any such swap as well as on any metric error.
    assert.ok(
      Math.abs(r.metrics.pixel.auroc! - want.pixelAUROC) < 1e-12,
      `subset ${s} pixel AUROC ${r.metrics.pixel.auroc} vs ${want.pixelAUROC}`,
    );
    assert.ok(Math.abs(r.metrics.pixel.ap! - want.pixelAP) < 1e-12, `subset ${s} pixel AP ${r.metrics.pixel.ap} vs ${want.pixelAP}`);
  }
});

test('percentiles by selection equal the sorted-array percentile bit for bit (ties, tiny and odd sizes)', () => {
  const r = rng(77);
  for (const n of [1, 2, 3, 4, 7, 100, 101, 1000, 4097]) {
    for (const levels of [3, 50, 0]) {
      // few distinct values, some, all distinct
      const values = Float64Array.from({ length: n }, () => (levels ? Math.floor(r() * levels) / levels : r()));
      const sorted = Float64Array.from(values).sort();
      for (const q of [0, 1, 50, 97.5, 99, 100]) {
        assert.equal(percentileBySelection(Float64Array.from(values), q), percentileSorted(sorted, q), `n ${n}, levels ${levels}, q ${q}`);
      }
    }
  }
});
