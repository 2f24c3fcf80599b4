/**
 * The slice dataset of the paper: axial slices start..end every step-th (80–120 every 5th
 * by default), split by case into train / validation / test.
 *
 * Labels come from the label volume at its native resolution: a slice is anomalous when it
 * holds at least `data.minLesionVoxels` voxels with an anomaly label, normal when it holds
 * none; a slice with some but fewer is ambiguous and left out everywhere (counted). The
 * image label is never re-derived from a resized mask, where small lesions vanish.
 *
 * Split (documented choice): cases, not slices, are split, separately among cases that have
 * anomalous slices and cases that do not (so every side gets both kinds), seeded:
 *   - test  = round(n × (1 − trainFraction)) cases: scored once, after training;
 *   - val   = round(n_train × valFraction) of the remaining cases: model selection and
 *     threshold calibration (never the test split);
 *   - train = the normal slices of the other cases (unsupervised: their anomalous slices
 *     are left out and counted).
 * Validation and test take normal and anomalous slices of their cases, balanced to equal
 * numbers by sub-sampling the larger side (seeded); one-sided sets are reported, not padded.
 * Cases without a label file are excluded unless `data.unlabelled` is "normal".
 */
import type { SliceSelection, WorkspaceConfig } from '../config';
import { ConfigError, StudyError } from '../errors';
import { loadVolume } from '../nifti';
import type { Volume } from '../nifti/types';
import { createRng, mixSeed } from '../util/random';
import type { Case } from './discover';
import { CHANNELS } from './modalities';
import { anomalyPredicate } from './preprocess';

export interface SliceRef {
  caseId: string;
  /** Axial slice index of the canonical (RAS) volume. */
  z: number;
  anomalous: boolean;
  /** Anomalous voxels of the slice in the native-resolution label (0 for unlabelled cases). */
  lesionVoxels: number;
}

export interface SplitCounts {
  cases: number;
  normal: number;
  anomalous: number;
}

/** A scored split (validation or test): what was available and what was kept. */
export type ScoredSplitSummary = SplitCounts & {
  caseIds: string[];
  availableNormal: number;
  availableAnomalous: number;
  balance: 'balanced' | 'subsampled-normal' | 'subsampled-anomalous' | 'one-sided';
};

export interface SliceDatasetSummary {
  cases: {
    total: number;
    used: number;
    withLabel: number;
    withoutLabel: number;
    withAnomalies: number;
    skipped: string[];
    /** The data.unlabelled rule, and the unlabelled cases it left out. */
    unlabelled: 'exclude' | 'normal';
    excludedUnlabelled: string[];
  };
  slices: {
    axis: 'axial';
    indices: number[];
    total: number;
    normal: number;
    anomalous: number;
    /** Slices with 0 < lesion voxels < minLesionVoxels, left out. */
    ambiguous: number;
    minLesionVoxels: number;
  };
  train: SplitCounts & { caseIds: string[]; anomalousLeftOut: number };
  val: ScoredSplitSummary;
  test: ScoredSplitSummary;
  /** Plain-language remarks (unlabelled cases, imbalance, empty sides). */
  notes: string[];
}

export interface SliceDataset {
  train: SliceRef[];
  /** Model selection and threshold calibration. */
  val: SliceRef[];
  /** Scored once, after training. */
  test: SliceRef[];
  summary: SliceDatasetSummary;
}

/** The selected slice indices; a clear error when they do not fit a volume of `nz` slices. */
export function selectedSlices(sel: SliceSelection, nz: number, where?: string): number[] {
  if (sel.end >= nz) {
    throw new ConfigError(
      'config/slices-outside-volume',
      `data.slices ${sel.start}–${sel.end} is outside the volume, which has ${nz} axial slices (0–${nz - 1}); set data.slices.start/end in anyad.json to fit`,
      where,
    );
  }
  const out: number[] = [];
  for (let z = sel.start; z <= sel.end; z += sel.step) out.push(z);
  return out;
}

interface CaseSlices {
  id: string;
  labelled: boolean;
  /** Slices with a clear label (ambiguous ones dropped). */
  slices: SliceRef[];
  ambiguous: number;
}

/** The selected slices of one case with their lesion-voxel counts (all 0 without a label). */
function caseSlices(c: Case, config: WorkspaceConfig, maxBytes?: number): CaseSlices {
  const readOpts = maxBytes === undefined ? {} : { maxBytes };
  const { slices: sel, minLesionVoxels } = config.data;
  // The label's grid, or an image's when there is no label (all its slices are then normal).
  const gridFile = c.label ?? CHANNELS.map((s) => c.files[s]).find((f) => f !== undefined);
  // buildSliceDataset skips cases without FLAIR, T1 or T2 before it gets here.
  if (gridFile === undefined) throw new StudyError('study/missing-sequence', `case ${c.id} has no FLAIR, T1 or T2 file`, c.dir);
  const vol: Volume = loadVolume(gridFile, readOpts);
  const [nx, ny, nz] = vol.dims;
  const zs = selectedSlices(sel, nz, c.label ?? c.files.flair ?? c.files.t1 ?? c.files.t2);
  const isAnomalous = anomalyPredicate(config.data.anomalyLabels);
  const plane = nx * ny;
  const slices: SliceRef[] = [];
  let ambiguous = 0;
  for (const z of zs) {
    let lesionVoxels = 0;
    if (c.label) {
      const d = vol.data;
      for (let i = z * plane, end = (z + 1) * plane; i < end; i++) if (d[i] !== 0 && isAnomalous(d[i])) lesionVoxels++;
    }
    if (lesionVoxels > 0 && lesionVoxels < minLesionVoxels) ambiguous++;
    else slices.push({ caseId: c.id, z, anomalous: lesionVoxels > 0, lesionVoxels });
  }
  return { id: c.id, labelled: Boolean(c.label), slices, ambiguous };
}

/** Seeded choice of `k` of `items`, returned in their original order. */
function subsample<T>(items: T[], k: number, seed: number): T[] {
  const idx = createRng(seed)
    .shuffle([...items.keys()])
    .slice(0, k)
    .sort((a, b) => a - b);
  return idx.map((i) => items[i]);
}

/** Splits ids in two: round(n × fraction) of them (at least 1 when n ≥ 2) to `held`, seeded. */
function holdOut(ids: string[], fraction: number, seed: number): { kept: string[]; held: string[] } {
  const shuffled = createRng(seed).shuffle([...ids]);
  let n = Math.round(ids.length * fraction);
  if (n === 0 && ids.length >= 2) n = 1; // both sides non-empty when possible
  const held = new Set(shuffled.slice(0, n));
  return { kept: ids.filter((id) => !held.has(id)), held: ids.filter((id) => held.has(id)) };
}

const bySliceOrder = (x: SliceRef, y: SliceRef) => (x.caseId < y.caseId ? -1 : x.caseId > y.caseId ? 1 : x.z - y.z);

/** Normal and anomalous slices of a scored split, balanced to equal numbers (seeded). */
function balancedSplit(
  name: 'validation' | 'test',
  ids: Set<string>,
  per: CaseSlices[],
  seed: number,
  notes: string[],
): { slices: SliceRef[]; summary: ScoredSplitSummary } {
  const all = per.filter((c) => ids.has(c.id)).flatMap((c) => c.slices);
  const availNormal = all.filter((s) => !s.anomalous);
  const availAnomalous = all.filter((s) => s.anomalous);
  let balance: ScoredSplitSummary['balance'] = 'balanced';
  let normal = availNormal;
  let anomalous = availAnomalous;
  if (availNormal.length === 0 || availAnomalous.length === 0) {
    balance = 'one-sided';
    notes.push(
      `the ${name} set has ${availNormal.length} normal and ${availAnomalous.length} anomalous slices: detection metrics need both`,
    );
  } else if (availAnomalous.length > availNormal.length) {
    balance = 'subsampled-anomalous';
    anomalous = subsample(availAnomalous, availNormal.length, seed);
    notes.push(
      `${name}: ${availAnomalous.length} anomalous slices for ${availNormal.length} normal ones; ${availNormal.length} anomalous slices sub-sampled to balance`,
    );
  } else if (availNormal.length > availAnomalous.length) {
    balance = 'subsampled-normal';
    normal = subsample(availNormal, availAnomalous.length, seed);
    notes.push(
      `${name}: fewer anomalous (${availAnomalous.length}) than normal (${availNormal.length}) slices; ${availAnomalous.length} normal slices sub-sampled to balance`,
    );
  }
  return {
    slices: [...normal, ...anomalous].sort(bySliceOrder),
    summary: {
      cases: ids.size,
      caseIds: [...ids].sort(),
      normal: normal.length,
      anomalous: anomalous.length,
      availableNormal: availNormal.length,
      availableAnomalous: availAnomalous.length,
      balance,
    },
  };
}

/** The cases that take part (with their slices), and why the others do not. */
interface UsableCases {
  per: CaseSlices[];
  skipped: string[];
  excludedUnlabelled: string[];
  withoutLabel: number;
  unlabelledUsed: CaseSlices[];
}

/** Reads each case's slices, leaving out cases without a sequence and (per data.unlabelled) without a label; notes say so. */
function usableCases(cases: Case[], config: WorkspaceConfig, notes: string[], maxBytes: number | undefined): UsableCases {
  const skipped: string[] = [];
  const excludedUnlabelled: string[] = [];
  const rule = config.data.unlabelled;
  const per: CaseSlices[] = [];
  let withoutLabel = 0;
  for (const c of cases) {
    if (!CHANNELS.some((s) => c.files[s])) {
      skipped.push(c.id);
      continue;
    }
    if (!c.label) {
      withoutLabel++;
      if (rule === 'exclude') {
        excludedUnlabelled.push(c.id);
        continue;
      }
    }
    per.push(caseSlices(c, config, maxBytes));
  }
  if (skipped.length) notes.push(`${skipped.length} case(s) without FLAIR, T1 or T2 skipped: ${skipped.join(', ')}`);
  if (excludedUnlabelled.length) {
    notes.push(
      `${excludedUnlabelled.length} case(s) without a label file left out (data.unlabelled is "exclude"; set it to "normal" only if they hold no anomaly): ${excludedUnlabelled.join(', ')}`,
    );
  }
  const unlabelledUsed = per.filter((c) => !c.labelled);
  if (unlabelledUsed.length)
    notes.push(
      `${unlabelledUsed.length} case(s) without a label used as all-normal (data.unlabelled is "normal"): ${unlabelledUsed.map((c) => c.id).join(', ')}`,
    );
  if (per.length === 0) {
    throw new StudyError(
      'study/no-cases',
      excludedUnlabelled.length
        ? `no usable cases: ${excludedUnlabelled.length} case(s) have no label file and data.unlabelled is "exclude" (add label files, or set data.unlabelled to "normal" if they hold no anomaly)`
        : 'no usable cases (each needs FLAIR, T1 or T2)',
    );
  }
  return { per, skipped, excludedUnlabelled, withoutLabel, unlabelledUsed };
}

/** Train / validation / test case ids, split by case within the with-anomaly and normal-only groups. */
function splitCaseIds(per: CaseSlices[], split: WorkspaceConfig['data']['split']) {
  const { trainFraction, valFraction, seed } = split;
  const hasAnom = (c: CaseSlices) => c.slices.some((s) => s.anomalous);
  const groups = [per.filter(hasAnom).map((c) => c.id), per.filter((c) => !hasAnom(c)).map((c) => c.id)];
  const trainIds = new Set<string>();
  const valIds = new Set<string>();
  const testIds = new Set<string>();
  groups.forEach((ids, g) => {
    // Test ids are drawn exactly as before validation existed (same seeds), so a config's test split is stable.
    const t = holdOut(ids, 1 - trainFraction, mixSeed(seed, g + 1));
    const v = holdOut(t.kept, valFraction, mixSeed(seed, g + 11));
    t.held.forEach((id) => testIds.add(id));
    v.held.forEach((id) => valIds.add(id));
    v.kept.forEach((id) => trainIds.add(id));
  });
  return { trainIds, valIds, testIds, withAnomalies: groups[0].length };
}

/** The normal slices of the train cases (the method trains on normal slices only), and how many anomalous ones that leaves out. */
function trainSlices(per: CaseSlices[], trainIds: Set<string>): { train: SliceRef[]; anomalousLeftOut: number } {
  const train: SliceRef[] = [];
  let anomalousLeftOut = 0;
  for (const c of per) {
    if (!trainIds.has(c.id)) continue;
    for (const s of c.slices) {
      if (s.anomalous) anomalousLeftOut++;
      else train.push(s);
    }
  }
  return { train, anomalousLeftOut };
}

export function buildSliceDataset(cases: Case[], config: WorkspaceConfig, opts: { maxBytes?: number } = {}): SliceDataset {
  const notes: string[] = [];
  const usable = usableCases(cases, config, notes, opts.maxBytes);
  const { per } = usable;
  const ambiguous = per.reduce((a, c) => a + c.ambiguous, 0);
  const { minLesionVoxels, split } = config.data;
  if (ambiguous)
    notes.push(
      `${ambiguous} slice(s) with 1–${minLesionVoxels - 1} lesion voxels (below data.minLesionVoxels ${minLesionVoxels}) left out as ambiguous`,
    );
  const ids = splitCaseIds(per, split);
  const { train, anomalousLeftOut } = trainSlices(per, ids.trainIds);
  const val = balancedSplit('validation', ids.valIds, per, mixSeed(split.seed, 4), notes);
  const test = balancedSplit('test', ids.testIds, per, mixSeed(split.seed, 3), notes);
  if (train.length === 0) notes.push('the training set is empty: no normal slices in the train cases');

  const all = per.flatMap((c) => c.slices);
  const summary: SliceDatasetSummary = {
    cases: {
      total: cases.length,
      used: per.length,
      withLabel: per.length - usable.unlabelledUsed.length,
      withoutLabel: usable.withoutLabel,
      withAnomalies: ids.withAnomalies,
      skipped: usable.skipped,
      unlabelled: config.data.unlabelled,
      excludedUnlabelled: usable.excludedUnlabelled,
    },
    slices: {
      axis: 'axial',
      indices: selectedSlices(config.data.slices, Number.MAX_SAFE_INTEGER),
      total: all.length,
      normal: all.filter((s) => !s.anomalous).length,
      anomalous: all.filter((s) => s.anomalous).length,
      ambiguous,
      minLesionVoxels,
    },
    train: { cases: ids.trainIds.size, caseIds: [...ids.trainIds].sort(), normal: train.length, anomalous: 0, anomalousLeftOut },
    val: val.summary,
    test: test.summary,
    notes,
  };
  return { train, val: val.slices, test: test.slices, summary };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A short text rendering of the summary (what `anyad dataset` prints). */
export function formatDatasetSummary(s: SliceDatasetSummary, root?: string): string {
  const sl = s.slices;
  const range =
    sl.indices.length > 1
      ? `${sl.indices[0]}–${sl.indices[sl.indices.length - 1]} every ${sl.indices[1] - sl.indices[0]}`
      : `${sl.indices[0]}`;
  const scored = (x: ScoredSplitSummary) =>
    `${plural(x.cases, 'case')}, ${x.normal} normal + ${x.anomalous} anomalous slices (available ${x.availableNormal} + ${x.availableAnomalous}; ${x.balance})`;
  const unlabelled =
    s.cases.unlabelled === 'exclude'
      ? `${s.cases.excludedUnlabelled.length} without label excluded`
      : `${s.cases.withoutLabel} without label used as normal`;
  const lines = [
    ...(root ? [`Slice dataset of ${root}`] : []),
    `cases:   ${s.cases.used} used (${s.cases.withAnomalies} with anomalous slices; ${unlabelled})${s.cases.skipped.length ? `, ${s.cases.skipped.length} skipped` : ''}`,
    `slices:  axial ${range} (${sl.indices.length} per case): ${sl.total} in all, ${sl.normal} normal, ${sl.anomalous} anomalous (≥ ${sl.minLesionVoxels} lesion voxel${sl.minLesionVoxels === 1 ? '' : 's'})${sl.ambiguous ? `, ${sl.ambiguous} ambiguous left out` : ''}`,
    `train:   ${plural(s.train.cases, 'case')}, ${s.train.normal} normal slices (${s.train.anomalousLeftOut} anomalous slices of train cases left out)`,
    `val:     ${scored(s.val)}: model selection and thresholds`,
    `test:    ${scored(s.test)}: scored once, after training`,
    ...s.notes.map((n) => `note:    ${n}`),
  ];
  return lines.join('\n');
}
