/** Renders a report's markdown from its input, its tables and its figure files. */
import { formatCell, formatCounts, formatInterval, INTERVAL_COLUMNS, type ResultsTables, METRIC_ROWS } from './reportTables';
import type { EncoderProvenance, ReportInput } from './reportTypes';

export interface Figure {
  file: string;
  caption: string;
}

/** A table cell's text: pipes escaped, newlines flattened. */
function cellText(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A code fence longer than any backtick run inside the text. */
function fenced(lang: string, text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return 'n/a';
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m - h * 60).padStart(2, '0')} min`;
}

/** The loud line shown at the top when the encoder is not a pretrained one. */
export function encoderWarning(e: EncoderProvenance): string | null {
  if (e.kind !== 'random-init') return null;
  return (
    `> ⚠️ **WARNING — RANDOM-INIT ENCODER.** This run used a seeded random-init encoder (${e.name}, seed ${e.seed}), ` +
    "not pretrained DINOv2 weights. These numbers only show that the pipeline runs; they say nothing about AnyAD's detection quality."
  );
}

function encoderLine(e: EncoderProvenance): string {
  if (e.kind === 'random-init') return `**Seeded random-init encoder** (${e.name}, seed ${e.seed}) — NOT pretrained.`;
  const parts = [`${e.name}`];
  if (e.file) parts.push(`weights \`${e.file}\``);
  if (e.sha256) parts.push(`sha256 \`${e.sha256}\``);
  return parts.join(', ');
}

/** One line that says what kind of evaluation this is. */
export function kindLine(input: ReportInput): string {
  switch (input.kind) {
    case 'cross-domain':
      return `**Cross-domain evaluation** — trained on **${input.trainedOn}**, tested on **${input.testedOn}** (a domain not seen in training).`;
    case 'zero-shot':
      return `**Zero-shot evaluation** — input sequence **${input.unseenSequence}** was never seen in training.`;
    case 'standard':
      return '**Standard evaluation** — trained and tested on the same dataset (test split).';
  }
}

function resultsTable(t: ResultsTables): string[] {
  const multi = t.tables.length > 1;
  const header = ['Metric', ...(multi ? ['Model'] : []), ...t.allColumns];
  const lines = [`| ${header.map(cellText).join(' | ')} |`, `|${header.map((_, i) => (i < (multi ? 2 : 1) ? ':---' : '---:')).join('|')}|`];
  for (const row of METRIC_ROWS) {
    t.tables.forEach((table, k) => {
      const first = k === 0 ? row : '';
      const cells = t.allColumns.map((c) => formatCell(table.rows[row][c]));
      lines.push(`| ${[first, ...(multi ? [cellText(table.model)] : []), ...cells].join(' | ')} |`);
    });
  }
  return lines;
}

/** The header line that says what the numbers rest on (the scored slices, from MetricSet.counts). */
export function countsLine(t: ResultsTables): string | null {
  if (!t.counts.length) return null;
  if (t.counts.length === 1) return `**Sample size:** every number below rests on ${formatCounts(t.counts[0].counts)}.`;
  const parts = t.counts.map((e) => `${formatCounts(e.counts)} (${e.models.join(', ')}: ${e.subsets.join(', ')})`);
  return `**Sample size:** the numbers rest on ${parts.join('; ')}.`;
}

function intervalSection(input: ReportInput, t: ResultsTables): string[] {
  if (!t.intervals.length) return [];
  const b = input.bootstrap;
  const out = [
    '### 95 % confidence intervals',
    '',
    `Value [2.5th, 97.5th percentile] over ${b ? `${b.samples} bootstrap resamples (seed ${b.seed})` : 'bootstrap resamples'} of the test **cases** ` +
      '(a case is drawn with all its slices); pixel-level intervals come from rank-binned pixel counts, shifted so they sit at the exact estimate. ' +
      'n = cases / slices (normal/anomalous) scored for that subset.',
    '',
  ];
  for (const table of t.intervals) {
    out.push(`**${cellText(table.model)}**`, '');
    const header = ['Subset', 'n', ...INTERVAL_COLUMNS.map((c) => c.replace(/^(\w)/, (m) => m.toUpperCase()))];
    out.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? ':---' : '---:')).join('|')}|`);
    for (const row of table.rows) {
      const n = row.counts ? `${row.counts.cases} / ${row.counts.slices} (${row.counts.normal}/${row.counts.anomalous})` : 'n/a';
      out.push(`| ${[cellText(row.subset), n, ...INTERVAL_COLUMNS.map((c) => formatInterval(row[c]))].join(' | ')} |`);
    }
    out.push('');
  }
  return out;
}

export function renderMarkdown(input: ReportInput, tables: ResultsTables, figures: Figure[], jsonFile: string): string {
  const out: string[] = [`# ${input.title.replace(/\r?\n/g, ' ')}`, '', kindLine(input), ''];
  const warning = encoderWarning(input.encoder);
  if (warning) out.push(warning, '');
  out.push(
    `Generated ${input.generatedAt ?? new Date().toISOString()} by AnyAD for VS Code. Machine-readable twin: [${jsonFile}](${jsonFile}).`,
    '',
  );
  const counts = countsLine(tables);
  if (counts) out.push(counts, '');
  if (tables.tables.length > 1) out.push(`Models, in table order: ${tables.tables.map((t) => `**${cellText(t.model)}**`).join(', ')}.`, '');

  out.push('## Results', '');
  out.push(
    'Cells are **image-level/pixel-level**; AUPRO is pixel-level only. F = FLAIR. ' +
      'AP is step-wise average precision, F1 is the best F1 over all thresholds, AUPRO integrates PRO over FPR ∈ [0, 0.3] (÷ 0.3).',
    '',
  );
  out.push(...resultsTable(tables), '');
  if (tables.notes.length) {
    out.push('n/a values:', '', ...tables.notes.map((n) => `- ${n}`), '');
  }
  out.push(...intervalSection(input, tables));

  if (figures.length) {
    out.push('## Curves and charts', '');
    for (const f of figures) out.push(`![${f.caption}](${f.file})`, '');
  }

  out.push('## Data', '');
  const d = input.dataSummary;
  if (d.dataset) out.push(`Dataset: ${d.dataset}`, '');
  if (d.sliceRule) out.push(`Slices: ${d.sliceRule}`, '');
  out.push('| Split | Cases | Slices | Normal | Anomalous |', '|:---|---:|---:|---:|---:|');
  for (const s of d.splits) out.push(`| ${cellText(s.name)} | ${s.cases} | ${s.slices} | ${s.normal} | ${s.anomalous} |`);
  out.push('');

  out.push('## Encoder', '', encoderLine(input.encoder), '');

  out.push('## Timing', '', '| Phase | Time |', '|:---|---:|');
  for (const [phase, s] of Object.entries(input.timing)) out.push(`| ${cellText(phase)} | ${formatSeconds(s)} |`);
  out.push('');

  if (input.notes?.length) out.push('## Notes', '', ...input.notes.map((n) => `- ${n.replace(/\r?\n/g, ' ')}`), '');

  out.push('## Configuration', '', fenced('json', JSON.stringify(input.config ?? null, null, 2)), '');
  return out.join('\n');
}
