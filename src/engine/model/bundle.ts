/**
 * A trained model on disk: a folder with
 *
 *   model.onnx        image [B,3,C,C] + subset [B] (ids 1..7) → map [B,1,C,C], map256 [B,1,256,256], score [B]
 *                     (B symbolic; bundles from before it have B = 1 and still load)
 *                     (inference.ts; encoder, head and modality affine baked in)
 *   head.safetensors  the head (+ modality affine) parameters in the reference's names, for
 *                     fine-tuning or export back to the PyTorch code
 *   anyad.json        the manifest: schema version, preset and configs, preprocessing geometry,
 *                     channel order, subset table, full-modality statistics, per-subset
 *                     thresholds, training data summary, metrics, encoder provenance (random
 *                     init is flagged in `warning`), creation time and SHA-256 of both files.
 *
 * Writing is atomic per file and ordered model.onnx → head.safetensors → anyad.json, so a
 * crash leaves either the old manifest (whose checksums then fail loudly) or a complete
 * bundle. Loading validates everything and throws a BundleError (a ConfigError) naming the
 * file and what is wrong.
 *
 * Thresholds: for each subset, the 0.99 quantile (numpy's default linear interpolation) of the
 * scores of NORMAL training slices seen with that subset; a slice is anomalous when its score
 * is strictly greater. Scores shift with the subset (fewer sequences, different features), so
 * one threshold per subset is needed.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, SafetensorsError } from '../errors';
import { EVAL_MAP_SIZE, SCORE_TOP_RATIO, topKCount } from '../eval';
import { getFloat32, serializeSafetensors } from '../safetensors';
import { CHANNELS, MODALITY_SUBSETS } from '../study/modalities';
import type { PreprocessGeometry } from '../study/preprocess';
import { mkdirs, writeFileAtomic } from '../util/atomic';
import { fileError, openRegularFile, readRegularFileAsync, readRegularTextFile } from '../util/fileio';
import { MAX_IMAGE_SIZE } from '../config';
import { MAX_SAFETENSORS_BYTES, readSafetensors } from '../safetensors';
import type { ChannelStats } from './alignment';
import { type EncoderProvenance, type EncoderWeights, describeProvenance } from './encoderWeights';
import { type HeadConfig, type WeightMap, headParamShapes, loadHeadParams, validateHeadConfig } from './headWeights';
import { INFERENCE_NAMES, buildInferenceModel, pickAffineParams } from './inference';
import type { ObjectiveConfig } from './losses';
import type { VitConfig } from './vitConfig';

export const BUNDLE_SCHEMA_VERSION = 1;
export const BUNDLE_FILES = Object.freeze({ model: 'model.onnx', head: 'head.safetensors', manifest: 'anyad.json' });
/** Quantile of normal training scores used as the per-subset threshold. */
export const THRESHOLD_QUANTILE = 0.99;

/** A bundle that is missing, unreadable, inconsistent or from an unknown schema. */
export class BundleError extends ConfigError {}

export interface SubsetThresholds {
  quantile: number;
  /** 'linear': numpy.quantile's default (type 7) interpolation between order statistics. */
  method: 'linear';
  rule: 'anomalous when score > threshold';
  /** Threshold per subset id ('1'..'7'); subsets without calibration scores are absent. */
  bySubset: Record<string, number>;
  /** Number of normal slices behind each threshold. */
  normalSlices: Record<string, number>;
}

export interface FileChecksum {
  sha256: string;
  bytes: number;
}

export interface BundleManifest {
  format: 'anyad-model-bundle';
  schemaVersion: number;
  createdAt: string;
  /** Present (and loud) when the encoder is not pretrained. */
  warning?: string;
  preset?: string;
  encoder: { config: VitConfig; provenance: EncoderProvenance; description: string };
  head: HeadConfig;
  /** Whether model.onnx applies the modality affine (false: reference mode). */
  modalityAffine: boolean;
  objective?: ObjectiveConfig;
  preprocessing: {
    resize: number;
    crop: number;
    channels: readonly string[];
    steps: string;
  };
  model: {
    file: string;
    /** 'dynamic': axis 0 is symbolic (batched detection); 1: an older batch-1 bundle (slices one by one). */
    batch: number | 'dynamic';
    inputSize: number;
    inputs: Record<string, string>;
    outputs: Record<string, string>;
    evalMapSize: number;
    scoreTopK: number;
  };
  subsets: Array<{ id: number; label: string; channels: readonly string[] }>;
  /** Full-modality channel statistics of [En0, En1] (the alignment's targets). */
  fullModalityStats?: Array<{ mean: number[]; std: number[]; count: number }>;
  thresholds?: SubsetThresholds;
  training?: unknown;
  metrics?: unknown;
  files: Record<string, FileChecksum>;
  /**
   * SHA-256 of this manifest's canonical JSON without this field (manifestChecksum): an edited
   * manifest (thresholds, sizes) is refused. Absent in bundles written before it existed.
   */
  manifestSha256?: string;
}

export interface BundleContents {
  encoder: EncoderWeights;
  headConfig: HeadConfig;
  /** Head parameters, plus the modality affine's when the model was trained with it (e.g. the trainer's `params`). */
  params: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;
  geometry: PreprocessGeometry;
  preset?: string;
  /** Full-modality statistics of [En0, En1] (trainer's `stats`). */
  stats?: readonly ChannelStats[];
  objective?: ObjectiveConfig;
  thresholds?: SubsetThresholds;
  /** Training data summary (any JSON value). */
  training?: unknown;
  /** Evaluation metrics (any JSON value). */
  metrics?: unknown;
  /** Default: now. */
  createdAt?: Date;
}

export interface LoadedBundle {
  dir: string;
  modelPath: string;
  manifest: BundleManifest;
  head: { config: HeadConfig; params: WeightMap };
  /** The modality affine's parameters, when the model has one. */
  affine?: WeightMap;
  /** Things to tell the user that do not stop loading (e.g. a manifest without a checksum). */
  warnings: string[];
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Largest model.onnx / manifest accepted (a bigger file is not a bundle this tool wrote). */
const MAX_MODEL_BYTES = MAX_SAFETENSORS_BYTES;
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * SHA-256 of a regular file read in chunks (model files can be hundreds of MB), at most its
 * size at open: a FIFO or a symlink to /dev/zero is refused instead of hashed forever.
 * `signal` stops between chunks.
 */
export function sha256File(path: string, opts: { maxBytes?: number; signal?: AbortSignal } = {}): FileChecksum {
  const hash = createHash('sha256');
  const f = openRegularFile(path, {
    what: 'model file',
    maxBytes: opts.maxBytes ?? MAX_MODEL_BYTES,
    as: BundleError,
    code: 'bundle/unreadable',
    tooLargeCode: 'bundle/too-large',
  });
  const buf = Buffer.allocUnsafe(Math.min(8 << 20, Math.max(1, f.size)));
  try {
    for (let off = 0; off < f.size; off += buf.length) {
      if (opts.signal?.aborted) throw new BundleError('bundle/cancelled', 'checksum cancelled', path);
      const n = Math.min(buf.length, f.size - off);
      hash.update(f.read(off, n, buf).subarray(0, n));
    }
  } finally {
    f.close();
  }
  return { sha256: hash.digest('hex'), bytes: f.size };
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The manifest's checksum: SHA-256 of its canonical JSON (as written to disk) without `manifestSha256`. */
export function manifestChecksum(manifest: object): string {
  const { manifestSha256: _, ...rest } = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
  return sha256(new TextEncoder().encode(canonicalJson(rest)));
}

/** numpy.quantile(values, q) with the default linear interpolation. */
function quantileLinear(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Per-subset thresholds from the scores of NORMAL training slices (keys: subset ids 1..7).
 * Each is the `quantile` (default 0.99) of that subset's scores; decision: score > threshold.
 */
export function calibrateThresholds(
  scoresBySubset: ReadonlyMap<number, ArrayLike<number>> | Readonly<Record<number, ArrayLike<number>>>,
  quantile = THRESHOLD_QUANTILE,
): SubsetThresholds {
  if (!(quantile > 0 && quantile < 1)) throw new ConfigError('config/threshold', `threshold quantile must be in (0, 1), got ${quantile}`);
  const isMap = (s: typeof scoresBySubset): s is ReadonlyMap<number, ArrayLike<number>> => s instanceof Map;
  const entries: Array<[number, ArrayLike<number>]> = isMap(scoresBySubset)
    ? [...scoresBySubset.entries()]
    : Object.entries(scoresBySubset).map(([k, v]): [number, ArrayLike<number>] => [Number(k), v]);
  const out: SubsetThresholds = { quantile, method: 'linear', rule: 'anomalous when score > threshold', bySubset: {}, normalSlices: {} };
  for (const [id, scores] of entries.sort((a, b) => a[0] - b[0])) {
    if (!MODALITY_SUBSETS[id - 1] || !Number.isInteger(id)) throw new ConfigError('config/threshold', `subset id must be 1..7, got ${id}`);
    if (scores.length === 0)
      throw new ConfigError('config/threshold', `no normal training scores for subset ${id} (${MODALITY_SUBSETS[id - 1].label})`);
    const sorted = Float64Array.from(scores).sort();
    if (!sorted.every(Number.isFinite)) throw new ConfigError('config/threshold', `subset ${id} has non-finite scores`);
    out.bySubset[String(id)] = quantileLinear(sorted, quantile);
    out.normalSlices[String(id)] = sorted.length;
  }
  return out;
}

/**
 * Writes a bundle into `dir` (created if needed): builds model.onnx (symbolic batch, input C = geometry.crop),
 * head.safetensors and anyad.json, in that order, each atomically. Returns the manifest.
 */
export function writeBundle(dir: string, contents: BundleContents): BundleManifest {
  const root = resolve(dir);
  // A new folder is written under a temporary name and renamed when complete, so a failure
  // (disk full, a kill) never leaves a folder that looks like a bundle but is not one.
  if (!existsSync(root)) return writeStaged(root, (tmp) => writeBundleFiles(tmp, root, contents));
  return writeBundleFiles(root, root, contents);
}

/**
 * Runs `write` on a fresh hidden folder beside `dir`, then renames it to `dir` (which must not
 * exist); the hidden folder is removed if anything fails.
 */
export function writeStaged<T>(dir: string, write: (tmp: string) => T): T {
  mkdirs(dirname(dir));
  const tmp = join(dirname(dir), `.${basename(dir)}.${process.pid}.${Date.now().toString(36)}.partial`);
  try {
    mkdirs(tmp);
    const out = write(tmp);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      throw fileError(e, dir, 'create folder');
    }
    return out;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The manifest's description of model.onnx: its inputs and outputs for an input of `crop` × `crop` pixels. */
function inferenceModelDescription(c: number): BundleManifest['model'] {
  return {
    file: BUNDLE_FILES.model,
    batch: 'dynamic',
    inputSize: c,
    inputs: { [INFERENCE_NAMES.image]: `float32 [batch,3,${c},${c}]`, [INFERENCE_NAMES.subset]: 'int64 [batch], subset id 1..7' },
    outputs: {
      [INFERENCE_NAMES.map]: `float32 [batch,1,${c},${c}] mean over groups of 1-cos(En,De), bilinear align_corners upsampled`,
      [INFERENCE_NAMES.map256]: `float32 [batch,1,${EVAL_MAP_SIZE},${EVAL_MAP_SIZE}] map resized (half-pixel) and Gaussian-smoothed (5x5, sigma 4, zero padding)`,
      [INFERENCE_NAMES.score]: 'float32 [batch] mean of the top 1% of map256',
    },
    evalMapSize: EVAL_MAP_SIZE,
    scoreTopK: topKCount(EVAL_MAP_SIZE * EVAL_MAP_SIZE, SCORE_TOP_RATIO),
  };
}

function checkGeometry(g: BundleContents['geometry'], finalRoot: string): BundleContents['geometry'] {
  if (!Number.isSafeInteger(g.resize) || !Number.isSafeInteger(g.crop) || g.crop < 1 || g.crop > g.resize) {
    throw new ConfigError(
      'config/bundle',
      `preprocessing geometry needs integers 0 < crop <= resize, got resize ${g.resize}, crop ${g.crop}`,
      finalRoot,
    );
  }
  return g;
}

function headParam(contents: BundleContents, name: string, finalRoot: string) {
  const t = contents.params.get(name);
  if (!t) throw new ConfigError('config/bundle', `cannot write the bundle: head parameter '${name}' is missing`, finalRoot);
  return t;
}

/** Writes the three files into `root`; messages name `finalRoot`, the folder the caller asked for. */
function writeBundleFiles(root: string, finalRoot: string, contents: BundleContents): BundleManifest {
  const headConfig = validateHeadConfig(contents.headConfig);
  const { resize: r, crop: c } = checkGeometry(contents.geometry, finalRoot);
  const head: WeightMap = new Map();
  for (const [name] of headParamShapes(headConfig)) head.set(name, headParam(contents, name, finalRoot));
  const affine = pickAffineParams(contents.params);

  const model = buildInferenceModel({
    encoder: contents.encoder,
    head: { config: headConfig, params: head },
    affine,
    batch: 'dynamic',
    size: c,
  });
  const modelPath = join(root, BUNDLE_FILES.model);
  writeFileAtomic(modelPath, model);

  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of [...head, ...(affine ?? [])]) tensors[name] = { shape: [...t.shape], data: t.data };
  const headBytes = serializeSafetensors(tensors, { format: 'pt', anyad_head_config: JSON.stringify(headConfig) });
  writeFileAtomic(join(root, BUNDLE_FILES.head), headBytes);

  const prov = contents.encoder.provenance;
  const manifest: BundleManifest = {
    format: 'anyad-model-bundle',
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    createdAt: (contents.createdAt ?? new Date()).toISOString(),
    ...(prov.kind === 'random-init'
      ? { warning: `${describeProvenance(prov)}: maps and scores of this model are not meaningful for real data` }
      : {}),
    ...(contents.preset ? { preset: contents.preset } : {}),
    encoder: { config: contents.encoder.config, provenance: prov, description: describeProvenance(prov) },
    head: headConfig,
    modalityAffine: affine !== undefined,
    ...(contents.objective ? { objective: contents.objective } : {}),
    preprocessing: {
      resize: r,
      crop: c,
      channels: [...CHANNELS],
      steps:
        'per channel: min-max to uint8 (truncated), PIL bilinear resize to resize×resize, /255, centre crop crop×crop, ImageNet mean/std; missing channels = 0',
    },
    model: inferenceModelDescription(c),
    subsets: MODALITY_SUBSETS.map((s) => ({ id: s.id, label: s.label, channels: [...s.channels] })),
    ...(contents.stats
      ? { fullModalityStats: contents.stats.map((s) => ({ mean: Array.from(s.mean), std: Array.from(s.std), count: s.count })) }
      : {}),
    ...(contents.thresholds ? { thresholds: contents.thresholds } : {}),
    ...(contents.training !== undefined ? { training: contents.training } : {}),
    ...(contents.metrics !== undefined ? { metrics: contents.metrics } : {}),
    files: {
      [BUNDLE_FILES.model]: { sha256: sha256(model), bytes: model.byteLength },
      [BUNDLE_FILES.head]: { sha256: sha256(headBytes), bytes: headBytes.byteLength },
    },
  };
  manifest.manifestSha256 = manifestChecksum(manifest);
  writeFileAtomic(join(root, BUNDLE_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export interface LoadBundleOptions {
  /** Check the SHA-256 of model.onnx and head.safetensors (default true). */
  verify?: boolean;
  /** Stops the checksums between chunks (a BundleError 'bundle/cancelled'). */
  signal?: AbortSignal;
}

/** Reads and validates a bundle folder. */
export function loadBundle(dir: string, opts: LoadBundleOptions = {}): LoadedBundle {
  const m = readBundleManifest(dir);
  if (opts.verify ?? true) {
    for (const f of [BUNDLE_FILES.model, BUNDLE_FILES.head]) checkFileSum(m, f, sha256File(join(m.root, f), { signal: opts.signal }));
  }
  return loadBundleParams(m);
}

/**
 * loadBundle with the checksums read in chunks without blocking the event loop, so that
 * `signal` (a Cancel, SIGTERM) stops hashing a large model.
 */
export async function loadBundleAsync(dir: string, opts: LoadBundleOptions = {}): Promise<LoadedBundle> {
  const m = readBundleManifest(dir);
  if (opts.verify ?? true) {
    for (const f of [BUNDLE_FILES.model, BUNDLE_FILES.head]) {
      const hash = createHash('sha256');
      const path = join(m.root, f);
      let bytes = 0;
      await readRegularFileAsync(path, {
        what: 'model file',
        maxBytes: MAX_MODEL_BYTES,
        as: BundleError,
        code: 'bundle/unreadable',
        tooLargeCode: 'bundle/too-large',
        signal: opts.signal,
        keep: false,
        onChunk: (c) => {
          hash.update(c);
          bytes += c.length;
        },
      });
      checkFileSum(m, f, { sha256: hash.digest('hex'), bytes });
    }
  }
  return loadBundleParams(m);
}

interface ReadManifest {
  root: string;
  manifestPath: string;
  manifest: BundleManifest;
  warnings: string[];
}

function readBundleManifest(dir: string): ReadManifest {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new BundleError('bundle/not-found', 'no such model folder', root);
  const missing = Object.values(BUNDLE_FILES).filter((f) => !existsSync(join(root, f)));
  if (missing.length) {
    throw new BundleError(
      'bundle/missing-file',
      `not a complete AnyAD model bundle: ${missing.join(', ')} missing (a bundle holds ${Object.values(BUNDLE_FILES).join(', ')})`,
      root,
    );
  }
  const manifestPath = join(root, BUNDLE_FILES.manifest);
  const text = readRegularTextFile(manifestPath, {
    what: 'manifest',
    maxBytes: MAX_MANIFEST_BYTES,
    as: BundleError,
    code: 'bundle/unreadable',
    tooLargeCode: 'bundle/too-large',
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BundleError('bundle/bad-json', `the manifest is not valid JSON (${(e as Error).message})`, manifestPath, { cause: e });
  }
  const warnings: string[] = [];
  const manifest = validateManifest(raw, manifestPath);
  if (manifest.manifestSha256 === undefined) {
    warnings.push(
      `${manifestPath}: the manifest has no checksum (written by an older AnyAD), so edits to it cannot be detected; retrain or re-export the model to add one`,
    );
  } else if (manifestChecksum(manifest) !== manifest.manifestSha256) {
    throw new BundleError(
      'bundle/manifest-tampered',
      'the manifest was changed after the model was written (its manifestSha256 does not match its content): thresholds, sizes or checksums in it cannot be trusted; restore the original anyad.json or retrain',
      manifestPath,
    );
  }
  return { root, manifestPath, manifest, warnings };
}

function checkFileSum({ root, manifest }: ReadManifest, f: string, got: FileChecksum): void {
  const want = manifest.files[f];
  if (got.sha256 !== want.sha256) {
    throw new BundleError(
      'bundle/checksum',
      `checksum mismatch: ${got.bytes} bytes with SHA-256 ${got.sha256.slice(0, 12)}…, the manifest expects ${want.bytes} bytes with ${want.sha256.slice(0, 12)}… (the file was changed or the bundle was written incompletely)`,
      join(root, f),
    );
  }
}

function loadBundleParams({ root, manifest, warnings }: ReadManifest): LoadedBundle {
  const headPath = join(root, BUNDLE_FILES.head);
  let file;
  try {
    file = readSafetensors(headPath, { what: 'head' });
  } catch (e) {
    if (e instanceof SafetensorsError) throw new BundleError('bundle/bad-head', e.reason, headPath, { cause: e });
    throw e;
  }
  const head = loadHeadParams(file, manifest.head);
  const affineNames = [...file.tensors.keys()].filter((k) => k.startsWith('modality_affine.'));
  const affine = manifest.modalityAffine
    ? pickAffineParams(new Map(affineNames.map((k) => [k, getFloat32(file, k, undefined, headPath)])))
    : undefined;
  if (manifest.modalityAffine && !affine)
    throw new BundleError(
      'bundle/bad-head',
      'the manifest says the model has a modality affine, but head.safetensors holds none',
      headPath,
    );
  // A NaN/Inf parameter would give NaN maps and scores that every threshold silently calls normal.
  for (const [name, t] of [...head.params, ...(affine ?? [])]) {
    const bad = t.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0)
      throw new BundleError(
        'bundle/non-finite',
        `parameter '${name}' holds a non-finite value (${t.data[bad]} at index ${bad}); the model is damaged, retrain it`,
        headPath,
      );
  }
  return { dir: root, modelPath: join(root, BUNDLE_FILES.model), manifest, head, affine, warnings };
}

/** Sane ranges of the manifest's numbers: far beyond any real model, small enough to be safe to build. */
const ENCODER_RANGES: Record<string, [number, number]> = {
  embedDim: [1, 8192],
  depth: [1, 128],
  numHeads: [1, 128],
  patchSize: [1, 64],
  registers: [0, 64],
};
const HEAD_RANGES: Record<string, [number, number]> = {
  dim: [1, 4096],
  heads: [1, 128],
  inpCount: [1, 256],
  decoderDepth: [2, 64],
  mlpRatio: [0, 64],
};

/** Checks the manifest's shape; every message names the field. */
type ManifestFail = (msg: string) => never;
/** v as an object, or a failure naming the field. */
type ManifestObject = (v: unknown, name: string) => Record<string, unknown>;

function validateManifest(raw: unknown, file: string): BundleManifest {
  const fail: ManifestFail = (msg) => {
    throw new BundleError('bundle/bad-manifest', msg, file);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('the manifest must be a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format !== 'anyad-model-bundle') fail(`'format' must be "anyad-model-bundle", got ${JSON.stringify(m.format)}`);
  if (m.schemaVersion !== BUNDLE_SCHEMA_VERSION) {
    fail(
      typeof m.schemaVersion === 'number' && m.schemaVersion > BUNDLE_SCHEMA_VERSION
        ? `bundle schema version ${m.schemaVersion} is newer than this AnyAD understands (${BUNDLE_SCHEMA_VERSION}); update the extension`
        : `'schemaVersion' must be ${BUNDLE_SCHEMA_VERSION}, got ${JSON.stringify(m.schemaVersion)}`,
    );
  }
  const obj: ManifestObject = (v, name) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`'${name}' must be an object`);
    return v as Record<string, unknown>;
  };
  checkManifestGeometry(m, obj, fail);
  checkManifestNetworks(m, obj, fail, file);
  if (typeof m.modalityAffine !== 'boolean') fail(`'modalityAffine' must be true or false`);
  checkManifestFiles(m, obj, fail);
  checkManifestCalibration(m, obj, fail);
  return m as unknown as BundleManifest;
}

/** 'preprocessing' and 'model': the image geometry, channels and batch. */
function checkManifestGeometry(m: Record<string, unknown>, obj: ManifestObject, fail: ManifestFail): void {
  const pre = obj(m.preprocessing, 'preprocessing');
  if (
    !Number.isSafeInteger(pre.resize) ||
    !Number.isSafeInteger(pre.crop) ||
    (pre.crop as number) < 1 ||
    (pre.crop as number) > (pre.resize as number) ||
    (pre.resize as number) > MAX_IMAGE_SIZE
  ) {
    fail(
      `'preprocessing' needs integers 0 < crop <= resize <= ${MAX_IMAGE_SIZE}, got resize ${JSON.stringify(pre.resize)}, crop ${JSON.stringify(pre.crop)}`,
    );
  }
  if (JSON.stringify(pre.channels) !== JSON.stringify(CHANNELS))
    fail(`'preprocessing.channels' must be ${JSON.stringify(CHANNELS)}, got ${JSON.stringify(pre.channels)}`);
  const model = obj(m.model, 'model');
  // Bundles written before the symbolic batch say batch 1: they still run, one slice at a time.
  if ((model.batch !== 1 && model.batch !== 'dynamic') || model.inputSize !== pre.crop)
    fail(`'model' must have batch "dynamic" (or 1, an older bundle) and inputSize = preprocessing.crop (${String(pre.crop)})`);
}

/** 'encoder' and 'head': detection sizes its batches from these, so each must be a sane number. */
function checkManifestNetworks(m: Record<string, unknown>, obj: ManifestObject, fail: ManifestFail, file: string): void {
  const enc = obj(m.encoder, 'encoder');
  const encConfig = obj(enc.config, 'encoder.config');
  // Detection sizes its batches from these: each must be a sane number.
  for (const [k, [lo, hi]] of Object.entries(ENCODER_RANGES)) {
    const v = encConfig[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi)
      fail(`'encoder.config.${k}' must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  }
  obj(enc.provenance, 'encoder.provenance');
  const headIn = obj(m.head, 'head');
  for (const [k, [lo, hi]] of Object.entries(HEAD_RANGES)) {
    const v = headIn[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi)
      fail(`'head.${k}' must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  }
  try {
    validateHeadConfig(headIn as unknown as HeadConfig, file);
  } catch (e) {
    fail(`'head': ${(e as { reason?: string }).reason ?? (e as Error).message}`);
  }
}

/** 'files' (checksums and sizes of model.onnx and head.safetensors) and 'manifestSha256'. */
function checkManifestFiles(m: Record<string, unknown>, obj: ManifestObject, fail: ManifestFail): void {
  const files = obj(m.files, 'files');
  for (const f of [BUNDLE_FILES.model, BUNDLE_FILES.head]) {
    const c = obj(files[f], `files.${f}`);
    if (
      typeof c.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(c.sha256) ||
      !Number.isSafeInteger(c.bytes) ||
      (c.bytes as number) < 0 ||
      (c.bytes as number) > MAX_MODEL_BYTES
    )
      fail(`'files.${f}' needs a hex sha256 and a byte count (at most ${MAX_MODEL_BYTES})`);
  }
  if (m.manifestSha256 !== undefined && (typeof m.manifestSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.manifestSha256)))
    fail(`'manifestSha256' must be a hex SHA-256`);
}

/** The optional 'fullModalityStats' and 'thresholds'. */
function checkManifestCalibration(m: Record<string, unknown>, obj: ManifestObject, fail: ManifestFail): void {
  if (m.fullModalityStats !== undefined) {
    if (!Array.isArray(m.fullModalityStats)) fail(`'fullModalityStats' must be a list`);
    (m.fullModalityStats as unknown[]).forEach((g, i) => {
      const st = obj(g, `fullModalityStats[${i}]`);
      for (const key of ['mean', 'std'] as const) {
        const a = st[key];
        if (!Array.isArray(a) || a.length > 4096 || !a.every((x) => typeof x === 'number' && Number.isFinite(x)))
          fail(`'fullModalityStats[${i}].${key}' must be a list of finite numbers`);
      }
    });
  }
  if (m.thresholds !== undefined) {
    const t = obj(m.thresholds, 'thresholds');
    const by = obj(t.bySubset, 'thresholds.bySubset');
    for (const [k, v] of Object.entries(by)) {
      if (!MODALITY_SUBSETS[Number(k) - 1] || typeof v !== 'number' || !Number.isFinite(v))
        fail(`'thresholds.bySubset.${k}' must be a finite number for a subset id 1..7`);
    }
  }
}

/** The threshold of a subset, or undefined when the bundle was not calibrated for it. */
export function subsetThreshold(manifest: BundleManifest, subsetId: number): number | undefined {
  return manifest.thresholds?.bySubset[String(subsetId)];
}
