import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsError } from '../../src/engine/errors';
import {
  getFloat32,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  toFloat32,
  writeSafetensors,
} from '../../src/engine/safetensors';

// Written byte by byte by scripts/fixtures/make_safetensors_fixtures.py; the expected float32
// values are numpy's / torch's own conversions.
const DIR = join(__dirname, '..', 'fixtures', 'runtime');
const MIXED = join(DIR, 'mixed_dtypes.safetensors');
const EXPECTED = join(DIR, 'mixed_dtypes.expected_f32.safetensors');

function sameFloat32(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    // Object.is: NaN equals NaN, and -0 differs from +0.
    assert.ok(Object.is(a[i], b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

/** A safetensors file from a header object and data bytes (no validation: for malformed files). */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function invalid(buf: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseSafetensors(buf, 'bad.safetensors'),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
      assert.match(e.message, /^bad\.safetensors: /);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('F32/F16/BF16/F64/ints/BOOL convert to float32 exactly as numpy/torch do (incl. ±0, ±inf, NaN, subnormals)', () => {
  const file = readSafetensors(MIXED);
  const expected = readSafetensors(EXPECTED);
  assert.deepEqual(file.metadata, { format: 'pt', made_by: 'make_safetensors_fixtures.py' });
  assert.deepEqual([...file.tensors.keys()], ['f32', 'f16', 'bf16', 'f64', 'i64', 'i32', 'u8', 'flag', 'empty', 'scalar']);
  for (const [name, entry] of file.tensors) {
    const want = getFloat32(expected, name, undefined, EXPECTED);
    assert.deepEqual(entry.shape, want.shape, `${name} shape`);
    sameFloat32(toFloat32(entry, name), want.data, name);
  }
  assert.equal(file.tensors.get('bf16')!.dtype, 'BF16');
  assert.deepEqual(file.tensors.get('scalar')!.shape, []);
});

test('getFloat32 checks presence and shape with clear errors', () => {
  const file = readSafetensors(MIXED);
  assert.deepEqual(getFloat32(file, 'f32', [2, 3]).shape, [2, 3]);
  assert.throws(
    () => getFloat32(file, 'nope', undefined, MIXED),
    (e: unknown) => e instanceof SafetensorsError && /tensor 'nope' is missing/.test(e.message) && e.message.startsWith(MIXED),
  );
  assert.throws(
    () => getFloat32(file, 'f32', [3, 2]),
    (e: unknown) => e instanceof SafetensorsError && /has shape \[2, 3\], expected \[3, 2\]/.test(e.message),
  );
});

test('round trip: write → read gives the same tensors, dtypes, shapes and metadata; data 8-byte aligned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-st-'));
  try {
    const path = join(dir, 'rt.safetensors');
    const a = new Float32Array([1.5, -0, Infinity, NaN, 3.4028234663852886e38, 1e-45]);
    const b = new Float64Array([Math.PI, -1e-300]);
    const c = new BigInt64Array([-(2n ** 62n), 5n]);
    const d = new Uint8Array([1, 2, 3]);
    writeSafetensors(
      path,
      {
        a: { shape: [2, 3], data: a },
        b: { shape: [2], data: b },
        c: { shape: [1, 2], data: c },
        d: { shape: [3], data: d },
        e: { shape: [0], data: new Float32Array(0) },
      },
      { step: '12', note: 'ü ✓' },
    );
    const bytes = readFileSync(path);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + headerLen) % 8, 0);
    const f = readSafetensors(path);
    assert.deepEqual(f.metadata, { step: '12', note: 'ü ✓' });
    assert.deepEqual(
      [...f.tensors].map(([n, t]) => [n, t.dtype, t.shape]),
      [
        ['a', 'F32', [2, 3]],
        ['b', 'F64', [2]],
        ['c', 'I64', [1, 2]],
        ['d', 'U8', [3]],
        ['e', 'F32', [0]],
      ],
    );
    sameFloat32(toFloat32(f.tensors.get('a')!), a, 'a');
    assert.deepEqual(new Float64Array(new Uint8Array(f.tensors.get('b')!.bytes).buffer), b);
    assert.deepEqual(new BigInt64Array(new Uint8Array(f.tensors.get('c')!.bytes).buffer), c);
    assert.deepEqual(new Uint8Array(f.tensors.get('d')!.bytes), d);
    // A byte-for-byte stable encoding: serialising the same input twice gives the same bytes.
    assert.deepEqual(serializeSafetensors({ a: { shape: [6], data: a } }), serializeSafetensors({ a: { shape: [6], data: a } }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serializeSafetensors refuses inconsistent input', () => {
  assert.throws(
    () => serializeSafetensors({ a: { shape: [2, 2], data: new Float32Array(3) } }),
    (e: unknown) => e instanceof SafetensorsError && /holds 4 values but 3/.test(e.message),
  );
  assert.throws(
    () => serializeSafetensors({ a: { dtype: 'F64', shape: [2], data: new Float32Array(2) } }),
    (e: unknown) => e instanceof SafetensorsError && /F64 needs a Float64Array/.test(e.message),
  );
  assert.throws(() => serializeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }), SafetensorsError);
});

const FOUR_F32 = new Uint8Array(16);

test('validation: offsets outside the file', () => {
  invalid(rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [4, 20] } }, FOUR_F32), /runs past the end of the data/);
  invalid(rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [8, 4] } }, FOUR_F32), /data_offsets \[8,4\] are not \[begin, end\]/);
  invalid(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, FOUR_F32), /data_offsets/);
  invalid(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, FOUR_F32), /data_offsets/);
});

test('validation: byte size ≠ shape × element size', () => {
  invalid(
    rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, FOUR_F32),
    /shape \[3\] of F32 needs 12 bytes but its data has 16/,
  );
  invalid(rawFile({ a: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 16] } }, FOUR_F32), /needs 8 bytes/);
  invalid(rawFile({ a: { dtype: 'F32', shape: [2, -2], data_offsets: [0, 16] } }, FOUR_F32), /not a list of non-negative integers/);
  invalid(rawFile({ a: { dtype: 'F8', shape: [4], data_offsets: [0, 16] } }, FOUR_F32), /unsupported dtype "F8"/);
  invalid(rawFile({ a: { dtype: 'constructor', shape: [4], data_offsets: [0, 16] } }, FOUR_F32), /unsupported dtype "constructor"/);
});

test('validation: overlapping tensors (empty tensors overlap nothing)', () => {
  invalid(
    rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, FOUR_F32),
    /tensors 'a' and 'b' overlap/,
  );
  invalid(
    rawFile({ b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] }, a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, FOUR_F32),
    /overlap/,
  );
  // An empty tensor at another tensor's offset is fine, whatever the header order.
  const ok = parseSafetensors(
    rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] } }, FOUR_F32),
  );
  assert.deepEqual(ok.tensors.get('e')!.shape, [0]);
});

test('validation: bad header length, non-JSON or non-object header, bad metadata', () => {
  invalid(new Uint8Array(5), /starts with an 8-byte header length/);
  const huge = rawFile({}, new Uint8Array(0));
  new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
  invalid(huge, /header length 1099511627776 does not fit/);
  const long = rawFile({}, new Uint8Array(0));
  new DataView(long.buffer).setBigUint64(0, BigInt(long.length - 7), true);
  invalid(long, /does not fit/);
  invalid(rawFile(null, new Uint8Array(0), '{"a": '), /header is not valid UTF-8 JSON/);
  invalid(rawFile(null, new Uint8Array(0), 'not json'), /not valid UTF-8 JSON/);
  const notUtf8 = rawFile(null, new Uint8Array(0), '{}');
  notUtf8[8] = 0xff;
  invalid(notUtf8, /not valid UTF-8 JSON/);
  invalid(rawFile([1, 2], new Uint8Array(0)), /header is not a JSON object/);
  invalid(rawFile({ __metadata__: { k: 3 } }, new Uint8Array(0)), /__metadata__\.k is not a string/);
  invalid(rawFile({ __metadata__: ['x'] }, new Uint8Array(0)), /__metadata__ is not an object/);
  invalid(rawFile({ a: 5 }, new Uint8Array(0)), /tensor 'a'/);
});

test('validation: truncated files (every cut of a real file is refused)', () => {
  const whole = readFileSync(MIXED);
  const headerLen = Number(whole.readBigUInt64LE(0));
  let refused = 0;
  // The last tensor ('scalar', 2 bytes) ends the file: any cut loses data or header bytes.
  for (let cut = 0; cut < whole.length; cut += cut < 8 + headerLen ? 13 : 1) {
    invalid(whole.subarray(0, cut), /truncated|header length|header|runs past/);
    refused++;
  }
  assert.ok(refused > 50);
});

test('readSafetensors: a missing file is a SafetensorsError naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-st-'));
  try {
    const p = join(dir, 'missing.safetensors');
    assert.throws(
      () => readSafetensors(p),
      (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(p) && /ENOENT/.test(e.message),
    );
    writeFileSync(p, rawFile({}, new Uint8Array(0)));
    assert.equal(readSafetensors(p).tensors.size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
