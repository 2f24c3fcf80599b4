/**
 * The extension manifest and the code agree: every contributed command and the custom
 * editor are registered on activation, the schema it points to exists and is a JSON schema,
 * and the bundled extension activates against a recording stand-in for the VS Code API
 * (the real-VS-Code end-to-end test lives in test/e2e).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireWithVscode } from '../helpers/fakeVscode';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

test('manifest: custom editor for .nii and .nii.gz, commands, settings, schema', () => {
  assert.match(pkg.engines.vscode, /^\^1\.\d+\.\d+$/);
  const editor = pkg.contributes.customEditors[0];
  const patterns = editor.selector.map((s: { filenamePattern: string }) => s.filenamePattern).sort();
  assert.deepEqual(patterns, ['*.nii', '*.nii.gz']);
  const titles = pkg.contributes.commands.map((c: { category: string; title: string }) => `${c.category}: ${c.title}`).sort();
  assert.deepEqual(titles, [
    'AnyAD: Assign sequence…',
    'AnyAD: Detect anomalies',
    'AnyAD: Get pretrained encoder weights',
    'AnyAD: Install CUDA provider',
    'AnyAD: Scan workspace',
    'AnyAD: Show model card',
    'AnyAD: Show setup',
    'AnyAD: Train on workspace',
  ]);
  // Assign sequence… is offered on NIfTI files in the Explorer and in the viewer's title bar.
  assert.deepEqual(
    pkg.contributes.menus['explorer/context'].map((m: { command: string; when: string }) => [m.command, m.when]),
    [['anyad.assignSequence', 'resourceScheme == file && resourceFilename =~ /\\.nii(\\.gz)?$/i']],
  );
  assert.deepEqual(
    pkg.contributes.menus['editor/title'].map((m: { command: string; when: string }) => [m.command, m.when]),
    [['anyad.assignSequence', `activeCustomEditorId == ${editor.viewType}`]],
  );
  for (const key of ['anyad.executionProvider', 'anyad.threads', 'anyad.modelPath'])
    assert.ok(pkg.contributes.configuration.properties[key], key);
  const jv = pkg.contributes.jsonValidation[0];
  assert.equal(jv.fileMatch, 'anyad.json');
  const schemaPath = join(root, jv.url);
  assert.ok(existsSync(schemaPath), `schema ${jv.url} exists`);
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  assert.equal(schema.type, 'object');
  assert.ok(schema.properties.data, 'schema describes the data section');
  assert.equal(readFileSync(join(root, '.npmrc'), 'utf8').includes('onnxruntime-node-install=skip'), true);
});

test('bundled extension activates and registers every contributed command and the custom editor', () => {
  execFileSync(process.execPath, [join(root, 'esbuild.mjs')], { cwd: root, stdio: 'pipe' });
  const registered = { commands: [] as string[], editors: [] as string[] };
  const disposable = { dispose() {} };
  const vscodeStandIn = {
    window: {
      createOutputChannel: () => ({ appendLine() {}, dispose() {} }),
      createStatusBarItem: () => ({ text: '', tooltip: '', show() {}, dispose() {} }),
      registerCustomEditorProvider: (viewType: string) => {
        registered.editors.push(viewType);
        return disposable;
      },
      showInformationMessage: async () => undefined,
    },
    commands: {
      registerCommand: (id: string) => {
        registered.commands.push(id);
        return disposable;
      },
    },
    workspace: {
      getConfiguration: () => ({ get: (_k: string, d: unknown) => d }),
      createFileSystemWatcher: () => ({
        onDidChange: () => disposable,
        onDidCreate: () => disposable,
        onDidDelete: () => disposable,
        dispose() {},
      }),
    },
    Uri: { joinPath: () => ({}) },
    StatusBarAlignment: { Left: 1, Right: 2 },
    // The custom editor provider reports document edits through an EventEmitter.
    EventEmitter: class {
      event = () => disposable;
      fire() {}
      dispose() {}
    },
  };
  const ext = requireWithVscode<{ activate(context: unknown): void }>(join(root, 'dist', 'extension.js'), vscodeStandIn);
  const subscriptions: unknown[] = [];
  ext.activate({ subscriptions, extensionUri: {}, globalStorageUri: { fsPath: join(tmpdir(), 'anyad-manifest-storage') } });
  // Plus one hidden command (no palette entry): the host-block probe tests and benchmarks read.
  assert.deepEqual(
    registered.commands.sort(),
    [...pkg.contributes.commands.map((c: { command: string }) => c.command), 'anyad.hostBlock'].sort(),
  );
  assert.deepEqual(registered.editors, [pkg.contributes.customEditors[0].viewType]);
  assert.ok(subscriptions.length >= 3, 'registrations are disposed with the extension');
});
