// Which model Detect uses: explicit setting → newest bundle in the workspace → shipped default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNewestBundle, locateBundle } from '../../src/engine/model/bundleLocator';

function fakeBundle(dir: string, createdAt: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), 'x');
  writeFileSync(join(dir, 'anyad.json'), JSON.stringify({ schemaVersion: 1, createdAt }));
}

test('bundle locator: newest bundle wins; a workspace config is not a bundle; setting and shipped default in order', () => {
  const root = mkdtempSync(join(tmpdir(), 'anyad-locate-'));
  try {
    const ws = join(root, 'ws');
    mkdirSync(ws);
    writeFileSync(join(ws, 'anyad.json'), JSON.stringify({ data: { root: '.' } })); // workspace config, no model.onnx
    assert.equal(findNewestBundle(ws), undefined);
    const shipped = join(root, 'shipped');
    fakeBundle(shipped, '2020-01-01T00:00:00Z');
    assert.deepEqual(locateBundle({ workspaceRoots: [ws], shippedDefault: shipped }), { dir: shipped, source: 'shipped' });
    assert.equal(locateBundle({ workspaceRoots: [ws], shippedDefault: join(root, 'missing') }), undefined);

    fakeBundle(join(ws, 'anyad-out', 'model-a'), '2026-01-01T00:00:00Z');
    fakeBundle(join(ws, 'anyad-out', 'model-b'), '2026-03-01T00:00:00Z');
    fakeBundle(join(ws, 'node_modules', 'x'), '2027-01-01T00:00:00Z'); // never searched
    fakeBundle(join(ws, 'anyad-out', 'checkpoints', 'y'), '2027-01-01T00:00:00Z'); // never searched
    assert.equal(findNewestBundle(ws), join(ws, 'anyad-out', 'model-b'));
    assert.deepEqual(locateBundle({ workspaceRoots: [ws], shippedDefault: shipped }), {
      dir: join(ws, 'anyad-out', 'model-b'),
      source: 'workspace',
    });
    assert.deepEqual(locateBundle({ explicit: '/models/x', workspaceRoots: [ws], shippedDefault: shipped }), {
      dir: '/models/x',
      source: 'setting',
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
