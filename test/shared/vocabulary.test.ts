import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODALITY_SUBSETS } from '../../src/engine/study';
import {
  CASE_FILE_ROLES,
  CHANNELS,
  COLORMAPS,
  COMMANDS,
  DOWNLOAD_SETTINGS,
  HOST_BLOCK_COMMAND,
  MASKING_SCHEMES,
  MODEL_PRESET_NAMES,
  PROVIDERS,
  ROLE_TITLES,
  SEQUENCE_DISPLAY_ORDER,
  SEQUENCES,
  SLICE_AXES,
  UNLABELLED_RULES,
  roleLabel,
  subsetDisplayName,
  subsetLabel,
} from '../../src/shared/vocabulary';

const ROOT = join(__dirname, '../..');
const readJson = (rel: string) => JSON.parse(readFileSync(join(ROOT, rel), 'utf8')) as Record<string, unknown>;

type Node = Record<string, unknown>;

/** Every `enum` under a JSON-schema node, keyed by its path (properties joined with '.'; '*' for additionalProperties). */
function enumsOf(node: unknown, path: string, out: Map<string, unknown[]>): Map<string, unknown[]> {
  if (typeof node !== 'object' || node === null) return out;
  const n = node as Node;
  if (Array.isArray(n.enum)) out.set(path, n.enum);
  for (const [k, v] of Object.entries((n.properties ?? {}) as Node)) enumsOf(v, path ? `${path}.${k}` : k, out);
  if (typeof n.additionalProperties === 'object') enumsOf(n.additionalProperties, `${path}.*`, out);
  for (const key of ['oneOf', 'anyOf'] as const) if (Array.isArray(n[key])) for (const alt of n[key] as unknown[]) enumsOf(alt, path, out);
  return out;
}

test("schemas/anyad.schema.json: every enum is the vocabulary's list, and data.sequences has one key per role", () => {
  const schema = readJson('schemas/anyad.schema.json');
  const expected: Record<string, readonly string[]> = {
    'data.assignments.*': CASE_FILE_ROLES,
    'data.slices.axis': SLICE_AXES,
    'data.anomalyLabels': ['any'],
    'data.unlabelled': UNLABELLED_RULES,
    'model.preset': MODEL_PRESET_NAMES,
    'train.masking': MASKING_SCHEMES,
    'train.provider': PROVIDERS,
  };
  const found = enumsOf(schema, '', new Map());
  // A new enum in the schema must be added here (and to the vocabulary) rather than drift on its own.
  assert.deepEqual([...found.keys()].sort(), Object.keys(expected).sort());
  for (const [path, list] of Object.entries(expected)) assert.deepEqual(found.get(path), [...list], path);
  const data = (schema.properties as Node).data as Node;
  const sequences = (data.properties as Node).sequences as Node;
  assert.deepEqual(Object.keys(sequences.properties as Node), [...CASE_FILE_ROLES]);
});

test("package.json: setting enums and contributed commands are the vocabulary's", () => {
  const pkg = readJson('package.json');
  const contributes = pkg.contributes as Node;
  const settings = (contributes.configuration as Node).properties as Node;
  const expected: Record<string, readonly string[]> = {
    'anyad.executionProvider': PROVIDERS,
    'anyad.downloads': DOWNLOAD_SETTINGS,
    'anyad.overlay.colormap': COLORMAPS,
  };
  const found = new Map<string, unknown[]>();
  for (const [key, setting] of Object.entries(settings)) enumsOf(setting, key, found);
  assert.deepEqual([...found.keys()].sort(), Object.keys(expected).sort());
  for (const [key, list] of Object.entries(expected)) {
    assert.deepEqual(found.get(key), [...list], key);
    const setting = settings[key] as Node;
    assert.ok(list.includes(setting.default as string), `${key} default ${String(setting.default)}`);
    if (setting.enumDescriptions) assert.equal((setting.enumDescriptions as unknown[]).length, list.length, `${key} enumDescriptions`);
  }

  const commands: unknown[] = (contributes.commands as Node[]).map((c) => c.command);
  assert.deepEqual([...commands], Object.values(COMMANDS));
  assert.ok(!commands.includes(HOST_BLOCK_COMMAND), 'the host-block probe stays out of the command palette');
  for (const [menu, items] of Object.entries(contributes.menus as Record<string, Node[]>))
    for (const item of items) assert.ok(commands.includes(item.command), `${menu}: ${String(item.command)} is a contributed command`);
  const activation = (pkg.activationEvents ?? []) as string[];
  for (const e of activation.filter((a) => a.startsWith('onCommand:')))
    assert.ok(commands.includes(e.slice('onCommand:'.length)), `activation event ${e} names a contributed command`);
});

test('sequences, channels and roles: one list each, consistent with one another', () => {
  assert.deepEqual([...CASE_FILE_ROLES], [...SEQUENCES, 'label']);
  assert.ok(CHANNELS.every((c) => (SEQUENCES as readonly string[]).includes(c)));
  assert.deepEqual([...SEQUENCE_DISPLAY_ORDER].sort(), [...SEQUENCES].sort(), 'the display order lists each sequence once');
  assert.deepEqual(SEQUENCE_DISPLAY_ORDER.slice(0, CHANNELS.length), [...CHANNELS], 'model channels come first');
  assert.deepEqual(Object.keys(ROLE_TITLES).sort(), [...CASE_FILE_ROLES].sort());
  assert.deepEqual(CASE_FILE_ROLES.map(roleLabel), ['FLAIR', 'T1', 'T1CE', 'T2', 'label']);
});

test('subset spellings: short labels for reports, display names for the viewer, both in channel order', () => {
  assert.deepEqual(
    MODALITY_SUBSETS.map((s) => s.label),
    ['F', 'T1', 'T2', 'F+T1', 'F+T2', 'T1+T2', 'F+T1+T2'],
  );
  assert.equal(subsetLabel(['t2', 'flair']), 'F+T2');
  assert.equal(subsetDisplayName(['t2', 'flair']), 'FLAIR+T2');
  assert.equal(subsetDisplayName(['t2', 't1', 'flair', 't1']), 'FLAIR+T1+T2');
  assert.equal(subsetLabel([]), '');
});

test('vocabulary.ts imports nothing, so the browser-side webview can bundle it', () => {
  const text = readFileSync(join(ROOT, 'src/shared/vocabulary.ts'), 'utf8');
  assert.doesNotMatch(text, /^\s*import\b|\brequire\(/m);
});
