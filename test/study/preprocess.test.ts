import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseSafetensors, type SafetensorsFile } from '../../src/engine/safetensors';
import { resizeBilinearU8 } from '../../src/engine/study/pil-resize';
import { centerCropOffset, minMaxToUint8, preprocessMask, preprocessSlice } from '../../src/engine/study/preprocess';
import { resizeNearest } from '../../src/engine/eval/resample';
import { FULL_SUBSET, MODALITY_SUBSETS, CHANNELS } from '../../src/engine/study/modalities';

// Golden values from scripts/fixtures/make_preprocess_fixtures.py (numpy + Pillow 9.4 + torch 1.13).
const fx: SafetensorsFile = parseSafetensors(gunzipSync(readFileSync(join(__dirname, '../fixtures/study/preprocess.safetensors.gz'))));
const cases: { height: number; width: number; resize: number; crop: number; top: number }[] = JSON.parse(fx.metadata.cases);

function u8(name: string): Uint8Array {
  const t = fx.tensors.get(name);
  assert.ok(t && t.dtype === 'U8', name);
  return new Uint8Array(t.bytes);
}
function f32(name: string): Float32Array {
  const t = fx.tensors.get(name)!;
  return new Float32Array(Uint8Array.from(t.bytes).buffer);
}
/** Channel c of case k as float32, exactly as numpy built it: int16 → float32 × float32 scale. */
function channel(k: number, c: number): Float32Array {
  const t = fx.tensors.get(`case${k}.input_int16`)!;
  const ints = new Int16Array(Uint8Array.from(t.bytes).buffer);
  const n = cases[k].height * cases[k].width;
  const scale = f32(`case${k}.scale`)[c];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(ints[c * n + i] * scale);
  return out;
}
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at ${i}: ${a[i]} vs ${b[i]}`;
  return 'equal';
}

test('min–max to uint8 matches numpy (incl. a 1e-10-scaled channel where the +1e-8 matters, and an empty channel)', () => {
  const k = 2;
  const n = cases[k].height * cases[k].width;
  const expected = u8(`case${k}.minmax_u8`);
  for (let c = 0; c < 3; c++) {
    const got = minMaxToUint8(channel(k, c));
    const exp = expected.subarray(c * n, (c + 1) * n);
    assert.deepEqual(got, exp, `channel ${c}: ${firstDiff(got, exp)}`);
  }
  // The tiny-range channel really is affected by the 1e-8 (else this case tests nothing).
  assert.ok(Math.max(...expected.subarray(0, n)) < 255);
  assert.ok(expected.subarray(2 * n).every((v) => v === 0));
});

test('Pillow BILINEAR resize is bit-exact (upsampling 240→448, downsampling 240→112, non-square 200×168→225)', () => {
  for (let k = 0; k < cases.length; k++) {
    const { width, height, resize } = cases[k];
    const resized = u8(`case${k}.resized_u8`);
    for (let c = 0; c < 3; c++) {
      const got = resizeBilinearU8(minMaxToUint8(channel(k, c)), width, height, resize, resize);
      const exp = resized.subarray(c * resize * resize, (c + 1) * resize * resize);
      assert.equal(got.length, exp.length);
      assert.ok(
        got.every((v, i) => v === exp[i]),
        `case ${k} channel ${c}: ${firstDiff(got, exp)}`,
      );
    }
  }
});

test('full preprocessing equals numpy/torchvision arithmetic bit for bit (within 1e-6 required)', () => {
  const lut = f32('norm_lut');
  for (let k = 0; k < cases.length; k++) {
    const { width, height, resize: R, crop: C, top } = cases[k];
    assert.equal(centerCropOffset(R, C), top, `crop offset of case ${k}`);
    const slices = { flair: channel(k, 0), t1: channel(k, 1), t2: channel(k, 2) };
    const got = preprocessSlice(slices, width, height, FULL_SUBSET, { resize: R, crop: C });
    const resized = u8(`case${k}.resized_u8`);
    let maxErr = 0;
    let exactly = 0;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < C; y++) {
        for (let x = 0; x < C; x++) {
          const expv = lut[c * 256 + resized[c * R * R + (y + top) * R + x + top]];
          const g = got[c * C * C + y * C + x];
          maxErr = Math.max(maxErr, Math.abs(g - expv));
          if (g === expv) exactly++;
        }
      }
    }
    assert.ok(maxErr <= 1e-6, `case ${k}: max error ${maxErr}`);
    assert.equal(exactly, 3 * C * C, `case ${k}: ${3 * C * C - exactly} values not bit-exact`);
  }
});

test('label masks: bilinear > 0.5 on the crop, and torch-nearest to 256, match the fixtures', () => {
  for (let k = 0; k < cases.length; k++) {
    const { width, height, resize: R, crop: C } = cases[k];
    const label = Float32Array.from(u8(`case${k}.label`));
    const got = preprocessMask(label, width, height, { resize: R, crop: C });
    const exp = u8(`case${k}.mask`);
    assert.deepEqual(got, exp, `case ${k}: ${firstDiff(got, exp)}`);
    assert.ok(exp.some((v) => v === 1));
    const g256 = resizeNearest(got, C, C, 256, 256);
    assert.deepEqual(g256, u8(`case${k}.mask256`), `case ${k} nearest 256`);
  }
  // Label selection: only label 4 → a strict subset of the 'any' mask.
  const { width, height, resize: R, crop: C } = cases[0];
  const label = Float32Array.from(u8('case0.label'));
  const only4 = preprocessMask(label, width, height, { resize: R, crop: C }, [4]);
  const any = preprocessMask(label, width, height, { resize: R, crop: C });
  const n4 = only4.reduce((s, v) => s + v, 0);
  assert.ok(n4 > 0 && n4 < any.reduce((s, v) => s + v, 0));
  assert.ok(only4.every((v, i) => v <= any[i]));
});

test('every one of the 7 subsets keeps its channels and zeroes the others exactly', () => {
  const k = 1;
  const { width, height, resize: R, crop: C } = cases[k];
  const all = { flair: channel(k, 0), t1: channel(k, 1), t2: channel(k, 2) };
  const full = preprocessSlice(all, width, height, FULL_SUBSET, { resize: R, crop: C });
  const plane = C * C;
  for (const s of MODALITY_SUBSETS) {
    // Only the subset's sequences are given: missing ones must not be needed.
    const given = Object.fromEntries(s.channels.map((ch) => [ch, all[ch]]));
    const out = preprocessSlice(given, width, height, s, { resize: R, crop: C });
    CHANNELS.forEach((ch, c) => {
      const part = out.subarray(c * plane, (c + 1) * plane);
      if (s.channels.includes(ch)) assert.deepEqual(part, full.subarray(c * plane, (c + 1) * plane), `${s.label} ${ch}`);
      else
        assert.ok(
          part.every((v) => Object.is(v, 0)),
          `${s.label}: ${ch} must be +0.0`,
        );
    });
  }
  assert.throws(
    () => preprocessSlice({ flair: all.flair }, width, height, MODALITY_SUBSETS[3], { resize: R, crop: C }),
    /F\+T1 needs a T1 slice/,
  );
});
