import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { listSupportedBackends } from 'onnxruntime-node';
import { RuntimeProviderError } from '../../src/engine/errors';
import { vulkanDrivers, webgpuSoftwareOnlyReason } from '../../src/engine/graph/adapters';
import { Graph, add, emitModel, matmul, relu } from '../../src/engine/graph';
import {
  autoOrder,
  cachedSessionCount,
  createSession,
  cudaProviderStatus,
  forgetProviderProbes,
  outputFloat32,
  releaseAllSessions,
  releaseSession,
  run,
  setSessionCacheCapacity,
} from '../../src/engine/graph/runtime';

/** y = relu(x·W + b) with W [3,2], b [2] baked in; `k` varies the weights (→ different model bytes). */
function tinyModel(k = 1): { bytes: Uint8Array; w: Float32Array; b: Float32Array } {
  const g = new Graph('tiny');
  const x = g.input('x', [2, 3]);
  const w = Float32Array.from([1, -2, 0.5, 3, -1, k]);
  const b = Float32Array.from([0.25, -4]);
  g.output('y', relu(add(matmul(x, g.param('w', [3, 2], w)), g.param('b', [2], b))));
  return { bytes: emitModel(g), w, b };
}

function expected(x: Float32Array, w: Float32Array, b: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 2; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += x[i * 3 + k] * w[k * 2 + j];
      out.push(Math.max(0, Math.fround(s + b[j])));
    }
  return out;
}

const X = Float32Array.from([1, 2, 3, -1, 0.5, 2]);

const isProviderError = (code: RegExp, message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof RuntimeProviderError, `expected RuntimeProviderError, got ${String(e)}`);
  assert.match(e.code, code);
  assert.match(e.message, message);
  return true;
};

test('CPU session from model bytes runs and returns typed outputs', async () => {
  const m = tinyModel();
  const s = await createSession(m.bytes, { provider: 'cpu', threads: 1, graphOptimization: 'basic' });
  assert.equal(s.provider, 'cpu');
  assert.deepEqual(s.fallbackReasons, []);
  assert.deepEqual(s.inputNames, ['x']);
  assert.deepEqual(s.outputNames, ['y']);
  const out = await run(s, { x: X }, { x: [2, 3] });
  assert.deepEqual(out.y.dims, [2, 2]);
  assert.equal(out.y.type, 'float32');
  assert.deepEqual([...outputFloat32(out, 'y')], expected(X, m.w, m.b));
  await releaseSession(s);
});

test("'auto' picks CUDA/WebGPU when they work, otherwise CPU with a logged reason per provider", async () => {
  forgetProviderProbes();
  const logs: string[] = [];
  const m = tinyModel(2);
  const s = await createSession(m.bytes, { provider: 'auto', log: (l) => logs.push(l) });
  assert.ok(['cpu', 'webgpu', 'cuda'].includes(s.provider));
  assert.deepEqual([...outputFloat32(await run(s, { x: X }, { x: [2, 3] }), 'y')], expected(X, m.w, m.b));
  if (!cudaProviderStatus().installed) {
    assert.notEqual(s.provider, 'cuda');
    assert.match(s.fallbackReasons[0], /CUDA execution provider is not installed.*--onnxruntime-node-install=cuda12/);
  }
  if (s.provider === 'cpu') {
    // Both GPU providers were considered, each has a reason, and the choice is logged once.
    assert.equal(s.fallbackReasons.length, 2);
    assert.match(s.fallbackReasons[1], /WebGPU/);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /^provider 'auto' uses cpu: .*CUDA.* \| .*WebGPU/);
  }
  // The failed probe is remembered: a second model does not retry (nor log) it.
  const again = await createSession(tinyModel(3).bytes, { provider: 'auto', log: (l) => logs.push(`second: ${l}`) });
  assert.equal(again.provider, s.provider);
  assert.ok(!logs.some((l) => l.startsWith('second:')));
  await releaseAllSessions();
});

/**
 * ANYAD_EXPECT_GPU=cuda|webgpu (comma-separated): this machine has that accelerator, so the
 * explicit-provider tests below must get it instead of accepting a clear error
 * (scripts/gpu-check.sh sets cuda; test/runtime/webgpu.test.ts sets webgpu over SwiftShader).
 * Without it they still require a definite outcome where the machine shows one: no NVIDIA
 * driver, or no Vulkan driver for WebGPU, means the provider must fail with its typed error.
 */
const GPU_FLAG_VALUES = ['cuda', 'webgpu'];
const GPU_FLAG = process.env.ANYAD_EXPECT_GPU ?? '';
const EXPECT_GPU = new Set(
  GPU_FLAG.split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** The kernel module's version file: present wherever an NVIDIA driver is loaded (containers with a GPU included). */
const NVIDIA_DRIVER_LOADED = existsSync('/proc/driver/nvidia/version');

/** A session on `provider` that must work: it runs the tiny model and gives the CPU's answer. */
async function assertProviderWorks(provider: 'cuda' | 'webgpu', m: ReturnType<typeof tinyModel>): Promise<void> {
  const s = await createSession(m.bytes, { provider });
  assert.equal(s.provider, provider);
  const y = outputFloat32(await run(s, { x: X }, { x: [2, 3] }), 'y');
  expected(X, m.w, m.b).forEach((v, i) => assert.ok(Math.abs(y[i] - v) < 1e-5, `y[${i}] = ${y[i]}, expected ${v}`));
}

test('ANYAD_EXPECT_GPU names only cuda and webgpu (a misspelt name would make the GPU tests lenient)', () => {
  const unknown = [...EXPECT_GPU].filter((name) => !GPU_FLAG_VALUES.includes(name));
  assert.deepEqual(unknown, [], `ANYAD_EXPECT_GPU=${GPU_FLAG}: use ${GPU_FLAG_VALUES.join(', ')} or both, comma-separated`);
});

test("explicit 'cuda' works where expected, otherwise fails with a RuntimeProviderError that says what to install/check", async (t) => {
  const m = tinyModel(4);
  if (EXPECT_GPU.has('cuda')) {
    await assertProviderWorks('cuda', m);
  } else if (!cudaProviderStatus().installed) {
    await assert.rejects(
      createSession(m.bytes, { provider: 'cuda' }),
      isProviderError(/^runtime\/cuda-unavailable$/, /libonnxruntime_providers_cuda\.so.*--onnxruntime-node-install=cuda12.*cuDNN/),
    );
  } else if (process.platform === 'linux' && !NVIDIA_DRIVER_LOADED) {
    // Installed, but no GPU to run on: it must fail, and say to check the driver.
    await assert.rejects(
      createSession(m.bytes, { provider: 'cuda' }),
      isProviderError(/^runtime\/cuda-failed$/, /NVIDIA driver.*LD_LIBRARY_PATH/),
    );
  } else {
    // An NVIDIA driver without ANYAD_EXPECT_GPU=cuda: it may lack cuDNN, so either outcome, but a failure is the typed error.
    t.diagnostic('an NVIDIA driver is loaded: set ANYAD_EXPECT_GPU=cuda to require the CUDA provider to work');
    try {
      await assertProviderWorks('cuda', m);
    } catch (e) {
      isProviderError(/^runtime\/cuda-failed$/, /NVIDIA driver|LD_LIBRARY_PATH/)(e);
    }
  }
  await releaseAllSessions();
});

test("explicit 'webgpu' works where expected, otherwise fails with a RuntimeProviderError (no crash)", async (t) => {
  const m = tinyModel(5);
  if (EXPECT_GPU.has('webgpu')) {
    await assertProviderWorks('webgpu', m);
  } else if (process.platform === 'linux' && vulkanDrivers().length === 0) {
    // No Vulkan driver for Dawn to use: it must fail, and say that it needs one.
    await assert.rejects(
      createSession(m.bytes, { provider: 'webgpu' }),
      isProviderError(/^runtime\/webgpu-failed$/, /WebGPU execution provider failed to start.*Vulkan driver/),
    );
  } else {
    t.diagnostic('a Vulkan driver is visible: set ANYAD_EXPECT_GPU=webgpu to require the WebGPU provider to work');
    try {
      await assertProviderWorks('webgpu', m);
    } catch (e) {
      isProviderError(/^runtime\/webgpu-(failed|unavailable)$/, /WebGPU/)(e);
    }
  }
  await releaseAllSessions();
});

test("'auto' never picks a software adapter: with only SwiftShader/lavapipe visible it says why and uses another provider", async () => {
  const software = webgpuSoftwareOnlyReason();
  if (!software) return; // a hardware Vulkan driver (or none to judge by) is visible: nothing to show here
  forgetProviderProbes();
  const logs: string[] = [];
  const s = await createSession(tinyModel(9).bytes, { provider: 'auto', log: (l) => logs.push(l) });
  assert.notEqual(s.provider, 'webgpu');
  assert.ok(s.fallbackReasons.includes(software), s.fallbackReasons.join(' | '));
  assert.equal(logs.length, 1);
  assert.match(logs[0], new RegExp(`^provider 'auto' uses ${s.provider}: .*WebGPU`));
  await releaseAllSessions();
  forgetProviderProbes();
});

test("'auto' order per platform: the accelerators each onnxruntime-node binding has (CUDA, DirectML, WebGPU), never CoreML", () => {
  // The provider names each platform's native binding registers (NUL-terminated strings in the .node file).
  const names = new Set(['cpu', 'cuda', 'dml', 'coreml', 'webgpu']);
  const backendsOf = (platform: string, arch: string): string[] => {
    // This machine's own binding answers for itself (linux-x64's CUDA name is not a plain string in it).
    if (platform === process.platform && arch === process.arch)
      return listSupportedBackends()
        .map((b) => b.name)
        .filter((n) => names.has(n))
        .sort();
    const bin = readFileSync(
      join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', platform, arch, 'onnxruntime_binding.node'),
    );
    return [
      ...new Set(
        bin
          .toString('latin1')
          .split('\0')
          .filter((t) => names.has(t)),
      ),
    ].sort();
  };
  const expectations: Array<[string, string, string[], string[]]> = [
    ['linux', 'x64', ['cpu', 'cuda', 'webgpu'], ['cuda', 'webgpu']],
    ['linux', 'arm64', ['cpu'], []],
    ['win32', 'x64', ['cpu', 'dml', 'webgpu'], ['dml', 'webgpu']],
    ['win32', 'arm64', ['cpu', 'dml', 'webgpu'], ['dml', 'webgpu']],
    ['darwin', 'arm64', ['coreml', 'cpu', 'webgpu'], ['webgpu']],
  ];
  for (const [platform, arch, backends, order] of expectations) {
    assert.deepEqual(backendsOf(platform, arch), backends, `${platform}-${arch}`);
    assert.deepEqual(autoOrder(backends), order, `${platform}-${arch}`);
  }
});

test('sessions are cached by model bytes + options (LRU); each createSession is an owner; freed after the last owner and run', async () => {
  await releaseAllSessions();
  const a1 = await createSession(tinyModel(6).bytes, { provider: 'cpu' });
  const a2 = await createSession(tinyModel(6).bytes, { provider: 'cpu' }); // equal bytes, new array: same session, second owner
  assert.equal(a1, a2);
  const a3 = await createSession(tinyModel(6).bytes, { provider: 'cpu', threads: 1 });
  assert.notEqual(a1, a3);
  assert.equal(cachedSessionCount(), 2);

  setSessionCacheCapacity(1);
  try {
    assert.equal(cachedSessionCount(), 1);
    // a1 (least recently used) left the cache, but its owners still hold it: it keeps working.
    assert.equal((await run(a1, { x: X }, { x: [2, 3] })).y.data.length, 4);
    // One owner releasing it does not free it under the other.
    await releaseSession(a1);
    assert.equal((await run(a2, { x: X }, { x: [2, 3] })).y.data.length, 4);
    // The last owner frees it: running it now is a clear error.
    await releaseSession(a2);
    await assert.rejects(run(a1, { x: X }, { x: [2, 3] }), isProviderError(/^runtime\/released$/, /released/));
    // Released by its owner while a run is in flight: freed once the run is done.
    const pending = run(a3, { x: X }, { x: [2, 3] });
    const b = await createSession(tinyModel(7).bytes, { provider: 'cpu' });
    assert.equal(cachedSessionCount(), 1);
    await releaseSession(a3);
    assert.equal((await pending).y.dims.length, 2);
    await assert.rejects(run(a3, { x: X }, { x: [2, 3] }), isProviderError(/^runtime\/released$/, /createSession/));
    assert.equal((await run(b, { x: X }, { x: [2, 3] })).y.data.length, 4);
  } finally {
    setSessionCacheCapacity(8);
    await releaseAllSessions();
  }
  assert.equal(cachedSessionCount(), 0);
});

test('a session from a model file; unreadable or invalid models are RuntimeProviderErrors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-rt-'));
  try {
    const m = tinyModel(8);
    const path = join(dir, 'tiny.onnx');
    writeFileSync(path, m.bytes);
    const s = await createSession(path, { provider: 'cpu' });
    assert.deepEqual([...outputFloat32(await run(s, { x: X }, { x: [2, 3] }), 'y')], expected(X, m.w, m.b));
    await assert.rejects(
      createSession(join(dir, 'missing.onnx')),
      isProviderError(/^runtime\/model-unreadable$/, /missing\.onnx: cannot read model file \(ENOENT\)/),
    );
    await assert.rejects(
      createSession(Buffer.from('not an onnx model')),
      isProviderError(/^runtime\/session-failed$/, /could not create a CPU session/),
    );
    await assert.rejects(createSession(m.bytes, { threads: -1 }), isProviderError(/^runtime\/bad-option$/, /threads/));
  } finally {
    await releaseAllSessions();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run() checks feeds: missing, unknown, wrong size, missing shape', async () => {
  const s = await createSession(tinyModel(9).bytes, { provider: 'cpu' });
  await assert.rejects(run(s, {}, {}), isProviderError(/missing-feed/, /input 'x' was not fed/));
  await assert.rejects(run(s, { x: X, z: X }, { x: [2, 3], z: [2, 3] }), isProviderError(/unknown-feed/, /'z' is not an input/));
  await assert.rejects(run(s, { x: X }, { x: [3, 3] }), isProviderError(/bad-feed/, /shape \[3, 3\] holds 9 values but 6/));
  await assert.rejects(run(s, { x: X }, {}), isProviderError(/missing-shape/, /no shape given for input 'x'/));
  await assert.rejects(run(s, { x: Int32Array.from([1, 2, 3, 4, 5, 6]) }, { x: [2, 3] }), isProviderError(/run-failed/, /on cpu/));
  assert.throws(() => outputFloat32({}, 'y'), isProviderError(/missing-output/, /'y' was not fetched/));
  await releaseAllSessions();
});
