/**
 * The training pipeline end to end on a tiny phantom cohort (6 cases of 48×48×32, tiny-cpu
 * encoder at 56 px, batch 4, 12 steps, validation every 4): a run cancelled at step 6 is
 * resumed to completion; the bundle, report and training history are checked, the best
 * step is the argmax of the recorded validations, the bundle holds that step's parameters
 * (its model.onnx reproduces the test scores), thresholds are per subset, and checkpoints of
 * a changed run are refused. test/train/protocol.test.ts checks that the test split never
 * takes part in selection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkspaceConfig, type WorkspaceConfig } from '../../src/engine/config';
import { ConfigError } from '../../src/engine/errors';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { loadBundle } from '../../src/engine/model/bundle';
import { phantomSliceRange, writePhantomCohort } from '../../src/engine/phantom';
import { MODALITY_SUBSETS } from '../../src/engine/study';
import { listCheckpoints } from '../../src/engine/train/checkpoint';
import {
  type PipelineProgress,
  type RunTrainingResult,
  RUN_FILES,
  betterByImageAP,
  runEvaluation,
  runTraining,
} from '../../src/engine/train/pipeline';
import { formatDuration, progressPrinter } from '../../src/cli/progress';
import { runCli } from '../helpers/cli';
import { readSafetensors, toFloat32 } from '../../src/engine/safetensors';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-pipeline-'));
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await releaseAllSessions();
});

const SIZE: [number, number, number] = [48, 48, 32];
const root = join(tmp, 'cohort');
const configPath = join(root, 'anyad.json');
const configJson = {
  data: { root: '.', slices: { axis: 'axial', ...phantomSliceRange(SIZE[2]) } },
  model: { preset: 'tiny-cpu', randomEncoderSeed: 3 },
  preprocess: { resize: 64, crop: 56 },
  output: { dir: join(tmp, 'out') },
  train: { steps: 12, batchSize: 4, evalEvery: 4, seed: 5, lr: 0.01, provider: 'cpu', threads: 1 },
};
const config = (overrides: { model?: object; train?: object } = {}): WorkspaceConfig =>
  parseWorkspaceConfig(
    {
      ...configJson,
      model: { ...configJson.model, ...overrides.model },
      train: { ...configJson.train, ...overrides.train },
    },
    configPath,
  );

let first: RunTrainingResult;
let second: RunTrainingResult;
const secondEvents: PipelineProgress[] = [];

before(async () => {
  await writePhantomCohort(root, { cases: 6, seed: 11, size: SIZE, anomalousFraction: 0.5, workers: 0 });
  writeFileSync(configPath, JSON.stringify(configJson));
  const abort = new AbortController();
  first = await runTraining(config(), {
    signal: abort.signal,
    onProgress: (p) => {
      if (p.phase === 'train' && p.step === 6) abort.abort();
    },
  });
  // Make the first run's step-4 evaluation the best one (its recorded mean AP raised to 1), so
  // the selection must pick parameters other than the final ones, kept from an earlier process.
  const statePath = join(tmp, 'out', 'checkpoints', RUN_FILES.state);
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  state.evaluations[0].meanImageAP = 1;
  writeFileSync(statePath, JSON.stringify(state));
  second = await runTraining(config(), { onProgress: (p) => secondEvents.push(p), now: () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
});

test('a cancelled run keeps its checkpoint and evaluations; the next run resumes from it', () => {
  assert.equal(first.completed, false);
  assert.equal(first.step, 6);
  assert.equal(first.bundleDir, undefined, 'no bundle from a cancelled run');
  assert.deepEqual(
    first.evaluations.map((e) => e.step),
    [4],
  );
  assert.equal(second.completed, true);
  assert.equal(second.resumedFrom, 6);
  assert.equal(second.step, 12);
  assert.deepEqual(
    second.evaluations.map((e) => e.step),
    [4, 8, 12],
    'the step-4 evaluation of the first run is kept',
  );
  // The resumed run trained steps 6..11 only; the history in the bundle covers 0..11 exactly once.
  const trainSteps = secondEvents.filter((p) => p.phase === 'train').map((p) => p.step);
  assert.deepEqual(trainSteps, [7, 8, 9, 10, 11, 12]);
  const history = JSON.parse(readFileSync(join(second.bundleDir!, 'training.json'), 'utf8'));
  assert.deepEqual(
    history.losses.map((l: number[]) => l[0]),
    Array.from({ length: 12 }, (_, i) => i),
  );
  assert.ok(history.losses.every((l: number[]) => Number.isFinite(l[1])));
  // Progress events carry the evaluations with their metrics.
  const evals = secondEvents.filter((p) => p.evaluation);
  assert.deepEqual(
    evals.map((p) => p.evaluation!.step),
    [8, 12],
  );
  assert.ok(secondEvents.some((p) => p.phase === 'train' && p.etaSec !== undefined && Number.isFinite(p.loss!)));
});

test('the report has all 7 subsets with finite metrics, next to the bundle', () => {
  const dir = second.bundleDir!;
  assert.match(dir, /model-20260102-030405$/);
  assert.equal(second.reportPath, join(dir, 'report.md'));
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  assert.match(md, /RANDOM-INIT/);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  const labels = MODALITY_SUBSETS.map((s) => s.label);
  assert.deepEqual(report.columns, [...labels, 'Mean']);
  const rows = report.results[0].rows;
  for (const row of ['AUROC', 'AP', 'F1']) {
    for (const c of [...labels, 'Mean']) {
      for (const level of ['image', 'pixel']) {
        const v = rows[row][c][level];
        assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${row} ${c} ${level} = ${v}`);
      }
    }
  }
  for (const c of labels) assert.ok(Number.isFinite(rows.AUPRO[c].pixel), `AUPRO ${c}`);
  assert.equal(report.encoder.kind, 'random-init');
  assert.deepEqual(
    report.dataSummary.splits.map((s: { name: string }) => s.name),
    ['train', 'validation (selection, thresholds)', 'test (scored once)'],
  );
  assert.ok(report.timingSeconds.train > 0 && report.timingSeconds.validation > 0 && report.timingSeconds.test > 0);
  // The baseline row, on the same test slices, and intervals with the counts behind them.
  assert.deepEqual(
    report.results.map((r: { model: string }) => r.model),
    ['AnyAD', 'Intensity baseline (non-learned)'],
  );
  assert.deepEqual(second.baseline!.F.counts, second.metrics!.F.counts);
  assert.match(md, /Intensity baseline \(non-learned\)/);
  for (const c of labels) {
    const m = second.metrics![c];
    assert.equal(m.counts!.slices, report.dataSummary.splits[2].slices, 'the counts in the report are the slices scored');
    const ci = m.ci!.image.auroc!;
    assert.ok(ci[0] <= m.image.auroc! && m.image.auroc! <= ci[1], `${c}: ${m.image.auroc} in [${ci.join()}]`);
  }
  for (const f of ['roc-image.svg', 'pr-pixel.svg', 'training.svg']) assert.ok(existsSync(join(dir, f)), f);
  // The metrics returned are the test scores of the selected step, as in the report.
  assert.equal(rows.AP.F.image, second.metrics!.F.image.ap);
  assert.equal(JSON.parse(readFileSync(join(dir, 'anyad.json'), 'utf8')).metrics.split, 'test');
});

test('the best parameters are those of the step with the highest mean image AP', async () => {
  const aps = second.evaluations.map((e) => e.meanImageAP);
  const bestIndex = aps.reduce((bi, v, i) => (v > aps[bi] ? i : bi), 0);
  assert.equal(second.bestStep, second.evaluations[bestIndex].step);
  assert.equal(second.bestStep, 4, 'the (raised) step-4 evaluation is the best');
  assert.match(readFileSync(second.reportPath!, 'utf8'), /Parameters of step 4 of 12/);
  const bundle = loadBundle(second.bundleDir!);
  assert.equal((bundle.manifest.metrics as { step: number }).step, second.bestStep);
  // The saved best parameters are the bundle's.
  const best = readSafetensors(join(tmp, 'out', 'checkpoints', RUN_FILES.best));
  assert.equal(Number(best.metadata.step), second.bestStep);
  for (const [name, t] of [...bundle.head.params, ...(bundle.affine ?? [])])
    assert.deepEqual(t.data, toFloat32(best.tensors.get(name)!, name), name);
  assert.ok(bundle.affine, 'trained with the modality affine');
  const final = readSafetensors(listCheckpoints(join(tmp, 'out', 'checkpoints'))[0].path);
  assert.notDeepEqual(
    bundle.head.params.get('prototype_token')!.data,
    toFloat32(final.tensors.get('param/prototype_token')!, 'final'),
    'not the final parameters',
  );
  // The bundle's exported model reproduces the test scores of that step (ONNX graph vs the TS map pipeline).
  const evaluated = await runEvaluation(config(), second.bundleDir!, { outDir: join(tmp, 'eval') });
  const recorded = { perSubset: second.metrics! };
  assert.deepEqual(evaluated.baseline, second.baseline, 'the baseline row is the same computation on the same slices');
  for (const s of MODALITY_SUBSETS) {
    assert.ok(Math.abs(evaluated.metrics[s.label].image.ap! - recorded.perSubset[s.label].image.ap!) < 1e-3, `${s.label} image AP`);
    assert.ok(
      Math.abs(evaluated.metrics[s.label].pixel.auroc! - recorded.perSubset[s.label].pixel.auroc!) < 1e-3,
      `${s.label} pixel AUROC`,
    );
  }
  assert.ok(existsSync(evaluated.reportPath));
});

test('thresholds are calibrated per subset on normal validation slices', () => {
  const th = second.thresholds!;
  assert.deepEqual(Object.keys(th.bySubset).sort(), ['1', '2', '3', '4', '5', '6', '7']);
  const values = Object.values(th.bySubset);
  assert.ok(values.every(Number.isFinite));
  assert.ok(new Set(values).size > 1, 'subsets get their own thresholds');
  const validationNormal = JSON.parse(readFileSync(join(second.bundleDir!, 'report.json'), 'utf8')).dataSummary.splits[1].normal;
  assert.ok(
    Object.values(th.normalSlices).every((n) => n === validationNormal),
    `${JSON.stringify(th.normalSlices)} vs ${validationNormal} normal validation slices`,
  );
  assert.deepEqual(loadBundle(second.bundleDir!).manifest.thresholds!.bySubset, th.bySubset);
});

test('checkpoints of a run with other settings are refused with a clear message', async () => {
  await assert.rejects(
    runTraining(config({ train: { lr: 0.02 } })),
    (e: unknown) => e instanceof ConfigError && /resume-mismatch|schedule/.test(`${e.code} ${e.message}`),
  );
  await assert.rejects(
    runTraining(config({ model: { randomEncoderSeed: 4 } })),
    (e: unknown) => e instanceof ConfigError && /'encoder'/.test(e.message) && e.message.includes(join(tmp, 'out', 'checkpoints')),
  );
  assert.equal(listCheckpoints(join(tmp, 'out', 'checkpoints'))[0].step, 12, 'the refused runs left the checkpoints alone');
});

test('anyad eval evaluates a bundle from the command line', async () => {
  const out = join(tmp, 'cli-eval');
  const evaluated = await runCli(['eval', '--config', configPath, '--model', second.bundleDir!, '--out', out]);
  assert.equal(evaluated.code, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /^test split \(image\/pixel\):\n +F +T1 +T2 /m, 'the metrics table, one column per subset');
  assert.ok(evaluated.stdout.endsWith(`report: ${join(out, 'report.md')}\n`), evaluated.stdout);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.deepEqual(report.columns, [...MODALITY_SUBSETS.map((s) => s.label), 'Mean']);
  assert.ok(existsSync(join(out, 'report.md')));
  const missing = await runCli(['eval', '--config', configPath, '--model', join(tmp, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^anyad eval: error: .*nope.*\n$/, 'a missing bundle is a one-line error');
});

test('model selection: strictly higher mean image AP wins, ties keep the earlier step, NaN never beats a number', () => {
  assert.equal(betterByImageAP(0.5, undefined), true);
  assert.equal(betterByImageAP(0.6, 0.5), true);
  assert.equal(betterByImageAP(0.5, 0.5), false);
  assert.equal(betterByImageAP(Number.NaN, 0.5), false);
  assert.equal(betterByImageAP(0.1, Number.NaN), true);
  assert.equal(betterByImageAP(Number.NaN, Number.NaN), true, 'all NaN: the latest parameters');
});

test('progress output: plain lines are throttled to ~5 % of the run; evaluations and messages always print', () => {
  const lines: string[] = [];
  const stream = {
    write: (s: string) => {
      lines.push(s);
      return true;
    },
  };
  const print = progressPrinter(stream, false);
  for (let step = 1; step <= 100; step++)
    print({
      phase: 'train',
      message: '',
      step,
      totalSteps: 100,
      loss: 0.5,
      recon: 0.4,
      gather: 0.3,
      align: Number.NaN,
      etaSec: 100 - step,
    });
  print({ phase: 'evaluate', message: 'step 100: mean image AP 0.700' });
  assert.equal(lines.length, 22, lines.join(''));
  assert.match(lines[0], /^step 1\/100 \[\.+\] loss 0\.5000 \(rec 0\.400 gat 0\.300 aln -\) ETA 1m39s\n$/);
  assert.match(lines[20], /^step 100\/100 \[#+\]/);
  assert.equal(lines[21], '[evaluate] step 100: mean image AP 0.700\n');
  assert.equal(formatDuration(3725), '1h02m');
});
