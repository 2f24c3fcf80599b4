/** Head weights: reference names and shapes, train.py's initialisation, loading errors, save/load round trip. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, SafetensorsError } from '../../src/engine/errors';
import { headConfig, headParamShapes, initHeadParams, loadHeadParams, saveHeadParams } from '../../src/engine/model/headWeights';
import { readSafetensors, serializeSafetensors, parseSafetensors, type TensorToWrite } from '../../src/engine/safetensors';
import { WEIGHTS_FILE, referenceHead } from './head-helpers';

const tiny = headConfig(64, 4);

test('parameter names and shapes are exactly the reference state_dict head tensors', () => {
  const file = readSafetensors(WEIGHTS_FILE);
  const ours = new Map(headParamShapes(tiny));
  assert.deepEqual([...ours.keys()].sort(), [...file.tensors.keys()].sort());
  for (const [name, shape] of ours) assert.deepEqual(shape, file.tensors.get(name)!.shape, name);
});

test('initHeadParams follows train.py: trunc-normal(0.01, ±0.03) Linear weights, zero biases, LN 1/0, learn_scale 1, INPs N(0, 1)', () => {
  const p = initHeadParams(tiny, 1234);
  const linearWeights: number[] = [];
  for (const [name, t] of p) {
    const vals = Array.from(t.data);
    if (name === 'prototype_token') continue;
    if (/\.(fc1|fc2|q|kv|proj)\.weight$/.test(name)) linearWeights.push(...vals);
    else if (/norm\d\.weight$|learn_scale$/.test(name))
      assert.ok(
        vals.every((v) => v === 1),
        name,
      );
    else
      assert.ok(
        vals.every((v) => v === 0),
        name,
      );
  }
  const n = linearWeights.length;
  const mean = linearWeights.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(linearWeights.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  assert.ok(linearWeights.every((v) => Math.abs(v) <= 0.03 + 1e-9));
  // A N(0, 0.01²) cut at ±3σ has std 0.01·0.98658.
  assert.ok(Math.abs(mean) < 2e-5 && Math.abs(std - 0.0098658) < 5e-5, `mean ${mean}, std ${std}`);
  const inp = Array.from(p.get('prototype_token')!.data);
  const im = inp.reduce((s, v) => s + v, 0) / inp.length;
  const is = Math.sqrt(inp.reduce((s, v) => s + (v - im) ** 2, 0) / inp.length);
  assert.ok(Math.abs(im) < 0.2 && Math.abs(is - 1) < 0.15, `INP mean ${im}, std ${is}`);
  assert.deepEqual(initHeadParams(tiny, 1234).get('decoder.3.attn.kv.weight')!.data, p.get('decoder.3.attn.kv.weight')!.data);
  assert.notDeepEqual(initHeadParams(tiny, 1235).get('decoder.3.attn.kv.weight')!.data, p.get('decoder.3.attn.kv.weight')!.data);
});

/** The reference head file with one tensor dropped or replaced. */
function editedHead(edit: (tensors: Record<string, TensorToWrite>) => void) {
  const { params } = referenceHead();
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of params) tensors[name] = { shape: [...t.shape], data: t.data };
  edit(tensors);
  return parseSafetensors(serializeSafetensors(tensors), 'edited.safetensors');
}

test('loadHeadParams names a missing or mismatched tensor', () => {
  const missing = editedHead((t) => {
    delete t['decoder.5.mlp.fc2.bias'];
  });
  assert.throws(
    () => loadHeadParams(missing),
    (e: unknown) => e instanceof SafetensorsError && /decoder\.5\.mlp\.fc2\.bias.*missing/.test(e.message),
  );
  const reshaped = editedHead((t) => {
    t['aggregation.0.attn.kv.weight'] = { shape: [64, 128], data: t['aggregation.0.attn.kv.weight'].data };
  });
  assert.throws(
    () => loadHeadParams(reshaped),
    (e: unknown) => e instanceof SafetensorsError && /aggregation\.0\.attn\.kv\.weight.*\[64, 128\].*\[128, 64\]/.test(e.message),
  );
  // An explicit config that does not fit the file: learn_scale has 4 heads, not 8.
  assert.throws(() => loadHeadParams(readSafetensors(WEIGHTS_FILE), headConfig(64, 8)), /learn_scale.*\[4, 1, 1\].*\[8, 1, 1\]/);
  const notAHead = parseSafetensors(serializeSafetensors({ x: { shape: [1], data: new Float32Array(1) } }), 'x.safetensors');
  assert.throws(() => loadHeadParams(notAHead), /prototype_token.*missing/);
  assert.throws(() => headConfig(64, 5), ConfigError);
  assert.throws(() => headConfig(64, 4, { decoderDepth: 7 }), ConfigError);
});

test('saveHeadParams → loadHeadParams round trip (non-reference head: D 48, 3 heads, 4 INPs, 4 blocks, LN eps 1e-6)', () => {
  const cfg = headConfig(48, 3, { inpCount: 4, decoderDepth: 4, lnEps: 1e-6 });
  const p = initHeadParams(cfg, 9);
  const dir = mkdtempSync(join(tmpdir(), 'anyad-head-'));
  try {
    const path = join(dir, 'head.safetensors');
    saveHeadParams(path, cfg, p);
    const back = loadHeadParams(path);
    assert.deepEqual(back.config, cfg);
    assert.deepEqual([...back.params.keys()], [...p.keys()]);
    for (const [name, t] of p) assert.deepEqual(back.params.get(name)!.data, t.data, name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
