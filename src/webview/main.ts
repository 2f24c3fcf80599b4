/**
 * NIfTI viewer (browser side): axial/coronal/sagittal views or a 3-up layout, slices by
 * slider / wheel / keys, zoom and pan, crosshair with voxel readout, window/level (auto
 * percentiles, presets, right-drag), radiological/neurological display, sibling-sequence
 * tabs (fetched lazily), the detection modality subset, overlays (heatmap + contour, label
 * mask, annotation) and the annotation tools. The host owns the annotation document: edits
 * are sent to it and its patches are applied here (strokes are previewed locally first).
 */
import { PLANE_AXES, PLANES, planeShape, strokeVoxels, type Plane } from '../extension/model/planes';
import { DETECT_CHANNELS, LIMITS, parseHostMessage, type Colormap, type DetectChannel, type Dims3, type HeatmapMessage, type HeatmapModel, type HostToWebview, type InitMessage, type SequenceTab, type WebviewToHost } from './protocol';
import { colormapLut, finiteRange, percentileWindow, renderSlice, screenToPlane } from './render';

declare function acquireVsCodeApi(): { postMessage(msg: unknown): void };
const vscode = acquireVsCodeApi();
const send = (m: WebviewToHost): void => vscode.postMessage(m);

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
type SeqKey = SequenceTab | 'opened';
type Tool = 'navigate' | 'brush' | 'eraser' | 'fill';

interface ViewTransform { zoom: number; panX: number; panY: number }

const state = {
  init: null as InitMessage | null,
  volumes: new Map<SeqKey, { data: Float32Array; window: [number, number] }>(),
  shown: 'opened' as SeqKey,
  cursor: [0, 0, 0] as Dims3,
  activePlane: 'axial' as Plane,
  threeUp: false,
  radiological: true,
  views: { axial: { zoom: 1, panX: 0, panY: 0 }, coronal: { zoom: 1, panX: 0, panY: 0 }, sagittal: { zoom: 1, panX: 0, panY: 0 } } as Record<Plane, ViewTransform>,
  mask: null as Uint8Array | null,
  annotation: null as Uint8Array | null,
  heatmap: null as (HeatmapMessage & { values: Float32Array; range: [number, number] }) | null,
  sliceScores: null as { scores: Float32Array; threshold: number } | null,
  tool: 'navigate' as Tool,
  modalities: new Set<DetectChannel>(),
  lut: colormapLut('hot'),
};

function dims(): Dims3 | null {
  return state.init ? state.init.dims : null;
}

// ---------- rendering ----------------------------------------------------------------

const offscreen = new Map<Plane, { canvas: HTMLCanvasElement; image: ImageData | null }>();
let frameRequested = false;
function requestRender(): void {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    render();
  });
}

/** Screen geometry of a view: the image's top-left corner and the size of one voxel in canvas pixels. */
function geometry(plane: Plane, canvas: HTMLCanvasElement): { ox: number; oy: number; px: number; py: number; width: number; height: number } {
  const d = dims()!;
  const { width, height } = planeShape(d, plane);
  const ax = PLANE_AXES[plane];
  const sp = state.init!.spacing;
  const fit = Math.min(canvas.width / (width * sp[ax.a]), canvas.height / (height * sp[ax.b]));
  const t = state.views[plane];
  const px = fit * t.zoom * sp[ax.a];
  const py = fit * t.zoom * sp[ax.b];
  return { ox: (canvas.width - width * px) / 2 + t.panX, oy: (canvas.height - height * py) / 2 + t.panY, px, py, width, height };
}

const flipA = (plane: Plane): boolean => (plane === 'sagittal' ? true : state.radiological);

function visiblePlanes(): Plane[] {
  return state.threeUp ? [...PLANES] : [state.activePlane];
}

function render(): void {
  const d = dims();
  if (!d) return;
  const vol = state.volumes.get(state.shown) ?? null;
  const heat = state.heatmap;
  const layers = {
    base: vol?.data ?? null,
    window: vol?.window ?? [0, 1] as [number, number],
    heatmap: heat && checked('overlay-heatmap') ? { data: heat.values, range: heat.range, lut: state.lut, opacity: percent('opacity-heatmap'), threshold: heat.threshold, contour: checked('overlay-contour') } : null,
    mask: state.mask && checked('overlay-mask') ? { data: state.mask, opacity: percent('opacity-mask') } : null,
    annotation: state.annotation && checked('overlay-annotation') ? { data: state.annotation, opacity: percent('opacity-annotation') } : null,
  };
  $('views').classList.toggle('three', state.threeUp);
  for (const plane of PLANES) {
    const pane = $(`pane-${plane}`);
    const visible = visiblePlanes().includes(plane);
    pane.classList.toggle('hidden', !visible);
    pane.classList.toggle('active', state.threeUp && plane === state.activePlane);
    if (!visible) continue;
    const canvas = $<HTMLCanvasElement>(`view-${plane}`);
    const w = Math.max(1, Math.round(canvas.clientWidth * devicePixelRatio));
    const h = Math.max(1, Math.round(canvas.clientHeight * devicePixelRatio));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const { width, height } = planeShape(d, plane);
    let off = offscreen.get(plane);
    if (!off) { off = { canvas: document.createElement('canvas'), image: null }; offscreen.set(plane, off); }
    if (!off.image || off.image.width !== width || off.image.height !== height) {
      off.canvas.width = width;
      off.canvas.height = height;
      off.image = new ImageData(width, height);
    }
    const slice = state.cursor[PLANE_AXES[plane].slice];
    renderSlice(off.image.data, d, plane, slice, flipA(plane), layers);
    off.canvas.getContext('2d')!.putImageData(off.image, 0, 0);
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const g = geometry(plane, canvas);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off.canvas, g.ox, g.oy, width * g.px, height * g.py);
    drawCrosshair(ctx, plane, g);
  }
  updateLabels();
  drawStrip();
}

function drawCrosshair(ctx: CanvasRenderingContext2D, plane: Plane, g: ReturnType<typeof geometry>): void {
  const ax = PLANE_AXES[plane];
  const a = state.cursor[ax.a];
  const b = state.cursor[ax.b];
  const c = flipA(plane) ? g.width - 1 - a : a;
  const r = g.height - 1 - b;
  const x = g.ox + (c + 0.5) * g.px;
  const y = g.oy + (r + 0.5) * g.py;
  ctx.strokeStyle = 'rgba(0, 255, 0, 0.6)';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(g.ox, y); ctx.lineTo(g.ox + g.width * g.px, y);
  ctx.moveTo(x, g.oy); ctx.lineTo(x, g.oy + g.height * g.py);
  ctx.stroke();
}

function updateLabels(): void {
  const d = dims()!;
  const axis = PLANE_AXES[state.activePlane].slice;
  const slider = $<HTMLInputElement>('slice');
  slider.max = String(d[axis] - 1);
  slider.value = String(state.cursor[axis]);
  $('slice-label').textContent = `${state.activePlane} ${state.cursor[axis]} / ${d[axis] - 1}`;
  const [x, y, z] = state.cursor;
  const i = x + d[0] * (y + d[1] * z);
  const vol = state.volumes.get(state.shown);
  const parts = [`voxel (${x}, ${y}, ${z})`, vol ? `value ${formatNumber(vol.data[i])}` : 'loading…'];
  if (state.mask) parts.push(`label ${state.mask[i]}`);
  if (state.annotation) parts.push(`annotation ${state.annotation[i]}`);
  if (state.heatmap && state.heatmap.values[i] === state.heatmap.values[i]) parts.push(`anomaly ${formatNumber(state.heatmap.values[i])}`);
  $('readout').textContent = parts.join(' · ');
  $('wl-readout').textContent = vol ? `W ${formatNumber(vol.window[1] - vol.window[0])} L ${formatNumber((vol.window[0] + vol.window[1]) / 2)}` : '';
  const orient = $('orient-toggle');
  orient.textContent = state.radiological ? 'Radiological' : 'Neurological';
  orient.setAttribute('aria-pressed', String(!state.radiological));
  for (const p of PLANES) $(`plane-${p}`).setAttribute('aria-pressed', String(!state.threeUp && p === state.activePlane));
  $('layout-3up').setAttribute('aria-pressed', String(state.threeUp));
  for (const t of ['navigate', 'brush', 'eraser', 'fill'] as Tool[]) $(`tool-${t}`).setAttribute('aria-pressed', String(state.tool === t));
  for (const s of ['opened', 'flair', 't1', 't2', 't1ce'] as SeqKey[]) $(`seq-${s}`).setAttribute('aria-selected', String(tabKey(s) === state.shown));
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

/** The per-slice score strip: one bar per axial slice, red above the threshold, current slice marked. */
function drawStrip(): void {
  const canvas = $<HTMLCanvasElement>('slice-strip');
  const w = Math.max(1, Math.round(canvas.clientWidth * devicePixelRatio));
  if (canvas.width !== w) canvas.width = w;
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const d = dims()!;
  const nz = d[2];
  const bar = canvas.width / nz;
  if (state.sliceScores) {
    const { scores, threshold } = state.sliceScores;
    const [lo, hi] = finiteRange(scores);
    for (let z = 0; z < nz; z++) {
      const s = scores[z];
      if (s !== s) continue;
      const hgt = Math.max(2, ((s - lo) / (hi - lo)) * canvas.height);
      ctx.fillStyle = s >= threshold ? '#e04040' : '#4080e0';
      ctx.fillRect(z * bar, canvas.height - hgt, Math.max(1, bar - 0.5), hgt);
    }
  }
  ctx.fillStyle = '#0f0';
  ctx.fillRect(state.cursor[2] * bar, 0, Math.max(1, bar), canvas.height);
}

// ---------- state changes ------------------------------------------------------------

let viewStateTimer: ReturnType<typeof setTimeout> | undefined;
/** Tells the host where the viewer is (debounced): the Detect command uses it. */
function reportViewState(): void {
  if (viewStateTimer !== undefined) clearTimeout(viewStateTimer);
  viewStateTimer = setTimeout(() => {
    if (state.init && state.modalities.size > 0) send({ type: 'viewState', cursor: [...state.cursor] as Dims3, modalities: [...state.modalities] });
  }, 150);
}

function setSlice(plane: Plane, value: number): void {
  const d = dims();
  if (!d) return;
  const axis = PLANE_AXES[plane].slice;
  state.cursor[axis] = Math.max(0, Math.min(d[axis] - 1, Math.round(value)));
  reportViewState();
  requestRender();
}

/**
 * Shows the case's sequences: a tab and a Detect checkbox only for those that exist (all of
 * them ticked), the "File" tab only when the opened file is no known sequence. With no
 * FLAIR/T1/T2 at all Detect is disabled and the notice says how to assign one.
 */
function applyCase(c: { sequences: SequenceTab[]; opened: SequenceTab | null; hasLabel: boolean }): void {
  for (const s of ['flair', 't1', 't2', 't1ce'] as SequenceTab[]) {
    const tab = $<HTMLButtonElement>(`seq-${s}`);
    tab.disabled = !c.sequences.includes(s);
    tab.hidden = !c.sequences.includes(s);
  }
  const openedTab = $<HTMLButtonElement>('seq-opened');
  openedTab.disabled = false;
  openedTab.hidden = c.opened !== null;
  const present = DETECT_CHANNELS.filter((ch) => c.sequences.includes(ch));
  state.modalities = new Set(present);
  for (const ch of DETECT_CHANNELS) {
    const box = $<HTMLInputElement>(`mod-${ch}`);
    box.checked = state.modalities.has(ch);
    box.disabled = !present.includes(ch);
    (box.parentElement as HTMLElement).hidden = !present.includes(ch);
  }
  for (const id of ['detect-slice', 'detect-volume']) $<HTMLButtonElement>(id).disabled = present.length === 0;
  $<HTMLInputElement>('overlay-mask').disabled = !c.hasLabel;
  if (present.length === 0) notice('This file is not a known FLAIR, T1 or T2: run "AnyAD: Assign sequence…" (editor title bar) or add a data.sequences pattern to anyad.json to detect on it.');
}

/** Which volume a sequence tab shows: the opened file stands for its own sequence. */
function tabKey(s: SeqKey): SeqKey {
  return state.init && s === state.init.opened ? 'opened' : s;
}

function showSequence(s: SeqKey): void {
  const key = tabKey(s);
  state.shown = key;
  if (!state.volumes.has(key) && key !== 'opened') {
    notice(`Loading ${key.toUpperCase()}…`);
    send({ type: 'requestSequence', sequence: key });
  }
  requestRender();
}

function applyWindowPreset(key: SeqKey): void {
  const vol = state.volumes.get(key);
  if (!vol) return;
  const preset = $<HTMLSelectElement>('wl-preset').value;
  vol.window = preset === 'full' ? finiteRange(vol.data) : preset === 'narrow' ? percentileWindow(vol.data, 0.05, 0.95) : percentileWindow(vol.data);
}

/** The banner beside a result whose model carries a warning (random-init encoder); hidden otherwise. */
function showModelWarning(model: HeatmapModel | null): void {
  const banner = $('model-warning');
  banner.hidden = !model?.warning;
  if (!model?.warning) return;
  $('model-warning-text').textContent = model.kind === 'random-init'
    ? 'Random-init encoder: these detections are not meaningful for real data'
    : `Model warning: ${model.warning}`;
  banner.title = `${model.description}\n${model.warning}`;
}

function notice(text: string): void {
  $('notice').textContent = text;
}

function checked(id: string): boolean {
  return $<HTMLInputElement>(id).checked;
}
function percent(id: string): number {
  return Number($<HTMLInputElement>(id).value) / 100;
}

// ---------- messages from the host -------------------------------------------------------

window.addEventListener('message', (event: MessageEvent) => {
  const msg = parseHostMessage(event.data, dims());
  if (!msg) {
    send({ type: 'log', level: 'warn', message: `viewer: dropped a malformed message from the host (type ${String((event.data as { type?: unknown })?.type).slice(0, 40)})` });
    return;
  }
  onHostMessage(msg);
});

function onHostMessage(msg: HostToWebview): void {
  switch (msg.type) {
    case 'init': {
      state.init = msg;
      const [nx, ny, nz] = msg.dims;
      state.cursor = [Math.floor(nx / 2), Math.floor(ny / 2), Math.floor(nz / 2)];
      $('info').textContent = `${msg.name} — ${nx}×${ny}×${nz}, ${msg.spacing.map((s) => s.toFixed(2)).join('×')} mm, stored ${msg.orientation} (shown canonical), ${msg.datatype}; annotation: ${msg.annotationFile}`;
      applyCase(msg);
      $<HTMLInputElement>('opacity-heatmap').value = String(Math.round(msg.overlay.opacity * 100));
      $<HTMLSelectElement>('colormap').value = msg.overlay.colormap;
      state.lut = colormapLut(msg.overlay.colormap);
      reportViewState();
      requestRender();
      return;
    }
    case 'case': {
      if (!state.init) return;
      state.init = { ...state.init, sequences: msg.sequences, opened: msg.opened, hasLabel: msg.hasLabel };
      // Another file may now stand for a sequence: fetch siblings again when their tab is used.
      for (const key of [...state.volumes.keys()]) if (key !== 'opened') state.volumes.delete(key);
      if (!msg.hasLabel) state.mask = null;
      applyCase(msg);
      if (state.shown !== 'opened' && !msg.sequences.includes(state.shown)) state.shown = 'opened';
      reportViewState();
      requestRender();
      return;
    }
    case 'volume': {
      const data = new Float32Array(msg.data);
      state.volumes.set(msg.sequence, { data, window: percentileWindow(data) });
      applyWindowPreset(msg.sequence);
      if (msg.sequence === state.shown) notice('');
      requestRender();
      return;
    }
    case 'labels':
      if (msg.layer === 'mask') state.mask = new Uint8Array(msg.data);
      else state.annotation = new Uint8Array(msg.data);
      requestRender();
      return;
    case 'annotationPatch': {
      if (!state.annotation) return;
      const idx = new Uint32Array(msg.indices);
      const values = new Uint8Array(msg.values);
      for (let i = 0; i < idx.length; i++) state.annotation[idx[i]] = values[i];
      requestRender();
      return;
    }
    case 'heatmap': {
      const values = new Float32Array(msg.data);
      state.heatmap = { ...msg, values, range: finiteRange(values) };
      const where = msg.slice === null ? 'volume' : `axial slice ${msg.slice}`;
      showModelWarning(msg.model);
      $('score').textContent = `Anomaly score ${formatNumber(msg.score)} (threshold ${formatNumber(msg.threshold)}): ${msg.decision ? 'ANOMALOUS' : 'normal'} — ${where}, ${msg.modalities.map((m) => m.toUpperCase()).join('+')}`;
      if (msg.slice !== null) setSlice('axial', msg.slice);
      requestRender();
      return;
    }
    case 'sliceScores':
      state.sliceScores = { scores: new Float32Array(msg.scores), threshold: msg.threshold };
      requestRender();
      return;
    case 'clearHeatmap':
      state.heatmap = null;
      state.sliceScores = null;
      $('score').textContent = '';
      showModelWarning(null);
      requestRender();
      return;
    case 'notice':
      notice(msg.text);
      return;
    case 'error':
      $('info').textContent = msg.title;
      $('error').textContent = msg.detail;
      $('controls').hidden = true;
      $('tools').hidden = true;
      $('views').hidden = true;
      $('slice-strip').hidden = true;
      return;
  }
}

// ---------- pointer, wheel and keys on the views -----------------------------------------

interface Drag { plane: Plane; button: number; mode: 'cursor' | 'paint' | 'pan' | 'window'; lastX: number; lastY: number; points: number[]; slice: number }
let drag: Drag | null = null;

/** In-plane voxel (a, b) under a pointer event, or null outside the image. */
function planePoint(plane: Plane, canvas: HTMLCanvasElement, e: MouseEvent): [number, number] | null {
  const rect = canvas.getBoundingClientRect();
  const g = geometry(plane, canvas);
  const c = Math.floor(((e.clientX - rect.left) * devicePixelRatio - g.ox) / g.px);
  const r = Math.floor(((e.clientY - rect.top) * devicePixelRatio - g.oy) / g.py);
  return screenToPlane(dims()!, plane, flipA(plane), c, r);
}

function moveCursor(plane: Plane, p: [number, number]): void {
  const ax = PLANE_AXES[plane];
  state.cursor[ax.a] = p[0];
  state.cursor[ax.b] = p[1];
  reportViewState();
  requestRender();
}

function brushRadius(): number {
  return Math.max(0, Math.min(LIMITS.maxRadius, Math.round(Number($<HTMLInputElement>('brush-size').value))));
}
function labelValue(): number {
  const v = Math.round(Number($<HTMLInputElement>('label-value').value));
  return Number.isFinite(v) ? Math.max(1, Math.min(255, v)) : 1;
}

/** Paints the newest stroke segment locally so the stroke shows at once (the host's patch confirms it). */
function previewStroke(dr: Drag): void {
  if (!state.annotation) return;
  const value = state.tool === 'eraser' ? 0 : labelValue();
  const pts = dr.points.slice(-4);
  for (const i of strokeVoxels(dims()!, dr.plane, dr.slice, pts, brushRadius())) state.annotation[i] = value;
  requestRender();
}

function sendStroke(dr: Drag): void {
  if (dr.points.length < 2) return;
  const tool = state.tool === 'eraser' ? 'eraser' : 'brush';
  send({ type: 'stroke', tool, plane: dr.plane, slice: dr.slice, points: dr.points, radius: brushRadius(), value: tool === 'eraser' ? 0 : labelValue() });
}

for (const plane of PLANES) {
  const canvas = $<HTMLCanvasElement>(`view-${plane}`);
  canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  canvas.addEventListener('mousedown', (e) => {
    if (!dims()) return;
    canvas.focus();
    state.activePlane = plane;
    const p = planePoint(plane, canvas, e);
    const slice = state.cursor[PLANE_AXES[plane].slice];
    let mode: Drag['mode'];
    if (e.button === 2) mode = 'window';
    else if (e.button === 1 || (e.button === 0 && e.shiftKey)) mode = 'pan';
    else if (e.button === 0 && (state.tool === 'brush' || state.tool === 'eraser')) mode = 'paint';
    else mode = 'cursor';
    if (e.button === 0 && state.tool === 'fill' && !e.shiftKey) {
      if (p) send({ type: 'fill', plane, slice, a: p[0], b: p[1], value: labelValue() });
      requestRender();
      return;
    }
    drag = { plane, button: e.button, mode, lastX: e.clientX, lastY: e.clientY, points: [], slice };
    if (mode === 'paint' && p) {
      drag.points.push(p[0], p[1]);
      previewStroke(drag);
    } else if (mode === 'cursor' && p) moveCursor(plane, p);
    e.preventDefault();
    requestRender();
  });
  canvas.addEventListener('wheel', (e) => {
    if (!dims()) return;
    e.preventDefault();
    state.activePlane = plane;
    if (e.ctrlKey || e.metaKey) {
      const t = state.views[plane];
      const factor = Math.exp(-e.deltaY * 0.0015);
      const zoom = Math.max(0.25, Math.min(32, t.zoom * factor));
      // Keep the point under the mouse fixed while zooming.
      const rect = canvas.getBoundingClientRect();
      const mx = (e.clientX - rect.left) * devicePixelRatio - canvas.width / 2;
      const my = (e.clientY - rect.top) * devicePixelRatio - canvas.height / 2;
      const k = zoom / t.zoom;
      t.panX = mx - (mx - t.panX) * k;
      t.panY = my - (my - t.panY) * k;
      t.zoom = zoom;
      requestRender();
    } else {
      setSlice(plane, state.cursor[PLANE_AXES[plane].slice] + (e.deltaY > 0 ? -1 : 1));
    }
  }, { passive: false });
  canvas.addEventListener('keydown', (e) => {
    e.stopPropagation();
    onKey(plane, e);
  });
}
// Keys pressed with nothing focused (e.g. after a toolbar click) go to the active view.
document.addEventListener('keydown', (e) => {
  const target = e.target as HTMLElement | null;
  if (!target || target === document.body || target.tagName === 'BUTTON') onKey(state.activePlane, e);
});

window.addEventListener('mousemove', (e) => {
  if (!drag) return;
  const canvas = $<HTMLCanvasElement>(`view-${drag.plane}`);
  const dx = e.clientX - drag.lastX;
  const dy = e.clientY - drag.lastY;
  drag.lastX = e.clientX;
  drag.lastY = e.clientY;
  if (drag.mode === 'pan') {
    const t = state.views[drag.plane];
    t.panX += dx * devicePixelRatio;
    t.panY += dy * devicePixelRatio;
    requestRender();
  } else if (drag.mode === 'window') {
    const vol = state.volumes.get(state.shown);
    if (!vol) return;
    let [lo, hi] = vol.window;
    const width = hi - lo;
    const level = (lo + hi) / 2 - dy * width * 0.005;
    const newWidth = Math.max(width * 1e-3, width * Math.exp(dx * 0.005));
    lo = level - newWidth / 2;
    hi = level + newWidth / 2;
    vol.window = [lo, hi];
    requestRender();
  } else {
    const p = planePoint(drag.plane, canvas, e);
    if (!p) return;
    if (drag.mode === 'cursor') moveCursor(drag.plane, p);
    else {
      const n = drag.points.length;
      if (drag.points[n - 2] === p[0] && drag.points[n - 1] === p[1]) return;
      drag.points.push(p[0], p[1]);
      previewStroke(drag);
      if (drag.points.length >= 2 * LIMITS.strokePoints) {
        // A very long stroke goes as several edits; the next one starts where this one ended.
        sendStroke(drag);
        drag.points = [p[0], p[1]];
      }
    }
  }
});

window.addEventListener('mouseup', () => {
  if (drag?.mode === 'paint') sendStroke(drag);
  drag = null;
});

function onKey(plane: Plane, e: KeyboardEvent): void {
  if (e.ctrlKey || e.metaKey || e.altKey) return; // undo/redo/save keys belong to VS Code
  const step = { ArrowUp: 1, ArrowDown: -1, PageUp: 10, PageDown: -10 }[e.key];
  if (step !== undefined) {
    setSlice(plane, state.cursor[PLANE_AXES[plane].slice] + step);
    e.preventDefault();
    return;
  }
  const tool = ({ n: 'navigate', b: 'brush', e: 'eraser', f: 'fill' } as Record<string, Tool>)[e.key.toLowerCase()];
  if (tool) setTool(tool);
  else if (e.key === 'r') {
    state.views[plane] = { zoom: 1, panX: 0, panY: 0 };
    requestRender();
  }
}

function setTool(tool: Tool): void {
  state.tool = tool;
  requestRender();
}

// ---------- toolbar ------------------------------------------------------------------

for (const s of ['opened', 'flair', 't1', 't2', 't1ce'] as SeqKey[]) $(`seq-${s}`).addEventListener('click', () => showSequence(s));
for (const p of PLANES) {
  $(`plane-${p}`).addEventListener('click', () => {
    state.activePlane = p;
    state.threeUp = false;
    requestRender();
  });
}
$('layout-3up').addEventListener('click', () => { state.threeUp = !state.threeUp; requestRender(); });
$('orient-toggle').addEventListener('click', () => { state.radiological = !state.radiological; requestRender(); });
$('slice').addEventListener('input', () => setSlice(state.activePlane, Number($<HTMLInputElement>('slice').value)));
$('wl-preset').addEventListener('change', () => { applyWindowPreset(state.shown); requestRender(); });
for (const t of ['navigate', 'brush', 'eraser', 'fill'] as Tool[]) $(`tool-${t}`).addEventListener('click', () => setTool(t));
$('undo').addEventListener('click', () => send({ type: 'command', command: 'undo' }));
$('redo').addEventListener('click', () => send({ type: 'command', command: 'redo' }));
$('save').addEventListener('click', () => send({ type: 'command', command: 'save' }));
$('detect-slice').addEventListener('click', () => { reportViewStateNow(); send({ type: 'command', command: 'detectSlice' }); });
$('model-card').addEventListener('click', () => send({ type: 'command', command: 'showModelCard' }));
$('pretrained-weights').addEventListener('click', () => send({ type: 'command', command: 'pretrainedWeights' }));
$('detect-volume').addEventListener('click', () => { reportViewStateNow(); send({ type: 'command', command: 'detectVolume' }); });
for (const id of ['overlay-heatmap', 'overlay-contour', 'overlay-mask', 'overlay-annotation', 'opacity-heatmap', 'opacity-mask', 'opacity-annotation']) $(id).addEventListener('input', requestRender);
$('colormap').addEventListener('change', () => {
  state.lut = colormapLut($<HTMLSelectElement>('colormap').value as Colormap);
  requestRender();
});
for (const c of DETECT_CHANNELS) {
  const box = $<HTMLInputElement>(`mod-${c}`);
  box.addEventListener('change', () => {
    if (box.checked) state.modalities.add(c);
    else if (state.modalities.size > 1) state.modalities.delete(c);
    else {
      box.checked = true;
      notice('Detection needs at least one of FLAIR, T1, T2.');
    }
    reportViewState();
  });
}
$('slice-strip').addEventListener('click', (e) => {
  const d = dims();
  if (!d) return;
  const canvas = $<HTMLCanvasElement>('slice-strip');
  const rect = canvas.getBoundingClientRect();
  setSlice('axial', Math.floor(((e.clientX - rect.left) / rect.width) * d[2]));
});

/** Sends the view state at once (before a Detect request, so the host sees the latest slice). */
function reportViewStateNow(): void {
  if (viewStateTimer !== undefined) clearTimeout(viewStateTimer);
  if (state.init && state.modalities.size > 0) send({ type: 'viewState', cursor: [...state.cursor] as Dims3, modalities: [...state.modalities] });
}

new ResizeObserver(requestRender).observe($('views'));
send({ type: 'ready' });
