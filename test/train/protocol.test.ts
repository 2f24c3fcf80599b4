/**
 * The evaluation protocol on a tiny phantom cohort: selection and calibration never read the
 * test split (poisoning every test image changes the test scores but not one byte of the saved
 * model), and a slice whose lesion is too small to survive the resize to the model input stays
 * anomalous in the scored set.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkspaceConfig, type WorkspaceConfig } from '../../src/engine/config';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { loadBundle } from '../../src/engine/model/bundle';
import { readNifti, writeNifti } from '../../src/engine/nifti';
import { phantomSliceRange, writePhantomCohort } from '../../src/engine/phantom';
import { buildSliceDataset, CHANNELS, discoverCases } from '../../src/engine/study';
import { evaluateBaseline, loadScoredImages } from '../../src/engine/train/evaluate';
import { runTraining } from '../../src/engine/train/pipeline';
import { createRng } from '../../src/engine/util/random';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-protocol-'));
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await releaseAllSessions();
});

const SIZE: [number, number, number] = [48, 48, 32];
const clean = join(tmp, 'clean');
const poisoned = join(tmp, 'poisoned');

function configFor(root: string, out: string): WorkspaceConfig {
  return parseWorkspaceConfig(
    {
      data: { root, slices: { axis: 'axial', ...phantomSliceRange(SIZE[2]) } },
      model: { preset: 'tiny-cpu', randomEncoderSeed: 3 },
      preprocess: { resize: 64, crop: 56 },
      output: { dir: out },
      train: { steps: 8, batchSize: 4, evalEvery: 4, seed: 5, lr: 0.01, provider: 'cpu', threads: 1 },
    },
    join(root, 'anyad.json'),
  );
}

before(async () => {
  await writePhantomCohort(clean, { cases: 6, seed: 11, size: SIZE, anomalousFraction: 0.5, workers: 0 });
  cpSync(clean, poisoned, { recursive: true });
});

test('selection and thresholds never read the test split: poisoned test images leave the saved model unchanged', async () => {
  const cfgClean = configFor(clean, join(tmp, 'out-clean'));
  const ds = buildSliceDataset(discoverCases(clean, cfgClean), cfgClean);
  assert.ok(ds.summary.test.cases > 0 && ds.summary.val.cases > 0);
  // Every sequence of every test case becomes seeded noise on the same grid (labels untouched, so the split is the same).
  const rng = createRng(99);
  for (const c of discoverCases(poisoned).filter((c) => ds.summary.test.caseIds.includes(c.id))) {
    for (const s of CHANNELS) {
      const file = c.files[s]!;
      const { volume } = readNifti(file);
      writeNifti(file, { dims: volume.dims, affine: volume.affine, data: volume.data.map(() => rng.uniform() * 1000) });
    }
  }
  const a = await runTraining(cfgClean);
  const b = await runTraining(configFor(poisoned, join(tmp, 'out-poisoned')));
  assert.ok(a.completed && b.completed);
  assert.equal(a.bestStep, b.bestStep);
  assert.deepEqual(
    a.evaluations.map((e) => e.perSubset),
    b.evaluations.map((e) => e.perSubset),
    'identical validation history',
  );
  assert.deepEqual(
    readFileSync(join(a.bundleDir!, 'head.safetensors')),
    readFileSync(join(b.bundleDir!, 'head.safetensors')),
    'the same parameters are saved',
  );
  assert.deepEqual(loadBundle(a.bundleDir!).manifest.thresholds, loadBundle(b.bundleDir!).manifest.thresholds, 'the same thresholds');
  // The poison did reach the test scores: the model and the baseline score other images there.
  assert.notDeepEqual(a.metrics, b.metrics);
  assert.notDeepEqual(a.baseline, b.baseline);
});

test('a slice whose lesion vanishes when the mask is resized stays anomalous, and is counted', async () => {
  const cfg = configFor(clean, join(tmp, 'out-small'));
  const cases = discoverCases(clean, cfg);
  // A normal case gets a single lesion voxel on a selected slice: after 48 → 64 → crop 56 → 256 the
  // mask may keep or lose it; either way the image label must say anomalous.
  const ds0 = buildSliceDataset(cases, cfg);
  const normalCase = cases.find((c) => ![...ds0.train, ...ds0.val, ...ds0.test].some((s) => s.caseId === c.id && s.anomalous))!;
  const seg = readNifti(normalCase.label!).volume;
  const z = ds0.summary.slices.indices[2];
  const data = new Float32Array(seg.data);
  // One voxel at the corner of the centre crop's edge: outside the crop, so the resized mask is empty.
  data[0 + SIZE[0] * (0 + SIZE[1] * z)] = 1;
  writeNifti(normalCase.label!, { dims: seg.dims, affine: seg.affine, data }, { datatype: 'uint8' });
  const ds = buildSliceDataset(discoverCases(clean, cfg), cfg);
  const all = [...ds.train, ...ds.val, ...ds.test];
  assert.ok(
    all.every((s) => !(s.caseId === normalCase.id && s.z === z && !s.anomalous)),
    'the slice is never a normal slice',
  );
  // Score it on its own next to one normal slice of the same case.
  const normal = all.find((s) => s.caseId === normalCase.id && !s.anomalous) ?? {
    caseId: normalCase.id,
    z: ds.summary.slices.indices[0],
    anomalous: false,
    lesionVoxels: 0,
  };
  const slices = [{ caseId: normalCase.id, z, anomalous: true, lesionVoxels: 1 }, normal];
  const set = loadScoredImages(cases, slices, cfg.preprocess, 'any');
  assert.equal(set.mask(0), null, 'the resized mask lost the lesion');
  const r = await evaluateBaseline(set, { bootstrapSamples: 0 });
  assert.deepEqual(r.perSubset.F.counts, { cases: 1, slices: 2, normal: 1, anomalous: 1 });
  assert.notEqual(r.perSubset.F.image.auroc, null, 'image AUROC is defined: one anomalous, one normal slice');
  rmSync(clean, { recursive: true, force: true });
});
