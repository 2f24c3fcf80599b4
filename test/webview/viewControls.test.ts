/** The viewer's control decisions without a browser: keys, slices, tools, fill seed, score strip, the page's texts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InitMessage } from '../../src/shared/webviewProtocol';
import { BRATS_LABELS } from '../../src/webview/viewerState';
import {
  STRIP_ABOVE,
  STRIP_BELOW,
  STRIP_CURSOR,
  TOOLS,
  centreVoxel,
  chosenSlot,
  cursorOnSlice,
  fillSeed,
  infoText,
  keyAction,
  modelWarning,
  nearestVoxel,
  penLabelValue,
  readoutText,
  scoreText,
  sequenceChoices,
  sliceControl,
  statsColumns,
  stripBars,
  stripSliceAt,
  toolSettings,
} from '../../src/webview/viewControls';

const press = (key: string, over: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean; targetTag: string | null }> = {}) => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  targetTag: 'CANVAS' as string | null,
  ...over,
});

test('keys: arrows and page keys step slices once a volume is open; letters pick tools, digits views', () => {
  assert.deepEqual(keyAction(press('ArrowUp'), true), { kind: 'step', step: 1 });
  assert.deepEqual(keyAction(press('ArrowDown'), true), { kind: 'step', step: -1 });
  assert.deepEqual(keyAction(press('PageUp'), true), { kind: 'step', step: 10 });
  assert.deepEqual(keyAction(press('PageDown'), true), { kind: 'step', step: -10 });
  assert.equal(keyAction(press('ArrowUp'), false), null, 'nothing to step before a volume is open');
  assert.deepEqual(
    ['n', 'b', 'e', 'f', 'm'].map((k) => keyAction(press(k), false)),
    TOOLS.map((tool) => ({ kind: 'tool', tool })),
  );
  assert.deepEqual(keyAction(press('B'), true), { kind: 'tool', tool: 'brush' }, 'with Shift too');
  assert.deepEqual(
    ['1', '2', '3', '4', '5'].map((k) => keyAction(press(k), true)),
    ['axial', 'coronal', 'sagittal', 'multiplanar', 'render'].map((view) => ({ kind: 'view', view })),
  );
  assert.equal(keyAction(press('x'), true), null);
  assert.equal(keyAction(press('6'), true), null);
});

test('keys: not ours while typing in a field or with Ctrl/Cmd/Alt (undo, redo and save belong to VS Code)', () => {
  for (const tag of ['INPUT', 'VSCODE-TEXTFIELD', 'VSCODE-SINGLE-SELECT'])
    assert.equal(keyAction(press('b', { targetTag: tag }), true), null, tag);
  assert.deepEqual(keyAction(press('b', { targetTag: 'VSCODE-BUTTON' }), true), { kind: 'tool', tool: 'brush' });
  assert.deepEqual(keyAction(press('b', { targetTag: null }), true), { kind: 'tool', tool: 'brush' });
  assert.equal(keyAction(press('z', { ctrlKey: true }), true), null);
  assert.equal(keyAction(press('s', { metaKey: true }), true), null);
  assert.equal(keyAction(press('ArrowUp', { altKey: true }), true), null);
});

test('slices: the cursor starts in the middle; a slice move rounds and clamps along the plane axis only', () => {
  assert.deepEqual(centreVoxel([10, 9, 1]), [5, 4, 0]);
  const dims: [number, number, number] = [10, 8, 6];
  assert.deepEqual(cursorOnSlice([1, 2, 3], dims, 'axial', 4.6), [1, 2, 5]);
  assert.deepEqual(cursorOnSlice([1, 2, 3], dims, 'axial', 99), [1, 2, 5]);
  assert.deepEqual(cursorOnSlice([1, 2, 3], dims, 'coronal', -4), [1, 0, 3]);
  assert.deepEqual(cursorOnSlice([1, 2, 3], dims, 'sagittal', 9), [9, 2, 3]);
  const c: [number, number, number] = [1, 2, 3];
  cursorOnSlice(c, dims, 'axial', 0);
  assert.deepEqual(c, [1, 2, 3], 'the given cursor is not changed');
  assert.deepEqual(sliceControl([1, 2, 3], dims, 'axial'), { max: 5, value: 3, label: 'axial 3 / 5' });
  assert.deepEqual(sliceControl([1, 2, 3], dims, 'sagittal'), { max: 9, value: 1, label: 'sagittal 1 / 9' });
});

test('nearest voxel: rounded and kept inside the volume', () => {
  assert.deepEqual(nearestVoxel([1.4, 2.6, -0.7], [10, 8, 6]), [1, 3, 0]);
  assert.deepEqual(nearestVoxel([12, 7.6, 5.2], [10, 8, 6]), [9, 7, 5]);
});

test('fill seed: the plane in view (axial for multiplanar and 3-D), its slice and in-plane (a, b) in planes.ts order', () => {
  const r: [number, number, number] = [4, 5, 6];
  assert.deepEqual(fillSeed('axial', r), { plane: 'axial', slice: 6, a: 4, b: 5 });
  assert.deepEqual(fillSeed('coronal', r), { plane: 'coronal', slice: 5, a: 4, b: 6 });
  assert.deepEqual(fillSeed('sagittal', r), { plane: 'sagittal', slice: 4, a: 5, b: 6 });
  assert.deepEqual(fillSeed('multiplanar', r), fillSeed('axial', r));
  assert.deepEqual(fillSeed('render', r), fillSeed('axial', r));
});

test('tools: brush paints the label, eraser paints 0, measure drags to measure, the rest navigate', () => {
  assert.deepEqual(toolSettings('brush', 3), { drawing: true, penValue: 3, measure: false, strokeKind: 'brush' });
  assert.deepEqual(toolSettings('eraser', 3), { drawing: true, penValue: 0, measure: false, strokeKind: 'eraser' });
  assert.deepEqual(toolSettings('measure', 3), { drawing: false, penValue: 3, measure: true, strokeKind: 'brush' });
  for (const t of ['navigate', 'fill'] as const) {
    const s = toolSettings(t, 2);
    assert.equal(s.drawing, false, t);
    assert.equal(s.measure, false, t);
  }
  assert.equal(penLabelValue('4'), 4);
  assert.equal(penLabelValue('2.6'), 3);
  assert.equal(penLabelValue('0'), 1);
  assert.equal(penLabelValue('300'), 255);
  assert.equal(penLabelValue('abc'), 1);
  assert.equal(penLabelValue(''), 1, 'an empty field is 0, clamped to 1');
});

test('score strip: a bar per scored slice in its range, red at or above the threshold, the current slice in green on top', () => {
  const bars = stripBars({ scores: Float32Array.from([0, Number.NaN, 1, 0.5]), threshold: 0.5 }, 4, 2, 40, 10);
  assert.deepEqual(bars, [
    { x: 0, y: 8, width: 9.5, height: 2, colour: STRIP_BELOW },
    { x: 20, y: 0, width: 9.5, height: 10, colour: STRIP_ABOVE },
    { x: 30, y: 5, width: 9.5, height: 5, colour: STRIP_ABOVE },
    { x: 20, y: 0, width: 10, height: 10, colour: STRIP_CURSOR },
  ]);
  // No scores yet: only the cursor; thin bars are at least one pixel wide.
  assert.deepEqual(stripBars(null, 100, 7, 50, 10), [{ x: 3.5, y: 0, width: 1, height: 10, colour: STRIP_CURSOR }]);
  assert.equal(stripSliceAt(0, 12), 0);
  assert.equal(stripSliceAt(0.5, 12), 6);
  assert.equal(stripSliceAt(0.999, 12), 11);
});

test('texts: the opened file, a detection result and the model warning', () => {
  const init = {
    name: 'case7_flair.nii.gz',
    dims: [10, 8, 6],
    spacing: [1, 1.5, 2.25],
    orientation: 'LPS',
    datatype: 'float32',
    annotationFile: 'case7_flair.annotation.nii.gz',
  } as unknown as InitMessage;
  assert.equal(
    infoText(init),
    'case7_flair.nii.gz — 10×8×6, 1.00×1.50×2.25 mm, stored LPS, float32; annotation: case7_flair.annotation.nii.gz',
  );
  assert.equal(
    scoreText({ score: 0.73219, threshold: 0.5, decision: true, slice: 12, modalities: ['t2', 'flair'] }),
    'Anomaly score 0.7322 (threshold 0.5): ANOMALOUS — axial slice 12, FLAIR+T2',
  );
  assert.equal(
    scoreText({ score: 0.1, threshold: 0.5, decision: false, slice: null, modalities: ['t1'] }),
    'Anomaly score 0.1 (threshold 0.5): normal — volume, T1',
  );
  assert.equal(modelWarning(null), null);
  assert.equal(modelWarning({ kind: 'pretrained', description: 'DINOv2 small', warning: null }), null);
  assert.deepEqual(modelWarning({ kind: 'random-init', description: 'seed 3', warning: 'not pretrained' }), {
    text: 'Random-init encoder: these detections are not meaningful for real data',
    title: 'seed 3\nnot pretrained',
  });
  assert.deepEqual(modelWarning({ kind: 'pretrained', description: 'd', warning: 'old checkpoint' }), {
    text: 'Model warning: old checkpoint',
    title: 'd\nold checkpoint',
  });
});

test('read-out: position and value always; label, annotation (with its name) and anomaly where present', () => {
  const base = { cursor: [1, 2, 3] as [number, number, number], sequence: 'flair', value: 12.5, labels: BRATS_LABELS };
  assert.equal(readoutText({ ...base, maskLabel: null, annotation: null, anomaly: null }), 'voxel (1, 2, 3) · FLAIR 12.5');
  assert.equal(
    readoutText({ ...base, maskLabel: 2, annotation: 1, anomaly: 0.25 }),
    `voxel (1, 2, 3) · FLAIR 12.5 · label 2 · annotation 1 (${BRATS_LABELS[0].name}) · anomaly 0.25`,
  );
  assert.equal(
    readoutText({ ...base, maskLabel: 0, annotation: 0, anomaly: Number.NaN }),
    'voxel (1, 2, 3) · FLAIR 12.5 · label 0 · annotation 0',
  );
});

test('selects: blend/side choices and their values as slots', () => {
  assert.deepEqual(sequenceChoices({ fileTab: false, tabs: ['flair', 't2'] }), [
    ['none', 'none'],
    ['flair', 'FLAIR'],
    ['t2', 'T2'],
  ]);
  assert.deepEqual(sequenceChoices({ fileTab: true, tabs: [] }), [
    ['none', 'none'],
    ['opened', 'File'],
  ]);
  assert.equal(chosenSlot('none'), null);
  assert.equal(chosenSlot(''), null);
  assert.equal(chosenSlot('t1'), 't1');
  assert.equal(chosenSlot('opened'), 'opened');
});

test('statistics columns: sequence order, the opened file left out when its own sequence is loaded too', () => {
  assert.deepEqual(statsColumns(['opened', 't2', 'flair'], 'flair'), [
    { key: 'flair', name: 'FLAIR' },
    { key: 't2', name: 'T2' },
  ]);
  assert.deepEqual(statsColumns(['t1', 'opened'], 'flair'), [
    { key: 'opened', name: 'FLAIR' },
    { key: 't1', name: 'T1' },
  ]);
  assert.deepEqual(statsColumns(['t1ce', 'opened', 't1'], null), [
    { key: 't1', name: 'T1' },
    { key: 't1ce', name: 'T1CE' },
    { key: 'opened', name: 'FILE' },
  ]);
});
