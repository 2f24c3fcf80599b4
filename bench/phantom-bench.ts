/**
 * Benchmark: time to write a full-size phantom cohort (default 20 cases of 240×240×155).
 *   node --import tsx bench/phantom-bench.ts [--cases 20] [--workers K] [--size 240x240x155] [--keep DIR]
 * Prints wall time, per-case time and bytes written; deletes the cohort unless --keep.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePhantomCohort } from '../src/engine/phantom';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function bytesUnder(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? bytesUnder(p) : statSync(p).size;
  }
  return total;
}

async function main(): Promise<void> {
  const cases = Number(arg('cases') ?? 20);
  const workers = arg('workers') === undefined ? undefined : Number(arg('workers'));
  const size = (arg('size') ?? '240x240x155').split('x').map(Number) as [number, number, number];
  const keep = arg('keep');
  const out = keep ?? mkdtempSync(join(tmpdir(), 'anyad-phantom-bench-'));
  const t0 = performance.now();
  const s = await writePhantomCohort(out, { cases, seed: 1, size, workers });
  const seconds = (performance.now() - t0) / 1000;
  const bytes = bytesUnder(out);
  console.log(
    JSON.stringify({
      cases,
      size: size.join('x'),
      workers: s.workers,
      cpus: availableParallelism(),
      node: process.version,
      seconds: +seconds.toFixed(2),
      secondsPerCase: +(seconds / cases).toFixed(3),
      megabytes: +(bytes / 1e6).toFixed(1),
      anomalousCases: s.cases.filter((c) => c.anomalous).length,
    }),
  );
  if (!keep) rmSync(out, { recursive: true, force: true });
}

void main();
