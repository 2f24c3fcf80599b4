import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CONFIG_DEFAULTS,
  CONFIG_TEMPLATE,
  defaultWorkspaceConfig,
  loadWorkspaceConfig,
  parseJsonc,
  parseWorkspaceConfig,
  type DataConfig,
  type ModelConfig,
  type PreprocessConfig,
  type SliceSelection,
  type TrainConfig,
  type WorkspaceConfig,
} from '../../src/engine/config';
import { CASE_FILE_ROLES, MASKING_SCHEMES, MODEL_PRESET_NAMES, PROVIDERS } from '../../src/shared/vocabulary';
import { ConfigError } from '../../src/engine/errors';
import { VALIDATOR_FILE, validatorSource } from '../../schemas/buildValidator';

const FILE = '/ws/project/anyad.json';

function rejects(json: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseWorkspaceConfig(json, FILE),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.ok(e.message.startsWith(FILE), 'the message names the config file');
      return true;
    },
  );
}

test('an empty config is fully defaulted, with paths resolved against the config folder', () => {
  const c = parseWorkspaceConfig('{}', FILE);
  assert.equal(c.data.root, '/ws/project');
  assert.equal(c.output.dir, '/ws/project/anyad-out');
  assert.deepEqual(c.data.slices, { axis: 'axial', start: 80, end: 120, step: 5 });
  assert.equal(c.data.anomalyLabels, 'any');
  assert.deepEqual(c.data.split, { trainFraction: 0.8, valFraction: 0.2, seed: 0 });
  assert.equal(c.data.minLesionVoxels, 1);
  assert.equal(c.data.unlabelled, 'exclude');
  assert.deepEqual(c.preprocess, { resize: 448, crop: 392 });
  assert.deepEqual(c.data.sequences, { flair: [], t1: [], t1ce: [], t2: [], label: [] });
  assert.deepEqual(c.model, { preset: 'paper', randomEncoderSeed: 0 });
  // An unset geometry follows the preset; a written one wins.
  assert.deepEqual(parseWorkspaceConfig({ model: { preset: 'tiny-cpu' } }, FILE).preprocess, { resize: 128, crop: 112 });
  assert.deepEqual(parseWorkspaceConfig({ model: { preset: 'cpu' }, preprocess: { crop: 196 } }, FILE).preprocess, {
    resize: 256,
    crop: 196,
  });
  assert.deepEqual(c.train, {
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
  });
  assert.equal(c.file, FILE);
  const d = defaultWorkspaceConfig('/elsewhere');
  assert.equal(d.file, undefined);
  assert.equal(d.data.root, '/elsewhere');
});

test('JSON with comments and trailing commas is accepted; comment-like text inside strings is kept', () => {
  const text = `{
    // where the data is
    "data": {
      "root": "data//brats", /* a block
         comment */
      "sequences": { "flair": ["FLAIR.nii.gz", "*_fla.nii.gz",], "label": "seg.nii.gz", },
      "slices": { "start": 10, "end": 20, "step": 2, },
      "anomalyLabels": [4, 1, 2],
    },
    "preprocess": { "resize": 224, "crop": 196 },
    "output": { "dir": "out/* not a comment */x" },
    "model": { "preset": "paper", "encoderWeights": "weights/dinov2.safetensors", "registers": 0 },
    "train": { "steps": 10, "lr": 0.002, "masking": "epoch", },
  }`;
  const c = parseWorkspaceConfig(text, FILE);
  assert.equal(c.data.root, resolve('/ws/project', 'data//brats'));
  assert.deepEqual(c.data.sequences.flair, ['FLAIR.nii.gz', '*_fla.nii.gz']);
  assert.deepEqual(c.data.sequences.label, ['seg.nii.gz']);
  assert.equal(c.output.dir, resolve('/ws/project', 'out/* not a comment */x'));
  assert.deepEqual(c.data.slices, { axis: 'axial', start: 10, end: 20, step: 2 });
  assert.deepEqual(c.data.anomalyLabels, [1, 2, 4]);
  assert.deepEqual(c.preprocess, { resize: 224, crop: 196 });
  assert.deepEqual(c.model, {
    preset: 'paper',
    encoderWeights: '/ws/project/weights/dinov2.safetensors',
    registers: 0,
    randomEncoderSeed: 0,
  });
  assert.equal(c.train.steps, 10);
  assert.equal(c.train.lr, 0.002);
  assert.equal(c.train.masking, 'epoch');
  assert.equal(c.train.batchSize, 16, 'unset keys keep their defaults');
  // Escaped quotes do not end a string early; a byte-order mark is skipped.
  assert.deepEqual(parseJsonc('\ufeff{"a": "x\\" // y", }', FILE), { a: 'x" // y' });
});

test('wrong types and values give ConfigErrors naming the key path', () => {
  rejects({ data: { slices: { step: 0 } } }, /data\.slices\.step must be a positive integer, got 0/);
  rejects({ data: { slices: { step: 2.5 } } }, /data\.slices\.step must be a positive integer/);
  rejects({ data: { slices: { start: -1 } } }, /data\.slices\.start must be a non-negative integer/);
  rejects({ data: { slices: { start: 50, end: 40 } } }, /data\.slices\.end must be >= data\.slices\.start/);
  rejects({ data: { slices: { axis: 'coronal' } } }, /data\.slices\.axis must be "axial"/);
  rejects({ data: { split: { trainFraction: 1 } } }, /data\.split\.trainFraction must be a number strictly between 0 and 1/);
  rejects({ data: { split: { valFraction: 0 } } }, /data\.split\.valFraction must be a number strictly between 0 and 1/);
  rejects({ data: { minLesionVoxels: 0 } }, /data\.minLesionVoxels/);
  rejects({ data: { unlabelled: 'keep' } }, /data\.unlabelled must be "exclude" or "normal", got "keep"/);
  rejects({ data: { split: { seed: 'x' } } }, /data\.split\.seed must be an integer in \[0, 4294967295\], got "x"/);
  rejects({ data: { anomalyLabels: [] } }, /data\.anomalyLabels must be "any" or a non-empty list/);
  rejects({ data: { anomalyLabels: [1, 1] } }, /data\.anomalyLabels\[1\] repeats 1 \(also at \[0\]\)/);
  rejects({ data: { anomalyLabels: [0] } }, /data\.anomalyLabels\[0\] must be an integer in \[1, 65535\]/);
  rejects({ data: { sequences: { flair: 3 } } }, /data\.sequences\.flair must be a file-name pattern or a list/);
  rejects({ data: { sequences: { t2: ['sub/t2.nii.gz'] } } }, /data\.sequences\.t2\[0\] must be a file-name pattern without folders/);
  rejects({ data: { root: '' } }, /data\.root must be a non-empty string/);
  rejects({ preprocess: { crop: 200 } }, /preprocess\.crop must be a multiple of 14/);
  rejects({ preprocess: { resize: 224, crop: 392 } }, /preprocess\.crop must be <= preprocess\.resize \(224\)/);
  rejects({ model: [] }, /model must be an object, got an array/);
  rejects({ model: { preset: 'huge' } }, /model\.preset must be one of "tiny-cpu", "cpu", "paper", got "huge"/);
  rejects({ model: { encoder: 'x' } }, /model\.encoder 'x' is neither a file\/folder nor a model name \(known: dinov2-small/);
  rejects(
    { model: { encoder: 'dinov2-small', encoderWeights: 'w.safetensors' } },
    /model\.encoder give model\.encoder or model\.encoderWeights, not both/,
  );
  rejects({ model: { encoderConfig: 'c.json' } }, /model\.encoderConfig needs model\.encoderWeights/);
  rejects({ model: { registers: -1 } }, /model\.registers must be an integer in \[0, 64\]/);
  rejects({ train: { steps: 0 } }, /train\.steps must be an integer in \[1, 1000000\], got 0/);
  rejects({ train: { batchSize: 2.5 } }, /train\.batchSize must be an integer in \[1, 256\]/);
  rejects({ train: { masking: 'slice' } }, /train\.masking must be one of "sample", "batch", "epoch"/);
  rejects({ train: { provider: 'tpu' } }, /train\.provider must be one of "auto", "cpu", "cuda", "webgpu"/);
  rejects({ train: { lr: 0 } }, /train\.lr must be a number strictly between 0 and 1, got 0/);
  rejects({ train: { lambdaAlign: -0.1 } }, /train\.lambdaAlign must be a non-negative number/);
  rejects({ train: { alignment: 'yes' } }, /train\.alignment must be true or false/);
  rejects({ train: { alignment: false } }, /train\.lambdaAlign must be 0 when train\.alignment is false/);
  rejects({ train: { evalEvery: -1 } }, /train\.evalEvery must be an integer in \[0, 1000000\]/);
  rejects({ data: 5 }, /data must be an object, got 5/);
  rejects([], /the config must be an object/);
});

test('unknown keys are errors that name the full key path', () => {
  rejects({ dataa: {} }, /unknown key dataa \(allowed here: \$schema, data, preprocess, output, model, train\)/);
  rejects({ data: { slices: { stride: 3 } } }, /unknown key data\.slices\.stride/);
  rejects({ data: { sequences: { dwi: ['x'] } } }, /unknown key data\.sequences\.dwi/);
  // "$schema" is allowed (VS Code users add it).
  assert.doesNotThrow(() => parseWorkspaceConfig({ $schema: './schemas/anyad.schema.json' }, FILE));
});

test('syntax errors report a line and column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-config-'));
  try {
    const file = join(dir, 'anyad.json');
    writeFileSync(file, '{\n  // comment\n  "data": { "root": "x" \n  "output": {}\n}\n');
    assert.throws(
      () => loadWorkspaceConfig(file),
      (e: unknown) =>
        e instanceof ConfigError && /invalid JSON at line 4, column 3: comma expected/.test(e.message) && e.message.includes(file),
    );
    // An unclosed comment, text after the value, and an empty file are syntax errors too (jsonc-parser's codes, in words).
    for (const [text, message] of [
      ['{ /* open', /line 1, column 3: unexpected end of comment/],
      ['{}\n  {}', /line 2, column 3: end of file expected/],
      ['', /line 1, column 1: value expected/],
    ] as const)
      assert.throws(
        () => parseWorkspaceConfig(text, FILE),
        (e: unknown) => e instanceof ConfigError && e.code === 'config/syntax' && message.test(e.message),
      );
    assert.throws(
      () => loadWorkspaceConfig(join(dir, 'missing.json')),
      (e: unknown) => e instanceof ConfigError && /cannot read config/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the JSON schema and the defaults agree: same keys, same defaults, same enums', () => {
  const schema = JSON.parse(readFileSync(join(__dirname, '../../schemas/anyad.schema.json'), 'utf8'));
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  const props = schema.properties;
  assert.deepEqual(Object.keys(props).sort(), ['$schema', 'data', 'model', 'output', 'preprocess', 'train']);
  assert.deepEqual(Object.keys(props.data.properties).sort(), Object.keys(CONFIG_DEFAULTS.data).sort());
  assert.deepEqual(Object.keys(props.data.properties.sequences.properties).sort(), [...CASE_FILE_ROLES].sort());
  const sl = props.data.properties.slices.properties;
  for (const k of ['axis', 'start', 'end', 'step'] as const) assert.deepEqual(sl[k].default, CONFIG_DEFAULTS.data.slices[k], `slices.${k}`);
  assert.equal(props.data.properties.root.default, CONFIG_DEFAULTS.data.root);
  assert.equal(props.data.properties.anomalyLabels.default, CONFIG_DEFAULTS.data.anomalyLabels);
  for (const k of ['trainFraction', 'valFraction', 'seed'] as const)
    assert.equal(props.data.properties.split.properties[k].default, CONFIG_DEFAULTS.data.split[k]);
  for (const k of ['minLesionVoxels', 'unlabelled'] as const) assert.equal(props.data.properties[k].default, CONFIG_DEFAULTS.data[k]);
  for (const k of ['resize', 'crop'] as const) assert.equal(props.preprocess.properties[k].default, CONFIG_DEFAULTS.preprocess[k]);
  assert.equal(props.output.properties.dir.default, CONFIG_DEFAULTS.output.dir);
  // model and train: the schema lists exactly the validator's keys, with its defaults and enums.
  assert.deepEqual(Object.keys(props.model.properties).sort(), [
    'encoder',
    'encoderConfig',
    'encoderWeights',
    'preset',
    'randomEncoderSeed',
    'registers',
  ]);
  assert.deepEqual(props.model.properties.preset.enum, [...MODEL_PRESET_NAMES]);
  for (const [k, v] of Object.entries(CONFIG_DEFAULTS.model)) assert.deepEqual(props.model.properties[k].default, v, `model.${k}`);
  const defaulted = parseWorkspaceConfig({}, FILE).train;
  assert.deepEqual(Object.keys(props.train.properties).sort(), [...Object.keys(defaulted), 'lr'].sort());
  for (const [k, v] of Object.entries(CONFIG_DEFAULTS.train)) assert.deepEqual(props.train.properties[k].default, v, `train.${k}`);
  assert.deepEqual(props.train.properties.masking.enum, [...MASKING_SCHEMES]);
  assert.deepEqual(props.train.properties.provider.enum, [...PROVIDERS]);
  // Every object in the schema closes its keys (as the validator does), and documents itself.
  const walk = (node: Record<string, unknown>, path: string) => {
    if (node.type === 'object' && node.properties) assert.equal(node.additionalProperties, false, `${path} additionalProperties`);
    for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) {
      assert.ok(typeof v.description === 'string' && v.description.length > 10, `${path}.${k} needs a description`);
      walk(v, `${path}.${k}`);
    }
  };
  walk(schema, '');
});

test('the anyad.json template the extension offers is a valid config (comments included)', () => {
  const c = parseWorkspaceConfig(CONFIG_TEMPLATE, '/ws/anyad.json');
  assert.equal(c.model.preset, 'cpu');
  assert.equal(c.train.steps, 1000);
  assert.equal(c.data.root, '/ws');
});

/**
 * Each config object's keys as the TypeScript types declare them. `satisfies` makes tsc reject
 * a list that misses a key of the type or names one it lacks; the test below rejects a schema
 * whose properties differ from these lists. Together: a key added to, renamed in or dropped
 * from the schema or a type fails until both say the same.
 */
type KeysOf<T> = Record<keyof T, true>;
const TYPE_KEYS: Record<string, Record<string, true>> = {
  '': { $schema: true, data: true, preprocess: true, output: true, model: true, train: true } satisfies Record<
    Exclude<keyof WorkspaceConfig, 'file' | 'baseDir'> | '$schema',
    true
  >,
  data: {
    root: true,
    sequences: true,
    assignments: true,
    slices: true,
    anomalyLabels: true,
    split: true,
    minLesionVoxels: true,
    unlabelled: true,
  } satisfies KeysOf<DataConfig>,
  'data.sequences': { flair: true, t1: true, t1ce: true, t2: true, label: true } satisfies KeysOf<DataConfig['sequences']>,
  'data.slices': { axis: true, start: true, end: true, step: true } satisfies KeysOf<SliceSelection>,
  'data.split': { trainFraction: true, valFraction: true, seed: true } satisfies KeysOf<DataConfig['split']>,
  preprocess: { resize: true, crop: true } satisfies KeysOf<PreprocessConfig>,
  output: { dir: true } satisfies KeysOf<WorkspaceConfig['output']>,
  model: {
    preset: true,
    encoder: true,
    encoderWeights: true,
    encoderConfig: true,
    registers: true,
    randomEncoderSeed: true,
  } satisfies KeysOf<ModelConfig>,
  train: {
    steps: true,
    batchSize: true,
    lr: true,
    seed: true,
    masking: true,
    evalEvery: true,
    lambdaGather: true,
    lambdaAlign: true,
    alignment: true,
    provider: true,
    threads: true,
  } satisfies KeysOf<TrainConfig>,
};

test('the JSON schema and the TypeScript config types name the same keys in every object', () => {
  const schema = JSON.parse(readFileSync(join(__dirname, '../../schemas/anyad.schema.json'), 'utf8'));
  const objects = new Map<string, string[]>();
  const walk = (node: { type?: string; properties?: Record<string, unknown> }, path: string) => {
    if (node.type !== 'object' || !node.properties) return;
    objects.set(path, Object.keys(node.properties));
    for (const [k, v] of Object.entries(node.properties)) walk(v as typeof node, path ? `${path}.${k}` : k);
  };
  walk(schema, '');
  assert.deepEqual([...objects.keys()].sort(), Object.keys(TYPE_KEYS).sort(), 'the objects of the config');
  for (const [path, keys] of objects) assert.deepEqual(keys.sort(), Object.keys(TYPE_KEYS[path]).sort(), `keys of ${path || 'the config'}`);
  // A parsed config carries exactly those keys (optional model keys and train.lr when written).
  const full = parseWorkspaceConfig(
    { model: { encoderWeights: 'w.safetensors', encoderConfig: 'c.json', registers: 0 }, train: { lr: 0.01 } },
    FILE,
  );
  const { file: _file, baseDir: _baseDir, ...sections } = full;
  assert.deepEqual(
    Object.keys(sections).sort(),
    Object.keys(TYPE_KEYS[''])
      .filter((k) => k !== '$schema')
      .sort(),
  );
  for (const section of ['data', 'preprocess', 'output', 'train'] as const)
    assert.deepEqual(Object.keys(full[section]).sort(), Object.keys(TYPE_KEYS[section]).sort(), section);
  assert.deepEqual(
    Object.keys(full.model).sort(),
    Object.keys(TYPE_KEYS.model)
      .filter((k) => k !== 'encoder')
      .sort(),
  );
});

test("the generated schema validator is the schema's (after a schema edit: npx tsx schemas/buildValidator.ts)", async () => {
  assert.equal(readFileSync(VALIDATOR_FILE, 'utf8'), await validatorSource(), 'src/engine/configSchemaValidator.generated.js is stale');
});
