/** model.encoder specs: short DINOv2 names, hub ids with revisions, local files and folders; and their errors. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkspaceConfig } from '../../src/engine/config';
import { ConfigError } from '../../src/engine/errors';
import { DINOV2_NAMES, parseEncoderSpec, shortName } from '../../src/engine/hub/names';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-names-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('short names map to facebook/dinov2-* (with and without registers, four sizes)', () => {
  assert.equal(Object.keys(DINOV2_NAMES).length, 8);
  assert.deepEqual(parseEncoderSpec('dinov2-small', tmp), {
    kind: 'hub',
    repo: 'facebook/dinov2-small',
    revision: 'main',
    name: 'dinov2-small',
  });
  assert.deepEqual(parseEncoderSpec('dinov2-with-registers-giant@v1.0', tmp), {
    kind: 'hub',
    repo: 'facebook/dinov2-with-registers-giant',
    revision: 'v1.0',
    name: 'dinov2-with-registers-giant@v1.0',
  });
  assert.equal(shortName('facebook/dinov2-base'), 'dinov2-base');
  assert.equal(shortName('lab/custom'), 'lab/custom');
});

test('hub ids with an optional @revision (branch, tag, commit, refs/pr/N)', () => {
  const c = 'a'.repeat(40);
  assert.deepEqual(parseEncoderSpec(`lab/dino-mri@${c}`, tmp), {
    kind: 'hub',
    repo: 'lab/dino-mri',
    revision: c,
    name: `lab/dino-mri@${c}`,
  });
  assert.equal((parseEncoderSpec('lab/dino-mri@refs/pr/3', tmp) as { revision: string }).revision, 'refs/pr/3');
  assert.throws(() => parseEncoderSpec('lab/dino@../../etc', tmp), ConfigError);
});

test('local files and folders: paths, .safetensors names, and anything that exists beside the config', () => {
  mkdirSync(join(tmp, 'facebook', 'dinov2-small'), { recursive: true });
  writeFileSync(join(tmp, 'w.safetensors'), '');
  assert.deepEqual(parseEncoderSpec('./weights', tmp), { kind: 'local', path: join(tmp, 'weights') });
  assert.deepEqual(parseEncoderSpec('w.safetensors', tmp), { kind: 'local', path: join(tmp, 'w.safetensors') });
  assert.deepEqual(parseEncoderSpec('/abs/model', tmp), { kind: 'local', path: '/abs/model' });
  assert.deepEqual(
    parseEncoderSpec('facebook/dinov2-small', tmp),
    { kind: 'local', path: join(tmp, 'facebook', 'dinov2-small') },
    'an existing folder wins over the hub id',
  );
  assert.throws(() => parseEncoderSpec('dinov3', tmp), /neither a file\/folder nor a model name/);
});

test('anyad.json: model.encoder parses to its source; encoderConfig goes with a local encoder', () => {
  const file = join(tmp, 'anyad.json');
  assert.deepEqual(parseWorkspaceConfig({ model: { encoder: 'dinov2-base' } }, file).model.encoder, {
    kind: 'hub',
    repo: 'facebook/dinov2-base',
    revision: 'main',
    name: 'dinov2-base',
  });
  const local = parseWorkspaceConfig({ model: { encoder: './w.safetensors', encoderConfig: 'c.json' } }, file).model;
  assert.deepEqual(local.encoder, { kind: 'local', path: join(tmp, 'w.safetensors') });
  assert.equal(local.encoderConfig, join(tmp, 'c.json'));
  assert.throws(
    () => parseWorkspaceConfig({ model: { encoder: 'dinov2-base', encoderConfig: 'c.json' } }, file),
    /model\.encoderConfig needs model\.encoderWeights or a local model\.encoder/,
  );
});
