/** `anyad train`: the workspace training job (engine/train/pipeline.ts) with a progress bar. */
import { resolve } from 'node:path';
import { loadWorkspaceConfig, MAX_TRAIN_STEPS, type WorkspaceConfig } from '../../engine/config';
import { isAnyadError } from '../../engine/errors';
import { releaseAllSessions } from '../../engine/graph/runtime';
import { runTraining } from '../../engine/train/pipeline';
import { intOption, providerOption, stringOption, type CommandSpec, type OptionValues } from '../args';
import { completedRun } from '../completedRun';
import { formatDuration, formatMetricsTable, progressPrinter } from '../progress';
import type { DownloadProgress } from '../../engine/hub/download';
import { downloadPrinter, formatDownloadLine } from '../downloadProgress';
import { loadBundle } from '../../engine/model/bundle';
import { modelProvenance } from '../../shared/detectJson';

/** --steps / --provider / --threads override the config's train section. */
/** The run-time options train and eval both take over anyad.json's train section (read by withTrainOverrides). */
export const TRAIN_OVERRIDE_OPTIONS = {
  provider: { type: 'string', description: 'override train.provider' },
  threads: { type: 'string', description: 'override train.threads' },
} as const;

export function withTrainOverrides(config: WorkspaceConfig, opts: OptionValues): WorkspaceConfig {
  const train = { ...config.train };
  if (opts.steps !== undefined) train.steps = intOption(opts, 'steps', 1, MAX_TRAIN_STEPS);
  if (opts.threads !== undefined) train.threads = intOption(opts, 'threads', 0, 1024);
  if (opts.provider !== undefined) train.provider = providerOption(opts);
  return { ...config, train };
}

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'train AnyAD on the workspace (anyad.json) and write the model bundle and a metrics report',
  usage: 'anyad train --config anyad.json [--steps N] [--provider auto|cpu|cuda|webgpu] [--threads N] [--allow-download]',
  options: {
    config: { type: 'string', description: 'workspace config', default: 'anyad.json' },
    steps: { type: 'string', description: 'override train.steps' },
    ...TRAIN_OVERRIDE_OPTIONS,
    'progress-json': {
      type: 'boolean',
      description:
        'machine-readable output: one JSON object per line on stdout ({type: "progress"|"log"|"result", …}); used by the VS Code extension',
    },
    'allow-download': {
      type: 'boolean',
      description:
        'consent to download the model.encoder weights from the Hugging Face hub when they are not cached (else: anyad weights get NAME first)',
    },
  },
  positionals: [0, 0],
  async run(opts, _positionals, io) {
    const config = withTrainOverrides(loadWorkspaceConfig(resolve(stringOption(opts, 'config'))), opts);
    const json = opts['progress-json'] === true;
    const emit = (o: object) => io.stdout.write(`${JSON.stringify(o)}\n`);
    const progress = json ? Object.assign((p: object) => emit({ type: 'progress', ...p }), { done() {} }) : progressPrinter(io.stderr);
    const abort = new AbortController();
    // SIGINT (Ctrl-C) and SIGTERM (the extension's Cancel) both stop at a checkpoint.
    const onSignal = () => {
      progress.done();
      io.stderr.write('interrupt: saving a checkpoint (run again to resume)\n');
      abort.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const onLog = json
        ? (m: string) => emit({ type: 'log', message: m })
        : (m: string) => {
            progress.done();
            io.stderr.write(`${m}\n`);
          };
      const downloads = json
        ? (p: DownloadProgress) => emit({ type: 'progress', phase: 'encoder', message: formatDownloadLine(p), download: p })
        : downloadPrinter(io.stderr);
      const hub = { allowDownload: opts['allow-download'] === true, onProgress: downloads };
      const r = await runTraining(config, { onProgress: progress, onLog, signal: abort.signal, hub }).catch((e: unknown) => {
        // Cancelled before training started (e.g. while reading large encoder weights): nothing to resume, exit 130 all the same.
        if (abort.signal.aborted && isAnyadError(e) && e.code.endsWith('/cancelled')) return undefined;
        throw e;
      });
      if (!r) {
        progress.done();
        if (json)
          emit({
            type: 'result',
            completed: false,
            step: 0,
            bestStep: null,
            bundleDir: null,
            reportPath: null,
            encoderDescription: null,
            encoder: null,
            warning: null,
          });
        else io.stdout.write('cancelled before training started\n');
        return 130;
      }
      progress.done();
      if (json) {
        // A written model carries its provenance as detect's results do (null when cancelled: no model).
        const provenance = r.bundleDir
          ? modelProvenance(loadBundle(r.bundleDir, { verify: false }).manifest)
          : { encoder: null, warning: null };
        emit({
          type: 'result',
          completed: r.completed,
          step: r.step,
          bestStep: r.bestStep ?? null,
          bundleDir: r.bundleDir ?? null,
          reportPath: r.reportPath ?? null,
          encoderDescription: r.encoder,
          ...provenance,
        });
        return r.completed ? 0 : 130;
      }
      if (!r.completed) {
        io.stdout.write(`cancelled at step ${r.step}; run the same command again to resume\n`);
        return 130;
      }
      const run = completedRun(r);
      io.stdout.write(`test split, scored once (image/pixel):\n${formatMetricsTable(run.metrics)}\n`);
      io.stdout.write(`intensity baseline (non-learned), same slices:\n${formatMetricsTable(run.baseline)}\n`);
      io.stdout.write(`step ${run.bestStep} of ${r.step} selected on the validation split; ${formatDuration(r.timingSec.total)} in all\n`);
      io.stdout.write(`model:  ${run.bundleDir}\nreport: ${run.reportPath}\n`);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      await releaseAllSessions();
    }
  },
};
