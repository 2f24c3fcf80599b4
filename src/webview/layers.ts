/**
 * Which images the viewer shows and how, free of DOM and NiiVue so it is unit-tested in
 * Node: the sequence a tab stands for, NiiVue's layer order with each layer's colormap and
 * opacity, which arriving files wait (decoded when idle) or are decoded at once, and what a
 * changed case keeps and fetches again. main.ts applies the answers to NiiVue.
 */
import type { FileLayer, SequenceTab } from '../shared/webviewProtocol';

/** An image slot of the viewer: a case sequence, or the opened file itself. */
export type SeqKey = SequenceTab | 'opened';

/** Which image a sequence tab shows: the opened file stands for its own sequence. */
export function tabKey(s: SeqKey, opened: SequenceTab | null | undefined): SeqKey {
  return s === opened ? 'opened' : s;
}

/** The sequence name a slot is shown under (the opened file: its own sequence, else "file"). */
export function seqName(key: SeqKey, opened: SequenceTab | null | undefined): string {
  return key === 'opened' ? (opened ?? 'file') : key;
}

// ---- layer stack ---------------------------------------------------------------------------

/** What is loaded, by role; `I` is the image type (NiiVue's NVImage in the viewer). */
export interface LayerSources<I> {
  images: ReadonlyMap<SeqKey, I>;
  background: SeqKey;
  blend: SeqKey | null;
  mask: I | null;
  heatmap: I | null;
  overlays: readonly { image: I; label: boolean }[];
}

/** The layer controls as read from the page: opacities 0..1; colormap '' = the default. */
export interface LayerControls {
  blendOpacity: number;
  maskShown: boolean;
  maskOpacity: number;
  heatmapShown: boolean;
  heatmapOpacity: number;
  heatmapColormap: string;
  /** Per added overlay, its controls (undefined until they exist: shown, 60 %, 'warm'). */
  overlays: readonly ({ visible?: boolean; opacityPercent?: string; colormap?: string } | undefined)[];
}

/** One NiiVue layer: its image, colormap (null: keep its label colour table) and opacity. */
export interface StyledLayer<I> {
  image: I;
  colormap: string | null;
  opacity: number;
}

export const DEFAULT_HEATMAP_COLORMAP = 'hot';
export const DEFAULT_OVERLAY_COLORMAP = 'warm';
export const DEFAULT_OVERLAY_OPACITY_PERCENT = 60;

/**
 * NiiVue's layers bottom to top — background, blended sequence, label mask, heatmap, added
 * overlays — with each one's colormap and opacity; a hidden layer stays in the list at
 * opacity 0 (removing it would cost a GL refresh). Null while the background is not loaded.
 */
export function layerStack<I>(s: LayerSources<I>, c: LayerControls): StyledLayer<I>[] | null {
  const bg = s.images.get(s.background);
  if (bg === undefined) return null;
  const layers: StyledLayer<I>[] = [{ image: bg, colormap: 'gray', opacity: 1 }];
  const blend = s.blend !== null && s.blend !== s.background ? s.images.get(s.blend) : undefined;
  if (blend !== undefined) layers.push({ image: blend, colormap: 'gray', opacity: c.blendOpacity });
  if (s.mask !== null) layers.push({ image: s.mask, colormap: null, opacity: c.maskShown ? c.maskOpacity : 0 });
  if (s.heatmap !== null)
    layers.push({
      image: s.heatmap,
      colormap: c.heatmapColormap || DEFAULT_HEATMAP_COLORMAP,
      opacity: c.heatmapShown ? c.heatmapOpacity : 0,
    });
  s.overlays.forEach((o, i) => {
    const ctl = c.overlays[i];
    const opacity = Number(ctl?.opacityPercent ?? String(DEFAULT_OVERLAY_OPACITY_PERCENT)) / 100;
    layers.push({
      image: o.image,
      colormap: o.label ? null : ctl?.colormap || DEFAULT_OVERLAY_COLORMAP,
      opacity: ctl?.visible !== false ? opacity : 0,
    });
  });
  return layers;
}

/** True when NiiVue's volume list already is `wanted`, in order (no GL refresh needed). */
export function sameLayers<I>(current: readonly I[], wanted: readonly I[]): boolean {
  return current.length === wanted.length && wanted.every((v, i) => current[i] === v);
}

// ---- files arriving -------------------------------------------------------------------------

/** The slots on screen now: a sequence arriving for one of them is decoded at once. */
export interface Shown {
  background: SeqKey;
  blend: SeqKey | null;
  side: SeqKey | null;
}

/**
 * What to do with a file from the host: a sibling sequence nobody shows yet waits as bytes
 * (decoded when the page is idle) unless it was asked for; the opened file, the label mask
 * and added overlays are always decoded.
 */
export function fileDisposition(layer: FileLayer, shown: Shown, wanted: boolean): 'decode' | 'wait' {
  if (wanted || layer === 'opened' || layer === 'mask' || layer === 'overlay') return 'decode';
  return layer === shown.background || layer === shown.blend || layer === shown.side ? 'decode' : 'wait';
}

/**
 * Whether a decoded image can be placed: every layer but an added overlay must have the
 * opened volume's voxel count (`gridVoxels`; null while the opened file is not placed).
 */
export function fitsGrid(layer: FileLayer, voxels: number, gridVoxels: number | null): boolean {
  return gridVoxels !== null && (layer === 'overlay' || voxels === gridVoxels);
}

/** A newly decoded sequence needs a GL refresh only when it is the background or blended in. */
export function refreshesLayers(layer: SeqKey, shown: Pick<Shown, 'background' | 'blend'>): boolean {
  return layer === shown.background || layer === shown.blend;
}

// ---- a changed case ------------------------------------------------------------------------

export interface CaseChange {
  background: SeqKey;
  blend: SeqKey | null;
  /** The side-by-side sequence no longer exists: close that pane. */
  closeSide: boolean;
  /** Sequences to fetch again (the file behind a sequence may have changed), in this order. */
  request: SequenceTab[];
}

/**
 * The case of the opened file changed (sequences assigned or files added): slots whose
 * sequence is gone fall back (background to the opened file, blend and side pane off); the
 * others are fetched again, side first, then blend, then background.
 */
export function caseChange(shown: Shown, sequences: readonly SequenceTab[]): CaseChange {
  const gone = (k: SeqKey | null): boolean => k !== null && k !== 'opened' && !sequences.includes(k);
  const background = gone(shown.background) ? 'opened' : shown.background;
  const blend = gone(shown.blend) ? null : shown.blend;
  const closeSide = gone(shown.side);
  const request: SequenceTab[] = [];
  for (const k of [closeSide ? null : shown.side, blend, background]) if (k !== null && k !== 'opened') request.push(k);
  return { background, blend, closeSide, request };
}
