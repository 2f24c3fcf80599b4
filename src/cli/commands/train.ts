/** `anyad train`: the workspace training job (engine/train/pipeline.ts) with a progress bar. */
import { resolve } from 'node:path';
import { loadWorkspaceConfig, PROVIDER_CHOICES, type WorkspaceConfig } from '../../engine/config';
import { ConfigError } from '../../engine/errors';
import { releaseAllSessions } from '../../engine/graph/runtime';
import { runTraining } from '../../engine/train/pipeline';
import { intOption, stringOption, type CommandSpec } from '../args';
import { formatDuration, formatMetricsTable, progressPrinter } from '../progress';

/** --steps / --provider / --threads override the config's train section. */
export function withTrainOverrides(config: WorkspaceConfig, opts: Record<string, string | boolean | undefined>): WorkspaceConfig {
  const train = { ...config.train };
  if (opts.steps !== undefined) train.steps = intOption(opts, 'steps', 1);
  if (opts.threads !== undefined) train.threads = intOption(opts, 'threads', 0, 1024);
  if (opts.provider !== undefined) {
    const p = String(opts.provider);
    if (!(PROVIDER_CHOICES as readonly string[]).includes(p)) throw new ConfigError('cli/bad-option', `--provider must be one of ${PROVIDER_CHOICES.join(', ')}, got '${p}'`);
    train.provider = p as WorkspaceConfig['train']['provider'];
  }
  return { ...config, train };
}

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'train AnyAD on the workspace (anyad.json) and write the model bundle and a metrics report',
  usage: 'anyad train --config anyad.json [--steps N] [--provider auto|cpu|cuda|webgpu] [--threads N]',
  options: {
    config: { type: 'string', description: 'workspace config', default: 'anyad.json' },
    steps: { type: 'string', description: 'override train.steps' },
    provider: { type: 'string', description: 'override train.provider' },
    threads: { type: 'string', description: 'override train.threads' },
  },
  positionals: [0, 0],
  async run(opts) {
    const config = withTrainOverrides(loadWorkspaceConfig(resolve(stringOption(opts, 'config'))), opts);
    const progress = progressPrinter();
    const abort = new AbortController();
    const onSigint = () => { progress.done(); process.stderr.write('interrupt: saving a checkpoint (run again to resume)\n'); abort.abort(); };
    process.once('SIGINT', onSigint);
    try {
      const r = await runTraining(config, { onProgress: progress, onLog: (m) => { progress.done(); process.stderr.write(`${m}\n`); }, signal: abort.signal });
      progress.done();
      if (!r.completed) {
        process.stdout.write(`cancelled at step ${r.step}; run the same command again to resume\n`);
        return 130;
      }
      process.stdout.write(`${formatMetricsTable(r.metrics!)}\n`);
      process.stdout.write(`best step ${r.bestStep} of ${r.step}; ${formatDuration(r.timingSec.total)} in all\n`);
      process.stdout.write(`model:  ${r.bundleDir}\nreport: ${r.reportPath}\n`);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
      await releaseAllSessions();
    }
  },
};
