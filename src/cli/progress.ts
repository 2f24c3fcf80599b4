/**
 * Progress output of long CLI jobs: on a TTY one bar line rewritten in place (step, losses,
 * ETA), with messages printed above it; elsewhere (pipes, CI logs) plain lines, training steps
 * throttled to about one line per 5 % of the run so logs stay short; and the final metrics table.
 */
import { METRIC_ROWS, type MetricSet, buildResultsTables, formatCell } from '../engine/eval';
import type { PipelineProgress } from '../engine/train/pipeline';
import type { CliOutput } from './io';

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** "step 120/300 [#####.....] loss 0.4123 (rec 0.39 gat 0.10 aln 0.001) 14.2 samples/s ETA 12s" */
export function formatTrainLine(p: PipelineProgress, barWidth = 24): string {
  const total = p.totalSteps ?? 0;
  const step = p.step ?? 0;
  const frac = total > 0 ? Math.min(1, step / total) : 0;
  const filled = Math.round(frac * barWidth);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
  const f = (v: number | undefined, d = 4) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
  const parts = [`step ${step}/${total}`, bar, `loss ${f(p.loss)}`, `(rec ${f(p.recon, 3)} gat ${f(p.gather, 3)} aln ${f(p.align, 4)})`];
  if (p.samplesPerSec !== undefined) parts.push(`${p.samplesPerSec.toFixed(1)} samples/s`);
  if (p.etaSec !== undefined) parts.push(`ETA ${formatDuration(p.etaSec)}`);
  return parts.join(' ');
}

export interface ProgressPrinter {
  (p: PipelineProgress): void;
  /** Ends the bar line (call before printing anything else at the end). */
  done(): void;
}

export function progressPrinter(stream: CliOutput, tty = Boolean(stream.isTTY)): ProgressPrinter {
  let barShown = false;
  let lastPlainStep = -1;
  const clearBar = () => {
    if (barShown) {
      stream.write('\r\x1b[2K');
      barShown = false;
    }
  };
  const printer = ((p: PipelineProgress) => {
    if (p.phase === 'train') {
      if (tty) {
        const width = Math.max(40, (stream.columns ?? 100) - 1);
        stream.write(`\r\x1b[2K${formatTrainLine(p).slice(0, width)}`);
        barShown = true;
        return;
      }
      const total = p.totalSteps ?? 0;
      const every = Math.max(1, Math.round(total / 20));
      const step = p.step ?? 0;
      if (step === total || step - lastPlainStep >= every || lastPlainStep < 0) {
        lastPlainStep = step;
        stream.write(formatTrainLine(p) + '\n');
      }
      return;
    }
    clearBar();
    stream.write(`[${p.phase}] ${p.message}\n`);
  }) as ProgressPrinter;
  printer.done = clearBar;
  return printer;
}

/** The paper's table (rows metric, columns the 7 subsets + Mean, cells image/pixel) as aligned text. */
export function formatMetricsTable(perSubset: Record<string, MetricSet>): string {
  const t = buildResultsTables([{ name: 'AnyAD', perSubset }]);
  const table = t.tables[0];
  const header = ['', ...t.allColumns];
  const rows = METRIC_ROWS.map((r) => [r, ...t.allColumns.map((c) => formatCell(table.rows[r][c]))]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i].length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((v, i) => v.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
