/**
 * `anyad demo`: the README's main job on built-in synthetic data, end to end:
 *   1. a phantom cohort (BraTS layout) in DIR/phantoms;
 *   2. the slice dataset and a workspace config DIR/anyad.json (preset 'tiny-cpu', RANDOM-INIT
 *      encoder, batch 16; `anyad train --config DIR/anyad.json` reruns it);
 *   3. training with evaluation on the test split, model bundle + report;
 *   4. `anyad eval` of the written bundle (its model.onnx) → a second report.
 * Sized to finish in a few minutes on a 2-core CPU.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseWorkspaceConfig } from '../../engine/config';
import { releaseAllSessions } from '../../engine/graph/runtime';
import { phantomSliceRange, writePhantomCohort } from '../../engine/phantom';
import { workspaceDataset } from '../../engine/study';
import { runEvaluation, runTraining } from '../../engine/train/pipeline';
import { writeFileAtomic } from '../../engine/util/atomic';
import { intOption, providerOption, stringOption, type CommandSpec } from '../args';
import { completedRun } from '../completedRun';
import { formatDuration, formatMetricsTable, progressPrinter } from '../progress';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'run the main job on built-in synthetic data: phantoms → train (tiny, random-init encoder) → eval → report',
  usage: 'anyad demo --out DIR [--cases N] [--seed S] [--steps N] [--provider auto|cpu|cuda|webgpu]',
  options: {
    out: { type: 'string', description: 'working folder (phantoms in DIR/phantoms, results in DIR/anyad-out)' },
    cases: { type: 'string', description: 'number of phantom cases', default: '12' },
    seed: { type: 'string', description: 'random seed', default: '1' },
    steps: { type: 'string', description: 'training steps (batch 16)', default: '200' },
    provider: { type: 'string', description: 'execution provider', default: 'cpu' },
  },
  positionals: [0, 0],
  async run(opts, _positionals, io) {
    const out = resolve(stringOption(opts, 'out'));
    const cases = intOption(opts, 'cases', 4, 9999);
    const seed = intOption(opts, 'seed', 0, 0xffffffff);
    const steps = intOption(opts, 'steps', 1, 1_000_000);
    const provider = providerOption(opts);
    const say = (s: string) => io.stdout.write(`${s}\n`);
    const tStart = Date.now();

    const phantoms = join(out, 'phantoms');
    let t0 = Date.now();
    const cohort = await writePhantomCohort(phantoms, { cases, seed });
    say(
      `1/4 phantoms: ${cases} cases of ${cohort.size.join('×')} voxels (${cohort.cases.filter((c) => c.anomalous).length} with lesions) in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${phantoms}`,
    );

    // The demo's workspace config, written so the run can be repeated with `anyad train`.
    const configJson = {
      data: { root: 'phantoms', slices: { axis: 'axial', ...phantomSliceRange(cohort.size[2]) }, split: { trainFraction: 0.75, seed } },
      model: { preset: 'tiny-cpu', randomEncoderSeed: seed },
      output: { dir: 'anyad-out' },
      train: { steps, batchSize: 16, seed, evalEvery: Math.max(1, Math.ceil(steps / 2)), provider },
    };
    const configPath = join(out, 'anyad.json');
    writeFileAtomic(configPath, JSON.stringify(configJson, null, 2) + '\n');
    const config = parseWorkspaceConfig(configJson, configPath);
    const { warnings, text } = workspaceDataset(config);
    say(`2/4 slice dataset (config ${configPath}):\n${text}`);
    for (const w of warnings) say(`warning: ${w}`);

    // A fresh run each time: the demo's own checkpoints would otherwise be resumed.
    rmSync(join(config.output.dir, 'checkpoints'), { recursive: true, force: true });
    const progress = progressPrinter(io.stderr);
    const onLog = (m: string) => {
      progress.done();
      io.stderr.write(`${m}\n`);
    };
    try {
      t0 = Date.now();
      say(
        `3/4 training: preset tiny-cpu, RANDOM-INIT encoder, ${steps} steps of batch 16, evaluation every ${config.train.evalEvery} steps`,
      );
      const trained = await runTraining(config, { onProgress: progress, onLog });
      progress.done();
      if (!trained.completed) return 130;
      const run = completedRun(trained);
      say(
        `    ${((Date.now() - t0) / 1000).toFixed(1)} s; step ${run.bestStep} of ${trained.step} selected on the validation split; test metrics (image/pixel), scored once:`,
      );
      say(formatMetricsTable(run.metrics).replace(/^/gm, '    '));
      say('    intensity baseline (non-learned) on the same test slices:');
      say(formatMetricsTable(run.baseline).replace(/^/gm, '    '));
      say(`    model:  ${run.bundleDir}\n    report: ${run.reportPath}`);

      t0 = Date.now();
      const evaluated = await runEvaluation(config, run.bundleDir, { onProgress: progress, onLog });
      progress.done();
      say(
        `4/4 eval of the bundle's model.onnx on the test split: mean image AP ${evaluated.meanImageAP.toFixed(4)} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n    report: ${evaluated.reportPath}`,
      );
      say(
        `done in ${formatDuration((Date.now() - tStart) / 1000)}. The encoder is RANDOM-INIT: these numbers show the pipeline works, not what AnyAD achieves with DINOv2 weights.`,
      );
      say(`Report: ${run.reportPath}`);
      return 0;
    } finally {
      await releaseAllSessions();
    }
  },
};
