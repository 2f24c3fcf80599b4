/** The viewer's layer logic without a browser: tab slots, NiiVue's layer stack, arriving files, a changed case. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  caseChange,
  fileDisposition,
  fitsGrid,
  layerStack,
  refreshesLayers,
  sameLayers,
  seqName,
  tabKey,
  type LayerControls,
  type LayerSources,
  type SeqKey,
} from '../../src/webview/layers';

test('tab slots: the opened file stands for its own sequence; names fall back to "file"', () => {
  assert.equal(tabKey('flair', 'flair'), 'opened');
  assert.equal(tabKey('t1', 'flair'), 't1');
  assert.equal(tabKey('opened', 'flair'), 'opened');
  // No known sequence, or no case yet: every tab is its own slot.
  assert.equal(tabKey('flair', null), 'flair');
  assert.equal(tabKey('flair', undefined), 'flair');
  assert.equal(seqName('opened', 't2'), 't2');
  assert.equal(seqName('opened', null), 'file');
  assert.equal(seqName('opened', undefined), 'file');
  assert.equal(seqName('t1ce', 'flair'), 't1ce');
});

const controls = (over: Partial<LayerControls> = {}): LayerControls => ({
  blendOpacity: 0.5,
  maskShown: true,
  maskOpacity: 0.7,
  heatmapShown: true,
  heatmapOpacity: 0.4,
  heatmapColormap: 'viridis',
  overlays: [],
  ...over,
});
const sources = (over: Partial<LayerSources<string>> = {}): LayerSources<string> => ({
  images: new Map<SeqKey, string>([
    ['opened', 'FILE'],
    ['t1', 'T1'],
    ['t2', 'T2'],
  ]),
  background: 'opened',
  blend: null,
  mask: null,
  heatmap: null,
  overlays: [],
  ...over,
});

test('layer stack: nothing until the background is loaded, then background alone at full opacity in grey', () => {
  assert.equal(layerStack(sources({ background: 'flair' }), controls()), null);
  assert.deepEqual(layerStack(sources(), controls()), [{ image: 'FILE', colormap: 'gray', opacity: 1 }]);
  assert.deepEqual(layerStack(sources({ background: 't2' }), controls()), [{ image: 'T2', colormap: 'gray', opacity: 1 }]);
});

test('layer stack: background, blend, mask, heatmap, overlays bottom to top, each with its colormap and opacity', () => {
  const stack = layerStack(
    sources({
      background: 't1',
      blend: 'opened',
      mask: 'MASK',
      heatmap: 'HEAT',
      overlays: [
        { image: 'OV0', label: false },
        { image: 'OV1', label: true },
      ],
    }),
    controls({
      overlays: [
        { visible: true, opacityPercent: '25', colormap: 'jet' },
        { visible: true, opacityPercent: '80', colormap: 'jet' },
      ],
    }),
  );
  assert.deepEqual(stack, [
    { image: 'T1', colormap: 'gray', opacity: 1 },
    { image: 'FILE', colormap: 'gray', opacity: 0.5 },
    // Label images keep their label colour table (null), whatever colormap control exists.
    { image: 'MASK', colormap: null, opacity: 0.7 },
    { image: 'HEAT', colormap: 'viridis', opacity: 0.4 },
    { image: 'OV0', colormap: 'jet', opacity: 0.25 },
    { image: 'OV1', colormap: null, opacity: 0.8 },
  ]);
});

test('layer stack: hidden layers stay in place at opacity 0; a blend of the background itself or not loaded is left out', () => {
  const stack = layerStack(
    sources({ blend: 'opened', mask: 'MASK', heatmap: 'HEAT', overlays: [{ image: 'OV0', label: false }] }),
    controls({ maskShown: false, heatmapShown: false, overlays: [{ visible: false, opacityPercent: '90' }] }),
  );
  assert.deepEqual(
    stack?.map((l) => [l.image, l.opacity]),
    [
      ['FILE', 1],
      ['MASK', 0],
      ['HEAT', 0],
      ['OV0', 0],
    ],
  );
  assert.deepEqual(
    layerStack(sources({ blend: 'flair' }), controls())?.map((l) => l.image),
    ['FILE'],
  );
});

test('layer stack: defaults before the controls exist — heatmap "hot", overlays shown at 60 % in "warm"', () => {
  const stack = layerStack(
    sources({ heatmap: 'HEAT', overlays: [{ image: 'OV0', label: false }] }),
    controls({ heatmapColormap: '', overlays: [undefined] }),
  );
  assert.deepEqual(stack?.slice(1), [
    { image: 'HEAT', colormap: 'hot', opacity: 0.4 },
    { image: 'OV0', colormap: 'warm', opacity: 0.6 },
  ]);
  // An empty colormap select also falls back; an overlay with no control list entry at all too.
  assert.deepEqual(layerStack(sources({ overlays: [{ image: 'OV0', label: false }] }), controls({ overlays: [{ colormap: '' }] }))?.[1], {
    image: 'OV0',
    colormap: 'warm',
    opacity: 0.6,
  });
  assert.deepEqual(layerStack(sources({ overlays: [{ image: 'OV0', label: false }] }), controls())?.[1], {
    image: 'OV0',
    colormap: 'warm',
    opacity: 0.6,
  });
});

test('same layers: only the identical list in the same order needs no GL refresh', () => {
  const a = {};
  const b = {};
  assert.equal(sameLayers([a, b], [a, b]), true);
  assert.equal(sameLayers([a, b], [b, a]), false);
  assert.equal(sameLayers([a], [a, b]), false);
  assert.equal(sameLayers([a, b], [a]), false);
  assert.equal(sameLayers([], []), true);
});

test('arriving files: siblings nobody shows wait unless asked for; opened, mask and overlays are decoded at once', () => {
  const shown = { background: 'opened' as SeqKey, blend: 't1' as SeqKey | null, side: 't2' as SeqKey | null };
  assert.equal(fileDisposition('flair', shown, false), 'wait');
  assert.equal(fileDisposition('flair', shown, true), 'decode');
  assert.equal(fileDisposition('t1', shown, false), 'decode');
  assert.equal(fileDisposition('t2', shown, false), 'decode');
  assert.equal(fileDisposition('flair', { ...shown, background: 'flair' }, false), 'decode');
  for (const layer of ['opened', 'mask', 'overlay'] as const) assert.equal(fileDisposition(layer, shown, false), 'decode', layer);
});

test('arriving files: every layer but an added overlay must be on the opened grid, and nothing fits before it is placed', () => {
  assert.equal(fitsGrid('mask', 480, 480), true);
  assert.equal(fitsGrid('mask', 481, 480), false);
  assert.equal(fitsGrid('t1', 100, 480), false);
  assert.equal(fitsGrid('overlay', 100, 480), true);
  assert.equal(fitsGrid('overlay', 100, null), false);
  assert.equal(fitsGrid('t1', 480, null), false);
});

test('arriving files: a decoded sequence refreshes the layers only as the background or the blend', () => {
  const shown = { background: 'opened' as SeqKey, blend: 't1' as SeqKey | null };
  assert.equal(refreshesLayers('t1', shown), true);
  assert.equal(refreshesLayers('opened', shown), true);
  assert.equal(refreshesLayers('t2', shown), false);
  assert.equal(refreshesLayers('t2', { background: 't2', blend: null }), true);
});

test('case change: slots whose sequence is gone fall back; the rest are fetched again (side, blend, background)', () => {
  assert.deepEqual(caseChange({ background: 't1', blend: 't2', side: 'flair' }, ['flair', 't1', 't2']), {
    background: 't1',
    blend: 't2',
    closeSide: false,
    request: ['flair', 't2', 't1'],
  });
  assert.deepEqual(caseChange({ background: 't1', blend: 't2', side: 'flair' }, ['t1ce']), {
    background: 'opened',
    blend: null,
    closeSide: true,
    request: [],
  });
  // The opened file never goes away and is never fetched; empty slots stay empty.
  assert.deepEqual(caseChange({ background: 'opened', blend: 'opened', side: 'opened' }, []), {
    background: 'opened',
    blend: 'opened',
    closeSide: false,
    request: [],
  });
  assert.deepEqual(caseChange({ background: 'opened', blend: null, side: null }, ['flair']), {
    background: 'opened',
    blend: null,
    closeSide: false,
    request: [],
  });
  assert.deepEqual(caseChange({ background: 'flair', blend: 't1', side: null }, ['flair']), {
    background: 'flair',
    blend: null,
    closeSide: false,
    request: ['flair'],
  });
});
