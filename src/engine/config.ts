/**
 * Workspace config `anyad.json`: parse (JSON with comments and trailing commas, as VS Code
 * edits it), validate by hand with errors that name the key path, and fill in defaults.
 * schemas/anyad.schema.json describes the same shape for IntelliSense; a test keeps the
 * two in step.
 */
import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors';
import { readRegularTextFile } from './util/fileio';
import { globComplexityProblem } from './util/glob';
import { modelPreset } from './model/presets';
import { type EncoderSource, parseEncoderSpec } from './hub/names';
import {
  CASE_FILE_ROLES,
  MASKING_SCHEMES,
  MODEL_PRESET_NAMES,
  PROVIDERS,
  type CaseFileRole,
  type MaskingScheme,
  type ModelPresetName,
  type ProviderChoice,
} from '../shared/vocabulary';

/** Extra file-name patterns per role, the keys of `data.sequences` (`*` any run of characters, `?` one). */
export type SequencePatterns = Record<CaseFileRole, string[]>;

export interface SliceSelection {
  axis: 'axial';
  /** First slice index (0-based, canonical RAS volume, inferior → superior). */
  start: number;
  /** Last slice index, inclusive. */
  end: number;
  step: number;
}

export interface DataConfig {
  /** Absolute folder to scan for studies (written relative to the config file). */
  root: string;
  sequences: SequencePatterns;
  /** Files assigned to a sequence by hand: absolute path → role (written relative to the config file). */
  assignments: Record<string, CaseFileRole>;
  slices: SliceSelection;
  /** Label values that make a slice anomalous; 'any' = every label > 0. */
  anomalyLabels: 'any' | number[];
  /**
   * Cases → train / test by `trainFraction`; then `valFraction` of the train cases are held
   * out as the validation split (model selection and thresholds); the test split is scored once.
   */
  split: { trainFraction: number; valFraction: number; seed: number };
  /** A slice is anomalous when its native-resolution label holds at least this many anomalous voxels. */
  minLesionVoxels: number;
  /** Cases without a label file: left out ('exclude'), or all their slices are normal ('normal'). */
  unlabelled: 'exclude' | 'normal';
}

export interface PreprocessConfig {
  /** Square size the slice is resized to (PIL bilinear); default: the model preset's. */
  resize: number;
  /** Centre crop after the resize; a multiple of the ViT patch size 14. */
  crop: number;
}

export interface ModelConfig {
  preset: ModelPresetName;
  /** Absolute path of DINOv2 encoder weights (safetensors; Hugging Face, Meta or AnyAD-reference naming). */
  encoderWeights?: string;
  /** Absolute path of the encoder's config JSON (HF config.json or reference config). */
  encoderConfig?: string;
  /** Named encoder: a hub model (short DINOv2 name or org/name[@revision], via the HF cache) or a local file/folder. */
  encoder?: EncoderSource;
  /** Register tokens to use (default: the checkpoint's; 0 = reference-compatible features). */
  registers?: number;
  /** Seed of the random-init encoder used when no weights are given (reports say RANDOM-INIT). */
  randomEncoderSeed: number;
}

export interface TrainConfig {
  steps: number;
  batchSize: number;
  /** Peak learning rate of the warm-cosine schedule (it decays to lr/10); default the reference's 1e-3. */
  lr?: number;
  seed: number;
  masking: MaskingScheme;
  /** Evaluate on the test split every this many steps (and at the end); 0 = only at the end. */
  evalEvery: number;
  lambdaGather: number;
  lambdaAlign: number;
  /** Train the modality-conditioned affine through which the alignment loss acts. */
  alignment: boolean;
  provider: ProviderChoice;
  /** Intra-op threads (0 = one per core). */
  threads: number;
}

export interface WorkspaceConfig {
  /** The config file this came from; undefined for pure defaults. */
  file?: string;
  /** Folder relative paths are resolved against. */
  baseDir: string;
  data: DataConfig;
  preprocess: PreprocessConfig;
  /** Absolute output folder. */
  output: { dir: string };
  model: ModelConfig;
  train: TrainConfig;
}

/** The defaults, as they would be written in anyad.json (paths relative). */
export const CONFIG_DEFAULTS = deepFreeze({
  data: {
    root: '.',
    sequences: { flair: [], t1: [], t1ce: [], t2: [], label: [] } as Record<CaseFileRole, string[]>,
    assignments: {} as Record<string, CaseFileRole>,
    slices: { axis: 'axial' as const, start: 80, end: 120, step: 5 },
    anomalyLabels: 'any' as 'any' | number[],
    split: { trainFraction: 0.8, valFraction: 0.2, seed: 0 },
    minLesionVoxels: 1,
    unlabelled: 'exclude' as 'exclude' | 'normal',
  },
  /** The default preset's ('paper') geometry; another preset brings its own (model/presets.ts). */
  preprocess: { resize: 448, crop: 392 },
  output: { dir: 'anyad-out' },
  model: { preset: 'paper' as ModelPresetName, randomEncoderSeed: 0 },
  train: {
    steps: 1000,
    batchSize: 16,
    seed: 0,
    masking: 'sample' as TrainConfig['masking'],
    evalEvery: 250,
    lambdaGather: 0.2,
    lambdaAlign: 0.2,
    alignment: true,
    provider: 'auto' as TrainConfig['provider'],
    threads: 0,
  },
});

/**
 * Upper bounds of the run's size: far above any sensible run, low enough that a typo (steps
 * 1e12, batchSize 4096, resize 100000) is a clear error instead of a months-long run or an
 * out-of-memory crash.
 */
export const MAX_TRAIN_STEPS = 1_000_000;
export const MAX_BATCH_SIZE = 256;
export const MAX_IMAGE_SIZE = 1024;

/** ViT patch size all supported encoders use; the crop must be a multiple of it. */
export const PATCH_SIZE = 14;

/** A fully defaulted config for a folder with no anyad.json. */
export function defaultWorkspaceConfig(baseDir: string): WorkspaceConfig {
  return parseWorkspaceConfig({}, resolve(baseDir, 'anyad.json'), { virtual: true });
}

/**
 * Largest anyad.json read: a real config is a few KiB (thousands of data.assignments fit in
 * 1 MiB); the cap keeps a huge or endless file (a FIFO, /dev/zero) from stalling the host.
 */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** The text of an anyad.json: a regular UTF-8 file of at most MAX_CONFIG_BYTES. */
export function readConfigText(path: string): string {
  return readRegularTextFile(path, {
    what: 'config',
    maxBytes: MAX_CONFIG_BYTES,
    as: ConfigError,
    code: 'config/unreadable',
    tooLargeCode: 'config/too-large',
  });
}

/** Reads and validates an anyad.json file. */
export function loadWorkspaceConfig(path: string): WorkspaceConfig {
  return parseWorkspaceConfig(readConfigText(path), path);
}

/**
 * Validates a config given as JSON(C) text or an already-parsed value. `file` names the
 * config in errors and is the base for relative paths.
 */
export function parseWorkspaceConfig(json: string | unknown, file: string, opts: { virtual?: boolean } = {}): WorkspaceConfig {
  const value = typeof json === 'string' ? parseJsonc(json, file) : json;
  const v = new Validator(file);
  const top = v.object(value, '');
  v.noUnknownKeys(top, '', ['$schema', 'data', 'preprocess', 'output', 'model', 'train']);
  const baseDir = dirname(resolve(file));

  const data = v.object(top.data ?? {}, 'data');
  v.noUnknownKeys(data, 'data', ['root', 'sequences', 'assignments', 'slices', 'anomalyLabels', 'split', 'minLesionVoxels', 'unlabelled']);
  const root = resolve(baseDir, v.nonEmptyString(data.root ?? CONFIG_DEFAULTS.data.root, 'data.root'));

  const seqIn = v.object(data.sequences ?? {}, 'data.sequences');
  v.noUnknownKeys(seqIn, 'data.sequences', CASE_FILE_ROLES);
  const sequences = {} as SequencePatterns;
  for (const k of CASE_FILE_ROLES) sequences[k] = v.patterns(seqIn[k], `data.sequences.${k}`);
  const assignments = v.assignments(data.assignments ?? {}, 'data.assignments', baseDir);

  const slIn = v.object(data.slices ?? {}, 'data.slices');
  v.noUnknownKeys(slIn, 'data.slices', ['axis', 'start', 'end', 'step']);
  const d = CONFIG_DEFAULTS.data.slices;
  const axis = slIn.axis ?? d.axis;
  if (axis !== 'axial') v.fail('data.slices.axis', `must be "axial" (the only axis supported now), got ${JSON.stringify(axis)}`);
  const start = v.integer(slIn.start ?? d.start, 'data.slices.start', 0);
  const end = v.integer(slIn.end ?? d.end, 'data.slices.end', 0);
  const step = v.integer(slIn.step ?? d.step, 'data.slices.step', 1);
  if (end < start) v.fail('data.slices.end', `must be >= data.slices.start (${start}), got ${end}`);

  const anomalyLabels = v.anomalyLabels(data.anomalyLabels ?? CONFIG_DEFAULTS.data.anomalyLabels, 'data.anomalyLabels');

  const spIn = v.object(data.split ?? {}, 'data.split');
  v.noUnknownKeys(spIn, 'data.split', ['trainFraction', 'valFraction', 'seed']);
  const trainFraction = spIn.trainFraction ?? CONFIG_DEFAULTS.data.split.trainFraction;
  if (typeof trainFraction !== 'number' || !(trainFraction > 0 && trainFraction < 1)) {
    v.fail('data.split.trainFraction', `must be a number strictly between 0 and 1, got ${JSON.stringify(trainFraction)}`);
  }
  const valFraction = spIn.valFraction ?? CONFIG_DEFAULTS.data.split.valFraction;
  if (typeof valFraction !== 'number' || !(valFraction > 0 && valFraction < 1)) {
    v.fail(
      'data.split.valFraction',
      `must be a number strictly between 0 and 1 (the share of training cases held out for model selection), got ${JSON.stringify(valFraction)}`,
    );
  }
  const seed = v.integer(spIn.seed ?? CONFIG_DEFAULTS.data.split.seed, 'data.split.seed', 0, 0xffffffff);
  const minLesionVoxels = v.integer(data.minLesionVoxels ?? CONFIG_DEFAULTS.data.minLesionVoxels, 'data.minLesionVoxels', 1);
  const unlabelled = data.unlabelled ?? CONFIG_DEFAULTS.data.unlabelled;
  if (unlabelled !== 'exclude' && unlabelled !== 'normal')
    v.fail('data.unlabelled', `must be "exclude" or "normal", got ${JSON.stringify(unlabelled)}`);

  // The model section first: an unset preprocess geometry follows the model preset's.
  const model = parseModel(v, v.object(top.model ?? {}, 'model'), baseDir);
  const presetGeometry = modelPreset(model.preset).geometry;
  const ppIn = v.object(top.preprocess ?? {}, 'preprocess');
  v.noUnknownKeys(ppIn, 'preprocess', ['resize', 'crop']);
  const resize = v.integer(ppIn.resize ?? presetGeometry.resize, 'preprocess.resize', PATCH_SIZE, MAX_IMAGE_SIZE);
  const crop = v.integer(ppIn.crop ?? Math.min(presetGeometry.crop, resize), 'preprocess.crop', PATCH_SIZE, MAX_IMAGE_SIZE);
  if (crop % PATCH_SIZE !== 0) v.fail('preprocess.crop', `must be a multiple of ${PATCH_SIZE} (the ViT patch size), got ${crop}`);
  if (crop > resize) v.fail('preprocess.crop', `must be <= preprocess.resize (${resize}), got ${crop}`);

  const outIn = v.object(top.output ?? {}, 'output');
  v.noUnknownKeys(outIn, 'output', ['dir']);
  const outDir = resolve(baseDir, v.nonEmptyString(outIn.dir ?? CONFIG_DEFAULTS.output.dir, 'output.dir'));

  const train = parseTrain(v, v.object(top.train ?? {}, 'train'));

  return {
    file: opts.virtual ? undefined : resolve(file),
    baseDir,
    data: {
      root,
      sequences,
      assignments,
      slices: { axis: 'axial', start, end, step },
      anomalyLabels,
      split: { trainFraction: trainFraction as number, valFraction: valFraction as number, seed },
      minLesionVoxels,
      unlabelled: unlabelled as 'exclude' | 'normal',
    },
    preprocess: { resize, crop },
    output: { dir: outDir },
    model,
    train,
  };
}

function parseModel(v: Validator, m: Record<string, unknown>, baseDir: string): ModelConfig {
  v.noUnknownKeys(m, 'model', ['preset', 'encoder', 'encoderWeights', 'encoderConfig', 'registers', 'randomEncoderSeed']);
  const d = CONFIG_DEFAULTS.model;
  const out: ModelConfig = {
    preset: v.oneOf(m.preset ?? d.preset, 'model.preset', MODEL_PRESET_NAMES),
    randomEncoderSeed: v.integer(m.randomEncoderSeed ?? d.randomEncoderSeed, 'model.randomEncoderSeed', 0, 0xffffffff),
  };
  if (m.encoderWeights !== undefined) out.encoderWeights = resolve(baseDir, v.nonEmptyString(m.encoderWeights, 'model.encoderWeights'));
  if (m.encoderConfig !== undefined) out.encoderConfig = resolve(baseDir, v.nonEmptyString(m.encoderConfig, 'model.encoderConfig'));
  if (m.encoder !== undefined) {
    if (out.encoderWeights) v.fail('model.encoder', 'give model.encoder or model.encoderWeights, not both');
    const spec = v.nonEmptyString(m.encoder, 'model.encoder');
    try {
      out.encoder = parseEncoderSpec(spec, baseDir);
    } catch (e) {
      v.fail('model.encoder', (e as Error).message.replace(/^model\.encoder: /, '')); // the validator names the key and the file
    }
  }
  if (out.encoderConfig && !out.encoderWeights && out.encoder?.kind !== 'local')
    v.fail('model.encoderConfig', 'needs model.encoderWeights or a local model.encoder (it describes that checkpoint)');
  if (m.registers !== undefined) out.registers = v.integer(m.registers, 'model.registers', 0, 64);
  return out;
}

function parseTrain(v: Validator, t: Record<string, unknown>): TrainConfig {
  v.noUnknownKeys(t, 'train', [
    'steps',
    'batchSize',
    'lr',
    'seed',
    'masking',
    'evalEvery',
    'lambdaGather',
    'lambdaAlign',
    'alignment',
    'provider',
    'threads',
  ]);
  const d = CONFIG_DEFAULTS.train;
  const out: TrainConfig = {
    steps: v.integer(t.steps ?? d.steps, 'train.steps', 1, MAX_TRAIN_STEPS),
    batchSize: v.integer(t.batchSize ?? d.batchSize, 'train.batchSize', 1, MAX_BATCH_SIZE),
    seed: v.integer(t.seed ?? d.seed, 'train.seed', 0, 0xffffffff),
    masking: v.oneOf(t.masking ?? d.masking, 'train.masking', MASKING_SCHEMES),
    evalEvery: v.integer(t.evalEvery ?? d.evalEvery, 'train.evalEvery', 0, MAX_TRAIN_STEPS),
    lambdaGather: v.nonNegativeNumber(t.lambdaGather ?? d.lambdaGather, 'train.lambdaGather'),
    lambdaAlign: v.nonNegativeNumber(t.lambdaAlign ?? d.lambdaAlign, 'train.lambdaAlign'),
    alignment: v.boolean(t.alignment ?? d.alignment, 'train.alignment'),
    provider: v.oneOf(t.provider ?? d.provider, 'train.provider', PROVIDERS),
    threads: v.integer(t.threads ?? d.threads, 'train.threads', 0, 1024),
  };
  if (t.lr !== undefined) {
    const lr = v.nonNegativeNumber(t.lr, 'train.lr');
    if (!(lr > 0 && lr < 1)) v.fail('train.lr', `must be a number in (0, 1), got ${lr}`);
    out.lr = lr;
  }
  if (out.lambdaAlign > 0 && !out.alignment)
    v.fail('train.lambdaAlign', 'must be 0 when train.alignment is false (the alignment loss acts through the modality affine)');
  return out;
}

/** Hand validation helpers; every failure is a ConfigError naming the key path. */
class Validator {
  constructor(private readonly file: string) {}

  fail(path: string, what: string): never {
    throw new ConfigError('config/invalid', `${path || 'the config'} ${what}`, this.file);
  }

  object(x: unknown, path: string): Record<string, unknown> {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(path, `must be an object, got ${describe(x)}`);
    return x as Record<string, unknown>;
  }

  noUnknownKeys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        const where = path ? `${path}.${k}` : k;
        throw new ConfigError('config/unknown-key', `unknown key ${where} (allowed here: ${allowed.join(', ')})`, this.file);
      }
    }
  }

  integer(x: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
      const what =
        min === 1 && max === Number.MAX_SAFE_INTEGER
          ? 'a positive integer'
          : min === 0 && max === Number.MAX_SAFE_INTEGER
            ? 'a non-negative integer'
            : `an integer in [${min}, ${max}]`;
      this.fail(path, `must be ${what}, got ${describe(x)}`);
    }
    return x;
  }

  oneOf<T extends string>(x: unknown, path: string, allowed: readonly T[]): T {
    if (typeof x !== 'string' || !(allowed as readonly string[]).includes(x))
      this.fail(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(x)}`);
    return x as T;
  }

  boolean(x: unknown, path: string): boolean {
    if (typeof x !== 'boolean') this.fail(path, `must be true or false, got ${describe(x)}`);
    return x;
  }

  nonNegativeNumber(x: unknown, path: string): number {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) this.fail(path, `must be a non-negative number, got ${describe(x)}`);
    return x;
  }

  nonEmptyString(x: unknown, path: string): string {
    if (typeof x !== 'string' || x.trim() === '') this.fail(path, `must be a non-empty string, got ${describe(x)}`);
    return x;
  }

  /** A pattern or list of patterns matched against file names (not paths). */
  patterns(x: unknown, path: string): string[] {
    if (x === undefined) return [];
    const list = typeof x === 'string' ? [x] : x;
    if (!Array.isArray(list)) this.fail(path, `must be a file-name pattern or a list of them, got ${describe(x)}`);
    return list.map((p, i) => {
      const at = `${path}[${i}]`;
      const s = this.nonEmptyString(p, at);
      if (s.includes('/') || s.includes('\\')) this.fail(at, `must be a file-name pattern without folders, got ${JSON.stringify(s)}`);
      const tooComplex = globComplexityProblem(s);
      if (tooComplex) this.fail(at, `pattern ${tooComplex}; use a simpler pattern (or data.assignments for single files)`);
      return s;
    });
  }

  /** File path (relative to the config) → sequence key; returned with absolute paths. */
  assignments(x: unknown, path: string, baseDir: string): Record<string, CaseFileRole> {
    const obj = this.object(x, path);
    const out: Record<string, CaseFileRole> = {};
    const from: Record<string, string> = {};
    for (const [rel, role] of Object.entries(obj)) {
      const at = `${path}[${JSON.stringify(rel)}]`;
      if (rel.trim() === '') this.fail(path, 'has an empty file path; give the file relative to anyad.json, e.g. "sub01/sub01_fla.nii.gz"');
      const key = this.oneOf(role, at, CASE_FILE_ROLES);
      const abs = resolve(baseDir, rel);
      // Two spellings of one file ("a/x.nii.gz", "./a/x.nii.gz") must not say different things.
      if (from[abs] !== undefined && out[abs] !== key)
        this.fail(at, `assigns ${abs} a second time (as ${key}; ${JSON.stringify(from[abs])} says ${out[abs]}); keep one entry`);
      out[abs] = key;
      from[abs] = rel;
    }
    return out;
  }

  anomalyLabels(x: unknown, path: string): 'any' | number[] {
    if (x === 'any') return 'any';
    if (!Array.isArray(x) || x.length === 0)
      this.fail(path, `must be "any" or a non-empty list of positive integer labels, got ${describe(x)}`);
    const seen = new Set<number>();
    x.forEach((l, i) => {
      this.integer(l, `${path}[${i}]`, 1, 65535);
      if (seen.has(l)) this.fail(`${path}[${i}]`, `repeats label ${l}`);
      seen.add(l);
    });
    return [...seen].sort((a, b) => a - b);
  }
}

function describe(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return 'an array';
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  return JSON.stringify(x);
}

/** JSON.parse after removing comments and trailing commas; syntax errors give line:column. */
export function parseJsonc(text: string, file: string): unknown {
  const clean = stripJsoncExtras(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  try {
    return JSON.parse(clean);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = '';
    if (m) {
      // Comments are replaced by spaces of equal length, so positions map 1:1 onto the text.
      const before = clean.slice(0, Number(m[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${Number(m[1]) - before.lastIndexOf('\n')}`;
    }
    throw new ConfigError('config/syntax', `invalid JSON${where}: ${msg}`, file);
  }
}

/**
 * Blanks out `//` and `/* *\/` comments and trailing commas (before `}` or `]`), leaving
 * string literals untouched. Removed characters become spaces (newlines are kept) so that
 * JSON.parse error positions still point at the original text.
 */
export function stripJsoncExtras(text: string): string {
  const out = text.split('');
  const n = text.length;
  let i = 0;
  let lastComma = -1; // index of a comma not yet followed by a value
  while (i < n) {
    const ch = text[i];
    if (ch === '"') {
      lastComma = -1;
      i++;
      while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') out[i++] = ' ';
    } else if (ch === '/' && text[i + 1] === '*') {
      const endAt = text.indexOf('*/', i + 2);
      const stop = endAt < 0 ? n : endAt + 2;
      for (; i < stop; i++) if (text[i] !== '\n' && text[i] !== '\r') out[i] = ' ';
    } else if (ch === ',') {
      lastComma = i++;
    } else if (ch === '}' || ch === ']') {
      if (lastComma >= 0) out[lastComma] = ' ';
      lastComma = -1;
      i++;
    } else {
      if (!/\s/.test(ch)) lastComma = -1;
      i++;
    }
  }
  return out.join('');
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The commented anyad.json the extension offers to create in a workspace that has none. */
export const CONFIG_TEMPLATE = `{
  // AnyAD workspace config: see the README's "Workspace config" section.
  "data": {
    "root": ".",                                   // folder with the studies
    "slices": { "axis": "axial", "start": 80, "end": 120, "step": 5 },
    "anomalyLabels": "any",
    "split": { "trainFraction": 0.8, "valFraction": 0.2, "seed": 0 },
    "minLesionVoxels": 1,                           // a slice is anomalous from this many lesion voxels
    "unlabelled": "exclude"                         // cases without a label: "exclude" or "normal"
  },
  // "cpu" = ViT-S/14 at 224 px (laptop), "paper" = ViT-B/14 at 392 px, "tiny-cpu" = demo size.
  // Without "encoderWeights" (a DINOv2 .safetensors file) a seeded random encoder is used.
  "model": { "preset": "cpu" },
  "train": { "steps": 1000, "batchSize": 16, "evalEvery": 250 },
  "output": { "dir": "anyad-out" }
}
`;
