/**
 * The paper's results table as data (rows AUROC, AP, F1, AUPRO; columns the modality subsets
 * + Mean; cells image/pixel), built once and rendered both to markdown and to report.json,
 * so the two always hold the same numbers. Next to it, per model, the interval table: rows
 * the subsets with the counts they rest on, columns image/pixel AUROC and AP with their 95 %
 * case-bootstrap intervals (MetricSet.ci, MetricSet.counts).
 */
import { MODALITY_SUBSETS } from '../study/modalities';
import type { ModelResult } from './reportTypes';
import type { MetricSet } from './types';

export const METRIC_ROWS = ['AUROC', 'AP', 'F1', 'AUPRO'] as const;
export type MetricRow = (typeof METRIC_ROWS)[number];

/** A table cell; `image` is absent for the pixel-only AUPRO row. null = n/a. */
export interface Cell {
  image?: number | null;
  pixel: number | null;
}

export interface ModelTable {
  model: string;
  /** rows[row][column], with a 'Mean' column when the table has more than one column. */
  rows: Record<MetricRow, Record<string, Cell>>;
}

/** A value with its 95 % interval; null = n/a. */
export interface IntervalCell {
  value: number | null;
  ci: [number, number] | null;
}

export interface SubsetCounts {
  cases: number;
  slices: number;
  normal: number;
  anomalous: number;
}

export const INTERVAL_COLUMNS = ['image AUROC', 'image AP', 'pixel AUROC', 'pixel AP'] as const;
export type IntervalColumn = (typeof INTERVAL_COLUMNS)[number];

/** One model's interval table: a row per subset (the results table's columns, no Mean). */
export interface ModelIntervalTable {
  model: string;
  rows: Array<{ subset: string; counts: SubsetCounts | null } & Record<IntervalColumn, IntervalCell>>;
}

export interface ResultsTables {
  columns: string[];
  /** Columns plus 'Mean' where shown. */
  allColumns: string[];
  tables: ModelTable[];
  /** Per model with intervals or counts in any subset, in model order. */
  intervals: ModelIntervalTable[];
  /** The distinct counts the numbers rest on, with where each holds (model and subsets). */
  counts: Array<{ counts: SubsetCounts; models: string[]; subsets: string[] }>;
  /** Why cells are n/a. */
  notes: string[];
}

export const MEAN_COLUMN = 'Mean';

const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function cellOf(m: MetricSet | undefined, row: MetricRow): Cell {
  if (!m) return row === 'AUPRO' ? { pixel: null } : { image: null, pixel: null };
  switch (row) {
    case 'AUROC':
      return { image: finite(m.image.auroc), pixel: finite(m.pixel.auroc) };
    case 'AP':
      return { image: finite(m.image.ap), pixel: finite(m.pixel.ap) };
    case 'F1':
      return { image: finite(m.image.f1), pixel: finite(m.pixel.f1) };
    case 'AUPRO':
      return { pixel: finite(m.pixel.aupro) };
  }
}

/** Mean of a column set's values, or null when any is missing (a partial mean would mislead). */
function mean(values: Array<number | null | undefined>): number | null {
  if (values.length === 0 || values.some((v) => v === null || v === undefined)) return null;
  return (values as number[]).reduce((a, b) => a + b, 0) / values.length;
}

/** Default columns: the 7 subsets in paper order where present, then other labels as they come. */
export function defaultColumns(models: ModelResult[]): string[] {
  const present = new Set(models.flatMap((m) => Object.keys(m.perSubset)));
  const canonical = MODALITY_SUBSETS.map((s) => s.label).filter((l) => present.has(l));
  return [...canonical, ...[...present].filter((l) => !canonical.includes(l))];
}

export function buildResultsTables(models: ModelResult[], columns = defaultColumns(models)): ResultsTables {
  const showMean = columns.length > 1;
  const notes: string[] = [];
  const tables = models.map((model): ModelTable => {
    for (const c of columns) {
      const m = model.perSubset[c];
      if (!m) notes.push(`${model.name}, ${c}: no result`);
      else for (const note of m.notes ?? []) notes.push(`${model.name}, ${c}: ${note}`);
    }
    const rows = {} as Record<MetricRow, Record<string, Cell>>;
    for (const row of METRIC_ROWS) {
      const r: Record<string, Cell> = {};
      for (const c of columns) r[c] = cellOf(model.perSubset[c], row);
      if (showMean) {
        const cells = columns.map((c) => r[c]);
        r[MEAN_COLUMN] =
          row === 'AUPRO'
            ? { pixel: mean(cells.map((x) => x.pixel)) }
            : { image: mean(cells.map((x) => x.image)), pixel: mean(cells.map((x) => x.pixel)) };
      }
      rows[row] = r;
    }
    return { model: model.name, rows };
  });
  const hasMissingMean =
    showMean &&
    tables.some((t) =>
      METRIC_ROWS.some((row) => {
        const m = t.rows[row][MEAN_COLUMN];
        return m.pixel === null || m.image === null;
      }),
    );
  if (hasMissingMean) notes.push('Mean is n/a where any subset of the row is n/a.');
  return {
    columns,
    allColumns: showMean ? [...columns, MEAN_COLUMN] : columns,
    tables,
    intervals: intervalTables(models, columns),
    counts: distinctCounts(models, columns),
    notes,
  };
}

function intervalTables(models: ModelResult[], columns: string[]): ModelIntervalTable[] {
  const out: ModelIntervalTable[] = [];
  for (const model of models) {
    if (!columns.some((c) => model.perSubset[c]?.ci || model.perSubset[c]?.counts)) continue;
    out.push({
      model: model.name,
      rows: columns.map((subset) => {
        const m = model.perSubset[subset];
        const cell = (level: 'image' | 'pixel', metric: 'auroc' | 'ap'): IntervalCell => ({
          value: finite(m?.[level][metric]),
          ci: validInterval(m?.ci?.[level][metric]),
        });
        return {
          subset,
          counts: m?.counts ? { ...m.counts } : null,
          'image AUROC': cell('image', 'auroc'),
          'image AP': cell('image', 'ap'),
          'pixel AUROC': cell('pixel', 'auroc'),
          'pixel AP': cell('pixel', 'ap'),
        };
      }),
    });
  }
  return out;
}

function validInterval(ci: [number, number] | null | undefined): [number, number] | null {
  return ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? [ci[0], ci[1]] : null;
}

function distinctCounts(models: ModelResult[], columns: string[]): ResultsTables['counts'] {
  const out: ResultsTables['counts'] = [];
  for (const model of models) {
    for (const subset of columns) {
      const c = model.perSubset[subset]?.counts;
      if (!c) continue;
      let entry = out.find(
        (e) =>
          e.counts.cases === c.cases && e.counts.slices === c.slices && e.counts.normal === c.normal && e.counts.anomalous === c.anomalous,
      );
      if (!entry)
        out.push(
          (entry = { counts: { cases: c.cases, slices: c.slices, normal: c.normal, anomalous: c.anomalous }, models: [], subsets: [] }),
        );
      if (!entry.models.includes(model.name)) entry.models.push(model.name);
      if (!entry.subsets.includes(subset)) entry.subsets.push(subset);
    }
  }
  return out;
}

/** 4 decimals, or n/a: never NaN. */
export function formatValue(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : 'n/a';
}

/** "0.912 [0.871, 0.948]" (3 decimals), the value alone without an interval, or n/a. */
export function formatInterval(cell: IntervalCell): string {
  if (cell.value === null) return 'n/a';
  return cell.ci ? `${cell.value.toFixed(3)} [${cell.ci[0].toFixed(3)}, ${cell.ci[1].toFixed(3)}]` : cell.value.toFixed(3);
}

/** "15 cases, 134 slices (61 normal, 73 anomalous)". */
export function formatCounts(c: SubsetCounts): string {
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  return `${plural(c.cases, 'case')}, ${plural(c.slices, 'slice')} (${c.normal} normal, ${c.anomalous} anomalous)`;
}

/** "image/pixel", or just the pixel value for AUPRO. */
export function formatCell(cell: Cell): string {
  return 'image' in cell ? `${formatValue(cell.image)}/${formatValue(cell.pixel)}` : formatValue(cell.pixel);
}
