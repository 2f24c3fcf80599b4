/**
 * Cohort scan: every case under a root, whole-volume detection with one bundle, each 3-D map
 * written on its source file's grid, then a per-case and a per-slice CSV and a markdown
 * summary sorted by score (case score = its highest slice score).
 *
 *   OUT/maps/<case>_anomaly_map.nii.gz   float32, the reference sequence's exact grid
 *   OUT/cases/<case>.json                the case's record, written last (atomically)
 *   OUT/cases.csv, OUT/slices.csv, OUT/summary.md
 *
 * Resumable: a case is skipped when its record exists for the same model (SHA-256 of
 * model.onnx) and modalities and its map file has the recorded size; a kill leaves at worst a
 * map without a record, which is redone. `shard` {index, count} takes every count-th case, so
 * several processes (anyad scan --workers N) share a cohort; the summary pass reads every record.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readRegularTextFile } from '../util/fileio';
import { join, resolve } from 'node:path';
import { defaultWorkspaceConfig, loadWorkspaceConfig, type WorkspaceConfig } from '../config';
import { ConfigError, StudyError } from '../errors';
import type { ProviderChoice } from '../graph/runtime';
import { type LoadedBundle, loadBundle } from '../model/bundle';
import { writeOnSourceGrid } from '../nifti';
import { type Case, discoverStudy } from '../study/discover';
import { requireCases } from '../study/workspaceDataset';
import { writeFileAtomic } from '../util/atomic';
import { detectCase } from './detectCase';
import type { WarmState } from './warm';

export const SCAN_FILES = Object.freeze({
  cases: 'cases.csv',
  slices: 'slices.csv',
  summary: 'summary.md',
  records: 'cases',
  maps: 'maps',
});
const RECORD_VERSION = 1;

export interface ScanProgress {
  /** Cases finished (scanned, skipped or failed) of `total`. */
  done: number;
  total: number;
  caseId: string;
  status: 'scanned' | 'skipped' | 'failed';
  /** Estimated seconds left, from the mean time of the cases scanned in this run. */
  etaSec: number | null;
  message: string;
}

export interface ScanOptions {
  root: string;
  model: string | LoadedBundle;
  out: string;
  /** Workspace config (sequence rules); default ROOT/anyad.json when present. */
  config?: string;
  modalities?: readonly string[];
  provider: ProviderChoice;
  threads: number;
  batchSize?: number;
  /** Only cases i with i % count === index (a worker's share); no summary is written. */
  shard?: { index: number; count: number };
  signal?: AbortSignal;
  log?: (message: string) => void;
  onProgress?: (p: ScanProgress) => void;
  warm?: WarmState;
}

export interface ScanSliceRecord {
  z: number;
  score: number;
  threshold: number | null;
  anomalous: boolean | null;
}

export interface ScanCaseRecord {
  version: number;
  caseId: string;
  files: Record<string, string>;
  subset: string;
  modalities: string[];
  modelSha256: string;
  provider: string;
  score: number;
  meanScore: number;
  anomalousSlices: number;
  threshold: number | null;
  map: string;
  mapBytes: number;
  seconds: number;
  slices: ScanSliceRecord[];
}

export interface ScanSummary {
  cases: number;
  scanned: number;
  skipped: number;
  failed: number;
  failures: Array<{ caseId: string; message: string }>;
  summary: string;
  casesCsv: string;
  slicesCsv: string;
}

function scanConfig(root: string, config?: string): WorkspaceConfig {
  if (config) {
    const c = loadWorkspaceConfig(config);
    return { ...c, data: { ...c.data, root } };
  }
  const beside = join(root, 'anyad.json');
  if (existsSync(beside)) {
    const c = loadWorkspaceConfig(beside);
    return { ...c, data: { ...c.data, root } };
  }
  return defaultWorkspaceConfig(root);
}

/** A file name for a case id (ids come from file names, but keep the output folder flat and portable). */
export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200) || 'case';
}

function readRecord(path: string): ScanCaseRecord | undefined {
  try {
    const r = JSON.parse(readRegularTextFile(path, { maxBytes: 64 * 1024 * 1024 })) as ScanCaseRecord;
    return r && r.version === RECORD_VERSION && Array.isArray(r.slices) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The record of a finished case that this run can keep, or undefined (redo it). */
function completeRecord(out: string, kase: Case, modelSha: string, modalities: string[] | undefined): ScanCaseRecord | undefined {
  const r = readRecord(join(out, SCAN_FILES.records, `${safeName(kase.id)}.json`));
  if (!r || r.modelSha256 !== modelSha || r.caseId !== kase.id) return undefined;
  if (modalities && r.modalities.join(',') !== modalities.join(',')) return undefined;
  try {
    return statSync(join(out, r.map)).size === r.mapBytes ? r : undefined;
  } catch {
    return undefined;
  }
}

type CsvValue = string | number | boolean | null | undefined;

function csvField(v: CsvValue): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const csvLine = (fields: CsvValue[]) => fields.map(csvField).join(',') + '\n';

function writeSummaries(
  out: string,
  records: ScanCaseRecord[],
  failures: Array<{ caseId: string; message: string }>,
  modelDir: string,
): Pick<ScanSummary, 'summary' | 'casesCsv' | 'slicesCsv'> {
  const sorted = [...records].sort((a, b) => b.score - a.score || a.caseId.localeCompare(b.caseId));
  const casesCsv = join(out, SCAN_FILES.cases);
  const slicesCsv = join(out, SCAN_FILES.slices);
  const summary = join(out, SCAN_FILES.summary);
  writeFileAtomic(
    casesCsv,
    csvLine(['rank', 'case', 'score', 'mean_score', 'anomalous_slices', 'slices', 'threshold', 'subset', 'map']) +
      sorted
        .map((r, i) => csvLine([i + 1, r.caseId, r.score, r.meanScore, r.anomalousSlices, r.slices.length, r.threshold, r.subset, r.map]))
        .join(''),
  );
  writeFileAtomic(
    slicesCsv,
    csvLine(['case', 'z', 'score', 'threshold', 'anomalous']) +
      sorted.flatMap((r) => r.slices.map((s) => csvLine([r.caseId, s.z, s.score, s.threshold, s.anomalous]))).join(''),
  );
  const fmt = (x: number | null) => (x === null ? '—' : x.toFixed(4));
  const md = [
    '# AnyAD cohort scan',
    '',
    `Model: \`${modelDir}\`. ${records.length} case${records.length === 1 ? '' : 's'} scanned${failures.length ? `, ${failures.length} failed` : ''}; sorted by case score (the highest slice score).`,
    "A slice is anomalous when its score is above the model's threshold for the sequences used.",
    '',
    '| rank | case | score | anomalous slices | threshold | sequences | map |',
    '|---:|---|---:|---:|---:|---|---|',
    ...sorted.map(
      (r, i) =>
        `| ${i + 1} | ${r.caseId.replace(/\|/g, '\\|')} | ${r.score.toFixed(4)} | ${r.anomalousSlices} of ${r.slices.length} | ${fmt(r.threshold)} | ${r.subset} | [${r.map}](${encodeURI(r.map)}) |`,
    ),
    ...(failures.length ? ['', '## Failed', '', ...failures.map((f) => `- ${f.caseId}: ${f.message}`)] : []),
    '',
    `Per case: [${SCAN_FILES.cases}](${SCAN_FILES.cases}); per slice: [${SCAN_FILES.slices}](${SCAN_FILES.slices}).`,
    '',
  ].join('\n');
  writeFileAtomic(summary, md);
  return { summary, casesCsv, slicesCsv };
}

/** The cohort's cases in id order, or this shard's share of them. */
function casesToScan(root: string, o: ScanOptions): Case[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new StudyError('study/not-found', 'no such folder', root);
  const config = scanConfig(root, o.config);
  const found = discoverStudy(root, config);
  for (const w of found.warnings) o.log?.(`warning: ${w}`);
  const all = requireCases(found, root).cases;
  const sorted = [...all].sort((a, b) => a.id.localeCompare(b.id));
  const shard = o.shard;
  if (
    shard &&
    !(Number.isInteger(shard.count) && shard.count >= 1 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)
  ) {
    throw new ConfigError('cli/bad-option', `shard must be INDEX/COUNT with 0 <= INDEX < COUNT, got ${shard.index}/${shard.count}`);
  }
  return shard ? sorted.filter((_, i) => i % shard.count === shard.index) : sorted;
}

/** Detects on one case, writes its map and then its record (whose presence says the map is complete). */
async function scanOneCase(
  o: ScanOptions,
  kase: Case,
  bundle: LoadedBundle,
  requested: string[] | undefined,
  out: string,
): Promise<ScanCaseRecord> {
  const t0 = performance.now();
  const r = await detectCase({
    model: bundle,
    case: kase,
    modalities: requested,
    slice: 'all',
    provider: o.provider,
    threads: o.threads,
    batchSize: o.batchSize,
    signal: o.signal,
    log: o.log,
    warm: o.warm,
  });
  const v = r.result;
  if (!('slices' in v)) throw new Error('internal: a volume detection returned a slice');
  const mapRel = `${SCAN_FILES.maps}/${safeName(kase.id)}_anomaly_map.nii.gz`;
  writeOnSourceGrid(join(out, mapRel), v.source, v.map.data, {
    datatype: 'float32',
    description: `AnyAD anomaly map (${v.subset.label})`,
  });
  const scores = v.slices.map((s) => s.score);
  const record: ScanCaseRecord = {
    version: RECORD_VERSION,
    caseId: kase.id,
    files: Object.fromEntries(Object.entries(kase.files).filter(([, f]) => f)),
    subset: v.subset.label,
    modalities: requested ?? [...v.subset.channels],
    modelSha256: bundle.manifest.files['model.onnx']?.sha256 ?? '',
    provider: v.provider,
    score: Math.max(...scores),
    meanScore: scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length),
    anomalousSlices: v.slices.filter((s) => s.anomalous).length,
    threshold: v.slices[0]?.threshold ?? null,
    map: mapRel,
    mapBytes: statSync(join(out, mapRel)).size,
    seconds: (performance.now() - t0) / 1000,
    slices: v.slices.map((s) => ({ z: s.z, score: s.score, threshold: s.threshold, anomalous: s.anomalous })),
  };
  writeFileAtomic(join(out, SCAN_FILES.records, `${safeName(kase.id)}.json`), JSON.stringify(record) + '\n');
  return record;
}

export async function scanCohort(o: ScanOptions): Promise<ScanSummary> {
  const root = resolve(o.root);
  const out = resolve(o.out);
  const cases = casesToScan(root, o);
  const shard = o.shard;
  const bundle = typeof o.model !== 'string' ? o.model : o.warm ? o.warm.bundle(o.model) : loadBundle(o.model);
  const modelSha = bundle.manifest.files['model.onnx']?.sha256 ?? '';
  const requested = o.modalities?.map((m) => m.trim().toLowerCase()).filter((m) => m !== '');
  mkdirSync(join(out, SCAN_FILES.records), { recursive: true });
  mkdirSync(join(out, SCAN_FILES.maps), { recursive: true });

  const records: ScanCaseRecord[] = [];
  const failures: Array<{ caseId: string; message: string }> = [];
  let scanned = 0;
  let skipped = 0;
  let scanSeconds = 0;
  for (let i = 0; i < cases.length; i++) {
    o.signal?.throwIfAborted();
    const kase = cases[i];
    let status: ScanProgress['status'];
    const done = completeRecord(out, kase, modelSha, requested);
    if (done) {
      records.push(done);
      skipped++;
      status = 'skipped';
    } else {
      try {
        const record = await scanOneCase(o, kase, bundle, requested, out);
        records.push(record);
        scanned++;
        scanSeconds += record.seconds;
        status = 'scanned';
      } catch (e) {
        if ((e as Error)?.name === 'AbortError') throw e;
        failures.push({ caseId: kase.id, message: (e as Error)?.message ?? String(e) });
        o.log?.(`case ${kase.id} failed: ${(e as Error)?.message ?? String(e)}`);
        status = 'failed';
      }
    }
    const left = cases.length - i - 1;
    const etaSec = scanned > 0 ? (scanSeconds / scanned) * left : null;
    o.onProgress?.({
      done: i + 1,
      total: cases.length,
      caseId: kase.id,
      status,
      etaSec,
      message: `case ${i + 1}/${cases.length} ${kase.id} ${status}${etaSec !== null ? ` · ETA ${Math.round(etaSec)} s` : ''}`,
    });
  }
  if (shard) return { cases: cases.length, scanned, skipped, failed: failures.length, failures, summary: '', casesCsv: '', slicesCsv: '' };
  const files = writeSummaries(out, records, failures, bundle.dir);
  return { cases: cases.length, scanned, skipped, failed: failures.length, failures, ...files };
}
