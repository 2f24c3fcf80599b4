/**
 * A workspace's slice dataset: discover the cases under `data.root`, refuse a folder without
 * any, build the train / validation / test slices and summarise them. `anyad dataset`,
 * `anyad demo`, the engine's dataset summary and training pre-flight, training and evaluation
 * all go through here, so they find the same cases and say the same things about them.
 */
import type { WorkspaceConfig } from '../config';
import { StudyError } from '../errors';
import { buildSliceDataset, formatDatasetSummary, type SliceDataset } from './dataset';
import { discoverStudy } from './discover';
import type { Case, DiscoveryResult } from './resolver';

export interface WorkspaceDataset {
  cases: Case[];
  /** Discovery's warnings about files found but not usable. */
  warnings: string[];
  dataset: SliceDataset;
  /** The summary as `anyad dataset` prints it (formatDatasetSummary, headed with the root). */
  text: string;
}

/** The cases under the config's `data.root` (its patterns and assignments apply; its output folder is skipped). */
export function discoverWorkspace(config: WorkspaceConfig): DiscoveryResult {
  return discoverStudy(config.data.root, config);
}

/** `found`, or a StudyError 'study/no-cases' naming `root` when it holds no case. */
export function requireCases(found: DiscoveryResult, root: string): DiscoveryResult {
  if (found.cases.length === 0)
    throw new StudyError('study/no-cases', 'no cases found (BraTS names, per-case folders, or data.sequences patterns)', root);
  return found;
}

export interface WorkspaceDatasetOptions {
  /** Cases already discovered (discoverWorkspace) by a caller that needed them first. */
  found?: DiscoveryResult;
  /** Called with each discovery warning ("warning: …", before a missing-cases error) and dataset note ("note: …"). */
  log?: (message: string) => void;
}

/** Discovery, the no-cases check, the slice dataset and its summary text for one workspace config. */
export function workspaceDataset(config: WorkspaceConfig, opts: WorkspaceDatasetOptions = {}): WorkspaceDataset {
  const root = config.data.root;
  const found = opts.found ?? discoverWorkspace(config);
  for (const w of found.warnings) opts.log?.(`warning: ${w}`);
  const { cases, warnings } = requireCases(found, root);
  const dataset = buildSliceDataset(cases, config);
  for (const n of dataset.summary.notes) opts.log?.(`note: ${n}`);
  return { cases, warnings, dataset, text: formatDatasetSummary(dataset.summary, root) };
}
