/**
 * The GPU check behind scripts/gpu-check.sh (run that): on a machine with an NVIDIA GPU, in
 * under 10 minutes —
 *   1. setup: nvidia-smi, `anyad doctor --json` (providers, what 'auto' picks);
 *   2. runtime tests strict on CUDA (ANYAD_EXPECT_GPU=cuda);
 *   3. per preset (cpu, paper): the detection graph and a training step on CUDA against the
 *      CPU provider (max |diff| / max |cpu|), and the nodes onnxruntime placed on the CPU;
 *   4. bench:speed on CUDA (its JSON line);
 * then one JSON line. Each step has its own time limit, so a hang costs that step only.
 *
 * --dry-run exercises the same plumbing without a GPU: WebGPU over SwiftShader instead of
 * CUDA, the tiny-cpu preset, a short bench:speed on the CPU.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { swiftShaderEnv } from '../src/engine/graph/adapters';
import { cpuNodeCount, describeCpuNodes } from '../src/engine/graph/placement';
import { spawnProviderCheck } from './provider-check';

const root = join(__dirname, '..');
const dry = process.argv.includes('--dry-run');
const t0 = Date.now();
const log = (s: string) => process.stderr.write(`[gpu-check ${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`);

function sh(
  cmd: string,
  args: string[],
  timeoutS: number,
  env: NodeJS.ProcessEnv = process.env,
): { code: number | null; out: string; err: string; timedOut: boolean } {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '', timedOut: r.error !== undefined && /ETIMEDOUT/.test(String(r.error)) };
}
const lastJson = (text: string): Record<string, unknown> | undefined => {
  for (const line of text.trim().split('\n').reverse()) {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
  }
  return undefined;
};
const tsx = (script: string, args: string[]) => [process.execPath, ['--import', 'tsx', join(root, script), ...args]] as const;

async function main(): Promise<void> {
  const provider = dry ? 'webgpu' : 'cuda';
  const env: Record<string, string> = dry ? (swiftShaderEnv() ?? {}) : {};
  const presets = dry ? ['tiny-cpu'] : ['cpu', 'paper'];
  const result: Record<string, unknown> = { check: 'gpu', dryRun: dry, provider };
  let ok = true;

  const smi = sh('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], 20);
  const gpu = smi.code === 0 ? smi.out.trim() : null;
  result.gpu = gpu;
  log(`nvidia-smi: ${gpu ?? 'not available'}`);
  if (!dry && smi.code !== 0) ok = false;

  const [node, doctorArgs] = tsx('src/cli/main.ts', ['doctor', '--json']);
  const doc = lastJson(sh(node, [...doctorArgs], 120, { ...process.env, ...env }).out) as
    { providers?: Array<{ name: string; works?: boolean; why?: string }>; auto?: { provider?: string; reasons?: string[] } } | undefined;
  result.providers = doc?.providers?.map((p) => ({ name: p.name, works: p.works ?? null, why: p.why ?? null }));
  const providerAuto = doc?.auto?.provider ?? null;
  result.provider_auto = providerAuto;
  log(`doctor: auto → ${providerAuto}; ${doc?.providers?.map((p) => `${p.name} ${p.works ? 'works' : 'no'}`).join(', ')}`);
  if (!dry && providerAuto !== 'cuda') ok = false;

  const rt = sh(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=tap', join(root, 'test', 'runtime', 'runtime.test.ts')],
    180,
    { ...process.env, ...env, ANYAD_EXPECT_GPU: provider },
  );
  result.runtime_tests = {
    passed: rt.code === 0,
    summary: rt.out
      .split('\n')
      .filter((l) => /^# (pass|fail)/.test(l))
      .join(', '),
  };
  log(`runtime tests (ANYAD_EXPECT_GPU=${provider}): ${rt.code === 0 ? 'pass' : 'FAIL'}`);
  ok &&= rt.code === 0;

  const checks: Record<string, unknown> = {};
  let detectMax = 0;
  let trainMax = 0;
  let cpuDetect = 0;
  let cpuTrain = 0;
  for (const preset of presets) {
    const r = await spawnProviderCheck(['--preset', preset, '--provider', provider, '--runs', '3', '--train-batch', dry ? '2' : '16'], {
      env,
      timeoutMs: 240_000,
    });
    if (r.code !== 0 || r.result.error) {
      ok = false;
      checks[preset] = { error: r.result.error ?? `exit ${r.code}` };
      log(`${preset}: FAILED ${r.result.error ?? r.stderrTail}`);
      continue;
    }
    const entry: Record<string, unknown> = { provider: r.result.provider };
    for (const part of ['detect', 'train'] as const) {
      const x = r.result[part]!;
      const p = r.placements.get(part);
      const rel = typeof x.maxRel === 'number' ? x.maxRel : Infinity;
      const cpuNodes = p ? cpuNodeCount(p) : null;
      entry[part] = {
        maxRel: x.maxRel,
        worst: x.worst,
        cpuNodes,
        cpuOps: p ? describeCpuNodes(p) : null,
        cpuMs: x.cpu.runMedianMs,
        deviceMs: x.device.runMedianMs,
        placement: p?.byProvider,
      };
      if (part === 'detect') {
        detectMax = Math.max(detectMax, rel);
        cpuDetect = Math.max(cpuDetect, cpuNodes ?? Infinity);
      } else {
        trainMax = Math.max(trainMax, rel);
        cpuTrain = Math.max(cpuTrain, cpuNodes ?? Infinity);
      }
      log(
        `${preset} ${part}: max rel ${rel.toExponential(2)}, CPU nodes ${p ? describeCpuNodes(p) : '?'}, cpu ${x.cpu.runMedianMs.toFixed(0)} ms vs ${provider} ${x.device.runMedianMs.toFixed(0)} ms`,
      );
      ok &&= rel <= 1e-4 && r.result.provider === provider;
    }
    checks[preset] = entry;
  }
  Object.assign(result, {
    detect_max_rel: detectMax,
    train_max_rel: trainMax,
    cpu_nodes_detect: cpuDetect,
    cpu_nodes_train: cpuTrain,
    presets: checks,
  });

  const [n3, benchArgs] = tsx(
    'bench/speed-bench.ts',
    dry
      ? ['--presets', 'tiny-cpu', '--runs', '1', '--train-batches', '2', '--provider', 'cpu']
      : ['--presets', 'cpu,paper', '--runs', '3', '--train-batches', '16', '--provider', 'cuda'],
  );
  const bench = sh(n3, [...benchArgs], dry ? 240 : 300, { ...process.env, ...env });
  result.speed =
    bench.code === 0
      ? (lastJson(bench.out) ?? null)
      : { error: bench.timedOut ? 'timed out' : (bench.err.trim().split('\n').pop() ?? `exit ${bench.code}`) };
  log(`bench:speed: ${bench.code === 0 ? 'done' : 'FAILED'}`);
  ok &&= bench.code === 0;

  result.ok = ok;
  result.elapsed_s = Math.round((Date.now() - t0) / 1000);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = ok ? 0 : 1;
}

void main();
