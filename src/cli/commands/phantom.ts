/** `anyad phantom`: write a synthetic multi-sequence brain cohort in BraTS 2018 layout. */
import { ConfigError } from '../../engine/errors';
import { DEFAULT_ANOMALOUS_FRACTION, DEFAULT_PHANTOM_SIZE, writePhantomCohort } from '../../engine/phantom';
import { intOption, stringOption, type CommandSpec } from '../args';

function parseSize(raw: string): [number, number, number] {
  const parts = raw
    .toLowerCase()
    .split('x')
    .map((p) => Number(p));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p)))
    throw new ConfigError('cli/bad-option', `--size must look like 240x240x155, got '${raw}'`);
  return [parts[0], parts[1], parts[2]];
}

export const phantomCommand: CommandSpec = {
  name: 'phantom',
  summary: 'write synthetic FLAIR/T1/T1ce/T2 brain phantoms with lesion labels (BraTS layout)',
  usage: 'anyad phantom --out DIR --cases N --seed S [--size 240x240x155] [--anomalous-fraction F] [--workers K] [--json]',
  options: {
    out: { type: 'string', description: 'output folder (one sub-folder per case)' },
    cases: { type: 'string', description: 'number of cases', default: '20' },
    seed: { type: 'string', description: 'random seed (same seed, same files)', default: '0' },
    size: { type: 'string', description: 'grid size in 1 mm voxels', default: DEFAULT_PHANTOM_SIZE.join('x') },
    'anomalous-fraction': { type: 'string', description: 'fraction of cases with lesions', default: String(DEFAULT_ANOMALOUS_FRACTION) },
    workers: { type: 'string', description: 'worker threads (0: none; default one per CPU core)' },
    json: { type: 'boolean', description: 'print the cohort summary as JSON' },
  },
  positionals: [0, 0],
  async run(opts, _positionals, io) {
    const out = stringOption(opts, 'out');
    const cases = intOption(opts, 'cases', 1, 9999);
    const seed = intOption(opts, 'seed', 0, 0xffffffff);
    const size = parseSize(String(opts.size));
    const fraction = Number(opts['anomalous-fraction']);
    if (!(fraction >= 0 && fraction <= 1))
      throw new ConfigError(
        'cli/bad-option',
        `--anomalous-fraction must be a number in [0, 1], got '${String(opts['anomalous-fraction'])}'`,
      );
    const workers = opts.workers === undefined ? undefined : intOption(opts, 'workers', 0, 256);
    const t0 = Date.now();
    const summary = await writePhantomCohort(out, {
      cases,
      seed,
      size,
      anomalousFraction: fraction,
      workers,
      onCase: opts.json
        ? undefined
        : (c, done, total) =>
            io.stderr.write(
              `  [${done}/${total}] ${c.id}${c.anomalous ? ` (${c.lesions.length} lesion${c.lesions.length === 1 ? '' : 's'})` : ''}\n`,
            ),
    });
    const seconds = (Date.now() - t0) / 1000;
    if (opts.json) {
      io.stdout.write(JSON.stringify({ ...summary, seconds }) + '\n');
      return 0;
    }
    const anomalous = summary.cases.filter((c) => c.anomalous).length;
    io.stdout.write(
      [
        `Wrote ${cases} phantom case${cases === 1 ? '' : 's'} (${anomalous} with lesions) of ${size.join('×')} voxels to ${summary.outDir}`,
        `  in ${seconds.toFixed(1)} s on ${summary.workers === 0 ? 'the main thread' : `${summary.workers} worker thread${summary.workers === 1 ? '' : 's'}`}`,
        `  manifest: phantom.json${summary.configWritten ? '; workspace config: anyad.json' : ' (existing anyad.json kept)'}`,
        `Next: anyad dataset --root ${out}`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};
