/**
 * Golden parity of the DINOv2 encoder against the AnyAD reference (tiny-112: D = 64, 10 blocks,
 * 4 heads, 112 px, 4 images): position-embedding interpolation, block-0 tokens, the 8 target
 * layers, their mean and En0/En1, through both the reference-named and the HF-named
 * checkpoint; batch independence over the 7 modality subsets; register-token handling.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { loadEncoderWeights, encoderWeightsFromSafetensors } from '../../src/engine/model/encoderWeights';
import { interpolatePosEmbed } from '../../src/engine/model/posEmbed';
import { readSafetensors } from '../../src/engine/safetensors';
import { createRng } from '../../src/engine/util/random';
import {
  HF_CONFIG,
  HF_WEIGHTS,
  N_IMAGES,
  PX,
  REF_WEIGHTS,
  editCheckpoint,
  encoderRunner,
  goldenF32,
  maskedGoldenBatch,
  maxAbs,
  runEncoder,
} from './encoderHelpers';

const D = 64;
const S = PX / 14; // 8×8 patch grid
const NP = S * S;
/** Encoder features: within 1e-4·max|ref| (the reference's own f32-vs-f64 noise is ~1e-6 relative). */
const FEATURE_TOL = 1e-4;

const GOLDEN_OUTPUTS: Array<[string, string]> = [
  ['tokens', 'full.embeddings'],
  ['layers', 'full.enc_layers'],
  ['fused', 'full.fused'],
  ['en0', 'full.en0'],
  ['en1', 'full.en1'],
];

function checkGolden(t: test.TestContext, label: string, out: Record<string, Float32Array>, tol = FEATURE_TOL): void {
  for (const [mine, ref] of GOLDEN_OUTPUTS) {
    const e = maxAbs(out[mine], goldenF32(ref));
    t.diagnostic(
      `${label} ${ref}: max abs err ${e.err.toExponential(2)} at max|ref| ${e.scale.toFixed(3)} (relative ${e.rel.toExponential(2)})`,
    );
    assert.ok(e.rel <= tol, `${label} ${ref}: max abs error ${e.err} exceeds ${tol}·${e.scale}`);
  }
}

test('position embedding: the reference interpolation (scale-factor bicubic, no antialias) matches the golden table', (t) => {
  const w = loadEncoderWeights(REF_WEIGHTS);
  const table = interpolatePosEmbed(w.posEmbed, D, 37, PX, PX, 14);
  assert.equal(table.length, (1 + NP) * D);
  const e = maxAbs(table, goldenF32('pos_embed_interp'));
  t.diagnostic(`pos_embed_interp: max abs err ${e.err.toExponential(2)} at max|ref| ${e.scale.toFixed(4)}`);
  // float64 evaluation of float32 weights: within a few float32 ulps of the reference's float32 kernel.
  assert.ok(e.err <= 1e-7, `pos_embed_interp error ${e.err}`);
  // The cls row is copied unchanged.
  assert.deepEqual(table.subarray(0, D), w.posEmbed.subarray(0, D));
  // At the checkpoint's own size (518 px, square) the table is used as is.
  assert.deepEqual(interpolatePosEmbed(w.posEmbed, D, 37, 518, 518, 14), w.posEmbed);
  // Non-square inputs resample rows and columns separately: 112×224 → 8×16 grid.
  assert.equal(interpolatePosEmbed(w.posEmbed, D, 37, 112, 224, 14).length, (1 + 8 * 16) * D);
});

test('golden parity: reference-named checkpoint (conv patch embedding), 4 full-modality images', async (t) => {
  const w = loadEncoderWeights(REF_WEIGHTS);
  assert.equal(w.provenance.naming, 'anyad-reference');
  const out = await runEncoder(w, goldenF32('image'), { batch: N_IMAGES, height: PX, width: PX });
  assert.deepEqual([out.layers.length, out.fused.length, out.en0.length], [N_IMAGES * 8 * NP * D, N_IMAGES * NP * D, N_IMAGES * D * NP]);
  checkGolden(t, 'ref', out);
});

test('golden parity: Hugging Face-named checkpoint with its config.json (matmul patch embedding)', async (t) => {
  const w = loadEncoderWeights(HF_WEIGHTS, { config: HF_CONFIG });
  assert.equal(w.provenance.naming, 'hf');
  // Same numbers as the reference-named file after fusing q, k, v.
  const ref = loadEncoderWeights(REF_WEIGHTS);
  assert.deepEqual(w.blocks[3].qkv.weight, ref.blocks[3].qkv.weight);
  assert.deepEqual(w.blocks[9].qkv.bias, ref.blocks[9].qkv.bias);
  assert.deepEqual(w.blocks[9].ls2, ref.blocks[9].ls2);
  const out = await runEncoder(w, goldenF32('image'), { batch: N_IMAGES, height: PX, width: PX, patchEmbed: 'matmul' });
  checkGolden(t, 'hf', out);
});

test('batch independence: the 7 modality subsets of the 4 images in one batch of 28 equal B = 1 runs', async (t) => {
  const w = loadEncoderWeights(REF_WEIGHTS);
  const { image: batch } = maskedGoldenBatch(); // row i·7 + c: image i, combination c + 1
  const per = 3 * PX * PX;
  const all = await runEncoder(w, batch, { batch: N_IMAGES * 7, height: PX, width: PX });
  const fusedSize = NP * D;

  // Combination 7 (all channels kept) rows are the golden full-modality features.
  const full = new Float32Array(N_IMAGES * fusedSize);
  for (let i = 0; i < N_IMAGES; i++) full.set(all.fused.subarray((i * 7 + 6) * fusedSize, (i * 7 + 7) * fusedSize), i * fusedSize);
  const eFull = maxAbs(full, goldenF32('full.fused'));
  t.diagnostic(`batched combination-7 rows vs golden full.fused: ${eFull.err.toExponential(2)}`);
  assert.ok(eFull.rel <= FEATURE_TOL);

  // Every row equals a B = 1 run of that input (no cross-talk through the batch axis).
  let worst = 0;
  let subsetGap = Infinity;
  const one = await encoderRunner(w, { batch: 1, height: PX, width: PX });
  for (let i = 0; i < N_IMAGES; i++) {
    for (let c = 0; c < 7; c++) {
      const row = i * 7 + c;
      const single = await one.run(batch.slice(row * per, (row + 1) * per));
      const e = maxAbs(all.fused.subarray(row * fusedSize, (row + 1) * fusedSize), single.fused);
      worst = Math.max(worst, e.rel);
      const en = maxAbs(all.en1.subarray(row * fusedSize, (row + 1) * fusedSize), single.en1);
      worst = Math.max(worst, en.rel);
      // A missing modality changes the features (the masking is real).
      if (c !== 6)
        subsetGap = Math.min(
          subsetGap,
          maxAbs(all.fused.subarray(row * fusedSize, (row + 1) * fusedSize), full.subarray(i * fusedSize, (i + 1) * fusedSize)).err,
        );
    }
  }
  await one.release();
  t.diagnostic(
    `batched vs B = 1 (28 rows): worst relative difference ${worst.toExponential(2)}; smallest subset-vs-full gap ${subsetGap.toFixed(3)}`,
  );
  assert.ok(worst <= 1e-5, `batch rows differ from single runs by ${worst}`);
  assert.ok(subsetGap > 1e-2, `masked subsets barely change the features (${subsetGap})`);
});

test('registers: a checkpoint with 4 register tokens uses them by default; registers: 0 reproduces the reference', async (t) => {
  const R = 4;
  const rng = createRng(2024);
  const regs = Float32Array.from({ length: R * D }, () => rng.normal() * 0.02);
  const src = readSafetensors(REF_WEIGHTS);
  const config = JSON.parse(src.metadata.config) as Record<string, unknown>;
  const file = editCheckpoint(src, (ts) => ts.set('encoder.register_tokens', { shape: [1, R, D], data: regs }), {
    ...src.metadata,
    config: JSON.stringify({ ...config, num_register_tokens: R }),
  });

  const withRegs = encoderWeightsFromSafetensors(file, { source: 'reg4' });
  assert.equal(withRegs.config.registers, R);
  assert.deepEqual([withRegs.provenance.registers, withRegs.provenance.checkpointRegisters], [R, R]);
  const image = goldenF32('image');
  const out = await runEncoder(withRegs, image, { batch: N_IMAGES, height: PX, width: PX });

  // Token sequence [cls + pos, reg × 4 (no position embedding), patches + pos].
  const T = 1 + R + NP;
  assert.equal(out.tokens.length, N_IMAGES * T * D);
  const refTokens = goldenF32('full.embeddings'); // [4, 1 + 64, D]
  for (let b = 0; b < N_IMAGES; b++) {
    const row = (k: number) => out.tokens.subarray((b * T + k) * D, (b * T + k + 1) * D);
    const refRow = (k: number) => refTokens.subarray((b * (1 + NP) + k) * D, (b * (1 + NP) + k + 1) * D);
    assert.deepEqual(row(0), refRow(0), 'cls + pos is first');
    for (let r = 0; r < R; r++) assert.deepEqual(row(1 + r), regs.subarray(r * D, (r + 1) * D), `register ${r} is inserted as is`);
    for (const p of [0, 17, NP - 1])
      assert.ok(maxAbs(row(1 + R + p), refRow(1 + p)).rel <= FEATURE_TOL, `patch ${p} follows the registers`);
  }
  // The registers take part in attention: the features move far beyond rounding noise.
  const gap = maxAbs(out.layers, goldenF32('full.enc_layers'));
  t.diagnostic(`with 4 registers, layers differ from the register-free golden by up to ${gap.err.toFixed(4)}`);
  assert.ok(gap.err > 1e-3, `registers had no visible effect (${gap.err})`);
  assert.equal(out.fused.length, N_IMAGES * NP * D, 'register tokens are stripped from the features');

  const dropped = encoderWeightsFromSafetensors(file, { source: 'reg4', registers: 0 });
  assert.deepEqual([dropped.config.registers, dropped.provenance.registers, dropped.provenance.checkpointRegisters], [0, 0, R]);
  checkGolden(t, 'reg4 with registers: 0', await runEncoder(dropped, image, { batch: N_IMAGES, height: PX, width: PX }));
});
