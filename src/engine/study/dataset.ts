/**
 * The slice dataset of the paper: axial slices start..end every step-th (80–120 every 5th
 * by default); a slice is anomalous when its label holds an anomaly label, normal when not.
 *
 * Split (documented choice): cases, not slices, are split train/test with
 * `trainFraction`, separately among cases that have anomalous slices and cases that do not
 * (so the test side gets both kinds), with the config's seed.
 *   - train = the normal slices of the train cases (unsupervised: anomalous slices of train
 *     cases are left out, and counted in the summary);
 *   - test  = normal and anomalous slices of the test cases only, so no case is in both;
 *     the two sides are balanced to equal numbers by sub-sampling the larger one (seeded).
 *     If one side is empty nothing is sub-sampled and the summary says so.
 * A case without a label counts as all-normal (also noted in the summary).
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
}

export interface SplitCounts {
  cases: number;
  normal: number;
  anomalous: number;
}

export interface SliceDatasetSummary {
  cases: { total: number; used: number; withLabel: number; withoutLabel: number; withAnomalies: number; skipped: string[] };
  slices: { axis: 'axial'; indices: number[]; total: number; normal: number; anomalous: number };
  train: SplitCounts & { caseIds: string[]; anomalousLeftOut: number };
  test: SplitCounts & { caseIds: string[]; availableNormal: number; availableAnomalous: number; balance: 'balanced' | 'subsampled-normal' | 'subsampled-anomalous' | 'one-sided' };
  /** Plain-language remarks (unlabelled cases, imbalance, empty sides). */
  notes: string[];
}

export interface SliceDataset {
  train: SliceRef[];
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
  slices: SliceRef[];
}

/** Which selected slices of one case are anomalous, from its label (or all normal). */
function caseSlices(c: Case, config: WorkspaceConfig, maxBytes?: number): CaseSlices {
  const readOpts = maxBytes === undefined ? {} : { maxBytes };
  const sel = config.data.slices;
  let vol: Volume;
  let labelled = false;
  if (c.label) {
    vol = loadVolume(c.label, readOpts);
    labelled = true;
  } else {
    const any = CHANNELS.map((s) => c.files[s]).find(Boolean)!;
    vol = loadVolume(any, readOpts);
  }
  const [nx, ny, nz] = vol.dims;
  const zs = selectedSlices(sel, nz, c.label ?? c.files.flair ?? c.files.t1 ?? c.files.t2);
  const isAnomalous = anomalyPredicate(config.data.anomalyLabels);
  const plane = nx * ny;
  const slices = zs.map((z) => {
    let anomalous = false;
    if (labelled) {
      const d = vol.data;
      for (let i = z * plane, end = (z + 1) * plane; i < end; i++) {
        if (d[i] !== 0 && isAnomalous(d[i])) {
          anomalous = true;
          break;
        }
      }
    }
    return { caseId: c.id, z, anomalous };
  });
  return { id: c.id, labelled, slices };
}

/** Seeded choice of `k` of `items`, returned in their original order. */
function subsample<T>(items: T[], k: number, seed: number): T[] {
  const idx = createRng(seed).shuffle([...items.keys()]).slice(0, k).sort((a, b) => a - b);
  return idx.map((i) => items[i]);
}

/** Splits case ids train/test: round(n × (1 − trainFraction)) of them to test, seeded. */
function splitIds(ids: string[], trainFraction: number, seed: number): { train: string[]; test: string[] } {
  const shuffled = createRng(seed).shuffle([...ids]);
  let nTest = Math.round(ids.length * (1 - trainFraction));
  if (nTest === 0 && ids.length >= 2) nTest = 1; // both sides non-empty when possible
  const test = new Set(shuffled.slice(0, nTest));
  return { train: ids.filter((id) => !test.has(id)), test: ids.filter((id) => test.has(id)) };
}

export function buildSliceDataset(cases: Case[], config: WorkspaceConfig, opts: { maxBytes?: number } = {}): SliceDataset {
  const notes: string[] = [];
  const skipped: string[] = [];
  const per: CaseSlices[] = [];
  for (const c of cases) {
    if (!CHANNELS.some((s) => c.files[s])) {
      skipped.push(c.id);
      continue;
    }
    per.push(caseSlices(c, config, opts.maxBytes));
  }
  if (skipped.length) notes.push(`${skipped.length} case(s) without FLAIR, T1 or T2 skipped: ${skipped.join(', ')}`);
  if (per.length === 0) throw new StudyError('study/no-cases', 'no usable cases (each needs FLAIR, T1 or T2)');
  const unlabelled = per.filter((c) => !c.labelled);
  if (unlabelled.length) notes.push(`${unlabelled.length} case(s) without a label: all their slices count as normal (${unlabelled.map((c) => c.id).join(', ')})`);

  const { trainFraction, seed } = config.data.split;
  const withAnom = per.filter((c) => c.slices.some((s) => s.anomalous)).map((c) => c.id);
  const without = per.filter((c) => !c.slices.some((s) => s.anomalous)).map((c) => c.id);
  const a = splitIds(withAnom, trainFraction, mixSeed(seed, 1));
  const n = splitIds(without, trainFraction, mixSeed(seed, 2));
  const trainIds = new Set([...a.train, ...n.train]);
  const testIds = new Set([...a.test, ...n.test]);

  const train: SliceRef[] = [];
  const testNormal: SliceRef[] = [];
  const testAnomalous: SliceRef[] = [];
  let anomalousLeftOut = 0;
  for (const c of per) {
    for (const s of c.slices) {
      if (trainIds.has(c.id)) {
        if (s.anomalous) anomalousLeftOut++;
        else train.push(s);
      } else if (s.anomalous) testAnomalous.push(s);
      else testNormal.push(s);
    }
  }

  let balance: SliceDatasetSummary['test']['balance'] = 'balanced';
  let normal = testNormal;
  let anomalous = testAnomalous;
  if (testNormal.length === 0 || testAnomalous.length === 0) {
    balance = 'one-sided';
    notes.push(`the test set has ${testNormal.length} normal and ${testAnomalous.length} anomalous slices: detection metrics need both`);
  } else if (testAnomalous.length > testNormal.length) {
    balance = 'subsampled-anomalous';
    anomalous = subsample(testAnomalous, testNormal.length, mixSeed(seed, 3));
    notes.push(`test: ${testAnomalous.length} anomalous slices for ${testNormal.length} normal ones; ${testNormal.length} anomalous slices sub-sampled to balance`);
  } else if (testNormal.length > testAnomalous.length) {
    balance = 'subsampled-normal';
    normal = subsample(testNormal, testAnomalous.length, mixSeed(seed, 3));
    notes.push(`test: fewer anomalous (${testAnomalous.length}) than normal (${testNormal.length}) slices; ${testAnomalous.length} normal slices sub-sampled to balance`);
  }
  const order = (x: SliceRef, y: SliceRef) => (x.caseId < y.caseId ? -1 : x.caseId > y.caseId ? 1 : x.z - y.z);
  const test = [...normal, ...anomalous].sort(order);
  if (train.length === 0) notes.push('the training set is empty: no normal slices in the train cases');

  const all = per.flatMap((c) => c.slices);
  const summary: SliceDatasetSummary = {
    cases: { total: cases.length, used: per.length, withLabel: per.length - unlabelled.length, withoutLabel: unlabelled.length, withAnomalies: withAnom.length, skipped },
    slices: {
      axis: 'axial',
      indices: per[0].slices.map((s) => s.z),
      total: all.length,
      normal: all.filter((s) => !s.anomalous).length,
      anomalous: all.filter((s) => s.anomalous).length,
    },
    train: { cases: trainIds.size, caseIds: [...trainIds].sort(), normal: train.length, anomalous: 0, anomalousLeftOut },
    test: {
      cases: testIds.size, caseIds: [...testIds].sort(), normal: normal.length, anomalous: anomalous.length,
      availableNormal: testNormal.length, availableAnomalous: testAnomalous.length, balance,
    },
    notes,
  };
  return { train, test, summary };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A short text rendering of the summary (what `anyad dataset` prints). */
export function formatDatasetSummary(s: SliceDatasetSummary, root?: string): string {
  const sl = s.slices;
  const range = sl.indices.length > 1 ? `${sl.indices[0]}–${sl.indices[sl.indices.length - 1]} every ${sl.indices[1] - sl.indices[0]}` : `${sl.indices[0]}`;
  const lines = [
    ...(root ? [`Slice dataset of ${root}`] : []),
    `cases:   ${s.cases.used} used (${s.cases.withAnomalies} with anomalous slices, ${s.cases.withoutLabel} without label)${s.cases.skipped.length ? `, ${s.cases.skipped.length} skipped` : ''}`,
    `slices:  axial ${range} (${sl.indices.length} per case): ${sl.total} in all, ${sl.normal} normal, ${sl.anomalous} anomalous`,
    `train:   ${plural(s.train.cases, 'case')}, ${s.train.normal} normal slices (${s.train.anomalousLeftOut} anomalous slices of train cases left out)`,
    `test:    ${plural(s.test.cases, 'case')}, ${s.test.normal} normal + ${s.test.anomalous} anomalous slices (available ${s.test.availableNormal} + ${s.test.availableAnomalous}; ${s.test.balance})`,
    ...s.notes.map((n) => `note:    ${n}`),
  ];
  return lines.join('\n');
}
