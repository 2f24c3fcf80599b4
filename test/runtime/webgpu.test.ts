/**
 * WebGPU, proven on every run: the WebGPU execution provider over Chromium's SwiftShader
 * Vulkan driver (a software adapter; scripts/install-test-deps.sh installs it) runs the
 * tiny-cpu detection graph and one training step's graph, agrees with the CPU provider
 * (≤ 1e-4 of each output's max) and places no node on the CPU — counted from onnxruntime's own
 * "Node placements" log. The sessions run in child processes: onnxruntime logs only to stderr,
 * and VK_ICD_FILENAMES / LD_LIBRARY_PATH are read when a process starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classifyDriver,
  swiftShaderEnv,
  vulkanDriverManifests,
  vulkanDrivers,
  webgpuSoftwareOnlyReason,
} from '../../src/engine/graph/adapters';
import { cpuNodeCount, describeCpuNodes, parsePlacements } from '../../src/engine/graph/placement';
import { spawnProviderCheck } from '../../scripts/provider-check';

const TOLERANCE = 1e-4;

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...rest } = env;
  return rest;
}
const SWIFTSHADER = swiftShaderEnv();
const MISSING = 'the SwiftShader Vulkan driver is missing (/usr/lib/chromium/vk_swiftshader_icd.json): run ./scripts/install-test-deps.sh';

test('tiny-cpu on WebGPU (SwiftShader): detection and a training step agree with the CPU within 1e-4 of max; 0 nodes on the CPU', async () => {
  assert.ok(SWIFTSHADER, MISSING);
  const { result, placements, code, stderrTail } = await spawnProviderCheck(
    ['--preset', 'tiny-cpu', '--provider', 'webgpu', '--runs', '0'],
    { env: SWIFTSHADER },
  );
  assert.equal(code, 0, `provider check failed: ${result.error ?? stderrTail}`);
  assert.equal(result.provider, 'webgpu');
  // The same environment, provider 'auto': never the software adapter.
  assert.equal(result.auto?.provider, 'cpu', JSON.stringify(result.auto));
  assert.ok(
    result.auto.reasons.some((r) => /software Vulkan driver \(SwiftShader/.test(r)),
    result.auto.reasons.join(' | '),
  );
  for (const part of ['detect', 'train'] as const) {
    const r = result[part]!;
    assert.ok(
      typeof r.maxRel === 'number' && r.maxRel <= TOLERANCE,
      `${part}: WebGPU differs from the CPU by ${r.maxRel} of max (worst output ${r.worst})`,
    );
    assert.ok(r.outputs >= (part === 'detect' ? 3 : 100), `${part}: compared ${r.outputs} outputs`);
    const p = placements.get(part);
    assert.ok(p, `${part}: onnxruntime reported no node placement`);
    assert.ok((p.byProvider.WebGpuExecutionProvider ?? 0) > 100, `${part}: ${JSON.stringify(p.byProvider)}`);
    assert.equal(
      cpuNodeCount(p),
      0,
      `${part}: nodes on the CPU: ${describeCpuNodes(p)} — ${p.cpuNodes
        .slice(0, 8)
        .map((n) => n.name)
        .join(', ')}`,
    );
  }
});

test('tiny-cpu on WebGPU (SwiftShader), optimiser in the graph: 3 steps follow the CPU; parameters and state never leave the device between steps; 0 nodes on the CPU; the trainer uses it', async () => {
  assert.ok(SWIFTSHADER, MISSING);
  const { result, placements, code, stderrTail } = await spawnProviderCheck(
    ['--preset', 'tiny-cpu', '--provider', 'webgpu', '--parts', 'deviceLoop,trainAnyAD'],
    { env: SWIFTSHADER },
  );
  assert.equal(code, 0, `provider check failed: ${result.error ?? stderrTail}`);
  const r = result.deviceLoop;
  assert.ok(r, 'no device-loop result');
  assert.equal(r.provider, 'webgpu');
  assert.ok(r.lossMaxRel <= TOLERANCE, `losses differ from the CPU's by ${r.lossMaxRel}`);
  // WebGPU sums the squares of ~10⁵ gradients in float32 its own way (measured 1.5e-3); Adam's
  // update is invariant to that scale, as the losses show.
  assert.ok(r.gradNormMaxRel <= 1e-2, `gradient norms differ by ${r.gradNormMaxRel}`);
  // Per step only the batch goes in and a few scalars come out (loss, its terms, the norm).
  assert.ok(r.hostBytesPerStep.out <= 64, `${r.hostBytesPerStep.out} bytes came back to the host in a step`);
  assert.ok(r.hostBytesPerStep.in <= 200_000, `${r.hostBytesPerStep.in} bytes went in per step`);
  assert.ok(r.syncedParamsMoved, 'the parameters read back from the device are finite and trained');
  const p = placements.get('deviceLoop');
  assert.ok(p, 'onnxruntime reported no node placement for the device-loop session');
  assert.equal(cpuNodeCount(p), 0, `nodes on the CPU: ${describeCpuNodes(p)}`);
  // trainAnyAD on WebGPU: the optimiser in the graph, the CPU run's losses, a mid-run
  // evaluation sees that step's parameters (synced from the device), finite ones at the end.
  const t = result.trainAnyAD;
  assert.ok(t, 'no trainAnyAD result');
  assert.ok(t.optimizerInGraph, 'the trainer did not put the optimiser in the graph');
  assert.equal(t.steps, 4);
  assert.ok(t.lossMaxRel <= TOLERANCE, `the trainer's losses differ from the CPU's by ${t.lossMaxRel}`);
  assert.ok(t.evaluationSawTrainedParams, 'the evaluation saw the initial parameters: they were not synced from the device');
  assert.ok(t.finalParamsFinite);
});

test('cpu and paper presets on WebGPU: detection and training graphs place 0 nodes on the CPU (sessions created, not run)', async () => {
  assert.ok(SWIFTSHADER, MISSING);
  for (const preset of ['cpu', 'paper']) {
    const { result, placements, code, stderrTail } = await spawnProviderCheck(
      ['--preset', preset, '--provider', 'webgpu', '--placement-only'],
      { env: SWIFTSHADER },
    );
    assert.equal(code, 0, `${preset}: ${result.error ?? stderrTail}`);
    for (const part of ['detect', 'train']) {
      const p = placements.get(part);
      assert.ok(p && (p.byProvider.WebGpuExecutionProvider ?? 0) > 100, `${preset} ${part}: ${JSON.stringify(p?.byProvider)}`);
      assert.equal(cpuNodeCount(p), 0, `${preset} ${part}: nodes on the CPU: ${describeCpuNodes(p)}`);
    }
  }
});

test("runtime tests with SwiftShader visible and ANYAD_EXPECT_GPU=webgpu: explicit 'webgpu' must work, 'auto' must not pick the software adapter", () => {
  assert.ok(SWIFTSHADER, MISSING);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-name-pattern=webgpu|auto', join(__dirname, 'runtime.test.ts')],
    {
      // Without NODE_TEST_CONTEXT, or node:test in the child thinks it is nested in this run and skips the file.
      env: { ...withoutTestContext(process.env), ...SWIFTSHADER, ANYAD_EXPECT_GPU: 'webgpu' },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(out, /✔ explicit 'webgpu'/);
  assert.match(out, /✔ 'auto' never picks a software adapter/);
  assert.doesNotMatch(out, /# (fail|skipped) [1-9]/);
});

test('placement parser: per session log id, the first placement block; CPU nodes listed; other sessions and stray text ignored', () => {
  const line = (id: string, s: string) =>
    `2026-12-05 10:42:42.8 [V:onnxruntime:${id}, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp] ${s}`;
  const log = [
    line('', 'Node placements'),
    line('', ' All nodes placed on [CPUExecutionProvider]. Number of nodes: 763'), // the CPU reference session: no id
    '2026-12-05 10:42:42.7 [I:onnxruntime:, inference_session.cc:1 Initialize] Initializing session.',
    line('detect', 'Node placements'),
    line('detect', ' Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2'),
    // Text written to stderr meanwhile (another thread, the JS side) breaks nothing.
    '  let acc = mm_Asub[0][0];',
    line('train', 'Node placements'), // a second session interleaved
    line('detect', '  Sum (encoder/fused/Sum_890)'),
    line('detect', '  Sub (modality_affine/Sub_1061)'),
    line('train', ' All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 2002'),
    line('detect', ' Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 827'),
    line('detect', '  Reshape (encoder/embed/Reshape_8)'),
    // A later session with a used id does not add to the first.
    line('detect', 'Node placements'),
    line('detect', ' All nodes placed on [CPUExecutionProvider]. Number of nodes: 5'),
  ].join('\n');
  const p = parsePlacements(log);
  assert.deepEqual([...p.keys()], ['detect', 'train']);
  assert.deepEqual(p.get('detect')!.byProvider, { CPUExecutionProvider: 2, WebGpuExecutionProvider: 827 });
  assert.deepEqual(p.get('detect')!.cpuNodes, [
    { op: 'Sum', name: 'encoder/fused/Sum_890' },
    { op: 'Sub', name: 'modality_affine/Sub_1061' },
  ]);
  assert.equal(describeCpuNodes(p.get('detect')!), '2 (1 Sum, 1 Sub)');
  assert.equal(cpuNodeCount(p.get('train')!), 0);
});

test("Vulkan drivers: the loader's manifests (override, search path), software ones recognised; SwiftShader alone → auto skips WebGPU", () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-vk-'));
  try {
    const icd = (folder: string, file: string, lib: string) => {
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, file), JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: lib, api_version: '1.3.0' } }));
      return join(folder, file);
    };
    const swift = icd(join(dir, 'chromium'), 'vk_swiftshader_icd.json', './libvk_swiftshader.so');
    const etc = join(dir, 'etc');
    const nvidia = icd(join(etc, 'vulkan', 'icd.d'), 'nvidia_icd.json', 'libGLX_nvidia.so.0');
    const lvp = icd(join(dir, 'share', 'vulkan', 'icd.d'), 'lvp_icd.x86_64.json', '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so');
    const search = { HOME: dir, XDG_CONFIG_DIRS: etc, XDG_DATA_DIRS: join(dir, 'share') };
    assert.deepEqual(vulkanDriverManifests(search, 'linux'), [nvidia, lvp]);
    assert.deepEqual(vulkanDriverManifests({ ...search, VK_ICD_FILENAMES: swift }, 'linux'), [swift]);
    assert.deepEqual(vulkanDriverManifests({ ...search, VK_DRIVER_FILES: join(dir, 'chromium') }, 'linux'), [swift]);
    assert.deepEqual(vulkanDriverManifests(search, 'win32'), []);
    assert.deepEqual(
      vulkanDrivers({ ...search, VK_ICD_FILENAMES: swift }, 'linux').map((d) => [d.name, d.software]),
      [['SwiftShader', true]],
    );
    assert.equal(classifyDriver('x.json', 'libvulkan_lvp.so').software, true);
    assert.equal(classifyDriver('x.json', 'libvulkan_radeon.so').software, false);
    assert.equal(classifyDriver('x.json', 'C:\\\\Windows\\\\System32\\\\nvoglv64.dll').software, false);
    // A hardware driver beside a software one: WebGPU may get the GPU.
    assert.equal(webgpuSoftwareOnlyReason(search, 'linux'), undefined);
    assert.match(
      webgpuSoftwareOnlyReason({ ...search, VK_ICD_FILENAMES: swift }, 'linux')!,
      /software Vulkan driver \(SwiftShader: .*vk_swiftshader_icd\.json\).*'webgpu' explicitly/,
    );
    assert.match(webgpuSoftwareOnlyReason({ ...search, VK_ICD_FILENAMES: join(dir, 'none.json') }, 'linux')!, /no Vulkan driver/);
    assert.equal(webgpuSoftwareOnlyReason({}, 'darwin'), undefined);
    // The child-process environment: the ICD alone, its folder first on LD_LIBRARY_PATH.
    assert.deepEqual(swiftShaderEnv({ ANYAD_SWIFTSHADER_ICD: swift, LD_LIBRARY_PATH: `/opt/x:${join(dir, 'chromium')}` }), {
      VK_ICD_FILENAMES: swift,
      LD_LIBRARY_PATH: `${join(dir, 'chromium')}:/opt/x`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
