/**
 * `anyad scan`: whole-volume detection over every case of a folder (engine/service/scan.ts),
 * resumable, with progress and an ETA on stderr. --workers N runs N `anyad scan --shard i/N`
 * processes (onnxruntime runs on one thread per process) and then writes the summaries from
 * every case's record.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError } from '../../engine/errors';
import { releaseAllSessions } from '../../engine/graph/runtime';
import { scanCohort, type ScanProgress } from '../../engine/service/scan';
import { intOption, stringOption, type CommandSpec } from '../args';
import { INFERENCE_OPTIONS, inferenceOptions } from '../inferenceOptions';

/** How to start this CLI again (the bundle itself, or main.ts through tsx when run from source). */
function cliEntry(): string[] {
  return __filename.endsWith('.ts') ? ['--import', 'tsx', join(__dirname, '..', 'main.ts')] : [__filename];
}

function runWorker(args: string[], index: number, count: number, log: (l: string) => void): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...cliEntry(), 'scan', ...args, '--shard', `${index}/${count}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let partial = '';
    child.stderr.on('data', (c: Buffer) => {
      partial += c.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l) log(`[worker ${index + 1}/${count}] ${l}`);
    });
    const stop = () => child.kill('SIGTERM');
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    child.on('error', reject);
    child.on('exit', (code) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolvePromise(code ?? 130);
    });
  });
}

export const scanCommand: CommandSpec = {
  name: 'scan',
  summary: 'detect every case of a folder: 3-D maps on each source grid, per-case/per-slice CSV and a markdown summary (resumable)',
  usage:
    'anyad scan --root DIR --model DIR [--out DIR] [--modalities flair,t1,t2] [--workers N] [--config anyad.json] [--json] [--provider P] [--threads N]',
  options: {
    root: { type: 'string', description: 'folder with the studies' },
    model: INFERENCE_OPTIONS.model,
    out: { type: 'string', description: 'output folder (default ROOT/anyad-scan)' },
    modalities: INFERENCE_OPTIONS.modalities,
    workers: { type: 'string', description: 'processes scanning in parallel', default: '1' },
    config: { ...INFERENCE_OPTIONS.config, description: `${INFERENCE_OPTIONS.config.description} (default ROOT/anyad.json when present)` },
    json: { type: 'boolean', description: 'print the result as one JSON object' },
    provider: INFERENCE_OPTIONS.provider,
    threads: INFERENCE_OPTIONS.threads,
    batch: INFERENCE_OPTIONS.batch,
    shard: { type: 'string', description: "INDEX/COUNT: only this worker's share of the cases, no summary (used by --workers)" },
  },
  positionals: [0, 0],
  async run(opts, _positionals, io) {
    const root = stringOption(opts, 'root');
    const { model, config, modalities, provider, threads, batchSize } = inferenceOptions(opts);
    const out = typeof opts.out === 'string' ? opts.out : join(root, 'anyad-scan');
    const workers = intOption(opts, 'workers', 1, 64);
    let shard: { index: number; count: number } | undefined;
    if (typeof opts.shard === 'string') {
      const m = /^(\d+)\/(\d+)$/.exec(opts.shard);
      if (!m) throw new ConfigError('cli/bad-option', `--shard must be INDEX/COUNT, got '${opts.shard}'`);
      shard = { index: Number(m[1]), count: Number(m[2]) };
    }
    const log = (l: string) => io.stderr.write(`${l}\n`);
    if (workers > 1 && !shard) {
      const pass = [
        '--root',
        root,
        '--model',
        model,
        '--out',
        out,
        '--provider',
        provider,
        '--threads',
        String(threads),
        ...(modalities ? ['--modalities', modalities.join(',')] : []),
        ...(config !== undefined ? ['--config', config] : []),
        ...(batchSize ? ['--batch', String(batchSize)] : []),
      ];
      const codes = await Promise.all(Array.from({ length: workers }, (_, i) => runWorker(pass, i, workers, log)));
      if (codes.some((c) => c === 130)) return 130;
      // Every worker's cases now have records; this pass redoes any a worker failed and writes the summaries.
    }
    const onProgress = (p: ScanProgress) => log(p.message);
    try {
      const r = await scanCohort({
        root,
        model,
        out,
        config,
        modalities,
        provider,
        threads,
        batchSize,
        shard,
        log,
        onProgress,
      });
      if (opts.json) io.stdout.write(JSON.stringify(r) + '\n');
      else if (!shard)
        io.stdout.write(
          `${r.cases} cases: ${r.scanned} scanned, ${r.skipped} already done, ${r.failed} failed\nsummary: ${r.summary}\nper case: ${r.casesCsv}\nper slice: ${r.slicesCsv}\n`,
        );
      return r.failed > 0 ? 1 : 0;
    } finally {
      await releaseAllSessions();
    }
  },
};
