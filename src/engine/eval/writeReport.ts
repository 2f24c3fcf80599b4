/**
 * Writes a metrics report into a folder: report.md (the paper's table layout, per model a
 * table of 95 % case-bootstrap intervals with the counts they rest on, data summary, encoder
 * provenance, timing, config), report.json (the same numbers, machine-readable) and
 * SVG figures next to them (ROC and PR curves per subset, per-subset bar chart), all written
 * atomically. The markdown is written last, so a report that exists is complete.
 */
import { join } from 'node:path';
import { EvalError, required } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import { buildResultsTables, formatValue, METRIC_ROWS, type ResultsTables } from './reportTables';
import { renderMarkdown, type Figure } from './reportMarkdown';
import type { ReportInput, WrittenReport } from './reportTypes';
import { barChartSvg, lineChartSvg, type LineSeries } from './svgCharts';

export const REPORT_MARKDOWN = 'report.md';
export const REPORT_JSON = 'report.json';
export const REPORT_SCHEMA = 'anyad.report/1';

function validate(input: ReportInput): void {
  const bad = (msg: string): never => {
    throw new EvalError('eval/bad-report', `report '${input.title}': ${msg}`);
  };
  if (!input.title || !input.title.trim()) bad('the title is empty');
  if (!input.models.length) bad('no model results');
  if (new Set(input.models.map((m) => m.name)).size !== input.models.length) bad('two models have the same name');
  if (input.kind === 'cross-domain' && !(input.trainedOn && input.testedOn)) bad('a cross-domain report needs trainedOn and testedOn');
  if (input.kind === 'zero-shot' && !input.unseenSequence) bad('a zero-shot report needs unseenSequence');
  const curvesModel = input.curves?.model;
  if (curvesModel && !input.models.some((m) => m.name === curvesModel)) bad(`curves name model '${curvesModel}', which has no results`);
}

/** The run's kind, for figure titles. */
function kindSuffix(input: ReportInput): string {
  if (input.kind === 'cross-domain') return ` (cross-domain: ${input.trainedOn} → ${input.testedOn})`;
  if (input.kind === 'zero-shot') return ` (zero-shot: ${input.unseenSequence})`;
  return '';
}

interface SvgFile {
  file: string;
  caption: string;
  svg: string;
}

function tablesOfModel(tables: ResultsTables, model: string): ResultsTables['tables'][number] | undefined {
  return tables.tables.find((t) => t.model === model);
}

function figures(input: ReportInput, tables: ResultsTables): SvgFile[] {
  const out: SvgFile[] = [];
  const modelName = input.curves?.model ?? input.models[0].name;
  const table = required(tablesOfModel(tables, modelName), `the table of model '${modelName}'`);
  const suffix = kindSuffix(input);
  const curves = input.curves?.perSubset ?? {};
  for (const level of ['image', 'pixel'] as const) {
    for (const kind of ['roc', 'pr'] as const) {
      const metric = kind === 'roc' ? 'AUROC' : 'AP';
      const series: LineSeries[] = [];
      for (const c of tables.columns) {
        const curve = curves[c]?.[level]?.[kind];
        if (!curve || curve.x.length < 2) continue;
        series.push({ label: `${c}  ${metric} ${formatValue(table.rows[metric][c][level])}`, curve });
      }
      if (!series.length) continue;
      const name = kind === 'roc' ? 'ROC' : 'Precision–recall';
      const title = `${name}, ${level} level — ${modelName}${suffix}`;
      out.push({
        file: `${kind}-${level}.svg`,
        caption: `${name} curves, ${level} level`,
        svg: lineChartSvg(
          kind === 'roc'
            ? { title, xLabel: 'False positive rate', yLabel: 'True positive rate', series, diagonal: true }
            : { title, xLabel: 'Recall', yLabel: 'Precision', series },
        ),
      });
    }
  }
  const seriesLabels = METRIC_ROWS.flatMap((r) => (r === 'AUPRO' ? ['AUPRO'] : [`${r} image`, `${r} pixel`]));
  out.push({
    file: 'bars.svg',
    caption: `Metrics per modality subset — ${modelName}`,
    svg: barChartSvg({
      title: `Metrics per modality subset — ${modelName}${suffix}`,
      yLabel: 'Value',
      seriesLabels,
      groups: tables.allColumns.map((c) => ({
        label: c,
        values: METRIC_ROWS.flatMap((r) => {
          const cell = table.rows[r][c];
          return r === 'AUPRO' ? [cell.pixel] : [cell.image ?? null, cell.pixel];
        }),
      })),
    }),
  });
  if (tables.tables.length > 1) {
    out.push({
      file: 'models-auroc.svg',
      caption: 'Image-level AUROC per modality subset, all models',
      svg: barChartSvg({
        title: `Image-level AUROC per modality subset${suffix}`,
        yLabel: 'AUROC (image)',
        seriesLabels: tables.tables.map((t) => t.model),
        groups: tables.allColumns.map((c) => ({ label: c, values: tables.tables.map((t) => t.rows.AUROC[c].image ?? null) })),
      }),
    });
  }
  return out;
}

/** JSON with every non-finite number written as null (JSON has no NaN; we never print one). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

export function writeReport(outDir: string, input: ReportInput): WrittenReport {
  validate(input);
  const tables = buildResultsTables(input.models, input.columns);
  const generatedAt = input.generatedAt ?? new Date().toISOString();
  const svgs = figures(input, tables);
  const files: string[] = [];
  for (const f of svgs) {
    const path = join(outDir, f.file);
    writeFileAtomic(path, f.svg);
    files.push(path);
  }
  const figureList: Figure[] = svgs.map(({ file, caption }) => ({ file, caption }));
  const jsonPath = join(outDir, REPORT_JSON);
  writeFileAtomic(
    jsonPath,
    toJson({
      schema: REPORT_SCHEMA,
      title: input.title,
      kind: input.kind,
      trainedOn: input.trainedOn,
      testedOn: input.testedOn,
      unseenSequence: input.unseenSequence,
      generatedAt,
      columns: tables.allColumns,
      results: tables.tables,
      intervals: tables.intervals,
      counts: tables.counts,
      bootstrap: input.bootstrap,
      naNotes: tables.notes,
      dataSummary: input.dataSummary,
      encoder: input.encoder,
      timingSeconds: input.timing,
      config: input.config ?? null,
      notes: input.notes ?? [],
      figures: figureList,
    }),
  );
  files.push(jsonPath);
  const markdownPath = join(outDir, REPORT_MARKDOWN);
  writeFileAtomic(markdownPath, renderMarkdown({ ...input, generatedAt }, tables, figureList, REPORT_JSON));
  files.push(markdownPath);
  return { markdownPath, jsonPath, files };
}
