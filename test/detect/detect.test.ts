/**
 * Detection on a small phantom case with a seeded random-init tiny bundle (no training):
 * shapes on the voxel grid, single-slice vs whole-volume agreement, the NIfTI map on the
 * case's grid, thresholds, and the user errors.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli as cli } from '../helpers/cli';
import { detect } from '../../src/engine/detect';
import { ConfigError, StudyError } from '../../src/engine/errors';
import { createSession, releaseAllSessions, run } from '../../src/engine/graph/runtime';
import { mapToSliceGrid } from '../../src/engine/eval';
import { calibrateThresholds, loadBundle, type LoadedBundle } from '../../src/engine/model/bundle';
import { loadVolume, sameGrid, writeNifti } from '../../src/engine/nifti';
import { type Case, axialImage, loadCase, preprocessSlice, subsetById } from '../../src/engine/study';
import { phantomCase, tempDir, writeTinyBundle } from './helpers';

let root: string;
let bundle: LoadedBundle;
let kase: Case;
const opts = { provider: 'cpu', threads: 2 } as const;

before(async () => {
  root = tempDir('detect');
  kase = await phantomCase(join(root, 'data'));
  // Subset 5 (flair+t2) calibrated so that some slices fall on each side.
  writeTinyBundle(join(root, 'model'), calibrateThresholds({ 5: [0, 1], 7: [0, 1] }));
  bundle = loadBundle(join(root, 'model'));
});

after(async () => {
  await releaseAllSessions();
  rmSync(root, { recursive: true, force: true });
});

test('detect: one slice gives a finite map on the slice voxel grid and a thresholded score', async () => {
  const r = await detect(bundle, kase, { ...opts, slice: 12, modalities: ['flair', 't2'] });
  assert.equal(r.z, 12);
  assert.equal(r.subset.id, 5);
  assert.deepEqual(r.mapSize, [48, 40]);
  assert.equal(r.map.length, 48 * 40);
  assert.ok(r.map.every(Number.isFinite));
  assert.ok(Math.max(...r.map) > 0);
  assert.ok(Number.isFinite(r.score) && r.score > 0);
  assert.equal(r.threshold, bundle.manifest.thresholds!.bySubset['5']);
  assert.equal(r.anomalous, r.score > r.threshold);
  assert.equal(r.provider, 'cpu');
  // The same model run by hand on the radiological image of slice 12: image (row, col) is voxel (nx−1−col, ny−1−row).
  const session = await createSession(bundle.modelPath, opts);
  const vols = loadCase(kase, { sequences: ['flair', 't2'] }).volumes;
  const image = preprocessSlice({ flair: axialImage(vols.flair!, 12).data, t2: axialImage(vols.t2!, 12).data }, 48, 40, subsetById(5), {
    resize: 128,
    crop: 112,
  });
  const out = await run(session, { image, subset: BigInt64Array.of(5n) }, { image: [1, 3, 112, 112], subset: [1] });
  assert.equal((out.score.data as Float32Array)[0], r.score);
  const onImage = mapToSliceGrid(out.map256.data as Float32Array, 256, { resize: 128, crop: 112 }, 48, 40);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 48; x++) assert.equal(r.map[x + 48 * y], onImage[(39 - y) * 48 + (47 - x)]);
  // No threshold for an uncalibrated subset; the bundle folder path works as well as a loaded bundle.
  const t1 = await detect(join(root, 'model'), kase, { ...opts, slice: 12, modalities: ['t1'] });
  assert.equal(t1.threshold, null);
  assert.equal(t1.anomalous, null);
  assert.notEqual(t1.score, r.score);
});

test('detect: the whole volume agrees with single slices and writes a NIfTI map on the case grid', async () => {
  const progress: number[] = [];
  const all = await detect(bundle, kase.files.flair!, {
    ...opts,
    slice: 'all',
    modalities: ['t2', 'flair'],
    onProgress: (done, total) => progress.push(done / total),
  });
  assert.equal(progress.length, 24);
  assert.equal(progress[23], 1);
  assert.equal(all.slices.length, 24);
  assert.deepEqual(all.map.dims, [48, 40, 24]);
  assert.ok(all.map.data.every(Number.isFinite));
  for (const z of [3, 12, 20]) {
    const one = await detect(bundle, kase, { ...opts, slice: z, modalities: ['flair', 't2'] });
    assert.equal(all.slices[z].score, one.score, `score of slice ${z}`);
    assert.equal(all.slices[z].anomalous, one.anomalous);
    assert.deepEqual(all.map.data.subarray(z * 1920, (z + 1) * 1920), one.map, `map of slice ${z}`);
  }
  const scores = all.slices.map((s) => s.score);
  assert.ok(Math.max(...scores) > Math.min(...scores), 'slices differ');
  const out = join(root, 'map.nii.gz');
  writeNifti(out, all.map, { datatype: 'float32' });
  const back = loadVolume(out);
  const flair = loadVolume(kase.files.flair!);
  assert.ok(sameGrid(back, flair));
  assert.deepEqual(back.data, all.map.data);
});

test('detect: bad modalities are ConfigErrors, a missing sequence or slice is a StudyError', async () => {
  await assert.rejects(
    detect(bundle, kase, { ...opts, modalities: [] }),
    (e: unknown) => e instanceof ConfigError && /at least one modality/.test(e.message),
  );
  await assert.rejects(
    detect(bundle, kase, { ...opts, modalities: ['flair', 'dwi' as 'flair'] }),
    (e: unknown) => e instanceof ConfigError && /unknown modality 'dwi'/.test(e.message),
  );
  await assert.rejects(detect(bundle, kase, { ...opts, modalities: ['t2', 't2'] }), ConfigError);
  const noT2: Case = { ...kase, files: { flair: kase.files.flair, t1: kase.files.t1 } };
  await assert.rejects(
    detect(bundle, noT2, { ...opts, modalities: ['flair', 't2'] }),
    (e: unknown) => e instanceof StudyError && /has no T2/.test(e.message),
  );
  await assert.rejects(
    detect(bundle, kase, { ...opts, slice: 24, modalities: ['flair'] }),
    (e: unknown) => e instanceof StudyError && /slices 0\.\.23/.test(e.message),
  );
  const controller = new AbortController();
  let seen = 0;
  await assert.rejects(
    detect(bundle, kase, {
      ...opts,
      slice: 'all',
      modalities: ['flair'],
      signal: controller.signal,
      onProgress: (done) => {
        seen = done;
        if (done === 2) controller.abort();
      },
    }),
    (e: unknown) => (e as Error).name === 'AbortError',
  );
  assert.equal(seen, 2);
});

test('anyad detect: JSON per slice and per volume, the NIfTI map, and clear errors', async () => {
  const model = join(root, 'model');
  const one = await cli([
    'detect',
    '--model',
    model,
    '--case',
    kase.dir,
    '--slice',
    '12',
    '--modalities',
    'flair,t2',
    '--provider',
    'cpu',
    '--json',
    '--out',
    join(root, 'z12.nii'),
  ]);
  assert.equal(one.code, 0, one.stderr);
  const j = JSON.parse(one.stdout);
  const direct = await detect(bundle, kase, { ...opts, slice: 12, modalities: ['flair', 't2'] });
  assert.equal(j.score, direct.score);
  assert.equal(j.anomalous, direct.anomalous);
  const z12 = loadVolume(join(root, 'z12.nii'));
  assert.ok(sameGrid(z12, loadVolume(kase.files.flair!)));
  assert.deepEqual(z12.data.subarray(12 * 1920, 13 * 1920), direct.map);
  assert.equal(
    z12.data.subarray(0, 12 * 1920).every((v) => v === 0),
    true,
  );

  const all = await cli([
    'detect',
    '--model',
    model,
    '--case',
    kase.files.t2!,
    '--all',
    '--modalities',
    'flair,t2',
    '--provider',
    'cpu',
    '--out',
    join(root, 'all.nii.gz'),
  ]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /RANDOM-INIT/);
  assert.match(all.stdout, /z= 23/);
  assert.match(all.stdout, /of 24 slices anomalous/);
  assert.deepEqual(loadVolume(join(root, 'all.nii.gz')).dims, [48, 40, 24]);

  const bad = await cli(['detect', '--model', model, '--case', kase.dir, '--modalities', 'flair,pd']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown modality 'pd'/);
  const noModel = await cli(['detect', '--model', join(root, 'nothing'), '--case', kase.dir]);
  assert.equal(noModel.code, 1);
  assert.match(noModel.stderr, /no such model folder/);
});
