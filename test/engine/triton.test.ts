/**
 * anyad export --triton: the repository's structure (config.pbtxt names, dtypes, dims and
 * max_batch_size from the bundle; 1/model.onnx), and onnxruntime running the exported model
 * at a batch of 3 gives the bundle model's outputs. An older batch-1 bundle still detects
 * (slice by slice) and exports with max_batch_size 0.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { detect } from '../../src/engine/detect';
import { createSession, releaseSession, run } from '../../src/engine/graph/runtime';
import { BUNDLE_FILES, loadBundle, manifestChecksum, sha256File } from '../../src/engine/model/bundle';
import { buildInferenceModel, pickAffineParams } from '../../src/engine/model/inference';
import { runCli } from '../helpers/cli';
import { phantomCase, tempDir, tinyContents, writeTinyBundle } from '../detect/helpers';

test('export --triton: config.pbtxt from the bundle, 1/model.onnx, and the exported model runs a batch with the same outputs', async () => {
  const root = tempDir('triton');
  const model = writeTinyBundle(join(root, 'model'));
  const repo = join(root, 'repo');
  const r = await runCli(['export', '--triton', repo, '--model', model, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const config = readFileSync(join(repo, 'anyad', 'config.pbtxt'), 'utf8');
  assert.match(config, /^name: "anyad"$/m);
  assert.match(config, /^backend: "onnxruntime"$/m);
  assert.match(config, /^max_batch_size: 16$/m);
  assert.match(config, /dynamic_batching \{ \}/);
  const tensor = (name: string) =>
    new RegExp(`name: "${name}"\\n\\s+data_type: (\\w+)\\n\\s+dims: \\[ ([\\d, ]+) \\]`).exec(config)?.slice(1);
  assert.deepEqual(tensor('image'), ['TYPE_FP32', '3, 112, 112']);
  assert.deepEqual(tensor('subset'), ['TYPE_INT64', '1']);
  assert.deepEqual(tensor('map'), ['TYPE_FP32', '1, 112, 112']);
  assert.deepEqual(tensor('map256'), ['TYPE_FP32', '1, 256, 256']);
  assert.deepEqual(tensor('score'), ['TYPE_FP32', '1']);
  assert.equal(config.match(/reshape: \{ shape: \[ {2}\] \}/g)?.length, 2, 'subset and score are [B] in the model');
  const exported = join(repo, 'anyad', '1', 'model.onnx');
  assert.deepEqual(readFileSync(exported), readFileSync(join(model, BUNDLE_FILES.model)));
  const a = await createSession(exported, { provider: 'cpu', threads: 1 });
  const b = await createSession(buildInferenceModel({ ...specOf(), batch: 3, size: 112 }), { provider: 'cpu', threads: 1 });
  try {
    const image = Float32Array.from({ length: 3 * 3 * 112 * 112 }, (_, i) => Math.sin(i * 0.37));
    const subset = BigInt64Array.of(7n, 1n, 5n);
    const feeds = { image, subset };
    const shapes = { image: [3, 3, 112, 112], subset: [3] };
    const [oa, ob] = [await run(a, feeds, shapes), await run(b, feeds, shapes)];
    assert.deepEqual(oa.score.dims, [3]);
    for (const k of ['map', 'map256', 'score']) {
      const x = oa[k].data as Float32Array;
      const y = ob[k].data as Float32Array;
      assert.ok(
        x.every((v, i) => Math.abs(v - y[i]) <= 1e-6 * Math.max(1, Math.abs(y[i]))),
        `${k} differs from the static batch-3 model`,
      );
    }
  } finally {
    await releaseSession(a);
    await releaseSession(b);
  }
});

function specOf() {
  const c = tinyContents(3);
  const head = new Map([...c.params].filter(([k]) => !k.startsWith('modality_affine.')));
  return { encoder: c.encoder, head: { config: c.headConfig, params: head }, affine: pickAffineParams(c.params) };
}

test('an older batch-1 bundle still loads and detects a volume (slice by slice), and exports with max_batch_size 0', async () => {
  const root = tempDir('old-bundle');
  const dir = writeTinyBundle(join(root, 'model'));
  // Rewrite it as bundles were before the symbolic batch: a static batch-1 model.onnx, batch 1 in the manifest.
  writeFileSync(join(dir, BUNDLE_FILES.model), buildInferenceModel({ ...specOf(), batch: 1, size: 112 }));
  const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), 'utf8'));
  manifest.model.batch = 1;
  manifest.files[BUNDLE_FILES.model] = sha256File(join(dir, BUNDLE_FILES.model));
  manifest.manifestSha256 = manifestChecksum(manifest);
  writeFileSync(join(dir, BUNDLE_FILES.manifest), JSON.stringify(manifest, null, 2));
  const bundle = loadBundle(dir);
  assert.equal(bundle.manifest.model.batch, 1);
  const kase = await phantomCase(join(root, 'data'));
  const vol = await detect(bundle, kase, { slice: 'all', modalities: ['flair'], provider: 'cpu', threads: 1 });
  assert.equal(vol.batch, 1);
  const fresh = await detect(writeTinyBundle(join(root, 'new')), kase, {
    slice: 'all',
    modalities: ['flair'],
    provider: 'cpu',
    threads: 1,
    batchSize: 4,
  });
  assert.equal(fresh.batch, 4);
  // Same weights, same numbers, whichever model shape ran them.
  assert.deepEqual(
    vol.slices.map((s) => s.score),
    fresh.slices.map((s) => s.score),
  );
  const r = await runCli(['export', '--triton', join(root, 'repo'), '--model', dir]);
  assert.equal(r.code, 0, r.stderr);
  const config = readFileSync(join(root, 'repo', 'anyad', 'config.pbtxt'), 'utf8');
  assert.match(config, /^max_batch_size: 0$/m);
  assert.match(config, /name: "image"\n\s+data_type: TYPE_FP32\n\s+dims: \[ 1, 3, 112, 112 \]/);
  assert.doesNotMatch(config, /dynamic_batching/);
});
