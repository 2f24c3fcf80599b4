/**
 * Child-process half of a provider check (see src/engine/graph/placement.ts, which spawns it
 * with ANYAD_ORT_LOG=verbose and reads onnxruntime's node placements from its stderr).
 *
 * For one preset: the detection graph and a training step's graph on the CPU provider and on
 * `--provider`, compared output by output (max |diff| / max |cpu|). The provider's sessions get
 * the log id of their part ('detect', 'train'), so the parent can tell whose placement it reads.
 * The last stdout line is one JSON object (ProviderCheckChildResult).
 *
 *   node --import tsx scripts/provider-check.ts --preset tiny-cpu --provider webgpu [--runs 1]
 *        [--parts detect,train,deviceLoop] [--train-batch 2] [--threads 0] [--placement-only]
 * --placement-only creates the device sessions without running them (placements, no agreement).
 * Part 'deviceLoop' (not run by default): training steps with the optimiser in the graph and the
 * parameters and state left on the device, against the host optimiser on the CPU (DeviceLoopCheck).
 */
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Graph, emitModel, relu } from '../src/engine/graph';
import { createSession, releaseAllSessions, releaseSession } from '../src/engine/graph/runtime';
import { type Placement, isPlacementLine, parsePlacements } from '../src/engine/graph/placement';
import type { ProviderChoice } from '../src/engine/graph/runtime';
import { parseWorkspaceConfig } from '../src/engine/config';
import { createRandomEncoderWeights } from '../src/engine/model/encoderWeights';
import { vitPreset } from '../src/engine/model/vitConfig';
import { phantomSliceRange, writePhantomCohort } from '../src/engine/phantom';
import { buildSliceDataset, discoverCases } from '../src/engine/study';
import { loadTrainingImages, trainAnyAD } from '../src/engine/train/anyad';
import {
  type DeviceLoopCheck,
  buildCheckModels,
  deviceLoopCheck,
  maxRelativeDifference,
  runCheckModel,
} from '../src/engine/model/providerCheck';

export interface PartResult {
  /** max |device − cpu| / max |cpu| over the part's outputs ('Infinity' when not finite). */
  maxRel: number | 'Infinity';
  worst: string;
  outputs: number;
  cpu: { sessionMs: number; runMedianMs: number };
  device: { sessionMs: number; runMedianMs: number };
}

export interface ProviderCheckResult {
  preset: string;
  requested: string;
  /** The provider the sessions got ('auto' resolved). */
  provider?: string;
  /** What provider 'auto' resolves to in the child's environment, and why not a faster one. */
  auto?: { provider: string; reasons: string[] };
  detect?: PartResult;
  train?: PartResult;
  deviceLoop?: DeviceLoopCheck;
  trainAnyAD?: TrainAnyADCheck;
  error?: string;
}

const PARTS = ['detect', 'train', 'deviceLoop', 'trainAnyAD'] as const;
type Part = (typeof PARTS)[number];

export interface TrainAnyADCheck {
  /** Whether the trainer put the optimiser in the graph (its log line). */
  optimizerInGraph: boolean;
  steps: number;
  /** max over steps of |loss − cpu loss| / |cpu loss|. */
  lossMaxRel: number;
  /** An evaluation mid-run saw the parameters of that step on the host (synced, not the initial ones). */
  evaluationSawTrainedParams: boolean;
  /** The returned parameters (synced at the end) are finite. */
  finalParamsFinite: boolean;
}

/**
 * The trainer itself (trainAnyAD: features, masking, steps, a mid-run evaluation) on a tiny
 * phantom cohort and encoder, on `provider` and on the CPU, 4 steps each.
 */
async function trainAnyADCheck(provider: ProviderChoice): Promise<TrainAnyADCheck> {
  const root = mkdtempSync(join(tmpdir(), 'anyad-train-check-'));
  try {
    const size: [number, number, number] = [48, 48, 24];
    await writePhantomCohort(root, { cases: 2, seed: 11, size, anomalousFraction: 0, workers: 0 });
    const cases = discoverCases(root);
    const ds = buildSliceDataset(cases, parseWorkspaceConfig({ data: { slices: phantomSliceRange(size[2]) } }, join(root, 'anyad.json')));
    const images = loadTrainingImages(
      cases,
      [...ds.train, ...ds.val, ...ds.test].filter((r) => !r.anomalous),
      { resize: 64, crop: 56 },
    );
    const vit = vitPreset('tiny', {
      embedDim: 32,
      numHeads: 4,
      depth: 4,
      targetLayers: [0, 1, 2, 3],
      fuseGroups: [
        [0, 1],
        [2, 3],
      ],
    });
    const encoder = createRandomEncoderWeights(vit, 3);
    const options = { images, encoder, seed: 5, batchSize: 2, lr: { baseValue: 1e-2, finalValue: 1e-3, warmupIters: 1 } };
    const start = [...(await trainAnyAD({ ...options, steps: 0, provider: 'cpu' })).params.values()][0].data.slice();
    const trainOn = async (p: ProviderChoice) => {
      const logs: string[] = [];
      let sawTrained = false;
      const r = await trainAnyAD({
        ...options,
        steps: 4,
        provider: p,
        evaluateEvery: 2,
        log: (m) => logs.push(m),
        onEvaluate: async (params) => {
          sawTrained = [...params.values()][0].data.some((v, i) => v !== start[i]);
          await Promise.resolve();
        },
      });
      return { r, logs, sawTrained };
    };
    const cpu = await trainOn('cpu');
    const dev = await trainOn(provider);
    const lossMaxRel = Math.max(...dev.r.history.map((h, i) => Math.abs(h.loss - cpu.r.history[i].loss) / Math.abs(cpu.r.history[i].loss)));
    return {
      optimizerInGraph: dev.logs.some((l) => /optimiser runs in the graph/.test(l)),
      steps: dev.r.history.length,
      lossMaxRel,
      evaluationSawTrainedParams: dev.sawTrained,
      finalParamsFinite: [...dev.r.params.values()].every((p) => p.data.every(Number.isFinite)),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export interface SpawnedCheck {
  result: ProviderCheckResult;
  /** onnxruntime's node placement of the device session of each part ('detect', 'train'). */
  placements: Map<string, Placement>;
  code: number | null;
  /** The last non-verbose stderr lines (errors). */
  stderrTail: string;
  ms: number;
}

/**
 * Runs this script in a child process with ANYAD_ORT_LOG=verbose (plus `env`) and reads its
 * JSON result and onnxruntime's placements (only placement lines of the log are kept).
 */
export function spawnProviderCheck(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<SpawnedCheck> {
  const t0 = performance.now();
  // stderr goes to a file, not a pipe: onnxruntime writes from several threads, and writes
  // into a full pipe are not atomic, so a placement line could arrive cut in two.
  const dir = mkdtempSync(join(tmpdir(), 'anyad-provider-check-'));
  const errFile = join(dir, 'stderr.log');
  const errFd = openSync(errFile, 'w');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, ...args], {
      env: { ...process.env, ...opts.env, ANYAD_ORT_LOG: 'verbose' },
      stdio: ['ignore', 'pipe', errFd],
    });
    closeSync(errFd);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const limit = opts.timeoutMs ?? 600_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limit);
    child.on('error', (e) => {
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const kept: string[] = [];
      const tail: string[] = [];
      let inShader = false;
      const lines = createInterface({ input: createReadStream(errFile) });
      lines.on('line', (line) => {
        if (isPlacementLine(line)) {
          kept.push(line);
          return;
        }
        // Verbose onnxruntime lines and WebGPU shader listings are noise for an error report.
        if (/^=== WebGPU Shader code .* Start ===/.test(line)) {
          inShader = true;
          return;
        }
        if (inShader) {
          inShader = !/^=== WebGPU Shader code .* End ===/.test(line);
          return;
        }
        if (/^\d{4}-\d\d-\d\d .*\[[VIW]:onnxruntime/.test(line) || line.trim() === '') return;
        tail.push(line);
        if (tail.length > 40) tail.shift();
      });
      lines.on('close', () => {
        rmSync(dir, { recursive: true, force: true });
        const last = stdout.trim().split('\n').pop() ?? '';
        const why = timedOut ? `timed out after ${Math.round(limit / 1000)} s` : signal ? `killed by ${signal}` : `exit ${code}`;
        let result: ProviderCheckResult;
        try {
          result = JSON.parse(last) as ProviderCheckResult;
        } catch {
          result = { preset: '?', requested: '?', error: `no result (${why}): ${tail.slice(-8).join('\n')}` };
        }
        resolvePromise({
          result,
          placements: parsePlacements(kept.join('\n')),
          code,
          stderrTail: tail.join('\n'),
          ms: performance.now() - t0,
        });
      });
    });
  });
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const preset = arg('preset', 'tiny-cpu');
  const provider = arg('provider', 'webgpu') as ProviderChoice;
  const runs = Number(arg('runs', '1'));
  const threads = Number(arg('threads', '0'));
  const parts = arg('parts', 'detect,train')
    .split(',')
    .filter((p): p is Part => (PARTS as readonly string[]).includes(p));
  const t0 = performance.now();
  const models = buildCheckModels(preset, { trainBatch: Number(arg('train-batch', '2')) });
  const buildMs = performance.now() - t0;
  const result: Record<string, unknown> = { preset, requested: provider, buildMs };
  // What 'auto' picks in this environment (same drivers, same env), on a one-node model.
  const probe = new Graph('auto-probe');
  probe.output('y', relu(probe.input('x', [1, 4])));
  const auto = await createSession(emitModel(probe), { provider: 'auto', log: () => {} });
  result.auto = { provider: auto.provider, reasons: auto.fallbackReasons };
  await releaseSession(auto);
  const placementOnly = process.argv.includes('--placement-only');
  for (const part of parts) {
    if (part === 'trainAnyAD') {
      if (!placementOnly) result.trainAnyAD = await trainAnyADCheck(provider);
      continue;
    }
    if (part === 'deviceLoop') {
      // Training steps with the optimiser in the graph, parameters and state left on the device.
      if (!placementOnly)
        result.deviceLoop = await deviceLoopCheck(preset, provider, { threads, trainBatch: Number(arg('train-batch', '2')) });
      continue;
    }
    const m = models[part];
    if (placementOnly) {
      // onnxruntime logs the placement when the session is created: no run needed.
      const s = await createSession(m.bytes, { provider, threads, logId: part });
      result.provider = s.provider;
      await releaseSession(s);
      continue;
    }
    const cpu = await runCheckModel(m, 'cpu', { threads, runs });
    const dev = await runCheckModel(m, provider, { threads, runs, logId: part });
    const { maxRel, worst } = maxRelativeDifference(cpu.outputs, dev.outputs);
    result.provider = dev.provider;
    result[part] = {
      maxRel: Number.isFinite(maxRel) ? maxRel : 'Infinity',
      worst,
      outputs: Object.keys(cpu.outputs).length,
      cpu: { sessionMs: cpu.sessionMs, runMedianMs: cpu.runMedianMs },
      device: { sessionMs: dev.sessionMs, runMedianMs: dev.runMedianMs },
    };
  }
  await releaseAllSessions();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stdout.write(`${JSON.stringify({ error: (e as Error).message })}\n`);
    process.exitCode = 1;
  });
}
