/**
 * The paper's results table as data (rows AUROC, AP, F1, AUPRO; columns the modality subsets
 * + Mean; cells image/pixel), built once and rendered both to markdown and to report.json,
 * so the two always hold the same numbers.
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

export interface ResultsTables {
  columns: string[];
  /** Columns plus 'Mean' where shown. */
  allColumns: string[];
  tables: ModelTable[];
  /** Why cells are n/a. */
  notes: string[];
}

export const MEAN_COLUMN = 'Mean';

const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function cellOf(m: MetricSet | undefined, row: MetricRow): Cell {
  if (!m) return row === 'AUPRO' ? { pixel: null } : { image: null, pixel: null };
  switch (row) {
    case 'AUROC': return { image: finite(m.image.auroc), pixel: finite(m.pixel.auroc) };
    case 'AP': return { image: finite(m.image.ap), pixel: finite(m.pixel.ap) };
    case 'F1': return { image: finite(m.image.f1), pixel: finite(m.pixel.f1) };
    case 'AUPRO': return { pixel: finite(m.pixel.aupro) };
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
        r[MEAN_COLUMN] = row === 'AUPRO'
          ? { pixel: mean(cells.map((x) => x.pixel)) }
          : { image: mean(cells.map((x) => x.image)), pixel: mean(cells.map((x) => x.pixel)) };
      }
      rows[row] = r;
    }
    return { model: model.name, rows };
  });
  const hasMissingMean = showMean && tables.some((t) => METRIC_ROWS.some((row) => {
    const m = t.rows[row][MEAN_COLUMN];
    return m.pixel === null || m.image === null;
  }));
  if (hasMissingMean) notes.push('Mean is n/a where any subset of the row is n/a.');
  return { columns, allColumns: showMean ? [...columns, MEAN_COLUMN] : columns, tables, notes };
}

/** 4 decimals, or n/a: never NaN. */
export function formatValue(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : 'n/a';
}

/** "image/pixel", or just the pixel value for AUPRO. */
export function formatCell(cell: Cell): string {
  return 'image' in cell ? `${formatValue(cell.image)}/${formatValue(cell.pixel)}` : formatValue(cell.pixel);
}
