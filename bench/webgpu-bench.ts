/**
 * WebGPU benchmark (not a test): for each preset (default cpu, paper), the detection graph
 * (batch 1) and one training step's graph (batch --train-batch, default 2) on the WebGPU
 * provider against the CPU provider, in a child process each (scripts/provider-check.ts):
 * agreement (max |diff| / max |cpu| over the outputs), nodes onnxruntime placed on the CPU
 * (its own "Node placements" log), what 'auto' picks in the same environment, and timings
 * (session creation; median of --runs runs after a warm-up, or with --runs 0 the one run's time).
 *
 * The device is Chromium's SwiftShader software Vulkan driver unless --env current is given
 * (then the machine's own drivers: a real GPU). The last line is one JSON object:
 * {detect_max_rel, train_max_rel, cpu_nodes_detect, cpu_nodes_train, provider_auto, …}
 * (the max over presets; per preset under `presets`).
 *
 *   node --import tsx bench/webgpu-bench.ts [--presets cpu,paper] [--runs 0] [--train-batch 2]
 *        [--provider webgpu] [--env swiftshader|current] [--placement-only paper] [--timeout-s 3600]
 * On SwiftShader the paper preset is placement-only by default (its runs take tens of minutes
 * on 2 cores): its sessions are created, not run, and its max_rel is not part of the JSON.
 */
import { cpus, loadavg } from 'node:os';
import { spawnProviderCheck } from '../scripts/provider-check';
import { swiftShaderEnv } from '../src/engine/graph/adapters';
import { cpuNodeCount, describeCpuNodes } from '../src/engine/graph/placement';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const presets = arg('presets', 'cpu,paper').split(',').filter(Boolean);
  // 0: one run each, timed (on SwiftShader a cpu-preset training step alone takes minutes).
  const runs = arg('runs', '0');
  const provider = arg('provider', 'webgpu');
  const envKind = arg('env', 'swiftshader');
  // On SwiftShader a paper-preset run takes tens of minutes on 2 cores: by default only its
  // placement is read there (sessions created, not run); --placement-only '' runs everything.
  const placementOnlyPresets = arg('placement-only', envKind === 'swiftshader' ? 'paper' : '')
    .split(',')
    .filter(Boolean);
  const env = envKind === 'swiftshader' ? swiftShaderEnv() : {};
  if (!env)
    throw new Error(
      'SwiftShader not found (/usr/lib/chromium/vk_swiftshader_icd.json): run ./scripts/install-test-deps.sh, or pass --env current',
    );
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(
    `webgpu bench: ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}, provider ${provider}, drivers ${envKind}${env.VK_ICD_FILENAMES ? ` (${env.VK_ICD_FILENAMES})` : ''}, ${runs} timed run(s)`,
  );
  const per: Record<string, unknown> = {};
  // Agreement only over the parts that ran (null in the JSON when none did).
  let detectMax = -1;
  let trainMax = -1;
  let cpuDetect = 0;
  let cpuTrain = 0;
  let auto = '';
  let failed = false;
  for (const preset of presets) {
    const placementOnly = placementOnlyPresets.includes(preset);
    const r = await spawnProviderCheck(
      [
        '--preset',
        preset,
        '--provider',
        provider,
        '--runs',
        runs,
        '--train-batch',
        arg('train-batch', '2'),
        ...(placementOnly ? ['--placement-only'] : []),
      ],
      { env, timeoutMs: Number(arg('timeout-s', '3600')) * 1000 },
    );
    if (r.code !== 0 || r.result.error) {
      failed = true;
      log(`${preset}: FAILED (${r.result.error ?? `exit ${r.code}`})\n${r.stderrTail}`);
      per[preset] = { error: r.result.error ?? `exit ${r.code}` };
      continue;
    }
    auto = r.result.auto?.provider ?? auto;
    const entry: Record<string, unknown> = { provider: r.result.provider, auto: r.result.auto, wallMs: r.ms };
    for (const part of ['detect', 'train'] as const) {
      const x = r.result[part];
      const p = r.placements.get(part);
      const cpuNodes = p ? cpuNodeCount(p) : -1;
      if (!x) {
        cpuDetect = part === 'detect' ? Math.max(cpuDetect, cpuNodes < 0 ? Infinity : cpuNodes) : cpuDetect;
        cpuTrain = part === 'train' ? Math.max(cpuTrain, cpuNodes < 0 ? Infinity : cpuNodes) : cpuTrain;
        entry[part] = { placementOnly: true, cpuNodes, placement: p?.byProvider };
        log(`${preset} ${part}: placement only (not run), CPU nodes ${p ? describeCpuNodes(p) : 'not reported'}`);
        continue;
      }
      const rel = typeof x.maxRel === 'number' ? x.maxRel : Infinity;
      if (part === 'detect') {
        detectMax = Math.max(detectMax, rel);
        cpuDetect = Math.max(cpuDetect, cpuNodes < 0 ? Infinity : cpuNodes);
      } else {
        trainMax = Math.max(trainMax, rel);
        cpuTrain = Math.max(cpuTrain, cpuNodes < 0 ? Infinity : cpuNodes);
      }
      entry[part] = { ...x, cpuNodes, placement: p?.byProvider };
      log(
        `${preset} ${part}: max rel ${rel.toExponential(2)} (${x.worst}), CPU nodes ${p ? describeCpuNodes(p) : 'not reported'}; ` +
          `cpu: session ${x.cpu.sessionMs.toFixed(0)} ms, run ${x.cpu.runMedianMs?.toFixed(0) ?? '-'} ms; ${r.result.provider}: session ${x.device.sessionMs.toFixed(0)} ms, run ${x.device.runMedianMs?.toFixed(0) ?? '-'} ms`,
      );
    }
    log(`${preset}: 'auto' → ${r.result.auto?.provider} (${r.result.auto?.reasons.join(' | ')})`);
    per[preset] = entry;
  }
  const num = (v: number) => (Number.isFinite(v) ? v : null);
  const rel = (v: number) => (v < 0 ? null : Number.isFinite(v) ? v : 'Infinity');
  process.stdout.write(
    `${JSON.stringify({
      bench: 'webgpu',
      detect_max_rel: rel(detectMax),
      train_max_rel: rel(trainMax),
      cpu_nodes_detect: num(cpuDetect),
      cpu_nodes_train: num(cpuTrain),
      provider_auto: auto,
      provider,
      drivers: envKind,
      runs: Number(runs),
      presets: per,
    })}\n`,
  );
  if (failed) process.exitCode = 1;
}

void main();
