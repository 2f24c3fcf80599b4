/**
 * `anyad detect --out` writes the map on the case file's own grid, whatever its storage
 * order: for inputs nibabel made (RAS, LPS, big-endian LAS, oblique sform 2 + qform 1,
 * NIfTI-2, 4-D) the map's header geometry fields are the input's bytes, every map value sits
 * at the input voxel it was computed for, and nibabel reads the same affine, qform/sform
 * and codes from both files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli as cli } from '../helpers/cli';
import { assertSameGridHeader, GRID_FIXTURE_DIR, GRID_FIXTURES, rawNifti, storedVoxels } from '../helpers/sourceGrid';
import { detect } from '../../src/engine/detect';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { loadBundle, type LoadedBundle } from '../../src/engine/model/bundle';
import { loadVolume } from '../../src/engine/nifti';
import { tempDir, writeTinyBundle } from './helpers';

let root: string;
let model: string;
let bundle: LoadedBundle;
const opts = { provider: 'cpu', threads: 2, modalities: ['flair'] } as const;
const verifyEntries: { input: string; output: string; markers: number[][] }[] = [];
const Z = 3;

before(() => {
  root = tempDir('outgrid');
  model = writeTinyBundle(join(root, 'model'));
  bundle = loadBundle(model);
});

after(async () => {
  await releaseAllSessions();
  rmSync(root, { recursive: true, force: true });
});

/** The fixture as the FLAIR of a one-file case. */
function caseFile(name: string): string {
  const dir = join(root, name.replace(/\.nii(\.gz)?$/, ''));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `case1_flair${name.endsWith('.gz') ? '.nii.gz' : '.nii'}`);
  copyFileSync(join(GRID_FIXTURE_DIR, name), file);
  return file;
}

/**
 * Asserts the stored map equals `expected` (canonical order) moved to the input's storage
 * order. The input's canonical values name their storage voxel (value = 1 + storage index),
 * so this uses the reader's toCanonical, not the writer's fromCanonical.
 */
function assertOnInputVoxels(input: string, out: string, expected: (c: number) => number): void {
  const canonicalInput = loadVolume(input).data;
  const stored = storedVoxels(rawNifti(out));
  assert.equal(stored.length, canonicalInput.length);
  for (let c = 0; c < canonicalInput.length; c++) {
    const s = canonicalInput[c] - 1;
    if (stored[s] !== expected(c))
      assert.fail(`${out}: storage voxel ${s} holds ${stored[s]}, expected ${expected(c)} (canonical voxel ${c})`);
  }
}

for (const name of GRID_FIXTURES) {
  test(`anyad detect --slice --out on ${name}: the map is on the input's grid`, async () => {
    const input = caseFile(name);
    const out = join(root, `${name.replace(/\.nii(\.gz)?$/, '')}_z${Z}.nii.gz`);
    const r = await cli([
      'detect',
      '--model',
      model,
      '--case',
      input,
      '--slice',
      String(Z),
      '--modalities',
      'flair',
      '--provider',
      'cpu',
      '--threads',
      '2',
      '--json',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assertSameGridHeader(rawNifti(input), rawNifti(out), out);
    const direct = await detect(bundle, input, { ...opts, slice: Z });
    assert.equal(direct.source.file, input);
    const [nx, ny] = direct.grid.dims;
    assert.ok(direct.map.some((v) => v !== 0));
    assertOnInputVoxels(input, out, (c) => (Math.floor(c / (nx * ny)) === Z ? direct.map[c - Z * nx * ny] : 0));
    verifyEntries.push({ input, output: out, markers: [] });
  });
}

for (const name of ['lps.nii.gz', 'oblique.nii.gz']) {
  test(`anyad detect --all --out on ${name}: every slice's map at its input voxels`, async () => {
    const input = caseFile(name);
    const out = join(root, `${name.replace(/\.nii(\.gz)?$/, '')}_all.nii`);
    const r = await cli([
      'detect',
      '--model',
      model,
      '--case',
      input,
      '--all',
      '--modalities',
      'flair',
      '--provider',
      'cpu',
      '--threads',
      '2',
      '--json',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assertSameGridHeader(rawNifti(input), rawNifti(out), out);
    const direct = await detect(bundle, input, { ...opts, slice: 'all' });
    assertOnInputVoxels(input, out, (c) => direct.map.data[c]);
    verifyEntries.push({ input, output: out, markers: [] });
  });
}

test('nibabel reads the same affine, qform/sform and codes, zooms and units from every map and its input', () => {
  assert.equal(verifyEntries.length, GRID_FIXTURES.length + 2, 'the tests above wrote every map');
  const manifest = join(root, 'verify.json');
  writeFileSync(manifest, JSON.stringify(verifyEntries));
  const r = spawnSync(
    '/usr/bin/python3',
    [join(__dirname, '..', '..', 'scripts', 'fixtures', 'make_grid_fixtures.py'), '--check-written', manifest],
    { encoding: 'utf8' },
  );
  assert.ok(!r.error, `cannot run /usr/bin/python3 (${r.error?.message}); install python3 and python3-nibabel`);
  assert.equal(
    r.status,
    0,
    `nibabel check failed (is python3-nibabel installed? apt-get install python3-nibabel):\n${r.stdout}${r.stderr}`,
  );
});
