/**
 * The custom editor provider against a recording stand-in of the VS Code API, on real NIfTI
 * files: what it posts to the webview (each message must pass the webview's own parser),
 * edits with undo/redo, save, backup/restore, lazy sibling sequences, refused messages and
 * the error view for a broken file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNifti, toCanonical, writeNifti } from '../../src/engine/nifti';
import { parseHostMessage, type Dims3, type HostToWebview } from '../../src/shared/webviewProtocol';
import { fakePanel } from '../helpers/fakeWebviewPanel';
import { FakeEventEmitter, FakeUri, fakeFileUri, requireWithVscode } from '../helpers/fakeVscode';
import { UnsavedAnnotationLedger } from '../../src/extension/model/unsavedAnnotations';

/** Temp folders of this file, removed when its tests end. */
const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'anyad-editor-'));
  tempDirs.push(d);
  return d;
}
after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

const executed: unknown[][] = [];
const settings: Record<string, unknown> = {};
const logLines: string[] = [];
const vscodeStandIn = {
  EventEmitter: FakeEventEmitter,
  Uri: FakeUri,
  workspace: {
    fs: { readFile: async (u: FakeUri) => new Uint8Array(readFileSync(u.fsPath)) },
    getConfiguration: () => ({ get: (k: string, d: unknown) => settings[k] ?? d }),
  },
  commands: {
    executeCommand: async (...args: unknown[]) => {
      executed.push(args);
    },
  },
};
const { NiftiEditorProvider } = requireWithVscode<typeof import('../../src/extension/niftiEditor')>(
  join(__dirname, '..', '..', 'src', 'extension', 'niftiEditor'),
  vscodeStandIn,
);

const DIMS: Dims3 = [10, 8, 6];
const N = 480;
const LPS = [-1.5, 0, 0, 10, 0, -1.5, 0, 20, 0, 0, 2, -5, 0, 0, 0, 1];

function makeCase() {
  const dir = tempDir();
  const flair = join(dir, 'case7_flair.nii.gz');
  writeNifti(flair, { dims: DIMS, affine: LPS, data: new Float32Array(N).map((_, i) => i % 50) });
  writeNifti(join(dir, 'case7_t1.nii.gz'), { dims: DIMS, affine: LPS, data: new Float32Array(N).fill(3) });
  const seg = new Float32Array(N);
  seg[0] = 2;
  writeNifti(join(dir, 'case7_seg.nii.gz'), { dims: DIMS, affine: LPS, data: seg }, { datatype: 'uint8' });
  return { dir, flair };
}

async function openEditor(path: string, backupId?: string, unsaved?: UnsavedAnnotationLedger) {
  const log = { appendLine: (l: string) => logLines.push(l) };
  const provider = new NiftiEditorProvider(fakeFileUri('/ext') as never, log as never, undefined, unsaved);
  const edits: { undo(): void; redo(): void; label?: string }[] = [];
  provider.onDidChangeCustomDocument((e) => edits.push(e));
  const doc = await provider.openCustomDocument(fakeFileUri(path) as never, { backupId, untitledDocumentData: undefined });
  const view = fakePanel();
  provider.resolveCustomEditor(doc, view.panel as never);
  return { provider, doc, edits, ...view };
}

/** Lets the host's asynchronous replies (file reads) arrive. */
const settle = () => new Promise((r) => setTimeout(r, 50));

/** Every message the host posts must pass the webview's parser (given the dims from init). */
function parsedAll(posted: unknown[], initDims: Dims3 | null = null): HostToWebview[] {
  let dims = initDims;
  return posted.map((m) => {
    const p = parseHostMessage(m, dims);
    assert.ok(p, `webview would drop ${JSON.stringify(m).slice(0, 100)}`);
    if (p.type === 'init') dims = p.dims;
    return p;
  });
}

test('open: init, canonical voxels, annotation and label mask reach the webview as valid messages; HTML is locked down', async () => {
  const { flair } = makeCase();
  const { posted, send, panel } = await openEditor(flair);
  // Sent at once, not after 'ready' (the bytes travel while the page loads) …
  await settle();
  assert.deepEqual(
    posted.map((m) => (m as { type: string }).type),
    ['init', 'file', 'file'],
  );
  // … and the first 'ready' does not send them twice; a later one (a reloaded page) does.
  send({ type: 'ready' });
  await settle();
  assert.equal(posted.length, 3);
  send({ type: 'ready' });
  await settle();
  assert.equal(posted.length, 6);
  posted.splice(3);
  assert.match(panel.webview.html, /script-src 'nonce-[^']+'/);
  assert.doesNotMatch(panel.webview.html, /\son[a-z]+=/i, 'no inline event handlers');
  assert.deepEqual(
    (panel.webview.options as { localResourceRoots: FakeUri[] }).localResourceRoots.map((u) => u.fsPath),
    [join('/ext', 'dist')],
  );
  const msgs = parsedAll(posted);
  // The files' own bytes (NiiVue decodes them); a blank annotation is not sent.
  assert.deepEqual(
    msgs.map((m) => (m.type === 'file' ? `file:${m.layer}` : m.type)),
    ['init', 'file:opened', 'file:mask'],
  );
  const init = msgs[0] as Extract<HostToWebview, { type: 'init' }>;
  assert.deepEqual(init.sequences, ['flair', 't1']);
  assert.equal(init.opened, 'flair');
  assert.equal(init.hasLabel, true);
  assert.equal(init.orientation, 'LPS');
  assert.equal(init.annotationFile, join(flair, '..', 'case7_annot.nii.gz'));
  // LPS storage: canonical x and y run against storage x and y; the webview maps grids with this.
  assert.deepEqual(
    [init.sourceDims, init.axes],
    [
      DIMS,
      [
        { axis: 0, flip: true },
        { axis: 1, flip: true },
        { axis: 2, flip: false },
      ],
    ],
  );
  assert.deepEqual(init.dims, toCanonical(readNifti(flair).volume).dims);
  assert.deepEqual(new Uint8Array((msgs[1] as { bytes: ArrayBuffer }).bytes), new Uint8Array(readFileSync(flair)));
  assert.deepEqual(
    new Uint8Array((msgs[2] as { bytes: ArrayBuffer }).bytes),
    new Uint8Array(readFileSync(join(flair, '..', 'case7_seg.nii.gz'))),
  );
});

test('stroke → patch + undoable edit; undo/redo callbacks patch the webview; save writes the annotation', async () => {
  const { flair, dir } = makeCase();
  const { doc, posted, send, edits } = await openEditor(flair);
  send({ type: 'ready' });
  posted.length = 0;
  send({ type: 'stroke', tool: 'brush', plane: 'axial', slice: 2, points: [4, 4], radius: 1, value: 3 });
  assert.equal(edits.length, 1);
  assert.equal(edits[0].label, 'Brush stroke');
  const [patch] = parsedAll(posted, DIMS) as Extract<HostToWebview, { type: 'annotationPatch' }>[];
  assert.equal(patch.type, 'annotationPatch');
  const idx = [...new Uint32Array(patch.indices)].sort((a, b) => a - b);
  const at = (x: number, y: number) => x + 10 * (y + 8 * 2);
  assert.deepEqual(idx, [at(4, 3), at(3, 4), at(4, 4), at(5, 4), at(4, 5)]);
  assert.deepEqual([...new Uint8Array(patch.values)], [3, 3, 3, 3, 3]);
  edits[0].undo();
  edits[0].redo();
  const [undone, redone] = parsedAll(posted.slice(1), DIMS) as Extract<HostToWebview, { type: 'annotationPatch' }>[];
  assert.deepEqual([...new Uint8Array(undone.values)], [0, 0, 0, 0, 0]);
  assert.deepEqual([...new Uint8Array(redone.values)], [3, 3, 3, 3, 3]);
  const provider = new NiftiEditorProvider(fakeFileUri('/ext') as never, { appendLine() {} } as never);
  await provider.saveCustomDocument(doc);
  const saved = toCanonical(readNifti(join(dir, 'case7_annot.nii.gz')).volume);
  assert.deepEqual(
    idx.map((i) => saved.data[i]),
    [3, 3, 3, 3, 3],
  );
  assert.equal(
    saved.data.reduce((s, v) => s + v, 0),
    15,
  );
});

test('backup, then reopening from the backup id restores the unsaved annotation', async () => {
  const { flair, dir } = makeCase();
  const first = await openEditor(flair);
  first.send({ type: 'stroke', tool: 'brush', plane: 'sagittal', slice: 5, points: [1, 1, 6, 1], radius: 0, value: 9 });
  const backup = await first.provider.backupCustomDocument(first.doc, { destination: fakeFileUri(join(dir, 'bk', 'b1')) } as never);
  const second = await openEditor(flair, backup.id);
  second.send({ type: 'ready' });
  await settle();
  const annot = parsedAll(second.posted).find((m) => m.type === 'labels' && m.layer === 'annotation') as { data: ArrayBuffer };
  const labels = new Uint8Array(annot.data);
  assert.equal(
    labels.reduce((s, v) => s + (v === 9 ? 1 : 0), 0),
    6,
  );
  backup.delete();
});

/** How many voxels of the annotation the viewer was last sent carry `value`. */
function annotationCount(posted: unknown[], value: number): number {
  const annot = parsedAll(posted)
    .filter((m) => m.type === 'labels' && m.layer === 'annotation')
    .pop() as { data: ArrayBuffer };
  return new Uint8Array(annot.data).reduce((s, v) => s + (v === value ? 1 : 0), 0);
}

test('a reload without the backup id (VS Code 1.100 drops it) restores the unsaved labels from the ledger, dirty; save, revert and close forget them', async () => {
  const { flair, dir } = makeCase();
  const ledger = new UnsavedAnnotationLedger(join(dir, 'ledger'));
  const stroke = { type: 'stroke', tool: 'brush', plane: 'sagittal', slice: 5, points: [1, 1, 6, 1], radius: 0, value: 9 };
  const first = await openEditor(flair, undefined, ledger);
  first.send(stroke);
  const b1 = await first.provider.backupCustomDocument(first.doc, { destination: fakeFileUri(join(dir, 'bk', 'b1')) } as never);
  // A newer backup replaces the older one, file and record.
  await first.provider.backupCustomDocument(first.doc, { destination: fakeFileUri(join(dir, 'bk', 'b2')) } as never);
  assert.ok(!existsSync(join(dir, 'bk', 'b1')) && existsSync(join(dir, 'bk', 'b2')));
  b1.delete(); // VS Code deleting the superseded backup leaves the newer record alone
  assert.equal(ledger.find(flair, join(dir, 'case7_annotation.nii.gz')), join(dir, 'bk', 'b2'));

  // The reload: a new provider (new extension host), the document opened with no backup id.
  const second = await openEditor(flair, undefined, ledger);
  second.send({ type: 'ready' });
  await settle();
  assert.equal(annotationCount(second.posted, 9), 6, 'the unsaved stroke is back');
  const marks = second.edits.filter((e) => !('undo' in e));
  assert.equal(marks.length, 1, 'one content change marks the restored document dirty');
  assert.match(logLines.join('\n'), /restored the unsaved annotation of .*case7_flair\.nii\.gz from its last backup .*b2/);

  // Revert: the saved (empty) annotation, and the record and its backup are gone.
  await second.provider.revertCustomDocument(second.doc);
  assert.equal(annotationCount(second.posted, 9), 0);
  assert.ok(!existsSync(join(dir, 'bk', 'b2')));
  const third = await openEditor(flair, undefined, ledger);
  assert.equal(third.edits.length, 0, 'nothing to restore after a revert');

  // Save forgets too; so does closing the document (the user chose not to keep the labels).
  third.send(stroke);
  await third.provider.backupCustomDocument(third.doc, { destination: fakeFileUri(join(dir, 'bk', 'b3')) } as never);
  await third.provider.saveCustomDocument(third.doc);
  assert.ok(!existsSync(join(dir, 'bk', 'b3')));
  third.send({ ...stroke, value: 4 });
  await third.provider.backupCustomDocument(third.doc, { destination: fakeFileUri(join(dir, 'bk', 'b4')) } as never);
  third.doc.dispose();
  assert.ok(!existsSync(join(dir, 'bk', 'b4')));
  const fourth = await openEditor(flair, undefined, ledger);
  fourth.send({ type: 'ready' });
  await settle();
  assert.equal(fourth.edits.length, 0);
  assert.equal(annotationCount(fourth.posted, 9), 6, 'the saved stroke');
  assert.equal(annotationCount(fourth.posted, 4), 0, 'the closed, unsaved one is gone');
});

test('the ledger ignores a backup older than the saved annotation, a missing backup and a damaged record', () => {
  const dir = tempDir();
  const ledger = new UnsavedAnnotationLedger(join(dir, 'ledger'));
  const image = join(dir, 'a_flair.nii.gz');
  const saved = join(dir, 'a_annotation.nii.gz');
  const backup = join(dir, 'backup1');
  writeFileSync(backup, 'x');
  ledger.record(image, backup);
  assert.equal(ledger.find(image, saved), backup, 'no saved file yet: the backup');
  writeFileSync(saved, 'y');
  utimesSync(backup, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  assert.equal(ledger.find(image, saved), undefined, 'saved since the backup: the file wins');
  assert.ok(!existsSync(backup), 'and the stale backup is removed');
  ledger.record(image, join(dir, 'gone'));
  assert.equal(ledger.find(image, saved), undefined, 'a backup that no longer exists');
  writeFileSync(backup, 'x');
  ledger.record(image, backup);
  for (const f of readdirSync(ledger.dir)) writeFileSync(join(ledger.dir, f), '{not json');
  assert.equal(ledger.find(image, saved), undefined, 'a damaged record');
  assert.equal(ledger.find(join(dir, 'other.nii.gz'), saved), undefined, 'another image has no record');
});

test('sibling sequences load lazily; missing ones, open fills and malformed messages give notices or are dropped', async () => {
  const { flair } = makeCase();
  const { posted, send, edits } = await openEditor(flair);
  send({ type: 'ready' });
  await settle();
  posted.length = 0;
  send({ type: 'requestSequence', sequence: 't1' });
  await settle();
  send({ type: 'requestSequence', sequence: 't2' });
  await settle();
  send({ type: 'fill', plane: 'axial', slice: 0, a: 0, b: 0, value: 1 });
  const msgs = parsedAll(posted, DIMS);
  assert.equal(msgs[0].type === 'file' && msgs[0].layer, 't1');
  assert.deepEqual(
    new Uint8Array((msgs[0] as { bytes: ArrayBuffer }).bytes),
    new Uint8Array(readFileSync(join(flair, '..', 'case7_t1.nii.gz'))),
  );
  assert.equal(msgs[1].type === 'notice' && msgs[1].text, 'This case has no T2 file.');
  assert.equal(msgs[2].type, 'notice');
  assert.equal(edits.length, 0, 'an open region is not filled');
  posted.length = 0;
  const logged = logLines.length;
  send({ type: 'stroke', tool: 'brush', plane: 'axial', slice: 6, points: [0, 0], radius: 1, value: 1 });
  send({ type: 'command', command: 'workbench.action.closeAllEditors' });
  assert.equal(posted.length, 0);
  assert.equal(edits.length, 0);
  assert.equal(logLines.length, logged + 2);
  send({ type: 'command', command: 'undo' });
  send({ type: 'command', command: 'detectSlice' });
  assert.deepEqual(
    executed.slice(-2).map((a) => a[0]),
    ['undo', 'anyad.detect'],
  );
});

test('a broken file opens as a readable error view', async () => {
  const dir = tempDir();
  const bad = join(dir, 'broken.nii');
  writeFileSync(bad, Buffer.from('definitely not a NIfTI file'));
  const { posted, send } = await openEditor(bad);
  send({ type: 'ready' });
  await settle();
  const msgs = parsedAll(posted);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].type, 'error');
  assert.match((msgs[0] as { detail: string }).detail, /broken\.nii/);
});

test('a volume over the size limit opens as an error view naming the limit', async () => {
  const { flair } = makeCase();
  settings.maxVolumeMegabytes = 0.001; // 1 kB: the 480-voxel volume needs more
  try {
    const { posted, send } = await openEditor(flair);
    send({ type: 'ready' });
    await settle();
    const msgs = parsedAll(posted);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].type, 'error');
    assert.match((msgs[0] as { detail: string }).detail, /case7_flair\.nii\.gz/);
  } finally {
    delete settings.maxVolumeMegabytes;
  }
});

test('detection results and slice scores reach the viewer as valid heatmap and score-strip messages', async () => {
  const { flair } = makeCase();
  const { doc, posted, send } = await openEditor(flair);
  await settle();
  posted.length = 0; // the image, sent when the editor opened
  const map = new Float32Array(N).fill(NaN);
  map.fill(0.9, 0, 80); // axial slice 0 = the first 80 voxels
  const model = { kind: 'random-init', description: 'RANDOM-INIT encoder (seed 7)', warning: 'not meaningful for real data' } as const;
  doc.showDetection(map, { score: 0.9, threshold: 0.5, decision: true, slice: 0, modalities: ['flair', 't2'], model }, '/models/default');
  doc.showSliceScores(new Float32Array([0.9, NaN, NaN, NaN, NaN, NaN]), 0.5);
  const [heat, strip] = parsedAll(posted, DIMS);
  assert.equal(heat.type === 'heatmap' && heat.decision, true);
  assert.deepEqual(heat.type === 'heatmap' && heat.model, model);
  assert.deepEqual(new Float32Array((heat as { data: ArrayBuffer }).data), map);
  assert.equal(strip.type, 'sliceScores');
  // The banner's links: the host opens the card of the model behind the result shown.
  send({ type: 'command', command: 'showModelCard' });
  send({ type: 'command', command: 'pretrainedWeights' });
  assert.deepEqual(executed.slice(-2), [['anyad.showModelCard', '/models/default'], ['anyad.pretrainedWeights']]);
});

test('the status bar follows the viewer in front: its last result, nothing for another editor', async () => {
  const a = makeCase();
  const b = makeCase();
  const provider = new NiftiEditorProvider(fakeFileUri('/ext') as never, { appendLine() {} } as never);
  const shown: (string | undefined)[] = [];
  provider.onDidChangeActiveViewer((doc) => shown.push(doc?.status?.text));
  const open = async (path: string) => {
    const doc = await provider.openCustomDocument(fakeFileUri(path) as never, { backupId: undefined, untitledDocumentData: undefined });
    const view = fakePanel();
    provider.resolveCustomEditor(doc, view.panel as never);
    return { doc, ...view };
  };
  const first = await open(a.flair);
  first.doc.status = { text: 'AnyAD: anomalous · score 0.9', tooltip: '' };
  const second = await open(b.flair);
  first.setActive(false);
  second.setActive(false); // e.g. a markdown preview in front
  first.setActive(true);
  assert.deepEqual(shown, [undefined, undefined, undefined, 'AnyAD: anomalous · score 0.9']);
  assert.equal(provider.activeDocument(), first.doc, 'Detect uses the viewer last in front');
});

test("drawEdit: one undoable edit per NiiVue action (mixed values), patches every viewer; revert sends the file's labels back", async () => {
  const { flair } = makeCase();
  const { doc, posted, send, edits, provider } = await openEditor(flair);
  send({ type: 'ready' });
  await settle();
  posted.length = 0;
  send({ type: 'drawEdit', kind: 'brush', indices: new Uint32Array([3, 40, 41]).buffer, values: new Uint8Array([2, 2, 0]).buffer });
  await settle();
  assert.equal(edits.length, 1, 'voxel 41 was already 0: one edit for the two that change');
  assert.equal(edits[0].label, 'Brush stroke');
  const [patch] = parsedAll(posted, DIMS) as Extract<HostToWebview, { type: 'annotationPatch' }>[];
  assert.deepEqual(
    [[...new Uint32Array(patch.indices)], [...new Uint8Array(patch.values)]],
    [
      [3, 40],
      [2, 2],
    ],
  );
  posted.length = 0;
  await provider.revertCustomDocument(doc);
  const [labels] = parsedAll(posted, DIMS) as Extract<HostToWebview, { type: 'labels' }>[];
  assert.equal(labels.type, 'labels');
  assert.equal(
    new Uint8Array(labels.data).reduce((a, b) => a + b, 0),
    0,
    'nothing saved yet: all zeros again',
  );
});
