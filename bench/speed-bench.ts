/**
 * Speed benchmark (not a test): single-slice `detect` latency, whole-volume detect batched
 * against slice by slice (same session, outputs compared bit for bit; tiny-cpu — the shipped
 * default's preset — on a 240×240×155 case, larger presets on the 24-slice one), and training step time of the
 * `cpu` and `paper` presets with seeded random weights, against the compute floor of this
 * machine, and the process's peak RSS.
 *
 * Per preset: bundle write, bundle load (incl. SHA-256), session creation (reported apart),
 * then the median over `--runs` of (a) detect() on a pre-loaded case (preprocess + model +
 * map back to the voxel grid) and (b) the bare session run. FLOPs are counted from the
 * inference graph itself (every MatMul 2·M·K·N, Conv 2·O·Ho·Wo·C·kh·kw), split into
 * weight matmuls and attention (activation × activation). The runtime's large-matmul GFLOP/s
 * is measured in the same run (best of three large MatMul shapes, same provider and threads),
 * right before every model run, because the machine may be shared; floor = FLOPs / that rate,
 * and the ratio is the median over runs of run time / floor.
 *
 * Training, per preset and batch size (--train-batches, default 4 and 16): the median over
 * `--runs` (after one warm-up) of one step on cached encoder features (the steady state after
 * the first epoch: head forward + backward in one session run, then clip + StableAdamW in
 * TypeScript, split as trainStep reports it), its FLOPs and floor as above, and the encoder's
 * forward on one batch (what a first-epoch step adds for features not yet cached). Peak RSS
 * (the maximum resident set) is read after each preset's detection, and for the training
 * steps in the child process that ran them (`--train-step <preset>:<batch>`, one per batch size).
 * The last line is one JSON object.
 *
 *   node --import tsx bench/speed-bench.ts [--presets cpu,paper] (also tiny-cpu) [--runs 3] [--threads 0] [--provider cpu]
 *        [--train-batches 4,16]
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseBatchSize, detect } from '../src/engine/detect';
import { Graph, type Tensor, emitModel, liveNodes, matmul } from '../src/engine/graph';
import { type ProviderChoice, createSession, releaseAllSessions, releaseSession, run } from '../src/engine/graph/runtime';
import { type ChannelStats, initModalityAffine } from '../src/engine/model/alignment';
import { encoderModelBytes } from '../src/engine/model/encoder';
import { loadBundle, writeBundle } from '../src/engine/model/bundle';
import { type EncoderWeights, createRandomEncoderWeights } from '../src/engine/model/encoderWeights';
import { headConfig, initHeadParams } from '../src/engine/model/headWeights';
import { buildInferenceGraph } from '../src/engine/model/inference';
import { DEFAULT_OBJECTIVE, TRAINING_GRAPH_NAMES, buildTrainingGraph, copyObjective } from '../src/engine/model/losses';
import { modelPreset } from '../src/engine/model/presets';
import { writePhantomCohort } from '../src/engine/phantom';
import { discoverCases, loadCase } from '../src/engine/study';
import { createRng } from '../src/engine/util/random';
import { StableAdamW } from '../src/engine/train/optim';
import { cloneParams } from '../src/engine/train/params';
import { trainStep } from '../src/engine/train/step';
import type { HeadConfig, WeightMap } from '../src/engine/model/headWeights';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const ms = (t0: number): number => performance.now() - t0;
/** The process's peak resident set so far, MB. */
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;

interface TrainTiming {
  batch: number;
  gflop: number;
  stepMedianMs: number;
  runMedianMs: number;
  updateMedianMs: number;
  floorMs: number;
  runRatioToFloor: number;
  encoderBatchMedianMs: number;
  /** Peak RSS of the process that ran this batch size's training steps, a child of its own (MB). */
  peakRssMb: number;
  /** Bytes a step moves between the host and the session: parameters + batch in, gradients + loss out (on a GPU provider: host↔device). */
  hostToDeviceBytesPerStep: number;
  deviceToHostBytesPerStep: number;
}

/** One preset's training step at one batch size, measured in a child process (see trainStepInChild). */
type TrainStepTiming = Omit<TrainTiming, 'encoderBatchMedianMs'>;

/**
 * Training step timing at `batch` on cached features (random features of the right shapes; the
 * subsets cycle through all 7), with the process's peak RSS after the steps. Runs in a child
 * process of its own (`--train-step`), so the peak is that of the step, as in `anyad train`, and
 * not that of this benchmark's earlier detection sessions.
 */
async function trainStepTiming(o: {
  batch: number;
  side: number;
  weights: WeightMap;
  head: HeadConfig;
  runs: number;
  provider: ProviderChoice;
  threads: number;
  probeRate: () => Promise<number>;
}): Promise<TrainStepTiming> {
  const { batch: b, side: s, head } = o;
  const d = head.dim;
  const rng = createRng(11);
  const normal = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const stats: ChannelStats[] = [0, 1].map(() => ({ mean: new Float32Array(d), std: new Float32Array(d).fill(1), count: 1 }));
  const objective = copyObjective(DEFAULT_OBJECTIVE);
  const { graph } = buildTrainingGraph({ batch: b, side: s, head, weights: o.weights, objective, stats });
  const flops = countFlops(graph).total;
  // As the trainer: no memory pattern (runtime.ts leanMemory).
  const session = await createSession(emitModel(graph, { paramsAs: 'inputs' }), {
    provider: o.provider,
    threads: o.threads,
    leanMemory: true,
  });
  const params = cloneParams(o.weights);
  const optimizer = new StableAdamW(params);
  const N = TRAINING_GRAPH_NAMES;
  const batchFeeds = {
    feeds: {
      [N.fused]: normal(b * s * s * d),
      [N.en0]: normal(b * d * s * s),
      [N.en1]: normal(b * d * s * s),
      [N.subset]: BigInt64Array.from({ length: b }, (_, i) => BigInt(i % 7)),
    },
    shapes: { [N.fused]: [b, s * s, d], [N.en0]: [b, d, s, s], [N.en1]: [b, d, s, s], [N.subset]: [b] },
  };
  const steps: number[] = [];
  const runs: number[] = [];
  const updates: number[] = [];
  const rates: number[] = [];
  try {
    await trainStep({ session }, params, optimizer, batchFeeds, 1e-4); // warm-up
    for (let i = 0; i < o.runs; i++) {
      rates.push(await o.probeRate());
      const t0 = performance.now();
      const r = await trainStep({ session }, params, optimizer, batchFeeds, 1e-4);
      steps.push(ms(t0));
      runs.push(r.timing.runMs);
      updates.push(r.timing.updateMs);
    }
  } finally {
    await releaseSession(session);
  }
  const floorMs = (flops / (median(rates) * 1e9)) * 1000;
  const paramBytes = [...params.values()].reduce((n, p) => n + p.data.byteLength, 0);
  const batchBytes = Object.values(batchFeeds.feeds).reduce((n, f) => n + f.byteLength, 0);
  return {
    peakRssMb: peakRssMb(),
    hostToDeviceBytesPerStep: paramBytes + batchBytes,
    deviceToHostBytesPerStep: paramBytes + 4,
    batch: b,
    gflop: flops / 1e9,
    stepMedianMs: median(steps),
    runMedianMs: median(runs),
    updateMedianMs: median(updates),
    floorMs,
    runRatioToFloor: median(runs) / floorMs,
  };
}

/** A preset's head weights as every part of this benchmark uses them (seeded). */
function presetHead(name: string) {
  const preset = modelPreset(name);
  const cfg = headConfig(preset.encoder.embedDim, preset.encoder.numHeads);
  const params = initHeadParams(cfg, 7);
  for (const [k, v] of initModalityAffine(cfg.dim)) params.set(k, v);
  return { preset, cfg, params };
}

/** `--train-step <preset>:<batch>`: the child's side; its last stdout line is the TrainStepTiming JSON. */
async function trainStepChild(spec: string, o: { runs: number; provider: ProviderChoice; threads: number }): Promise<void> {
  const [name, batch] = spec.split(':');
  const { preset, cfg, params } = presetHead(name);
  const probes = await Promise.all(RATE_SHAPES.map((shape) => matmulProbe(o.provider, o.threads, shape)));
  const probeRate = async (): Promise<number> => {
    const r: number[] = [];
    for (const p of probes) r.push(await p());
    return Math.max(...r);
  };
  const t = await trainStepTiming({
    ...o,
    batch: Number(batch),
    side: preset.geometry.crop / preset.encoder.patchSize,
    weights: params,
    head: cfg,
    probeRate,
  });
  await releaseAllSessions();
  process.stdout.write(`${JSON.stringify(t)}\n`);
}

/** Runs trainStepChild in a fresh node process (same loader flags) and returns its result. */
function trainStepInChild(spec: string, o: { runs: number; provider: ProviderChoice; threads: number }): TrainStepTiming {
  const args = [...process.execArgv, __filename, '--train-step', spec, '--runs', String(o.runs), '--provider', o.provider];
  const r = spawnSync(process.execPath, [...args, '--threads', String(o.threads)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{'))
    throw new Error(`training step child ${spec} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
  return JSON.parse(last) as TrainStepTiming;
}

/** The encoder's forward on one batch of `batch` images (what a first-epoch step adds for features not yet cached). */
async function encoderBatchMs(o: {
  batch: number;
  size: number;
  encoder: EncoderWeights;
  runs: number;
  provider: ProviderChoice;
  threads: number;
}) {
  const { batch: b, size } = o;
  const rng = createRng(12);
  const encSession = await createSession(encoderModelBytes(o.encoder, { batch: b, height: size, width: size }), {
    provider: o.provider,
    threads: o.threads,
  });
  const encMs: number[] = [];
  try {
    const image = Float32Array.from({ length: b * 3 * size * size }, () => rng.normal());
    for (let i = 0; i <= o.runs; i++) {
      const t0 = performance.now();
      await run(encSession, { image }, { image: [b, 3, size, size] });
      if (i > 0) encMs.push(ms(t0));
    }
  } finally {
    await releaseSession(encSession);
  }
  return median(encMs);
}

/** Whether a matmul operand is a weight: a param/constant, possibly through shape-only ops. */
function isWeight(t: Tensor): boolean {
  let cur = t;
  while (cur.kind === 'value' && cur.producer && ['Transpose', 'Reshape', 'Identity'].includes(cur.producer.opType))
    cur = cur.producer.inputs[0]!;
  return cur.kind === 'param' || cur.kind === 'constant';
}

/** FLOPs of a graph's live MatMul and Conv nodes: with a weight operand vs attention (both operands computed). */
function countFlops(g: Graph): { total: number; weights: number; attention: number } {
  let weights = 0;
  let attention = 0;
  for (const n of liveNodes(g)) {
    if (n.opType === 'MatMul') {
      const [a, b] = [n.inputs[0]!, n.inputs[1]!];
      const f = 2 * n.outputs[0].shape.reduce((x, y) => x * y, 1) * a.shape[a.rank - 1];
      if (isWeight(a) || isWeight(b)) weights += f;
      else attention += f;
    } else if (n.opType === 'Conv') {
      const w = n.inputs[1]!.shape;
      weights += 2 * n.outputs[0].shape.reduce((x, y) => x * y, 1) * w[1] * w[2] * w[3];
    }
  }
  return { total: weights + attention, weights, attention };
}

/** A [m,k]×[k,n] MatMul (constant right operand, as the model's weights) on the runtime: each call times one run. */
async function matmulProbe(provider: ProviderChoice, threads: number, [m, k, n]: readonly number[]): Promise<() => Promise<number>> {
  const g = new Graph(`matmul-${m}x${k}x${n}`);
  const rng = createRng(1);
  const a = g.input('a', [m, k]);
  const b = g.constant(
    Float32Array.from({ length: k * n }, () => rng.normal()),
    [k, n],
    'b',
  );
  g.output('c', matmul(a, b));
  const session = await createSession(emitModel(g), { provider, threads });
  const x = Float32Array.from({ length: m * k }, () => rng.normal());
  await run(session, { a: x }, { a: [m, k] });
  return async () => {
    const t0 = performance.now();
    await run(session, { a: x }, { a: [m, k] });
    return (2 * m * k * n) / (ms(t0) / 1000) / 1e9;
  };
}

/** Large-matmul shapes: square, wide, and the paper preset's MLP fc1 (785 tokens × 768 → 3072). */
const RATE_SHAPES = [
  [2048, 2048, 2048],
  [1024, 1024, 4096],
  [785, 768, 3072],
] as const;

async function main(): Promise<void> {
  const presets = arg('presets', 'cpu,paper').split(',');
  const runs = Number(arg('runs', '3'));
  const threads = Number(arg('threads', '0'));
  const provider = arg('provider', 'cpu') as ProviderChoice;
  const trainBatches = arg('train-batches', '4,16')
    .split(',')
    .filter((v) => v !== '')
    .map(Number);
  if (trainBatches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error('--train-batches: positive integers, comma-separated');
  const root = join(tmpdir(), `anyad-speed-bench-${process.pid}`);
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(
    `speed bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0].toFixed(1)}, provider ${provider}, threads ${threads || 'auto'}, ${runs} runs`,
  );

  try {
    await writePhantomCohort(join(root, 'data'), { cases: 1, seed: 5, size: [240, 240, 24], anomalousFraction: 1, workers: 0 });
    const kase = loadCase(discoverCases(join(root, 'data'))[0], { sequences: ['flair', 't1', 't2'], label: false });
    // Whole-volume detection on a BraTS-sized case (240×240×155), as a user runs it.
    await writePhantomCohort(join(root, 'volume'), { cases: 1, seed: 6, size: [240, 240, 155], anomalousFraction: 1, workers: 0 });
    const volumeCase = loadCase(discoverCases(join(root, 'volume'))[0], { sequences: ['flair', 't1', 't2'], label: false });
    // The machine may be shared: the rate is probed again right before every model run, and the
    // floor of each run uses the rate measured next to it (median over shapes of one probe round).
    const probes = await Promise.all(RATE_SHAPES.map((shape) => matmulProbe(provider, threads, shape)));
    const probeRate = async (): Promise<number> => {
      const r: number[] = [];
      for (const p of probes) r.push(await p());
      return Math.max(...r);
    };
    const startRates: number[] = [];
    for (let i = 0; i < 3; i++) startRates.push(await probeRate());
    log(
      `runtime large-matmul rate (best of ${RATE_SHAPES.map((sh) => sh.join('x')).join(', ')}): median ${median(startRates).toFixed(1)} GFLOP/s`,
    );

    const results: Record<string, unknown> = {};
    for (const name of presets) {
      const { preset, cfg, params } = presetHead(name);
      const c = preset.geometry.crop;
      const encoder = createRandomEncoderWeights(preset.encoder, 7);
      const flops = countFlops(
        buildInferenceGraph({ encoder, head: { config: cfg, params }, affine: initModalityAffine(cfg.dim), batch: 1, size: c }).graph,
      );

      const dir = join(root, `model-${name}`);
      let t0 = performance.now();
      writeBundle(dir, { encoder, headConfig: cfg, params, geometry: preset.geometry, preset: name });
      const writeMs = ms(t0);
      t0 = performance.now();
      const bundle = loadBundle(dir);
      const loadMs = ms(t0);
      t0 = performance.now();
      const session = await createSession(bundle.modelPath, { provider, threads });
      const sessionMs = ms(t0);

      const opts = { provider, threads, modalities: ['flair', 't1', 't2'] as const };
      await detect(bundle, kase, { ...opts, modalities: [...opts.modalities], slice: 12 }); // warm-up
      const detectMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        t0 = performance.now();
        await detect(bundle, kase, { ...opts, modalities: [...opts.modalities], slice: 12 });
        detectMs.push(ms(t0));
      }
      // The BraTS-sized case for the laptop-scale preset; the 24-slice one for the larger presets (time).
      const volumeKase = name === 'tiny-cpu' ? volumeCase : kase;
      // Whole volume (240×240×155): slice by slice (batch 1) against batched (size chosen from free
      // memory; the next batch preprocessed in a worker meanwhile), same warm session; the outputs
      // must be identical bit for bit.
      const volume = async (batchSize?: number) => {
        const t = performance.now();
        const r = await detect(bundle, volumeKase, { ...opts, modalities: [...opts.modalities], slice: 'all', batchSize });
        return { ms: ms(t), r };
      };
      await volume(); // warm-up at the batched shape
      const volumeBatch = chooseBatchSize(bundle);
      const sliceBySliceMs: number[] = [];
      const batchedMs: number[] = [];
      let identical = true;
      for (let i = 0; i < runs; i++) {
        const one = await volume(1);
        const many = await volume();
        sliceBySliceMs.push(one.ms);
        batchedMs.push(many.ms);
        identical &&=
          one.r.slices.every((s, k) => Object.is(s.score, many.r.slices[k].score)) &&
          one.r.map.data.every((v, k) => Object.is(v, many.r.map.data[k]));
      }
      const volumeDetect = {
        slices: volumeKase.volumes.flair!.dims[2],
        batch: volumeBatch,
        sliceBySliceMedianMs: median(sliceBySliceMs),
        batchedMedianMs: median(batchedMs),
        speedup: median(sliceBySliceMs) / median(batchedMs),
        identical,
      };
      const image = new Float32Array(3 * c * c);
      const runMs: number[] = [];
      const rates: number[] = [];
      const ratios: number[] = [];
      for (let i = 0; i < runs; i++) {
        const rate = await probeRate();
        t0 = performance.now();
        await run(session, { image, subset: BigInt64Array.of(7n) }, { image: [1, 3, c, c], subset: [1] });
        const t = ms(t0);
        runMs.push(t);
        rates.push(rate);
        ratios.push(t / ((flops.total / (rate * 1e9)) * 1000));
      }
      const gflops = median(rates);
      const floorMs = (flops.total / (gflops * 1e9)) * 1000;
      const detectPeakRssMb = peakRssMb();
      await releaseSession(session);
      const training: TrainTiming[] = [];
      for (const b of trainBatches) {
        const step = trainStepInChild(`${name}:${b}`, { runs, provider, threads });
        training.push({ ...step, encoderBatchMedianMs: await encoderBatchMs({ batch: b, size: c, encoder, runs, provider, threads }) });
      }
      const r = {
        inputSize: c,
        headParams: [...params.values()].reduce((n, v) => n + v.data.length, 0),
        gflop: flops.total / 1e9,
        attentionGflop: flops.attention / 1e9,
        matmulGflops: gflops,
        bundleWriteMs: writeMs,
        bundleLoadMs: loadMs,
        sessionCreateMs: sessionMs,
        detectMedianMs: median(detectMs),
        sessionRunMedianMs: median(runMs),
        floorMs,
        ratioToFloor: median(ratios),
        achievedGflops: flops.total / (median(runMs) / 1000) / 1e9,
        volumeDetect,
        training,
        detectPeakRssMb,
        peakRssMb: peakRssMb(),
      };
      results[name] = r;
      log(`${name} (${preset.description}):`);
      log(
        `  forward ${r.gflop.toFixed(1)} GFLOP (attention ${r.attentionGflop.toFixed(1)}); floor at the interleaved median ${gflops.toFixed(1)} GFLOP/s = ${floorMs.toFixed(0)} ms`,
      );
      log(`  bundle write ${writeMs.toFixed(0)} ms, load+verify ${loadMs.toFixed(0)} ms, session creation ${sessionMs.toFixed(0)} ms`);
      log(
        `  single-slice detect (240×240) median ${r.detectMedianMs.toFixed(0)} ms; session run ${r.sessionRunMedianMs.toFixed(0)} ms = ${r.ratioToFloor.toFixed(2)}× floor (${r.achievedGflops.toFixed(1)} GFLOP/s); peak RSS ${detectPeakRssMb.toFixed(0)} MB`,
      );
      log(
        `  whole-volume detect (240×240×${volumeDetect.slices}): slice by slice median ${volumeDetect.sliceBySliceMedianMs.toFixed(0)} ms, batched (batch ${volumeDetect.batch}) ${volumeDetect.batchedMedianMs.toFixed(0)} ms = ${volumeDetect.speedup.toFixed(2)}× faster; outputs ${volumeDetect.identical ? 'identical' : 'DIFFER'}`,
      );
      for (const t of training) {
        log(
          `  training step, batch ${t.batch}, cached features (${(r.headParams / 1e6).toFixed(1)} M head params): median ${t.stepMedianMs.toFixed(0)} ms = forward+backward ${t.runMedianMs.toFixed(0)} ms (${t.gflop.toFixed(1)} GFLOP, ${t.runRatioToFloor.toFixed(2)}× floor) + clip/StableAdamW ${t.updateMedianMs.toFixed(0)} ms; encoder forward of the batch ${t.encoderBatchMedianMs.toFixed(0)} ms; peak RSS ${t.peakRssMb.toFixed(0)} MB; host→device ${(t.hostToDeviceBytesPerStep / 2 ** 20).toFixed(0)} MB, device→host ${(t.deviceToHostBytesPerStep / 2 ** 20).toFixed(0)} MB per step`,
        );
      }
      log(`  peak RSS ${r.peakRssMb.toFixed(0)} MB`);
      rmSync(dir, { recursive: true, force: true });
    }
    // The paper preset's training step at batch 16: peak RSS (issue #12's target ≤ 8100 MB) and host↔device bytes.
    const paper16 = ((results.paper as { training?: TrainTiming[] } | undefined)?.training ?? []).find((t) => t.batch === 16);
    process.stdout.write(
      JSON.stringify({
        bench: 'speed',
        cpus: cpus().length,
        loadAverage: loadavg(),
        provider,
        threads,
        runs,
        matmulGflopsAtStart: median(startRates),
        presets: results,
        peakRssMb: peakRssMb(),
        paper_train_b16_peak_rss_mb: paper16?.peakRssMb ?? null,
        paper_train_b16_host_device_bytes_per_step: paper16 ? paper16.hostToDeviceBytesPerStep + paper16.deviceToHostBytesPerStep : null,
      }) + '\n',
    );
  } finally {
    await releaseAllSessions();
    rmSync(root, { recursive: true, force: true });
  }
}

const trainStepSpec = arg('train-step', '');
void (trainStepSpec
  ? trainStepChild(trainStepSpec, {
      runs: Number(arg('runs', '3')),
      provider: arg('provider', 'cpu') as ProviderChoice,
      threads: Number(arg('threads', '0')),
    })
  : main());
