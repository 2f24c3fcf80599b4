/**
 * Where the memory of a training step goes (not a test): one head training step (forward +
 * backward on cached-feature-shaped inputs, as bench:speed) of a preset at a batch size, in a
 * child process per configuration, with onnxruntime's CPU arena and memory pattern on or off;
 * each child's peak RSS, the step time, and the bytes a step moves between the host and the
 * session (inputs fed + outputs fetched: parameters in, gradients out, the batch). A watchdog
 * kills a child whose RSS passes --cap-mb (default 12000), so a shared machine is never pushed
 * out of memory. Also: the graph's own account — parameters, gradients and the forward
 * activations the backward reads (what must be alive at the start of the backward).
 *
 *   node --import tsx bench/train-memory.ts [--preset paper] [--batches 2,4] [--cap-mb 12000]
 *   node --import tsx bench/train-memory.ts --ab 3 --preset cpu --batches 16 [--steps 3]   (time A/B, interleaved)
 *   node --import tsx bench/train-memory.ts --ab 5 --preset cpu --batches 16 --trees .,/tmp/base --configs on-off
 *     (the same A/B between checkouts, e.g. before and after a graph change: each tree runs its
 *     own bench/train-memory.ts child; the other tree needs node_modules reachable from it)
 *   node --import tsx bench/train-memory.ts --paired /tmp/base,. --preset cpu --batches 16 [--pairs 12] [--arena-a off] [--arena-b off] [--lean-a] [--lean-b]
 *     (step time of two checkouts' training graphs in ONE process, steps alternating A,B,B,A…,
 *     so load swings on a shared machine hit both alike: median of the per-pair ratios B/A)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LEAN_MEMORY_OPTIMIZERS_OFF } from '../src/engine/graph/runtime';
import { type Tensor, emitModel, liveNodes } from '../src/engine/graph';
import { type ChannelStats, initModalityAffine } from '../src/engine/model/alignment';
import { headConfig, initHeadParams } from '../src/engine/model/headWeights';
import { DEFAULT_OBJECTIVE, TRAINING_GRAPH_NAMES, buildTrainingGraph, copyObjective } from '../src/engine/model/losses';
import { modelPreset } from '../src/engine/model/presets';
import { createRng } from '../src/engine/util/random';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const MB = 2 ** 20;

/** The training graph of a preset at batch b (`buildGraph`: this checkout's, or another's for --paired). */
function build(presetName: string, b: number, buildGraph: typeof buildTrainingGraph = buildTrainingGraph) {
  const preset = modelPreset(presetName);
  const s = preset.geometry.crop / preset.encoder.patchSize;
  const cfg = headConfig(preset.encoder.embedDim, preset.encoder.numHeads);
  const weights = initHeadParams(cfg, 7);
  for (const [k, v] of initModalityAffine(cfg.dim)) weights.set(k, v);
  const d = cfg.dim;
  const stats: ChannelStats[] = [0, 1].map(() => ({ mean: new Float32Array(d), std: new Float32Array(d).fill(1), count: 1 }));
  const { graph } = buildGraph({ batch: b, side: s, head: cfg, weights, objective: copyObjective(DEFAULT_OBJECTIVE), stats });
  return { graph, weights, s, d };
}

/** Seeded random cached-feature inputs of the training graph, and every parameter. */
function batchFeeds(b: number, s: number, d: number, weights: ReturnType<typeof build>['weights']): Record<string, ort.Tensor> {
  const rng = createRng(3);
  const normal = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const N = TRAINING_GRAPH_NAMES;
  const feeds: Record<string, ort.Tensor> = {
    [N.fused]: new ort.Tensor('float32', normal(b * s * s * d), [b, s * s, d]),
    [N.en0]: new ort.Tensor('float32', normal(b * d * s * s), [b, d, s, s]),
    [N.en1]: new ort.Tensor('float32', normal(b * d * s * s), [b, d, s, s]),
    [N.subset]: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: b }, (_, i) => BigInt(i % 7)),
      [b],
    ),
  };
  for (const [k, v] of weights) feeds[k] = new ort.Tensor('float32', v.data, v.shape);
  return feeds;
}

/** The graph's own account: parameter and gradient bytes, and forward values a backward node reads. */
function account(presetName: string, b: number) {
  const { graph, weights } = build(presetName, b);
  const nodes = liveNodes(graph);
  const bytes = (t: Tensor) => t.size * (t.dtype === 'float64' || t.dtype === 'int64' ? 8 : t.dtype === 'bool' ? 1 : 4);
  const kept = new Set<Tensor>();
  for (const n of nodes) {
    if (!n.outputs.some((o) => o.name.startsWith('grad/'))) continue;
    for (const t of n.inputs) if (t && t.kind === 'value' && !t.name.startsWith('grad/')) kept.add(t);
  }
  const params = [...weights.values()].reduce((a, w) => a + w.data.length * 4, 0);
  const top = [...kept]
    .sort((x, y) => bytes(y) - bytes(x))
    .slice(0, 8)
    .map((t) => `${t.name} [${t.shape.join('×')}] ${(bytes(t) / MB).toFixed(0)} MB`);
  return {
    paramsMb: params / MB,
    gradsMb: params / MB,
    keptForBackwardMb: [...kept].reduce((a, t) => a + bytes(t), 0) / MB,
    keptTensors: kept.size,
    largestKept: top,
  };
}

async function child(): Promise<void> {
  const presetName = arg('preset', 'paper');
  const b = Number(arg('batch', '4'));
  const { graph, weights, s, d } = build(presetName, b);
  const bytesModel = emitModel(graph, { paramsAs: 'inputs' });
  const session = await ort.InferenceSession.create(bytesModel, {
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    enableCpuMemArena: arg('arena', 'on') === 'on',
    enableMemPattern: arg('pattern', 'on') === 'on',
  });
  const feeds = batchFeeds(b, s, d, weights);
  const fetch = session.outputNames;
  let out = await session.run(feeds, fetch);
  const times: number[] = [];
  for (let i = 0; i < Number(arg('steps', '1')); i++) {
    const t0 = performance.now();
    out = await session.run(feeds, fetch);
    times.push(performance.now() - t0);
  }
  const stepMs = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)];
  const fed = Object.values(feeds).reduce((a, t) => a + (t.data as ArrayBufferView).byteLength, 0);
  const fetched = Object.values(out).reduce((a, t) => a + (t.data as ArrayBufferView).byteLength, 0);
  process.stdout.write(
    `${JSON.stringify({ peakRssMb: process.resourceUsage().maxRSS / 1024, stepMs, hostToDeviceMb: fed / MB, deviceToHostMb: fetched / MB })}\n`,
  );
}

function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Runs one measuring child: this file, or the same file in another checkout `tree`. */
function runChild(args: string[], capMb: number, tree?: string): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise) => {
    const script = tree ? resolve(tree, 'bench', 'train-memory.ts') : __filename;
    const c = spawn(process.execPath, ['--import', 'tsx', script, '--child', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      ...(tree ? { cwd: resolve(tree) } : {}),
    });
    let out = '';
    let killed = false;
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const watch = setInterval(() => {
      if (rssMb(c.pid!) > capMb) {
        killed = true;
        c.kill('SIGKILL');
      }
    }, 100);
    c.on('close', () => {
      clearInterval(watch);
      try {
        resolvePromise(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        resolvePromise({ error: killed ? `killed above ${capMb} MB RSS` : 'failed' });
      }
    });
  });
}

/**
 * --ab N: onnxruntime's default (arena and memory pattern on) against `--configs` (default
 * arena on + pattern off, and both off), in rotating order, N children each (each reports the
 * median of --steps steps): the time cost of each leaner setting. With --trees A,B each
 * setting runs in each checkout (named 'tree:arena-pattern'): a graph change's time and memory.
 */
async function ab(preset: string, b: number, rounds: number, cap: number): Promise<void> {
  const settings = arg('configs', 'on-on,on-off,off-off').split(',');
  const trees = process.argv.includes('--trees') ? arg('trees', '.').split(',') : [undefined];
  const configs = trees.flatMap((tree) => settings.map((c) => (tree === undefined ? c : `${tree}:${c}`)));
  const t: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
  const rss: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < configs.length; k++) {
      const name = configs[(i + k) % configs.length];
      const tree = name.includes(':') ? name.slice(0, name.lastIndexOf(':')) : undefined;
      const [arena, pattern] = name.slice(name.lastIndexOf(':') + 1).split('-');
      const r = await runChild(
        ['--preset', preset, '--batch', String(b), '--arena', arena, '--pattern', pattern, '--steps', arg('steps', '3')],
        cap,
        tree,
      );
      if (typeof r.stepMs === 'number') {
        t[name].push(r.stepMs);
        rss[name].push(r.peakRssMb as number);
      }
      process.stdout.write(`  round ${i} arena-pattern ${name}: ${JSON.stringify(r)}\n`);
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  process.stdout.write(
    `${JSON.stringify({ bench: 'train-memory-ab', preset, batch: b, rounds, configs: Object.fromEntries(configs.map((c) => [c, { stepMedianMs: med(t[c]), peakRssMb: med(rss[c]), steps: t[c] }])) })}\n`,
  );
}

/** One training step's run of checkout `tree`'s graph (its own src, loaded by path), timed. */
async function timedStep(tree: string, presetName: string, b: number, arena: boolean, lean = false): Promise<() => Promise<number>> {
  const src = resolve(tree, 'src', 'engine');
  const graphMod = (await import(resolve(src, 'graph', 'index.ts'))) as typeof import('../src/engine/graph');
  const lossMod = (await import(resolve(src, 'model', 'losses.ts'))) as typeof import('../src/engine/model/losses');
  const { graph, weights, s, d } = build(presetName, b, lossMod.buildTrainingGraph);
  const session = await ort.InferenceSession.create(graphMod.emitModel(graph, { paramsAs: 'inputs' }), {
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    enableCpuMemArena: arena,
    enableMemPattern: false,
    // As runtime.ts's leanMemory sessions (--lean-b): GELU's rebuilt 1 + erf stays a node of its own.
    ...(lean ? { extra: { optimization: { disable_specified_optimizers: LEAN_MEMORY_OPTIMIZERS_OFF } } } : {}),
  });
  const feeds = batchFeeds(b, s, d, weights);
  return async () => {
    const t0 = performance.now();
    await session.run(feeds);
    return performance.now() - t0;
  };
}

async function paired(trees: string[], presetName: string, b: number, pairs: number): Promise<void> {
  const [a, bTree] = trees;
  const runA = await timedStep(a, presetName, b, arg('arena-a', 'on') === 'on', process.argv.includes('--lean-a'));
  const runB = await timedStep(bTree, presetName, b, arg('arena-b', 'on') === 'on', process.argv.includes('--lean-b'));
  await runA(); // warm-up
  await runB();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // Alternate which goes first, so a drift in load within a pair cancels over pairs.
    if (i % 2 === 0) {
      ta.push(await runA());
      tb.push(await runB());
    } else {
      tb.push(await runB());
      ta.push(await runA());
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const ratios = tb.map((t, i) => t / ta[i]);
  process.stdout.write(
    `${JSON.stringify({ bench: 'train-memory-paired', preset: presetName, batch: b, a, b: bTree, arenaA: arg('arena-a', 'on'), arenaB: arg('arena-b', 'on'), leanA: process.argv.includes('--lean-a'), leanB: process.argv.includes('--lean-b'), pairs, stepMedianMsA: med(ta), stepMedianMsB: med(tb), medianRatioBOverA: med(ratios), ratios })}\n`,
  );
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) return child();
  if (process.argv.includes('--paired'))
    return paired(arg('paired', '.').split(','), arg('preset', 'cpu'), Number(arg('batches', '16')), Number(arg('pairs', '12')));
  const preset = arg('preset', 'paper');
  const cap = Number(arg('cap-mb', '12000'));
  if (process.argv.includes('--ab')) return ab(preset, Number(arg('batches', '16')), Number(arg('ab', '3')), cap);
  const rows: Record<string, unknown>[] = [];
  for (const b of arg('batches', '2,4').split(',').map(Number)) {
    const acc = account(preset, b);
    process.stdout.write(
      `${preset} batch ${b}: params ${acc.paramsMb.toFixed(0)} MB, grads ${acc.gradsMb.toFixed(0)} MB, forward values read by the backward ${acc.keptForBackwardMb.toFixed(0)} MB in ${acc.keptTensors} tensors; largest: ${acc.largestKept.slice(0, 4).join('; ')}\n`,
    );
    for (const [arena, pattern] of [
      ['on', 'on'],
      ['off', 'on'],
      ['on', 'off'],
      ['off', 'off'],
    ]) {
      const r = await runChild(['--preset', preset, '--batch', String(b), '--arena', arena, '--pattern', pattern], cap);
      process.stdout.write(`  arena ${arena}, memory pattern ${pattern}: ${JSON.stringify(r)}\n`);
      rows.push({ batch: b, arena, pattern, ...r, ...(arena === 'on' && pattern === 'on' ? { account: acc } : {}) });
    }
  }
  process.stdout.write(`${JSON.stringify({ bench: 'train-memory', preset, rows })}\n`);
}

void main();
