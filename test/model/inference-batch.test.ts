/**
 * The inference model with a symbolic batch axis (what bundles ship): one graph runs any batch
 * size, gives the reference's numbers (tiny-112 goldens), and each row of a batch is bit-identical
 * to that image run alone (batch 1) — so a batched whole-volume detect equals slice by slice.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraphError } from '../../src/engine/errors';
import { Graph, SYMBOLIC_BATCH_SENTINEL, emitModel, expand, reshape, add } from '../../src/engine/graph';
import { createSession, releaseSession, run } from '../../src/engine/graph/runtime';
import { initModalityAffine } from '../../src/engine/model/alignment';
import { loadEncoderWeights } from '../../src/engine/model/encoderWeights';
import { buildInferenceModel } from '../../src/engine/model/inference';
import { getFloat32, readSafetensors } from '../../src/engine/safetensors';
import { maskedGoldenBatch } from './encoderHelpers';
import { FIXTURES, maxErr, referenceHead } from './head-helpers';

const PX = 112;

test('inference model, symbolic batch: any batch size, reference numbers, rows identical to batch-1 runs', async () => {
  const golden = readSafetensors(join(FIXTURES, 'inference-golden.safetensors'));
  const goldenScore = getFloat32(golden, 'all.score', [4, 7]).data;
  const encoder = loadEncoderWeights(join(FIXTURES, 'encoder-ref.safetensors'));
  const head = referenceHead();
  const { image, subset } = maskedGoldenBatch();
  const session = await createSession(
    buildInferenceModel({ encoder, head, affine: initModalityAffine(head.config.dim), batch: 'dynamic', size: PX }),
    { provider: 'cpu', threads: 2 },
  );
  try {
    assert.deepEqual(session.inputNames, ['image', 'subset']);
    const per = 3 * PX * PX;
    // Batch 5 (images 0..4 of the 28 masked golden rows) against the goldens and against 5 runs of batch 1.
    const b = 5;
    const out = await run(session, { image: image.slice(0, b * per), subset: subset.slice(0, b) }, { image: [b, 3, PX, PX], subset: [b] });
    assert.deepEqual(out.map256.dims, [b, 1, 256, 256]);
    assert.deepEqual(out.score.dims, [b]);
    const score = out.score.data as Float32Array;
    const e = maxErr(score, goldenScore.subarray(0, b));
    assert.ok(e.rel < 1e-5, `score rel err ${e.rel}`);
    for (let i = 0; i < b; i++) {
      const one = await run(
        session,
        { image: image.slice(i * per, (i + 1) * per), subset: subset.slice(i, i + 1) },
        { image: [1, 3, PX, PX], subset: [1] },
      );
      assert.equal((one.score.data as Float32Array)[0], score[i], `row ${i}: batched score differs from batch 1`);
      const m = one.map256.data as Float32Array;
      const mb = (out.map256.data as Float32Array).subarray(i * 65536, (i + 1) * 65536);
      let d = 0;
      let n = 0;
      for (let j = 0; j < m.length; j++) {
        if (m[j] !== mb[j]) n++;
        d = Math.max(d, Math.abs(m[j] - mb[j]));
      }
      assert.ok(n === 0, `row ${i}: batched map256 differs from batch 1 in ${n} values, max ${d}`);
    }
  } finally {
    await releaseSession(session);
  }
});

test('symbolic batch emission: reshape and expand follow the run-time batch; the batch elsewhere is refused', async () => {
  const S = SYMBOLIC_BATCH_SENTINEL;
  const g = new Graph('sym');
  const x = g.input('x', [S, 2, 3]);
  const tok = g.constant(Float32Array.of(10, 20, 30), [1, 1, 3]);
  g.output('y', add(reshape(x, [S, 6]), reshape(expand(tok, [S, 2, 3]), [S, 6])));
  const session = await createSession(emitModel(g, { symbolicBatch: { size: S } }), { provider: 'cpu', threads: 1 });
  try {
    for (const b of [1, 3]) {
      const data = Float32Array.from({ length: b * 6 }, (_, i) => i);
      const y = (await run(session, { x: data }, { x: [b, 2, 3] })).y;
      assert.deepEqual(y.dims, [b, 6]);
      assert.deepEqual(
        Array.from(y.data as Float32Array),
        Array.from(data, (v, i) => v + [10, 20, 30][i % 3]),
      );
    }
  } finally {
    await releaseSession(session);
  }
  // The batch folded into another axis cannot follow the run-time batch: refused at emission.
  const bad = new Graph('bad');
  const z = bad.input('x', [S, 2, 3]);
  bad.output('y', reshape(z, [S * 2, 3]));
  assert.throws(() => emitModel(bad, { symbolicBatch: { size: S } }), GraphError);
});
