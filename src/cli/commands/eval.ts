/** `anyad eval`: evaluate a trained model bundle on the workspace's test split (all 7 subsets) → report. */
import { resolve } from 'node:path';
import { loadWorkspaceConfig } from '../../engine/config';
import { releaseAllSessions } from '../../engine/graph/runtime';
import { loadBundle } from '../../engine/model/bundle';
import { runEvaluation } from '../../engine/train/pipeline';
import { stringOption, type CommandSpec } from '../args';
import { formatDuration, formatMetricsTable, progressPrinter } from '../progress';
import { TRAIN_OVERRIDE_OPTIONS, withTrainOverrides } from './train';

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'evaluate a trained model (bundle folder) on the workspace test split and write a report',
  usage: 'anyad eval --config anyad.json --model DIR [--out DIR] [--provider auto|cpu|cuda|webgpu] [--threads N]',
  options: {
    config: { type: 'string', description: 'workspace config (data and split)', default: 'anyad.json' },
    model: { type: 'string', description: 'model bundle folder (model.onnx + anyad.json), as `anyad train` writes' },
    out: { type: 'string', description: 'report folder (default: MODEL/eval-<time>)' },
    ...TRAIN_OVERRIDE_OPTIONS,
  },
  positionals: [0, 0],
  async run(opts, _positionals, io) {
    const config = withTrainOverrides(loadWorkspaceConfig(resolve(stringOption(opts, 'config'))), opts);
    const progress = progressPrinter(io.stderr);
    try {
      const model = resolve(stringOption(opts, 'model'));
      const r = await runEvaluation(config, model, {
        outDir: typeof opts.out === 'string' ? resolve(opts.out) : undefined,
        onProgress: progress,
        onLog: (m) => {
          progress.done();
          io.stderr.write(`${m}\n`);
        },
      });
      progress.done();
      // The metrics of a random-init model say nothing about AnyAD: say so beside them, as detect does.
      const warning = loadBundle(model, { verify: false }).manifest.warning;
      io.stdout.write(
        `${warning ? `warning: ${warning}\n` : ''}test split (image/pixel):\n${formatMetricsTable(r.metrics)}\nintensity baseline (non-learned), same slices:\n${formatMetricsTable(r.baseline)}\n${formatDuration(r.seconds)} in all\nreport: ${r.reportPath}\n`,
      );
      return 0;
    } finally {
      await releaseAllSessions();
    }
  },
};
