import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkspaceConfig, type WorkspaceConfig } from '../../src/engine/config';
import { ConfigError, StudyError } from '../../src/engine/errors';
import { loadVolume } from '../../src/engine/nifti';
import type { Volume } from '../../src/engine/nifti/types';
import { phantomSliceRange, writePhantomCohort, type PhantomCohortSummary } from '../../src/engine/phantom';
import {
  axialImage,
  buildSliceDataset,
  CHANNELS,
  discoverCases,
  formatDatasetSummary,
  imageToVoxel,
  IMAGENET_MEAN,
  IMAGENET_STD,
  loadCase,
  minMaxToUint8,
  MODALITY_SUBSETS,
  preprocessMask,
  preprocessSlice,
  resizeBilinearU8,
  type Case,
  type SliceRef,
  workspaceDataset,
} from '../../src/engine/study';
import { runCli } from '../helpers/cli';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-dataset-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const SIZE: [number, number, number] = [64, 64, 48];
const root = join(tmp, 'cohort');
let cohort: PhantomCohortSummary;
let cases: Case[];

function configWith(extra: Record<string, unknown> = {}, split: Record<string, unknown> = {}): WorkspaceConfig {
  return parseWorkspaceConfig({ data: { slices: phantomSliceRange(SIZE[2]), split, ...extra } }, join(root, 'anyad.json'));
}

before(async () => {
  cohort = await writePhantomCohort(root, { cases: 12, seed: 2024, size: SIZE, anomalousFraction: 0.7, workers: 0 });
  cases = discoverCases(root);
});

/** Independent truth: slice z of case id is anomalous iff its label slice has a voxel in `labels`. */
function truth(id: string, z: number, labels: (v: number) => boolean): boolean {
  const seg = loadVolume(join(root, id, `${id}_seg.nii.gz`));
  const plane = seg.dims[0] * seg.dims[1];
  return seg.data.subarray(z * plane, (z + 1) * plane).some(labels);
}

test('slice dataset: counts, labels, no case in two splits, balanced validation and test sets', () => {
  assert.equal(cases.length, 12);
  const ds = buildSliceDataset(cases, configWith());
  const zs = [25, 27, 29, 31, 33, 35, 37];
  assert.deepEqual(ds.summary.slices.indices, zs);
  assert.equal(ds.summary.slices.total, 12 * zs.length);
  assert.equal(ds.summary.slices.normal + ds.summary.slices.anomalous, ds.summary.slices.total);
  assert.ok(ds.summary.slices.anomalous > 0 && ds.summary.slices.normal > 0);

  const train = new Set(ds.train.map((s) => s.caseId));
  const val = new Set(ds.val.map((s) => s.caseId));
  const test_ = new Set(ds.test.map((s) => s.caseId));
  for (const id of train) assert.ok(!test_.has(id) && !val.has(id), `${id} is in two splits`);
  for (const id of val) assert.ok(!test_.has(id), `${id} is in validation and test`);
  assert.deepEqual(
    [...ds.summary.train.caseIds, ...ds.summary.val.caseIds, ...ds.summary.test.caseIds].sort(),
    cases.map((c) => c.id),
  );
  assert.ok(
    ds.train.every((s) => !s.anomalous),
    'training is unsupervised: only normal slices',
  );
  for (const s of [...ds.train, ...ds.val, ...ds.test])
    assert.equal(
      s.anomalous,
      truth(s.caseId, s.z, (v) => v > 0),
      `${s.caseId} z=${s.z}`,
    );
  // Validation: valFraction (0.2) of each stratum's training cases, at least one where two remain.
  const trainAnom = ds.summary.cases.withAnomalies - Math.round(ds.summary.cases.withAnomalies * 0.2);
  const trainNormal = 12 - ds.summary.cases.withAnomalies - Math.round((12 - ds.summary.cases.withAnomalies) * 0.2);
  const held = (n: number) => Math.max(Math.round(n * 0.2), n >= 2 ? 1 : 0);
  assert.equal(ds.summary.val.cases, held(trainAnom) + held(trainNormal));
  assert.ok(ds.val.some((s) => s.anomalous) && ds.val.some((s) => !s.anomalous), 'validation has both kinds');
  assert.equal(ds.val.filter((s) => s.anomalous).length, ds.val.filter((s) => !s.anomalous).length, 'validation is balanced');
  // Normal cases are split 8:2 within each stratum: 4 normal cases → 1 test, 8 with anomalies → 2 test.
  const withAnomalies = cases.filter((c) => zs.some((z) => truth(c.id, z, (v) => v > 0))).length;
  assert.equal(ds.summary.cases.withAnomalies, withAnomalies);
  assert.ok(withAnomalies >= 4 && withAnomalies < 12);
  assert.equal(
    ds.summary.test.cases,
    Math.round(ds.summary.cases.withAnomalies * 0.2) + Math.round((12 - ds.summary.cases.withAnomalies) * 0.2),
  );
  // Balanced test set, drawn from the test cases only.
  const nTestNormal = ds.test.filter((s) => !s.anomalous).length;
  assert.equal(nTestNormal, ds.test.length - nTestNormal);
  assert.equal(nTestNormal, Math.min(ds.summary.test.availableNormal, ds.summary.test.availableAnomalous));
  assert.equal(ds.summary.test.normal, nTestNormal);
  assert.equal(
    ds.summary.train.normal +
      ds.summary.train.anomalousLeftOut +
      ds.summary.val.availableNormal +
      ds.summary.val.availableAnomalous +
      ds.summary.test.availableNormal +
      ds.summary.test.availableAnomalous,
    ds.summary.slices.total,
  );
  assert.equal(ds.summary.train.normal, ds.train.length);
});

test('the split is deterministic for a seed and changes with it', () => {
  const key = (refs: SliceRef[]) => refs.map((s) => `${s.caseId}:${s.z}:${s.anomalous ? 1 : 0}`).join(' ');
  const a = buildSliceDataset(cases, configWith());
  const b = buildSliceDataset(cases, configWith());
  assert.equal(key(a.train), key(b.train));
  assert.equal(key(a.val), key(b.val));
  assert.equal(key(a.test), key(b.test));
  // The test split does not depend on valFraction: holding out more validation cases only shrinks training.
  const moreVal = buildSliceDataset(cases, configWith({}, { valFraction: 0.5 }));
  assert.equal(key(moreVal.test), key(a.test));
  assert.ok(moreVal.summary.val.cases > a.summary.val.cases && moreVal.summary.train.cases < a.summary.train.cases);
  assert.deepEqual(a.summary, b.summary);
  const others = [1, 2, 3].map((seed) => buildSliceDataset(cases, configWith({}, { seed })));
  assert.ok(
    others.some((o) => o.summary.test.caseIds.join() !== a.summary.test.caseIds.join()),
    'other seeds should give another test split',
  );
});

test('anomalyLabels restricts which labels make a slice anomalous', () => {
  const any = buildSliceDataset(cases, configWith());
  const only4 = buildSliceDataset(cases, configWith({ anomalyLabels: [4] }));
  assert.ok(only4.summary.slices.anomalous < any.summary.slices.anomalous);
  for (const s of [...only4.train, ...only4.val, ...only4.test])
    assert.equal(
      s.anomalous,
      truth(s.caseId, s.z, (v) => v === 4),
    );
});

test('image labels come from the native label: lesion-voxel counts, minLesionVoxels, ambiguous slices left out', () => {
  const ds = buildSliceDataset(cases, configWith());
  const all = [...ds.train, ...ds.val, ...ds.test];
  const withCount = all.filter((s) => s.anomalous);
  for (const s of withCount.slice(0, 10)) {
    const seg = loadVolume(join(root, s.caseId, `${s.caseId}_seg.nii.gz`));
    const plane = seg.dims[0] * seg.dims[1];
    const n = seg.data.subarray(s.z * plane, (s.z + 1) * plane).reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
    assert.equal(s.lesionVoxels, n, `${s.caseId} z=${s.z}`);
  }
  // A threshold between the smallest and the largest lesion count: small slices become ambiguous, never normal.
  const counts = withCount.map((s) => s.lesionVoxels).sort((a, b) => a - b);
  const min = counts[Math.floor(counts.length / 2)];
  const strict = buildSliceDataset(cases, configWith({ minLesionVoxels: min }));
  const strictAll = [...strict.train, ...strict.val, ...strict.test];
  assert.ok(strict.summary.slices.ambiguous > 0);
  assert.ok(
    strictAll.every((s) => s.lesionVoxels === 0 || s.lesionVoxels >= min),
    'no slice with 0 < lesion voxels < min is kept',
  );
  assert.ok(strictAll.every((s) => s.anomalous === s.lesionVoxels > 0));
  assert.equal(strict.summary.slices.total + strict.summary.slices.ambiguous, ds.summary.slices.total);
});

test('cases without a label are excluded unless data.unlabelled is "normal"; a slice range outside the volume is a clear error', () => {
  const unlabelled = cases.map((c, i) => (i < 2 ? { ...c, label: undefined } : c));
  const excluded = buildSliceDataset(unlabelled, configWith());
  assert.equal(excluded.summary.cases.withoutLabel, 2);
  assert.deepEqual(excluded.summary.cases.excludedUnlabelled, [cases[0].id, cases[1].id]);
  assert.equal(excluded.summary.cases.used, 10);
  const ids = new Set([...excluded.train, ...excluded.val, ...excluded.test].map((s) => s.caseId));
  assert.ok(!ids.has(cases[0].id) && !ids.has(cases[1].id), 'unlabelled cases are not silently normal training data');
  assert.ok(excluded.summary.notes.some((n) => /2 case\(s\) without a label file left out/.test(n)));
  const asNormal = buildSliceDataset(unlabelled, configWith({ unlabelled: 'normal' }));
  assert.equal(asNormal.summary.cases.used, 12);
  assert.ok(asNormal.summary.notes.some((n) => /2 case\(s\) without a label used as all-normal/.test(n)));
  for (const s of [...asNormal.train, ...asNormal.val, ...asNormal.test]) if (s.caseId === cases[0].id) assert.equal(s.anomalous, false);
  assert.throws(
    () =>
      buildSliceDataset(
        unlabelled.map((c) => ({ ...c, label: undefined })),
        configWith(),
      ),
    /no usable cases: 12 case\(s\) have no label file/,
  );
  // The default range (80–120) does not fit a 48-slice phantom.
  const defaults = parseWorkspaceConfig({}, join(root, 'anyad.json'));
  assert.throws(
    () => buildSliceDataset(cases, defaults),
    (e: unknown) =>
      e instanceof ConfigError &&
      /data\.slices 80–120 is outside the volume, which has 48 axial slices \(0–47\)/.test(e.message) &&
      /_seg\.nii\.gz/.test(e.message),
  );
});

test('axial images are radiological: anterior up, patient right on the image left', () => {
  // A canonical volume with markers: x = nx−1 (patient's far right), y = ny−1 (most anterior).
  const dims: [number, number, number] = [5, 4, 2];
  const data = new Float32Array(40);
  const at = (x: number, y: number, z: number) => x + 5 * (y + 4 * z);
  data[at(4, 3, 1)] = 7; // right-anterior
  data[at(0, 0, 1)] = 3; // left-posterior
  const vol: Volume = { dims, spacing: [1, 1, 1], affine: Float64Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), data };
  const img = axialImage(vol, 1);
  assert.equal(img.width, 5);
  assert.equal(img.height, 4);
  assert.equal(img.data[0], 7, 'top-left pixel = right-anterior voxel');
  assert.equal(img.data[img.data.length - 1], 3, 'bottom-right pixel = left-posterior voxel');
  assert.deepEqual(imageToVoxel(vol, 0, 0), [4, 3]);
  // On a written (LPS) phantom: storage voxel (i, j, k) shows at image (row j, column i) of slice k.
  const withLesion = cohort.cases.find((c) => c.anomalous)!;
  const seg = loadVolume(withLesion.files.seg);
  const [i, j, k] = withLesion.lesions[0].center;
  const segImg = axialImage(seg, k);
  assert.ok(segImg.data[j * segImg.width + i] > 0, 'the lesion centre is labelled at image (j, i)');
});

test('preprocessed phantom slices: channel c is sequence [FLAIR, T1, T2][c] with mean/std c; missing channels are exactly 0 for all 7 subsets', () => {
  const c = cases.find((x) => x.label)!;
  const loaded = loadCase(c);
  const z = 31;
  const geom = { resize: 112, crop: 98 };
  const imgs = Object.fromEntries(CHANNELS.map((s) => [s, axialImage(loaded.volumes[s]!, z)])) as Record<
    (typeof CHANNELS)[number],
    ReturnType<typeof axialImage>
  >;
  const { width, height } = imgs.flair;
  const slices = Object.fromEntries(CHANNELS.map((s) => [s, imgs[s].data]));
  const full = preprocessSlice(slices, width, height, MODALITY_SUBSETS[6], geom);
  const C = geom.crop;
  const plane = C * C;
  const top = 7; // round((112 - 98) / 2)
  CHANNELS.forEach((seq, ch) => {
    const u8 = resizeBilinearU8(minMaxToUint8(imgs[seq].data), width, height, geom.resize, geom.resize);
    const mean = Math.fround(IMAGENET_MEAN[ch]);
    const std = Math.fround(IMAGENET_STD[ch]);
    for (let y = 0; y < C; y += 7) {
      for (let x = 0; x < C; x += 5) {
        const expected = Math.fround(Math.fround(Math.fround(u8[(y + top) * geom.resize + x + top] / 255) - mean) / std);
        assert.equal(full[ch * plane + y * C + x], expected, `${seq} at (${y}, ${x})`);
      }
    }
  });
  // The three channels really differ (different sequences).
  assert.notDeepEqual(full.subarray(0, plane), full.subarray(plane, 2 * plane));
  assert.notDeepEqual(full.subarray(plane, 2 * plane), full.subarray(2 * plane));
  for (const subset of MODALITY_SUBSETS) {
    const out = preprocessSlice(slices, width, height, subset, geom);
    subset.keep.forEach((keep, ch) => {
      const part = out.subarray(ch * plane, (ch + 1) * plane);
      if (keep) assert.deepEqual(part, full.subarray(ch * plane, (ch + 1) * plane), `${subset.label} channel ${ch}`);
      else
        assert.ok(
          part.every((v) => Object.is(v, 0)),
          `${subset.label}: channel ${ch} must be exactly +0`,
        );
    });
  }
  // Masks follow the same geometry: a slice with a sizeable lesion gives 1s, an empty one none.
  const counts = [...Array(loaded.label!.dims[2]).keys()].map((zz) => axialImage(loaded.label!, zz).data.filter((v) => v > 0).length);
  const zLesion = counts.indexOf(Math.max(...counts));
  assert.ok(counts[zLesion] >= 20);
  const lesionMask = preprocessMask(axialImage(loaded.label!, zLesion).data, width, height, geom);
  assert.equal(lesionMask.length, plane);
  const inMask = lesionMask.reduce((a, v) => a + v, 0);
  // Area scales with (112/64)² before the crop; allow for the border of the bilinear mask.
  assert.ok(
    inMask > 0.5 * counts[zLesion] * (112 / 64) ** 2 && inMask < 2 * counts[zLesion] * (112 / 64) ** 2,
    `mask ${inMask} vs label ${counts[zLesion]}`,
  );
  assert.ok(preprocessMask(axialImage(loaded.label!, counts.indexOf(0)).data, width, height, geom).every((v) => v === 0));
});

test('anyad dataset --json prints the same dataset as the engine', async () => {
  const { code, stdout } = await runCli(['dataset', '--root', root, '--json']); // picks up ROOT/anyad.json written by the phantom
  assert.equal(code, 0);
  const printed = JSON.parse(stdout);
  const ds = buildSliceDataset(cases, configWith());
  assert.deepEqual(printed.summary, ds.summary);
  assert.deepEqual(printed.test, ds.test);
});

test('workspaceDataset: discovery, slice dataset and summary text in one call; warnings and notes go to the log', () => {
  const config = configWith({ unlabelled: 'normal' });
  const logged: string[] = [];
  const wd = workspaceDataset(config, { log: (m) => logged.push(m) });
  const ds = buildSliceDataset(cases, config);
  assert.deepEqual(
    wd.cases.map((c) => c.id),
    cases.map((c) => c.id),
  );
  assert.deepEqual(wd.dataset, ds);
  assert.equal(wd.text, formatDatasetSummary(ds.summary, root));
  assert.deepEqual(logged, [...wd.warnings.map((w) => `warning: ${w}`), ...ds.summary.notes.map((n) => `note: ${n}`)]);
});

test('workspaceDataset: a folder without cases is a study/no-cases error, after its discovery warnings are logged', () => {
  const empty = join(tmp, 'no-cases');
  mkdirSync(empty, { recursive: true });
  writeFileSync(join(empty, 'lonely_seg.nii.gz'), 'a label without images');
  const config = parseWorkspaceConfig({}, join(empty, 'anyad.json'));
  const logged: string[] = [];
  assert.throws(
    () => workspaceDataset(config, { log: (m) => logged.push(m) }),
    (e: unknown) => e instanceof StudyError && e.code === 'study/no-cases' && e.message.startsWith(`${empty}: no cases found`),
  );
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^warning: .*lonely_seg\.nii\.gz/);
});
