/**
 * Encoder weights: naming detection (HF with/without prefix, Meta, AnyAD reference), config
 * inference and cross-checks, loading only the blocks AnyAD uses, BF16 conversion, error
 * messages naming the tensor, presets, and the seeded random init with its provenance.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { type AnyadError, ConfigError, SafetensorsError } from '../../src/engine/errors';
import {
  createRandomEncoderWeights,
  describeProvenance,
  detectEncoderNaming,
  encoderWeightsFromSafetensors,
  loadEncoderWeights,
} from '../../src/engine/model/encoderWeights';
import { blocksUsed, vitPreset } from '../../src/engine/model/vitConfig';
import { readSafetensors, toFloat32 } from '../../src/engine/safetensors';
import {
  HF_CONFIG,
  HF_WEIGHTS,
  N_IMAGES,
  PX,
  REF_WEIGHTS,
  bf16Checkpoint,
  editCheckpoint,
  goldenF32,
  maxAbs,
  runEncoder,
} from './encoderHelpers';

const D = 64;

function throwsWith(fn: () => unknown, cls: abstract new (...args: never[]) => AnyadError, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

/** The reference file renamed: `encoder.` stripped (Meta naming), or any other prefix put in front. */
function renamed(rename: (name: string) => string) {
  const src = readSafetensors(REF_WEIGHTS);
  return editCheckpoint(
    src,
    (ts) => {
      const entries = [...ts];
      ts.clear();
      for (const [n, t] of entries) ts.set(rename(n), t);
    },
    {},
  );
}

test('naming detection: reference, Meta, prefixed Meta, Hugging Face and dinov2.-prefixed Hugging Face', () => {
  assert.deepEqual(detectEncoderNaming(readSafetensors(REF_WEIGHTS).tensors.keys()), { naming: 'anyad-reference', prefix: 'encoder.' });
  assert.deepEqual(detectEncoderNaming(readSafetensors(HF_WEIGHTS).tensors.keys()), { naming: 'hf', prefix: '' });
  assert.deepEqual(detectEncoderNaming(['cls_token', 'blocks.0.norm1.weight']), { naming: 'meta', prefix: '' });
  assert.deepEqual(detectEncoderNaming(['backbone.cls_token', 'backbone.blocks.0.norm1.weight']), { naming: 'meta', prefix: 'backbone.' });
  assert.deepEqual(detectEncoderNaming(['dinov2.embeddings.cls_token', 'dinov2.encoder.layer.0.norm1.weight', 'classifier.weight']), {
    naming: 'hf',
    prefix: 'dinov2.',
  });
  // A cls_token without blocks next to it (some other module) is skipped.
  assert.deepEqual(detectEncoderNaming(['head.cls_token', 'encoder.cls_token', 'encoder.blocks.0.norm1.weight']), {
    naming: 'anyad-reference',
    prefix: 'encoder.',
  });
  throwsWith(
    () => detectEncoderNaming(['prototype_token', 'decoder.0.norm1.weight']),
    SafetensorsError,
    'safetensors/not-an-encoder',
    /no DINOv2 encoder found.*prototype_token/,
  );
});

test('the three namings load to identical internal weights; the config is inferred from the tensors', () => {
  const ref = loadEncoderWeights(REF_WEIGHTS);
  const meta = encoderWeightsFromSafetensors(
    renamed((n) => n.replace(/^encoder\./, '')),
    { source: 'meta' },
  );
  const hf = loadEncoderWeights(HF_WEIGHTS);
  const hfPrefixed = encoderWeightsFromSafetensors(
    (() => {
      const src = readSafetensors(HF_WEIGHTS);
      return editCheckpoint(
        src,
        (ts) => {
          const e = [...ts];
          ts.clear();
          for (const [n, t] of e) ts.set(`dinov2.${n}`, t);
        },
        {},
      );
    })(),
    { source: 'hf-prefixed' },
  );
  assert.equal(meta.provenance.naming, 'meta');
  assert.equal(hfPrefixed.provenance.naming, 'hf');
  for (const w of [meta, hf, hfPrefixed]) {
    assert.deepEqual(w.config, ref.config);
    assert.deepEqual(w.clsToken, ref.clsToken);
    assert.deepEqual(w.posEmbed, ref.posEmbed);
    assert.deepEqual(w.patchEmbed, ref.patchEmbed);
    assert.deepEqual(w.blocks, ref.blocks);
  }
  // Without any config JSON (Meta file, no metadata) heads come from the width: 64 → 4.
  assert.deepEqual(
    { ...meta.config },
    {
      embedDim: 64,
      depth: 10,
      numHeads: 4,
      patchSize: 14,
      mlpRatio: 4,
      registers: 0,
      lnEps: 1e-6,
      posGrid: 37,
      layerScale: true,
      targetLayers: [2, 3, 4, 5, 6, 7, 8, 9],
      fuseGroups: [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
      ],
    },
  );
  // The internal qkv is [q; k; v] from HF's three projections.
  const src = readSafetensors(HF_WEIGHTS);
  const k5 = toFloat32(src.tensors.get('encoder.layer.5.attention.attention.key.weight')!);
  assert.deepEqual(hf.blocks[5].qkv.weight.subarray(D * D, 2 * D * D), k5);
  // Provenance of a file load: pretrained, naming, source, sha256.
  assert.equal(ref.provenance.kind, 'pretrained');
  assert.equal(ref.provenance.source, REF_WEIGHTS);
  assert.match(ref.provenance.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.match(
    describeProvenance(ref.provenance),
    /pretrained encoder .*encoder-ref\.safetensors \(anyad-reference naming, 0 register tokens/,
  );
});

test('only blocks up to the last target layer are loaded; a checkpoint trimmed to those blocks loads too', () => {
  const w = loadEncoderWeights(REF_WEIGHTS, { targetLayers: [1, 2, 3], fuseGroups: [[0], [1, 2]] });
  assert.equal(w.blocks.length, 4);
  assert.equal(blocksUsed(w.config), 4);
  // Blocks 4–9 removed from the file: nothing asks for them.
  const trimmed = editCheckpoint(readSafetensors(REF_WEIGHTS), (ts) => {
    for (const n of [...ts.keys()]) if (/^encoder\.blocks\.([4-9])\./.test(n)) ts.delete(n);
  });
  const t = encoderWeightsFromSafetensors(trimmed, { targetLayers: [1, 2, 3], fuseGroups: [[0], [1, 2]] });
  assert.equal(t.config.depth, 10, 'depth from the metadata config; the file is trimmed');
  assert.deepEqual(t.blocks, w.blocks);
  // The default target layers (2..9) need block 9, which is gone.
  throwsWith(
    () => encoderWeightsFromSafetensors(trimmed, { source: 'trimmed.safetensors' }),
    SafetensorsError,
    'safetensors/missing-tensor',
    /^trimmed\.safetensors: encoder\.blocks\.4\.norm1\.weight: missing \(AnyAD reference naming, prefix 'encoder\.'\)/,
  );
  // Without a config saying otherwise, a 4-block file cannot serve target layer 9.
  throwsWith(
    () => encoderWeightsFromSafetensors(editCheckpoint(trimmed, () => undefined, {})),
    ConfigError,
    'config/vit',
    /targetLayers\[2\] = 4 is not a block of a 4-block encoder/,
  );
});

test('error messages name the missing or mis-shaped tensor and the file', () => {
  const src = readSafetensors(REF_WEIGHTS);
  const missing = editCheckpoint(src, (ts) => ts.delete('encoder.blocks.3.attn.qkv.weight'));
  throwsWith(
    () => encoderWeightsFromSafetensors(missing, { source: 'model.safetensors' }),
    SafetensorsError,
    'safetensors/missing-tensor',
    /^model\.safetensors: encoder\.blocks\.3\.attn\.qkv\.weight: missing/,
  );
  const wrong = editCheckpoint(src, (ts) =>
    ts.set('encoder.blocks.3.attn.qkv.weight', { shape: [192, 32], data: new Float32Array(192 * 32) }),
  );
  throwsWith(
    () => encoderWeightsFromSafetensors(wrong, { source: 'model.safetensors' }),
    SafetensorsError,
    'safetensors/shape-mismatch',
    /^model\.safetensors: encoder\.blocks\.3\.attn\.qkv\.weight: expected \[192, 64\], found \[192, 32\]$/,
  );
  const hfMissing = editCheckpoint(readSafetensors(HF_WEIGHTS), (ts) => ts.delete('encoder.layer.7.attention.attention.value.bias'));
  throwsWith(
    () => encoderWeightsFromSafetensors(hfMissing),
    SafetensorsError,
    'safetensors/missing-tensor',
    /encoder\.layer\.7\.attention\.attention\.value\.bias: missing \(Hugging Face naming\)/,
  );
  const badPos = editCheckpoint(src, (ts) => ts.set('encoder.pos_embed', { shape: [1, 1371, D], data: new Float32Array(1371 * D) }));
  throwsWith(
    () => encoderWeightsFromSafetensors(badPos),
    SafetensorsError,
    'safetensors/shape-mismatch',
    /encoder\.pos_embed: expected \[1, 1 \+ G², 64\] for a square grid G, found \[1, 1371, 64\]/,
  );
  const intWeights = editCheckpoint(src, (ts) =>
    ts.set('encoder.blocks.0.ls1.gamma', { dtype: 'I64', shape: [D], data: new BigInt64Array(D) }),
  );
  throwsWith(
    () => encoderWeightsFromSafetensors(intWeights),
    SafetensorsError,
    'safetensors/dtype',
    /encoder\.blocks\.0\.ls1\.gamma: expected a floating-point tensor, found I64/,
  );
  throwsWith(
    () => loadEncoderWeights('/nonexistent/dinov2.safetensors'),
    SafetensorsError,
    'safetensors/unreadable',
    /dinov2\.safetensors: cannot read encoder weights: no such file or folder \(ENOENT\)/,
  );
});

test('config cross-checks: JSON config vs tensors, register requests, unknown widths', () => {
  throwsWith(
    () => loadEncoderWeights(HF_WEIGHTS, { config: { hidden_size: 128, num_attention_heads: 4 } }),
    ConfigError,
    'config/vit-mismatch',
    /config says embedDim = 128 but the weights have 64/,
  );
  throwsWith(
    () => loadEncoderWeights(HF_WEIGHTS, { config: { hidden_size: 64, num_register_tokens: 4 } }),
    ConfigError,
    'config/vit-mismatch',
    /num_register_tokens = 4 but the weights have 0/,
  );
  throwsWith(() => loadEncoderWeights(HF_WEIGHTS, { config: { use_swiglu_ffn: true } }), ConfigError, 'config/vit-json', /SwiGLU/);
  throwsWith(
    () => loadEncoderWeights(HF_WEIGHTS, { registers: 4 }),
    ConfigError,
    'config/registers',
    /registers: 4 requested, but the checkpoint has 0 register tokens/,
  );
  // A config JSON overrides the width → heads table (8 heads of 8 instead of 4 of 16).
  assert.equal(loadEncoderWeights(HF_WEIGHTS, { config: { num_attention_heads: 8 } }).config.numHeads, 8);
  assert.equal(loadEncoderWeights(HF_WEIGHTS, { config: HF_CONFIG }).config.numHeads, 4);
  // A width whose head count is unknown and no config: say what to pass.
  const d = 48;
  const tiny = createRandomEncoderWeights({ ...vitPreset('tiny'), embedDim: d, numHeads: 4 }, 1);
  const file = editCheckpoint(
    readSafetensors(REF_WEIGHTS),
    (ts) => {
      ts.clear();
      ts.set('cls_token', { shape: [1, 1, d], data: tiny.clsToken });
      ts.set('pos_embed', { shape: [1, 1370, d], data: tiny.posEmbed });
      ts.set('patch_embed.proj.weight', { shape: [d, 3, 14, 14], data: tiny.patchEmbed.weight });
      ts.set('blocks.0.mlp.fc1.weight', { shape: [4 * d, d], data: tiny.blocks[0].fc1.weight });
    },
    {},
  );
  throwsWith(
    () => encoderWeightsFromSafetensors(file),
    ConfigError,
    'config/vit-heads',
    /attention heads of a width-48 encoder; pass a config JSON/,
  );
});

test('BF16 checkpoints are converted to float32 and still give the golden features to BF16 precision', async (t) => {
  const bf = encoderWeightsFromSafetensors(bf16Checkpoint(readSafetensors(REF_WEIGHTS)), { source: 'bf16' });
  const ref = loadEncoderWeights(REF_WEIGHTS);
  // Each value is its float32 original with the low 16 bits cleared.
  const orig = ref.blocks[2].fc1.weight;
  const conv = bf.blocks[2].fc1.weight;
  const bits = new Uint32Array(orig.buffer, orig.byteOffset, orig.length);
  for (let i = 0; i < orig.length; i += 97) assert.equal(conv[i], new Float32Array(new Uint32Array([bits[i] & 0xffff0000]).buffer)[0]);
  const out = await runEncoder(bf, goldenF32('image'), { batch: N_IMAGES, height: PX, width: PX });
  const e = maxAbs(out.fused, goldenF32('full.fused'));
  t.diagnostic(`BF16 weights: fused max abs err ${e.err.toFixed(4)} (relative ${e.rel.toExponential(2)})`);
  // BF16 keeps 8 significant bits (~4e-3 relative per weight).
  assert.ok(e.rel < 0.1 && e.err > 1e-5, `BF16 error ${e.err} out of the expected range`);
});

test('presets and random init: deterministic, labelled random-init, only the used blocks, runs in a graph', async () => {
  const base = vitPreset('base');
  assert.deepEqual(
    [base.embedDim, base.depth, base.numHeads, base.patchSize, base.mlpRatio, base.posGrid, base.lnEps],
    [768, 12, 12, 14, 4, 37, 1e-6],
  );
  assert.deepEqual(
    [vitPreset('small').embedDim, vitPreset('small').numHeads, vitPreset('large').depth, vitPreset('large').numHeads],
    [384, 6, 24, 16],
  );
  throwsWith(
    () => vitPreset('tiny', { targetLayers: [2, 12] }),
    ConfigError,
    'config/vit',
    /targetLayers\[1\] = 12 is not a block of a 10-block encoder/,
  );
  throwsWith(() => vitPreset('tiny', { numHeads: 5 }), ConfigError, 'config/vit', /embedDim 64 is not divisible by numHeads 5/);

  const cfg = vitPreset('tiny', { registers: 2 });
  const a = createRandomEncoderWeights(cfg, 7);
  const b = createRandomEncoderWeights(cfg, 7);
  const c = createRandomEncoderWeights(cfg, 8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.blocks[0].qkv.weight, c.blocks[0].qkv.weight);
  assert.equal(a.blocks.length, 10);
  assert.equal(a.registerTokens.length, 2 * D);
  assert.equal(a.provenance.kind, 'random-init');
  assert.equal(a.provenance.seed, 7);
  assert.match(describeProvenance(a.provenance), /^RANDOM-INIT encoder \(seed 7; not pretrained/);
  // Block i does not depend on how many blocks are built.
  const short = createRandomEncoderWeights({ ...cfg, targetLayers: [0, 1, 2], fuseGroups: [[0, 1, 2]] }, 7);
  assert.equal(short.blocks.length, 3);
  assert.deepEqual(short.blocks[2], a.blocks[2]);
  // ViT-B: 12 blocks in the config, 10 built.
  assert.equal(blocksUsed(base), 10);

  const out = await runEncoder(a, goldenF32('image').subarray(0, 3 * PX * PX), { batch: 1, height: PX, width: PX });
  assert.equal(out.tokens.length, (1 + 2 + 64) * D);
  assert.equal(out.en1.length, D * 64);
  assert.ok(out.en1.every(Number.isFinite));
  // Non-degenerate: the features vary across patches (largest distance of a patch from patch 0, vs the feature scale).
  const f = out.fused;
  let spread = 0;
  let scale = 0;
  for (let p = 1; p < 64; p++) for (let k = 0; k < D; k++) spread = Math.max(spread, Math.abs(f[k] - f[p * D + k]));
  for (const v of f) scale = Math.max(scale, Math.abs(v));
  assert.ok(spread > 0.1 * scale, `random-init features are flat (${spread} at scale ${scale})`);
});
