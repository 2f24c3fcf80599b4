/**
 * Child-process half of a provider check (see src/engine/graph/placement.ts, which spawns it
 * with ANYAD_ORT_LOG=verbose and reads onnxruntime's node placements from its stderr).
 *
 * For one preset: the detection graph and a training step's graph on the CPU provider and on
 * `--provider`, compared output by output (max |diff| / max |cpu|). Before each session on the
 * provider it writes a marker line to stderr, so the parent can tell whose placement it reads.
 * The last stdout line is one JSON object (ProviderCheckChildResult).
 *
 *   node --import tsx scripts/provider-check.ts --preset tiny-cpu --provider webgpu [--runs 1]
 *        [--parts detect,train] [--train-batch 2] [--threads 0]
 */
import { releaseAllSessions } from '../src/engine/graph/runtime';
import { PLACEMENT_MARKER } from '../src/engine/graph/placement';
import type { ProviderChoice } from '../src/engine/graph/runtime';
import { buildCheckModels, maxRelativeDifference, runCheckModel } from '../src/engine/model/providerCheck';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const preset = arg('preset', 'tiny-cpu');
  const provider = arg('provider', 'webgpu') as ProviderChoice;
  const runs = Number(arg('runs', '1'));
  const threads = Number(arg('threads', '0'));
  const parts = arg('parts', 'detect,train').split(',').filter((p) => p === 'detect' || p === 'train') as Array<'detect' | 'train'>;
  const t0 = performance.now();
  const models = buildCheckModels(preset, { trainBatch: Number(arg('train-batch', '2')) });
  const buildMs = performance.now() - t0;
  const result: Record<string, unknown> = { preset, requested: provider, buildMs };
  for (const part of parts) {
    const m = models[part];
    const cpu = await runCheckModel(m, 'cpu', { threads, runs });
    process.stderr.write(`${PLACEMENT_MARKER} ${part}\n`);
    const dev = await runCheckModel(m, provider, { threads, runs });
    const { maxRel, worst } = maxRelativeDifference(cpu.outputs, dev.outputs);
    result.provider = dev.provider;
    result[part] = {
      maxRel: Number.isFinite(maxRel) ? maxRel : 'Infinity', worst, outputs: Object.keys(cpu.outputs).length,
      cpu: { sessionMs: cpu.sessionMs, runMedianMs: cpu.runMedianMs }, device: { sessionMs: dev.sessionMs, runMedianMs: dev.runMedianMs },
    };
  }
  await releaseAllSessions();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: (e as Error).message })}\n`);
  process.exitCode = 1;
});
