/**
 * One detection request, as both `anyad detect` and the engine process serve it: the case from
 * explicit files and/or a path (with a config's sequence rules), the modalities checked against
 * it, the bundle, then detect(). With a WarmState the bundle, session and decoded volumes come
 * from memory when nothing changed on disk; without one (the CLI) everything is loaded afresh.
 */
import { loadWorkspaceConfig } from '../config';
import { detect, subsetOfModalities, type SliceDetection, type VolumeDetection } from '../detect';
import { ConfigError, StudyError } from '../errors';
import type { ProviderChoice } from '../graph/runtime';
import { type LoadedBundle, loadBundle } from '../model/bundle';
import { type Case, caseFromInputs } from '../study/discover';
import { CHANNELS, type ChannelName } from '../study/modalities';
import { modelProvenance, type DetectJson } from '../../shared/detectJson';
import type { WarmState } from './warm';

export interface CaseSpec {
  /** A sequence file of the case, or its folder. */
  path?: string;
  /** Explicit sequence files (they win over what `path` finds). */
  files?: Partial<Record<ChannelName, string>>;
  /** Workspace config whose data.sequences patterns and data.assignments apply. */
  config?: string;
}

/** The case of explicit files and/or a path, read with the config's sequence rules. */
export function caseOfSpec(spec: CaseSpec): Case {
  const config = spec.config ? loadWorkspaceConfig(spec.config) : undefined;
  const files: Partial<Record<ChannelName, string>> = {};
  for (const s of CHANNELS) if (spec.files?.[s]) files[s] = spec.files[s];
  if (spec.path === undefined && Object.keys(files).length === 0) {
    throw new ConfigError(
      'cli/missing-option',
      'give --case PATH (a sequence file of the case, or its folder) and/or the files themselves with --flair/--t1/--t2 FILE',
    );
  }
  return caseFromInputs({ path: spec.path, files }, config);
}

/** The requested modalities (default: every model sequence the case has); one the case lacks is refused with the ways to fix it. */
export function modalitiesFor(requested: readonly string[] | undefined, kase: Case): ChannelName[] {
  const have = CHANNELS.filter((c) => kase.files[c]);
  if (requested === undefined) {
    if (have.length === 0) {
      throw new StudyError(
        'study/missing-sequence',
        `case ${kase.id} has no FLAIR, T1 or T2 file${kase.files.t1ce ? ' (T1CE is not a model input)' : ''}; pass --flair/--t1/--t2 FILE, or say which file is which with --config anyad.json (data.sequences patterns or data.assignments)`,
        kase.dir,
      );
    }
    return have;
  }
  const modalities = requested.map((s) => s.trim().toLowerCase()).filter((s) => s !== '') as ChannelName[];
  subsetOfModalities(modalities);
  const missing = modalities.filter((m) => !kase.files[m]);
  if (missing.length) {
    const names = missing.map((m) => m.toUpperCase()).join(' or ');
    throw new StudyError(
      'study/missing-sequence',
      `case ${kase.id} has no ${names} file (it has ${have.map((c) => c.toUpperCase()).join(', ') || 'none of FLAIR, T1, T2'}); pass ${missing.map((m) => `--${m} FILE`).join(' and ')}, add a data.sequences pattern (with --config anyad.json), or drop ${missing.join(',')} from --modalities`,
      kase.dir,
    );
  }
  return modalities;
}

export interface DetectCaseOptions {
  model: string | LoadedBundle;
  case: Case;
  /** How the result names the case (the CLI's --case, else the case folder). */
  caseLabel?: string;
  modalities?: readonly string[];
  /** Axial slice, 'all', or undefined for the middle slice. */
  slice?: number | 'all';
  provider: ProviderChoice;
  threads: number;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  log?: (message: string) => void;
  warm?: WarmState;
}

export interface DetectCaseOutcome {
  bundle: LoadedBundle;
  result: SliceDetection | VolumeDetection;
  /** The JSON result (`out` null: writing a file is the caller's business). */
  json: DetectJson;
  batch: number;
  timings: { loadMs: number; detectMs: number };
}

export async function detectCase(o: DetectCaseOptions): Promise<DetectCaseOutcome> {
  const t0 = performance.now();
  const modalities = modalitiesFor(o.modalities, o.case);
  const bundle = typeof o.model !== 'string' ? o.model : o.warm ? o.warm.bundle(o.model) : loadBundle(o.model);
  const input = o.warm ? o.warm.loadCase(o.case).loaded : o.case;
  const session = o.warm ? await o.warm.session(bundle, o.provider, o.threads, o.log) : undefined;
  o.signal?.throwIfAborted();
  const t1 = performance.now();
  const common = { modalities, provider: o.provider, threads: o.threads, log: o.log, session, signal: o.signal };
  const result =
    o.slice === 'all'
      ? await detect(bundle, input, { ...common, slice: 'all', batchSize: o.batchSize, onProgress: o.onProgress })
      : await detect(bundle, input, { ...common, slice: o.slice });
  const t2 = performance.now();
  const head = {
    model: bundle.dir,
    case: o.caseLabel ?? o.case.dir,
    subset: result.subset.label,
    provider: result.provider,
    ...modelProvenance(bundle.manifest),
    out: null,
  };
  const json: DetectJson =
    'slices' in result
      ? { ...head, slices: result.slices }
      : { ...head, z: result.z, score: result.score, threshold: result.threshold, anomalous: result.anomalous };
  return { bundle, result, json, batch: 'batch' in result ? result.batch : 1, timings: { loadMs: t1 - t0, detectMs: t2 - t1 } };
}
