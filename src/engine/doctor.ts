/**
 * `anyad doctor` / "AnyAD: Show setup": one screen a user pastes into a bug report — the
 * platform and onnxruntime binding, each execution provider (compiled in? installed? does a
 * session start? why not), the Vulkan drivers WebGPU would use, what 'auto' picks and why,
 * threads, pretrained encoder weights in the Hugging Face cache, and trained models found.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus, totalmem, freemem } from 'node:os';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { vulkanDrivers, webgpuSoftwareOnlyReason } from './graph/adapters';
import { Graph, emitModel, relu } from './graph';
import {
  type ExecutionProviderName,
  bindingDir,
  createSession,
  cudaProviderStatus,
  forgetProviderProbes,
  releaseSession,
  run,
} from './graph/runtime';
import { hubCacheDir, isOffline, listCache } from './hub/cache';
import { bundleCreatedAt, findNewestBundle } from './model/bundleLocator';
import { required } from './errors';

export interface ProviderReport {
  name: ExecutionProviderName;
  /** In this platform's onnxruntime binding. */
  compiledIn: boolean;
  /** A one-node session started and ran (only when probing). */
  works?: boolean;
  /** Why it cannot be used (not compiled in, not installed, failed to start). */
  why?: string;
  ms?: number;
}

export interface DoctorReport {
  anyad: string;
  node: string;
  platform: string;
  onnxruntime: { version: string; bindingDir: string; bindingFiles: string[]; backends: string[] };
  providers: ProviderReport[];
  auto: { provider: string; reasons: string[] } | { error: string };
  webgpu: { vulkanDrivers: Array<{ name: string; software: boolean; manifest: string }>; softwareOnly?: string };
  threads: { logicalCpus: number; availableParallelism: number; setting: number; cpuModel: string };
  memory: { totalMb: number; freeMb: number };
  encoderWeights: {
    cacheDir: string;
    offline: boolean;
    entries: Array<{ repo: string; commit: string; revisions: string[]; sizeMb: number; path: string }>;
  };
  models: Array<{ dir: string; source: string; createdAt?: string }>;
  env: Record<string, string>;
}

const ENV_KEYS = [
  'ANYAD_EXPECT_GPU',
  'ANYAD_ORT_LOG',
  'VK_ICD_FILENAMES',
  'VK_DRIVER_FILES',
  'LD_LIBRARY_PATH',
  'CUDA_PATH',
  'HF_HOME',
  'HF_HUB_CACHE',
  'HF_HUB_OFFLINE',
];

function onnxruntimeVersion(): string {
  try {
    return (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** A one-node model for probing providers. */
function probeModel(): Uint8Array {
  const g = new Graph('doctor-probe');
  g.output('y', relu(g.input('x', [1, 4])));
  return emitModel(g);
}

/** Each provider: whether the binding has it, and (with `probe`) whether a one-node session runs on it. */
async function providerReports(
  model: Uint8Array,
  backends: readonly string[],
  dir: string,
  probe: boolean,
  env: NodeJS.ProcessEnv,
): Promise<ProviderReport[]> {
  const providers: ProviderReport[] = [];
  for (const name of ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const) {
    const compiledIn = backends.includes(name);
    const r: ProviderReport = { name, compiledIn };
    if (!compiledIn) r.why = `not in onnxruntime-node's ${process.platform}/${process.arch} binding`;
    else if (name === 'cuda' && !cudaProviderStatus().installed)
      r.why = `not installed: ${cudaProviderStatus().missing.join(', ')} missing in ${dir} (anyad doctor --install-cuda)`;
    else if (probe) {
      const t0 = performance.now();
      try {
        const s = await createSession(model, { provider: name, threads: 1 });
        await run(s, { x: new Float32Array(4) }, { x: [1, 4] });
        await releaseSession(s);
        r.works = true;
      } catch (e) {
        r.works = false;
        r.why = (e as Error).message;
      }
      r.ms = Math.round(performance.now() - t0);
    }
    if (name === 'webgpu' && r.works) {
      const soft = webgpuSoftwareOnlyReason(env);
      if (soft) r.why = `works, but ${soft}`;
    }
    providers.push(r);
  }
  return providers;
}

/** What provider 'auto' picks here, from a fresh probe, and why it passed over the others. */
async function autoChoice(model: Uint8Array): Promise<DoctorReport['auto']> {
  try {
    forgetProviderProbes();
    const s = await createSession(model, { provider: 'auto', threads: 1, log: () => {} });
    const auto = { provider: s.provider, reasons: [...s.fallbackReasons] };
    await releaseSession(s);
    return auto;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The newest bundle of each workspace, then the shipped default. */
function modelsFound(workspaceRoots: readonly string[], shippedDefault: string | undefined): DoctorReport['models'] {
  const models: DoctorReport['models'] = [];
  for (const root of workspaceRoots) {
    const d = findNewestBundle(root);
    // The extension's own folder as a workspace would list the shipped default twice.
    if (d && shippedDefault && resolve(d) === resolve(shippedDefault)) continue;
    if (d)
      models.push({
        dir: d,
        source: 'workspace (newest)',
        createdAt: new Date(required(bundleCreatedAt(d), `the creation time of ${d}`)).toISOString(),
      });
  }
  if (shippedDefault && existsSync(shippedDefault)) {
    const t = bundleCreatedAt(shippedDefault);
    models.push({
      dir: shippedDefault,
      source: t === undefined ? 'shipped default (not a bundle!)' : 'shipped default',
      createdAt: t === undefined ? undefined : new Date(t).toISOString(),
    });
  }
  return models;
}

/**
 * Gathers the report. `probe` (default true) starts a one-node session on each provider the
 * binding has; `workspaceRoots`/`shippedDefault` are where models are looked for.
 */
export async function doctorReport(
  opts: {
    anyadVersion: string;
    threads?: number;
    probe?: boolean;
    workspaceRoots?: string[];
    shippedDefault?: string;
    env?: NodeJS.ProcessEnv;
  } = { anyadVersion: '?' },
): Promise<DoctorReport> {
  const env = opts.env ?? process.env;
  const backends = ort.listSupportedBackends().map((b) => b.name);
  const dir = bindingDir();
  let bindingFiles: string[] = [];
  try {
    bindingFiles = readdirSync(dir).sort();
  } catch {
    /* no binding for this platform */
  }
  const model = probeModel();
  const providers = await providerReports(model, backends, dir, opts.probe ?? true, env);
  const auto = await autoChoice(model);
  const cacheDir = hubCacheDir(env);
  const models = modelsFound(opts.workspaceRoots ?? [], opts.shippedDefault);
  return {
    anyad: opts.anyadVersion,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    onnxruntime: { version: onnxruntimeVersion(), bindingDir: dir, bindingFiles, backends },
    providers,
    auto,
    webgpu: {
      vulkanDrivers: vulkanDrivers(env).map((d) => ({ name: d.name, software: d.software, manifest: d.manifest })),
      softwareOnly: webgpuSoftwareOnlyReason(env),
    },
    threads: {
      logicalCpus: cpus().length,
      availableParallelism: availableParallelism(),
      setting: opts.threads ?? 0,
      cpuModel: cpus()[0]?.model ?? 'unknown',
    },
    memory: { totalMb: Math.round(totalmem() / 2 ** 20), freeMb: Math.round(freemem() / 2 ** 20) },
    encoderWeights: {
      cacheDir,
      offline: isOffline(env),
      entries: listCache(cacheDir)
        .filter((e) => /dinov2/i.test(e.repo))
        .map((e) => ({ repo: e.repo, commit: e.commit, revisions: e.revisions, sizeMb: Math.round(e.size / 2 ** 20), path: e.path })),
    },
    models,
    env: Object.fromEntries(
      ENV_KEYS.flatMap((k) => {
        const v = env[k];
        return v === undefined ? [] : [[k, v]];
      }),
    ),
  };
}

/** The report as text (what `anyad doctor` prints and "AnyAD: Show setup" shows). */
export function formatDoctorReport(r: DoctorReport): string {
  const L: string[] = [];
  L.push(`AnyAD ${r.anyad} · Node ${r.node} · ${r.platform}`);
  L.push(`onnxruntime-node ${r.onnxruntime.version}: ${r.onnxruntime.bindingDir}`);
  L.push(`  binding files: ${r.onnxruntime.bindingFiles.join(', ') || '(none for this platform)'}`);
  L.push(`  providers compiled in: ${r.onnxruntime.backends.join(', ')}`);
  L.push('execution providers:');
  for (const p of r.providers) {
    const state = !p.compiledIn
      ? 'unavailable'
      : p.works === undefined
        ? p.why
          ? 'unavailable'
          : 'not probed'
        : p.works
          ? `works (${p.ms} ms)`
          : 'FAILS';
    L.push(`  ${p.name.padEnd(7)} ${state}${p.why ? ` — ${p.why}` : ''}`);
  }
  L.push(
    'auto' in r && 'error' in r.auto
      ? `provider 'auto': ERROR ${r.auto.error}`
      : `provider 'auto' → ${(r.auto as { provider: string }).provider}`,
  );
  if (!('error' in r.auto)) for (const why of r.auto.reasons) L.push(`  skipped: ${why}`);
  L.push(
    `Vulkan drivers (what WebGPU runs on, Linux): ${r.webgpu.vulkanDrivers.length ? r.webgpu.vulkanDrivers.map((d) => `${d.name}${d.software ? ' (software)' : ''} [${d.manifest}]`).join(', ') : 'none found'}`,
  );
  L.push(
    `threads: ${r.threads.setting || `auto (onnxruntime: one per physical core)`}; ${r.threads.logicalCpus} logical CPUs (${r.threads.availableParallelism} available), ${r.threads.cpuModel}`,
  );
  L.push(`memory: ${r.memory.freeMb} MB free of ${r.memory.totalMb} MB`);
  L.push(`encoder weights (Hugging Face cache ${r.encoderWeights.cacheDir}${r.encoderWeights.offline ? ', offline' : ''}):`);
  if (r.encoderWeights.entries.length === 0)
    L.push('  none (anyad weights get facebook/dinov2-with-registers-small, or the random-init encoder is used)');
  for (const e of r.encoderWeights.entries)
    L.push(`  ${e.repo}@${e.commit.slice(0, 12)}${e.revisions.length ? ` (${e.revisions.join(', ')})` : ''} ${e.sizeMb} MB`);
  L.push('models:');
  if (r.models.length === 0) L.push('  none found');
  for (const m of r.models) L.push(`  ${m.source}: ${m.dir}${m.createdAt ? ` (${m.createdAt})` : ''}`);
  const envs = Object.entries(r.env);
  if (envs.length) L.push(`environment: ${envs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return `${L.join('\n')}\n`;
}
