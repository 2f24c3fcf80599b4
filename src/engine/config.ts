/**
 * Workspace config `anyad.json`: parse (JSON with comments and trailing commas, as VS Code
 * edits it, with jsonc-parser), validate with schemas/anyad.schema.json (the one description
 * of its shape: VS Code's IntelliSense reads it too) into errors that name the key path, what
 * was expected and what was found, check the rules between keys, and fill in defaults.
 * The TypeScript types below are written by hand; test/study/config.test.ts fails when they
 * and the schema disagree on a key, a default or a limit.
 */
import { dirname, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
// The ESM build: the package's UMD entry hides its internal requires from bundlers.
import { type ParseError, type ParseErrorCode, parse as parseJsoncText, printParseErrorCode } from 'jsonc-parser/lib/esm/main.js';
import CONFIG_SCHEMA from '../../schemas/anyad.schema.json';
// ajv's code for the schema, generated ahead of time: compiling it here would block the extension host for ~200 ms.
import validateConfigSchema from './configSchemaValidator.generated';
import { ConfigError } from './errors';
import { readRegularTextFile } from './util/fileio';
import { globComplexityProblem } from './util/glob';
import { modelPreset } from './model/presets';
import { type EncoderSource, parseEncoderSpec } from './hub/names';
import {
  CASE_FILE_ROLES,
  type CaseFileRole,
  type MaskingScheme,
  type ModelPresetName,
  type ProviderChoice,
  type SliceAxis,
  type UnlabelledRule,
} from '../shared/vocabulary';

/** Extra file-name patterns per role, the keys of `data.sequences` (`*` any run of characters, `?` one). */
export type SequencePatterns = Record<CaseFileRole, string[]>;

export interface SliceSelection {
  axis: SliceAxis;
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
  unlabelled: UnlabelledRule;
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

/** Every key that has a default (model.encoder…, model.registers and train.lr have none). */
interface ConfigDefaults {
  data: DataConfig;
  preprocess: PreprocessConfig;
  output: WorkspaceConfig['output'];
  model: Pick<ModelConfig, 'preset' | 'randomEncoderSeed'>;
  train: Omit<TrainConfig, 'lr'>;
}

/** The defaults, as they would be written in anyad.json (paths relative). */
export const CONFIG_DEFAULTS = deepFreeze<ConfigDefaults>({
  data: {
    root: '.',
    sequences: { flair: [], t1: [], t1ce: [], t2: [], label: [] },
    assignments: {},
    slices: { axis: 'axial', start: 80, end: 120, step: 5 },
    anomalyLabels: 'any',
    split: { trainFraction: 0.8, valFraction: 0.2, seed: 0 },
    minLesionVoxels: 1,
    unlabelled: 'exclude',
  },
  /** The default preset's ('paper') geometry; another preset brings its own (model/presets.ts). */
  preprocess: { resize: 448, crop: 392 },
  output: { dir: 'anyad-out' },
  model: { preset: 'paper', randomEncoderSeed: 0 },
  train: {
    steps: 1000,
    batchSize: 16,
    seed: 0,
    masking: 'sample',
    evalEvery: 250,
    lambdaGather: 0.2,
    lambdaAlign: 0.2,
    alignment: true,
    provider: 'auto',
    threads: 0,
  },
});

const SCHEMA_PROPERTIES = CONFIG_SCHEMA.properties;

/**
 * Upper bounds of the run's size: far above any sensible run, low enough that a typo (steps
 * 1e12, batchSize 4096, resize 100000) is a clear error instead of a months-long run or an
 * out-of-memory crash. Read from the schema, where they are written once.
 */
export const MAX_TRAIN_STEPS = SCHEMA_PROPERTIES.train.properties.steps.maximum;
export const MAX_BATCH_SIZE = SCHEMA_PROPERTIES.train.properties.batchSize.maximum;
export const MAX_IMAGE_SIZE = SCHEMA_PROPERTIES.preprocess.properties.resize.maximum;

/** ViT patch size all supported encoders use; the crop must be a multiple of it (the schema's crop.multipleOf). */
export const PATCH_SIZE = SCHEMA_PROPERTIES.preprocess.properties.crop.multipleOf;

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
 * Validates a config given as JSON(C) text or an already-parsed value: first against
 * schemas/anyad.schema.json (types, ranges, choices, unknown keys), then the rules that
 * relate keys to one another or need the file system's view of paths, which a schema cannot
 * say. `file` names the config in errors and is the base for relative paths.
 */
export function parseWorkspaceConfig(json: unknown, file: string, opts: { virtual?: boolean } = {}): WorkspaceConfig {
  const value = typeof json === 'string' ? parseJsonc(json, file) : json;
  const written = checkAgainstSchema(value, file);
  const fail = (path: string, what: string): never => {
    throw new ConfigError('config/invalid', `${path} ${what}`, file);
  };
  const baseDir = dirname(resolve(file));

  const data = written.data ?? {};
  const root = resolve(baseDir, data.root ?? CONFIG_DEFAULTS.data.root);
  const sequences = {} as SequencePatterns;
  for (const role of CASE_FILE_ROLES) sequences[role] = filePatterns(data.sequences?.[role], `data.sequences.${role}`, fail);
  const assignments = resolveAssignments(data.assignments ?? {}, baseDir, fail);
  const slices = withDefaults(CONFIG_DEFAULTS.data.slices, data.slices);
  if (slices.end < slices.start) fail('data.slices.end', `must be >= data.slices.start (${slices.start}), got ${slices.end}`);
  const anomalyLabels = data.anomalyLabels ?? CONFIG_DEFAULTS.data.anomalyLabels;

  // The model section first: an unset preprocess geometry follows the model preset's.
  const model = parseModel(written.model ?? {}, baseDir, fail);
  const presetGeometry = modelPreset(model.preset).geometry;
  const resize = written.preprocess?.resize ?? presetGeometry.resize;
  const crop = written.preprocess?.crop ?? Math.min(presetGeometry.crop, resize);
  if (crop > resize) fail('preprocess.crop', `must be <= preprocess.resize (${resize}), got ${crop}`);

  const train: TrainConfig = withDefaults(CONFIG_DEFAULTS.train, written.train);
  if (train.lambdaAlign > 0 && !train.alignment)
    fail('train.lambdaAlign', 'must be 0 when train.alignment is false (the alignment loss acts through the modality affine)');

  return {
    file: opts.virtual ? undefined : resolve(file),
    baseDir,
    data: {
      root,
      sequences,
      assignments,
      slices,
      anomalyLabels: anomalyLabels === 'any' ? 'any' : [...anomalyLabels].sort((a, b) => a - b),
      split: withDefaults(CONFIG_DEFAULTS.data.split, data.split),
      minLesionVoxels: data.minLesionVoxels ?? CONFIG_DEFAULTS.data.minLesionVoxels,
      unlabelled: data.unlabelled ?? CONFIG_DEFAULTS.data.unlabelled,
    },
    preprocess: { resize, crop },
    output: { dir: resolve(baseDir, written.output?.dir ?? CONFIG_DEFAULTS.output.dir) },
    model,
    train,
  };
}

type Fail = (path: string, what: string) => never;

/** A copy of `defaults` with the written keys in place; a key set to undefined (a value given by code) keeps its default. */
function withDefaults<D extends object, W extends object>(defaults: D, written: W | undefined): D & W {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(written ?? {})) if (v !== undefined) out[k] = v;
  return out as D & W;
}

function parseModel(m: WrittenModel, baseDir: string, fail: Fail): ModelConfig {
  const out: ModelConfig = {
    preset: m.preset ?? CONFIG_DEFAULTS.model.preset,
    randomEncoderSeed: m.randomEncoderSeed ?? CONFIG_DEFAULTS.model.randomEncoderSeed,
  };
  if (m.encoderWeights !== undefined) out.encoderWeights = resolve(baseDir, m.encoderWeights);
  if (m.encoderConfig !== undefined) out.encoderConfig = resolve(baseDir, m.encoderConfig);
  if (m.encoder !== undefined) {
    if (out.encoderWeights) fail('model.encoder', 'give model.encoder or model.encoderWeights, not both');
    try {
      out.encoder = parseEncoderSpec(m.encoder, baseDir);
    } catch (e) {
      fail('model.encoder', (e as Error).message.replace(/^model\.encoder: /, '')); // the error names the key and the file
    }
  }
  if (out.encoderConfig && !out.encoderWeights && out.encoder?.kind !== 'local')
    fail('model.encoderConfig', 'needs model.encoderWeights or a local model.encoder (it describes that checkpoint)');
  if (m.registers !== undefined) out.registers = m.registers;
  return out;
}

/** A pattern or list of patterns matched against file names, refused when too costly to match. */
function filePatterns(x: string | string[] | undefined, path: string, fail: Fail): string[] {
  const list = x === undefined ? [] : typeof x === 'string' ? [x] : [...x];
  list.forEach((p, i) => {
    const tooComplex = globComplexityProblem(p);
    if (tooComplex) fail(`${path}[${i}]`, `pattern ${tooComplex}; use a simpler pattern (or data.assignments for single files)`);
  });
  return list;
}

/** File path (relative to the config) → role, returned with absolute paths. */
function resolveAssignments(written: Record<string, CaseFileRole>, baseDir: string, fail: Fail): Record<string, CaseFileRole> {
  const out: Record<string, CaseFileRole> = {};
  const from: Record<string, string> = {};
  for (const [rel, role] of Object.entries(written)) {
    const abs = resolve(baseDir, rel);
    // Two spellings of one file ("a/x.nii.gz", "./a/x.nii.gz") must not say different things.
    if (from[abs] !== undefined && out[abs] !== role)
      fail(
        `data.assignments[${JSON.stringify(rel)}]`,
        `assigns ${abs} a second time (as ${role}; ${JSON.stringify(from[abs])} says ${out[abs]}); keep one entry`,
      );
    out[abs] = role;
    from[abs] = rel;
  }
  return out;
}

// ---- schema validation --------------------------------------------------------------------

/** anyad.json as written: every key optional, values of the schema's types (checkAgainstSchema). */
interface WrittenConfig {
  $schema?: string;
  data?: Partial<Omit<DataConfig, 'sequences' | 'slices' | 'split'>> & {
    sequences?: Partial<Record<CaseFileRole, string | string[]>>;
    slices?: Partial<SliceSelection>;
    split?: Partial<DataConfig['split']>;
  };
  preprocess?: Partial<PreprocessConfig>;
  output?: Partial<WorkspaceConfig['output']>;
  model?: WrittenModel;
  train?: Partial<TrainConfig>;
}
type WrittenModel = Partial<Omit<ModelConfig, 'encoder'>> & { encoder?: string };

/** A node of the JSON schema, as far as error messages read it. */
interface SchemaNode {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  properties?: Record<string, SchemaNode>;
  propertyNames?: SchemaNode;
  'x-expected'?: string;
}

/** `value` as a WrittenConfig, or a ConfigError that names the key path, what was expected and what was found. */
function checkAgainstSchema(value: unknown, file: string): WrittenConfig {
  if (validateConfigSchema(value)) return value as WrittenConfig;
  throw schemaError(mainError(validateConfigSchema.errors ?? []), value, file);
}

/** Where an error points: instancePath's keys, plus the key or item it is about. */
function errorKeys(e: ErrorObject): string[] {
  const keys =
    e.instancePath === ''
      ? []
      : e.instancePath
          .slice(1)
          .split('/')
          .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'additionalProperties') keys.push(String((e.params as { additionalProperty: string }).additionalProperty));
  if (e.keyword === 'uniqueItems') keys.push(String((e.params as { j: number }).j));
  return keys;
}

/**
 * The error to report. ajv stops at the first failing keyword, but a oneOf reports every
 * branch's failure and then its own: the deepest error is the most specific; at equal depth
 * the oneOf's own error names the whole choice (its branches name one alternative each).
 */
function mainError(errors: ErrorObject[]): ErrorObject {
  let best = errors[0];
  for (const e of errors) {
    const depth = errorKeys(e).length;
    const bestDepth = errorKeys(best).length;
    if (depth > bestDepth || (depth === bestDepth && e.keyword === 'oneOf')) best = e;
  }
  return best;
}

/** "data.slices.step", "data.anomalyLabels[1]", 'data.assignments["a/x.nii.gz"]'; "the config" for the root. */
function keyPath(keys: string[], root: unknown): string {
  let out = '';
  let node = root;
  for (const k of keys) {
    if (Array.isArray(node)) out += `[${k}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(k)) out += out ? `.${k}` : k;
    else out += `[${JSON.stringify(k)}]`;
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[k] : undefined;
  }
  return out || 'the config';
}

function schemaError(e: ErrorObject, root: unknown, file: string): ConfigError {
  const keys = errorKeys(e);
  const node = (e.parentSchema ?? {}) as SchemaNode;
  const at = keyPath(e.keyword === 'uniqueItems' ? keys.slice(0, -1) : keys, root);
  const invalid = (what: string) => new ConfigError('config/invalid', `${at} ${what}`, file);
  const propertyName = e.propertyName ?? (e.params as { propertyName?: string }).propertyName;
  if (e.keyword === 'additionalProperties') {
    const allowed = Object.keys(node.properties ?? {}).join(', ');
    return new ConfigError('config/unknown-key', `unknown key ${keyPath(keys, root)} (allowed here: ${allowed})`, file);
  }
  if (propertyName !== undefined) {
    const names = e.keyword === 'propertyNames' ? (node.propertyNames ?? {}) : node;
    return invalid(`has the key ${JSON.stringify(propertyName)}: its keys must be ${expected(names)}`);
  }
  if (e.keyword === 'uniqueItems') {
    const { i, j } = e.params as { i: number; j: number };
    return new ConfigError('config/invalid', `${keyPath(keys, root)} repeats ${describe((e.data as unknown[])[j])} (also at [${i}])`, file);
  }
  if (e.keyword === 'multipleOf')
    return invalid(`must be a multiple of ${(e.params as { multipleOf: number }).multipleOf}, got ${describe(e.data)}`);
  return invalid(`must be ${expected(node)}, got ${describe(e.data)}`);
}

/** What a schema node admits, in words: its x-expected, else from its enum, type and limits. */
function expected(node: SchemaNode): string {
  if (node['x-expected']) return node['x-expected'];
  if (node.enum) {
    const q = node.enum.map((v) => JSON.stringify(v));
    return q.length === 1 ? q[0] : q.length === 2 ? `${q[0]} or ${q[1]}` : `one of ${q.join(', ')}`;
  }
  const { minimum: min, maximum: max } = node;
  switch (node.type) {
    case 'integer':
      if (max !== undefined) return `an integer in [${min ?? Number.MIN_SAFE_INTEGER}, ${max}]`;
      return min === 1
        ? 'a positive integer'
        : min === 0
          ? 'a non-negative integer'
          : min === undefined
            ? 'an integer'
            : `an integer >= ${min}`;
    case 'number':
      if (node.exclusiveMinimum !== undefined && node.exclusiveMaximum !== undefined)
        return `a number strictly between ${node.exclusiveMinimum} and ${node.exclusiveMaximum}`;
      return min === 0 && max === undefined ? 'a non-negative number' : 'a number';
    case 'string':
      return (node.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'an object';
    case 'array':
      return 'a list';
    default:
      return 'a value the schema admits';
  }
}

function describe(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return 'an array';
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'number' && !Number.isFinite(x)) return String(x); // a parsed value given by code, not JSON
  return JSON.stringify(x);
}

// ---- JSON with comments -------------------------------------------------------------------

/** "CommaExpected" → "comma expected". */
function parseErrorText(code: ParseErrorCode): string {
  return printParseErrorCode(code)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
}

/** JSON with comments and trailing commas (jsonc-parser, as VS Code reads it); syntax errors give line:column. */
export function parseJsonc(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const errors: ParseError[] = [];
  const value: unknown = parseJsoncText(body, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length === 0) return value;
  const { error, offset } = errors[0];
  const before = body.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  throw new ConfigError('config/syntax', `invalid JSON at line ${line}, column ${column}: ${parseErrorText(error)}`, file);
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
