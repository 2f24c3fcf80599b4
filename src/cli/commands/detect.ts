/** `anyad detect`: anomaly score, decision and map of one slice or a whole volume with a model bundle. */
import { detect, subsetOfModalities } from '../../engine/detect';
import { loadWorkspaceConfig } from '../../engine/config';
import { ConfigError, StudyError } from '../../engine/errors';
import { type ProviderChoice, releaseAllSessions } from '../../engine/graph/runtime';
import { loadBundle } from '../../engine/model/bundle';
import { writeOnSourceGrid } from '../../engine/nifti';
import { CHANNELS, type Case, type ChannelName, caseFromInputs } from '../../engine/study';
import { intOption, stringOption, type CommandSpec } from '../args';
import { modelProvenance, type DetectSliceJson, type DetectVolumeJson } from '../../shared/detectJson';

const PROVIDERS: readonly ProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu'];

function decision(anomalous: boolean | null): string {
  return anomalous === null ? 'no threshold' : anomalous ? 'ANOMALOUS' : 'normal';
}

/** The case from --case and/or --flair/--t1/--t2 (explicit files win), read with --config's patterns and assignments. */
function caseOfOptions(opts: Record<string, string | boolean | undefined>): Case {
  const config = typeof opts.config === 'string' ? loadWorkspaceConfig(opts.config) : undefined;
  const files: Partial<Record<ChannelName, string>> = {};
  for (const s of CHANNELS) if (typeof opts[s] === 'string') files[s] = opts[s] as string;
  if (typeof opts.case !== 'string' && Object.keys(files).length === 0) {
    throw new ConfigError('cli/missing-option', 'give --case PATH (a sequence file of the case, or its folder) and/or the files themselves with --flair/--t1/--t2 FILE');
  }
  return caseFromInputs({ path: typeof opts.case === 'string' ? opts.case : undefined, files }, config);
}

/** --modalities, or every model sequence the case has; asking for one the case lacks is refused with the ways to fix it. */
function modalitiesFor(raw: string | boolean | undefined, kase: Case): ChannelName[] {
  const have = CHANNELS.filter((c) => kase.files[c]);
  if (typeof raw !== 'string') {
    if (have.length === 0) {
      throw new StudyError('study/missing-sequence', `case ${kase.id} has no FLAIR, T1 or T2 file${kase.files.t1ce ? ' (T1CE is not a model input)' : ''}; pass --flair/--t1/--t2 FILE, or say which file is which with --config anyad.json (data.sequences patterns or data.assignments)`, kase.dir);
    }
    return have;
  }
  const modalities = raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '') as ChannelName[];
  subsetOfModalities(modalities);
  const missing = modalities.filter((m) => !kase.files[m]);
  if (missing.length) {
    const names = missing.map((m) => m.toUpperCase()).join(' or ');
    throw new StudyError('study/missing-sequence', `case ${kase.id} has no ${names} file (it has ${have.map((c) => c.toUpperCase()).join(', ') || 'none of FLAIR, T1, T2'}); pass ${missing.map((m) => `--${m} FILE`).join(' and ')}, add a data.sequences pattern (with --config anyad.json), or drop ${missing.join(',')} from --modalities`, kase.dir);
  }
  return modalities;
}

export const detectCommand: CommandSpec = {
  name: 'detect',
  summary: 'score a slice (or every slice) of a case with a trained model and write the anomaly map',
  usage: 'anyad detect --model DIR (--case PATH | --flair FILE | --t1 FILE | --t2 FILE)... [--config anyad.json] [--slice Z | --all] [--modalities flair,t1,t2] [--out map.nii.gz] [--json] [--provider auto|cpu|cuda|webgpu]',
  options: {
    model: { type: 'string', description: 'model bundle folder (model.onnx + anyad.json + head.safetensors)' },
    case: { type: 'string', description: 'a sequence file of the case, or the case folder' },
    flair: { type: 'string', description: 'the FLAIR file (wins over what --case finds)' },
    t1: { type: 'string', description: 'the T1 file (wins over what --case finds)' },
    t2: { type: 'string', description: 'the T2 file (wins over what --case finds)' },
    config: { type: 'string', description: "workspace config whose data.sequences patterns and data.assignments say which file is which sequence" },
    slice: { type: 'string', description: 'axial slice index (default: the middle slice)' },
    all: { type: 'boolean', description: 'score every axial slice (3-D map)' },
    modalities: { type: 'string', description: 'sequences to use, comma-separated (default: those of flair, t1, t2 the case has)' },
    out: { type: 'string', description: "write the anomaly map as float32 NIfTI on the case file's own grid (.nii or .nii.gz)" },
    json: { type: 'boolean', description: 'print one JSON object' },
    provider: { type: 'string', description: 'execution provider', default: 'auto' },
    threads: { type: 'string', description: 'intra-op threads (0: one per core)', default: '0' },
  },
  positionals: [0, 0],
  async run(opts) {
    const model = stringOption(opts, 'model');
    if (opts.all && opts.slice !== undefined) throw new ConfigError('cli/bad-option', 'give --slice or --all, not both');
    const kase = caseOfOptions(opts);
    const casePath = typeof opts.case === 'string' ? opts.case : kase.dir;
    const modalities = modalitiesFor(opts.modalities, kase);
    const provider = String(opts.provider) as ProviderChoice;
    if (!PROVIDERS.includes(provider)) throw new ConfigError('cli/bad-option', `--provider must be one of ${PROVIDERS.join(', ')}, got '${provider}'`);
    const threads = intOption(opts, 'threads', 0, 1024);
    const out = typeof opts.out === 'string' ? opts.out : undefined;
    if (out !== undefined && !/\.nii(\.gz)?$/i.test(out)) throw new ConfigError('cli/bad-option', `--out must end in .nii or .nii.gz, got '${out}'`);
    const bundle = loadBundle(model);
    const warn = bundle.manifest.warning ? `warning: ${bundle.manifest.warning}\n` : '';
    // Every JSON result says which encoder produced it (the extension shows a random-init warning).
    const provenance = modelProvenance(bundle.manifest);
    try {
      if (opts.all) {
        const r = await detect(bundle, kase, { slice: 'all', modalities, provider, threads });
        if (out) writeOnSourceGrid(out, r.source, r.map.data, { datatype: 'float32', description: `AnyAD anomaly map (${r.subset.label})` });
        if (opts.json) {
          process.stdout.write(JSON.stringify({ model: bundle.dir, case: casePath, subset: r.subset.label, provider: r.provider, ...provenance, slices: r.slices, out: out ?? null } satisfies DetectVolumeJson) + '\n');
          return 0;
        }
        const flagged = r.slices.filter((s) => s.anomalous).map((s) => s.z);
        const lines = r.slices.map((s) => `  z=${String(s.z).padStart(3)}  ${s.score.toFixed(4)}${s.anomalous ? '  *' : ''}`);
        process.stdout.write(`${warn}${casePath} (${r.subset.label}, ${r.provider}), threshold ${r.slices[0]?.threshold?.toFixed(4) ?? 'none'}; * = anomalous\n${lines.join('\n')}\n` +
          `${flagged.length} of ${r.slices.length} slices anomalous${flagged.length ? `: ${flagged.join(', ')}` : ''}${out ? `\nmap: ${out}` : ''}\n`);
        return 0;
      }
      const slice = opts.slice === undefined ? undefined : intOption(opts, 'slice', 0);
      const r = await detect(bundle, kase, { slice, modalities, provider, threads });
      if (out) {
        // The slice's map in a volume on the case's file grid: zeros except (canonical axial) slice z.
        const [nx, ny, nz] = r.grid.dims;
        const data = new Float32Array(nx * ny * nz);
        data.set(r.map, r.z * nx * ny);
        writeOnSourceGrid(out, r.source, data, { datatype: 'float32', description: `AnyAD anomaly map z=${r.z} (${r.subset.label})` });
      }
      if (opts.json) {
        process.stdout.write(JSON.stringify({ model: bundle.dir, case: casePath, subset: r.subset.label, provider: r.provider, ...provenance, z: r.z, score: r.score, threshold: r.threshold, anomalous: r.anomalous, out: out ?? null } satisfies DetectSliceJson) + '\n');
        return 0;
      }
      process.stdout.write(`${warn}${casePath} slice ${r.z} (${r.subset.label}, ${r.provider}): score ${r.score.toFixed(4)}, threshold ${r.threshold?.toFixed(4) ?? 'none'} → ${decision(r.anomalous)}${out ? `\nmap: ${out}` : ''}\n`);
      return 0;
    } finally {
      await releaseAllSessions();
    }
  },
};
