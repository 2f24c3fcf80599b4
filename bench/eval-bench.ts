/**
 * Benchmark (not a test): pixel-level AUROC/AP/F1-max/AUPRO over a BraTS-sized test set,
 * 700 maps × 240×240 = 40.3 M pixels with synthetic lesion blobs, fed image by image.
 *
 *   node --import tsx bench/eval-bench.ts            # 3 runs, each in a fresh process
 *   node --import tsx bench/eval-bench.ts --no-hint  # without expectedPixels (block growth)
 *
 * Each run reports the time of add() for all maps + finalize() (map synthesis is timed
 * apart), and the process's peak RSS above its RSS before the run. Prints the median.
 */
import { spawnSync } from 'node:child_process';
import { PixelMetricAccumulator } from '../src/engine/eval/pixelAccumulator';

const IMAGES = 700;
const SIZE = 240;

interface RunResult {
  evalSeconds: number;
  synthSeconds: number;
  baseRssMB: number;
  peakRssMB: number;
  auroc: number | null;
  ap: number | null;
  f1: number | null;
  aupro: number | null;
  regions: number;
  pixels: number;
}

/** xorshift32, deterministic. */
function makeRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Fills one synthetic map + mask: half the images carry 1–3 disc lesions the map partly sees. */
function synthesise(k: number, rand: () => number, map: Float32Array, mask: Uint8Array): boolean {
  mask.fill(0);
  const anomalous = k % 2 === 1;
  const blobs = anomalous ? 1 + Math.floor(rand() * 3) : 0;
  const discs: Array<[number, number, number, number]> = [];
  for (let b = 0; b < blobs; b++) discs.push([30 + rand() * 180, 30 + rand() * 180, 5 + rand() * 20, 0.2 + rand() * 0.6]);
  const base = 0.25 + 0.1 * rand();
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let v = base + 0.35 * rand();
      for (const [cx, cy, r, gain] of discs) {
        const d2 = (x - cx) ** 2 + (y - cy) ** 2;
        if (d2 <= r * r) {
          mask[y * SIZE + x] = 1;
          v += gain * (1 - d2 / (r * r)) * rand();
        }
      }
      map[y * SIZE + x] = v;
    }
  }
  return anomalous;
}

function runOnce(hint: boolean): RunResult {
  global.gc?.();
  const baseRss = process.memoryUsage().rss;
  const rand = makeRandom(12345);
  const map = new Float32Array(SIZE * SIZE);
  const mask = new Uint8Array(SIZE * SIZE);
  const acc = new PixelMetricAccumulator(hint ? { expectedPixels: IMAGES * SIZE * SIZE } : {});
  let synth = 0;
  let evalTime = 0;
  for (let k = 0; k < IMAGES; k++) {
    let t = performance.now();
    const anomalous = synthesise(k, rand, map, mask);
    synth += performance.now() - t;
    t = performance.now();
    acc.add(map, anomalous ? mask : null, SIZE, SIZE);
    evalTime += performance.now() - t;
  }
  const t = performance.now();
  const m = acc.finalize();
  evalTime += performance.now() - t;
  return {
    evalSeconds: evalTime / 1000,
    synthSeconds: synth / 1000,
    baseRssMB: baseRss / 2 ** 20,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    auroc: m.auroc,
    ap: m.ap,
    f1: m.f1Max,
    aupro: m.aupro,
    regions: m.regions,
    pixels: m.positives + m.negatives,
  };
}

function main(): void {
  const hint = !process.argv.includes('--no-hint');
  if (process.argv.includes('--child')) {
    process.stdout.write(JSON.stringify(runOnce(hint)));
    return;
  }
  const runs: RunResult[] = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', __filename, '--child', ...(hint ? [] : ['--no-hint'])], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      process.exit(1);
    }
    const res = JSON.parse(r.stdout) as RunResult;
    runs.push(res);
    console.log(
      `run ${i + 1}: eval ${res.evalSeconds.toFixed(2)} s (synthesis ${res.synthSeconds.toFixed(2)} s), peak RSS ${res.peakRssMB.toFixed(0)} MB (${(res.peakRssMB - res.baseRssMB).toFixed(0)} MB above the ${res.baseRssMB.toFixed(0)} MB before the run)`,
    );
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[1];
  const r = runs[0];
  console.log(
    `${IMAGES} maps × ${SIZE}² = ${(r.pixels / 1e6).toFixed(1)} M pixels, ${r.regions} regions, expectedPixels hint: ${hint ? 'yes' : 'no'}`,
  );
  console.log(`pixel AUROC ${r.auroc?.toFixed(4)}  AP ${r.ap?.toFixed(4)}  F1-max ${r.f1?.toFixed(4)}  AUPRO ${r.aupro?.toFixed(4)}`);
  const evalSeconds = median(runs.map((x) => x.evalSeconds));
  const extraRssMB = median(runs.map((x) => x.peakRssMB - x.baseRssMB));
  console.log(`median eval time ${evalSeconds.toFixed(2)} s; median peak extra RSS ${extraRssMB.toFixed(0)} MB`);
  console.log(
    JSON.stringify({
      bench: 'eval',
      pixels: r.pixels,
      regions: r.regions,
      eval_s: evalSeconds,
      extra_rss_mb: extraRssMB,
      auroc: r.auroc,
      ap: r.ap,
      f1: r.f1,
      aupro: r.aupro,
    }),
  );
}

main();
