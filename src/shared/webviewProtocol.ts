/**
 * Messages between the extension host and the NIfTI viewer webview. Both sides validate
 * everything they receive with these parsers: a webview is untrusted content and the host
 * is a different process, so a malformed message (unknown type, wrong field types,
 * out-of-range indices, oversized strings, wrong buffer sizes) is dropped and logged,
 * never acted on. Voxel data always travels as ArrayBuffers, never as JSON arrays.
 * Pure TypeScript: bundled into both the extension host and the browser.
 *
 * Images travel as their files' bytes (the webview decodes them with NiiVue); maps and
 * labels the host computes are on the opened volume's canonical (RAS) grid, x fastest:
 * index = x + nx·(y + ny·z). Parsers that check sizes take that grid's dims. The init
 * message says how that grid maps to the file's storage order (`axes`), so the webview can
 * place them on NiiVue's own voxel order exactly, whatever the file's orientation.
 */
import { PLANE_AXES, PLANES, type Plane } from './planes';
import { ENCODER_KINDS, type EncoderKind } from './detectJson';
import { SEQUENCES, type SequenceName, CHANNELS, type ChannelName, COLORMAPS, type Colormap } from './vocabulary';

// The viewer's names for the shared vocabulary (src/shared/vocabulary.ts): its sequence tabs,
// the sequences a detection can use (T1ce is shown but not a model input), overlay colormaps.
export { SEQUENCES as SEQUENCE_NAMES, CHANNELS as DETECT_CHANNELS, COLORMAPS, type Colormap };
export type SequenceTab = SequenceName;
export type DetectChannel = ChannelName;
export type Dims3 = [number, number, number];

// ---- host → webview -------------------------------------------------------------

export interface InitMessage {
  type: 'init';
  /** File name of the opened volume. */
  name: string;
  dims: Dims3;
  spacing: Dims3;
  /** Storage orientation of the file (the viewer always shows it canonical). */
  orientation: string;
  datatype: string;
  /** The case's sequences that exist on disk (the opened one first is not implied). */
  sequences: SequenceTab[];
  /** Which sequence the opened file is, or null when its name says nothing. */
  opened: SequenceTab | null;
  hasLabel: boolean;
  annotationFile: string;
  overlay: { opacity: number; colormap: Colormap };
  /** Storage dims of the file (dims[w] = sourceDims[axes[w].axis]). */
  sourceDims: Dims3;
  /** Canonical axis w is storage axis axes[w].axis, reversed when axes[w].flip. */
  axes: [GridAxis, GridAxis, GridAxis];
}
export interface GridAxis {
  axis: 0 | 1 | 2;
  flip: boolean;
}
/**
 * The case changed after init (a sequence assigned by hand, anyad.json edited): the same
 * fields as init's. Sibling volumes fetched before are stale and fetched again on use.
 */
export interface CaseMessage {
  type: 'case';
  sequences: SequenceTab[];
  opened: SequenceTab | null;
  hasLabel: boolean;
}
/**
 * A NIfTI file's bytes, as stored (.nii or .nii.gz): the opened file, a sibling sequence, the
 * case's label mask, or an overlay the user added. The webview decodes it.
 */
export interface FileMessage {
  type: 'file';
  layer: FileLayer;
  name: string;
  bytes: ArrayBuffer;
}
export const FILE_LAYERS = ['opened', ...SEQUENCES, 'mask', 'overlay'] as const;
export type FileLayer = (typeof FILE_LAYERS)[number];
/** The whole annotation, Uint8 bytes on the canonical grid (sent only when it is not blank). */
export interface LabelsMessage {
  type: 'labels';
  layer: 'annotation';
  data: ArrayBuffer;
}
/** New annotation labels for some voxels: indices as Uint32 bytes, values as Uint8 bytes. */
export interface AnnotationPatchMessage {
  type: 'annotationPatch';
  indices: ArrayBuffer;
  values: ArrayBuffer;
}
/**
 * An anomaly map on the voxel grid (Float32 bytes; NaN where it was not computed, e.g. all
 * other slices of a single-slice detection), with the image-level score and decision.
 */
export interface HeatmapMessage {
  type: 'heatmap';
  data: ArrayBuffer;
  threshold: number;
  score: number;
  decision: boolean;
  /** Axial slice it was computed for, or null for the whole volume. */
  slice: number | null;
  modalities: DetectChannel[];
  /** The model behind this result: the viewer shows `warning` (random-init encoder) beside it. */
  model: HeatmapModel;
}
export interface HeatmapModel {
  kind: EncoderKind;
  description: string;
  warning: string | null;
}
/** Per-axial-slice scores (Float32 bytes, one per slice, NaN = not scored) for the score strip. */
export interface SliceScoresMessage {
  type: 'sliceScores';
  scores: ArrayBuffer;
  threshold: number;
}
export interface ClearHeatmapMessage {
  type: 'clearHeatmap';
}
export interface NoticeMessage {
  type: 'notice';
  level: 'info' | 'warn' | 'error';
  text: string;
}
export interface ErrorMessage {
  type: 'error';
  title: string;
  detail: string;
}
export type HostToWebview =
  | InitMessage
  | CaseMessage
  | FileMessage
  | LabelsMessage
  | AnnotationPatchMessage
  | HeatmapMessage
  | SliceScoresMessage
  | ClearHeatmapMessage
  | NoticeMessage
  | ErrorMessage;

// ---- webview → host -------------------------------------------------------------

export interface ReadyMessage {
  type: 'ready';
}
export interface LogMessage {
  type: 'log';
  level: 'info' | 'warn' | 'error';
  message: string;
}
/** Asks for a sibling sequence's voxels (sent lazily when its tab is first opened). */
export interface RequestSequenceMessage {
  type: 'requestSequence';
  sequence: SequenceTab;
}
/** A brush or eraser stroke on one slice: points [a0, b0, a1, b1, …] in the plane's voxel coordinates (see planes.ts). */
export interface StrokeMessage {
  type: 'stroke';
  tool: 'brush' | 'eraser';
  plane: Plane;
  slice: number;
  points: number[];
  radius: number;
  value: number;
}
/** Fill the closed region around (a, b) on one slice with `value`. */
export interface FillMessage {
  type: 'fill';
  plane: Plane;
  slice: number;
  a: number;
  b: number;
  value: number;
}
/**
 * One drawing action made with NiiVue's tools (pen stroke, filled outline, erase, flood fill):
 * the canonical voxels it changed (Uint32 bytes, ascending) and their new labels (Uint8 bytes).
 * The host records it as one undoable edit.
 */
export interface DrawEditMessage {
  type: 'drawEdit';
  kind: 'brush' | 'eraser' | 'fill';
  indices: ArrayBuffer;
  values: ArrayBuffer;
}
/** Asks the host to pick another NIfTI of the subject and send it as an overlay layer. */
export interface AddOverlayMessage {
  type: 'addOverlay';
}
/** A VS Code command the viewer's toolbar asks for (the host owns the document). */
export interface CommandMessage {
  type: 'command';
  command: ViewerCommand;
}
/**
 * showModelCard / pretrainedWeights: the links of the random-init banner (the host opens the
 * documents); showLog opens the AnyAD output channel (it never opens by itself but on errors).
 */
export const VIEWER_COMMANDS = [
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
] as const;
export type ViewerCommand = (typeof VIEWER_COMMANDS)[number];
/** Where the viewer is and which sequences detection should use. */
export interface ViewStateMessage {
  type: 'viewState';
  cursor: Dims3;
  modalities: DetectChannel[];
}
export type WebviewToHost =
  | ReadyMessage
  | LogMessage
  | RequestSequenceMessage
  | StrokeMessage
  | FillMessage
  | DrawEditMessage
  | AddOverlayMessage
  | CommandMessage
  | ViewStateMessage;

export const LIMITS = {
  text: 4000,
  name: 1000,
  maxDim: 4096,
  strokePoints: 4096,
  maxRadius: 64,
  /** Largest file the host sends (its own limit, anyad.maxVolumeMegabytes, is lower by default). */
  fileBytes: 2 ** 31 - 1,
} as const;

// ---- validation helpers ---------------------------------------------------------

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function isText(x: unknown, max: number = LIMITS.text): x is string {
  return typeof x === 'string' && x.length <= max;
}
function isInt(x: unknown, lo: number, hi: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi;
}
function isTriple(x: unknown, check: (v: unknown) => boolean): x is Dims3 {
  return Array.isArray(x) && x.length === 3 && x.every(check);
}
/** ArrayBuffer test that also works across realms (an iframe's ArrayBuffer is not ours). */
function isAnyBuffer(x: unknown): x is ArrayBuffer {
  return Object.prototype.toString.call(x) === '[object ArrayBuffer]';
}
function isBuffer(x: unknown, byteLength: number): x is ArrayBuffer {
  return isAnyBuffer(x) && x.byteLength === byteLength;
}
function oneOf<T extends string>(x: unknown, options: readonly T[]): x is T {
  return typeof x === 'string' && (options as readonly string[]).includes(x);
}
function isSubset<T extends string>(x: unknown, options: readonly T[]): x is T[] {
  return (
    Array.isArray(x) && x.length > 0 && x.length <= options.length && x.every((v) => oneOf(v, options)) && new Set(x).size === x.length
  );
}
const voxels = (d: Dims3): number => d[0] * d[1] * d[2];

/** Checks the `keys` of `raw` are exactly the expected ones (no extra payload smuggled along). */
function hasOnlyKeys(raw: Record<string, unknown>, keys: string[]): boolean {
  const k = Object.keys(raw);
  return k.length === keys.length && k.every((x) => keys.includes(x));
}

/** init's grid fields: `axes` a permutation of the storage axes with flips, `sourceDims` consistent with `dims`. */
function parseGridAxes(
  axes: unknown,
  sourceDims: unknown,
  dims: Dims3,
): { axes: [GridAxis, GridAxis, GridAxis]; sourceDims: Dims3 } | null {
  if (!isTriple(sourceDims, (v) => isInt(v, 1, LIMITS.maxDim))) return null;
  if (!Array.isArray(axes) || axes.length !== 3) return null;
  const out: GridAxis[] = [];
  for (const a of axes) {
    if (!isObj(a) || !hasOnlyKeys(a, ['axis', 'flip']) || !isInt(a.axis, 0, 2) || typeof a.flip !== 'boolean') return null;
    out.push({ axis: a.axis as 0 | 1 | 2, flip: a.flip });
  }
  if (new Set(out.map((a) => a.axis)).size !== 3 || out.some((a, w) => sourceDims[a.axis] !== dims[w])) return null;
  return { axes: [out[0], out[1], out[2]], sourceDims: [sourceDims[0], sourceDims[1], sourceDims[2]] };
}

// ---- parsers --------------------------------------------------------------------

/** Validates a message from the webview against the opened volume's `dims`; null = drop it. */
export function parseWebviewMessage(raw: unknown, dims: Dims3 | null): WebviewToHost | null {
  if (!isObj(raw)) return null;
  switch (raw.type) {
    case 'ready':
      return hasOnlyKeys(raw, ['type']) ? { type: 'ready' } : null;
    case 'log':
      if (hasOnlyKeys(raw, ['type', 'level', 'message']) && oneOf(raw.level, ['info', 'warn', 'error'] as const) && isText(raw.message)) {
        return { type: 'log', level: raw.level, message: raw.message };
      }
      return null;
    case 'requestSequence':
      return hasOnlyKeys(raw, ['type', 'sequence']) && oneOf(raw.sequence, SEQUENCES)
        ? { type: 'requestSequence', sequence: raw.sequence }
        : null;
    case 'stroke': {
      if (!dims || !hasOnlyKeys(raw, ['type', 'tool', 'plane', 'slice', 'points', 'radius', 'value'])) return null;
      const { tool, plane, slice, points, radius, value } = raw;
      if (!oneOf(tool, ['brush', 'eraser'] as const) || !oneOf(plane, PLANES)) return null;
      const { slice: s, a, b } = PLANE_AXES[plane];
      if (!isInt(slice, 0, dims[s] - 1) || !isInt(radius, 0, LIMITS.maxRadius)) return null;
      if (!isInt(value, tool === 'eraser' ? 0 : 1, tool === 'eraser' ? 0 : 255)) return null;
      if (!Array.isArray(points) || points.length < 2 || points.length % 2 !== 0 || points.length > 2 * LIMITS.strokePoints) return null;
      for (let i = 0; i < points.length; i += 2) {
        if (!isInt(points[i], 0, dims[a] - 1) || !isInt(points[i + 1], 0, dims[b] - 1)) return null;
      }
      return { type: 'stroke', tool, plane, slice, points: points.slice() as number[], radius, value };
    }
    case 'fill': {
      if (!dims || !hasOnlyKeys(raw, ['type', 'plane', 'slice', 'a', 'b', 'value'])) return null;
      const { plane, slice, a, b, value } = raw;
      if (!oneOf(plane, PLANES)) return null;
      const { slice: s, a: ia, b: ib } = PLANE_AXES[plane];
      if (!isInt(slice, 0, dims[s] - 1) || !isInt(a, 0, dims[ia] - 1) || !isInt(b, 0, dims[ib] - 1) || !isInt(value, 0, 255)) return null;
      return { type: 'fill', plane, slice, a, b, value };
    }
    case 'drawEdit': {
      if (!dims || !hasOnlyKeys(raw, ['type', 'kind', 'indices', 'values'])) return null;
      const { kind, indices, values } = raw;
      const n = voxels(dims);
      // At most one entry per voxel: the cost of handling it is bounded by the volume's size.
      if (!oneOf(kind, ['brush', 'eraser', 'fill'] as const) || !isAnyBuffer(values) || values.byteLength === 0 || values.byteLength > n)
        return null;
      if (!isBuffer(indices, 4 * values.byteLength)) return null;
      const idx = new Uint32Array(indices.slice(0));
      for (let i = 0; i < idx.length; i++) if (idx[i] >= n || (i > 0 && idx[i] <= idx[i - 1])) return null;
      return { type: 'drawEdit', kind, indices: idx.buffer, values: values.slice(0) };
    }
    case 'addOverlay':
      return hasOnlyKeys(raw, ['type']) ? { type: 'addOverlay' } : null;
    case 'command':
      return hasOnlyKeys(raw, ['type', 'command']) && oneOf(raw.command, VIEWER_COMMANDS)
        ? { type: 'command', command: raw.command }
        : null;
    case 'viewState': {
      if (!dims || !hasOnlyKeys(raw, ['type', 'cursor', 'modalities'])) return null;
      const { cursor, modalities } = raw;
      if (!Array.isArray(cursor) || cursor.length !== 3 || !cursor.every((v, i) => isInt(v, 0, dims[i] - 1))) return null;
      if (!isSubset(modalities, CHANNELS)) return null;
      return { type: 'viewState', cursor: [cursor[0], cursor[1], cursor[2]], modalities: modalities.slice() };
    }
    default:
      return null;
  }
}

/**
 * Validates a message from the host. `dims` is the grid announced by the init message
 * (null before it): every buffer must match it exactly. Null = drop it.
 */
export function parseHostMessage(raw: unknown, dims: Dims3 | null): HostToWebview | null {
  if (!isObj(raw)) return null;
  switch (raw.type) {
    case 'init': {
      const { name, dims: d, spacing, orientation, datatype, sequences, opened, hasLabel, annotationFile, overlay, sourceDims, axes } = raw;
      if (!isText(name, LIMITS.name) || !isText(orientation, 8) || !isText(datatype, 16) || !isText(annotationFile, LIMITS.name))
        return null;
      if (!isTriple(d, (v) => isInt(v, 1, LIMITS.maxDim))) return null;
      if (!isTriple(spacing, (v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) return null;
      if (!(Array.isArray(sequences) && sequences.length === 0) && !isSubset(sequences, SEQUENCES)) return null;
      if (!(opened === null || oneOf(opened, SEQUENCES)) || typeof hasLabel !== 'boolean') return null;
      if (
        !isObj(overlay) ||
        typeof overlay.opacity !== 'number' ||
        !(overlay.opacity >= 0 && overlay.opacity <= 1) ||
        !oneOf(overlay.colormap, COLORMAPS)
      )
        return null;
      const grid = parseGridAxes(axes, sourceDims, d);
      if (!grid) return null;
      return {
        type: 'init',
        name,
        dims: [d[0], d[1], d[2]],
        spacing: [spacing[0], spacing[1], spacing[2]],
        orientation,
        datatype,
        sequences: (sequences as SequenceTab[]).slice(),
        opened,
        hasLabel,
        annotationFile,
        overlay: { opacity: overlay.opacity, colormap: overlay.colormap },
        ...grid,
      };
    }
    case 'case': {
      const { sequences, opened, hasLabel } = raw;
      if (!dims || !hasOnlyKeys(raw, ['type', 'sequences', 'opened', 'hasLabel'])) return null;
      if (!(Array.isArray(sequences) && sequences.length === 0) && !isSubset(sequences, SEQUENCES)) return null;
      if (!(opened === null || (oneOf(opened, SEQUENCES) && (sequences as string[]).includes(opened))) || typeof hasLabel !== 'boolean')
        return null;
      return { type: 'case', sequences: (sequences as SequenceTab[]).slice(), opened, hasLabel };
    }
    case 'file': {
      const { layer, name, bytes } = raw;
      if (
        !dims ||
        !hasOnlyKeys(raw, ['type', 'layer', 'name', 'bytes']) ||
        !oneOf(layer, FILE_LAYERS) ||
        !isText(name, LIMITS.name) ||
        name === ''
      )
        return null;
      if (!isAnyBuffer(bytes) || bytes.byteLength === 0 || bytes.byteLength > LIMITS.fileBytes) return null;
      return { type: 'file', layer, name, bytes };
    }
    case 'labels':
      if (!dims || raw.layer !== 'annotation' || !isBuffer(raw.data, voxels(dims))) return null;
      return { type: 'labels', layer: raw.layer, data: raw.data };
    case 'annotationPatch': {
      const { indices, values } = raw;
      if (!dims || !isAnyBuffer(values) || !isBuffer(indices, 4 * values.byteLength)) return null;
      const n = voxels(dims);
      const idx = new Uint32Array(indices);
      for (let i = 0; i < idx.length; i++) if (idx[i] >= n) return null;
      return { type: 'annotationPatch', indices, values };
    }
    case 'heatmap': {
      const { data, threshold, score, decision, slice, modalities, model } = raw;
      if (!dims || !isBuffer(data, 4 * voxels(dims))) return null;
      if (
        typeof threshold !== 'number' ||
        !Number.isFinite(threshold) ||
        typeof score !== 'number' ||
        !Number.isFinite(score) ||
        typeof decision !== 'boolean'
      )
        return null;
      if (!(slice === null || isInt(slice, 0, dims[2] - 1)) || !isSubset(modalities, CHANNELS)) return null;
      if (
        !isObj(model) ||
        !hasOnlyKeys(model, ['kind', 'description', 'warning']) ||
        !oneOf(model.kind, ENCODER_KINDS) ||
        !isText(model.description, LIMITS.name)
      )
        return null;
      // A random-init result must arrive with its warning: the banner is what makes it safe to show.
      const warning = model.warning;
      if (!(warning === null ? model.kind === 'pretrained' : isText(warning, LIMITS.name) && warning !== '')) return null;
      return {
        type: 'heatmap',
        data,
        threshold,
        score,
        decision,
        slice,
        modalities: modalities.slice(),
        model: { kind: model.kind, description: model.description, warning: warning as string | null },
      };
    }
    case 'sliceScores':
      if (!dims || !isBuffer(raw.scores, 4 * dims[2]) || typeof raw.threshold !== 'number' || !Number.isFinite(raw.threshold)) return null;
      return { type: 'sliceScores', scores: raw.scores, threshold: raw.threshold };
    case 'clearHeatmap':
      return hasOnlyKeys(raw, ['type']) ? { type: 'clearHeatmap' } : null;
    case 'notice':
      if (oneOf(raw.level, ['info', 'warn', 'error'] as const) && isText(raw.text))
        return { type: 'notice', level: raw.level, text: raw.text };
      return null;
    case 'error':
      if (isText(raw.title, 500) && isText(raw.detail)) return { type: 'error', title: raw.title, detail: raw.detail };
      return null;
    default:
      return null;
  }
}
