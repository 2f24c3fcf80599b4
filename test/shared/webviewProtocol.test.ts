/** Message parsers of both directions: valid messages pass unchanged, malformed ones are dropped (null). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostMessage, parseWebviewMessage, type Dims3 } from '../../src/shared/webviewProtocol';

const D: Dims3 = [4, 3, 2];
const N = 24;

const init = {
  type: 'init',
  name: 'a_flair.nii.gz',
  dims: D,
  spacing: [1, 1, 2],
  orientation: 'LPS',
  datatype: 'int16',
  sequences: ['flair', 't1'],
  opened: 'flair',
  hasLabel: true,
  annotationFile: '/x/a_annot.nii.gz',
  overlay: { opacity: 0.5, colormap: 'hot' },
  // Stored y, z, x (reversed z): canonical x is storage axis 2, and so on.
  sourceDims: [3, 2, 4],
  axes: [
    { axis: 2, flip: false },
    { axis: 0, flip: false },
    { axis: 1, flip: true },
  ],
};
const gz = new Uint8Array([0x1f, 0x8b, 8, 0]).buffer;
/** The `model` of a heatmap from a random-init bundle, and from a pretrained one. */
const RANDOM_INIT = {
  kind: 'random-init',
  description: 'RANDOM-INIT encoder (seed 7)',
  warning: 'RANDOM-INIT encoder (seed 7): maps and scores of this model are not meaningful for real data',
};
const PRETRAINED = {
  kind: 'pretrained',
  description: 'pretrained encoder model.safetensors (hf naming, 4 register tokens)',
  warning: null,
};
const stroke = { type: 'stroke', tool: 'brush', plane: 'coronal', slice: 2, points: [0, 0, 3, 1], radius: 2, value: 4 };

test('host → webview: valid messages are accepted as sent', () => {
  assert.deepEqual(parseHostMessage(init, null), init);
  assert.deepEqual(parseHostMessage({ ...init, sequences: [], opened: null, hasLabel: false }, null)?.type, 'init');
  const file = { type: 'file', layer: 'opened', name: 'a_flair.nii.gz', bytes: gz };
  assert.deepEqual(parseHostMessage(file, D), file);
  for (const layer of ['t2', 'mask', 'overlay']) assert.equal(parseHostMessage({ ...file, layer }, D)?.type, 'file');
  assert.equal(parseHostMessage({ type: 'labels', layer: 'annotation', data: new ArrayBuffer(N) }, D)?.type, 'labels');
  const patch = { type: 'annotationPatch', indices: new Uint32Array([0, 23]).buffer, values: new Uint8Array([1, 2]).buffer };
  assert.deepEqual(parseHostMessage(patch, D), patch);
  const heat = {
    type: 'heatmap',
    data: new ArrayBuffer(4 * N),
    threshold: 0.3,
    score: 0.7,
    decision: true,
    slice: 1,
    modalities: ['t1', 'flair'],
    model: RANDOM_INIT,
  };
  assert.deepEqual(parseHostMessage(heat, D), heat);
  assert.equal(parseHostMessage({ ...heat, slice: null }, D)?.type, 'heatmap');
  assert.deepEqual(parseHostMessage({ ...heat, model: PRETRAINED }, D), { ...heat, model: PRETRAINED });
  // A pretrained model may still carry a warning of its own.
  assert.equal(parseHostMessage({ ...heat, model: { ...PRETRAINED, warning: 'registers dropped' } }, D)?.type, 'heatmap');
  assert.equal(parseHostMessage({ type: 'sliceScores', scores: new ArrayBuffer(4 * 2), threshold: 0.5 }, D)?.type, 'sliceScores');
  assert.deepEqual(parseHostMessage({ type: 'clearHeatmap' }, D), { type: 'clearHeatmap' });
  assert.deepEqual(parseHostMessage({ type: 'notice', level: 'warn', text: 'x' }, D), { type: 'notice', level: 'warn', text: 'x' });
  assert.deepEqual(parseHostMessage({ type: 'error', title: 't', detail: 'd' }, null), { type: 'error', title: 't', detail: 'd' });
});

test('host → webview: malformed messages are dropped', () => {
  const bad: [unknown, Dims3 | null][] = [
    [null, D],
    ['init', D],
    [[init], D],
    [{ type: 'nope' }, D],
    [{}, D],
    [{ ...init, dims: [4, 3] }, null],
    [{ ...init, dims: [4, 3, 0] }, null],
    [{ ...init, dims: [4, 3, 1.5] }, null],
    [{ ...init, dims: [5000, 1, 1] }, null],
    [{ ...init, spacing: [1, -1, 1] }, null],
    [{ ...init, spacing: [1, NaN, 1] }, null],
    [{ ...init, name: 'x'.repeat(1001) }, null],
    [{ ...init, sequences: ['flair', 'flair'] }, null],
    [{ ...init, sequences: ['dwi'] }, null],
    [{ ...init, opened: 'pd' }, null],
    [{ ...init, hasLabel: 'yes' }, null],
    [{ ...init, overlay: { opacity: 2, colormap: 'hot' } }, null],
    [{ ...init, overlay: { opacity: 0.5, colormap: 'gray' } }, null],
    // init's storage grid: a permutation of 0..2, dims consistent with the canonical ones, nothing extra.
    [
      {
        ...init,
        axes: [
          { axis: 2, flip: false },
          { axis: 2, flip: false },
          { axis: 1, flip: true },
        ],
      },
      null,
    ],
    [
      {
        ...init,
        axes: [
          { axis: 2, flip: 0 },
          { axis: 0, flip: false },
          { axis: 1, flip: true },
        ],
      },
      null,
    ],
    [
      {
        ...init,
        axes: [
          { axis: 2, flip: false, x: 1 },
          { axis: 0, flip: false },
          { axis: 1, flip: true },
        ],
      },
      null,
    ],
    [{ ...init, sourceDims: [4, 3, 2] }, null],
    [{ ...init, sourceDims: undefined }, null],
    [{ ...init, axes: undefined }, null],
    [{ type: 'volume', sequence: 'opened', data: new ArrayBuffer(4 * N) }, D], // decoded voxels no longer travel
    [{ type: 'file', layer: 'opened', name: 'a.nii.gz', bytes: gz }, null], // before init
    [{ type: 'file', layer: 'opened', name: 'a.nii.gz', bytes: new Uint8Array(4) }, D], // a view, not a buffer
    [{ type: 'file', layer: 'opened', name: 'a.nii.gz', bytes: [31, 139] }, D], // a JSON array
    [{ type: 'file', layer: 'opened', name: 'a.nii.gz', bytes: new ArrayBuffer(0) }, D],
    [{ type: 'file', layer: 'pd', name: 'a.nii.gz', bytes: gz }, D],
    [{ type: 'file', layer: 'opened', name: '', bytes: gz }, D],
    [{ type: 'file', layer: 'opened', name: 'x'.repeat(1001), bytes: gz }, D],
    [{ type: 'file', layer: 'opened', name: 'a', bytes: gz, extra: 1 }, D],
    [{ type: 'labels', layer: 'annotation', data: new ArrayBuffer(N + 1) }, D],
    [{ type: 'labels', layer: 'mask', data: new ArrayBuffer(N) }, D],
    [{ type: 'annotationPatch', indices: new Uint32Array([0, 24]).buffer, values: new Uint8Array([1, 2]).buffer }, D],
    [{ type: 'annotationPatch', indices: new Uint32Array([0]).buffer, values: new Uint8Array([1, 2]).buffer }, D],
    [{ type: 'annotationPatch', indices: [0], values: [1] }, D],
    [
      {
        type: 'heatmap',
        data: new ArrayBuffer(4 * N),
        threshold: 0.3,
        score: NaN,
        decision: true,
        slice: 1,
        modalities: ['t1'],
        model: RANDOM_INIT,
      },
      D,
    ],
    [
      {
        type: 'heatmap',
        data: new ArrayBuffer(4 * N),
        threshold: 0.3,
        score: 1,
        decision: 1,
        slice: 1,
        modalities: ['t1'],
        model: RANDOM_INIT,
      },
      D,
    ],
    [
      {
        type: 'heatmap',
        data: new ArrayBuffer(4 * N),
        threshold: 0.3,
        score: 1,
        decision: true,
        slice: 2,
        modalities: ['t1'],
        model: RANDOM_INIT,
      },
      D,
    ],
    [
      {
        type: 'heatmap',
        data: new ArrayBuffer(4 * N),
        threshold: 0.3,
        score: 1,
        decision: true,
        slice: 1,
        modalities: [],
        model: RANDOM_INIT,
      },
      D,
    ],
    [
      {
        type: 'heatmap',
        data: new ArrayBuffer(4 * N),
        threshold: 0.3,
        score: 1,
        decision: true,
        slice: 1,
        modalities: ['t1ce'],
        model: RANDOM_INIT,
      },
      D,
    ],
    // The model behind the result: required, a known kind, and a random-init one never without its warning.
    ...[
      undefined,
      null,
      'random-init',
      { ...RANDOM_INIT, warning: null },
      { ...RANDOM_INIT, warning: '' },
      { ...RANDOM_INIT, kind: 'imagenet' },
      { ...RANDOM_INIT, description: 7 },
      { ...RANDOM_INIT, warning: 'x'.repeat(1001) },
      { ...PRETRAINED, extra: 1 },
      { kind: 'pretrained', warning: null },
    ].map((model): [unknown, Dims3 | null] => [
      { type: 'heatmap', data: new ArrayBuffer(4 * N), threshold: 0.3, score: 1, decision: true, slice: 1, modalities: ['t1'], model },
      D,
    ]),
    [{ type: 'sliceScores', scores: new ArrayBuffer(4 * 3), threshold: 0.5 }, D],
    [{ type: 'clearHeatmap', extra: 1 }, D],
    [{ type: 'notice', level: 'debug', text: 'x' }, D],
    [{ type: 'notice', level: 'info', text: 'x'.repeat(4001) }, D],
    [{ type: 'error', title: 5, detail: 'd' }, D],
  ];
  bad.forEach(([m, dims], k) => assert.equal(parseHostMessage(m, dims), null, `case ${k}: ${JSON.stringify(m)?.slice(0, 80)}`));
});

test('webview → host: valid messages are accepted as sent', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'ready' }, null), { type: 'ready' });
  assert.deepEqual(parseWebviewMessage({ type: 'log', level: 'info', message: 'hi' }, null), { type: 'log', level: 'info', message: 'hi' });
  assert.deepEqual(parseWebviewMessage({ type: 'requestSequence', sequence: 't1ce' }, D), { type: 'requestSequence', sequence: 't1ce' });
  assert.deepEqual(parseWebviewMessage(stroke, D), stroke);
  const erase = { ...stroke, tool: 'eraser', value: 0, plane: 'sagittal', slice: 3, points: [2, 1], radius: 0 };
  assert.deepEqual(parseWebviewMessage(erase, D), erase);
  const fill = { type: 'fill', plane: 'axial', slice: 1, a: 3, b: 2, value: 255 };
  assert.deepEqual(parseWebviewMessage(fill, D), fill);
  const edit = { type: 'drawEdit', kind: 'brush', indices: new Uint32Array([0, 5, 23]).buffer, values: new Uint8Array([1, 0, 4]).buffer };
  const parsedEdit = parseWebviewMessage(edit, D);
  assert.equal(parsedEdit?.type, 'drawEdit');
  assert.deepEqual(
    parsedEdit?.type === 'drawEdit' && [[...new Uint32Array(parsedEdit.indices)], [...new Uint8Array(parsedEdit.values)], parsedEdit.kind],
    [[0, 5, 23], [1, 0, 4], 'brush'],
  );
  assert.deepEqual(parseWebviewMessage({ type: 'addOverlay' }, D), { type: 'addOverlay' });
  for (const command of [
    'undo',
    'redo',
    'save',
    'saveAs',
    'revert',
    'detectSlice',
    'detectVolume',
    'showModelCard',
    'pretrainedWeights',
    'showLog',
  ])
    assert.deepEqual(parseWebviewMessage({ type: 'command', command }, D), { type: 'command', command });
  const vs = { type: 'viewState', cursor: [3, 2, 1], modalities: ['t2'] };
  assert.deepEqual(parseWebviewMessage(vs, D), vs);
});

test('webview → host: malformed messages, out-of-range indices and oversized payloads are dropped', () => {
  const bad: [unknown, Dims3 | null][] = [
    [undefined, D],
    [42, D],
    [{ type: 'ready', x: 1 }, D],
    [{ type: 'READY' }, D],
    [{ type: 'log', level: 'info', message: 'x'.repeat(4001) }, D],
    [{ type: 'log', level: 'trace', message: 'x' }, D],
    [{ type: 'requestSequence', sequence: 'pd' }, D],
    [stroke, null], // no volume, nothing to paint
    [{ ...stroke, tool: 'spray' }, D],
    [{ ...stroke, plane: 'oblique' }, D],
    [{ ...stroke, slice: 3 }, D], // coronal slices run 0..2 (y)
    [{ ...stroke, slice: -1 }, D],
    [{ ...stroke, slice: 1.5 }, D],
    [{ ...stroke, slice: '1' }, D],
    [{ ...stroke, points: [4, 0] }, D], // coronal a = x < 4
    [{ ...stroke, points: [0, 2] }, D], // coronal b = z < 2
    [{ ...stroke, points: [0] }, D],
    [{ ...stroke, points: [] }, D],
    [{ ...stroke, points: [0, 0.5] }, D],
    [{ ...stroke, points: 'nope' }, D],
    [{ ...stroke, points: new Array(2 * 4097).fill(0) }, D],
    [{ ...stroke, radius: 65 }, D],
    [{ ...stroke, value: 0 }, D],
    [{ ...stroke, value: 256 }, D],
    [{ ...stroke, tool: 'eraser', value: 3 }, D],
    [{ ...stroke, extra: true }, D],
    [{ type: 'fill', plane: 'axial', slice: 2, a: 0, b: 0, value: 1 }, D],
    [{ type: 'fill', plane: 'axial', slice: 0, a: 0, b: 3, value: 1 }, D],
    [{ type: 'fill', plane: 'axial', slice: 0, a: 0, b: 0, value: -1 }, D],
    // Drawing edits: ascending unique canonical indices inside the grid, one value each, at most one per voxel.
    [{ type: 'drawEdit', kind: 'brush', indices: new Uint32Array([0, 24]).buffer, values: new Uint8Array([1, 1]).buffer }, D],
    [{ type: 'drawEdit', kind: 'brush', indices: new Uint32Array([5, 5]).buffer, values: new Uint8Array([1, 1]).buffer }, D],
    [{ type: 'drawEdit', kind: 'brush', indices: new Uint32Array([6, 5]).buffer, values: new Uint8Array([1, 1]).buffer }, D],
    [{ type: 'drawEdit', kind: 'brush', indices: new Uint32Array([5]).buffer, values: new Uint8Array([1, 1]).buffer }, D],
    [{ type: 'drawEdit', kind: 'brush', indices: new ArrayBuffer(0), values: new ArrayBuffer(0) }, D],
    [{ type: 'drawEdit', kind: 'brush', indices: new Uint32Array(N + 1).buffer, values: new Uint8Array(N + 1).buffer }, D],
    [{ type: 'drawEdit', kind: 'spray', indices: new Uint32Array([5]).buffer, values: new Uint8Array([1]).buffer }, D],
    [{ type: 'drawEdit', kind: 'brush', indices: [5], values: [1] }, D],
    [{ type: 'drawEdit', kind: 'brush', indices: new Uint32Array([5]).buffer, values: new Uint8Array([1]).buffer }, null],
    [{ type: 'addOverlay', path: '/etc/passwd' }, D],
    [{ type: 'command', command: 'rm -rf' }, D],
    [{ type: 'command', command: 'workbench.action.files.save' }, D],
    [{ type: 'viewState', cursor: [4, 0, 0], modalities: ['t1'], model: RANDOM_INIT }, D],
    [{ type: 'viewState', cursor: [0, 0], modalities: ['t1'], model: RANDOM_INIT }, D],
    [{ type: 'viewState', cursor: [0, 0, 0], modalities: [], model: RANDOM_INIT }, D],
    [{ type: 'viewState', cursor: [0, 0, 0], modalities: ['t1', 't1'] }, D],
    [{ type: 'viewState', cursor: [0, 0, 0], modalities: ['t1ce'], model: RANDOM_INIT }, D],
  ];
  bad.forEach(([m, dims], k) => assert.equal(parseWebviewMessage(m, dims), null, `case ${k}: ${JSON.stringify(m)?.slice(0, 80)}`));
});

test('parsed messages are copies: later changes to the raw arrays do not reach the handler', () => {
  const raw = { ...stroke, points: [0, 0, 3, 1] };
  const msg = parseWebviewMessage(raw, D);
  raw.points[0] = 99;
  assert.equal(msg?.type === 'stroke' && msg.points[0], 0);
});
