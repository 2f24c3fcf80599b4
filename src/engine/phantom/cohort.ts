/**
 * Writing a phantom cohort in BraTS 2018 layout:
 *   DIR/Phantom_0001/Phantom_0001_{flair,t1,t1ce,t2,seg}.nii.gz   (int16 images, uint8 labels)
 * plus DIR/phantom.json (what was generated) and, if absent, DIR/anyad.json (a workspace
 * config whose slice range fits the grid).
 *
 * Cases are independent (each has its own seed derived from the cohort seed and its index),
 * so they are generated and written in parallel on worker threads; the bytes do not depend
 * on the number of workers. The worker runs this same module: it is started with a tiny
 * script that `require`s this file (or the bundle it was built into), and the check at the
 * bottom of this file turns that thread into a case writer. Where that is impossible (a
 * bundle that cannot load off the main thread, e.g. inside the VS Code extension host),
 * the cohort is written on the calling thread instead.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { StudyError } from '../errors';
import { writeNifti } from '../nifti';
import { mkdirs, writeFileAtomic } from '../util/atomic';
import { createRng, mixSeed } from '../util/random';
import { PHANTOM_SEQUENCES } from './contrast';
import { checkPhantomSize, DEFAULT_PHANTOM_SIZE, generatePhantomArrays } from './generate';
import type { LesionInfo } from './lesions';

export const DEFAULT_ANOMALOUS_FRACTION = 0.7;

export interface PhantomCohortOptions {
  cases: number;
  seed: number;
  /** Grid size, default 240×240×155. */
  size?: readonly [number, number, number];
  /** Fraction of cases with lesions (exactly round(fraction × cases) of them); default 0.7. */
  anomalousFraction?: number;
  /** Worker threads; default min(cases, CPU count). 0 writes on the calling thread. */
  workers?: number;
  /** zlib level of the .nii.gz files; default 1 (fast). */
  gzipLevel?: number;
  /** Called after each case is written (in completion order). */
  onCase?: (summary: PhantomCaseSummary, done: number, total: number) => void;
}

export interface PhantomCaseSummary {
  id: string;
  dir: string;
  seed: number;
  anomalous: boolean;
  files: Record<'flair' | 't1' | 't1ce' | 't2' | 'seg', string>;
  /** Voxel counts of labels 1, 2 and 4. */
  labelVoxels: { necrotic: number; edema: number; enhancing: number };
  lesions: Pick<LesionInfo, 'center' | 'radii' | 'kind' | 'weakSequence' | 'voxels'>[];
}

export interface PhantomCohortSummary {
  outDir: string;
  seed: number;
  size: [number, number, number];
  anomalousFraction: number;
  cases: PhantomCaseSummary[];
  /** Worker threads actually used (0: the calling thread). */
  workers: number;
  /** Whether DIR/anyad.json was written (it is never overwritten). */
  configWritten: boolean;
}

interface CaseTask {
  index: number;
  id: string;
  seed: number;
  anomalous: boolean;
  size: [number, number, number];
  outDir: string;
  gzipLevel: number;
}

/** 'Phantom_0001' for index 0. */
export function phantomCaseId(index: number): string {
  return `Phantom_${String(index + 1).padStart(4, '0')}`;
}

/** The paper's axial slices 80–120 (every 5th) of 155, scaled to a grid of `nz` slices. */
export function phantomSliceRange(nz: number): { start: number; end: number; step: number } {
  return { start: Math.round((80 * nz) / 155), end: Math.round((120 * nz) / 155), step: Math.max(1, Math.round((5 * nz) / 155)) };
}

/** Generates one case and writes its 5 files; returns what was written. */
export function writePhantomCase(task: Omit<CaseTask, 'index'>): PhantomCaseSummary {
  const arrays = generatePhantomArrays({ seed: task.seed, size: task.size, anomalous: task.anomalous });
  const dir = join(task.outDir, task.id);
  mkdirs(dir); // typed errors (Node's recursive mkdir says ENOENT on a read-only disk)
  const files = {} as PhantomCaseSummary['files'];
  const file = (suffix: string) => join(dir, `${task.id}_${suffix}.nii.gz`);
  const description = `AnyAD phantom ${task.id} seed ${task.seed}`;
  for (const seq of PHANTOM_SEQUENCES) {
    files[seq] = file(seq);
    writeNifti(
      files[seq],
      { dims: arrays.dims, affine: arrays.affine, data: arrays.images[seq] },
      { datatype: 'int16', gzipLevel: task.gzipLevel, description },
    );
  }
  files.seg = file('seg');
  writeNifti(
    files.seg,
    { dims: arrays.dims, affine: arrays.affine, data: arrays.seg },
    { datatype: 'uint8', gzipLevel: task.gzipLevel, description },
  );
  const labelVoxels = { necrotic: 0, edema: 0, enhancing: 0 };
  for (const l of arrays.lesions) {
    labelVoxels.necrotic += l.voxels.necrotic;
    labelVoxels.edema += l.voxels.edema;
    labelVoxels.enhancing += l.voxels.enhancing;
  }
  return {
    id: task.id,
    dir,
    seed: task.seed,
    anomalous: task.anomalous,
    files,
    labelVoxels,
    lesions: arrays.lesions.map(({ center, radii, kind, weakSequence, voxels }) => ({
      center,
      radii: radii.map((r) => Math.round(r * 100) / 100) as [number, number, number],
      kind,
      weakSequence,
      voxels,
    })),
  };
}

export async function writePhantomCohort(outDir: string, opts: PhantomCohortOptions): Promise<PhantomCohortSummary> {
  const { cases, seed } = opts;
  if (!Number.isInteger(cases) || cases < 1 || cases > 9999)
    throw new StudyError('phantom/bad-option', `cases must be an integer 1..9999, got ${cases}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new StudyError('phantom/bad-option', `seed must be an integer 0..4294967295, got ${seed}`);
  const fraction = opts.anomalousFraction ?? DEFAULT_ANOMALOUS_FRACTION;
  if (!(fraction >= 0 && fraction <= 1))
    throw new StudyError('phantom/bad-option', `anomalous fraction must be in [0, 1], got ${fraction}`);
  const size = checkPhantomSize(opts.size ?? DEFAULT_PHANTOM_SIZE);
  const gzipLevel = opts.gzipLevel ?? 1;
  const root = resolve(outDir);
  mkdirs(root);

  // Exactly round(fraction × cases) anomalous cases, chosen by the seed.
  const order = createRng(mixSeed(seed, 0x5eed)).shuffle([...Array(cases).keys()]);
  const anomalous = new Set(order.slice(0, Math.round(fraction * cases)));
  const tasks: CaseTask[] = [...Array(cases).keys()].map((index) => ({
    index,
    id: phantomCaseId(index),
    seed: mixSeed(seed, index + 1),
    anomalous: anomalous.has(index),
    size,
    outDir: root,
    gzipLevel,
  }));

  const { results, workers } = await writeCases(tasks, opts);

  const manifest = {
    generator: 'AnyAD phantom',
    seed,
    size,
    anomalousFraction: fraction,
    cases: results.map(({ id, seed: s, anomalous: a, labelVoxels, lesions }) => ({ id, seed: s, anomalous: a, labelVoxels, lesions })),
  };
  writeFileAtomic(join(root, 'phantom.json'), JSON.stringify(manifest, null, 2) + '\n');
  const configPath = join(root, 'anyad.json');
  const configWritten = !existsSync(configPath);
  if (configWritten) {
    const config = { data: { root: '.', slices: { axis: 'axial', ...phantomSliceRange(size[2]) } } };
    writeFileAtomic(configPath, JSON.stringify(config, null, 2) + '\n');
  }
  return { outDir: root, seed, size, anomalousFraction: fraction, cases: results, workers, configWritten };
}

/** Writes every case, on worker threads when they start (else here); results in case order. */
async function writeCases(tasks: CaseTask[], opts: PhantomCohortOptions): Promise<{ results: PhantomCaseSummary[]; workers: number }> {
  const cases = tasks.length;
  const wanted = Math.max(0, Math.min(opts.workers ?? availableParallelism(), cases));
  const results = new Array<PhantomCaseSummary>(cases);
  let done = 0;
  const record = (index: number, s: PhantomCaseSummary) => {
    results[index] = s;
    opts.onCase?.(s, ++done, cases);
  };
  let workers = 0;
  if (wanted > 0) {
    const pool = await startWorkers(wanted);
    if (pool) {
      workers = pool.length;
      await runOnWorkers(pool, tasks, record);
    }
  }
  if (workers === 0) {
    for (const t of tasks) {
      record(t.index, writePhantomCase(t));
      await new Promise((r) => setImmediate(r)); // let progress callbacks and cancellation run
    }
  }
  return { results, workers };
}

// ---- worker threads ----

const WORKER_TAG = 'anyad-phantom-writer';

type WorkerReply =
  { type: 'ready' } | { type: 'done'; index: number; summary: PhantomCaseSummary } | { type: 'failed'; index: number; message: string };

/** tsx's require hook: only needed when this module runs from TypeScript source (tests). */
const TSX_REQUIRE_HOOK = 'tsx/cjs';

/** Source of the worker: load this module (through tsx when running from TypeScript). */
function workerSource(): string {
  const self = __filename;
  const tsLoader = /\.[cm]?ts$/.test(self) ? `require(${JSON.stringify(require.resolve(TSX_REQUIRE_HOOK))});` : '';
  return `${tsLoader}require(${JSON.stringify(self)});`;
}

/** Starts `count` workers and waits until each has loaded; undefined if any cannot start. */
async function startWorkers(count: number): Promise<Worker[] | undefined> {
  const pool: Worker[] = [];
  const starts: Promise<boolean>[] = [];
  for (let w = 0; w < count; w++) {
    const worker = new Worker(workerSource(), { eval: true, workerData: { tag: WORKER_TAG } });
    pool.push(worker);
    starts.push(
      new Promise((res) => {
        worker.once('message', (m: WorkerReply) => res(m.type === 'ready'));
        worker.once('error', () => res(false));
        worker.once('exit', () => res(false));
      }),
    );
  }
  const ok = (await Promise.all(starts)).every(Boolean);
  if (!ok) {
    await Promise.all(pool.map((w) => w.terminate()));
    return undefined;
  }
  return pool;
}

function runOnWorkers(pool: Worker[], tasks: CaseTask[], record: (index: number, s: PhantomCaseSummary) => void): Promise<void> {
  return new Promise((resolveAll, rejectAll) => {
    let next = 0;
    let finished = 0;
    let closing = false;
    const close = (e?: Error) => {
      if (closing) return;
      closing = true;
      void Promise.all(pool.map((w) => w.terminate())).then(() => (e ? rejectAll(e) : resolveAll()));
    };
    const feed = (w: Worker) => {
      if (next < tasks.length) w.postMessage(tasks[next++]);
    };
    for (const w of pool) {
      w.on('message', (m: WorkerReply) => {
        if (closing) return;
        if (m.type === 'failed')
          return close(new StudyError('phantom/write-failed', `phantom case ${tasks[m.index].id}: ${m.message}`, tasks[m.index].outDir));
        if (m.type !== 'done') return;
        record(m.index, m.summary);
        if (++finished === tasks.length) close();
        else feed(w);
      });
      w.on('error', (e) => close(e));
      w.on('exit', (code) => {
        if (!closing) close(new Error(`phantom worker exited early with code ${code}`));
      });
      feed(w);
    }
  });
}

if (!isMainThread && parentPort && (workerData as { tag?: string } | null)?.tag === WORKER_TAG) {
  const port = parentPort;
  port.on('message', (task: CaseTask) => {
    try {
      port.postMessage({ type: 'done', index: task.index, summary: writePhantomCase(task) } satisfies WorkerReply);
    } catch (e) {
      port.postMessage({ type: 'failed', index: task.index, message: (e as Error)?.message ?? String(e) } satisfies WorkerReply);
    }
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}
