/** Model bundles: write → load round trip, corrupted bundles, threshold calibration. */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/engine/errors';
import { BUNDLE_FILES, BundleError, calibrateThresholds, loadBundle, sha256File } from '../../src/engine/model/bundle';
import { tempDir, tinyContents, writeTinyBundle } from './helpers';

test('calibrateThresholds: per-subset 0.99 quantile (numpy linear interpolation)', () => {
  // 0..100: the 0.99 quantile is exactly 99; two values 0 and 10: 0 + 0.99·10 = 9.9.
  const t = calibrateThresholds(
    new Map<number, ArrayLike<number>>([
      [7, Float64Array.from({ length: 101 }, (_, i) => 100 - i)],
      [2, [10, 0]],
    ]),
  );
  assert.equal(t.bySubset['7'], 99);
  assert.ok(Math.abs(t.bySubset['2'] - 9.9) < 1e-12);
  assert.deepEqual(Object.keys(t.bySubset), ['2', '7']);
  assert.deepEqual(t.normalSlices, { 2: 2, 7: 101 });
  assert.equal(t.quantile, 0.99);
  assert.equal(calibrateThresholds({ 1: [0.5] }).bySubset['1'], 0.5);
  assert.throws(() => calibrateThresholds({ 8: [1] }), ConfigError);
  assert.throws(() => calibrateThresholds({ 1: [] }), ConfigError);
  assert.throws(() => calibrateThresholds({ 1: [NaN, 1] }), ConfigError);
});

test('bundle: write → load round trip keeps weights, manifest and checksums', () => {
  const dir = tempDir('bundle');
  try {
    const thresholds = calibrateThresholds({ 5: [1, 2, 3], 7: [0.5, 0.7] });
    const contents = tinyContents(3, thresholds);
    writeTinyBundle(dir, thresholds);
    const b = loadBundle(dir);
    const m = b.manifest;
    assert.equal(m.schemaVersion, 1);
    assert.equal(m.preset, 'tiny-cpu');
    assert.deepEqual([m.preprocessing.resize, m.preprocessing.crop], [128, 112]);
    assert.deepEqual(m.preprocessing.channels, ['flair', 't1', 't2']);
    assert.equal(m.subsets.length, 7);
    assert.equal(m.modalityAffine, true);
    assert.equal(m.model.scoreTopK, 655);
    assert.match(m.warning ?? '', /RANDOM-INIT/);
    assert.equal(m.encoder.provenance.kind, 'random-init');
    assert.equal(m.createdAt, '2026-01-02T03:04:05.000Z');
    assert.deepEqual(m.thresholds, thresholds);
    assert.deepEqual(m.fullModalityStats![0].std.slice(0, 2), [2, 2]);
    assert.deepEqual(m.training, { cases: 0, note: 'test bundle, untrained' });
    assert.deepEqual(m.head, contents.headConfig);
    assert.equal(m.files[BUNDLE_FILES.model].sha256, sha256File(join(dir, BUNDLE_FILES.model)).sha256);
    for (const [name, t] of contents.params) {
      const got = name.startsWith('modality_affine.') ? b.affine!.get(name) : b.head.params.get(name);
      assert.ok(got, name);
      assert.deepEqual([...got.shape], [...t.shape], name);
      assert.deepEqual(got.data, t.data, name);
    }
    assert.equal(b.affine!.size + b.head.params.size, contents.params.size);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bundle: corrupted or incomplete bundles are BundleErrors that say what is wrong', () => {
  const dir = tempDir('bundle-bad');
  try {
    writeTinyBundle(dir);
    const manifestPath = join(dir, BUNDLE_FILES.manifest);
    const manifest = readFileSync(manifestPath, 'utf8');
    const expectError = (code: string, pattern: RegExp) =>
      assert.throws(
        () => loadBundle(dir),
        (e: unknown) => {
          assert.ok(e instanceof BundleError && e instanceof ConfigError, String(e));
          assert.equal(e.code, code);
          assert.match(e.message, pattern);
          return true;
        },
      );

    writeFileSync(manifestPath, manifest.slice(0, 50));
    expectError('bundle/bad-json', /anyad\.json: the manifest is not valid JSON/);
    writeFileSync(manifestPath, manifest.replace('"schemaVersion": 1', '"schemaVersion": 7'));
    expectError('bundle/bad-manifest', /schema version 7 is newer/);
    writeFileSync(manifestPath, manifest.replace('"crop": 112', '"crop": 300'));
    expectError('bundle/bad-manifest', /crop <= resize/);
    writeFileSync(manifestPath, manifest);
    assert.doesNotThrow(() => loadBundle(dir));

    const model = readFileSync(join(dir, BUNDLE_FILES.model));
    const flipped = Buffer.from(model);
    flipped[flipped.length - 10] ^= 0xff;
    writeFileSync(join(dir, BUNDLE_FILES.model), flipped);
    expectError('bundle/checksum', /model\.onnx: checksum mismatch/);
    writeFileSync(join(dir, BUNDLE_FILES.model), model);

    const head = readFileSync(join(dir, BUNDLE_FILES.head));
    writeFileSync(join(dir, BUNDLE_FILES.head), head.subarray(0, 100));
    expectError('bundle/checksum', /head\.safetensors: checksum mismatch/);
    assert.throws(
      () => loadBundle(dir, { verify: false }),
      (e: unknown) => e instanceof BundleError && e.code === 'bundle/bad-head',
    );
    writeFileSync(join(dir, BUNDLE_FILES.head), head);

    unlinkSync(join(dir, BUNDLE_FILES.model));
    expectError('bundle/missing-file', /model\.onnx missing/);
    assert.throws(
      () => loadBundle(join(dir, 'nope')),
      (e: unknown) => e instanceof BundleError && e.code === 'bundle/not-found',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
