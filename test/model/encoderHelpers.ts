/** Shared helpers of the encoder tests: fixture paths, running an encoder model, error measures, checkpoint surgery. */
import { join } from 'node:path';
import { type EncoderModelOptions, encoderModelBytes } from '../../src/engine/model/encoder';
import type { EncoderWeights } from '../../src/engine/model/encoderWeights';
import { createSession, releaseSession, run } from '../../src/engine/graph/runtime';
import {
  type SafetensorsFile,
  type TensorToWrite,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  toFloat32,
} from '../../src/engine/safetensors';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'model');
export const REF_WEIGHTS = join(FIXTURES, 'encoder-ref.safetensors');
export const HF_WEIGHTS = join(FIXTURES, 'encoder-hf.safetensors');
export const HF_CONFIG = join(FIXTURES, 'encoder-hf-config.json');
export const GOLDEN = join(FIXTURES, 'encoder-golden.safetensors');

/** Golden image size, batch and patch grid of tiny-112. */
export const PX = 112;
export const N_IMAGES = 4;

let golden: SafetensorsFile | undefined;
export function goldenFile(): SafetensorsFile {
  golden ??= readSafetensors(GOLDEN);
  return golden;
}

export function goldenF32(name: string): Float32Array {
  const t = goldenFile().tensors.get(name);
  if (!t) throw new Error(`golden fixture lacks ${name}`);
  return toFloat32(t, name);
}

/** The 4 golden images × 7 subsets, row i·7 + (id − 1): image i with the channels that subset `id` lacks zeroed. */
export function maskedGoldenBatch(): { image: Float32Array; subset: BigInt64Array; combos: number } {
  const image = goldenF32('image');
  const combos = goldenF32('combinations');
  const C = combos.length / 3;
  const plane = PX * PX;
  const per = 3 * plane;
  const batch = new Float32Array(N_IMAGES * C * per);
  for (let i = 0; i < N_IMAGES; i++)
    for (let c = 0; c < C; c++)
      for (let ch = 0; ch < 3; ch++) {
        if (combos[c * 3 + ch]) batch.set(image.subarray(i * per + ch * plane, i * per + (ch + 1) * plane), (i * C + c) * per + ch * plane);
      }
  const subset = BigInt64Array.from({ length: N_IMAGES * C }, (_, r) => BigInt((r % C) + 1));
  return { image: batch, subset, combos: C };
}

export interface EncoderRunner {
  run(image: Float32Array): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** One encoder session (CPU, 2 threads) with every output ('fused', 'en0', 'en1', 'layers', 'tokens'). */
export async function encoderRunner(weights: EncoderWeights, opts: Omit<EncoderModelOptions, 'layers' | 'tokens'>): Promise<EncoderRunner> {
  const session = await createSession(encoderModelBytes(weights, { ...opts, layers: true, tokens: true }), { provider: 'cpu', threads: 2 });
  return {
    run: async (image) => {
      const out = await run(session, { image }, { image: [opts.batch, 3, opts.height, opts.width] });
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
    },
    release: () => releaseSession(session),
  };
}

/** Runs an encoder model once on `image` and returns every output by name. */
export async function runEncoder(
  weights: EncoderWeights,
  image: Float32Array,
  opts: Omit<EncoderModelOptions, 'layers' | 'tokens'>,
): Promise<Record<string, Float32Array>> {
  const runner = await encoderRunner(weights, opts);
  try {
    return await runner.run(image);
  } finally {
    await runner.release();
  }
}

/** max |a − b| and max |ref| */
export function maxAbs(a: ArrayLike<number>, ref: ArrayLike<number>): { err: number; scale: number; rel: number } {
  if (a.length !== ref.length) throw new Error(`lengths differ: ${a.length} vs ${ref.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - ref[i]);
    if (!(e <= err)) err = Number.isNaN(e) ? Infinity : e;
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { err, scale, rel: err / scale };
}

/** Copies a checkpoint's tensors as float32, lets `edit` change them, and parses the result back. */
export function editCheckpoint(
  file: SafetensorsFile,
  edit: (tensors: Map<string, TensorToWrite>) => void,
  metadata: Record<string, string> = file.metadata,
): SafetensorsFile {
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of file.tensors) tensors.set(name, { shape: [...t.shape], data: toFloat32(t, name) });
  edit(tensors);
  return parseSafetensors(serializeSafetensors(Object.fromEntries(tensors), metadata));
}

/** Serialises float32 tensors as BF16 (upper 16 bits, i.e. truncation) — a hand-built file, as the writer has no BF16. */
export function bf16Checkpoint(file: SafetensorsFile): SafetensorsFile {
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of file.tensors) {
    const f = toFloat32(t, name);
    const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
    const half = Uint16Array.from(u, (v) => v >>> 16);
    const bytes = new Uint8Array(half.buffer);
    header[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let p = 8 + json.byteLength;
  for (const b of parts) {
    out.set(b, p);
    p += b.byteLength;
  }
  return parseSafetensors(out);
}
