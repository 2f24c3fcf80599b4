/**
 * Outputs on the input's grid (writeOnSourceGrid, and the annotation document built on it):
 * for inputs nibabel made on assorted grids (scripts/fixtures/make_grid_fixtures.py), the
 * written header's geometry fields are the input's bytes, voxels are in the input's storage
 * order (a marker at storage (i, j, k) of the input is at (i, j, k) of the output), and
 * nibabel, reading both files, agrees.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NiftiError } from '../../src/engine/errors';
import {
  canonicalAxes,
  fromCanonical,
  isCanonical,
  loadVolumeWithSource,
  toCanonical,
  writeOnSourceGrid,
  type Volume,
} from '../../src/engine/nifti';
import { AnnotationDocument } from '../../src/extension/model/annotationDocument';
import { assertSameGridHeader, canonicalIndexOf, GRID_FIXTURE_DIR, GRID_FIXTURES, rawNifti, storedVoxels } from '../helpers/sourceGrid';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-srcgrid-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Storage voxels that get a marker: two corners and interior points. */
const MARKERS: [number, number, number][] = [
  [0, 0, 0],
  [10, 12, 6],
  [3, 1, 5],
  [7, 9, 2],
];

test('fromCanonical inverts toCanonical bit for bit, for all 48 axis permutations and flips', () => {
  const dims = [5, 4, 3];
  const n = 60;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (i % 7 === 0 ? -1 : 1) * Math.fround(Math.sin(i + 1) * 1e3);
  data[1] = -0;
  data[2] = 1e-42; // subnormal
  const perms = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ];
  let cases = 0;
  for (const perm of perms) {
    for (let flips = 0; flips < 8; flips++) {
      // Storage axis k runs along world axis perm[k], reversed where flips has bit k.
      const affine = new Float64Array(16);
      affine[15] = 1;
      perm.forEach((w, k) => {
        affine[w * 4 + k] = (flips >> k) & 1 ? -(k + 1) : k + 1;
        affine[w * 4 + 3] = 10 * w;
      });
      const vol: Volume = { dims: dims as [number, number, number], spacing: [1, 2, 3], affine, data };
      const canonical = toCanonical(vol);
      assert.ok(isCanonical(canonical));
      const source = { dims, axes: canonicalAxes(affine) };
      const back = fromCanonical(canonical.data, source);
      assert.ok(back instanceof Float32Array);
      assert.deepEqual(new Uint32Array(back.buffer), new Uint32Array(data.buffer), `perm ${perm.join(',')} flips ${flips}`);
      const label = (v: number) => Math.trunc(Math.abs(v)) % 256;
      const labels = fromCanonical(Uint8Array.from(canonical.data, label), source);
      assert.ok(labels instanceof Uint8Array);
      assert.deepEqual([...labels], Array.from(data, label));
      cases++;
    }
  }
  assert.equal(cases, 48);
  assert.throws(
    () =>
      fromCanonical(new Float32Array(59), { dims, axes: canonicalAxes(Float64Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1)) }),
    RangeError,
  );
});

/** Per fixture: writeOnSourceGrid of markers and of the input itself, and a saved annotation. */
const verifyEntries: { input: string; output: string; markers: number[][]; only_markers?: boolean; same_data?: boolean }[] = [];

for (const name of GRID_FIXTURES) {
  test(`writeOnSourceGrid on ${name}: input header geometry bytes, input storage order, markers in place`, () => {
    const input = join(GRID_FIXTURE_DIR, name);
    const raw = rawNifti(input);
    const { volume, source } = loadVolumeWithSource(input);
    const stem = name.replace(/\.nii(\.gz)?$/, '');

    // The input's own voxels, written back from the canonical grid: the same stored values.
    const copy = join(tmp, `${stem}_copy.nii`);
    writeOnSourceGrid(copy, source, volume.data, { datatype: 'int16', description: 'copy' });
    const rawCopy = rawNifti(copy);
    assertSameGridHeader(raw, rawCopy, copy);
    assert.deepEqual(storedVoxels(rawCopy), storedVoxels(raw).slice(0, rawCopy.dim[1] * rawCopy.dim[2] * rawCopy.dim[3]));
    verifyEntries.push({ input, output: copy, markers: [], same_data: true });

    // A float32 map that is zero except for markers placed on the canonical grid.
    const map = new Float32Array(volume.data.length);
    MARKERS.forEach((m, q) => {
      map[canonicalIndexOf(volume.data, raw.dim, m)] = 0.5 + q;
    });
    const out = join(tmp, `${stem}_map.nii.gz`);
    writeOnSourceGrid(out, source, map, { description: 'markers' });
    const rawOut = rawNifti(out);
    assertSameGridHeader(raw, rawOut, out);
    const stored = storedVoxels(rawOut);
    const [nx, ny] = [raw.dim[1], raw.dim[2]];
    const expected = new Array<number>(stored.length).fill(0);
    MARKERS.forEach(([i, j, k], q) => {
      expected[i + nx * (j + ny * k)] = 0.5 + q;
    });
    assert.deepEqual(stored, expected, 'markers at their storage (i, j, k)');
    verifyEntries.push({ input, output: out, markers: MARKERS.map((m, q) => [...m, 0.5 + q]), only_markers: true });
  });

  test(`annotation save on ${name}: input header geometry bytes, a painted voxel at its storage (i, j, k), reopens`, async () => {
    const input = join(GRID_FIXTURE_DIR, name);
    const raw = rawNifti(input);
    const { volume, source } = loadVolumeWithSource(input);
    const annot = join(tmp, `${name.replace(/\.nii(\.gz)?$/, '')}_annot.nii.gz`);
    const doc = await AnnotationDocument.open(volume, annot, { source });
    MARKERS.forEach((m, q) => doc.paint('brush', [canonicalIndexOf(volume.data, raw.dim, m)], q + 1));
    await doc.save();
    const rawOut = rawNifti(annot);
    assertSameGridHeader(raw, rawOut, annot);
    assert.equal(rawOut.datatype, 2, 'uint8');
    const stored = storedVoxels(rawOut);
    const [nx, ny] = [raw.dim[1], raw.dim[2]];
    const expected = new Array<number>(stored.length).fill(0);
    MARKERS.forEach(([i, j, k], q) => {
      expected[i + nx * (j + ny * k)] = q + 1;
    });
    assert.deepEqual(stored, expected);
    assert.deepEqual((await AnnotationDocument.open(volume, annot, { source })).labels, doc.labels);
    verifyEntries.push({ input, output: annot, markers: MARKERS.map((m, q) => [...m, q + 1]), only_markers: true });
  });
}

test('writeOnSourceGrid refuses data of the wrong size with a NiftiError naming the file', () => {
  const { source } = loadVolumeWithSource(join(GRID_FIXTURE_DIR, 'lps.nii.gz'));
  const out = join(tmp, 'wrong.nii');
  assert.throws(
    () => writeOnSourceGrid(out, source, new Float32Array(10)),
    (e: unknown) => e instanceof NiftiError && e.code === 'nifti/bad-input' && e.message.includes(out) && e.message.includes('11×13×7'),
  );
});

test("nibabel agrees: outputs have the input's shape, affine, qform/sform and codes, zooms, units and marker positions", () => {
  assert.equal(verifyEntries.length, 3 * GRID_FIXTURES.length, 'the tests above wrote every output');
  const manifest = join(tmp, 'verify.json');
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
  assert.equal(
    r.stdout
      .trim()
      .split('\n')
      .filter((l) => l.endsWith(': ok')).length,
    verifyEntries.length,
    r.stdout,
  );
});
