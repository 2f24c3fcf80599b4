/**
 * Download progress on stderr: on a TTY one line rewritten in place (bytes, bar, rate, ETA);
 * elsewhere a line per 10 % of each file, so logs stay short.
 */
import { type DownloadProgress, formatBytes } from '../engine/hub/download';
import type { CliOutput } from './io';
import { formatDuration } from './progress';

/** "model.safetensors  12.0 MB / 88.0 MB [######..................] 4.1 MB/s ETA 18s" */
export function formatDownloadLine(p: DownloadProgress, barWidth = 24): string {
  const frac = p.total > 0 ? Math.min(1, p.bytes / p.total) : 1;
  const filled = Math.round(frac * barWidth);
  const parts = [`${p.file}  ${formatBytes(p.bytes)} / ${formatBytes(p.total)}`, `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`];
  if (p.bytesPerSec > 0) parts.push(`${formatBytes(Math.round(p.bytesPerSec))}/s`);
  if (p.done) parts.push('done');
  else if (p.etaSec !== undefined) parts.push(`ETA ${formatDuration(p.etaSec)}`);
  if (p.resumedFrom > 0) parts.push(`(resumed at ${formatBytes(p.resumedFrom)})`);
  return parts.join(' ');
}

export interface DownloadPrinter {
  (p: DownloadProgress): void;
  /** Ends the in-place line (call before printing anything else). */
  done(): void;
}

export function downloadPrinter(stream: CliOutput, tty = Boolean(stream.isTTY)): DownloadPrinter {
  let shown = false;
  const lastTenth = new Map<string, number>();
  const printer = ((p: DownloadProgress) => {
    if (tty) {
      stream.write(`\r\x1b[2K${formatDownloadLine(p).slice(0, Math.max(40, (stream.columns ?? 100) - 1))}`);
      shown = true;
      if (p.done) {
        stream.write('\n');
        shown = false;
      }
      return;
    }
    const tenth = p.total > 0 ? Math.floor((10 * p.bytes) / p.total) : 10;
    if (p.done || (tenth < 10 && tenth > (lastTenth.get(p.file) ?? -1))) {
      lastTenth.set(p.file, tenth);
      stream.write(`${formatDownloadLine(p)}\n`);
    }
  }) as DownloadPrinter;
  printer.done = () => {
    if (shown) {
      stream.write('\n');
      shown = false;
    }
  };
  return printer;
}
