/**
 * Writer: round trips through our reader for every datatype, byte order, compression and
 * version; the on-disk NIfTI-1 layout checked field by field by hand; our files read by
 * nifti-reader-js as a second reader; and the writer's refusals.
 *
 * With NIFTI_EXPORT_DIR set, the round-trip files are also kept there with sidecars for
 * `/usr/bin/python3 scripts/fixtures/make_nifti_fixtures.py --check-written DIR` (nibabel).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { DATATYPE_CODE, encodeNifti, readNifti, writeNifti, type NiftiDatatype } from '../../src/engine/nifti';
import { assertAllClose, assertNiftiError, makeTempDir, seededRandom } from './helpers';

const tmp = makeTempDir('nifti-write');
after(tmp.cleanup);
const exportDir = process.env.NIFTI_EXPORT_DIR;
if (exportDir) mkdirSync(exportDir, { recursive: true });

const DIMS: [number, number, number] = [7, 6, 5];
const N = DIMS[0] * DIMS[1] * DIMS[2];
/** An LPS-ish affine with an oblique tilt, so qform and sform are both exercised. */
const AFFINE = (() => {
  const t = (8 * Math.PI) / 180;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  // world = Rz(8°) · diag(-0.9, -1.1, 2.5) · voxel + offset
  return new Float64Array([-0.9 * c, 1.1 * s, 0, 90, -0.9 * s, -1.1 * c, 0, 110, 0, 0, 2.5, -60, 0, 0, 0, 1]);
})();
const SPACING: [number, number, number] = [0.9, 1.1, 2.5];

/** Values that fit the datatype and that Float32 represents exactly, extremes included. */
function valuesFor(datatype: NiftiDatatype, seed: number): Float64Array {
  const rand = seededRandom(seed);
  const out = new Float64Array(N);
  const ranges: Record<NiftiDatatype, [number, number]> = {
    uint8: [0, 255],
    int8: [-128, 127],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-(2 ** 24), 2 ** 24],
    uint32: [0, 2 ** 24],
    float32: [-1e6, 1e6],
    float64: [-1e6, 1e6],
  };
  const [lo, hi] = ranges[datatype];
  const integer = !datatype.startsWith('float');
  for (let i = 0; i < N; i++) {
    const v = lo + rand() * (hi - lo);
    out[i] = integer ? Math.round(v) : Math.fround(v);
  }
  // Extremes that float32 still represents exactly.
  const extremes: Record<NiftiDatatype, number[]> = {
    uint8: [0, 255],
    int8: [-128, 127],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-(2 ** 31), 2 ** 31 - 128],
    uint32: [0, 2 ** 32 - 256],
    float32: [Math.fround(3.0e38), Math.fround(-1.5e-30)],
    float64: [Math.fround(-3.0e38), 0],
  };
  extremes[datatype].forEach((v, i) => {
    out[i] = v;
  });
  return out;
}

function exportCopy(name: string, bytes: Uint8Array, dims: number[], datatype: NiftiDatatype, data: ArrayLike<number>): void {
  if (!exportDir) return;
  writeFileSync(join(exportDir, name), bytes);
  writeFileSync(
    join(exportDir, `${name}.expect.json`),
    JSON.stringify({ dims, datatype_code: DATATYPE_CODE[datatype], affine: Array.from(AFFINE), data: Array.from(data) }),
  );
}

const DATATYPES: NiftiDatatype[] = ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'];

for (const datatype of DATATYPES) {
  test(`round trip ${datatype}: both byte orders, .nii and .nii.gz, NIfTI-1 and -2`, () => {
    const data = valuesFor(datatype, DATATYPES.indexOf(datatype) + 1);
    for (const littleEndian of [true, false]) {
      for (const version of [1, 2] as const) {
        for (const ext of ['.nii', '.nii.gz']) {
          const name = `rt_${datatype}_${littleEndian ? 'le' : 'be'}_v${version}${ext}`;
          const path = join(tmp.dir, name);
          writeNifti(path, { dims: DIMS, affine: AFFINE, data, spacing: SPACING }, { datatype, littleEndian, version, description: name });
          const { header, volume, compressed } = readNifti(path);
          assert.equal(compressed, ext === '.nii.gz');
          assert.equal(header.datatype, datatype);
          assert.equal(header.littleEndian, littleEndian);
          assert.equal(header.version, version);
          assert.equal(header.description, name);
          assert.deepEqual(header.dims, DIMS);
          assert.equal(header.orientation, 'LPS');
          assert.deepEqual(volume.dims, DIMS);
          assertAllClose(volume.data, data, 0, 0, name);
          // NIfTI-1 stores the affine as float32, NIfTI-2 as float64.
          assertAllClose(volume.affine, AFFINE, version === 1 ? 1e-6 : 1e-12, version === 1 ? 1e-5 : 1e-12, `${name} affine`);
          assertAllClose(volume.spacing, SPACING, 1e-6, 1e-6, `${name} spacing`);
          exportCopy(name, readFileSync(path), DIMS, datatype, data);
        }
      }
    }
  });
}

test('big-endian output really is big-endian, and .nii.gz is gzip of the .nii bytes', () => {
  const data = valuesFor('int16', 42);
  const be = encodeNifti({ dims: DIMS, affine: AFFINE, data }, { datatype: 'int16', littleEndian: false });
  assert.equal(new DataView(be.buffer, be.byteOffset).getInt32(0, false), 348);
  assert.equal(new DataView(be.buffer, be.byteOffset).getInt16(352, false), data[0]);
  const path = join(tmp.dir, 'gz_check.nii.gz');
  writeNifti(path, { dims: DIMS, affine: AFFINE, data }, { datatype: 'int16', gzipLevel: 6 });
  const gz = readFileSync(path);
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
  assert.deepEqual(new Uint8Array(gunzipSync(gz)), encodeNifti({ dims: DIMS, affine: AFFINE, data }, { datatype: 'int16' }));
  // Atomic write: nothing but the targets is left in the directory.
  assert.deepEqual(
    readdirSync(tmp.dir).filter((n) => n.endsWith('.tmp')),
    [],
  );
});

test('scaled data (scl_slope/scl_inter) round-trips through integer storage', () => {
  const rand = seededRandom(7);
  for (const [datatype, slope, inter] of [
    ['int16', 0.5, -3],
    ['uint8', 2, 10],
    ['int32', -0.125, 1000],
  ] as const) {
    const [lo, hi] = datatype === 'uint8' ? [0, 255] : [-30000, 30000];
    const data = Float64Array.from({ length: N }, () => Math.round(lo + rand() * (hi - lo)) * slope + inter);
    const path = join(tmp.dir, `scaled_${datatype}.nii.gz`);
    writeNifti(path, { dims: DIMS, affine: AFFINE, data }, { datatype, sclSlope: slope, sclInter: inter });
    const { header, volume } = readNifti(path);
    assert.equal(header.sclSlope, slope);
    assert.equal(header.sclInter, inter);
    assertAllClose(volume.data, data, 1e-7, 0, `scaled ${datatype}`);
  }
});

test('4-D images: each volume is read by index, the count is reported', () => {
  const dims4 = [...DIMS, 3];
  const data = Float32Array.from({ length: N * 3 }, (_, i) => (i % N) + 1000 * Math.floor(i / N));
  for (const version of [1, 2] as const) {
    const path = join(tmp.dir, `four_d_v${version}.nii.gz`);
    writeNifti(path, { dims: dims4, affine: AFFINE, data }, { datatype: 'float32', version });
    for (const volumeIndex of [0, 1, 2]) {
      const r = readNifti(path, { volumeIndex });
      assert.deepEqual(r.header.dims, dims4);
      assert.equal(r.volumes, 3);
      assert.deepEqual(r.volume.dims, DIMS);
      assert.deepEqual(r.volume.data, data.subarray(volumeIndex * N, (volumeIndex + 1) * N));
    }
  }
  const plain = join(tmp.dir, 'four_d.nii');
  writeNifti(plain, { dims: dims4, affine: AFFINE, data }, { datatype: 'int16' });
  assert.deepEqual(readNifti(plain, { volumeIndex: 1 }).volume.data, data.subarray(N, 2 * N));
});

test('NIfTI-1 header layout, checked field by field without our reader', () => {
  const data = valuesFor('int16', 3);
  const bytes = encodeNifti({ dims: DIMS, affine: AFFINE, data }, { datatype: 'int16', sclSlope: 1, sclInter: 0, description: 'layout' });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = true;
  assert.equal(bytes.length, 352 + N * 2);
  assert.equal(v.getInt32(0, le), 348, 'sizeof_hdr');
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) => v.getInt16(40 + 2 * i, le)),
    [3, 7, 6, 5, 1, 1, 1, 1],
    'dim',
  );
  assert.equal(v.getInt16(70, le), 4, 'datatype NIFTI_TYPE_INT16');
  assert.equal(v.getInt16(72, le), 16, 'bitpix');
  assert.equal(v.getFloat32(108, le), 352, 'vox_offset');
  const pixdim = [0, 1, 2, 3].map((i) => v.getFloat32(76 + 4 * i, le));
  assert.equal(Math.abs(pixdim[0]), 1, 'qfac');
  assertAllClose(pixdim.slice(1), SPACING, 1e-6, 0, 'pixdim[1..3]');
  assert.equal(v.getFloat32(112, le), 1, 'scl_slope');
  assert.equal(v.getFloat32(116, le), 0, 'scl_inter');
  assert.equal(v.getUint8(123) & 0x07, 2, 'xyzt_units: mm');
  assert.equal(String.fromCharCode(...bytes.subarray(148, 154)), 'layout');
  assert.ok(v.getInt16(252, le) > 0, 'qform_code');
  assert.ok(v.getInt16(254, le) > 0, 'sform_code');
  const srow = Array.from({ length: 12 }, (_, i) => v.getFloat32(280 + 4 * i, le));
  assertAllClose(srow, AFFINE.subarray(0, 12), 1e-6, 1e-5, 'srow_x/y/z');
  assert.deepEqual(Array.from(bytes.subarray(344, 348)), [0x6e, 0x2b, 0x31, 0x00], "magic 'n+1\\0'");
  assert.deepEqual(Array.from(bytes.subarray(348, 352)), [0, 0, 0, 0], 'no extensions');
  // The qform (nifti1.h method 2) must describe the same affine as the sform.
  const [b, c, d] = [256, 260, 264].map((o) => v.getFloat32(o, le));
  const a = Math.sqrt(Math.max(0, 1 - b * b - c * c - d * d));
  const R = [
    [a * a + b * b - c * c - d * d, 2 * b * c - 2 * a * d, 2 * b * d + 2 * a * c],
    [2 * b * c + 2 * a * d, a * a + c * c - b * b - d * d, 2 * c * d - 2 * a * b],
    [2 * b * d - 2 * a * c, 2 * c * d + 2 * a * b, a * a + d * d - c * c - b * b],
  ];
  const q = [268, 272, 276].map((o) => v.getFloat32(o, le));
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const fromQ = R[i][j] * pixdim[j + 1] * (j === 2 ? Math.sign(pixdim[0]) : 1);
      assert.ok(Math.abs(fromQ - AFFINE[i * 4 + j]) < 1e-5, `qform R[${i}][${j}] = ${fromQ}, sform ${AFFINE[i * 4 + j]}`);
    }
    assert.ok(Math.abs(q[i] - AFFINE[i * 4 + 3]) < 1e-4, `qoffset[${i}]`);
  }
  // Voxel data: little-endian int16 from byte 352, x fastest.
  for (const i of [0, 1, 2, 17, N - 1]) assert.equal(v.getInt16(352 + 2 * i, le), data[i], `voxel ${i}`);
});

test('nifti-reader-js, as a second reader, agrees with what we write', async () => {
  const nifti = await import('nifti-reader-js');
  const stored = valuesFor('uint16', 11);
  const data = stored.map((s) => s * 2 - 1);
  for (const version of [1, 2] as const) {
    for (const littleEndian of [true, false]) {
      const bytes = encodeNifti(
        { dims: DIMS, affine: AFFINE, data },
        { datatype: 'uint16', version, littleEndian, sclSlope: 2, sclInter: -1 },
      );
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      assert.ok(version === 1 ? nifti.isNIFTI1(ab) : nifti.isNIFTI2(ab));
      const h = nifti.readHeader(ab);
      assert.ok(h, 'header');
      assert.equal(h.littleEndian, littleEndian);
      assert.deepEqual(h.dims.slice(0, 4), [3, ...DIMS]);
      assert.equal(h.datatypeCode, DATATYPE_CODE.uint16);
      assert.equal(h.numBitsPerVoxel, 16);
      assert.equal(h.vox_offset, version === 1 ? 352 : 544);
      assert.equal(h.scl_slope, 2);
      assert.equal(h.scl_inter, -1);
      assertAllClose(h.affine.flat(), AFFINE, 1e-6, 1e-5, `v${version} affine`);
      const image = new DataView(nifti.readImage(h, ab));
      for (const i of [0, 1, 5, N - 1]) assert.equal(image.getUint16(2 * i, littleEndian), stored[i], `stored voxel ${i}`);
    }
  }
});

test('the writer refuses values the datatype cannot hold, and bad images', () => {
  const base = { dims: DIMS, affine: AFFINE };
  const withValue = (v: number) => Float32Array.from({ length: N }, (_, i) => (i === 5 ? v : 1));
  const p = join(tmp.dir, 'refused.nii');
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(256) }, { datatype: 'uint8' }), 'nifti/value-out-of-range', p);
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(-1) }, { datatype: 'uint16' }), 'nifti/value-out-of-range', p);
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(-40000) }, { datatype: 'int16' }), 'nifti/value-out-of-range', p);
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(2 ** 31) }, { datatype: 'int32' }), 'nifti/value-out-of-range', p);
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(Infinity) }, { datatype: 'int16' }), 'nifti/value-out-of-range', p);
  // In range only before scaling: 200 / 0.5 = 400 does not fit uint8.
  assertNiftiError(
    () => writeNifti(p, { ...base, data: withValue(200) }, { datatype: 'uint8', sclSlope: 0.5 }),
    'nifti/value-out-of-range',
    p,
  );
  assertNiftiError(
    () => writeNifti(p, { ...base, data: new Float64Array(N).fill(1e39) }, { datatype: 'float32' }),
    'nifti/value-out-of-range',
    p,
  );
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(NaN) }, { datatype: 'int16' }), 'nifti/nan-to-integer', p);
  assertNiftiError(() => writeNifti(p, { ...base, data: new Float32Array(N - 1) }), 'nifti/bad-input', p);
  assertNiftiError(() => writeNifti(p, { dims: [4, 0, 2], affine: AFFINE, data: new Float32Array(0) }), 'nifti/bad-input', p);
  assertNiftiError(() => writeNifti(p, { dims: [40000, 1, 1], affine: AFFINE, data: new Float32Array(40000) }), 'nifti/bad-input', p);
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(1), spacing: [1, 1, 1] }), 'nifti/bad-input', p);
  assertNiftiError(() => writeNifti(p, { ...base, data: withValue(1) }, { sclSlope: 0 }), 'nifti/bad-input', p);
  const singular = new Float64Array([1, 2, 0, 0, 2, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  assertNiftiError(() => writeNifti(p, { dims: DIMS, affine: singular, data: withValue(1) }), 'nifti/bad-affine', p);
  assert.deepEqual(
    readdirSync(tmp.dir).filter((n) => n.startsWith('refused') || n.includes('refused.nii.')),
    [],
    'nothing written',
  );
  // NaN in a float file is writable (the reader then decides).
  writeNifti(p, { ...base, data: withValue(NaN) }, { datatype: 'float32' });
  assertNiftiError(() => readNifti(p), 'nifti/non-finite', p);
});

test('the qform alone reproduces the affine (proper and improper, oblique and permuted)', () => {
  const t = (25 * Math.PI) / 180;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  const affines: [string, number[]][] = [
    ['LPS oblique', Array.from(AFFINE)],
    ['LAS (qfac -1)', [-1.2, 0, 0, 10, 0, 0.8, 0, -5, 0, 0, 3, 2, 0, 0, 0, 1]],
    ['PSL permuted, improper', [0, 0, -2, 7, -1.5, 0, 0, 8, 0, 2.5, 0, 9, 0, 0, 0, 1]],
    ['180° about x', [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1]],
    ['oblique improper', [c, -s, 0, 1, s, c, 0, 2, 0, 0, -1.1, 3, 0, 0, 0, 1]],
  ];
  const data = new Float32Array(N);
  for (const [what, affine] of affines) {
    for (const version of [1, 2] as const) {
      const bytes = encodeNifti({ dims: DIMS, affine, data }, { version });
      const v = new DataView(bytes.buffer, bytes.byteOffset);
      if (version === 1) v.setInt16(254, 0, true);
      else v.setInt32(348, 0, true); // sform_code = 0
      const { header } = readNifti(bytes, { file: `${what}.nii` });
      assert.equal(header.sformCode, 0);
      assertAllClose(header.affine, affine, 0, version === 1 ? 2e-5 : 1e-9, `${what} v${version} affine from qform`);
    }
  }
});
