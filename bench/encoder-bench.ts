/**
 * Encoder benchmark (not a test): the frozen DINOv2 encoder at ViT-B/14, 392×392, batch 1,
 * seeded random weights, blocks 0–9 (AnyAD stops at the last target layer), on onnxruntime.
 * Both patch-embedding variants ('conv', 'matmul') are built and timed interleaved, in the
 * whole encoder and alone (the patch embedding is < 1 % of the FLOPs, so only the isolated
 * timing can tell the variants apart on a shared machine).
 *
 * Reports graph build + emit time, session creation time, median forward ms per variant, the
 * counted forward FLOPs (matmuls and the patch projection: 2·M·N·K) and GFLOP/s, peak RSS.
 * The last line is one JSON object.
 *
 *   node --import tsx bench/encoder-bench.ts [--preset base] [--size 392] [--batch 1] [--threads 2]
 *     [--runs 5] [--warmup 2] [--provider cpu|auto|cuda|webgpu] [--variants conv,matmul]
 */
import { Graph, emitModel } from '../src/engine/graph';
import { buildPatchEmbedding, encoderModelBytes } from '../src/engine/model/encoder';
import { createRandomEncoderWeights } from '../src/engine/model/encoderWeights';
import { type VitConfig, type VitPresetName, blocksUsed, vitPreset } from '../src/engine/model/vitConfig';
import { type ProviderChoice, type Session, createSession, releaseAllSessions, run } from '../src/engine/graph/runtime';
import { createRng } from '../src/engine/util/random';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Forward FLOPs: patch projection, then per block qkv/proj/fc1/fc2 and the two attention matmuls. */
export function encoderForwardFlops(cfg: VitConfig, batch: number, height: number, width: number): number {
  const d = cfg.embedDim;
  const p = cfg.patchSize;
  const n = (height / p) * (width / p);
  const t = 1 + cfg.registers + n;
  const hidden = cfg.mlpRatio * d;
  const patch = 2 * batch * n * (3 * p * p) * d;
  const linears = 2 * batch * t * (d * 3 * d + d * d + d * hidden + hidden * d);
  const attention = 2 * 2 * batch * t * t * d; // QKᵀ and AV over all heads
  return patch + blocksUsed(cfg) * (linears + attention);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const preset = arg('preset', 'base') as VitPresetName;
  const size = Number(arg('size', '392'));
  const batch = Number(arg('batch', '1'));
  const threads = Number(arg('threads', '2'));
  const runs = Number(arg('runs', '5'));
  const warmup = Number(arg('warmup', '2'));
  const provider = arg('provider', 'cpu') as ProviderChoice;
  const variants = arg('variants', 'conv,matmul').split(',') as Array<'conv' | 'matmul'>;

  const cfg = vitPreset(preset);
  let t0 = performance.now();
  const weights = createRandomEncoderWeights(cfg, 1);
  const initMs = performance.now() - t0;
  const rng = createRng(2);
  const image = Float32Array.from({ length: batch * 3 * size * size }, () => rng.normal());
  const shapes = { image: [batch, 3, size, size] };

  const sessions: Array<{ variant: string; session: Session; buildMs: number; createMs: number; modelMb: number }> = [];
  for (const variant of variants) {
    t0 = performance.now();
    const bytes = encoderModelBytes(weights, { batch, height: size, width: size, patchEmbed: variant });
    const buildMs = performance.now() - t0;
    t0 = performance.now();
    const session = await createSession(bytes, { provider, threads });
    sessions.push({ variant, session, buildMs, createMs: performance.now() - t0, modelMb: bytes.byteLength / 2 ** 20 });
  }
  console.log(
    `ViT-${preset}/14 ${size}×${size} batch ${batch}: ${blocksUsed(cfg)} of ${cfg.depth} blocks; provider ${sessions[0].session.provider}; threads ${threads}; random init ${initMs.toFixed(0)} ms`,
  );
  for (let i = 0; i < warmup; i++) for (const s of sessions) await run(s.session, { image }, shapes);
  const times = sessions.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, s] of sessions.entries()) {
      const start = process.hrtime.bigint();
      await run(s.session, { image }, shapes);
      times[k].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  await releaseAllSessions();

  // The patch embedding alone, both variants interleaved, many runs (each takes a few ms).
  const patchSessions: Session[] = [];
  for (const variant of variants) {
    const g = new Graph(`patch-embed-${variant}`);
    g.output('tokens', buildPatchEmbedding(g, g.input('image', [batch, 3, size, size]), weights.patchEmbed, cfg.patchSize, variant));
    patchSessions.push(await createSession(emitModel(g), { provider, threads }));
  }
  const patchTimes = patchSessions.map(() => [] as number[]);
  for (let i = 0; i < 5 + 10 * runs; i++) {
    for (const [k, s] of patchSessions.entries()) {
      const start = process.hrtime.bigint();
      await run(s, { image }, shapes);
      if (i >= 5) patchTimes[k].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  await releaseAllSessions();

  const flops = encoderForwardFlops(cfg, batch, size, size);
  const result: Record<string, unknown> = {
    preset,
    size,
    batch,
    threads,
    provider: sessions[0].session.provider,
    gflop: Number((flops / 1e9).toFixed(2)),
    runs,
    warmup,
  };
  for (const [k, s] of sessions.entries()) {
    const ms = median(times[k]);
    const gflops = flops / (ms / 1e3) / 1e9;
    console.log(
      `${s.variant.padEnd(6)} patch embedding: forward ${ms.toFixed(0)} ms (min ${Math.min(...times[k]).toFixed(0)}) → ${gflops.toFixed(1)} GFLOP/s; graph build+emit ${s.buildMs.toFixed(0)} ms, model ${s.modelMb.toFixed(0)} MB, session ${s.createMs.toFixed(0)} ms`,
    );
    result[`${s.variant}_ms`] = Number(ms.toFixed(1));
    result[`${s.variant}_gflops`] = Number(gflops.toFixed(1));
  }
  for (const [k, variant] of variants.entries()) {
    const ms = median(patchTimes[k]);
    console.log(`${variant.padEnd(6)} patch embedding alone: ${ms.toFixed(2)} ms (median of ${patchTimes[k].length})`);
    result[`patch_${variant}_ms`] = Number(ms.toFixed(2));
  }
  console.log(`forward FLOPs: ${(flops / 1e9).toFixed(1)} GFLOP`);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`peak RSS: ${peakRssMb.toFixed(0)} MB`);
  result.peak_rss_mb = Math.round(peakRssMb);
  console.log(JSON.stringify(result));
}

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
