/**
 * The CLI ↔ extension JSON contract (src/shared/detectJson.ts): `anyad detect --json` on the
 * shipped default model (random-init encoder) says so in `encoder` and `warning`, for one
 * slice and for --all; `anyad train --progress-json` reports the written model's provenance;
 * the parser the extension uses accepts exactly that and rejects malformed results; the
 * extension's provenance helpers find the model card and word the status bar and log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli as cli } from '../helpers/cli';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { loadBundle } from '../../src/engine/model/bundle';
import { phantomSliceRange, writePhantomCohort } from '../../src/engine/phantom';
import type { Case } from '../../src/engine/study';
import { DetectJsonError, encoderJson, isVolumeResult, parseDetectJson, parseDetectOutput } from '../../src/shared/detectJson';
import { heatmapModel, modelCardPath, provenanceLogLine, statusSuffix, statusTooltip } from '../../src/extension/provenance';
import { phantomCase, tempDir } from '../detect/helpers';

const DEFAULT_MODEL = join(__dirname, '..', '..', 'models', 'default');
let root: string;
let kase: Case;

before(async () => {
  root = tempDir('provenance');
  kase = await phantomCase(join(root, 'data'));
});
after(async () => {
  await releaseAllSessions();
  rmSync(root, { recursive: true, force: true });
});

test('anyad detect --json on the shipped default model carries its random-init encoder and warning', async () => {
  const manifest = loadBundle(DEFAULT_MODEL).manifest;
  assert.equal(manifest.encoder.provenance.kind, 'random-init', 'the shipped default is the random-init demo model');
  const one = await cli([
    'detect',
    '--model',
    DEFAULT_MODEL,
    '--case',
    kase.dir,
    '--slice',
    '12',
    '--modalities',
    'flair,t2',
    '--provider',
    'cpu',
    '--json',
  ]);
  assert.equal(one.code, 0, one.stderr);
  const slice = parseDetectOutput(one.stdout);
  assert.equal(isVolumeResult(slice), false);
  assert.deepEqual(slice.encoder, {
    kind: 'random-init',
    name: `random-init (seed ${manifest.encoder.provenance.seed})`,
    description: manifest.encoder.description,
  });
  assert.equal(slice.warning, manifest.warning);
  assert.match(slice.warning ?? '', /RANDOM-INIT.*not meaningful for real data/);
  // The parser copies the contract's fields and nothing is lost on the way.
  assert.deepEqual(slice, JSON.parse(one.stdout));

  const all = await cli([
    'detect',
    '--model',
    DEFAULT_MODEL,
    '--case',
    kase.dir,
    '--all',
    '--modalities',
    'flair',
    '--provider',
    'cpu',
    '--json',
  ]);
  assert.equal(all.code, 0, all.stderr);
  const volume = parseDetectOutput(all.stdout);
  assert.ok(isVolumeResult(volume));
  assert.equal(volume.slices.length, 24);
  assert.equal(volume.encoder.kind, 'random-init');
  assert.equal(volume.warning, manifest.warning);
});

test("anyad train --progress-json: the result names the written model's encoder and warning", async () => {
  const cohort = join(root, 'cohort');
  const size: [number, number, number] = [48, 48, 32];
  await writePhantomCohort(cohort, { cases: 4, seed: 5, size, anomalousFraction: 0.5, workers: 0 });
  const configPath = join(cohort, 'anyad.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      data: { root: '.', slices: { axis: 'axial', ...phantomSliceRange(size[2]) } },
      model: { preset: 'tiny-cpu', randomEncoderSeed: 4 },
      preprocess: { resize: 64, crop: 56 },
      output: { dir: join(root, 'out') },
      train: { steps: 2, batchSize: 2, evalEvery: 0, seed: 1, provider: 'cpu', threads: 1 },
    }),
  );
  const r = await cli(['train', '--config', configPath, '--progress-json']);
  assert.equal(r.code, 0, r.stderr);
  const result = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((m) => m.type === 'result');
  assert.ok(result?.bundleDir, `a result line with the bundle:\n${r.stdout.slice(-2000)}`);
  const manifest = loadBundle(result.bundleDir).manifest;
  assert.deepEqual(result.encoder, { kind: 'random-init', name: 'random-init (seed 4)', description: manifest.encoder.description });
  assert.equal(result.warning, manifest.warning);
  assert.match(result.warning, /not meaningful/);
});

const valid = {
  model: '/m',
  case: '/c/x_flair.nii.gz',
  subset: 'FLAIR',
  provider: 'cpu',
  out: null,
  encoder: { kind: 'random-init', name: 'random-init (seed 7)', description: 'RANDOM-INIT encoder (seed 7)' },
  warning: 'RANDOM-INIT encoder (seed 7): not meaningful',
  z: 3,
  score: 0.4,
  threshold: null,
  anomalous: null,
};

test('parseDetectJson accepts the contract and rejects malformed results, naming the field', () => {
  assert.deepEqual(parseDetectJson(valid), valid);
  const pretrained = {
    ...valid,
    encoder: { kind: 'pretrained', name: 'facebook/dinov2-base', revision: 'abc', sha256: 'f'.repeat(64), description: 'pretrained' },
    warning: null,
  };
  assert.deepEqual(parseDetectJson(pretrained), pretrained);
  const { z: _z, score: _s, threshold: _t, anomalous: _a, ...common } = valid;
  const volume = { ...common, slices: [{ z: 0, score: 1, threshold: 0.5, anomalous: true }] };
  assert.deepEqual(parseDetectJson(volume), volume);
  const bad: Array<[unknown, RegExp]> = [
    [null, /'result' must be an object/],
    [[valid], /'result' must be an object/],
    [{ ...valid, encoder: undefined }, /'encoder' must be an object/],
    [{ ...valid, encoder: { ...valid.encoder, kind: 'imagenet' } }, /'encoder\.kind' must be one of pretrained, random-init/],
    [{ ...valid, encoder: { ...valid.encoder, name: 3 } }, /'encoder\.name'/],
    [{ ...valid, encoder: { ...valid.encoder, description: undefined } }, /'encoder\.description'/],
    [{ ...valid, encoder: { ...valid.encoder, sha256: 1 } }, /'encoder\.sha256'/],
    [{ ...valid, warning: undefined }, /'warning' must be a string/],
    [{ ...valid, warning: null }, /random-init encoder must come with a 'warning'/],
    [{ ...valid, warning: '' }, /random-init encoder must come with a 'warning'/],
    [{ ...valid, score: 'high' }, /'score' must be a finite number/],
    [{ ...valid, z: -1 }, /'z' must be a slice index/],
    [{ ...valid, z: 1.5 }, /'z' must be a slice index/],
    [{ ...valid, anomalous: 'yes' }, /'anomalous' must be true, false or null/],
    [{ ...valid, provider: undefined }, /'provider'/],
    [{ ...valid, out: 5 }, /'out'/],
    [{ ...volume, slices: {} }, /'slices' must be an array/],
    [{ ...volume, slices: [{ z: 0, score: 1, threshold: 'x', anomalous: true }] }, /'slices\[0\]\.threshold'/],
  ];
  for (const [raw, message] of bad)
    assert.throws(
      () => parseDetectJson(raw),
      (e: unknown) => e instanceof DetectJsonError && message.test(e.message),
      JSON.stringify(raw)?.slice(0, 120),
    );
  assert.throws(() => parseDetectOutput('loading…\n'), /expected one JSON object/);
  assert.throws(() => parseDetectOutput(''), DetectJsonError);
  // The result is the last line; anything the CLI printed before it is not parsed.
  assert.deepEqual(parseDetectOutput(`note\n${JSON.stringify(valid)}\n`), valid);
});

test('encoderJson: hub weights are named by repo and resolved commit, other files by name', () => {
  const hub = encoderJson(
    {
      kind: 'pretrained',
      source: '/h/hub/models--facebook--dinov2-with-registers-base/snapshots/0123abc/model.safetensors',
      sha256: 'e'.repeat(64),
      naming: 'hf',
      registers: 4,
    },
    'pretrained …',
  );
  assert.deepEqual(hub, {
    kind: 'pretrained',
    name: 'facebook/dinov2-with-registers-base',
    revision: '0123abc',
    sha256: 'e'.repeat(64),
    description: 'pretrained …',
  });
  const fetched = encoderJson(
    {
      kind: 'pretrained',
      source: '/c/model.safetensors',
      naming: 'hf',
      registers: 4,
      hub: {
        repo: 'facebook/dinov2-with-registers-small',
        revision: 'main',
        commit: '9f8e7d',
        file: 'model.safetensors',
        cachePath: '/c/model.safetensors',
      },
    },
    'd',
  );
  assert.deepEqual(fetched, { kind: 'pretrained', name: 'facebook/dinov2-with-registers-small', revision: '9f8e7d', description: 'd' });
  const file = encoderJson({ kind: 'pretrained', source: '/w/weights/dinov2-base.safetensors', naming: 'meta', registers: 0 }, 'd');
  assert.deepEqual(file, { kind: 'pretrained', name: 'dinov2-base.safetensors', description: 'd' });
  assert.equal(encoderJson({ kind: 'random-init', naming: 'none', registers: 0, seed: 9 }, 'r').name, 'random-init (seed 9)');
});

test('extension provenance helpers: model card lookup, status bar, tooltip and log line', () => {
  assert.equal(modelCardPath(DEFAULT_MODEL), join(DEFAULT_MODEL, 'MODEL_CARD.md'));
  const trained = join(root, 'trained');
  mkdirSync(trained, { recursive: true });
  assert.equal(modelCardPath(trained), undefined);
  writeFileSync(join(trained, 'report.md'), '# report\n');
  assert.equal(modelCardPath(trained), join(trained, 'report.md'));

  const random = parseDetectJson(valid);
  assert.equal(statusSuffix(random), ' · RANDOM-INIT encoder');
  assert.match(statusTooltip(random, '/m'), /Warning: RANDOM-INIT encoder \(seed 7\): not meaningful/);
  assert.match(
    provenanceLogLine(random),
    /^Model provenance: random-init encoder \(random-init \(seed 7\)\): RANDOM-INIT encoder \(seed 7\)\nWARNING: /,
  );
  assert.deepEqual(heatmapModel(random), { kind: 'random-init', description: 'RANDOM-INIT encoder (seed 7)', warning: valid.warning });
  const pretrained = parseDetectJson({
    ...valid,
    encoder: { kind: 'pretrained', name: 'facebook/dinov2-base', revision: 'abc', description: 'pretrained' },
    warning: null,
  });
  assert.equal(statusSuffix(pretrained), '');
  assert.doesNotMatch(statusTooltip(pretrained, '/m'), /Warning/);
  assert.equal(provenanceLogLine(pretrained), 'Model provenance: pretrained encoder (facebook/dinov2-base, revision abc): pretrained');
});
