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
 * The bundle's model is batch 1 (static shapes), so slices run one after another.
 * onnxruntime-node runs a session synchronously on the calling thread (after a setImmediate):
 * callers that must stay responsive (the extension host) run detect in a worker thread.
 */
import { ConfigError, StudyError } from '../errors';
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
  /** Whole volume: checked between slices; an aborted run rejects with the signal's reason (an AbortError). */
  signal?: AbortSignal;
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
}

/** The subset of the requested sequences; ConfigError unless a non-empty set of flair/t1/t2. */
export function subsetOfModalities(modalities: readonly string[]): ModalitySubset {
  const bad = modalities.filter((m) => !(CHANNELS as readonly string[]).includes(m));
  if (bad.length) throw new ConfigError('config/modalities', `unknown modality ${bad.map((m) => `'${m}'`).join(', ')}: use flair, t1 and/or t2`);
  if (new Set(modalities).size !== modalities.length) throw new ConfigError('config/modalities', `modalities repeat a sequence: ${modalities.join(', ')}`);
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
    if (missing.length) throw new StudyError('study/missing-sequence', `case ${input.case.id} has no ${missing.map((s) => s.toUpperCase()).join(', ')} loaded`, input.case.dir);
    if (unplaced.length) throw new StudyError('study/missing-sequence', `case ${input.case.id}: no file grid for ${unplaced.map((s) => s.toUpperCase()).join(', ')} (load it with loadCase)`, input.case.dir);
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
  const volumes = subset.channels.map((c) => loaded.volumes[c]!);
  if (opts.slice !== 'all' && opts.slice !== undefined) checkSlice(volumes[0].dims[2], opts.slice, loaded.case.dir);
  const session = await createSession(bundle.modelPath, { provider: opts.provider ?? 'auto', threads: opts.threads ?? 0, log: opts.log });
  return { bundle, session, subset, volumes, source: loaded.sources[subset.channels[0]]!, dims: volumes[0].dims };
}

/** The model input [1,3,C,C] of slice z. */
function sliceInput(p: Prepared, z: number): { image: Float32Array; width: number; height: number } {
  const views = p.volumes.map((v) => axialImage(v, z));
  const slices: Partial<Record<ChannelName, Float32Array>> = {};
  p.subset.channels.forEach((c, i) => { slices[c] = views[i].data; });
  const { width, height } = views[0];
  const { resize, crop } = p.bundle.manifest.preprocessing;
  return { image: preprocessSlice(slices, width, height, p.subset, { resize, crop }), width, height };
}

async function runSlice(p: Prepared, image: Float32Array): Promise<{ score: number; map256: Float32Array }> {
  const c = p.bundle.manifest.preprocessing.crop;
  const out = await run(p.session, { [INFERENCE_NAMES.image]: image, [INFERENCE_NAMES.subset]: BigInt64Array.of(BigInt(p.subset.id)) },
    { [INFERENCE_NAMES.image]: [1, 3, c, c], [INFERENCE_NAMES.subset]: [1] }, [INFERENCE_NAMES.map256, INFERENCE_NAMES.score]);
  return { score: outputFloat32(out, INFERENCE_NAMES.score)[0], map256: outputFloat32(out, INFERENCE_NAMES.map256) };
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
  if (!Number.isInteger(z) || z < 0 || z >= nz) throw new StudyError('study/slice-index', `axial slice ${z} is out of range: the volume has slices 0..${nz - 1}`, where);
}

/** Detection on one slice (default: the middle one). */
export async function detect(bundle: LoadedBundle | string, input: Case | LoadedCase | string, opts: DetectOptions & { slice?: number }): Promise<SliceDetection>;
/** Detection on every axial slice. */
export async function detect(bundle: LoadedBundle | string, input: Case | LoadedCase | string, opts: DetectOptions & { slice: 'all' }): Promise<VolumeDetection>;
export async function detect(bundle: LoadedBundle | string, input: Case | LoadedCase | string, opts: DetectOptions): Promise<SliceDetection | VolumeDetection>;
export async function detect(bundle: LoadedBundle | string, input: Case | LoadedCase | string, opts: DetectOptions): Promise<SliceDetection | VolumeDetection> {
  const p = await prepare(bundle, input, opts);
  const [nx, ny, nz] = p.dims;
  if (opts.slice === 'all') {
    const data = new Float32Array(nx * ny * nz);
    const slices: SliceScore[] = [];
    for (let z = 0; z < nz; z++) {
      opts.signal?.throwIfAborted();
      const { image, width, height } = sliceInput(p, z);
      const { score, map256 } = await runSlice(p, image);
      slices.push(scoreOf(p, z, score));
      toVoxelGrid(p, map256, width, height, data, z * nx * ny);
      opts.onProgress?.(z + 1, nz);
    }
    const ref = p.volumes[0];
    return { subset: p.subset, slices, map: { dims: [nx, ny, nz], spacing: [...ref.spacing], affine: ref.affine.slice(), data }, source: p.source, provider: p.session.provider };
  }
  const z = opts.slice ?? Math.floor(nz / 2);
  const { image, width, height } = sliceInput(p, z);
  const { score, map256 } = await runSlice(p, image);
  const map = new Float32Array(nx * ny);
  toVoxelGrid(p, map256, width, height, map, 0);
  const ref = p.volumes[0];
  return {
    ...scoreOf(p, z, score), subset: p.subset, map, mapSize: [nx, ny],
    grid: { dims: [nx, ny, nz], spacing: [...ref.spacing], affine: ref.affine.slice() }, source: p.source, provider: p.session.provider,
  };
}
