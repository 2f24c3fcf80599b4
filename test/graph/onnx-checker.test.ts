/**
 * Independent validation of emitted models: Python's onnx.checker.check_model(full_check=True)
 * (python3-onnx 1.12, strict shape inference against our value_info) on every op case's
 * training graph and on a transformer block for inference and for training.
 * Requires /usr/bin/python3 with the onnx package (Debian: apt-get install python3-onnx).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Graph, type Tensor, add, emitModel, grad, liveNodes, mul, reduceMean, relu } from '../../src/engine/graph';
import { BLOCK_PARAMS, blockParamShapes, transformerBlock } from './block';
import { CASES } from './cases';
import { lossGraph } from './helpers';

const CHECK = `
import json, sys
import onnx
out = {}
for path in sys.argv[1:]:
    try:
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        out[path] = {'ok': True, 'nodes': len(m.graph.node), 'ir': m.ir_version,
                     'opsets': [[o.domain, o.version] for o in m.opset_import],
                     'inputs': [i.name for i in m.graph.input], 'outputs': [o.name for o in m.graph.output],
                     'initializers': len(m.graph.initializer)}
    except Exception as e:
        out[path] = {'ok': False, 'error': str(e)[:2000]}
print(json.dumps(out))
`;

function blockGraph(paramsAsInputs: boolean): Graph {
  const g = new Graph(paramsAsInputs ? 'block_train' : 'block_infer');
  const x = g.input('x', [2, 5, 16]);
  const shapes = blockParamShapes(16);
  const p: Record<string, Tensor> = {};
  for (const name of BLOCK_PARAMS)
    p[name] = g.param(name, shapes[name], new Float32Array(shapes[name].reduce((a, b) => a * b, 1)).fill(0.01));
  const out = g.output('out', transformerBlock(g, x, p, 2));
  if (paramsAsInputs)
    grad(
      g.output('loss', reduceMean(mul(out, out))),
      BLOCK_PARAMS.map((n) => p[n]),
    );
  return g;
}

test('onnx.checker (full_check) accepts every emitted model; node/IO counts agree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-onnx-'));
  try {
    const models: Array<{ path: string; graph: Graph; paramsAsInputs: boolean }> = [];
    CASES.forEach((c, i) => {
      const { g } = lossGraph(c.dtype ?? 'float64', c.inputs, c.build);
      models.push({ path: join(dir, `case${i}.onnx`), graph: g, paramsAsInputs: false });
    });
    models.push({ path: join(dir, 'block_infer.onnx'), graph: blockGraph(false), paramsAsInputs: false });
    models.push({ path: join(dir, 'block_train.onnx'), graph: blockGraph(true), paramsAsInputs: true });
    for (const m of models) writeFileSync(m.path, emitModel(m.graph, { paramsAs: m.paramsAsInputs ? 'inputs' : 'initializers' }));
    // Negative control: a value_info that contradicts ONNX's shape inference must be rejected.
    const bad = new Graph('bad');
    const y = relu(bad.input('x', [2, 3]));
    (y as unknown as { shape: number[] }).shape = [3, 2];
    bad.output('z', add(y, 1));
    const badPath = join(dir, 'bad.onnx');
    writeFileSync(badPath, emitModel(bad));

    const r = spawnSync('/usr/bin/python3', ['-c', CHECK, ...models.map((m) => m.path), badPath], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.ok(!r.error, `cannot run /usr/bin/python3 (${r.error?.message}); install python3 and python3-onnx`);
    assert.equal(r.status, 0, `python/onnx failed (is python3-onnx installed? apt-get install python3-onnx):\n${r.stderr}`);
    const res = JSON.parse(r.stdout) as Record<
      string,
      {
        ok: boolean;
        error?: string;
        nodes: number;
        ir: number;
        opsets: Array<[string, number]>;
        inputs: string[];
        outputs: string[];
        initializers: number;
      }
    >;
    const failures = models.filter((m) => !res[m.path].ok).map((m, i) => `${m.graph.name} #${i} ${m.path}: ${res[m.path].error}`);
    assert.deepEqual(failures, []);
    assert.equal(res[badPath].ok, false, 'the checker accepted a model with a wrong value_info shape');
    assert.match(res[badPath].error!, /Inferred shape and existing shape differ/);
    for (const m of models) {
      const info = res[m.path];
      assert.equal(info.ir, 8);
      assert.deepEqual(info.opsets, [['', 17]]);
      assert.equal(info.nodes, liveNodes(m.graph).length, m.path);
      assert.deepEqual(
        info.outputs,
        m.graph.outputs.map((t) => t.name),
      );
      const expectInputs = [...m.graph.inputs, ...(m.paramsAsInputs ? m.graph.params : [])].map((t) => t.name);
      assert.deepEqual(info.inputs, expectInputs);
    }
    // Inference bakes the weights in; training takes them as inputs.
    assert.ok(res[join(dir, 'block_infer.onnx')].initializers >= BLOCK_PARAMS.length);
    assert.ok(res[join(dir, 'block_train.onnx')].outputs.includes('grad.attn.qkv.weight'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
