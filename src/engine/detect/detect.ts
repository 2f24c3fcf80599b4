/**
 * Detection with a model bundle on one case: one axial slice, or every slice of the volume.
 *
 *   case volumes (canonical RAS) → axialImage(z) per requested sequence → preprocessSlice
 *   (missing channels zero) → model.onnx (subset id) → score, map256 → mapToSliceGrid (image
 *   rows × columns) → voxel grid via study's imageToVoxel convention (x = nx−1−c, y = ny−1−r).
 *
 * A slice result carries the map on the slice's own voxel grid (data[x + nx·y]); the whole
 * volume result a float32 Volume on the case's canonical grid. Both carry `source`, the file grid
 * of the reference sequence, so a map is written on it with writeOnSourceGrid.
 * A bundle's model has a symbolic batch axis: a whole volume runs in batches (size from free
 * memory, capped), each slice's numbers bit-identical to running it alone (inference.ts); an
 * older batch-1 bundle runs slice by slice. onnxruntime-node runs a session on the calling
 * thread: the extension host never calls this, its engine process does (engine/server).
 */
import { freemem } from 'node:os';
import { ConfigError, StudyError, required } from '../errors';
import { type ProviderChoice, type Session, createSession, outputFloat32, run } from '../graph/runtime';
import { mapToSliceGrid } from '../eval/sliceGrid';
import { type LoadedBundle, loadBundle, subsetThreshold } from '../model/bundle';
import { INFERENCE_NAMES } from '../model/inference';
import type { SourceGrid } from '../nifti/sourceGrid';
import type { Volume } from '../nifti/types';
import { type Case, caseFromInputs } from '../study/discover';
import { type LoadedCase, loadCase } from '../study/load';
import { CHANNELS, type ChannelName, type ModalitySubset, subsetOfChannels } from '../study/modalities';
import { preprocessSlice } from '../study/preprocess';
import { axialImage, imageToVoxel } from '../study/slice';
import { PrepPool } from './prepPool';

export interface DetectOptions {
  /** Axial slice index, or 'all' for the whole volume; default: the middle slice. */
  slice?: number | 'all';
  /** The sequences to use (a non-empty subset of flair, t1, t2); the others are zero channels. */
  modalities: readonly ChannelName[];
  provider?: ProviderChoice;
  threads?: number;
  log?: (message: string) => void;
  /** Whole volume: called after each slice. */
  onProgress?: (done: number, total: number) => void;
  /** Whole volume: checked between batches; an aborted run rejects with the signal's reason (an AbortError). */
  signal?: AbortSignal;
  /** Whole volume: most slices per model run (default: from free memory, at most MAX_BATCH; 1 = slice by slice). */
  batchSize?: number;
  /** A session of the bundle's model kept by the caller (the engine process keeps it warm); default: createSession. */
  session?: Session;
}

/** Upper bound of slices per model run: past it a batch gains little and holds much memory. */
export const MAX_BATCH = 16;

/**
 * Slices per model run for a bundle: 1 for an older batch-1 model; else what a quarter of the
 * free memory holds by a rough count of the model's activations per slice, within [1, MAX_BATCH].
 */
export function chooseBatchSize(bundle: LoadedBundle, freeBytes = freemem(), requested?: number): number {
  if (bundle.manifest.model.batch !== 'dynamic') return 1;
  if (requested !== undefined) {
    if (!Number.isSafeInteger(requested) || requested < 1)
      throw new ConfigError('config/batch', `batch size must be a positive integer, got ${requested}`);
    return Math.min(requested, 256);
  }
  const c = bundle.manifest.preprocessing.crop;
  const e = bundle.manifest.encoder.config as { embedDim?: number; patchSize?: number; numHeads?: number };
  const d = e.embedDim ?? 768;
  const tokens = (c / (e.patchSize ?? 14)) ** 2 + 5;
  // Float32 activations alive at once: MLP (4d) and attention scores dominate, ×2 for the allocator.
  const perSlice = 4 * 2 * (tokens * d * 8 + (e.numHeads ?? 12) * tokens * tokens + 3 * c * c + 3 * 256 * 256);
  return Math.max(1, Math.min(MAX_BATCH, Math.floor(freeBytes / 4 / perSlice)));
}

export interface SliceScore {
  z: number;
  score: number;
  /** The bundle's threshold for this subset; null when the bundle was not calibrated for it. */
  threshold: number | null;
  /** score > threshold; null without a threshold. */
  anomalous: boolean | null;
}

export interface SliceDetection extends SliceScore {
  subset: ModalitySubset;
  /** Anomaly map on the slice's voxel grid, data[x + nx·y] (nx = mapSize[0]). */
  map: Float32Array;
  /** [nx, ny] of the slice. */
  mapSize: [number, number];
  /** The case's canonical voxel grid (for writing the slice's map into a volume). */
  grid: Pick<Volume, 'dims' | 'spacing' | 'affine'>;
  /** The file grid of the reference sequence (the subset's first): outputs go on it. */
  source: SourceGrid;
  /** Execution provider the model ran on. */
  provider: string;
}

export interface VolumeDetection {
  subset: ModalitySubset;
  slices: SliceScore[];
  /** Anomaly map on the case's canonical grid (float32, data[x + nx·(y + ny·z)]). */
  map: Volume;
  /** The file grid of the reference sequence (the subset's first): outputs go on it. */
  source: SourceGrid;
  provider: string;
  /** Slices per model run. */
  batch: number;
}

/** The subset of the requested sequences; ConfigError unless a non-empty set of flair/t1/t2. */
export function subsetOfModalities(modalities: readonly string[]): ModalitySubset {
  const bad = modalities.filter((m) => !(CHANNELS as readonly string[]).includes(m));
  if (bad.length)
    throw new ConfigError('config/modalities', `unknown modality ${bad.map((m) => `'${m}'`).join(', ')}: use flair, t1 and/or t2`);
  if (new Set(modalities).size !== modalities.length)
    throw new ConfigError('config/modalities', `modalities repeat a sequence: ${modalities.join(', ')}`);
  const s = subsetOfChannels(modalities as ChannelName[]);
  if (!s) throw new ConfigError('config/modalities', 'at least one modality (flair, t1, t2) is needed');
  return s;
}

/** A case from a Case, a loaded case, or a path (a sequence file of the case, or a folder holding exactly one case). */
function resolveCase(input: Case | LoadedCase | string, channels: readonly ChannelName[]): LoadedCase {
  if (typeof input === 'string') {
    return loadCase(caseFromInputs({ path: input }), { sequences: channels, label: false });
  }
  if ('volumes' in input) {
    const missing = channels.filter((c) => !input.volumes[c]);
    const unplaced = channels.filter((c) => !missing.includes(c) && !input.sources[c]);
    if (missing.length)
      throw new StudyError(
        'study/missing-sequence',
        `case ${input.case.id} has no ${missing.map((s) => s.toUpperCase()).join(', ')} loaded`,
        input.case.dir,
      );
    if (unplaced.length)
      throw new StudyError(
        'study/missing-sequence',
        `case ${input.case.id}: no file grid for ${unplaced.map((s) => s.toUpperCase()).join(', ')} (load it with loadCase)`,
        input.case.dir,
      );
    return input;
  }
  return loadCase(input, { sequences: channels, label: false });
}

interface Prepared {
  bundle: LoadedBundle;
  session: Session;
  subset: ModalitySubset;
  volumes: Volume[];
  source: SourceGrid;
  dims: [number, number, number];
}

async function prepare(bundleOrDir: LoadedBundle | string, input: Case | LoadedCase | string, opts: DetectOptions): Promise<Prepared> {
  const subset = subsetOfModalities(opts.modalities);
  const bundle = typeof bundleOrDir === 'string' ? loadBundle(bundleOrDir) : bundleOrDir;
  const loaded = resolveCase(input, subset.channels);
  const volumes = subset.channels.map((c) => required(loaded.volumes[c], `the loaded ${c} volume`));
  if (opts.slice !== 'all' && opts.slice !== undefined) checkSlice(volumes[0].dims[2], opts.slice, loaded.case.dir);
  const session =
    opts.session ??
    (await createSession(bundle.modelPath, { provider: opts.provider ?? 'auto', threads: opts.threads ?? 0, log: opts.log }));
  return {
    bundle,
    session,
    subset,
    volumes,
    source: required(loaded.sources[subset.channels[0]], `the ${subset.channels[0]} source`),
    dims: volumes[0].dims,
  };
}

/** The model input [1,3,C,C] of slice z. */
function sliceInput(p: Prepared, z: number): { image: Float32Array; width: number; height: number } {
  const views = p.volumes.map((v) => axialImage(v, z));
  const slices: Partial<Record<ChannelName, Float32Array>> = {};
  p.subset.channels.forEach((c, i) => {
    slices[c] = views[i].data;
  });
  const { width, height } = views[0];
  const { resize, crop } = p.bundle.manifest.preprocessing;
  return { image: preprocessSlice(slices, width, height, p.subset, { resize, crop }), width, height };
}

/** Model inputs of slices z0..z0+n−1: in the worker when there is one, else here. */
async function prepareBatch(
  p: Prepared,
  z0: number,
  n: number,
  pool: PrepPool | undefined,
): Promise<{ images: Float32Array[]; width: number; height: number }> {
  if (!pool) {
    const inputs = Array.from({ length: n }, (_, i) => sliceInput(p, z0 + i));
    return { images: inputs.map((x) => x.image), width: inputs[0].width, height: inputs[0].height };
  }
  // axialImage copies each slice into its own buffer, which then moves to the worker.
  const views = Array.from({ length: n }, (_, i) => p.volumes.map((v) => axialImage(v, z0 + i)));
  const { width, height } = views[0][0];
  const { resize, crop } = p.bundle.manifest.preprocessing;
  const images = await pool.prepare({
    width,
    height,
    channels: [...p.subset.channels],
    geom: { resize, crop },
    slices: views.map((vs) => vs.map((v) => v.data)),
  });
  return { images, width, height };
}

async function runSlice(p: Prepared, image: Float32Array): Promise<{ score: number; map256: Float32Array }> {
  const [r] = await runBatch(p, [image]);
  return r;
}

/** One model run over `images` (each [3,C,C]) stacked on the batch axis. */
async function runBatch(p: Prepared, images: readonly Float32Array[]): Promise<Array<{ score: number; map256: Float32Array }>> {
  const c = p.bundle.manifest.preprocessing.crop;
  const n = images.length;
  const per = 3 * c * c;
  const stacked = n === 1 ? images[0] : new Float32Array(n * per);
  if (n > 1) images.forEach((im, i) => stacked.set(im, i * per));
  const out = await run(
    p.session,
    { [INFERENCE_NAMES.image]: stacked, [INFERENCE_NAMES.subset]: new BigInt64Array(n).fill(BigInt(p.subset.id)) },
    { [INFERENCE_NAMES.image]: [n, 3, c, c], [INFERENCE_NAMES.subset]: [n] },
    [INFERENCE_NAMES.map256, INFERENCE_NAMES.score],
  );
  const score = outputFloat32(out, INFERENCE_NAMES.score);
  const map256 = outputFloat32(out, INFERENCE_NAMES.map256);
  const m = map256.length / n;
  return images.map((_, i) => ({ score: score[i], map256: map256.subarray(i * m, (i + 1) * m) }));
}

function scoreOf(p: Prepared, z: number, score: number): SliceScore {
  const t = subsetThreshold(p.bundle.manifest, p.subset.id);
  return { z, score, threshold: t ?? null, anomalous: t === undefined ? null : score > t };
}

/** The evaluation map (256×256) back on the slice's voxel grid, data[x + nx·y]. */
function toVoxelGrid(p: Prepared, map256: Float32Array, width: number, height: number, out: Float32Array, offset: number): void {
  const { resize, crop } = p.bundle.manifest.preprocessing;
  const onImage = mapToSliceGrid(map256, p.bundle.manifest.model.evalMapSize, { resize, crop }, width, height);
  const nx = p.dims[0];
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const [x, y] = imageToVoxel({ dims: p.dims }, r, c);
      out[offset + x + nx * y] = onImage[r * width + c];
    }
  }
}

function checkSlice(nz: number, z: number, where: string): void {
  if (!Number.isInteger(z) || z < 0 || z >= nz)
    throw new StudyError('study/slice-index', `axial slice ${z} is out of range: the volume has slices 0..${nz - 1}`, where);
}

/** Detection on one slice (default: the middle one). */
export async function detect(
  bundle: LoadedBundle | string,
  input: Case | LoadedCase | string,
  opts: DetectOptions & { slice?: number },
): Promise<SliceDetection>;
/** Detection on every axial slice. */
export async function detect(
  bundle: LoadedBundle | string,
  input: Case | LoadedCase | string,
  opts: DetectOptions & { slice: 'all' },
): Promise<VolumeDetection>;
export async function detect(
  bundle: LoadedBundle | string,
  input: Case | LoadedCase | string,
  opts: DetectOptions,
): Promise<SliceDetection | VolumeDetection>;
export async function detect(
  bundle: LoadedBundle | string,
  input: Case | LoadedCase | string,
  opts: DetectOptions,
): Promise<SliceDetection | VolumeDetection> {
  const p = await prepare(bundle, input, opts);
  const [nx, ny, nz] = p.dims;
  if (opts.slice === 'all') {
    const data = new Float32Array(nx * ny * nz);
    const slices: SliceScore[] = [];
    const batch = chooseBatchSize(p.bundle, undefined, opts.batchSize);
    // Batched: a worker preprocesses batch k+1 while the model runs batch k on this thread.
    const pool = batch > 1 && nz > batch ? PrepPool.get() : undefined;
    opts.log?.(`detect: ${nz} slices in batches of ${batch}${pool ? ', preprocessing in a worker' : ''}`);
    const starts = Array.from({ length: Math.ceil(nz / batch) }, (_, k) => k * batch);
    // The first batch here: nothing to overlap yet, and the worker may still be starting.
    const prepare = (z0: number) => prepareBatch(p, z0, Math.min(batch, nz - z0), z0 === 0 ? undefined : pool);
    {
      let next = prepare(starts[0]);
      for (let k = 0; k < starts.length; k++) {
        const z0 = starts[k];
        const inputs = await next;
        if (k + 1 < starts.length) next = prepare(starts[k + 1]);
        next.catch(() => undefined); // awaited next round; an abort must not leave it unhandled
        opts.signal?.throwIfAborted();
        const results = await runBatch(p, inputs.images);
        for (let i = 0; i < results.length; i++) {
          // An abort seen while reporting a batch's slices stops at once, not a batch later.
          opts.signal?.throwIfAborted();
          slices.push(scoreOf(p, z0 + i, results[i].score));
          toVoxelGrid(p, results[i].map256, inputs.width, inputs.height, data, (z0 + i) * nx * ny);
          opts.onProgress?.(z0 + i + 1, nz);
        }
      }
    }
    const ref = p.volumes[0];
    return {
      subset: p.subset,
      slices,
      map: { dims: [nx, ny, nz], spacing: [...ref.spacing], affine: ref.affine.slice(), data },
      source: p.source,
      provider: p.session.provider,
      batch,
    };
  }
  const z = opts.slice ?? Math.floor(nz / 2);
  const { image, width, height } = sliceInput(p, z);
  const { score, map256 } = await runSlice(p, image);
  const map = new Float32Array(nx * ny);
  toVoxelGrid(p, map256, width, height, map, 0);
  const ref = p.volumes[0];
  return {
    ...scoreOf(p, z, score),
    subset: p.subset,
    map,
    mapSize: [nx, ny],
    grid: { dims: [nx, ny, nz], spacing: [...ref.spacing], affine: ref.affine.slice() },
    source: p.source,
    provider: p.session.provider,
  };
}
