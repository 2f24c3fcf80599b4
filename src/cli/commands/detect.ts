/** `anyad detect`: anomaly score, decision and map of one slice or a whole volume with a model bundle. */
import { ConfigError } from '../../engine/errors';
import { releaseAllSessions } from '../../engine/graph/runtime';
import { writeOnSourceGrid } from '../../engine/nifti';
import { caseOfSpec, detectCase } from '../../engine/service/detectCase';
import { CHANNELS, type ChannelName, roleLabel } from '../../shared/vocabulary';
import { intOption, type CommandSpec } from '../args';
import { INFERENCE_OPTIONS, inferenceOptions } from '../inferenceOptions';

function decision(anomalous: boolean | null): string {
  return anomalous === null ? 'no threshold' : anomalous ? 'ANOMALOUS' : 'normal';
}

export const detectCommand: CommandSpec = {
  name: 'detect',
  summary: 'score a slice (or every slice) of a case with a trained model and write the anomaly map',
  usage:
    'anyad detect --model DIR (--case PATH | --flair FILE | --t1 FILE | --t2 FILE)... [--config anyad.json] [--slice Z | --all] [--modalities flair,t1,t2] [--out map.nii.gz] [--json] [--progress] [--batch N] [--provider auto|cpu|cuda|webgpu]',
  options: {
    model: INFERENCE_OPTIONS.model,
    case: { type: 'string', description: 'a sequence file of the case, or the case folder' },
    ...Object.fromEntries(
      CHANNELS.map((s) => [s, { type: 'string' as const, description: `the ${roleLabel(s)} file (wins over what --case finds)` }]),
    ),
    config: INFERENCE_OPTIONS.config,
    slice: { type: 'string', description: 'axial slice index (default: the middle slice)' },
    all: { type: 'boolean', description: 'score every axial slice (3-D map)' },
    modalities: INFERENCE_OPTIONS.modalities,
    out: { type: 'string', description: "write the anomaly map as float32 NIfTI on the case file's own grid (.nii or .nii.gz)" },
    json: { type: 'boolean', description: 'print one JSON object' },
    provider: INFERENCE_OPTIONS.provider,
    threads: INFERENCE_OPTIONS.threads,
    batch: { ...INFERENCE_OPTIONS.batch, description: `with --all: ${INFERENCE_OPTIONS.batch.description}` },
    progress: { type: 'boolean', description: 'print "slice N/TOTAL" per slice and the load/detect timings on stderr' },
  },
  positionals: [0, 0],
  async run(opts, _positionals, io) {
    const { model, config, modalities, provider, threads, batchSize } = inferenceOptions(opts);
    if (opts.all && opts.slice !== undefined) throw new ConfigError('cli/bad-option', 'give --slice or --all, not both');
    const files: Partial<Record<ChannelName, string>> = {};
    for (const s of CHANNELS) {
      const file = opts[s];
      if (typeof file === 'string') files[s] = file;
    }
    const kase = caseOfSpec({
      path: typeof opts.case === 'string' ? opts.case : undefined,
      files,
      config,
    });
    const casePath = typeof opts.case === 'string' ? opts.case : kase.dir;
    const out = typeof opts.out === 'string' ? opts.out : undefined;
    if (out !== undefined && !/\.nii(\.gz)?$/i.test(out))
      throw new ConfigError('cli/bad-option', `--out must end in .nii or .nii.gz, got '${out}'`);
    const slice = opts.all ? ('all' as const) : opts.slice === undefined ? undefined : intOption(opts, 'slice', 0);
    // --progress: one stderr line per slice of a volume, with the engine's own timings at the end.
    const onProgress = opts.progress ? (done: number, total: number) => io.stderr.write(`slice ${done}/${total}\n`) : undefined;
    try {
      // The same engine function the extension's engine process calls (there with warm caches).
      const {
        bundle,
        result: r,
        json,
        timings,
        batch,
      } = await detectCase({
        model,
        case: kase,
        caseLabel: casePath,
        modalities,
        slice,
        provider,
        threads,
        onProgress,
        batchSize,
      });
      const warn = bundle.manifest.warning ? `warning: ${bundle.manifest.warning}\n` : '';
      if (opts.progress)
        io.stderr.write(`timings: load ${timings.loadMs.toFixed(0)} ms, detect ${timings.detectMs.toFixed(0)} ms (batch ${batch})\n`);
      if ('slices' in r) {
        if (out)
          writeOnSourceGrid(out, r.source, r.map.data, { datatype: 'float32', description: `AnyAD anomaly map (${r.subset.label})` });
        if (opts.json) {
          io.stdout.write(JSON.stringify({ ...json, out: out ?? null }) + '\n');
          return 0;
        }
        const flagged = r.slices.filter((s) => s.anomalous).map((s) => s.z);
        const lines = r.slices.map((s) => `  z=${String(s.z).padStart(3)}  ${s.score.toFixed(4)}${s.anomalous ? '  *' : ''}`);
        io.stdout.write(
          `${warn}${casePath} (${r.subset.label}, ${r.provider}), threshold ${r.slices[0]?.threshold?.toFixed(4) ?? 'none'}; * = anomalous\n${lines.join('\n')}\n` +
            `${flagged.length} of ${r.slices.length} slices anomalous${flagged.length ? `: ${flagged.join(', ')}` : ''}${out ? `\nmap: ${out}` : ''}\n`,
        );
        return 0;
      }
      if (out) {
        // The slice's map in a volume on the case's file grid: zeros except (canonical axial) slice z.
        const [nx, ny, nz] = r.grid.dims;
        const data = new Float32Array(nx * ny * nz);
        data.set(r.map, r.z * nx * ny);
        writeOnSourceGrid(out, r.source, data, { datatype: 'float32', description: `AnyAD anomaly map z=${r.z} (${r.subset.label})` });
      }
      if (opts.json) {
        io.stdout.write(JSON.stringify({ ...json, out: out ?? null }) + '\n');
        return 0;
      }
      io.stdout.write(
        `${warn}${casePath} slice ${r.z} (${r.subset.label}, ${r.provider}): score ${r.score.toFixed(4)}, threshold ${r.threshold?.toFixed(4) ?? 'none'} → ${decision(r.anomalous)}${out ? `\nmap: ${out}` : ''}\n`,
      );
      return 0;
    } finally {
      await releaseAllSessions();
    }
  },
};
