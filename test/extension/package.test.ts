/**
 * One .vsix per platform (scripts/package-vsix.mjs --target all): darwin-arm64, linux-x64,
 * linux-arm64, win32-x64 and win32-arm64, each declaring its target and carrying exactly its
 * own onnxruntime binding (no other platform's), the bundled code, schema and default model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

test('npm run package -- --target all: five .vsix files, each with only its own onnxruntime binding', async () => {
  const { TARGETS, zipEntries } = await import('../../scripts/package-vsix.mjs');
  assert.deepEqual(Object.keys(TARGETS).sort(), ['darwin-arm64', 'linux-arm64', 'linux-x64', 'win32-arm64', 'win32-x64']);
  const out = mkdtempSync(join(tmpdir(), 'anyad-vsix-'));
  try {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'package-vsix.mjs'), '--target', 'all', '--out-dir', out, '--no-build'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(r.status, 0, `${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(
      readdirSync(out).sort(),
      Object.keys(TARGETS)
        .map((t) => `anyad-vscode-${t}-${version}.vsix`)
        .sort(),
    );
    for (const [name, t] of Object.entries(TARGETS)) {
      const entries = zipEntries(join(out, `anyad-vscode-${name}-${version}.vsix`));
      const names = entries.map((e) => e.name);
      const bin = names.filter((n) => n.includes('/bin/napi-v6/'));
      const own = `extension/dist/node_modules/onnxruntime-node/bin/napi-v6/${t.platform}/${t.arch}/`;
      assert.deepEqual(bin.map((n) => n.slice(own.length)).sort(), [...t.files].sort(), `${name}: ${bin.join(', ')}`);
      assert.ok(
        bin.every((n) => n.startsWith(own)),
        `${name} carries another platform's binding: ${bin.join(', ')}`,
      );
      assert.ok(entries.filter((e) => e.name.startsWith(own)).every((e) => e.size > 0));
      for (const f of [
        'extension/dist/extension.js',
        'extension/dist/cli.js',
        'extension/dist/webview.js',
        'extension/dist/prepWorker.js',
        'extension/dist/labelFileWorker.js',
        'extension/schemas/anyad.schema.json',
        'extension/models/default/model.onnx',
        'extension.vsixmanifest',
      ]) {
        assert.ok(names.includes(f), `${name}: ${f} missing`);
      }
      assert.ok(!names.some((n) => /^extension\/(src|test|bench|scripts)\//.test(n)), `${name} carries sources`);
      // vsce writes the target into the manifest: VS Code installs the file only on that platform.
      const listed = spawnSync('unzip', ['-p', join(out, `anyad-vscode-${name}-${version}.vsix`), 'extension.vsixmanifest'], {
        encoding: 'utf8',
      });
      if (listed.status === 0) assert.match(listed.stdout, new RegExp(`TargetPlatform="${name}"`));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
