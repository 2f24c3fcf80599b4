/**
 * `anyad demo`: the README's main job on the embedded default — a synthetic phantom cohort,
 * then the paper's slice dataset built from it. Later stages (train → detect → report) join
 * here as they land.
 */
import { join, resolve } from 'node:path';
import { loadWorkspaceConfig } from '../../engine/config';
import { writePhantomCohort } from '../../engine/phantom';
import { buildSliceDataset, discoverStudy, formatDatasetSummary } from '../../engine/study';
import { intOption, stringOption, type CommandSpec } from '../args';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'run the main job on built-in synthetic data: phantoms → slice dataset summary',
  usage: 'anyad demo --out DIR [--cases N] [--seed S]',
  options: {
    out: { type: 'string', description: 'working folder (phantoms are written to DIR/phantoms)' },
    cases: { type: 'string', description: 'number of phantom cases', default: '12' },
    seed: { type: 'string', description: 'random seed', default: '1' },
  },
  positionals: [0, 0],
  async run(opts) {
    const out = resolve(stringOption(opts, 'out'));
    const cases = intOption(opts, 'cases', 2, 9999);
    const seed = intOption(opts, 'seed', 0, 0xffffffff);
    const phantoms = join(out, 'phantoms');
    const t0 = Date.now();
    const cohort = await writePhantomCohort(phantoms, { cases, seed });
    process.stdout.write(`1/2 phantoms: ${cases} cases of ${cohort.size.join('×')} voxels (${cohort.cases.filter((c) => c.anomalous).length} with lesions) in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${phantoms}\n`);
    // The cohort writes its own anyad.json (default slice rule); the dataset is built from it.
    const config = loadWorkspaceConfig(join(phantoms, 'anyad.json'));
    const { cases: found, warnings } = discoverStudy(config.data.root, config);
    const ds = buildSliceDataset(found, config);
    process.stdout.write(`2/2 slice dataset:\n${formatDatasetSummary(ds.summary, config.data.root)}\n`);
    for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
    return 0;
  },
};
