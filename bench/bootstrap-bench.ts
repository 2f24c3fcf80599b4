/**
 * Benchmark (not a test): cost and accuracy of the case bootstrap (eval/bootstrap.ts) on one
 * subset of a realistic size, 134 slices × 256² in 15 cases (9 slices each, about half
 * anomalous), 1000 resamples. Maps: a constant outside-brain block (one big tie block, as
 * the intensity baseline's maps have), noisy brain, lesion discs the map partly sees.
 *
 *   npm run bench:bootstrap            # or: node --import tsx bench/bootstrap-bench.ts [runs=5] [only]
 *
 * Prints per run: finalize() time with the bootstrap off and on (the difference is the
 * bootstrap's cost), exact vs binned full-sample pixel AUROC/AP and the bound on their
 * difference; then, on a smaller set (64² maps) where an exact pixel sweep per resample is
 * affordable, the largest difference between the reported (binned, shifted) pixel interval
 * and the interval from exact per-resample values, for the same draws.
 */
import { SubsetEvaluator } from '../src/engine/eval/subsetEvaluator';
import { blockAurocAp, caseBootstrap, interval95, shiftedInterval } from '../src/engine/eval/bootstrap';
import { PixelMetricAccumulator } from '../src/engine/eval/pixelAccumulator';
import { createRng } from '../src/engine/util/random';

const SLICES = 134;
const PER_CASE = 9;

interface Slice {
  map: Float32Array;
  mask: Uint8Array | null;
  caseId: string;
}

function synthesise(size: number, seed: number): Slice[] {
  const rng = createRng(seed);
  const out: Slice[] = [];
  const c = size / 2;
  for (let s = 0; s < SLICES; s++) {
    const caseId = `case${Math.floor(s / PER_CASE)}`;
    const caseGain = 0.3 + 0.6 * rng.uniform(); // cases differ: some lesions are easy, some hard
    const anomalous = rng.uniform() < 0.5;
    const map = new Float32Array(size * size);
    const mask = anomalous ? new Uint8Array(size * size) : null;
    const discs: Array<[number, number, number]> = [];
    if (anomalous)
      for (let b = 0; b < 1 + rng.int(2); b++)
        discs.push([c + (rng.uniform() - 0.5) * size * 0.5, c + (rng.uniform() - 0.5) * size * 0.5, size * (0.02 + 0.08 * rng.uniform())]);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        if ((x - c) ** 2 + (y - c) ** 2 > (0.42 * size) ** 2) {
          map[i] = -1;
          continue;
        }
        let v = rng.normal() * 0.5;
        for (const [cx, cy, r] of discs) {
          if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) {
            mask![i] = 1;
            v += caseGain * (1 + rng.normal());
          }
        }
        map[i] = v;
      }
    }
    out.push({ map, mask, caseId });
  }
  return out;
}

function evaluate(slices: Slice[], size: number, samples: number, seed = 0) {
  const ev = new SubsetEvaluator({ mapSize: size, expectedSlices: slices.length, bootstrap: { samples, seed } });
  for (const s of slices) ev.addSlice(s.map, s.mask, { caseId: s.caseId });
  const t0 = performance.now();
  const r = ev.finalize();
  return { r, seconds: (performance.now() - t0) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const summary: Record<string, unknown> = { bench: 'bootstrap', slices: SLICES, cases: Math.ceil(SLICES / PER_CASE), samples: 1000 };

function costAndBinning(runs: number): void {
  const slices = synthesise(256, 1);
  const off: number[] = [];
  const on: number[] = [];
  for (let k = 0; k < runs; k++) {
    const a = evaluate(slices, 256, 0);
    const b = evaluate(slices, 256, 1000);
    off.push(a.seconds);
    on.push(b.seconds);
    const pb = b.r.pixelBinning!;
    console.log(
      `run ${k + 1}: finalize ${a.seconds.toFixed(3)} s without, ${b.seconds.toFixed(3)} s with 1000 resamples (bins ${pb.bins}); ` +
        `pixel AUROC exact ${b.r.pixel.auroc!.toFixed(6)} binned ${pb.binned.auroc.toFixed(6)} (|Δ| ${Math.abs(b.r.pixel.auroc! - pb.binned.auroc).toExponential(2)}, bound ${pb.bound.auroc.toExponential(2)}), ` +
        `AP exact ${b.r.pixel.ap!.toFixed(6)} binned ${pb.binned.ap.toFixed(6)} (|Δ| ${Math.abs(b.r.pixel.ap! - pb.binned.ap).toExponential(2)}, bound ${pb.bound.ap.toExponential(2)})`,
    );
    if (k === 0) console.log(`  CIs: ${JSON.stringify(b.r.metrics.ci)} counts ${JSON.stringify(b.r.metrics.counts)}`);
  }
  console.log(
    `median bootstrap cost per subset: ${(median(on) - median(off)).toFixed(3)} s (finalize ${median(off).toFixed(3)} → ${median(on).toFixed(3)} s)`,
  );
  const last = evaluate(slices, 256, 10).r;
  Object.assign(summary, {
    finalizeSecondsWithout: median(off),
    finalizeSecondsWith: median(on),
    bins: last.pixelBinning!.bins,
    pixelAurocExactMinusBinned: last.pixel.auroc! - last.pixelBinning!.binned.auroc,
    pixelAurocBound: last.pixelBinning!.bound.auroc,
    pixelApExactMinusBinned: last.pixel.ap! - last.pixelBinning!.binned.ap,
    pixelApBound: last.pixelBinning!.bound.ap,
  });
}

/** Exact weighted pixel AUROC/AP per resample vs the binned one, for the same draws. */
function intervalError(): void {
  const size = 64;
  const slices = synthesise(size, 2);
  const unitOf = new Map<string, number>();
  const imageUnit = slices.map((s) => {
    if (!unitOf.has(s.caseId)) unitOf.set(s.caseId, unitOf.size);
    return unitOf.get(s.caseId)!;
  });
  const U = unitOf.size;
  // All pixels sorted by score once, with their unit and label.
  const n = slices.length * size * size;
  const score = new Float64Array(n);
  const unit = new Int32Array(n);
  const label = new Uint8Array(n);
  slices.forEach((s, i) => {
    for (let j = 0; j < size * size; j++) {
      const k = i * size * size + j;
      score[k] = s.map[j];
      unit[k] = imageUnit[i];
      label[k] = s.mask?.[j] ? 1 : 0;
    }
  });
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b] - score[a]);
  const blockOf = new Int32Array(n);
  let blocks = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && score[order[k]] !== score[order[k - 1]]) blocks++;
    blockOf[order[k]] = blocks;
  }
  blocks++;
  for (const bins of [512, 2048, 8192]) {
    const acc2 = new PixelMetricAccumulator();
    slices.forEach((s) => acc2.add(s.map, s.mask, size, size));
    const { metrics, binned } = acc2.finalizeBinned({ imageUnit, units: U, bins });
    const draws = caseBootstrap(U, { scores: [], labels: [], units: [] }, binned, { samples: 1000, seed: 7 });
    // Exact: the same draws (same seed, same number of units → same rng sequence).
    const rng = createRng(7);
    const w = new Float64Array(U);
    const exA: number[] = [];
    const exP: number[] = [];
    const pos = new Float64Array(blocks);
    const neg = new Float64Array(blocks);
    for (let s = 0; s < 1000; s++) {
      w.fill(0);
      for (let i = 0; i < U; i++) w[rng.int(U)]++;
      pos.fill(0);
      neg.fill(0);
      for (let k = 0; k < n; k++) {
        const wk = w[unit[k]];
        if (wk) {
          if (label[k]) pos[blockOf[k]] += wk;
          else neg[blockOf[k]] += wk;
        }
      }
      const e = blockAurocAp(pos, neg, blocks);
      exA.push(e.auroc);
      exP.push(e.ap);
    }
    const exactA = interval95(exA)!;
    const exactP = interval95(exP)!;
    const gotA = shiftedInterval(draws.pixel!.auroc, metrics.auroc, draws.pixelBinned!.binned.auroc)!;
    const gotP = shiftedInterval(draws.pixel!.ap, metrics.ap, draws.pixelBinned!.binned.ap)!;
    const dA = Math.max(Math.abs(gotA[0] - exactA[0]), Math.abs(gotA[1] - exactA[1]));
    const dP = Math.max(Math.abs(gotP[0] - exactP[0]), Math.abs(gotP[1] - exactP[1]));
    summary[`intervalMaxAbsDiff_${draws.pixelBinned!.bins}bins`] = { auroc: dA, ap: dP };
    console.log(
      `64² maps, ${n} pixels, ${U} cases, ${draws.pixelBinned!.bins} bins used (max ${bins}): ` +
        `AUROC CI exact [${exactA.map((v) => v.toFixed(5)).join(', ')}] binned+shift [${gotA.map((v) => v.toFixed(5)).join(', ')}] max |Δ| ${dA.toExponential(2)}; ` +
        `AP CI exact [${exactP.map((v) => v.toFixed(5)).join(', ')}] binned+shift [${gotP.map((v) => v.toFixed(5)).join(', ')}] max |Δ| ${dP.toExponential(2)}; ` +
        `full-sample |exact − binned| AUROC ${Math.abs(metrics.auroc! - draws.pixelBinned!.binned.auroc).toExponential(2)} AP ${Math.abs(metrics.ap! - draws.pixelBinned!.binned.ap).toExponential(2)}`,
    );
  }
}

/** caseBootstrap alone (1000 resamples, image + pixel level) for case units and for slice units. */
function bootstrapOnly(runs: number): void {
  const slices = synthesise(256, 1);
  for (const byCase of [true, false]) {
    for (const bins of [2048, 4096]) {
      const unitOf = new Map<string, number>();
      const imageUnit = slices.map((s, i) => {
        const key = byCase ? s.caseId : String(i);
        if (!unitOf.has(key)) unitOf.set(key, unitOf.size);
        return unitOf.get(key)!;
      });
      const acc = new PixelMetricAccumulator();
      slices.forEach((s) => acc.add(s.map, s.mask, 256, 256));
      const { binned } = acc.finalizeBinned({ imageUnit, units: unitOf.size, bins });
      const image = {
        scores: slices.map((s) => s.map.reduce((a, v) => Math.max(a, v), -Infinity)),
        labels: slices.map((s) => (s.mask ? 1 : 0)),
        units: imageUnit,
      };
      const times: number[] = [];
      for (let k = 0; k < runs; k++) {
        const t0 = performance.now();
        caseBootstrap(unitOf.size, image, binned, { samples: 1000, seed: k });
        times.push((performance.now() - t0) / 1000);
      }
      console.log(
        `caseBootstrap, ${unitOf.size} units, ${binned.bins} bins used (max ${bins}), 1000 resamples: median ${median(times).toFixed(3)} s of ${times.map((t) => t.toFixed(3)).join(', ')}`,
      );
      summary[`bootstrapSeconds_${unitOf.size}units_${binned.bins}bins`] = median(times);
    }
  }
}

const runs = Number(process.argv[2] ?? 5);
if (process.argv[3] === 'only') {
  bootstrapOnly(runs);
} else {
  costAndBinning(runs);
  bootstrapOnly(runs);
  intervalError();
}
console.log(JSON.stringify(summary));
