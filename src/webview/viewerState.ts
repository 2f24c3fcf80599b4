/**
 * The viewer's state logic, free of DOM and WebGL so it is unit-tested in Node: which
 * sequence tabs and Detect choices a case offers, subsets in canonical order, notices that
 * clear with their cause, the window/level read-out, the heatmap colour bar's ticks, the
 * label colour table (BraTS by default, editable, per-label visibility) as NiiVue wants it,
 * and per-label statistics. main.ts only wires these to NiiVue and the controls.
 */
import { DETECT_CHANNELS, type DetectChannel, type SequenceTab } from '../shared/webviewProtocol';
import { SEQUENCE_DISPLAY_ORDER, subsetDisplayName } from '../shared/vocabulary';

// ---- case: tabs and Detect choices -------------------------------------------------------

export interface CaseInfo {
  sequences: SequenceTab[];
  opened: SequenceTab | null;
  hasLabel: boolean;
}
export interface CaseView {
  /** Sequence tabs shown (canonical order), the opened file's own role among them. */
  tabs: SequenceTab[];
  /** The "File" tab stands for an opened file that is no known sequence. */
  fileTab: boolean;
  /** Detect checkboxes offered, all ticked at first. */
  detect: DetectChannel[];
  /** Why Detect is unavailable, or null. */
  detectNotice: string | null;
}

export function caseView(c: CaseInfo): CaseView {
  const detect = DETECT_CHANNELS.filter((ch) => c.sequences.includes(ch));
  return {
    tabs: SEQUENCE_DISPLAY_ORDER.filter((s) => c.sequences.includes(s)),
    fileTab: c.opened === null,
    detect,
    detectNotice:
      detect.length === 0
        ? 'This file is not a known FLAIR, T1 or T2: run "AnyAD: Assign sequence…" (editor title bar) or add a data.sequences pattern to anyad.json to detect on it.'
        : null,
  };
}

/** A subset written the one way everywhere: FLAIR+T1+T2 order, whatever order it was ticked in. */
export function subsetLabel(modalities: Iterable<DetectChannel>): string {
  return subsetDisplayName(modalities);
}

/** Toggling a Detect checkbox: the new subset, never empty (unticking the last one is refused). */
export function toggleModality(
  current: Iterable<DetectChannel>,
  channel: DetectChannel,
  on: boolean,
): { modalities: DetectChannel[]; refused: boolean } {
  const set = new Set(current);
  if (on) set.add(channel);
  else if (set.size > 1) set.delete(channel);
  else return { modalities: DETECT_CHANNELS.filter((c) => set.has(c)), refused: true };
  return { modalities: DETECT_CHANNELS.filter((c) => set.has(c)), refused: false };
}

// ---- notices -------------------------------------------------------------------------------

/**
 * Notices keyed by their cause, so each clears when its cause is gone (a sequence that
 * loaded, a case that changed, a result replaced) instead of lingering until overwritten.
 */
export class Notices {
  private readonly items = new Map<string, { level: 'info' | 'warn' | 'error'; text: string }>();
  set(key: string, text: string, level: 'info' | 'warn' | 'error' = 'warn'): void {
    if (text === '') this.items.delete(key);
    else {
      this.items.delete(key); // newest last
      this.items.set(key, { level, text });
    }
  }
  clear(key: string): void {
    this.items.delete(key);
  }
  /** Clears every key starting with `prefix` (e.g. all 'sequence:' notices when the case changes). */
  clearPrefix(prefix: string): void {
    for (const k of [...this.items.keys()]) if (k.startsWith(prefix)) this.items.delete(k);
  }
  get text(): string {
    return [...this.items.values()].map((n) => n.text).join(' · ');
  }
  get level(): 'info' | 'warn' | 'error' | null {
    const levels = [...this.items.values()].map((n) => n.level);
    return levels.includes('error') ? 'error' : levels.includes('warn') ? 'warn' : levels.length ? 'info' : null;
  }
}

// ---- numbers -------------------------------------------------------------------------------

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : String(Number(v.toPrecision(4)));
}

/** Finite minimum and maximum (NaN entries, e.g. unscored slices of a heatmap, are skipped). */
export function finiteRange(v: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (!(hi >= lo)) return [0, 1];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** The window/level read-out of the display range [lo, hi] actually in use. */
export function windowLevelText(lo: number, hi: number): string {
  return `W ${formatNumber(hi - lo)} L ${formatNumber((lo + hi) / 2)} (${formatNumber(lo)}–${formatNumber(hi)})`;
}

/** Ticks of the heatmap colour bar: its range and where the decision threshold sits on it (0..1, clamped). */
export function colourBarTicks(
  range: [number, number],
  threshold: number,
): { min: string; max: string; threshold: string; at: number; inside: boolean } {
  const [lo, hi] = range;
  const f = (threshold - lo) / (hi - lo);
  return {
    min: formatNumber(lo),
    max: formatNumber(hi),
    threshold: formatNumber(threshold),
    at: Math.min(1, Math.max(0, f)),
    inside: f >= 0 && f <= 1,
  };
}

// ---- label colour table --------------------------------------------------------------------

export interface LabelEntry {
  value: number;
  name: string;
  colour: [number, number, number];
  visible: boolean;
}

/** BraTS labels: 1 necrotic core, 2 oedema, 3 enhancing tumour (2023+), 4 enhancing tumour (2018–2021). */
export const BRATS_LABELS: readonly LabelEntry[] = [
  { value: 1, name: 'Necrotic tumour core (NCR)', colour: [255, 64, 64], visible: true },
  { value: 2, name: 'Peritumoral oedema (ED)', colour: [64, 200, 64], visible: true },
  { value: 3, name: 'Enhancing tumour (ET, BraTS 2023+)', colour: [64, 128, 255], visible: true },
  { value: 4, name: 'Enhancing tumour (ET, BraTS 2018–2021)', colour: [255, 200, 0], visible: true },
];

const SPARE_COLOURS: [number, number, number][] = [
  [200, 64, 255],
  [0, 220, 220],
  [255, 128, 0],
  [255, 105, 180],
];

/** The entry of label `value`: from the table, else a generated one ("Label 7"). */
export function labelEntry(table: readonly LabelEntry[], value: number): LabelEntry {
  return (
    table.find((e) => e.value === value) ?? {
      value,
      name: `Label ${value}`,
      colour: SPARE_COLOURS[(value - 1) % SPARE_COLOURS.length],
      visible: true,
    }
  );
}

/** Renames or recolours or hides a label: a new table, the entry added when it was not listed. */
export function editLabel(table: readonly LabelEntry[], value: number, change: Partial<Omit<LabelEntry, 'value'>>): LabelEntry[] {
  const entry = { ...labelEntry(table, value), ...change };
  const rest = table.filter((e) => e.value !== value);
  return [...rest, entry].sort((a, b) => a.value - b.value);
}

/**
 * The table as a NiiVue label colormap over first..255 (R, G, B, A, I, labels): 0 and hidden
 * labels transparent, labels not in the table in spare colours, so every painted value shows.
 */
export function niivueLabelColormap(
  table: readonly LabelEntry[],
  last = 255,
): { R: number[]; G: number[]; B: number[]; A: number[]; I: number[]; labels: string[] } {
  const cm = { R: [] as number[], G: [] as number[], B: [] as number[], A: [] as number[], I: [] as number[], labels: [] as string[] };
  // The drawing layer needs all 256 values; an image's table stops at its largest label.
  for (let v = 0; v <= last; v++) {
    const e = v === 0 ? { name: '', colour: [0, 0, 0], visible: false } : labelEntry(table, v);
    cm.R.push(e.colour[0]);
    cm.G.push(e.colour[1]);
    cm.B.push(e.colour[2]);
    cm.A.push(e.visible ? 255 : 0);
    cm.I.push(v);
    cm.labels.push(e.name);
  }
  return cm;
}

// ---- per-label statistics ------------------------------------------------------------------

export interface StatsImage {
  name: string;
  data: ArrayLike<number>;
  slope?: number;
  inter?: number;
}
export interface LabelStats {
  value: number;
  voxels: number;
  ml: number;
  means: Record<string, number>;
}

/**
 * Voxels, volume (ml) and mean intensity of every sequence per non-zero label. `labels` and
 * every image's data share one voxel order; intensities get the file's scaling (slope 0 or
 * absent = none, as NIfTI says).
 */
export function labelStatistics(labels: ArrayLike<number>, images: readonly StatsImage[], voxelMm3: number): LabelStats[] {
  const counts = new Map<number, number>();
  const sums = images.map(() => new Map<number, number>());
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === 0) continue;
    counts.set(v, (counts.get(v) ?? 0) + 1);
    for (let k = 0; k < images.length; k++) sums[k].set(v, (sums[k].get(v) ?? 0) + images[k].data[i]);
  }
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([value, voxels]) => {
      const means: Record<string, number> = {};
      images.forEach((img, k) => {
        const slope = img.slope && Number.isFinite(img.slope) ? img.slope : 1;
        const inter = img.slope && Number.isFinite(img.inter ?? 0) ? (img.inter ?? 0) : 0;
        means[img.name] = ((sums[k].get(value) ?? 0) / voxels) * slope + inter;
      });
      return { value, voxels, ml: (voxels * voxelMm3) / 1000, means };
    });
}

/** One row of the statistics table: a label's cells, or a source with no labels at all. */
export type StatsRow = { source: string; testid: string; cells: string[] } | { source: string; empty: true };

/**
 * The statistics table: a header (layer, label, voxels, ml, then the mean of each image) and
 * per source (annotation, mask) one row per label — or one "empty" row — named for the tests
 * as stats-<source>-<label>.
 */
export function statisticsTable(
  sources: readonly [name: string, labels: ArrayLike<number>][],
  images: readonly StatsImage[],
  voxelMm3: number,
  table: readonly LabelEntry[],
): { header: string[]; rows: StatsRow[] } {
  const header = ['Layer', 'Label', 'Voxels', 'ml', ...images.map((i) => `Mean ${i.name}`)];
  const rows: StatsRow[] = [];
  for (const [source, labels] of sources) {
    const stats = labelStatistics(labels, images, voxelMm3);
    if (stats.length === 0) rows.push({ source, empty: true });
    for (const r of stats)
      rows.push({
        source,
        testid: `stats-${source.toLowerCase()}-${r.value}`,
        cells: [
          source,
          `${r.value} ${labelEntry(table, r.value).name}`,
          String(r.voxels),
          r.ml.toFixed(3),
          ...images.map((i) => formatNumber(r.means[i.name])),
        ],
      });
  }
  return { header, rows };
}

/** The label table's rows: the table itself, plus the pen's label when the table does not list it. */
export function labelTableRows(table: readonly LabelEntry[], penValue: number): LabelEntry[] {
  return table.some((e) => e.value === penValue) ? [...table] : [...table, labelEntry(table, penValue)];
}
