/**
 * The inference model end to end against the public reference (tiny-112 goldens): our encoder
 * (reference weights) → head (reference weights) → maps → score in one ONNX graph, for the
 * 4 golden images × 7 modality subsets (channels zeroed after normalisation, as predict.py).
 * Also the topK op it scores with, against a sort in JS.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraphError } from '../../src/engine/errors';
import { Graph, emitModel, grad, mul, reduceSum, topK } from '../../src/engine/graph';
import { createSession, releaseSession, run } from '../../src/engine/graph/runtime';
import { initModalityAffine } from '../../src/engine/model/alignment';
import { loadEncoderWeights } from '../../src/engine/model/encoderWeights';
import { INFERENCE_NAMES, buildInferenceModel } from '../../src/engine/model/inference';
import { getFloat32, readSafetensors } from '../../src/engine/safetensors';
import { mulberry32 } from '../helpers/random';
import { maskedGoldenBatch } from './encoderHelpers';
import { FIXTURES, maxErr, referenceHead } from './head-helpers';

const N = 4;
const COMBOS = 7;
const PX = 112;

/** Rows of the full-modality subset (id 7) of each image, out of a per-row output. */
function fullRows(data: Float32Array, perRow: number, images: number): Float32Array {
  const out = new Float32Array(images * perRow);
  for (let i = 0; i < images; i++) out.set(data.subarray((i * COMBOS + 6) * perRow, (i * COMBOS + 7) * perRow), i * perRow);
  return out;
}

test('inference model: scores of 4 images × 7 subsets and the maps match the reference (tiny-112)', async (t) => {
  const golden = readSafetensors(join(FIXTURES, 'inference-golden.safetensors'));
  const goldenScore = getFloat32(golden, 'all.score', [N, COMBOS]).data;
  const goldenPx = getFloat32(golden, 'full.amap_px', [N, 1, PX, PX]).data;
  const golden256 = getFloat32(golden, 'full.amap_256_smooth.0_2', [2, 1, 256, 256]).data;
  const encoder = loadEncoderWeights(join(FIXTURES, 'encoder-ref.safetensors'));
  const head = referenceHead();
  const { image, subset } = maskedGoldenBatch();
  const b = N * COMBOS;

  // Reference mode (no affine) and an identity affine must both give the reference's numbers.
  for (const affine of [undefined, initModalityAffine(head.config.dim)]) {
    const label = affine ? 'identity affine' : 'no affine';
    const session = await createSession(buildInferenceModel({ encoder, head, affine, batch: b, size: PX }), {
      provider: 'cpu',
      threads: 2,
    });
    try {
      const out = await run(session, { image, subset }, { image: [b, 3, PX, PX], subset: [b] });
      assert.deepEqual(out.map.dims, [b, 1, PX, PX]);
      assert.deepEqual(out.map256.dims, [b, 1, 256, 256]);
      assert.deepEqual(out.score.dims, [b]);
      const score = out[INFERENCE_NAMES.score].data as Float32Array;
      const eScore = maxErr(score, goldenScore);
      const ePx = maxErr(fullRows(out.map.data as Float32Array, PX * PX, N), goldenPx);
      const e256 = maxErr(fullRows(out.map256.data as Float32Array, 256 * 256, 2), golden256);
      t.diagnostic(
        `${label}: score max rel err ${eScore.rel.toExponential(2)}; amap_px ${ePx.abs.toExponential(2)} (max ${ePx.ref.toFixed(3)}); amap_256_smooth ${e256.abs.toExponential(2)} (max ${e256.ref.toFixed(3)})`,
      );
      assert.ok(eScore.rel < 1e-5, `${label}: score rel err ${eScore.rel}`);
      assert.ok(ePx.rel < 1e-5, `${label}: amap_px rel err ${ePx.rel}`);
      assert.ok(e256.rel < 1e-5, `${label}: amap_256_smooth rel err ${e256.rel}`);
    } finally {
      await releaseSession(session);
    }
  }
  // Non-degenerate: scores differ across subsets and images.
  assert.ok(Math.max(...goldenScore) - Math.min(...goldenScore) > 0.05);
});

test('inference model: a non-identity affine changes the scores of exactly the subsets it touches', async () => {
  const encoder = loadEncoderWeights(join(FIXTURES, 'encoder-ref.safetensors'));
  const head = referenceHead();
  const affine = initModalityAffine(head.config.dim);
  // Scale and shift only subset 2 (row 1) of group En1.
  const d = head.config.dim;
  const weight = affine.get('modality_affine.en1.weight')!.data;
  const bias = affine.get('modality_affine.en1.bias')!.data;
  for (let c = 0; c < d; c++) {
    weight[d + c] = 4;
    bias[d + c] = c % 2 ? 2 : -2;
  }
  const { image, subset } = maskedGoldenBatch();
  const rows = [0, 1, 2]; // image 0, subsets 1..3
  const b = rows.length;
  const per = 3 * PX * PX;
  const img = new Float32Array(b * per);
  rows.forEach((r, i) => img.set(image.subarray(r * per, (r + 1) * per), i * per));
  const ids = BigInt64Array.from(rows, (r) => subset[r]);
  const scores: Float32Array[] = [];
  for (const a of [undefined, affine]) {
    const session = await createSession(buildInferenceModel({ encoder, head, affine: a, batch: b, size: PX }), {
      provider: 'cpu',
      threads: 2,
    });
    scores.push((await run(session, { image: img, subset: ids }, { image: [b, 3, PX, PX], subset: [b] })).score.data as Float32Array);
    await releaseSession(session);
  }
  assert.equal(scores[1][0], scores[0][0]);
  assert.equal(scores[1][2], scores[0][2]);
  assert.ok(Math.abs(scores[1][1] - scores[0][1]) > 1e-4, `subset 2 score unchanged: ${scores[0][1]} vs ${scores[1][1]}`);
});

test('topK: values and int64 indices along an axis match a sort; no gradient', async () => {
  const rng = mulberry32(7);
  const [rows, cols, k] = [3, 50, 6];
  const data = Float32Array.from({ length: rows * cols }, () => rng() * 2 - 1);
  const g = new Graph('topk');
  const x = g.input('x', [rows, cols]);
  const [values, indices] = topK(x, k, 1);
  g.output('values', values);
  g.output('indices', indices);
  const session = await createSession(emitModel(g), { provider: 'cpu', threads: 1 });
  const out = await run(session, { x: data }, { x: [rows, cols] });
  await releaseSession(session);
  assert.deepEqual(out.values.dims, [rows, k]);
  assert.equal(out.indices.type, 'int64');
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: cols }, (_, i) => i).sort((a, b) => data[r * cols + b] - data[r * cols + a]);
    for (let j = 0; j < k; j++) {
      assert.equal(Number((out.indices.data as BigInt64Array)[r * k + j]), order[j]);
      assert.equal((out.values.data as Float32Array)[r * k + j], data[r * cols + order[j]]);
    }
  }
  assert.throws(() => topK(x, cols + 1, 1), GraphError);
  const g2 = new Graph('topk-grad');
  const w = g2.param('w', [cols], Float32Array.from(data.subarray(0, cols)));
  const loss = reduceSum(mul(topK(w, 3)[0], 2));
  assert.throws(() => grad(loss, [w]), GraphError);
});
