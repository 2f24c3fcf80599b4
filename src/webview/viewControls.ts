/**
 * The viewer's controls as decisions, free of DOM and NiiVue so they are unit-tested in
 * Node: keyboard shortcuts, slice stepping and the slice read-out, the fill tool's seed on
 * the plane in view, the label value a pen paints, the per-slice score strip, and the texts
 * the page shows for the opened file, a detection result, a model warning and the voxel under
 * the cursor. main.ts reads the page, asks these, and writes the answers back.
 */
import type { Plane } from '../shared/planes';
import type { Dims3, HeatmapModel, InitMessage } from '../shared/webviewProtocol';
import type { DetectChannel } from '../shared/webviewProtocol';
import { finiteRange, formatNumber, labelEntry, subsetLabel, type LabelEntry } from './viewerState';

export type Tool = 'navigate' | 'brush' | 'eraser' | 'fill' | 'measure';
export const TOOLS: readonly Tool[] = ['navigate', 'brush', 'eraser', 'fill', 'measure'];
export type View = Plane | 'multiplanar' | 'render';

/** Canonical axis a plane's slices step along. */
export const PLANE_AXIS: Record<Plane, 0 | 1 | 2> = { axial: 2, coronal: 1, sagittal: 0 };

// ---- keyboard -------------------------------------------------------------------------------

export type KeyAction = { kind: 'step'; step: number } | { kind: 'tool'; tool: Tool } | { kind: 'view'; view: View };

const STEP_KEYS: Record<string, number> = { ArrowUp: 1, ArrowDown: -1, PageUp: 10, PageDown: -10 };
const TOOL_KEYS: Record<string, Tool> = { n: 'navigate', b: 'brush', e: 'eraser', f: 'fill', m: 'measure' };
const VIEW_KEYS: Record<string, View> = { 1: 'axial', 2: 'coronal', 3: 'sagittal', 4: 'multiplanar', 5: 'render' };
/** Elements a key goes to as text (tag names as the DOM reports them). */
const TYPING_TAGS = ['INPUT', 'VSCODE-TEXTFIELD', 'VSCODE-SINGLE-SELECT'];

/**
 * The viewer's own shortcut for a key press, or null when the key is not ours: typed into a
 * field, or with Ctrl/Cmd/Alt (undo, redo and save belong to VS Code). Slice steps act only
 * once a volume is open (`open`); before that those keys are not ours either.
 */
export function keyAction(
  e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; targetTag: string | null },
  open: boolean,
): KeyAction | null {
  if ((e.targetTag !== null && TYPING_TAGS.includes(e.targetTag)) || e.ctrlKey || e.metaKey || e.altKey) return null;
  const step = STEP_KEYS[e.key];
  if (step !== undefined && open) return { kind: 'step', step };
  const tool = TOOL_KEYS[e.key.toLowerCase()];
  if (tool) return { kind: 'tool', tool };
  const view = VIEW_KEYS[e.key];
  return view ? { kind: 'view', view } : null;
}

// ---- slices and the cursor ------------------------------------------------------------------

/** The voxel at the middle of a volume (where the cursor starts). */
export function centreVoxel(dims: Dims3): Dims3 {
  return [Math.floor(dims[0] / 2), Math.floor(dims[1] / 2), Math.floor(dims[2] / 2)];
}

/** The cursor moved to slice `value` (rounded, clamped to the volume) of `plane`. */
export function cursorOnSlice(cursor: Dims3, dims: Dims3, plane: Plane, value: number): Dims3 {
  const axis = PLANE_AXIS[plane];
  const c = [...cursor] as Dims3;
  c[axis] = Math.max(0, Math.min(dims[axis] - 1, Math.round(value)));
  return c;
}

/** The slice slider's range and value, and its label ("axial 12 / 31"). */
export function sliceControl(cursor: Dims3, dims: Dims3, plane: Plane): { max: number; value: number; label: string } {
  const axis = PLANE_AXIS[plane];
  return { max: dims[axis] - 1, value: cursor[axis], label: `${plane} ${cursor[axis]} / ${dims[axis] - 1}` };
}

/** A fractional voxel position rounded to the nearest voxel inside `dims`. */
export function nearestVoxel(v: ArrayLike<number>, dims: Dims3): Dims3 {
  return [0, 1, 2].map((k) => Math.max(0, Math.min(dims[k] - 1, Math.round(v[k])))) as Dims3;
}

/**
 * Where the fill tool seeds, for draw-order voxel `r`: the plane in view (axial for the
 * multiplanar and 3-D views), the slice along it and the in-plane (a, b). In draw order
 * NiiVue's planes are (x, y | z), (x, z | y), (y, z | x): planes.ts's convention.
 */
export function fillSeed(view: View, r: Dims3): { plane: Plane; slice: number; a: number; b: number } {
  const plane: Plane = view === 'coronal' || view === 'sagittal' ? view : 'axial';
  if (plane === 'axial') return { plane, slice: r[2], a: r[0], b: r[1] };
  if (plane === 'coronal') return { plane, slice: r[1], a: r[0], b: r[2] };
  return { plane, slice: r[0], a: r[1], b: r[2] };
}

/**
 * What a tool makes NiiVue do: draw with the pen (brush and eraser, which paints 0) or not,
 * drag to measure or to move the crosshair, and which edit a finished stroke is.
 */
export function toolSettings(
  tool: Tool,
  labelValue: number,
): { drawing: boolean; penValue: number; measure: boolean; strokeKind: 'brush' | 'eraser' } {
  return {
    drawing: tool === 'brush' || tool === 'eraser',
    penValue: tool === 'eraser' ? 0 : labelValue,
    measure: tool === 'measure',
    strokeKind: tool === 'eraser' ? 'eraser' : 'brush',
  };
}

/** The label value the pen paints, from the label field's text: a whole number in 1..255 (1 when not a number). */
export function penLabelValue(text: string): number {
  const v = Math.round(Number(text));
  return Number.isFinite(v) ? Math.max(1, Math.min(255, v)) : 1;
}

// ---- per-slice score strip ---------------------------------------------------------------

export const STRIP_ABOVE = '#e04040';
export const STRIP_BELOW = '#4080e0';
export const STRIP_CURSOR = '#0f0';

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  colour: string;
}

/**
 * The per-slice score strip on a `width`×`height` canvas: one bar per axial slice scaled
 * between the scores' range (at least 2 px), red at or above the threshold, blue below,
 * unscored (NaN) slices left out; then the current slice `cursorZ` marked in green.
 */
export function stripBars(
  scores: { scores: ArrayLike<number>; threshold: number } | null,
  slices: number,
  cursorZ: number,
  width: number,
  height: number,
): Bar[] {
  const bar = width / slices;
  const bars: Bar[] = [];
  if (scores) {
    const [lo, hi] = finiteRange(scores.scores);
    for (let z = 0; z < slices; z++) {
      const s = scores.scores[z];
      if (s !== s) continue;
      const h = Math.max(2, ((s - lo) / (hi - lo)) * height);
      bars.push({
        x: z * bar,
        y: height - h,
        width: Math.max(1, bar - 0.5),
        height: h,
        colour: s >= scores.threshold ? STRIP_ABOVE : STRIP_BELOW,
      });
    }
  }
  bars.push({ x: cursorZ * bar, y: 0, width: Math.max(1, bar), height, colour: STRIP_CURSOR });
  return bars;
}

/** The axial slice under a click at fraction `f` (0..1) of the strip's width. */
export function stripSliceAt(f: number, slices: number): number {
  return Math.floor(f * slices);
}

// ---- texts ----------------------------------------------------------------------------------

/** The line about the opened file: name, grid, spacing, storage orientation, datatype, annotation file. */
export function infoText(init: InitMessage): string {
  const [nx, ny, nz] = init.dims;
  return `${init.name} — ${nx}×${ny}×${nz}, ${init.spacing.map((s) => s.toFixed(2)).join('×')} mm, stored ${init.orientation}, ${init.datatype}; annotation: ${init.annotationFile}`;
}

/** The score line of a detection result: score, threshold, decision, where, and the sequences it used. */
export function scoreText(r: {
  score: number;
  threshold: number;
  decision: boolean;
  slice: number | null;
  modalities: readonly DetectChannel[];
}): string {
  const where = r.slice === null ? 'volume' : `axial slice ${r.slice}`;
  return `Anomaly score ${formatNumber(r.score)} (threshold ${formatNumber(r.threshold)}): ${r.decision ? 'ANOMALOUS' : 'normal'} — ${where}, ${subsetLabel(r.modalities)}`;
}

/** The banner beside a result whose model carries a warning (random-init encoder); null: no banner. */
export function modelWarning(model: HeatmapModel | null): { text: string; title: string } | null {
  if (!model?.warning) return null;
  return {
    text:
      model.kind === 'random-init'
        ? 'Random-init encoder: these detections are not meaningful for real data'
        : `Model warning: ${model.warning}`,
    title: `${model.description}\n${model.warning}`,
  };
}

/** The read-out of the voxel under the cursor: position, the background's value, then label, annotation and anomaly where present. */
export function readoutText(r: {
  cursor: Dims3;
  sequence: string;
  value: number;
  maskLabel: number | null;
  annotation: number | null;
  labels: readonly LabelEntry[];
  anomaly: number | null;
}): string {
  const [x, y, z] = r.cursor;
  const parts = [`voxel (${x}, ${y}, ${z})`, `${r.sequence.toUpperCase()} ${formatNumber(r.value)}`];
  if (r.maskLabel !== null) parts.push(`label ${r.maskLabel}`);
  if (r.annotation !== null) parts.push(`annotation ${r.annotation}${r.annotation ? ` (${labelEntry(r.labels, r.annotation).name})` : ''}`);
  if (r.anomaly !== null && r.anomaly === r.anomaly) parts.push(`anomaly ${formatNumber(r.anomaly)}`);
  return parts.join(' · ');
}

/** The choices of the blend and side-by-side selects: none, the File tab when shown, then the case's sequence tabs. */
export function sequenceChoices(view: { fileTab: boolean; tabs: readonly string[] }): [value: string, text: string][] {
  return [
    ['none', 'none'],
    ...(view.fileTab ? [['opened', 'File'] as [string, string]] : []),
    ...view.tabs.map((t) => [t, t.toUpperCase()] as [string, string]),
  ];
}

/** A select's value as a slot: 'none' or empty is no slot. */
export function chosenSlot<K extends string>(value: string): K | null {
  return value === 'none' || !value ? null : (value as K);
}

const STATS_ORDER = ['FLAIR', 'T1', 'T2', 'T1CE', 'FILE'];

/**
 * The statistics table's intensity columns: every loaded slot by its sequence name, in
 * FLAIR, T1, T2, T1CE, FILE order; the opened file is left out when its own sequence is
 * loaded under that name too (the same voxels twice).
 */
export function statsColumns<K extends string>(loaded: readonly K[], opened: string | null): { key: K; name: string }[] {
  return loaded
    .filter((k) => !(k === 'opened' && opened !== null && loaded.includes(opened as K)))
    .map((key) => ({ key, name: (key === 'opened' ? (opened ?? 'file') : key).toUpperCase() }))
    .sort((a, b) => STATS_ORDER.indexOf(a.name) - STATS_ORDER.indexOf(b.name));
}
