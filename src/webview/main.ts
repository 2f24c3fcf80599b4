/**
 * NIfTI viewer (browser side), rendered by NiiVue (WebGL2). The host sends files' bytes and
 * NiiVue decodes them here; maps and labels the host computes arrive on the canonical grid
 * and are placed on NiiVue's voxel order through VoxelMap. Layers: any case sequence as the
 * background, a second one blended over it, the label mask, the annotation (NiiVue's drawing
 * layer), the anomaly heatmap and any added NIfTI, each with visibility/opacity/colormap.
 * Views: axial/coronal/sagittal, multiplanar, 3-D; radiological/neurological; distance
 * measurement; per-label statistics. Drawing (pen, filled outline, eraser, fill) happens in
 * NiiVue; each action is diffed against the last confirmed bitmap and sent to the host as one
 * edit, so VS Code owns undo/redo, dirty state, save and backups. The decisions live in
 * unit-tested modules without DOM or NiiVue — viewerState.ts (case tabs, notices, labels,
 * statistics), layers.ts (layer stack, arriving files, case changes), imageMath.ts (windows,
 * label images, drawing edits) and viewControls.ts (keys, slices, tools, strip, texts); this
 * file reads the page and NiiVue, asks them, and applies the answers.
 */
import { Niivue, NVImage, SLICE_TYPE, SHOW_RENDER, DRAG_MODE } from '@niivue/niivue';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { closedRegionVoxels, type Plane } from '../shared/planes';
import {
  DETECT_CHANNELS,
  LIMITS,
  parseHostMessage,
  type DetectChannel,
  type Dims3,
  type FileLayer,
  type HeatmapMessage,
  type HeatmapModel,
  type HostToWebview,
  type InitMessage,
  type SequenceTab,
  type WebviewToHost,
} from '../shared/webviewProtocol';
import {
  BRATS_LABELS,
  caseView,
  colourBarTicks,
  editLabel,
  finiteRange,
  formatNumber,
  labelTableRows,
  niivueLabelColormap,
  Notices,
  statisticsTable,
  toggleModality,
  windowLevelText,
  type CaseInfo,
  type LabelEntry,
  type StatsImage,
} from './viewerState';
import { VoxelMap } from './voxelMap';
import {
  caseChange,
  fileDisposition,
  fitsGrid,
  layerStack,
  refreshesLayers,
  sameLayers,
  seqName,
  tabKey as tabKeyOf,
  DEFAULT_HEATMAP_COLORMAP,
  type SeqKey,
} from './layers';
import {
  annotationHash,
  autoWindow,
  drawingEdit,
  heatmapDisplayValues,
  isLabelData,
  labelMax as labelMaxOf,
  niftiScaling,
  sameBitmap,
  windowRange,
} from './imageMath';
import {
  PLANE_AXIS,
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
  type Tool,
  type View,
} from './viewControls';

/** Epoch ms of a step of opening, on <body data-t-…> for the viewer benchmark's breakdown. */
const stamp = (name: string): void => {
  document.body.dataset[name] = String(Math.round(performance.timeOrigin + performance.now()));
};
stamp('tScript');

declare function acquireVsCodeApi(): { postMessage(msg: unknown): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const send = (m: WebviewToHost): void => vscode.postMessage(m);

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
/** vscode-elements' form controls: `checked` / `value` like native inputs. */
type Checkable = HTMLElement & { checked: boolean; disabled: boolean };
type Valued = HTMLElement & { value: string; disabled: boolean };

const SLICE_OF: Record<Plane, number> = { axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, sagittal: SLICE_TYPE.SAGITTAL };

const canvas = $<HTMLCanvasElement>('viewer-canvas');
// preserveDrawingBuffer: the image stays readable after it is shown (pixel read-back for the
// end-to-end tests and screenshots). NiiVue reuses this context: getContext returns it.
canvas.getContext('webgl2', { preserveDrawingBuffer: true, alpha: true, antialias: false });
const nv = new Niivue({
  logLevel: 'warn',
  show3Dcrosshair: true,
  isRadiologicalConvention: true,
  sagittalNoseLeft: true,
  isColorbar: false,
  isOrientationTextVisible: true,
  showAllOrientationMarkers: true,
  multiplanarShowRender: SHOW_RENDER.ALWAYS,
  dragAndDropEnabled: false,
  backColor: [0, 0, 0, 1],
  crosshairColor: [0.1, 0.9, 0.1, 0.8],
  isNearestInterpolation: true,
  maxDrawUndoBitmaps: 2,
  viewModeHotKey: '',
  clipPlaneHotKey: '',
  cycleClipPlaneHotKey: '',
  penSize: 3,
  isFilledPen: false,
  measureTextColor: [0, 1, 1, 1],
  measureLineColor: [0, 1, 1, 1],
});
// Shader compilation (synchronous in software GL) starts once 'ready' is sent, so it overlaps
// the host reading and sending the file's bytes.
const attached = new Promise((r) => setTimeout(r, 0))
  .then(() => nv.attachToCanvas(canvas))
  .then((v) => {
    stamp('tAttached');
    return v;
  })
  .then(
    () => true,
    (e: unknown) => {
      fatal('WebGL2 is not available', String((e as Error)?.message ?? e));
      return false;
    },
  );

// Script errors reach the AnyAD log (the host opens it for errors): a webview's console is out of sight.
window.addEventListener('error', (e) =>
  send({ type: 'log', level: 'error', message: `viewer script error: ${e.message} (${e.filename}:${e.lineno})`.slice(0, LIMITS.text) }),
);
window.addEventListener('unhandledrejection', (e) =>
  send({
    type: 'log',
    level: 'error',
    message: `viewer script error: ${String((e.reason as Error)?.stack ?? e.reason)}`.slice(0, LIMITS.text),
  }),
);

const saved = (vscode.getState() ?? {}) as { labels?: LabelEntry[] };
const state = {
  init: null as InitMessage | null,
  map: null as VoxelMap | null,
  images: new Map<SeqKey, NVImage>(),
  names: new Map<SeqKey, string>(),
  background: 'opened' as SeqKey,
  blend: null as SeqKey | null,
  /** The sequence shown beside the first (its own NiiVue, crosshair and views synced), or null. */
  side: null as SeqKey | null,
  mask: null as NVImage | null,
  heatmap: null as (HeatmapMessage & { values: Float32Array; range: [number, number]; image: NVImage | null }) | null,
  overlays: [] as { name: string; image: NVImage; label: boolean }[],
  /** NiiVue's drawing bitmap as last confirmed (by the host or a sent edit), draw order. */
  mirror: null as Uint8Array | null,
  pendingLabels: null as Uint8Array | null,
  sliceScores: null as { scores: Float32Array; threshold: number } | null,
  cursor: [0, 0, 0] as Dims3,
  view: 'axial' as View,
  plane: 'axial' as Plane,
  radiological: true,
  tool: 'navigate' as Tool,
  modalities: [] as DetectChannel[],
  labels: Array.isArray(saved.labels) ? saved.labels : [...BRATS_LABELS],
  caseInfo: null as CaseInfo | null,
  requested: new Set<SeqKey>(),
};
const notices = new Notices();
let fileQueue: Promise<void> = Promise.resolve();
/** The opened file is on its way (a repeated 'file' for it is ignored). */
let openedPending = false;

// ---------- small helpers ----------------------------------------------------------------

function dims(): Dims3 | null {
  return state.init ? state.init.dims : null;
}
function checked(id: string): boolean {
  return Boolean($<Checkable>(id).checked);
}
function percent(id: string): number {
  return Number($<HTMLInputElement>(id).value) / 100;
}
function showNotices(): void {
  const el = $('notice');
  el.textContent = notices.text;
  el.classList.toggle('error', notices.level === 'error');
}
function fatal(title: string, detail: string): void {
  $('info').textContent = title;
  $('error').textContent = detail;
  for (const id of ['controls', 'views-bar', 'tools', 'layers', 'main', 'slice-strip']) $(id).hidden = true;
  send({ type: 'log', level: 'error', message: `viewer: ${title}: ${detail}`.slice(0, LIMITS.text) });
}
async function decode(bytes: ArrayBuffer, name: string): Promise<NVImage> {
  // NVImage.new's declaration lists all 20 parameters as required; the rest have defaults.
  return (NVImage.new as unknown as (b: ArrayBuffer, n: string, cm: string) => Promise<NVImage>)(bytes, name, 'gray');
}
function redraw(): void {
  if (nv.volumes.length) nv.drawScene();
}
/** An image's voxel values in storage order (NiiVue types them loosely). */
function voxels(img: NVImage): ArrayLike<number> {
  return img.img as ArrayLike<number>;
}

// ---------- layers -------------------------------------------------------------------------

/**
 * Puts NiiVue's volume list in layer order (background, blend, mask, heatmap, added overlays)
 * with each layer's colormap and opacity, then refreshes NiiVue's GL state once: every
 * refresh re-renders all layers into textures (costly in software GL), so the list is set
 * directly instead of through add/remove/setVolume, which refresh after each call.
 */
function syncLayers(): void {
  const stack = layerStack(
    {
      images: state.images,
      background: state.background,
      blend: state.blend,
      mask: state.mask,
      heatmap: state.heatmap?.image ?? null,
      overlays: state.overlays,
    },
    {
      blendOpacity: percent('blend-opacity'),
      maskShown: checked('overlay-mask'),
      maskOpacity: percent('opacity-mask'),
      heatmapShown: checked('overlay-heatmap'),
      heatmapOpacity: percent('opacity-heatmap'),
      heatmapColormap: $<Valued>('colormap').value,
      overlays: state.overlays.map((_, i) => ({
        visible: (document.getElementById(`overlay-${i}-visible`) as Checkable | null)?.checked,
        opacityPercent: (document.getElementById(`overlay-${i}-opacity`) as HTMLInputElement | null)?.value,
        colormap: (document.getElementById(`overlay-${i}-colormap`) as Valued | null)?.value,
      })),
    },
  );
  if (!stack) return;
  const wanted = stack.map((l) => l.image);
  let changed = false;
  if (!sameLayers(nv.volumes, wanted)) {
    nv.volumes = wanted;
    nv.back = wanted[0];
    nv.overlays = wanted.slice(1);
    changed = true;
  }
  for (const l of stack) changed = style(l.image, l.colormap, l.opacity) || changed;
  if (changed) nv.updateGLVolume();
  const drawOpacity = checked('overlay-annotation') ? percent('opacity-annotation') : 0;
  if (nv.drawOpacity !== drawOpacity) nv.setDrawOpacity(drawOpacity);
  restoreDrawing();
  updateControls();
}

/**
 * Sets a layer's colormap (null: keep its label colormap) and opacity without NiiVue's
 * per-property refreshes; true when something changed. The colormap setter re-estimates the
 * display range, so the range in use is kept.
 */
function style(img: NVImage, colormap: string | null, opacity: number): boolean {
  let changed = false;
  const raw = img as unknown as { _opacity: number; onColormapChange?: unknown };
  if (colormap !== null && img.colormap !== colormap) {
    const [lo, hi] = [img.cal_min, img.cal_max];
    const hook = raw.onColormapChange;
    raw.onColormapChange = undefined;
    img.colormap = colormap;
    raw.onColormapChange = hook;
    img.cal_min = lo;
    img.cal_max = hi;
    changed = true;
  }
  if (raw._opacity !== opacity) {
    raw._opacity = opacity;
    changed = true;
  }
  return changed;
}

/** Shows sequence `s` as the background (fetching it from the host on first use). */
function showBackground(s: SeqKey): void {
  const key = tabKey(s);
  state.background = key;
  if (!state.images.has(key)) {
    if (key === 'opened' || !takeWaiting(key)) requestSequence(key);
    updateControls();
    return;
  }
  syncLayers();
  void markPainted(key);
}

function setBlend(s: SeqKey | null): void {
  state.blend = s === null ? null : tabKey(s);
  if (state.blend && !state.images.has(state.blend) && (state.blend === 'opened' || !takeWaiting(state.blend)))
    requestSequence(state.blend);
  syncLayers();
}

/** The second NiiVue for side-by-side viewing, made on first use. */
let side: { nv: Niivue; ready: Promise<unknown>; image: NVImage | null; key: SeqKey | null } | null = null;

function setSide(s: SeqKey | null): void {
  state.side = s === null ? null : tabKey(s);
  $('side-pane').hidden = state.side === null;
  if (state.side && !state.images.has(state.side) && (state.side === 'opened' || !takeWaiting(state.side))) requestSequence(state.side);
  void syncSide();
}

/** Shows state.side in the second NiiVue (a copy of the decoded image: each NiiVue owns its GL state). */
async function syncSide(): Promise<void> {
  const key = state.side;
  document.body.dataset.side = key === null ? 'none' : nameOf(key);
  if (!key) {
    nv.broadcastTo([], { '2d': true, '3d': true });
    nv.resizeListener();
    return;
  }
  const img = state.images.get(key);
  if (!img) return;
  if (!side) {
    const c = $<HTMLCanvasElement>('side-canvas');
    c.getContext('webgl2', { preserveDrawingBuffer: true, alpha: true, antialias: false });
    const other = new Niivue({ ...nv.opts, dragAndDropEnabled: false });
    side = { nv: other, ready: other.attachToCanvas(c), image: null, key: null };
  }
  await side.ready;
  if (side.key !== key) {
    const copy = img.clone();
    copy.cal_min = img.cal_min;
    copy.cal_max = img.cal_max;
    side.nv.volumes = [copy];
    side.nv.back = copy;
    side.nv.overlays = [];
    side.image = copy;
    side.key = key;
    side.nv.updateGLVolume();
  }
  $('side-caption').textContent = nameOf(key).toUpperCase();
  side.nv.setSliceType(viewSliceType(state.view));
  side.nv.setRadiologicalConvention(state.radiological);
  // Each follows the other: crosshair, slice, zoom and 3-D angles.
  nv.broadcastTo([side.nv], { '2d': true, '3d': true });
  side.nv.broadcastTo([nv], { '2d': true, '3d': true });
  nv.resizeListener();
  side.nv.resizeListener();
  side.nv.scene.crosshairPos = nv.scene.crosshairPos;
  side.nv.drawScene();
  void markPainted(null);
  requestAnimationFrame(() => {
    document.body.dataset.paintedSide = String(Math.round(performance.timeOrigin + performance.now()));
  });
}

/** Asks the host for a sibling sequence once; `shown`: the user is waiting for it (say so). */
function requestSequence(key: SeqKey, shown = true): void {
  if (key === 'opened') return;
  if (shown) stamp(`tWanted${key.toUpperCase()}`);
  if (shown && !state.images.has(key)) {
    notices.set(`sequence:${key}`, `Loading ${key.toUpperCase()}…`, 'info');
    showNotices();
  }
  if (state.requested.has(key)) return;
  state.requested.add(key);
  send({ type: 'requestSequence', sequence: key });
}

/** Which image a sequence tab shows: the opened file stands for its own sequence. */
function tabKey(s: SeqKey): SeqKey {
  return tabKeyOf(s, state.init?.opened);
}
/** The sequence name slot `key` is shown under. */
function nameOf(key: SeqKey): string {
  return seqName(key, state.init?.opened);
}

/** The drawing must survive NiiVue re-creating its bitmap (a background swap): put the mirror back. */
function restoreDrawing(): void {
  if (!state.mirror) return;
  if (!nv.drawBitmap || nv.drawBitmap.length !== state.mirror.length) nv.createEmptyDrawing();
  const bmp = nv.drawBitmap;
  if (bmp && !sameBitmap(bmp, state.mirror)) {
    bmp.set(state.mirror);
    nv.refreshDrawing(true);
  }
}

/** Largest label of a label image (its colour table stops there, at least at the table's own labels). */
function labelMax(img: NVImage): number {
  return labelMaxOf(
    voxels(img),
    state.labels.map((e) => e.value),
  );
}

function applyLabelTable(): void {
  const cm = niivueLabelColormap(state.labels);
  nv.setDrawColormap(cm as never);
  if (state.mask) state.mask.setColormapLabel(niivueLabelColormap(state.labels, labelMax(state.mask)));
  for (const o of state.overlays) if (o.label) o.image.setColormapLabel(niivueLabelColormap(state.labels, labelMax(o.image)));
  vscode.setState({ labels: state.labels });
  if (nv.volumes.length) nv.updateGLVolume();
  renderLabelTable();
}

// ---------- files from the host ------------------------------------------------------------

/**
 * Sequences fetched ahead of use wait here as bytes, decoded one at a time when the page is
 * idle (or at once when asked for): decoding right after the first image would hold the main
 * thread while the user already clicks a tab.
 */
const waiting = new Map<FileLayer, { name: string; bytes: ArrayBuffer }>();
let idleDecoding = false;
function decodeWhenIdle(): void {
  if (idleDecoding || waiting.size === 0) return;
  idleDecoding = true;
  requestIdleCallback(
    () => {
      idleDecoding = false;
      const next = [...waiting.keys()][0];
      const decoding = next ? takeWaiting(next) : false;
      if (decoding) void decoding.then(decodeWhenIdle);
    },
    // No deadline: a prefetched sequence is decoded only when the page is idle, never forced
    // while the one the user is waiting for is still being decoded or drawn.
  );
}
/** Decodes a waiting sequence now (in the file queue's order); false when none waits. */
function takeWaiting(layer: FileLayer): Promise<void> | false {
  const w = waiting.get(layer);
  if (!w) return false;
  waiting.delete(layer);
  fileQueue = fileQueue.then(() => onFile(layer, w.name, w.bytes, true));
  return fileQueue;
}

async function onFile(layer: FileLayer, name: string, bytes: ArrayBuffer, wanted = false): Promise<void> {
  if (!(await attached)) return;
  if (fileDisposition(layer, state, wanted) === 'wait') {
    waiting.set(layer, { name, bytes });
    decodeWhenIdle();
    return;
  }
  let img: NVImage;
  const tag = layer === 'opened' ? '' : layer.toUpperCase();
  stamp(`tFile${tag}`);
  if (layer === 'opened') prefetchSiblings();
  try {
    img = await decode(bytes, name);
    stamp(`tDecoded${tag}`);
  } catch (e) {
    const why = String((e as Error)?.message ?? e);
    if (layer === 'opened') fatal(`Cannot show ${name}`, `NiiVue could not decode it: ${why}`);
    else {
      notices.set(`file:${layer}`, `${name} not shown: NiiVue could not decode it (${why})`, 'error');
      showNotices();
      send({ type: 'log', level: 'error', message: `viewer: decoding ${name}: ${why}`.slice(0, LIMITS.text) });
    }
    return;
  }
  if (layer === 'opened') return onOpened(name, img);
  const d = img.hdr?.dims ?? [0, 0, 0, 0];
  if (!fitsGrid(layer, d[1] * d[2] * d[3], state.map?.count ?? null)) {
    notices.set(`file:${layer}`, `${name} is not on the opened volume's grid: not shown`, 'error');
    showNotices();
    return;
  }
  if (layer === 'mask') {
    img.setColormapLabel(niivueLabelColormap(state.labels, labelMax(img)));
    state.mask = img;
  } else if (layer === 'overlay') {
    const label = isLabelImage(img);
    if (label) img.setColormapLabel(niivueLabelColormap(state.labels, labelMax(img)));
    else img.colormap = 'warm';
    img.opacity = 0.6;
    state.overlays.push({ name, image: img, label });
    renderOverlayList();
  } else {
    const [lo, hi] = autoWindow(img);
    img.cal_min = lo;
    img.cal_max = hi;
    state.images.set(layer, img);
    state.names.set(layer, name);
    notices.clear(`sequence:${layer}`);
    showNotices();
    if (layer === state.side) void syncSide();
    // A prefetched sequence nobody shows yet costs no GL refresh.
    if (!refreshesLayers(layer, state)) return;
  }
  syncLayers();
  // The file queue waits for this frame: the next decode (a prefetched sequence) would
  // otherwise hold the main thread before the sequence the user asked for is on screen.
  await shownOnScreen(layer === 'mask' || layer === 'overlay' ? null : layer);
}

/** An overlay of small non-negative integers is shown with the label colour table. */
function isLabelImage(img: NVImage): boolean {
  return img.hdr !== null && isLabelData(img.img as ArrayLike<number> | null, img.hdr.datatypeCode);
}

async function onOpened(name: string, img: NVImage): Promise<void> {
  const init = state.init;
  if (!init) return; // the host sends 'init' before any file
  try {
    if (!img.dimsRAS || !img.permRAS) throw new Error('NiiVue gave no RAS orientation for it');
    state.map = new VoxelMap(init.sourceDims, init.axes, { dimsRAS: img.dimsRAS, permRAS: img.permRAS });
  } catch (e) {
    fatal(`Cannot show ${name}`, String((e as Error).message));
    return;
  }
  const [lo, hi] = autoWindow(img);
  img.cal_min = lo;
  img.cal_max = hi;
  state.images.set('opened', img);
  state.names.set('opened', name);
  // Everything that refreshes NiiVue's GL state is set before the one addVolume, so the first
  // image costs one refresh; the drawing layer and the rest follow once it is on screen.
  nv.setDrawColormap(niivueLabelColormap(state.labels) as never);
  nv.setSliceType(viewSliceType(state.view));
  document.body.dataset.view = state.view;
  nv.addVolume(img);
  // The drawing layer, the annotation, and the prefetch of the other sequences wait until the
  // image is on screen (file queue included): each costs GL refreshes or main-thread time.
  await shownOnScreen('opened');
  nv.createEmptyDrawing();
  if (nv.drawBitmap) state.mirror = new Uint8Array(nv.drawBitmap.length);
  if (state.pendingLabels) setAnnotation(state.pendingLabels);
  state.pendingLabels = null;
  if (state.heatmap && !state.heatmap.image) buildHeatmapImage();
  nv.createOnLocationChange();
  syncLayers();
  renderLabelTable();
}

/**
 * Asks for the case's other sequences as soon as the opened file is in: their bytes travel while
 * it is decoded and drawn, and wait undecoded until the page is idle or a tab asks for them, so a
 * tab switch is then a decode and a layer swap, not a round trip.
 */
function prefetchSiblings(): void {
  for (const s of state.caseInfo?.sequences ?? []) if (tabKey(s) !== 'opened') requestSequence(s, false);
}

/**
 * Resolves once the frame showing `layer` has been rendered: a timer set in the animation frame
 * runs after that frame's rendering (a promise resolved there would run before it).
 */
async function shownOnScreen(layer: SeqKey | null): Promise<void> {
  await markPainted(layer);
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Records when a sequence was first drawn (epoch ms) for the viewer benchmark and tests. */
function markPainted(layer: SeqKey | null): Promise<void> {
  redraw();
  if (layer === null) return Promise.resolve();
  return new Promise((resolve) =>
    requestAnimationFrame(() => {
      const at = String(Math.round(performance.timeOrigin + performance.now()));
      document.body.dataset[`painted${layer === 'opened' ? 'Opened' : layer.toUpperCase()}`] = at;
      if (layer === state.background) document.body.dataset.background = layer;
      resolve();
    }),
  );
}

// ---------- annotation (NiiVue's drawing layer ↔ the host's document) ----------------------

function setAnnotation(canonical: Uint8Array): void {
  if (!state.map) {
    state.pendingLabels = canonical;
    return;
  }
  state.mirror = state.map.canonicalToDraw(canonical);
  restoreDrawing();
  redraw();
}

function applyPatch(indices: Uint32Array, values: Uint8Array): void {
  if (!state.map || !state.mirror) return;
  for (let i = 0; i < indices.length; i++) state.mirror[state.map.canonicalToDrawIndex(indices[i])] = values[i];
  restoreDrawing();
  redraw();
}

/** After a NiiVue drawing action: what changed against the mirror goes to the host as one edit. */
function sendDrawing(kind: 'brush' | 'eraser' | 'fill'): void {
  const bmp = nv.drawBitmap;
  const map = state.map;
  if (!bmp || !map || !state.mirror) return;
  const edit = drawingEdit(bmp, state.mirror, (j) => map.drawToCanonicalIndex(j));
  if (edit) send({ type: 'drawEdit', kind, indices: edit.indices.buffer, values: edit.values.buffer });
}

nv.onDrawingChanged = (action: string) => {
  // Only user drawing: 'undo' (NiiVue's own history, unused) and 'load' come from us.
  if (action === 'draw') sendDrawing(toolSettings(state.tool, labelValue()).strokeKind);
};

/** Fill: the closed region around the clicked voxel on the current plane (as drawn on screen). */
function fillAt(): void {
  const map = state.map;
  const bmp = nv.drawBitmap;
  if (!map || !state.mirror || !bmp) return;
  const seed = fillSeed(state.view, currentDrawVoxel(map));
  const region = closedRegionVoxels(state.mirror, map.drawDims, seed.plane, seed.slice, seed.a, seed.b);
  if (!region) {
    notices.set('fill', 'Fill: that region is not closed on this slice (it reaches the edge); draw a closed outline first.');
    showNotices();
    return;
  }
  notices.clear('fill');
  showNotices();
  const value = labelValue();
  for (const j of region) bmp[j] = value;
  nv.refreshDrawing(true);
  sendDrawing('fill');
}

// ---------- cursor, views ------------------------------------------------------------------

/** The crosshair's voxel in NiiVue's draw order. */
function currentDrawVoxel(map: VoxelMap): Dims3 {
  return nearestVoxel(nv.frac2vox(nv.scene.crosshairPos), map.drawDims);
}

/** Moves NiiVue's crosshair to canonical voxel `c`. */
function moveCursor(c: Dims3): void {
  state.cursor = [...c] as Dims3;
  if (!state.map || !nv.volumes.length) return;
  nv.scene.crosshairPos = nv.vox2frac(state.map.canonicalToDrawVoxel(c));
  nv.drawScene();
  nv.createOnLocationChange();
}

nv.onLocationChange = () => {
  if (!state.map) return;
  state.cursor = state.map.drawToCanonicalVoxel(currentDrawVoxel(state.map));
  reportViewState();
  updateReadout();
  updateSliceControls();
};
nv.onIntensityChange = () => updateWindowControls();
nv.onMeasurementCompleted = (m: { distance: number }) => {
  $('measure-readout').textContent = `Distance ${formatNumber(Math.round(m.distance * 100) / 100)} mm`;
};

function setView(v: View): void {
  state.view = v;
  if (v !== 'multiplanar' && v !== 'render') state.plane = v;
  nv.setSliceType(viewSliceType(v));
  side?.nv.setSliceType(viewSliceType(v));
  document.body.dataset.view = v;
  updateControls();
}

function viewSliceType(v: View): number {
  return v === 'multiplanar' ? SLICE_TYPE.MULTIPLANAR : v === 'render' ? SLICE_TYPE.RENDER : SLICE_OF[v];
}

function setSlice(plane: Plane, value: number): void {
  const d = dims();
  if (!d) return;
  moveCursor(cursorOnSlice(state.cursor, d, plane, value));
  reportViewState();
  updateSliceControls();
}

function setTool(tool: Tool): void {
  state.tool = tool;
  const t = toolSettings(tool, labelValue());
  nv.setDrawingEnabled(t.drawing);
  if (t.drawing) nv.setPenValue(t.penValue, checked('pen-filled'));
  nv.opts.penSize = Number($<HTMLInputElement>('brush-size').value);
  nv.opts.dragModePrimary = t.measure ? DRAG_MODE.measurement : DRAG_MODE.crosshair;
  updateControls();
}

function labelValue(): number {
  return penLabelValue($<Valued>('label-value').value);
}

// ---------- controls -----------------------------------------------------------------------

function updateControls(): void {
  const bg = state.background;
  for (const s of ['opened', 'flair', 't1', 't2', 't1ce'] as SeqKey[])
    $(`seq-${s}`).setAttribute('aria-selected', String(tabKey(s) === bg));
  for (const p of ['axial', 'coronal', 'sagittal'] as Plane[]) $(`plane-${p}`).setAttribute('aria-pressed', String(state.view === p));
  $('view-multiplanar').setAttribute('aria-pressed', String(state.view === 'multiplanar'));
  $('view-3d').setAttribute('aria-pressed', String(state.view === 'render'));
  const orient = $('orient-toggle');
  orient.textContent = state.radiological ? 'Radiological' : 'Neurological';
  orient.setAttribute('aria-pressed', String(!state.radiological));
  for (const t of TOOLS) $(`tool-${t}`).setAttribute('aria-pressed', String(state.tool === t));
  $('brush-size-label').textContent = $<HTMLInputElement>('brush-size').value;
  $('colorbar-section').hidden = !state.heatmap;
  // Named by sequence (the opened file stands for its own), for tests and screenshots.
  document.body.dataset.blend = state.blend === null ? 'none' : nameOf(state.blend);
  updateWindowControls();
  updateSliceControls();
  updateReadout();
  drawColourBar();
  drawStrip();
}

function updateSliceControls(): void {
  const d = dims();
  if (!d) return;
  const control = sliceControl(state.cursor, d, state.plane);
  const slider = $<HTMLInputElement>('slice');
  slider.max = String(control.max);
  slider.value = String(control.value);
  $('slice-label').textContent = control.label;
  drawStrip();
}

/** The W/L control always shows the background's actual display range (also after a right-drag in the image). */
function updateWindowControls(): void {
  const img = state.images.get(state.background);
  if (!img) {
    $('wl-readout').textContent = '';
    return;
  }
  // Set on every image when it is decoded (NiiVue's type leaves them optional).
  const [min, max] = [img.cal_min ?? NaN, img.cal_max ?? NaN];
  $('wl-readout').textContent = windowLevelText(min, max);
  const lo = $<Valued>('wl-min');
  const hi = $<Valued>('wl-max');
  if (document.activeElement !== lo) lo.value = formatNumber(min);
  if (document.activeElement !== hi) hi.value = formatNumber(max);
}

function applyWindowPreset(): void {
  const img = state.images.get(state.background);
  if (!img) return;
  const range = windowRange($<Valued>('wl-preset').value, img, voxels(img), scalingOf(img), {
    min: $<Valued>('wl-min').value,
    max: $<Valued>('wl-max').value,
  });
  if (!range) return;
  [img.cal_min, img.cal_max] = range;
  nv.updateGLVolume();
  updateWindowControls();
}

/** An image's NIfTI intensity scaling. */
function scalingOf(img: NVImage): { slope: number; inter: number } {
  return niftiScaling(img.hdr?.scl_slope, img.hdr?.scl_inter);
}

function updateReadout(): void {
  const map = state.map;
  const img = state.images.get(state.background);
  if (!map || !img) return;
  const [x, y, z] = state.cursor;
  const d = map.canonicalDims;
  const i = x + d[0] * (y + d[1] * z);
  const s = map.canonicalToStorageIndex(i);
  const { slope, inter } = scalingOf(img);
  $('readout').textContent = readoutText({
    cursor: state.cursor,
    sequence: nameOf(state.background),
    value: voxels(img)[s] * slope + inter,
    maskLabel: state.mask ? voxels(state.mask)[s] : null,
    annotation: state.mirror ? state.mirror[map.canonicalToDrawIndex(i)] : null,
    labels: state.labels,
    anomaly: state.heatmap ? state.heatmap.values[i] : null,
  });
}

function applyCase(c: CaseInfo): void {
  state.caseInfo = c;
  const view = caseView(c);
  for (const s of ['flair', 't1', 't2', 't1ce'] as SequenceTab[]) {
    const tab = $<Checkable>(`seq-${s}`);
    tab.disabled = !view.tabs.includes(s);
    tab.hidden = !view.tabs.includes(s);
  }
  const fileTab = $<Checkable>('seq-opened');
  fileTab.disabled = false;
  fileTab.hidden = !view.fileTab;
  state.modalities = view.detect;
  for (const ch of DETECT_CHANNELS) {
    const box = $<Checkable>(`mod-${ch}`);
    box.checked = view.detect.includes(ch);
    box.disabled = !view.detect.includes(ch);
    box.hidden = !view.detect.includes(ch);
  }
  for (const id of ['detect-slice', 'detect-volume']) $<Checkable>(id).disabled = view.detect.length === 0;
  $<Checkable>('overlay-mask').disabled = !c.hasLabel;
  notices.set('detect', view.detectNotice ?? '');
  // Blend choices: the case's other sequences.
  const blend = $<Valued>('blend-select');
  blend.innerHTML = sequenceChoices(view)
    .map(([v, t]) => `<vscode-option value="${v}">${t}</vscode-option>`)
    .join('');
  blend.value = state.blend ?? 'none';
  const sideSelect = $<Valued>('side-select');
  sideSelect.innerHTML = blend.innerHTML;
  sideSelect.value = state.side ?? 'none';
  showNotices();
}

// ---------- colour bar, score strip, label table, statistics, overlays ---------------------

function drawColourBar(): void {
  const h = state.heatmap;
  if (!h) return;
  const cb = $<HTMLCanvasElement>('colorbar');
  const ctx = cb.getContext('2d');
  if (!ctx) return;
  const lut = nv.colormap($<Valued>('colormap').value || DEFAULT_HEATMAP_COLORMAP);
  const img = ctx.createImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    img.data.set([lut[4 * i], lut[4 * i + 1], lut[4 * i + 2], 255], 4 * i);
  }
  cb.width = 256;
  cb.height = 1;
  ctx.putImageData(img, 0, 0);
  const t = colourBarTicks(h.range, h.threshold);
  $('colorbar-min').textContent = t.min;
  $('colorbar-max').textContent = t.max;
  $('colorbar-threshold').textContent = `threshold ${t.threshold}${t.inside ? '' : ' (outside the range)'}`;
  const mark = $('colorbar-mark');
  mark.style.left = `calc(${(100 * t.at).toFixed(2)}% - 1px)`;
  mark.title = `decision threshold ${t.threshold}`;
}

/** The per-slice score strip: one bar per canonical axial slice, red above the threshold, current slice marked. */
function drawStrip(): void {
  const d = dims();
  if (!d) return;
  const strip = $<HTMLCanvasElement>('slice-strip');
  const w = Math.max(1, Math.round(strip.clientWidth * devicePixelRatio));
  if (strip.width !== w) strip.width = w;
  const ctx = strip.getContext('2d');
  if (!ctx) return;
  ctx.clearRect(0, 0, strip.width, strip.height);
  for (const b of stripBars(state.sliceScores, d[2], state.cursor[2], strip.width, strip.height)) {
    ctx.fillStyle = b.colour;
    ctx.fillRect(b.x, b.y, b.width, b.height);
  }
}

function renderLabelTable(): void {
  const table = $('label-table');
  const rows = labelTableRows(state.labels, labelValue());
  table.innerHTML = '<tr><th></th><th class="num">#</th><th>Name</th><th>Show</th></tr>';
  for (const e of rows) {
    const tr = document.createElement('tr');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = `rgb(${e.colour.join(',')})`;
    const name = document.createElement('input');
    name.className = 'name';
    name.value = e.name;
    name.dataset.testid = `label-name-${e.value}`;
    name.setAttribute('aria-label', `Name of label ${e.value}`);
    name.addEventListener('change', () => {
      state.labels = editLabel(state.labels, e.value, { name: name.value.slice(0, 200) });
      applyLabelTable();
    });
    const vis = document.createElement('vscode-checkbox') as Checkable;
    vis.checked = e.visible;
    vis.dataset.testid = `label-visible-${e.value}`;
    vis.setAttribute('aria-label', `Show label ${e.value}`);
    vis.addEventListener('change', () => {
      state.labels = editLabel(state.labels, e.value, { visible: vis.checked });
      applyLabelTable();
    });
    const cells = [sw, document.createTextNode(String(e.value)), name, vis];
    cells.forEach((c, k) => {
      const td = document.createElement('td');
      if (k === 1) td.className = 'num';
      td.append(c);
      tr.append(td);
    });
    table.append(tr);
  }
}

/** Per-label statistics of the annotation and the label mask: voxels, ml, mean of every loaded sequence. */
function computeStats(): void {
  const map = state.map;
  if (!map || !state.mirror || !state.init) return;
  const [sx, sy, sz] = state.init.spacing;
  const images: StatsImage[] = [];
  for (const { key, name } of statsColumns([...state.images.keys()], state.init.opened)) {
    const img = state.images.get(key);
    if (img) images.push({ name, data: voxels(img), slope: img.hdr?.scl_slope, inter: img.hdr?.scl_inter });
  }
  const annotation = map.canonicalToStorage(map.drawToCanonical(state.mirror));
  const sources: [string, ArrayLike<number>][] = [['Annotation', annotation]];
  if (state.mask) sources.push(['Mask', voxels(state.mask)]);
  const table = $('stats');
  table.dataset.annotationHash = String(annotationHash(annotation));
  const { header, rows } = statisticsTable(sources, images, sx * sy * sz, state.labels);
  // Columns from the third on are numbers (right-aligned).
  table.innerHTML = `<tr>${header.map((h, k) => (k >= 2 ? `<th class="num">${h}</th>` : `<th>${h}</th>`)).join('')}</tr>`;
  for (const r of rows) {
    const tr = document.createElement('tr');
    if ('empty' in r) {
      tr.innerHTML = `<td>${r.source}</td><td colspan="${header.length - 1}">empty</td>`;
    } else {
      tr.dataset.testid = r.testid;
      r.cells.forEach((c, k) => {
        const td = document.createElement('td');
        if (k >= 2) td.className = 'num';
        td.textContent = c;
        tr.append(td);
      });
    }
    table.append(tr);
  }
}

function renderOverlayList(): void {
  const list = $('overlay-list');
  list.innerHTML = '';
  state.overlays.forEach((o, i) => {
    const box = document.createElement('vscode-checkbox') as Checkable;
    box.id = `overlay-${i}-visible`;
    box.dataset.testid = box.id;
    box.checked = true;
    box.setAttribute('label', o.name);
    box.setAttribute('aria-label', `Show overlay ${o.name}`);
    box.addEventListener('change', syncLayers);
    const op = document.createElement('input');
    op.type = 'range';
    op.min = '0';
    op.max = '100';
    op.value = '60';
    op.id = `overlay-${i}-opacity`;
    op.dataset.testid = op.id;
    op.setAttribute('aria-label', `Opacity of ${o.name}`);
    op.addEventListener('input', syncLayers);
    list.append(box, op);
    if (!o.label) {
      const sel = document.createElement('vscode-single-select') as Valued;
      sel.id = `overlay-${i}-colormap`;
      sel.dataset.testid = sel.id;
      sel.setAttribute('aria-label', `Colormap of ${o.name}`);
      sel.innerHTML = ['warm', 'hot', 'jet', 'viridis', 'plasma', 'cool']
        .map((c) => `<vscode-option value="${c}">${c}</vscode-option>`)
        .join('');
      sel.addEventListener('change', syncLayers);
      list.append(sel);
    }
  });
}

// ---------- heatmap ------------------------------------------------------------------------

/** The heatmap as an NVImage on the opened file's grid (NaN, i.e. not computed, below the range: transparent). */
function buildHeatmapImage(): void {
  const h = state.heatmap;
  const back = state.images.get('opened');
  if (!h || !back || !state.map) return;
  const [lo, hi] = h.range;
  const img = NVImage.zerosLike(back, 'float32');
  img.img = state.map.canonicalToStorage(heatmapDisplayValues(h.values, h.range));
  if (img.hdr) {
    img.hdr.scl_slope = 1;
    img.hdr.scl_inter = 0;
  }
  img.name = 'anomaly heatmap';
  img.cal_min = lo;
  img.cal_max = hi;
  img.colormap = $<Valued>('colormap').value || DEFAULT_HEATMAP_COLORMAP;
  h.image = img;
}

// ---------- messages from the host -------------------------------------------------------

window.addEventListener('message', (event: MessageEvent) => {
  const msg = parseHostMessage(event.data, dims());
  if (!msg) {
    send({
      type: 'log',
      level: 'warn',
      message: `viewer: dropped a malformed message from the host (type ${String((event.data as { type?: unknown })?.type).slice(0, 40)})`,
    });
    return;
  }
  void onHostMessage(msg);
});

async function onHostMessage(msg: HostToWebview): Promise<void> {
  switch (msg.type) {
    case 'init': {
      // Sent once per page; a repeat (the host answering a second 'ready') changes nothing.
      if (state.init) return;
      state.init = msg;
      state.cursor = centreVoxel(msg.dims);
      $('info').textContent = infoText(msg);
      applyCase(msg);
      $<HTMLInputElement>('opacity-heatmap').value = String(Math.round(msg.overlay.opacity * 100));
      $<Valued>('colormap').value = msg.overlay.colormap;
      reportViewState();
      updateControls();
      return;
    }
    case 'case': {
      if (!state.init) return;
      state.init = { ...state.init, sequences: msg.sequences, opened: msg.opened, hasLabel: msg.hasLabel };
      // Another file may now stand for a sequence: siblings are fetched again on use.
      for (const key of [...state.images.keys()]) if (key !== 'opened') state.images.delete(key);
      waiting.clear();
      state.requested.clear();
      notices.clearPrefix('sequence:');
      if (!msg.hasLabel) state.mask = null;
      applyCase(msg);
      const change = caseChange(state, msg.sequences);
      state.background = change.background;
      state.blend = change.blend;
      if (side) side.key = null; // the file behind a sequence may have changed: copy it again
      if (change.closeSide) setSide(null);
      for (const key of change.request) requestSequence(key);
      reportViewState();
      syncLayers();
      return;
    }
    case 'file':
      if (msg.layer === 'opened' && (state.images.has('opened') || openedPending)) return;
      if (msg.layer === 'opened') openedPending = true;
      // One file at a time, in arrival order: the opened image is drawn before a small label
      // file that decompresses sooner can take the main thread.
      fileQueue = fileQueue.then(() => onFile(msg.layer, msg.name, msg.bytes));
      return fileQueue;
    case 'labels':
      setAnnotation(new Uint8Array(msg.data));
      return;
    case 'annotationPatch':
      applyPatch(new Uint32Array(msg.indices), new Uint8Array(msg.values));
      return;
    case 'heatmap': {
      const values = new Float32Array(msg.data);
      state.heatmap = { ...msg, values, range: finiteRange(values), image: null };
      buildHeatmapImage();
      showModelWarning(msg.model);
      $('score').textContent = scoreText(msg);
      $<Checkable>('overlay-heatmap').checked = true;
      syncLayers();
      if (msg.slice !== null) setSlice('axial', msg.slice);
      return;
    }
    case 'sliceScores':
      state.sliceScores = { scores: new Float32Array(msg.scores), threshold: msg.threshold };
      drawStrip();
      return;
    case 'clearHeatmap':
      state.heatmap = null;
      state.sliceScores = null;
      $('score').textContent = '';
      showModelWarning(null);
      syncLayers();
      return;
    case 'notice':
      notices.set('host', msg.text, msg.level);
      showNotices();
      return;
    case 'error':
      fatal(msg.title, msg.detail);
      return;
  }
}

/** The banner beside a result whose model carries a warning (random-init encoder); hidden otherwise. */
function showModelWarning(model: HeatmapModel | null): void {
  const banner = $('model-warning');
  const warning = modelWarning(model);
  banner.hidden = warning === null;
  if (!warning) return;
  $('model-warning-text').textContent = warning.text;
  banner.title = warning.title;
}

// ---------- view state for Detect ------------------------------------------------------------

let viewStateTimer: ReturnType<typeof setTimeout> | undefined;
/** Tells the host where the viewer is (debounced): the Detect command uses it. */
function reportViewState(): void {
  if (viewStateTimer !== undefined) clearTimeout(viewStateTimer);
  viewStateTimer = setTimeout(reportViewStateNow, 150);
}
/** Sends the view state at once (before a Detect request, so the host sees the latest slice). */
function reportViewStateNow(): void {
  if (viewStateTimer !== undefined) clearTimeout(viewStateTimer);
  if (state.init && state.modalities.length > 0)
    send({ type: 'viewState', cursor: [...state.cursor] as Dims3, modalities: [...state.modalities] });
}

// ---------- keyboard and pointer -------------------------------------------------------------

// Capture phase: our keys act once, before NiiVue's canvas handlers see them.
document.addEventListener(
  'keydown',
  (e) => {
    const action = keyAction(
      {
        key: e.key,
        ctrlKey: e.ctrlKey,
        metaKey: e.metaKey,
        altKey: e.altKey,
        targetTag: (e.target as HTMLElement | null)?.tagName ?? null,
      },
      state.init !== null,
    );
    if (!action) return;
    if (action.kind === 'step') setSlice(state.plane, state.cursor[PLANE_AXIS[state.plane]] + action.step);
    else if (action.kind === 'tool') setTool(action.tool);
    else setView(action.view);
    e.preventDefault();
    e.stopPropagation();
  },
  true,
);

canvas.addEventListener('pointerup', (e) => {
  // NiiVue has moved the crosshair to the click by now (its listener was added first).
  if (state.tool === 'fill' && e.button === 0) setTimeout(fillAt, 0);
});
canvas.addEventListener('contextmenu', (e) => e.preventDefault());

// ---------- toolbar ------------------------------------------------------------------------

for (const s of ['opened', 'flair', 't1', 't2', 't1ce'] as SeqKey[]) $(`seq-${s}`).addEventListener('click', () => showBackground(s));
$('blend-select').addEventListener('change', () => {
  setBlend(chosenSlot<SeqKey>($<Valued>('blend-select').value));
});
$('blend-opacity').addEventListener('input', syncLayers);
$('side-select').addEventListener('change', () => {
  setSide(chosenSlot<SeqKey>($<Valued>('side-select').value));
});
for (const p of ['axial', 'coronal', 'sagittal'] as Plane[]) $(`plane-${p}`).addEventListener('click', () => setView(p));
$('view-multiplanar').addEventListener('click', () => setView('multiplanar'));
$('view-3d').addEventListener('click', () => setView('render'));
$('orient-toggle').addEventListener('click', () => {
  state.radiological = !state.radiological;
  nv.setRadiologicalConvention(state.radiological);
  side?.nv.setRadiologicalConvention(state.radiological);
  updateControls();
});
$('slice').addEventListener('input', () => setSlice(state.plane, Number($<HTMLInputElement>('slice').value)));
$('wl-preset').addEventListener('change', applyWindowPreset);
for (const id of ['wl-min', 'wl-max'])
  $(id).addEventListener('change', () => {
    $<Valued>('wl-preset').value = 'custom';
    applyWindowPreset();
  });
for (const t of TOOLS) $(`tool-${t}`).addEventListener('click', () => setTool(t));
$('pen-filled').addEventListener('change', () => setTool(state.tool));
$('brush-size').addEventListener('input', () => setTool(state.tool));
$('label-value').addEventListener('change', () => {
  setTool(state.tool);
  renderLabelTable();
});
$('undo').addEventListener('click', () => send({ type: 'command', command: 'undo' }));
$('redo').addEventListener('click', () => send({ type: 'command', command: 'redo' }));
$('save').addEventListener('click', () => send({ type: 'command', command: 'save' }));
$('save-as').addEventListener('click', () => send({ type: 'command', command: 'saveAs' }));
$('revert').addEventListener('click', () => send({ type: 'command', command: 'revert' }));
// A new detection clears the old score line, so it never stands beside the wrong result.
$('detect-slice').addEventListener('click', () => {
  reportViewStateNow();
  $('score').textContent = '';
  send({ type: 'command', command: 'detectSlice' });
});
$('detect-volume').addEventListener('click', () => {
  reportViewStateNow();
  $('score').textContent = '';
  send({ type: 'command', command: 'detectVolume' });
});
$('model-card').addEventListener('click', () => send({ type: 'command', command: 'showModelCard' }));
$('pretrained-weights').addEventListener('click', () => send({ type: 'command', command: 'pretrainedWeights' }));
$('add-overlay').addEventListener('click', () => send({ type: 'addOverlay' }));
$('show-log').addEventListener('click', () => send({ type: 'command', command: 'showLog' }));
$('stats-refresh').addEventListener('click', computeStats);
for (const id of ['overlay-heatmap', 'overlay-mask', 'overlay-annotation']) $(id).addEventListener('change', syncLayers);
for (const id of ['opacity-heatmap', 'opacity-mask', 'opacity-annotation']) $(id).addEventListener('input', syncLayers);
$('colormap').addEventListener('change', syncLayers);
for (const c of DETECT_CHANNELS) {
  const box = $<Checkable>(`mod-${c}`);
  box.addEventListener('change', () => {
    const r = toggleModality(state.modalities, c, box.checked);
    state.modalities = r.modalities;
    if (r.refused) {
      box.checked = true;
      notices.set('modalities', 'Detection needs at least one of FLAIR, T1, T2.');
    } else notices.clear('modalities');
    showNotices();
    reportViewState();
  });
}
$('slice-strip').addEventListener('click', (e) => {
  const d = dims();
  if (!d) return;
  const rect = $('slice-strip').getBoundingClientRect();
  setSlice('axial', stripSliceAt((e.clientX - rect.left) / rect.width, d[2]));
});

new ResizeObserver(() => {
  if (nv.volumes.length) nv.resizeListener();
  if (side?.image) side.nv.resizeListener();
  drawStrip();
}).observe($('canvas-box'));
renderLabelTable();
send({ type: 'ready' });
stamp('tReady');
// The host sends the image unasked; should that be lost (a page that loaded too early), asking
// again after a while costs nothing: repeats are ignored above.
setTimeout(() => {
  if (!state.init) send({ type: 'ready' });
}, 3000);
