/**
 * End to end over all 7 modality subsets: our encoder (reference weights, masked inputs) feeds
 * our head; the per-image losses (B = 1, as the reference's goldens) match `all.loss_recon`
 * and `all.loss_gather`. Uses the encoder's fixtures (encoder-ref/encoder-golden).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSession, releaseSession, run } from '../../src/engine/graph/runtime';
import { encoderModelBytes } from '../../src/engine/model/encoder';
import { loadEncoderWeights } from '../../src/engine/model/encoderWeights';
import { REFERENCE_OBJECTIVE } from '../../src/engine/model/losses';
import { FIXTURES, buildTiny, goldenTensor, maxErr, referenceHead, runBuilt, sessionOf } from './head-helpers';
import { maskedGoldenBatch } from './encoderHelpers';

const N = 4;
const COMBOS = 7;
const PX = 112;

test('all 7 modality subsets: encoder → head per-image losses match the reference', async (t) => {
  const { image: batch } = maskedGoldenBatch(); // row i·7 + c: image i, combination c + 1
  const encoder = await createSession(
    encoderModelBytes(loadEncoderWeights(join(FIXTURES, 'encoder-ref.safetensors')), { batch: N * COMBOS, height: PX, width: PX }),
    { provider: 'cpu', threads: 2 },
  );
  const feats = await run(encoder, { image: batch }, { image: [N * COMBOS, 3, PX, PX] });
  await releaseSession(encoder);

  const { config, params } = referenceHead();
  const head = buildTiny(1, config, params, REFERENCE_OBJECTIVE);
  const session = await sessionOf(head);
  const row = (name: string, r: number): Float32Array => {
    const data = feats[name].data as Float32Array;
    const len = data.length / (N * COMBOS);
    return data.slice(r * len, (r + 1) * len);
  };
  const recon = new Float32Array(N * COMBOS);
  const gather = new Float32Array(N * COMBOS);
  for (let r = 0; r < N * COMBOS; r++) {
    const feeds = {
      fused: row('fused', r),
      en0: row('en0', r),
      en1: row('en1', r),
      ...Object.fromEntries([...params].map(([k, w]) => [k, w.data])),
    };
    const out = await runBuilt(session, head, feeds, ['loss.recon', 'loss.gather']);
    recon[r] = out['loss.recon'][0];
    gather[r] = out['loss.gather'][0];
  }
  const eRecon = maxErr(recon, goldenTensor('all.loss_recon').data);
  const eGather = maxErr(gather, goldenTensor('all.loss_gather').data);
  t.diagnostic(
    `loss_recon: max abs err ${eRecon.abs.toExponential(2)} (max ${eRecon.ref.toFixed(3)}); loss_gather: ${eGather.abs.toExponential(2)} (max ${eGather.ref.toFixed(3)})`,
  );
  // Encoder features may carry ~1e-4·max relative error (docs/reference-arithmetic.md#tolerances); the losses average it down.
  assert.ok(eRecon.rel < 1e-5 && eGather.rel < 1e-5, `recon ${eRecon.rel}, gather ${eGather.rel}`);
  // The subsets really differ (the check is not 28 copies of one value).
  const spread = Math.max(...recon) - Math.min(...recon);
  assert.ok(spread > 1e-2, `recon spread ${spread}`);
});
