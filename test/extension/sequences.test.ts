/**
 * Sequences from any file name in the extension, against a recording stand-in of the VS Code
 * API on real files: the viewer resolves the case with the workspace's anyad.json and the
 * manual assignments (tabs = sequences that exist), a broken anyad.json costs only the
 * siblings, "Assign sequence…" remembers a choice, writes it to anyad.json keeping comments
 * and refreshes open viewers, and Detect hands the viewer's files to the CLI (run in-process
 * here, with the shipped bundle) so both agree.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNifti } from '../../src/engine/nifti';
import { loadWorkspaceConfig } from '../../src/engine/config';
import { parseHostMessage, type Dims3, type HostToWebview } from '../../src/shared/webviewProtocol';
import { runCli as cliInProcess } from '../helpers/cli';
import { engineClient } from '../engine/helpers';
import type { DetectParams } from '../../src/shared/engineProtocol';
import { fakePanel } from '../helpers/fakeWebviewPanel';
import { FakeEventEmitter, FakeUri, fakeFileUri, requireWithStandIns } from '../helpers/fakeVscode';

const ROOT = join(__dirname, '..', '..');
const ws = mkdtempSync(join(tmpdir(), 'anyad-ext-seq-'));
after(() => rmSync(ws, { recursive: true, force: true }));

/** Answers the next quick picks by label; records what was offered. */
const picks: string[] = [];
const offered: string[][] = [];
const errors: string[] = [];
const cliCalls: string[][] = [];
const state = new Map<string, unknown>();
const workspaceState = {
  get: <T>(k: string) => state.get(k) as T | undefined,
  update: async (k: string, v: unknown) => {
    state.set(k, v);
  },
};
const vscodeStandIn = {
  EventEmitter: FakeEventEmitter,
  Uri: FakeUri,
  ProgressLocation: { Notification: 15 },
  workspace: {
    workspaceFolders: [{ uri: fakeFileUri(ws) }],
    fs: { readFile: async (u: FakeUri) => new Uint8Array(readFileSync(u.fsPath)) },
    getConfiguration: () => ({ get: (k: string, d: unknown) => (k === 'executionProvider' ? 'cpu' : d) }),
  },
  window: {
    showQuickPick: async (items: { label: string }[]) => {
      offered.push(items.map((i) => i.label));
      const want = picks.shift();
      return items.find((i) => i.label === want);
    },
    showErrorMessage: async (m: string) => {
      errors.push(m);
      return undefined;
    },
    showWarningMessage: async () => undefined,
    showInformationMessage: async () => undefined,
    withProgress: async (_o: unknown, task: (p: unknown, t: unknown) => Promise<unknown>) =>
      task({ report() {} }, { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) }),
  },
  commands: { executeCommand: async () => undefined },
};
// The CLI runs in-process (same code as the bundled child), so the test sees what Detect asked for.
const cliRunnerStandIn = {
  runCli: async (_ext: unknown, args: string[]) => {
    cliCalls.push(args);
    return cliInProcess(args);
  },
  cliErrorLine: (r: { stderr: string }) => r.stderr.trim().split('\n').pop() ?? '',
};
const standIns = { vscode: vscodeStandIn, './cliRunner': cliRunnerStandIn };
const extensionModule = (name: string) => join(ROOT, 'src', 'extension', name);
const { NiftiEditorProvider } = requireWithStandIns<typeof import('../../src/extension/niftiEditor')>(
  extensionModule('niftiEditor'),
  standIns,
);
const { WorkspaceSequences, assignSequenceCommand, ASSIGNMENTS_KEY } = requireWithStandIns<
  typeof import('../../src/extension/workspaceSequences')
>(extensionModule('workspaceSequences'), standIns);
const { detectCommand } = requireWithStandIns<typeof import('../../src/extension/commands')>(extensionModule('commands'), standIns);
after(async () => {
  await (await import('../../src/engine/graph/runtime')).releaseAllSessions();
});

const DIMS: Dims3 = [32, 28, 12];
const N = DIMS[0] * DIMS[1] * DIMS[2];
const LPS = [-1.5, 0, 0, 10, 0, -1.5, 0, 20, 0, 0, 2, -5, 0, 0, 0, 1];
/** Case X with names no built-in scheme knows; voxel values tell the sequences apart. */
const caseDir = join(ws, 'X');
const file = (name: string) => join(caseDir, name);
mkdirSync(caseDir, { recursive: true });
for (const [name, f] of [
  ['X_fla.nii.gz', 1],
  ['X_T1w.nii.gz', 2],
  ['X_T2w.nii.gz', 3],
  ['X_mystery.nii.gz', 4],
] as const) {
  writeNifti(file(name), { dims: DIMS, affine: LPS, data: new Float32Array(N).map((_, i) => f * (1 + (i % 17))) });
}
const CONFIG = join(ws, 'anyad.json');
const CONFIG_TEXT = `{
  // odd names of this study
  "data": {
    "sequences": { "flair": "*_fla.nii.gz", "t1": "*_T1w.nii.gz", "t2": "*_T2w.nii.gz" }
  }
}
`;

const log: string[] = [];
const sequences = new WorkspaceSequences(workspaceState);
const provider = new NiftiEditorProvider(fakeFileUri(ROOT) as never, { appendLine: (l: string) => log.push(l) } as never, sequences);

async function open(path: string) {
  const doc = await provider.openCustomDocument(fakeFileUri(path) as never, { backupId: undefined, untitledDocumentData: undefined });
  const view = fakePanel();
  provider.resolveCustomEditor(doc, view.panel as never);
  view.send({ type: 'ready' });
  await settle();
  return { doc, ...view };
}
/** Lets the host's asynchronous replies (file reads) arrive. */
const settle = () => new Promise((r) => setTimeout(r, 50));

/** Parses what the host posted as the webview would (every message must pass). */
function parsed(posted: unknown[]): HostToWebview[] {
  let dims: Dims3 | null = DIMS;
  return posted.map((m) => {
    const p = parseHostMessage(m, dims);
    assert.ok(p, `webview would drop ${JSON.stringify(m).slice(0, 120)}`);
    if (p.type === 'init') dims = p.dims;
    return p;
  });
}
const initOf = (posted: unknown[]) => parsed(posted).find((m) => m.type === 'init') as Extract<HostToWebview, { type: 'init' }>;

test('without anyad.json an odd name is just a file; with its patterns the viewer shows FLAIR/T1/T2 and only those', async () => {
  rmSync(CONFIG, { force: true });
  const bare = await open(file('X_fla.nii.gz'));
  assert.deepEqual([initOf(bare.posted).sequences, initOf(bare.posted).opened], [[], null]);
  writeFileSync(CONFIG, CONFIG_TEXT);
  const { posted, send } = await open(file('X_fla.nii.gz'));
  const init = initOf(posted);
  assert.deepEqual(init.sequences, ['flair', 't1', 't2']);
  assert.equal(init.opened, 'flair');
  posted.length = 0;
  send({ type: 'requestSequence', sequence: 't2' });
  await settle();
  const [t2] = parsed(posted) as Extract<HostToWebview, { type: 'file' }>[];
  assert.equal(t2.type, 'file');
  assert.equal(t2.layer === 't2' && t2.name, 'X_T2w.nii.gz', 'the T2 tab shows X_T2w.nii.gz');
  assert.deepEqual(new Uint8Array(t2.bytes), new Uint8Array(readFileSync(file('X_T2w.nii.gz'))), "as the file's own bytes");
});

test('a broken anyad.json costs only the siblings, with a notice; the file still opens', async () => {
  writeFileSync(CONFIG, '{ "data": { "sequences": { "flair": 7 } } }');
  try {
    const { posted } = await open(file('X_fla.nii.gz'));
    const msgs = parsed(posted);
    assert.deepEqual(
      msgs.filter((m) => m.type === 'error'),
      [],
    );
    assert.deepEqual(initOf(posted).sequences, []);
    const notice = msgs.find((m) => m.type === 'notice') as Extract<HostToWebview, { type: 'notice' }>;
    assert.match(notice.text, /anyad\.json is not applied \(.*data\.sequences\.flair must be a file-name pattern/);
  } finally {
    writeFileSync(CONFIG, CONFIG_TEXT);
  }
});

test('Assign sequence…: remembered for the workspace, written to anyad.json with its comments, open viewers refresh', async () => {
  const viewer = await open(file('X_fla.nii.gz'));
  const mystery = await open(file('X_mystery.nii.gz'));
  assert.equal(initOf(mystery.posted).opened, null);
  viewer.posted.length = 0;
  mystery.posted.length = 0;
  let refreshed = 0;
  const deps = {
    sequences,
    log: { appendLine: (l: string) => log.push(l) } as never,
    activeFile: () => undefined,
    refresh: () => {
      refreshed++;
      provider.refreshCases();
    },
  };

  // Only in this workspace: X_mystery becomes T1ce (remembered in workspaceState).
  picks.push('T1ce', 'Only in this workspace');
  await assignSequenceCommand(deps, fakeFileUri(file('X_mystery.nii.gz')));
  assert.deepEqual(offered.at(-2), ['FLAIR', 'T1', 'T2', 'T1ce', 'Label', 'Clear']);
  assert.deepEqual(offered.at(-1), ['Only in this workspace', 'Also write to anyad.json']);
  assert.deepEqual(state.get(ASSIGNMENTS_KEY), { [file('X_mystery.nii.gz')]: 't1ce' });
  assert.equal(readFileSync(CONFIG, 'utf8'), CONFIG_TEXT, 'anyad.json untouched');
  const [caseMsg] = parsed(viewer.posted).filter((m): m is Extract<HostToWebview, { type: 'case' }> => m.type === 'case');
  assert.deepEqual(caseMsg, { type: 'case', sequences: ['flair', 't1', 't1ce', 't2'], opened: 'flair', hasLabel: false });
  assert.deepEqual(
    parsed(mystery.posted).find((m) => m.type === 'case'),
    { type: 'case', sequences: ['flair', 't1', 't1ce', 't2'], opened: 't1ce', hasLabel: false },
  );

  // Written to anyad.json: X_T2w becomes the label; the comment stays; training's config sees it.
  picks.push('Label', 'Also write to anyad.json');
  await assignSequenceCommand(deps, fakeFileUri(file('X_T2w.nii.gz')));
  const text = readFileSync(CONFIG, 'utf8');
  assert.match(text, /\/\/ odd names of this study/);
  assert.deepEqual(loadWorkspaceConfig(CONFIG).data.assignments, { [file('X_T2w.nii.gz')]: 'label' });
  const last = parsed(viewer.posted)
    .filter((m) => m.type === 'case')
    .at(-1);
  assert.deepEqual(last, { type: 'case', sequences: ['flair', 't1', 't1ce'], opened: 'flair', hasLabel: true });
  await settle();
  assert.ok(
    parsed(viewer.posted).some((m) => m.type === 'file' && m.layer === 'mask' && m.name === 'X_T2w.nii.gz'),
    'the new label mask is sent',
  );

  // Clear: forgets the workspace choice, and offers to remove what anyad.json says.
  picks.push('Clear', 'Also remove from anyad.json');
  await assignSequenceCommand(deps, fakeFileUri(file('X_T2w.nii.gz')));
  assert.deepEqual(loadWorkspaceConfig(CONFIG).data.assignments, {});
  picks.push('Clear');
  await assignSequenceCommand(deps, fakeFileUri(file('X_mystery.nii.gz')));
  assert.deepEqual(state.get(ASSIGNMENTS_KEY), {});
  assert.deepEqual(
    parsed(viewer.posted)
      .filter((m) => m.type === 'case')
      .at(-1),
    { type: 'case', sequences: ['flair', 't1', 't2'], opened: 'flair', hasLabel: false },
  );
  assert.ok(refreshed >= 4);

  // Not a NIfTI: refused with a message, nothing remembered.
  await assignSequenceCommand(deps, fakeFileUri(join(ws, 'notes.txt')));
  assert.match(errors.at(-1) ?? '', /pick a \.nii \/ \.nii\.gz file/);
});

test("Detect passes the viewer's resolved files (and anyad.json) to the engine process, which scores exactly them", async () => {
  writeFileSync(CONFIG, CONFIG_TEXT);
  const viewer = await open(file('X_fla.nii.gz'));
  viewer.send({ type: 'viewState', cursor: [3, 3, 6], modalities: ['flair', 't2'] });
  // The real engine process (anyad engine from source), with its requests recorded.
  const client = engineClient();
  const engineCalls: Array<{ kind: string; params: unknown }> = [];
  const engine = {
    request: (kind: 'detect', params: DetectParams, o?: object) => {
      engineCalls.push({ kind, params });
      return client.request(kind, params, o);
    },
  };
  const env = {
    log: { appendLine: (l: string) => log.push(l) },
    viewer: provider,
    extensionUri: fakeFileUri(ROOT),
    status: { text: '', tooltip: '', show() {} },
    sequences,
    engine,
  };
  try {
    viewer.posted.length = 0;
    await detectCommand(env as never, undefined, 'slice');
    assert.deepEqual(
      errors.filter((e) => /Detect|CLI|engine/.test(e)),
      [],
    );
    const p = engineCalls.at(-1)!.params as DetectParams;
    assert.deepEqual(
      [p.files.flair, p.files.t1, p.files.t2, p.config, p.modalities, p.slice],
      [file('X_fla.nii.gz'), file('X_T1w.nii.gz'), file('X_T2w.nii.gz'), CONFIG, ['flair', 't2'], 6],
    );
    const heat = parsed(viewer.posted).find((m) => m.type === 'heatmap') as Extract<HostToWebview, { type: 'heatmap' }>;
    assert.ok(heat, `a heatmap reached the viewer (log: ${log.slice(-3).join(' | ')})`);
    assert.deepEqual(heat.modalities, ['flair', 't2']);
    assert.equal(heat.slice, 6);
    // The same files through the CLI directly give the same score.
    const direct = await cliInProcess([
      'detect',
      '--model',
      join(ROOT, 'models', 'default'),
      '--config',
      CONFIG,
      '--case',
      file('X_fla.nii.gz'),
      '--modalities',
      'flair,t2',
      '--slice',
      '6',
      '--provider',
      'cpu',
      '--json',
    ]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(JSON.parse(direct.stdout).score, heat.score);

    // A file that is no known sequence: Detect says how to fix it instead of guessing.
    copyFileSync(file('X_mystery.nii.gz'), join(ws, 'lonely.nii.gz'));
    await open(join(ws, 'lonely.nii.gz'));
    const calls = engineCalls.length;
    await detectCommand(env as never, undefined, 'slice');
    assert.equal(engineCalls.length, calls, 'no engine request');
    assert.match(errors.at(-1) ?? '', /not a known FLAIR, T1 or T2\. Run "AnyAD: Assign sequence…"/);
  } finally {
    await client.dispose();
  }
});

test('protocol: a case message is validated like init (known sequences, opened among them, nothing extra)', () => {
  const ok = { type: 'case', sequences: ['flair', 't2'], opened: 'flair', hasLabel: true };
  assert.deepEqual(parseHostMessage(ok, DIMS), ok);
  assert.deepEqual(parseHostMessage({ ...ok, sequences: [], opened: null }, DIMS), { ...ok, sequences: [], opened: null });
  for (const bad of [
    { ...ok, sequences: ['flair', 'dwi'] },
    { ...ok, sequences: ['flair', 'flair'] },
    { ...ok, opened: 't1' },
    { ...ok, hasLabel: 'yes' },
    { ...ok, extra: 1 },
    { ...ok, sequences: 'flair' },
  ])
    assert.equal(parseHostMessage(bad, DIMS), null, JSON.stringify(bad));
  assert.equal(parseHostMessage(ok, null), null, 'not before init');
});
