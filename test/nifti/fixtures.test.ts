/**
 * Our reader against files written and described by nibabel
 * (scripts/fixtures/make_nifti_fixtures.py → test/fixtures/nifti/expected.json).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { axialSlice, loadVolume, orientationCode, parseNiftiHeader, readNifti, volumeStats } from '../../src/engine/nifti';
import { assertAllClose } from './helpers';

const FIXTURES = join(__dirname, '..', 'fixtures', 'nifti');

interface Expected {
  version: 1 | 2;
  littleEndian: boolean;
  datatype: string;
  dims: number[];
  qformCode: number;
  sformCode: number;
  voxOffset: number;
  affine: number[][];
  orientation: string;
  spacing: number[];
  volumes: { index: number; data: number[]; stats: { min: number; max: number; mean: number; nonZero: number } }[];
  canonical: { dims: number[]; affine: number[][]; orientation: string; data: number[] };
  group?: string;
}

const expected: Record<string, Expected> = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));

// Float32 results vs nibabel's float64: relative error of one float32 rounding. Affines are
// stored as float32 in NIfTI-1 and rebuilt from a float32 quaternion for qform files.
const VALUE_RTOL = 1e-6;
const AFFINE_ATOL = 1e-4;

test('the fixture set covers what the reader must handle', () => {
  const all = Object.values(expected);
  assert.ok(Object.keys(expected).length >= 20);
  for (const dt of ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'])
    assert.ok(
      all.some((e) => e.datatype === dt),
      dt,
    );
  assert.ok(all.some((e) => !e.littleEndian && e.version === 1) && all.some((e) => !e.littleEndian && e.version === 2));
  assert.ok(all.some((e) => e.dims.length === 4));
  assert.ok(all.some((e) => e.sformCode === 0 && e.qformCode > 0) && all.some((e) => e.sformCode === 0 && e.qformCode === 0));
  assert.ok(all.some((e) => e.voxOffset > 352 && e.version === 1));
});

for (const [name, exp] of Object.entries(expected)) {
  test(`reads ${name} as nibabel does`, () => {
    const path = join(FIXTURES, name);
    for (const vol of exp.volumes) {
      const { header, volume, volumes } = readNifti(path, { volumeIndex: vol.index });
      assert.equal(header.version, exp.version);
      assert.equal(header.littleEndian, exp.littleEndian);
      assert.equal(header.datatype, exp.datatype);
      assert.deepEqual(header.dims, exp.dims);
      assert.equal(header.qformCode, exp.qformCode);
      assert.equal(header.sformCode, exp.sformCode);
      assert.equal(header.voxOffset, exp.voxOffset);
      assert.equal(header.orientation, exp.orientation);
      assert.equal(volumes, exp.volumes.length);
      assertAllClose(header.affine, exp.affine.flat(), 0, AFFINE_ATOL, `${name} affine`);
      assertAllClose(volume.affine, exp.affine.flat(), 0, AFFINE_ATOL, `${name} volume affine`);
      assertAllClose(volume.spacing, exp.spacing, 1e-6, 1e-6, `${name} spacing`);
      assertAllClose(volume.data, vol.data, VALUE_RTOL, 1e-6, `${name} volume ${vol.index} voxels`);
      const stats = volumeStats(volume);
      assertAllClose([stats.min, stats.max, stats.mean], [vol.stats.min, vol.stats.max, vol.stats.mean], VALUE_RTOL, 1e-6, `${name} stats`);
      assert.equal(stats.nonZero, vol.stats.nonZero);
    }
    // Canonical RAS volume = nibabel's as_closest_canonical.
    const canon = loadVolume(path);
    assert.deepEqual(canon.dims, exp.canonical.dims);
    assert.equal(orientationCode(canon.affine), 'RAS');
    assert.equal(exp.canonical.orientation, 'RAS');
    assertAllClose(canon.affine, exp.canonical.affine.flat(), 0, AFFINE_ATOL, `${name} canonical affine`);
    assertAllClose(canon.data, exp.canonical.data, VALUE_RTOL, 1e-6, `${name} canonical voxels`);
  });
}

test('parseNiftiHeader on the raw bytes agrees with readNifti', () => {
  for (const name of ['float32_nifti2.nii.gz', 'int16_las_be.nii', 'float64_nifti2_be.nii']) {
    let bytes: Uint8Array = readFileSync(join(FIXTURES, name));
    if (name.endsWith('.gz')) bytes = gunzipSync(bytes);
    const h = parseNiftiHeader(bytes, name);
    assert.deepEqual(h, readNifti(join(FIXTURES, name)).header);
  }
});

test('the same anatomy stored RAS, LPS, LAS and AIR gives identical canonical volumes and axial slices', () => {
  const names = Object.keys(expected).filter((n) => expected[n].group === 'orientation');
  assert.deepEqual(names.map((n) => expected[n].orientation).sort(), ['AIR', 'LAS', 'LPS', 'RAS']);
  const vols = names.map((n) => loadVolume(join(FIXTURES, n)));
  for (const v of vols.slice(1)) {
    assert.deepEqual(v.dims, vols[0].dims);
    assertAllClose(v.affine, vols[0].affine, 0, AFFINE_ATOL, 'canonical affine');
    assert.deepEqual(v.data, vols[0].data);
    for (let z = 0; z < v.dims[2]; z++) assert.deepEqual(axialSlice(v, z), axialSlice(vols[0], z));
  }
});
