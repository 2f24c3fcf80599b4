/**
 * Engine benchmark (not a test): one ViT-Base-sized transformer block (DINOv2 layout: pre-norm,
 * LayerScale, GELU MLP; width 768, 12 heads, MLP 3072, 784 tokens, batch 4, float32), built
 * with the graph builder and run by onnxruntime-node.
 *
 * Reports forward ms, forward+backward ms (gradients w.r.t. every block parameter and the
 * input, one session run), their ratio, achieved GFLOP/s of the block (counted matmul FLOPs),
 * GFLOP/s of a plain 2048³ matmul in the same runtime, and peak RSS; medians over several runs
 * after warm-up. The last line is one JSON object.
 *
 *   node --import tsx bench/engine-bench.ts [--runs 5] [--warmup 2] [--threads 0] [--provider auto|cpu|cuda|webgpu] [--ops]
 *   (--ops prints the op-type histogram of the forward and the training graph)
 */
import {
  Graph,
  type Tensor,
  add,
  emitModel,
  gelu,
  grad,
  layerNorm,
  liveNodes,
  matmul,
  mul,
  reduceMean,
  reshape,
  slice,
  softmax,
  transpose,
  transposeLast2,
} from '../src/engine/graph';
import { createSession, type ProviderChoice, releaseAllSessions, run, type Session } from '../src/engine/graph/runtime';
import { createRng } from '../src/engine/util/random';

const B = 4,
  T = 784,
  D = 768,
  H = 12,
  HD = D / H,
  M = 3072,
  MM = 2048;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function normals(seed: number, n: number, scale: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** Builds the block; with `train`, also the loss gradients w.r.t. all params and x. */
function buildBlock(train: boolean): { graph: Graph; params: Map<string, Float32Array>; shapes: Map<string, number[]> } {
  const g = new Graph(train ? 'vitb-block-train' : 'vitb-block');
  const x = g.input('x', [B, T, D]);
  let seed = 1;
  const params = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  const p = (name: string, shape: number[], data: Float32Array): Tensor => {
    params.set(name, data);
    shapes.set(name, shape);
    return g.param(name, shape, data);
  };
  const linear = (v: Tensor, name: string, i: number, o: number): Tensor =>
    add(matmul(v, p(`${name}.weight`, [i, o], normals(seed++, i * o, 1 / Math.sqrt(i)))), p(`${name}.bias`, [o], new Float32Array(o)));
  const ln = (v: Tensor, name: string): Tensor =>
    layerNorm(v, p(`${name}.weight`, [D], new Float32Array(D).fill(1)), p(`${name}.bias`, [D], new Float32Array(D)), 1e-6);

  const qkv = linear(ln(x, 'norm1'), 'attn.qkv', D, 3 * D);
  const heads = (from: number) => transpose(reshape(slice(qkv, [from], [from + D], [-1]), [B, T, H, HD]), [0, 2, 1, 3]);
  const q = heads(0),
    k = heads(D),
    v = heads(2 * D);
  const att = softmax(mul(matmul(q, transposeLast2(k)), 1 / Math.sqrt(HD)));
  const ctx = reshape(transpose(matmul(att, v), [0, 2, 1, 3]), [B, T, D]);
  const r1 = add(x, mul(linear(ctx, 'attn.proj', D, D), p('ls1.gamma', [D], new Float32Array(D).fill(0.5))));
  const mlp = linear(gelu(linear(ln(r1, 'norm2'), 'mlp.fc1', D, M)), 'mlp.fc2', M, D);
  const y = add(r1, mul(mlp, p('ls2.gamma', [D], new Float32Array(D).fill(0.5))));
  const loss = g.output('loss', reduceMean(mul(y, y)));
  if (train) grad(loss, [...g.params, x]);
  return { graph: g, params, shapes };
}

/** FLOPs of the block's forward pass: matmuls 2·M·N·K, attention QKᵀ and AV. */
function blockForwardFlops(): number {
  const tokens = B * T;
  const linears = 2 * tokens * (D * 3 * D + D * D + D * M + M * D);
  const attention = 2 * (2 * B * H * T * T * HD);
  return linears + attention;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

type Feeds = Record<string, Float32Array>;
type Shapes = Record<string, number[]>;

interface Timing {
  wallMs: number;
  cpuMs: number;
}

async function timeOnce(session: Session, feeds: Feeds, shapes: Shapes): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(session, feeds, shapes);
  const c = process.cpuUsage(c0);
  return { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (c.user + c.system) / 1e3 };
}

/**
 * Median wall and CPU times of each session. Runs are interleaved (a, b, a, b, …) so that load
 * from other processes hits every session alike. CPU time is reported too: on a shared machine
 * it is steadier than wall time (with one thread it is the work done; with more, ORT's
 * spinning worker threads add to it). Warm-up first: the first runs allocate the memory arena
 * and touch fresh pages (on the training graph the second run is still ~30 % slower).
 */
async function timeInterleaved(
  jobs: Array<{ session: Session; feeds: Feeds; shapes: Shapes }>,
  runs: number,
  warmup: number,
): Promise<Timing[]> {
  for (let i = 0; i < warmup; i++) for (const j of jobs) await run(j.session, j.feeds, j.shapes);
  const times = jobs.map(() => [] as Timing[]);
  for (let i = 0; i < runs; i++) for (const [k, j] of jobs.entries()) times[k].push(await timeOnce(j.session, j.feeds, j.shapes));
  return times.map((t) => ({ wallMs: median(t.map((x) => x.wallMs)), cpuMs: median(t.map((x) => x.cpuMs)) }));
}

function opHistogram(g: Graph): string {
  const counts = new Map<string, number>();
  for (const n of liveNodes(g)) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
}

async function main(): Promise<void> {
  const runs = Number(arg('runs', '5'));
  const warmup = Number(arg('warmup', '2'));
  const threads = Number(arg('threads', '0'));
  const provider = arg('provider', 'auto') as ProviderChoice;
  const opts = { provider, threads };

  const fwd = buildBlock(false);
  const trn = buildBlock(true);
  if (process.argv.includes('--ops')) {
    console.log(`forward graph: ${opHistogram(fwd.graph)}`);
    console.log(`training graph: ${opHistogram(trn.graph)}`);
  }
  const x = normals(99, B * T * D, 1);
  const feeds: Record<string, Float32Array> = { x };
  const shapes: Record<string, number[]> = { x: [B, T, D] };
  for (const [n, d] of fwd.params) {
    feeds[n] = d;
    shapes[n] = fwd.shapes.get(n)!;
  }

  const fs = await createSession(emitModel(fwd.graph, { paramsAs: 'inputs' }), opts);
  const ts = await createSession(emitModel(trn.graph, { paramsAs: 'inputs' }), opts);
  console.log(
    `execution provider: ${fs.provider}${fs.fallbackReasons.length ? ` (skipped: ${fs.fallbackReasons.map((r) => r.split(':')[0]).join('; ')})` : ''}; threads: ${threads || 'default'}; runs: ${runs} after ${warmup} warm-up`,
  );
  const [fwdT, trainT] = await timeInterleaved(
    [
      { session: fs, feeds, shapes },
      { session: ts, feeds, shapes },
    ],
    runs,
    warmup,
  );
  await releaseAllSessions();
  const fwdMs = fwdT.wallMs,
    fwdbwdMs = trainT.wallMs;
  console.log(`forward: ${fwdMs.toFixed(1)} ms (CPU ${fwdT.cpuMs.toFixed(0)} ms)`);
  console.log(
    `forward+backward: ${fwdbwdMs.toFixed(1)} ms (CPU ${trainT.cpuMs.toFixed(0)} ms); ratio ${(fwdbwdMs / fwdMs).toFixed(2)} (CPU-time ratio ${(trainT.cpuMs / fwdT.cpuMs).toFixed(2)})`,
  );

  const flops = blockForwardFlops();
  const gflops = flops / (fwdMs / 1e3) / 1e9;
  // Backward of each matmul is two matmuls of the same size: 3× the forward FLOPs in total.
  const trainGflops = (3 * flops) / (fwdbwdMs / 1e3) / 1e9;
  console.log(
    `block forward: ${(flops / 1e9).toFixed(1)} GFLOP → ${gflops.toFixed(1)} GFLOP/s; forward+backward ≈ ${((3 * flops) / 1e9).toFixed(1)} GFLOP → ${trainGflops.toFixed(1)} GFLOP/s`,
  );

  const mg = new Graph('matmul');
  mg.output('c', matmul(mg.input('a', [MM, MM]), mg.input('b', [MM, MM])));
  const ms = await createSession(emitModel(mg), opts);
  const [{ wallMs: mmMs, cpuMs: mmCpu }] = await timeInterleaved(
    [{ session: ms, feeds: { a: normals(5, MM * MM, 1), b: normals(6, MM * MM, 1) }, shapes: { a: [MM, MM], b: [MM, MM] } }],
    runs,
    warmup,
  );
  await releaseAllSessions();
  const matmulGflops = (2 * MM ** 3) / (mmMs / 1e3) / 1e9;
  console.log(`matmul ${MM}³: ${mmMs.toFixed(1)} ms (CPU ${mmCpu.toFixed(0)} ms) → ${matmulGflops.toFixed(1)} GFLOP/s`);

  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`peak RSS: ${peakRssMb.toFixed(0)} MB`);
  const r = (v: number, d = 1) => Number(v.toFixed(d));
  console.log(
    JSON.stringify({
      fwd_ms: r(fwdMs),
      fwdbwd_ms: r(fwdbwdMs),
      ratio: r(fwdbwdMs / fwdMs, 2),
      cpu_ratio: r(trainT.cpuMs / fwdT.cpuMs, 2),
      gflops: r(gflops),
      train_gflops: r(trainGflops),
      matmul_gflops: r(matmulGflops),
      peak_rss_mb: r(peakRssMb, 0),
      provider: fs.provider,
      threads,
      runs,
      warmup,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
