/** The viewer's state logic without a browser: case tabs, subsets, notices, W/L, colour bar, label table, statistics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BRATS_LABELS,
  caseView,
  colourBarTicks,
  editLabel,
  labelEntry,
  labelStatistics,
  labelTableRows,
  niivueLabelColormap,
  Notices,
  statisticsTable,
  subsetLabel,
  toggleModality,
  windowLevelText,
} from '../../src/webview/viewerState';

test('case view: tabs and Detect choices in canonical order, only for sequences that exist', () => {
  const v = caseView({ sequences: ['t2', 't1ce', 'flair'], opened: 'flair', hasLabel: true });
  assert.deepEqual(v.tabs, ['flair', 't2', 't1ce']);
  assert.deepEqual(v.detect, ['flair', 't2']);
  assert.equal(v.fileTab, false);
  assert.equal(v.detectNotice, null);
  const lonely = caseView({ sequences: ['t1ce'], opened: null, hasLabel: false });
  assert.deepEqual([lonely.fileTab, lonely.detect], [true, []]);
  assert.match(lonely.detectNotice ?? '', /Assign sequence/);
});

test('subsets are written FLAIR+T1+T2 whatever the order; the last sequence cannot be unticked', () => {
  assert.equal(subsetLabel(['t2', 'flair', 't1']), 'FLAIR+T1+T2');
  assert.equal(subsetLabel(['t2', 'flair']), 'FLAIR+T2');
  assert.deepEqual(toggleModality(['t2'], 'flair', true), { modalities: ['flair', 't2'], refused: false });
  assert.deepEqual(toggleModality(['t2', 't1'], 't2', false), { modalities: ['t1'], refused: false });
  assert.deepEqual(toggleModality(['t2'], 't2', false), { modalities: ['t2'], refused: true });
});

test('notices are keyed by cause: each clears on its own, an empty text clears', () => {
  const n = new Notices();
  n.set('sequence:t1', 'Loading T1…', 'info');
  n.set('fill', 'Fill: not closed', 'warn');
  assert.equal(n.text, 'Loading T1… · Fill: not closed');
  assert.equal(n.level, 'warn');
  n.clear('sequence:t1');
  assert.equal(n.text, 'Fill: not closed');
  n.set('fill', '');
  assert.equal(n.text, '');
  assert.equal(n.level, null);
  n.set('sequence:t1', 'a');
  n.set('sequence:t2', 'b', 'error');
  assert.equal(n.level, 'error');
  n.clearPrefix('sequence:');
  assert.equal(n.text, '');
});

test('W/L read-out and colour bar ticks show the values in use, the threshold where it lies', () => {
  assert.equal(windowLevelText(100, 300), 'W 200 L 200 (100–300)');
  assert.deepEqual(colourBarTicks([0, 2], 0.5), { min: '0', max: '2', threshold: '0.5', at: 0.25, inside: true });
  assert.deepEqual(colourBarTicks([0, 1], 3), { min: '0', max: '1', threshold: '3', at: 1, inside: false });
});

test("label table: BraTS names by default, edits and visibility reach NiiVue's colormap", () => {
  assert.equal(labelEntry(BRATS_LABELS, 2).name, 'Peritumoral oedema (ED)');
  assert.equal(labelEntry(BRATS_LABELS, 9).name, 'Label 9');
  const t = editLabel(editLabel(BRATS_LABELS, 4, { visible: false }), 7, { name: 'Cyst' });
  assert.deepEqual(
    t.map((e) => e.value),
    [1, 2, 3, 4, 7],
  );
  const cm = niivueLabelColormap(t);
  assert.equal(cm.I.length, 256);
  assert.deepEqual([cm.A[0], cm.A[1], cm.A[4], cm.A[7], cm.A[200]], [0, 255, 0, 255, 255], '0 and hidden labels transparent');
  assert.equal(cm.labels[7], 'Cyst');
  assert.deepEqual([cm.R[1], cm.G[1], cm.B[1]], BRATS_LABELS[0].colour);
  assert.equal(niivueLabelColormap(t, 4).I.length, 5, "an image's table stops at its largest label");
});

test('per-label statistics: voxels, ml and the mean of each sequence with its scaling', () => {
  const labels = [0, 1, 1, 2, 0, 2, 2];
  const flair = [9, 10, 20, 1, 9, 2, 3];
  const t1 = [0, 1, 1, 1, 0, 1, 1];
  const rows = labelStatistics(
    labels,
    [
      { name: 'FLAIR', data: flair },
      { name: 'T1', data: t1, slope: 2, inter: 1 },
    ],
    2,
  );
  assert.deepEqual(rows, [
    { value: 1, voxels: 2, ml: 0.004, means: { FLAIR: 15, T1: 3 } },
    { value: 2, voxels: 3, ml: 0.006, means: { FLAIR: 2, T1: 3 } },
  ]);
  assert.deepEqual(labelStatistics([0, 0], [], 1), []);
});

test('statistics table: header with a mean per image, a row per label named for the tests, "empty" for a source without labels', () => {
  const images = [
    { name: 'FLAIR', data: [10, 20, 30, 40] },
    { name: 'T1', data: [1, 1, 1, 1], slope: 2, inter: 1 },
  ];
  const { header, rows } = statisticsTable(
    [
      ['Annotation', [0, 1, 1, 2]],
      ['Mask', [0, 0, 0, 0]],
    ],
    images,
    500,
    BRATS_LABELS,
  );
  assert.deepEqual(header, ['Layer', 'Label', 'Voxels', 'ml', 'Mean FLAIR', 'Mean T1']);
  assert.deepEqual(rows, [
    { source: 'Annotation', testid: 'stats-annotation-1', cells: ['Annotation', `1 ${BRATS_LABELS[0].name}`, '2', '1.000', '25', '3'] },
    { source: 'Annotation', testid: 'stats-annotation-2', cells: ['Annotation', `2 ${BRATS_LABELS[1].name}`, '1', '0.500', '40', '3'] },
    { source: 'Mask', empty: true },
  ]);
  const custom = statisticsTable([['Mask', [9]]], [], 1, BRATS_LABELS);
  assert.deepEqual(custom.rows, [{ source: 'Mask', testid: 'stats-mask-9', cells: ['Mask', '9 Label 9', '1', '0.001'] }]);
});

test('label table rows: the table, plus the pen label when it is not listed', () => {
  assert.deepEqual(labelTableRows(BRATS_LABELS, 2), [...BRATS_LABELS]);
  const rows = labelTableRows(BRATS_LABELS, 7);
  assert.equal(rows.length, BRATS_LABELS.length + 1);
  assert.deepEqual(rows.at(-1), labelEntry(BRATS_LABELS, 7));
  assert.equal(rows.at(-1)?.name, 'Label 7');
});
