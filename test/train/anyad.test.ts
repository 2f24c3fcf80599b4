/**
 * The AnyAD trainer end to end on a tiny phantom cohort and a tiny random-init encoder
 * (D = 32, 4 blocks, 56 px → 4×4 patches): the losses fall, the feature cache encodes each
 * (slice, subset) once and serves correct features, masking covers all 7 subsets, and a
 * cancelled run resumes bit-identically.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkspaceConfig } from '../../src/engine/config';
import { ConfigError } from '../../src/engine/errors';
import { emitModel } from '../../src/engine/graph';
import { createSession, outputFloat32, releaseAllSessions, run, type Session } from '../../src/engine/graph/runtime';
import { encoderModelBytes } from '../../src/engine/model/encoder';
import { createRandomEncoderWeights, type EncoderWeights } from '../../src/engine/model/encoderWeights';
import { TRAINING_GRAPH_NAMES, buildTrainingGraph } from '../../src/engine/model/losses';
import { vitPreset } from '../../src/engine/model/vitConfig';
import { phantomSliceRange, writePhantomCohort } from '../../src/engine/phantom';
import {
  CHANNELS,
  MODALITY_SUBSETS,
  axialImage,
  buildSliceDataset,
  discoverCases,
  loadCase,
  preprocessSlice,
  type Case,
  type SliceRef,
} from '../../src/engine/study';
import {
  type TrainAnyADOptions,
  type TrainAnyADResult,
  type AnyADProgress,
  loadTrainingImages,
  openTrainingFeatures,
  trainAnyAD,
  type TrainingImages,
} from '../../src/engine/train/anyad';
import { listCheckpoints } from '../../src/engine/train/checkpoint';
import { batchIndices } from '../../src/engine/train/data-order';
import { FeatureCache } from '../../src/engine/train/featureCache';
import { batchSubsets, maskImage, maskingConfig, subsetFor } from '../../src/engine/train/masking';
import type { Params } from '../../src/engine/train/params';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-train-'));
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await releaseAllSessions();
});

const SIZE: [number, number, number] = [48, 48, 32];
const GEOM = { resize: 64, crop: 56 };
const D = 32;
const SIDE = 4;
const BATCH = 4;
const STEPS = 60;

let cases: Case[];
let train: SliceRef[];
let images: TrainingImages;
let encoder: EncoderWeights;
let main: TrainAnyADResult;
let init: TrainAnyADResult;
const progress: AnyADProgress[] = [];

function baseOptions(): TrainAnyADOptions {
  return {
    images,
    encoder,
    seed: 5,
    steps: STEPS,
    batchSize: BATCH,
    threads: 1,
    provider: 'cpu',
    lr: { baseValue: 1e-2, finalValue: 1e-3, warmupIters: 5 },
  };
}

before(async () => {
  const root = join(tmp, 'cohort');
  await writePhantomCohort(root, { cases: 6, seed: 11, size: SIZE, anomalousFraction: 0.5, workers: 0 });
  cases = discoverCases(root);
  const ds = buildSliceDataset(cases, parseWorkspaceConfig({ data: { slices: phantomSliceRange(SIZE[2]) } }, join(root, 'anyad.json')));
  train = [...ds.train, ...ds.val.filter((s) => !s.anomalous)]; // this unit test needs no validation split: more normal slices to train on
  images = loadTrainingImages(cases, train, GEOM);
  encoder = createRandomEncoderWeights(
    vitPreset('tiny', {
      embedDim: D,
      numHeads: 4,
      depth: 4,
      targetLayers: [0, 1, 2, 3],
      fuseGroups: [
        [0, 1],
        [2, 3],
      ],
    }),
    3,
  );
  main = await trainAnyAD({
    ...baseOptions(),
    onProgress: (p) => {
      progress.push(p);
    },
  });
  init = await trainAnyAD({ ...baseOptions(), steps: 0 }); // same seed: the parameters the main run started from
});

async function encoderSession(): Promise<Session> {
  return createSession(encoderModelBytes(encoder, { batch: BATCH, height: GEOM.crop, width: GEOM.crop }), { provider: 'cpu', threads: 1 });
}

/** The preprocessed image of a training slice with `subset`, straight from the volumes (an independent path to the masked input). */
function preprocessedWithSubset(ref: SliceRef, subsetId: number): Float32Array {
  const loaded = loadCase(
    cases.find((c) => c.id === ref.caseId)!,
    { label: false },
  );
  const views = CHANNELS.map((ch) => axialImage(loaded.volumes[ch]!, ref.z));
  return preprocessSlice(
    Object.fromEntries(CHANNELS.map((ch, k) => [ch, views[k].data])),
    views[0].width,
    views[0].height,
    MODALITY_SUBSETS[subsetId - 1],
    GEOM,
  );
}

/** Mean recon / gather / align of `params` on fixed batches: slices 0..3 with each subset in turn. */
async function evaluate(params: Params): Promise<{ recon: number; gather: number; align: number }> {
  const weights = new Map([...params].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
  const { graph } = buildTrainingGraph({
    batch: BATCH,
    side: SIDE,
    head: main.headConfig,
    weights,
    objective: main.objective,
    stats: main.stats,
    grads: false,
  });
  const session = await createSession(emitModel(graph, { paramsAs: 'inputs' }), { provider: 'cpu', threads: 1 });
  const cache = new FeatureCache({
    session: await encoderSession(),
    encoderBatch: BATCH,
    imageSize: GEOM.crop,
    dim: D,
    side: SIDE,
    image: images.image,
  });
  const N = TRAINING_GRAPH_NAMES;
  const sums = { recon: 0, gather: 0, align: 0 };
  for (const s of MODALITY_SUBSETS) {
    const feats = await cache.get([0, 1, 2, 3].map((slice) => ({ slice, subset: s.id })));
    const cat = (k: 'fused' | 'en0' | 'en1') => {
      const out = new Float32Array(BATCH * SIDE * SIDE * D);
      feats.forEach((f, i) => out.set(f[k], i * f[k].length));
      return out;
    };
    const feeds: Record<string, Float32Array | BigInt64Array> = {
      [N.fused]: cat('fused'),
      [N.en0]: cat('en0'),
      [N.en1]: cat('en1'),
      [N.subset]: new BigInt64Array(BATCH).fill(BigInt(s.id - 1)),
    };
    const shapes: Record<string, readonly number[]> = {
      [N.fused]: [BATCH, SIDE * SIDE, D],
      [N.en0]: [BATCH, D, SIDE, SIDE],
      [N.en1]: [BATCH, D, SIDE, SIDE],
      [N.subset]: [BATCH],
    };
    for (const [k, p] of params) {
      feeds[k] = p.data;
      shapes[k] = p.shape;
    }
    const out = await run(session, feeds, shapes, [N.recon, N.gather, N.align]);
    sums.recon += outputFloat32(out, N.recon)[0] / 7;
    sums.gather += outputFloat32(out, N.gather)[0] / 7;
    sums.align += outputFloat32(out, N.align)[0] / 7;
  }
  return sums;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('training: recon, gather and align fall; progress events; the modality affine moves', async () => {
  assert.ok(train.length >= 12 && train.length < 60, `a small training set (${train.length} slices)`);
  assert.equal(main.history.length, STEPS);
  const h = main.history;
  for (const k of ['recon', 'gather'] as const) {
    const first = mean(h.slice(0, 5).map((r) => r[k]));
    const last = mean(h.slice(-5).map((r) => r[k]));
    assert.ok(last < 0.85 * first, `${k}: first-5 mean ${first.toFixed(4)} → last-5 mean ${last.toFixed(4)}`);
  }
  for (const r of h)
    assert.ok(
      Math.abs(r.loss - (r.recon + 0.2 * r.gather + 0.2 * r.align)) < 1e-5,
      `total = recon + 0.2·gather + 0.2·align at step ${r.step}`,
    );
  // A step's align value depends mostly on which subsets its batch drew; on fixed batches
  // (every subset, the same slices) all three terms must fall from the initial parameters.
  const before0 = await evaluate(init.params);
  const after0 = await evaluate(main.params);
  for (const k of ['recon', 'gather', 'align'] as const) {
    assert.ok(after0[k] < 0.85 * before0[k], `${k} on fixed batches: ${before0[k].toFixed(5)} → ${after0[k].toFixed(5)}`);
  }
  // The alignment acts on a trainable path: the affine of missing-modality subsets left identity.
  const gamma = main.params.get('modality_affine.en1.weight')!.data;
  const moved = MODALITY_SUBSETS.slice(0, 6).map((s) => Math.max(...gamma.subarray((s.id - 1) * D, s.id * D).map((v) => Math.abs(v - 1))));
  assert.ok(
    moved.every((m) => m > 1e-3),
    `γ of subsets 1..6 moved by ${moved.map((m) => m.toExponential(1)).join(', ')}`,
  );

  assert.deepEqual(
    progress.map((p) => p.step),
    Array.from({ length: STEPS }, (_, i) => i + 1),
  );
  for (const [i, p] of progress.entries()) {
    assert.equal(p.totalSteps, STEPS);
    assert.deepEqual([p.loss, p.recon, p.gather, p.align], [h[i].loss, h[i].recon, h[i].gather, h[i].align]);
    assert.ok(p.samplesPerSec > 0 && Number.isFinite(p.samplesPerSec) && p.etaSec >= 0);
  }
  assert.equal(progress[STEPS - 1].etaSec, 0);
  assert.ok(main.history.every((r) => r.gradNorm > 0 && Number.isFinite(r.gradNorm)));
  const ms = main.history
    .slice(10)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  process.stdout.write(
    `# AnyAD tiny: ${train.length} slices, median step ${ms[ms.length >> 1].toFixed(1)} ms (B=${BATCH}, D=${D}, ${GEOM.crop} px), stats pre-pass ${(main.timing.statsSec * 1000).toFixed(0)} ms, train ${main.timing.trainSec.toFixed(2)} s; fixed batches recon/gather/align ${[before0.recon, before0.gather, before0.align].map((v) => v.toFixed(4)).join('/')} → ${[after0.recon, after0.gather, after0.align].map((v) => v.toFixed(4)).join('/')}\n`,
  );
});

test('feature cache: each (slice, subset) is encoded once; later requests are hits', () => {
  const order = { seed: 5, datasetSize: images.count, batchSize: BATCH };
  const pairs = new Set<string>();
  for (let i = 0; i < images.count; i++) pairs.add(`${i}:7`); // the full-modality statistics pre-pass
  let requests = images.count;
  main.history.forEach((r) => {
    assert.deepEqual(r.subsets.length, BATCH);
    batchIndices(order, r.step).forEach((slice, i) => pairs.add(`${slice}:${r.subsets[i]}`));
    requests += BATCH;
  });
  const c = main.cache;
  assert.equal(c.imagesEncoded, pairs.size, 'images encoded = distinct (slice, subset) pairs asked for');
  assert.equal(c.misses + c.hits, requests);
  assert.ok(c.misses >= pairs.size && c.hits > 0);
  assert.ok(pairs.size < requests);
  assert.equal(c.entries, pairs.size);
  assert.equal(c.bytesPerEntry, 3 * SIDE * SIDE * D * 4);
  assert.equal(c.bytes, c.entries * c.bytesPerEntry);
  // Epochs after the first: the fraction of requests served from memory grows.
  const epochSteps = Math.ceil(images.count / BATCH);
  const seen = new Set<string>();
  for (let i = 0; i < images.count; i++) seen.add(`${i}:7`);
  const hitsPerStep = main.history.map(
    (r) =>
      batchIndices(order, r.step).filter((slice, i) => {
        const k = `${slice}:${r.subsets[i]}`;
        const hit = seen.has(k);
        seen.add(k);
        return hit;
      }).length,
  );
  const firstEpoch = mean(hitsPerStep.slice(0, epochSteps)) / BATCH;
  const lastEpoch = mean(hitsPerStep.slice(-epochSteps)) / BATCH;
  assert.ok(lastEpoch > firstEpoch, `hit rate ${firstEpoch.toFixed(2)} in the first epoch → ${lastEpoch.toFixed(2)} in the last`);
});

test('feature cache: features equal a direct encoder run on the subset-preprocessed image; repeats run nothing; cap', async () => {
  const session = await encoderSession();
  const reqs = [
    { slice: 0, subset: 1 },
    { slice: 3, subset: 6 },
    { slice: 2, subset: 7 },
    { slice: 1, subset: 3 },
    { slice: 0, subset: 1 },
    { slice: 0, subset: 2 },
  ];
  const cache = new FeatureCache({ session, encoderBatch: BATCH, imageSize: GEOM.crop, dim: D, side: SIDE, image: images.image });
  const got = await cache.get(reqs);
  assert.deepEqual(
    [cache.stats().encoderRuns, cache.stats().imagesEncoded, cache.stats().entries],
    [2, 5, 5],
    '5 distinct pairs in 2 runs of batch 4',
  );
  assert.equal(got[4], got[0], 'a pair asked for twice is one entry');
  // Independent: preprocess each slice with its subset from the volumes, run the encoder directly.
  const direct = new Float32Array(BATCH * 3 * GEOM.crop * GEOM.crop);
  reqs.slice(0, 4).forEach((r, i) => direct.set(preprocessedWithSubset(train[r.slice], r.subset), i * 3 * GEOM.crop * GEOM.crop));
  const out = await run(session, { image: direct }, { image: [BATCH, 3, GEOM.crop, GEOM.crop] }, ['fused', 'en0', 'en1']);
  const m = SIDE * SIDE * D;
  reqs.slice(0, 4).forEach((r, i) => {
    for (const k of ['fused', 'en0', 'en1'] as const)
      assert.deepEqual(got[i][k], outputFloat32(out, k).slice(i * m, (i + 1) * m), `${k} of slice ${r.slice} subset ${r.subset}`);
  });
  assert.notDeepEqual(got[0].en1, got[5].en1, 'another subset of the same slice');
  const again = await cache.get(reqs);
  assert.equal(cache.stats().encoderRuns, 2, 'a repeated request runs no encoder');
  assert.deepEqual(again, got);

  const capped = new FeatureCache({
    session,
    encoderBatch: BATCH,
    imageSize: GEOM.crop,
    dim: D,
    side: SIDE,
    image: images.image,
    maxEntries: 2,
  });
  const c1 = await capped.get(reqs);
  const c2 = await capped.get(reqs);
  assert.deepEqual(c2, c1);
  assert.deepEqual(c1, got);
  const st = capped.stats();
  assert.deepEqual([st.entries, st.bytes], [2, 2 * st.bytesPerEntry]);
  assert.equal(st.imagesEncoded, 5 + 3, 'the 3 pairs beyond the cap are encoded again');
  assert.throws(() => new FeatureCache({ session, encoderBatch: 0, imageSize: 56, dim: D, side: SIDE, image: images.image }), ConfigError);
});

test('shared encoder features: a second training on them encodes nothing new and equals a training with its own cache', async () => {
  const shared = await openTrainingFeatures(encoder, images, { batch: BATCH, provider: 'cpu', threads: 1 });
  try {
    const steps = 12;
    const first = await trainAnyAD({ ...baseOptions(), steps, features: shared });
    const encodedAfterFirst = shared.cache.stats().imagesEncoded;
    assert.equal(encodedAfterFirst, first.cache.imagesEncoded);
    const again = await trainAnyAD({ ...baseOptions(), steps, features: shared });
    assert.equal(shared.cache.stats().imagesEncoded, encodedAfterFirst, 'the same pairs again: all hits');
    assert.equal(again.cache.misses, first.cache.misses, 'cumulative stats of the shared cache: no new misses');
    const own = await trainAnyAD({ ...baseOptions(), steps });
    for (const [k, p] of own.params) assert.deepEqual(again.params.get(k)!.data, p.data, `${k} bit-identical`);
    assert.deepEqual(again.stats, own.stats);
    await assert.rejects(
      trainAnyAD({ ...baseOptions(), steps: 1, batchSize: 2, features: shared }),
      (e: unknown) => e instanceof ConfigError && /batch 4/.test(e.message),
    );
  } finally {
    await shared.release();
  }
});

test('masking: deterministic, all 7 subsets, modes, missing channels exactly 0', () => {
  const seen = new Set(main.history.flatMap((r) => r.subsets));
  assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6, 7], 'the training run saw every subset');

  const order = { seed: 1, datasetSize: 10, batchSize: 4 };
  const sample = maskingConfig({ seed: 9 });
  assert.equal(sample.mode, 'sample');
  const counts = new Array(8).fill(0);
  for (let step = 0; step < 1000; step++) for (const id of batchSubsets(sample, order, step)) counts[id]++;
  for (let id = 1; id <= 7; id++)
    assert.ok(Math.abs(counts[id] - 4000 / 7) < (0.15 * 4000) / 7, `subset ${id} drawn ${counts[id]} of 4000 times`);
  assert.deepEqual(
    batchSubsets(sample, order, 17),
    batchSubsets(maskingConfig({ seed: 9 }), order, 17),
    'a pure function of (seed, step, index)',
  );
  assert.notDeepEqual(
    [0, 1, 2, 3, 4, 5].map((s) => batchSubsets(sample, order, s)),
    [0, 1, 2, 3, 4, 5].map((s) => batchSubsets(maskingConfig({ seed: 10 }), order, s)),
  );

  const batch = maskingConfig({ seed: 9, mode: 'batch' });
  const perBatch = Array.from({ length: 50 }, (_, s) => batchSubsets(batch, order, s));
  assert.ok(perBatch.every((b) => b.every((id) => id === b[0])));
  assert.equal(new Set(perBatch.map((b) => b[0])).size, 7);

  const epoch = maskingConfig({ seed: 9, mode: 'epoch' });
  // Stream position q = step·4 + index lies in epoch floor(q / 10).
  const byEpoch = new Map<number, Set<number>>();
  for (let step = 0; step < 100; step++)
    for (let i = 0; i < 4; i++) {
      const e = Math.floor((step * 4 + i) / 10);
      if (!byEpoch.has(e)) byEpoch.set(e, new Set());
      byEpoch.get(e)!.add(subsetFor(epoch, order, step, i));
    }
  assert.ok(
    [...byEpoch.values()].every((s) => s.size === 1),
    'one subset per epoch',
  );
  assert.equal(new Set([...byEpoch.values()].map((s) => [...s][0])).size, 7);

  const only = maskingConfig({ seed: 1, subsets: [2, 5] });
  assert.deepEqual(new Set(Array.from({ length: 40 }, (_, s) => batchSubsets(only, order, s)).flat()), new Set([2, 5]));
  assert.throws(() => maskingConfig({ subsets: [0] }), ConfigError);
  assert.throws(() => maskingConfig({ mode: 'slice' as never }), ConfigError);

  // The masked input equals preprocessing with the subset (zero channels, others bit-equal).
  const full = images.image(2);
  const plane = GEOM.crop * GEOM.crop;
  for (const s of MODALITY_SUBSETS) {
    const masked = maskImage(full, s.id);
    assert.deepEqual(masked, preprocessedWithSubset(train[2], s.id), s.label);
    s.keep.forEach((keep, c) => {
      const part = masked.subarray(c * plane, (c + 1) * plane);
      if (!keep)
        assert.ok(
          part.every((v) => Object.is(v, 0)),
          `${s.label}: channel ${c} is +0.0`,
        );
      else assert.ok(part.some((v) => v !== 0));
    });
  }
  assert.deepEqual(maskImage(full, 7), full);
});

test('cancel, then resume from the checkpoint → bit-identical to an uninterrupted run', async () => {
  const steps = 16;
  const opts = { ...baseOptions(), steps, checkpointEvery: 5 };
  const straight = await trainAnyAD({ ...opts, checkpointDir: join(tmp, 'straight') });
  const dir = join(tmp, 'interrupted');
  const ctl = new AbortController();
  const first = await trainAnyAD({
    ...opts,
    checkpointDir: dir,
    signal: ctl.signal,
    onProgress: (p) => {
      if (p.step === 7) ctl.abort();
    },
  });
  assert.equal(first.cancelled, true);
  assert.equal(first.step, 7);
  assert.deepEqual(
    listCheckpoints(dir).map((c) => c.step),
    [7, 5],
    'the cancelled run checkpointed where it stopped',
  );
  const resumed = await trainAnyAD({ ...opts, checkpointDir: dir, resume: true });
  assert.equal(resumed.resumedFrom, 7);
  assert.equal(resumed.step, steps);
  assert.deepEqual(
    resumed.history.map((r) => [r.step, r.loss, r.recon, r.gather, r.align, r.subsets]),
    straight.history.slice(7).map((r) => [r.step, r.loss, r.recon, r.gather, r.align, r.subsets]),
  );
  for (const [name, p] of straight.params) assert.deepEqual(resumed.params.get(name)!.data, p.data, name);
  assert.deepEqual(resumed.stats, straight.stats);

  await assert.rejects(
    trainAnyAD({ ...opts, checkpointDir: dir, resume: true, masking: { mode: 'batch' } }),
    (e: unknown) => e instanceof ConfigError && /masking/.test(e.message),
  );
  await assert.rejects(
    trainAnyAD({ ...opts, checkpointDir: dir, resume: true, batchSize: 2 }),
    (e: unknown) => e instanceof ConfigError && e.code === 'train/resume-mismatch',
  );
});

test('statistics pre-pass: channel mean/std of the full-modality En0/En1 over the training set', async () => {
  const session = await encoderSession();
  const per = 3 * GEOM.crop * GEOM.crop;
  const sum = [new Float64Array(D), new Float64Array(D)];
  const sq = [new Float64Array(D), new Float64Array(D)];
  for (let start = 0; start < images.count; start += BATCH) {
    const x = new Float32Array(BATCH * per);
    const k = Math.min(BATCH, images.count - start);
    for (let i = 0; i < k; i++) x.set(preprocessedWithSubset(train[start + i], 7), i * per);
    const out = await run(session, { image: x }, { image: [BATCH, 3, GEOM.crop, GEOM.crop] }, ['en0', 'en1']);
    ['en0', 'en1'].forEach((name, g) => {
      const d = outputFloat32(out, name);
      for (let i = 0; i < k; i++)
        for (let c = 0; c < D; c++)
          for (let p = 0; p < SIDE * SIDE; p++) {
            const v = d[(i * D + c) * SIDE * SIDE + p];
            sum[g][c] += v;
            sq[g][c] += v * v;
          }
    });
  }
  const n = images.count * SIDE * SIDE;
  for (let g = 0; g < 2; g++) {
    assert.equal(main.stats[g].count, n);
    for (let c = 0; c < D; c++) {
      const mu = sum[g][c] / n;
      const sd = Math.sqrt(sq[g][c] / n - mu * mu);
      assert.ok(Math.abs(main.stats[g].mean[c] - mu) <= 1e-5 * (1 + Math.abs(mu)), `En${g} channel ${c} mean`);
      assert.ok(Math.abs(main.stats[g].std[c] - sd) <= 1e-4 * (1 + sd) && sd > 0, `En${g} channel ${c} std`);
    }
  }
});
