import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadVolume } from '../../src/engine/nifti';
import { loadWorkspaceConfig } from '../../src/engine/config';
import { phantomSliceRange, writePhantomCohort } from '../../src/engine/phantom';
import { runCli } from '../helpers/cli';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-phantom-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SIZE: [number, number, number] = [64, 64, 48];
const SEQS = ['flair', 't1', 't1ce', 't2', 'seg'] as const;

function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

test('same seed → identical bytes (with 2 workers and on the calling thread); another seed → different files', async () => {
  const a = join(tmp, 'a');
  const b = join(tmp, 'b');
  const c = join(tmp, 'c');
  const sa = await writePhantomCohort(a, { cases: 3, seed: 42, size: SIZE, workers: 2 });
  const sb = await writePhantomCohort(b, { cases: 3, seed: 42, size: SIZE, workers: 0 });
  await writePhantomCohort(c, { cases: 3, seed: 43, size: SIZE, workers: 0 });
  assert.equal(sa.workers, 2, 'the worker pool should start under tsx');
  assert.equal(sb.workers, 0);
  const fa = filesUnder(a);
  const fb = filesUnder(b);
  const fc = filesUnder(c);
  assert.deepEqual([...fa.keys()].sort(), [...fb.keys()].sort());
  for (const [name, bytes] of fa) assert.ok(bytes.equals(fb.get(name)!), `${name} differs between runs with the same seed`);
  for (const seq of SEQS) {
    const name = join('Phantom_0001', `Phantom_0001_${seq}.nii.gz`);
    if (seq === 'seg' && !sa.cases[0].anomalous) continue;
    assert.ok(!fa.get(name)!.equals(fc.get(name)!), `${name} is the same for seeds 42 and 43`);
  }
});

test('BraTS 2018 layout, label values, anomalous fraction, manifest and workspace config', async () => {
  const dir = join(tmp, 'layout');
  const s = await writePhantomCohort(dir, { cases: 5, seed: 7, size: SIZE, anomalousFraction: 0.6, workers: 0 });
  const ids = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.deepEqual(ids, ['Phantom_0001', 'Phantom_0002', 'Phantom_0003', 'Phantom_0004', 'Phantom_0005']);
  for (const id of ids) {
    assert.deepEqual(readdirSync(join(dir, id)).sort(), SEQS.map((q) => `${id}_${q}.nii.gz`).sort());
  }
  assert.equal(s.cases.filter((c) => c.anomalous).length, 3); // round(0.6 × 5)
  for (const c of s.cases) {
    const seg = loadVolume(c.files.seg);
    assert.deepEqual(seg.dims, SIZE);
    const values = new Set(seg.data);
    for (const v of values) assert.ok([0, 1, 2, 4].includes(v), `${c.id}: label ${v}`);
    if (c.anomalous) {
      assert.ok(values.has(2) && values.has(1), `${c.id} should have edema and core`);
      assert.equal(seg.data.filter((v) => v === 2).length, c.labelVoxels.edema);
    } else assert.deepEqual([...values], [0]);
  }
  const manifest = JSON.parse(readFileSync(join(dir, 'phantom.json'), 'utf8'));
  assert.equal(manifest.seed, 7);
  assert.deepEqual(
    manifest.cases.map((c: { id: string }) => c.id),
    ids,
  );
  // The config written beside the cohort makes the slice range fit the grid.
  const config = loadWorkspaceConfig(join(dir, 'anyad.json'));
  assert.deepEqual(
    { start: config.data.slices.start, end: config.data.slices.end, step: config.data.slices.step },
    phantomSliceRange(SIZE[2]),
  );
  assert.ok(config.data.slices.end < SIZE[2]);
  assert.deepEqual(phantomSliceRange(155), { start: 80, end: 120, step: 5 });
  // An existing anyad.json is never overwritten.
  const again = await writePhantomCohort(dir, { cases: 1, seed: 7, size: SIZE, workers: 0 });
  assert.equal(again.configWritten, false);
});

test('NIfTI-1 header of a written phantom, checked byte by byte', async () => {
  const dir = join(tmp, 'header');
  const s = await writePhantomCohort(dir, { cases: 1, seed: 1, size: SIZE, workers: 0 });
  for (const [file, datatype, bitpix] of [
    [s.cases[0].files.t1, 4, 16],
    [s.cases[0].files.seg, 2, 8],
  ] as const) {
    const bytes = gunzipSync(readFileSync(file));
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(dv.getInt32(0, true), 348, 'sizeof_hdr');
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => dv.getInt16(40 + 2 * i, true)),
      [3, ...SIZE],
      'dim[0..3]',
    );
    assert.equal(dv.getInt16(70, true), datatype, 'datatype');
    assert.equal(dv.getInt16(72, true), bitpix, 'bitpix');
    assert.deepEqual(
      [1, 2, 3].map((i) => dv.getFloat32(76 + 4 * i, true)),
      [1, 1, 1],
      'pixdim (1 mm)',
    );
    assert.equal(dv.getFloat32(108, true), 352, 'vox_offset');
    assert.equal(String.fromCharCode(...bytes.subarray(344, 348)), 'n+1\0', 'magic');
    assert.ok(dv.getInt16(254, true) > 0, 'sform_code');
    // srow_x/y/z: LPS like BraTS — x and y flipped, 1 mm voxels.
    const srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => dv.getFloat32(280 + 16 * r + 4 * c, true)));
    assert.deepEqual(
      srow.map((r) => r.slice(0, 3)),
      [
        [-1, 0, 0],
        [0, -1, 0],
        [0, 0, 1],
      ],
    );
    assert.equal(bytes.length, 352 + SIZE[0] * SIZE[1] * SIZE[2] * (bitpix / 8));
  }
  // Loaded canonically (RAS), the storage flip is undone: positive diagonal.
  const v = loadVolume(s.cases[0].files.t1);
  assert.deepEqual([v.affine[0], v.affine[5], v.affine[10]], [1, 1, 1]);
});

test('the phantom CLI writes a cohort and reports it', async () => {
  const out = join(tmp, 'cli');
  const { code, stdout } = await runCli([
    'phantom',
    '--out',
    out,
    '--cases',
    '2',
    '--seed',
    '5',
    '--size',
    '48x48x32',
    '--workers',
    '0',
    '--json',
  ]);
  assert.equal(code, 0);
  const summary = JSON.parse(stdout);
  assert.equal(summary.cases.length, 2);
  assert.deepEqual(summary.size, [48, 48, 32]);
  assert.ok(existsSync(join(out, 'Phantom_0002', 'Phantom_0002_t2.nii.gz')));
  // Bad options are errors with exit code 1, not crashes.
  const tooSmall = await runCli(['phantom', '--out', out, '--size', '8x8x8']);
  const twoAxes = await runCli(['phantom', '--out', out, '--size', '64x64']);
  assert.equal(tooSmall.code, 1);
  assert.equal(twoAxes.code, 1);
  assert.match(tooSmall.stderr, /phantom size must be/);
  assert.match(twoAxes.stderr, /--size must look like/);
});
