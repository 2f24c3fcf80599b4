/** `anyad info` through the real CLI entry point, on nibabel fixtures and on a bad file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeTempDir } from './helpers';

const ROOT = join(__dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'nifti');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));
const tmp = makeTempDir('nifti-cli');
after(tmp.cleanup);

function anyad(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

test('info --json reports header and statistics (checked against nibabel)', () => {
  const name = 'float32_4d.nii.gz';
  const r = anyad('info', join(FIXTURES, name), '--json', '--volume', '1');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object');
  const info = JSON.parse(lines[0]);
  const exp = expected[name];
  assert.deepEqual(info.dims, exp.dims);
  assert.equal(info.datatype, 'float32');
  assert.equal(info.version, 1);
  assert.equal(info.endianness, 'little');
  assert.equal(info.compressed, true);
  assert.equal(info.orientation, exp.orientation);
  assert.equal(info.volumes, 3);
  assert.equal(info.volumeIndex, 1);
  const s = exp.volumes[1].stats;
  assert.ok(Math.abs(info.stats.mean - s.mean) < 1e-4 * Math.abs(s.mean), `mean ${info.stats.mean} vs ${s.mean}`);
  assert.ok(Math.abs(info.stats.min - s.min) < 1e-3 && Math.abs(info.stats.max - s.max) < 1e-3);
  assert.equal(info.stats.nonZero, s.nonZero);
  info.voxelSize.forEach((v: number, i: number) => assert.ok(Math.abs(v - exp.spacing[i]) < 1e-6));
  assert.equal(info.scaling, null);
});

test('info --json reports scaling and statistics after scaling', () => {
  const name = 'int16_scaled.nii';
  const r = anyad('info', join(FIXTURES, name), '--json');
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  const exp = expected[name];
  assert.deepEqual(info.scaling, { slope: exp.rawSclSlope, inter: exp.rawSclInter });
  const s = exp.volumes[0].stats;
  assert.deepEqual([info.stats.min, info.stats.max, info.stats.nonZero], [s.min, s.max, s.nonZero]);
  assert.ok(Math.abs(info.stats.mean - s.mean) < 1e-9 * Math.abs(s.mean) + 1e-9);
});

test('info text output on a big-endian, scaled-free NIfTI-2 file', () => {
  const name = 'float64_nifti2_be.nii';
  const r = anyad('info', join(FIXTURES, name));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /format: +NIfTI-2, big-endian\n/);
  assert.match(r.stdout, /dimensions: +5 × 4 × 3\n/);
  assert.match(r.stdout, /datatype: +float64 \(64 bits\)/);
  assert.match(r.stdout, new RegExp(`orientation: +${expected[name].orientation} `));
  assert.match(r.stdout, /voxel size: +2 × 3 × 4 mm/);
  assert.match(r.stdout, new RegExp(`non-zero ${expected[name].volumes[0].stats.nonZero} of 60 voxels`));
});

test('info on a bad file: exit code 1 and one line on stderr naming the file', () => {
  const bad = join(tmp.dir, 'notes.nii.gz');
  writeFileSync(bad, 'these are not voxels\n');
  const r = anyad('info', bad);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^anyad info: error: .*notes\.nii\.gz: not a NIfTI file/);
  const outOfRange = anyad('info', join(FIXTURES, 'uint8_ras.nii'), '--volume', '2');
  assert.equal(outOfRange.status, 1);
  assert.match(outOfRange.stderr, /volume index 2 is out of range/);
});
