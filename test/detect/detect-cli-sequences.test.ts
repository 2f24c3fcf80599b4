/**
 * `anyad detect` and `anyad dataset` on sequence files no built-in name scheme knows
 * (X_fla / X_T1w / X_T2w), with the shipped bundle (models/default) on a renamed phantom:
 * --config patterns and assignments, explicit --flair/--t1/--t2, the default subset (the
 * sequences the case has) and the refusal of a missing one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detect } from '../../src/engine/detect';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { type LoadedBundle, loadBundle } from '../../src/engine/model/bundle';
import { writePhantomCohort } from '../../src/engine/phantom';
import { runCli as cli } from '../helpers/cli';
import { tempDir } from './helpers';

const MODEL = join(__dirname, '../../models/default');
const root = tempDir('detect-seq');
let bundle: LoadedBundle;
/** Case folders with odd names: two full cases (Phantom_0001, Phantom_0002) and one with FLAIR + T2 only. */
const odd = (id: string, s: 'fla' | 'T1w' | 'T2w' | 'lesion') => join(root, 'data', id, `${id}_${s}.nii.gz`);
const config = join(root, 'anyad.json');

before(async () => {
  bundle = loadBundle(MODEL);
  await writePhantomCohort(join(root, 'data'), { cases: 2, seed: 5, size: [48, 40, 24], anomalousFraction: 1, workers: 0 });
  for (const id of ['Phantom_0001', 'Phantom_0002']) {
    const from = (s: string) => join(root, 'data', id, `${id}_${s}.nii.gz`);
    renameSync(from('flair'), odd(id, 'fla'));
    renameSync(from('t1'), odd(id, 'T1w'));
    renameSync(from('t2'), odd(id, 'T2w'));
    renameSync(from('seg'), odd(id, 'lesion'));
    rmSync(from('t1ce'));
  }
  // A third case with FLAIR and T2 only; its T2 has a name no pattern knows: assigned by hand.
  mkdirSync(join(root, 'data', 'Partial'));
  copyFileSync(odd('Phantom_0001', 'fla'), join(root, 'data', 'Partial', 'Partial_fla.nii.gz'));
  copyFileSync(odd('Phantom_0001', 'T2w'), join(root, 'data', 'Partial', 'second_echo.nii.gz'));
  copyFileSync(odd('Phantom_0001', 'lesion'), join(root, 'data', 'Partial', 'Partial_lesion.nii.gz'));
  writeFileSync(
    config,
    `{
  // odd names: patterns for the cohort, one file assigned by hand
  "data": {
    "root": "data",
    "sequences": { "flair": "*_fla.nii.gz", "t1": "*_T1w.nii.gz", "t2": ["*_T2w.nii.gz"], "label": "*_lesion.nii.gz" },
    "assignments": { "data/Partial/second_echo.nii.gz": "t2" },
    "slices": { "axis": "axial", "start": 8, "end": 16, "step": 4 }
  }
}
`,
  );
});
after(async () => {
  await releaseAllSessions();
  rmSync(root, { recursive: true, force: true });
});

const base = ['detect', '--model', MODEL, '--slice', '12', '--provider', 'cpu', '--json'];

test('anyad detect --config: a *_fla.nii.gz case resolves its T1 and T2 siblings; the default subset is all three', async () => {
  const r = await cli([...base, '--config', config, '--case', odd('Phantom_0001', 'fla')]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.subset, 'F+T1+T2');
  const direct = await detect(
    bundle,
    {
      id: 'Phantom_0001',
      dir: join(root, 'data', 'Phantom_0001'),
      files: { flair: odd('Phantom_0001', 'fla'), t1: odd('Phantom_0001', 'T1w'), t2: odd('Phantom_0001', 'T2w') },
    },
    { slice: 12, modalities: ['flair', 't1', 't2'], provider: 'cpu' },
  );
  assert.equal(j.score, direct.score, 'the CLI scored the same three files');
  // Without the config the same file is not a sequence, and the message says what to do.
  const bare = await cli([...base, '--case', odd('Phantom_0001', 'fla')]);
  assert.equal(bare.code, 1);
  assert.match(
    bare.stderr,
    /Phantom_0001_fla\.nii\.gz: not a recognised sequence file name .*add a data\.sequences pattern to anyad\.json, or assign the file by hand/,
  );
});

test('anyad detect --flair/--t2: explicit files alone, and winning over what --case finds', async () => {
  const r = await cli([...base, '--flair', odd('Phantom_0002', 'fla'), '--t2', odd('Phantom_0002', 'T2w')]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.subset, 'F+T2', 'the default subset is the sequences given');
  const direct = await detect(
    bundle,
    {
      id: 'Phantom_0002',
      dir: join(root, 'data', 'Phantom_0002'),
      files: { flair: odd('Phantom_0002', 'fla'), t2: odd('Phantom_0002', 'T2w') },
    },
    { slice: 12, modalities: ['flair', 't2'], provider: 'cpu' },
  );
  assert.equal(j.score, direct.score);
  // --case finds case 1's FLAIR/T1/T2 through the config; --t2 swaps in case 2's T2.
  const mixed = await cli([
    ...base,
    '--config',
    config,
    '--case',
    join(root, 'data', 'Phantom_0001'),
    '--t2',
    odd('Phantom_0002', 'T2w'),
    '--modalities',
    't2',
  ]);
  assert.equal(mixed.code, 0, mixed.stderr);
  const onlyT2 = await detect(
    bundle,
    { id: 'x', dir: root, files: { t2: odd('Phantom_0002', 'T2w') } },
    { slice: 12, modalities: ['t2'], provider: 'cpu' },
  );
  assert.equal(JSON.parse(mixed.stdout).score, onlyT2.score);
});

test('anyad detect: the default subset is the sequences the case has; asking for a missing one is refused with the fixes', async () => {
  const partial = join(root, 'data', 'Partial', 'Partial_fla.nii.gz');
  const r = await cli([...base, '--config', config, '--case', partial]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).subset, 'F+T2', 'FLAIR by pattern + T2 assigned in data.assignments');
  const refused = await cli([...base, '--config', config, '--case', partial, '--modalities', 'flair,t1,t2']);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /case Partial has no T1 file \(it has FLAIR, T2\); pass --t1 FILE, add a data\.sequences pattern \(with --config anyad\.json\), or drop t1 from --modalities/,
  );
  const alone = await cli([...base, '--flair', partial, '--modalities', 'flair,t2']);
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /has no T2 file .*pass --t2 FILE/);
  const nothing = await cli(['detect', '--model', MODEL]);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /give --case PATH .* --flair\/--t1\/--t2 FILE/);
  const gone = await cli([...base, '--t1', join(root, 'nope.nii.gz')]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /nope\.nii\.gz: no such T1 file/);
});

test('anyad dataset --config sees the same three cases (patterns and the manual assignment)', async () => {
  const r = await cli(['dataset', '--config', config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.summary.cases.total, 3);
  assert.deepEqual(j.warnings, []);
});
