/**
 * Malformed inputs, generated here into a temp dir: each must fail with a NiftiError carrying
 * the expected code and naming the file — never another error, a hang, a partial result or a
 * large allocation (the RSS check at the end).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { NiftiError } from '../../src/engine/errors';
import { encodeNifti, loadVolume, readNifti, type NiftiDatatype } from '../../src/engine/nifti';
import { assertNiftiError, makeTempDir } from './helpers';

const tmp = makeTempDir('nifti-bad');
after(tmp.cleanup);

const AFFINE = new Float64Array([2, 0, 0, -3, 0, 2, 0, -3, 0, 0, 2, -3, 0, 0, 0, 1]);

/** A valid little-endian NIfTI file of 4×4×4 (or 4-D) voxels. */
function valid(opts: { datatype?: NiftiDatatype; version?: 1 | 2; dims?: number[]; data?: ArrayLike<number> } = {}): Uint8Array {
  const dims = opts.dims ?? [4, 4, 4];
  const n = dims.reduce((p, d) => p * d, 1);
  const data = opts.data ?? Float32Array.from({ length: n }, (_, i) => i % 50);
  return encodeNifti({ dims, affine: AFFINE, data }, { datatype: opts.datatype ?? 'int16', version: opts.version });
}

/** A copy of a valid NIfTI-1 (or -2) file with header fields changed through a DataView. */
function patched(edit: (v: DataView) => void, base = valid()): Uint8Array {
  const copy = base.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

function put(name: string, bytes: Uint8Array | string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, bytes);
  return path;
}

interface Case {
  name: string;
  file: string;
  code: string;
  opts?: Parameters<typeof readNifti>[1];
}

const rssBefore = process.memoryUsage().rss;
const LE = true;
const cases: Case[] = [];
const add = (name: string, bytes: Uint8Array | string, code: string, opts?: Case['opts']) =>
  cases.push({ name, file: put(name, bytes), code, opts });

// Files that are not NIfTI at all.
add('empty.nii', new Uint8Array(0), 'nifti/empty-file');
add('empty.nii.gz', new Uint8Array(0), 'nifti/empty-file');
add('text.nii.gz', 'subject,age\nsub-01,34\nsub-02,41\n'.repeat(20), 'nifti/not-nifti');
add('three-bytes.nii', new Uint8Array([1, 2, 3]), 'nifti/not-nifti');
add(
  'analyze.nii',
  patched((v) => {
    v.setUint8(344, 0);
    v.setUint8(345, 0);
    v.setUint8(346, 0);
  }),
  'nifti/not-nifti',
);
add(
  'pair-header.nii',
  patched((v) => {
    v.setUint8(345, 0x69);
  }),
  'nifti/unsupported-format',
);

// Broken gzip.
const gz = gzipSync(valid({ dims: [16, 16, 16] }), { level: 1 });
add('truncated.nii.gz', gz.subarray(0, Math.floor(gz.length * 0.6)), 'nifti/truncated-gzip');
add('truncated-in-gzip-header.nii.gz', gz.subarray(0, 6), 'nifti/truncated-gzip');
add('truncated-in-nifti-header.nii.gz', gz.subarray(0, 40), 'nifti/truncated-gzip');
const badCrc = gz.slice();
badCrc[badCrc.length - 6] ^= 0xff; // CRC-32 of the trailer
add('bad-crc.nii.gz', badCrc, 'nifti/bad-gzip');
const badBlock = gz.slice();
badBlock[10] |= 0x06; // first deflate block type 11: reserved, invalid
add('bad-block.nii.gz', badBlock, 'nifti/bad-gzip');
const badMethod = gz.slice();
badMethod[2] = 7;
add('bad-method.nii.gz', badMethod, 'nifti/bad-gzip');

// Truncated header / data.
add('truncated-header.nii', valid().subarray(0, 200), 'nifti/truncated-header');
add('truncated-header-v2.nii', valid({ version: 2 }).subarray(0, 500), 'nifti/truncated-header');
add('truncated-header.nii.gz', gzipSync(valid().subarray(0, 200)), 'nifti/truncated-header');
add('truncated-data.nii', valid().subarray(0, 352 + 100), 'nifti/truncated-data');
add('truncated-data.nii.gz', gzipSync(valid().subarray(0, 352 + 100)), 'nifti/truncated-data');

// Dimensions.
add(
  'negative-dim.nii',
  patched((v) => v.setInt16(44, -4, LE)),
  'nifti/bad-dims',
);
add(
  'zero-dim.nii',
  patched((v) => v.setInt16(46, 0, LE)),
  'nifti/bad-dims',
);
add(
  'ndim-9.nii',
  patched((v) => v.setInt16(40, 9, LE)),
  'nifti/bad-dim-count',
);
add(
  'ndim-0.nii',
  patched((v) => v.setInt16(40, 0, LE)),
  'nifti/bad-dim-count',
);
add(
  'overflow-v1.nii',
  patched((v) => {
    v.setInt16(40, 7, LE);
    for (let i = 1; i <= 7; i++) v.setInt16(40 + 2 * i, 32767, LE);
  }),
  'nifti/voxel-overflow',
);
add(
  'overflow-v2.nii',
  patched(
    (v) => {
      for (let i = 1; i <= 3; i++) v.setBigInt64(16 + 8 * i, 2n ** 30n, LE);
    },
    valid({ version: 2 }),
  ),
  'nifti/voxel-overflow',
);
add(
  'absurd-dim-v2.nii',
  patched((v) => v.setBigInt64(24, 2n ** 40n, LE), valid({ version: 2 })),
  'nifti/absurd-dims',
);
// A lying header in a tiny .gz: 30000×30000×30000 float32 would need ~100 TB.
add(
  'lying-header.nii.gz',
  gzipSync(
    patched((v) => {
      for (let i = 1; i <= 3; i++) v.setInt16(40 + 2 * i, 30000, LE);
    }),
  ),
  'nifti/too-large',
);
add('over-limit.nii', valid({ dims: [32, 32, 32] }), 'nifti/too-large', { maxBytes: 64 * 1024 });
add('over-limit.nii.gz', gzipSync(valid({ dims: [32, 32, 32] })), 'nifti/too-large', { maxBytes: 64 * 1024 });

// Offsets.
add(
  'vox-offset-past-eof.nii',
  patched((v) => v.setFloat32(108, 1e6, LE)),
  'nifti/bad-vox-offset',
);
add('vox-offset-past-eof.nii.gz', gzipSync(patched((v) => v.setFloat32(108, 1e5, LE))), 'nifti/bad-vox-offset');
add(
  'vox-offset-in-header.nii',
  patched((v) => v.setFloat32(108, 100, LE)),
  'nifti/bad-vox-offset',
);
add(
  'vox-offset-fractional.nii',
  patched((v) => v.setFloat32(108, 352.5, LE)),
  'nifti/bad-vox-offset',
);

// Datatypes.
add(
  'unknown-datatype.nii',
  patched((v) => v.setInt16(70, 99, LE)),
  'nifti/unknown-datatype',
);
add(
  'complex64.nii',
  patched((v) => {
    v.setInt16(70, 32, LE);
    v.setInt16(72, 64, LE);
  }),
  'nifti/unsupported-datatype',
);
add(
  'rgb24.nii',
  patched((v) => {
    v.setInt16(70, 128, LE);
    v.setInt16(72, 24, LE);
  }),
  'nifti/unsupported-datatype',
);
add(
  'bitpix-mismatch.nii',
  patched((v) => v.setInt16(72, 32, LE)),
  'nifti/bad-bitpix',
);

// Values, scaling, transforms.
const withNonFinite = Float32Array.from({ length: 64 }, (_, i) => (i === 3 ? NaN : i === 9 || i === 10 ? -Infinity : i));
add('nan-inf.nii', valid({ datatype: 'float32', data: withNonFinite }), 'nifti/non-finite');
add('nan-inf.nii.gz', gzipSync(valid({ datatype: 'float64', data: withNonFinite })), 'nifti/non-finite');
add(
  'inf-after-scaling.nii',
  patched((v) => v.setFloat32(112, 3e38, LE), valid({ datatype: 'int16' })),
  'nifti/non-finite',
);
add(
  'bad-scl-inter.nii',
  patched((v) => {
    v.setFloat32(112, 2, LE);
    v.setFloat32(116, NaN, LE);
  }),
  'nifti/bad-scaling',
);
add(
  'zero-sform.nii',
  patched((v) => {
    for (let i = 0; i < 12; i++) v.setFloat32(280 + 4 * i, 0, LE);
  }),
  'nifti/bad-affine',
);
add(
  'nan-sform.nii',
  patched((v) => v.setFloat32(280, NaN, LE)),
  'nifti/bad-affine',
);
add(
  'collinear-sform.nii',
  patched((v) => {
    v.setFloat32(284, 2, LE);
    v.setFloat32(300, 0, LE);
  }),
  'nifti/bad-affine',
);
add(
  'qform-zero-pixdim.nii',
  patched((v) => {
    v.setInt16(254, 0, LE);
    v.setFloat32(84, 0, LE);
  }),
  'nifti/bad-affine',
);

// 4-D volume index.
const fourD = valid({ dims: [4, 4, 4, 3] });
add('four-d-index-3.nii', fourD, 'nifti/volume-index', { volumeIndex: 3 });
add('four-d-index-neg.nii.gz', gzipSync(fourD), 'nifti/volume-index', { volumeIndex: -1 });
add('three-d-index-1.nii', valid(), 'nifti/volume-index', { volumeIndex: 1 });

// I/O.
cases.push({ name: 'missing', file: join(tmp.dir, 'does-not-exist.nii.gz'), code: 'nifti/io' });
cases.push({ name: 'directory', file: tmp.dir, code: 'nifti/io' });

test('the suite is broad enough', () => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  assert.ok(new Set(cases.map((c) => c.code)).size >= 20);
});

for (const c of cases) {
  test(`${c.name} → ${c.code}`, () => {
    assertNiftiError(() => readNifti(c.file, c.opts), c.code, c.file);
    assertNiftiError(() => loadVolume(c.file, c.opts), c.code, c.file);
  });
}

test('a gzip bomb (small header, hundreds of MB of inflated data) is refused without inflating it', () => {
  // First member: a valid 4×4×4 uint8 image; then 256 members of 1 MiB of zeros each.
  const head = gzipSync(valid({ datatype: 'uint8' }));
  const zeros = gzipSync(new Uint8Array(1024 * 1024), { level: 9 });
  const parts = [head, ...Array.from({ length: 256 }, () => zeros)];
  const bomb = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bomb.set(p, o);
    o += p.length;
  }
  assert.ok(bomb.length < 400 * 1024, `bomb is ${bomb.length} bytes compressed`);
  const file = put('bomb.nii.gz', bomb);
  const before = process.memoryUsage().rss;
  assertNiftiError(() => readNifti(file), 'nifti/gzip-bomb', file);
  assert.ok(process.memoryUsage().rss - before < 64 * 1024 ** 2, 'inflating the bomb did not allocate');
});

test('allowNonFinite replaces NaN/Inf with 0 and reports how many', () => {
  const file = cases.find((c) => c.name === 'nan-inf.nii')!.file;
  const r = readNifti(file, { allowNonFinite: true });
  assert.equal(r.nonFiniteReplaced, 3);
  assert.equal(r.volume.data[3], 0);
  assert.equal(r.volume.data[9], 0);
  assert.equal(r.volume.data[11], 11);
  const e = assertNiftiError(() => readNifti(file), 'nifti/non-finite', file);
  assert.match(e.message, /\b3 of 64 voxels\b/);
});

test('byte input: the same checks, named by opts.file', () => {
  assertNiftiError(() => readNifti(valid().subarray(0, 300), { file: 'in-memory.nii' }), 'nifti/truncated-header', 'in-memory.nii');
  assertNiftiError(
    () => readNifti(gzipSync(valid()).subarray(0, 30), { file: 'in-memory.nii.gz' }),
    'nifti/truncated-gzip',
    'in-memory.nii.gz',
  );
  assert.equal(readNifti(gzipSync(valid())).volume.data[7], 7, 'valid bytes still read');
});

test('the whole suite stayed small in memory', () => {
  const grown = process.memoryUsage().rss - rssBefore;
  assert.ok(grown < 200 * 1024 ** 2, `RSS grew by ${(grown / 1024 ** 2).toFixed(0)} MiB`);
  assert.ok(cases.every((c) => c.code.startsWith('nifti/')));
  assert.ok(NiftiError);
});
