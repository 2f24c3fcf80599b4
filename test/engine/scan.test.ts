/**
 * anyad scan: a real CLI process killed after its first case resumes (that case skipped, the
 * others scanned); maps on each source file's grid; CSVs and summary sorted by score; a case
 * whose map was truncated is redone; --workers 2 gives the same table.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readNifti } from '../../src/engine/nifti';
import { writePhantomCohort } from '../../src/engine/phantom';
import { tempDir, writeTinyBundle } from '../detect/helpers';
import { CLI_MAIN } from './helpers';

let root: string;
let model: string;

before(async () => {
  root = tempDir('scan');
  model = writeTinyBundle(join(root, 'model'));
  await writePhantomCohort(join(root, 'data'), { cases: 3, seed: 21, size: [40, 36, 24], anomalousFraction: 0.67, workers: 0 });
});

function scan(
  out: string,
  extra: string[] = [],
  killAfterFirstCase = false,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      CLI_MAIN,
      'scan',
      '--root',
      join(root, 'data'),
      '--model',
      model,
      '--out',
      out,
      '--provider',
      'cpu',
      '--threads',
      '1',
      ...extra,
    ]);
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (killAfterFirstCase && /case 1\/3 \S+ scanned/.test(stderr)) child.kill('SIGKILL');
    });
    child.on('exit', (code) => resolvePromise({ code, stderr, stdout }));
  });
}

const rows = (csv: string) =>
  csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));

test('scan: killed after one case, resumed: that case is skipped, the rest scanned; outputs on source grids, sorted by score', async () => {
  const out = join(root, 'out');
  const killed = await scan(out, [], true);
  assert.equal(killed.code, null, killed.stderr);
  assert.equal(readdirSync(join(out, 'cases')).length, 1);
  const resumed = await scan(out);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /3 cases: 2 scanned, 1 already done, 0 failed/);
  assert.match(resumed.stderr, /case 1\/3 \S+ skipped/);
  assert.match(resumed.stderr, /ETA \d+ s/);
  const cases = rows(readFileSync(join(out, 'cases.csv'), 'utf8'));
  assert.equal(cases.length, 3);
  const scores = cases.map((r) => Number(r[2]));
  assert.deepEqual(
    scores,
    [...scores].sort((a, b) => b - a),
  );
  assert.deepEqual(
    cases.map((r) => Number(r[0])),
    [1, 2, 3],
  );
  const slices = rows(readFileSync(join(out, 'slices.csv'), 'utf8'));
  assert.equal(slices.length, 3 * 24);
  for (const r of cases) assert.equal(Math.max(...slices.filter((s) => s[0] === r[1]).map((s) => Number(s[2]))), Number(r[2]));
  const md = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.ok(md.indexOf(cases[0][1]) < md.indexOf(cases[2][1]), 'summary sorted by score');
  // Each map on its FLAIR file's grid (dims and affine as stored).
  for (const r of cases) {
    const rec = JSON.parse(readFileSync(join(out, 'cases', `${r[1]}.json`), 'utf8'));
    const map = readNifti(join(out, rec.map), { file: 'map' });
    const src = readNifti(rec.files.flair, { file: 'flair' });
    assert.deepEqual(map.header.dims.slice(1, 4), src.header.dims.slice(1, 4));
    assert.deepEqual(
      Array.from(map.volume.affine).map((v) => v.toFixed(4)),
      Array.from(src.volume.affine).map((v) => v.toFixed(4)),
    );
  }
  // A truncated map makes its case incomplete: redone, nothing else.
  const rec0 = JSON.parse(readFileSync(join(out, 'cases', `${cases[0][1]}.json`), 'utf8'));
  truncateSync(join(out, rec0.map), 10);
  const again = await scan(out);
  assert.match(again.stdout, /3 cases: 1 scanned, 2 already done/);
  assert.deepEqual(rows(readFileSync(join(out, 'cases.csv'), 'utf8')), cases);
  // Two worker processes give the same table.
  const par = join(root, 'out-workers');
  const w = await scan(par, ['--workers', '2']);
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stderr, /\[worker 2\/2\]/);
  assert.deepEqual(
    rows(readFileSync(join(par, 'cases.csv'), 'utf8')).map((r) => r.slice(0, 8)),
    cases.map((r) => r.slice(0, 8)),
  );
});
