import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsError } from '../../src/engine/errors';
import { writeSafetensors } from '../../src/engine/safetensors';
import {
  checkpointPath,
  listCheckpoints,
  loadCheckpoint,
  resumeFromCheckpoint,
  saveCheckpoint,
  saveCheckpointIn,
} from '../../src/engine/train/checkpoint';
import { batchIndices } from '../../src/engine/train/data-order';
import { clipGradNorm, StableAdamW } from '../../src/engine/train/optim';
import { cloneParams, makeParams, type Params } from '../../src/engine/train/params';
import { referenceLrSchedule, warmCosineLr } from '../../src/engine/train/schedule';
import { createRng, mixSeed } from '../../src/engine/util/random';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-ckpt-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function model(seed: number): Params {
  const rng = createRng(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  return makeParams([
    ['w', [4, 3], fill(12)],
    ['b', [3], fill(3)],
    ['gamma', [2, 2, 2], fill(8)],
  ]);
}

/** Deterministic fake gradients for step t (the parameter 'b' gets none on every third step). */
function grads(t: number): Map<string, Float32Array> {
  const rng = createRng(mixSeed(99, t));
  const g = new Map<string, Float32Array>();
  g.set(
    'w',
    Float32Array.from({ length: 12 }, () => rng.normal() * 0.05),
  );
  if (t % 3 !== 2)
    g.set(
      'b',
      Float32Array.from({ length: 3 }, () => rng.normal() * 0.05),
    );
  g.set(
    'gamma',
    Float32Array.from({ length: 8 }, () => rng.normal() * 0.05),
  );
  return g;
}

function trainSteps(params: Params, opt: StableAdamW, from: number, to: number): void {
  const sched = referenceLrSchedule(40);
  for (let t = from; t < to; t++) {
    const g = grads(t);
    clipGradNorm(g.values(), 0.1);
    opt.step(g, warmCosineLr(sched, t));
  }
}

function bits(p: Params): string[] {
  return [...p].map(([n, t]) => `${n}:${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('hex')}`);
}

test('checkpoint round trip: saved params + optimiser state continue bit-identically', () =>
  withDir((dir) => {
    const straight = model(1);
    const optA = new StableAdamW(straight);
    trainSteps(straight, optA, 0, 25);

    const p = model(1);
    const opt = new StableAdamW(p);
    trainSteps(p, opt, 0, 12);
    const path = join(dir, 'c.safetensors');
    saveCheckpoint(path, {
      step: 12,
      params: p,
      optimizer: opt,
      schedule: referenceLrSchedule(40),
      dataOrder: { seed: 3, datasetSize: 10, batchSize: 4 },
      rng: 'abc',
      extra: { loss: '0.5' },
    });

    const loaded = loadCheckpoint(path, model(2));
    assert.equal(loaded.step, 12);
    assert.deepEqual(loaded.schedule, referenceLrSchedule(40));
    assert.deepEqual(loaded.dataOrder, { seed: 3, datasetSize: 10, batchSize: 4 });
    assert.equal(loaded.rng, 'abc');
    assert.deepEqual(loaded.extra, { loss: '0.5' });
    assert.deepEqual(loaded.optimizer.options, opt.options);
    assert.deepEqual(bits(loaded.params), bits(p));
    // Per-parameter step counts survive ('b' skipped some steps, so it has fewer).
    assert.equal(loaded.optimizer.state.get('w')!.step, 12);
    assert.equal(loaded.optimizer.state.get('b')!.step, opt.state.get('b')!.step);
    assert.ok(opt.state.get('b')!.step < 12);
    trainSteps(loaded.params, loaded.optimizer, 12, 25);
    assert.deepEqual(bits(loaded.params), bits(straight));
  }));

test('a checkpoint taken before a parameter got its first gradient restores it without state', () =>
  withDir((dir) => {
    const p = model(5);
    const opt = new StableAdamW(p);
    opt.step(new Map([['w', new Float32Array(12).fill(0.01)]]), 1e-3);
    const path = join(dir, 'c.safetensors');
    saveCheckpoint(path, { step: 1, params: p, optimizer: opt });
    const loaded = loadCheckpoint(path);
    assert.deepEqual([...loaded.optimizer.state.keys()], ['w']);
    assert.equal(loaded.schedule, undefined);
  }));

test('loading refuses other models and other files with a message naming the problem', () =>
  withDir((dir) => {
    const p = model(1);
    const path = join(dir, 'c.safetensors');
    saveCheckpoint(path, { step: 0, params: p, optimizer: new StableAdamW(p) });
    const other = makeParams([
      ['w', [3, 4]],
      ['b', [3]],
      ['gamma', [2, 2, 2]],
    ]);
    const is = (re: RegExp) => (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(path) && re.test(e.message);
    assert.throws(() => loadCheckpoint(path, other), is(/parameter 'w' has shape \[4, 3\], the model \[3, 4\]/));
    assert.throws(
      () =>
        loadCheckpoint(
          path,
          makeParams([
            ['w', [4, 3]],
            ['b', [3]],
          ]),
        ),
      is(/'gamma' is not part of this model/),
    );
    assert.throws(
      () => loadCheckpoint(path, makeParams([...p].map(([n, t]) => [n, t.shape] as [string, number[]]).concat([['extra', [1]]]))),
      is(/parameter 'extra' is missing/),
    );
    const plain = join(dir, 'plain.safetensors');
    writeSafetensors(plain, { w: { shape: [1], data: new Float32Array(1) } });
    assert.throws(
      () => loadCheckpoint(plain),
      (e: unknown) => e instanceof SafetensorsError && /not an AnyAD training checkpoint/.test(e.message),
    );
  }));

test('resume picks the newest loadable checkpoint; saveCheckpointIn keeps the newest N', () =>
  withDir((dir) => {
    assert.equal(resumeFromCheckpoint(dir), undefined);
    assert.equal(resumeFromCheckpoint(join(dir, 'does-not-exist')), undefined);
    const p = model(1);
    const opt = new StableAdamW(p);
    for (let s = 1; s <= 4; s++) {
      trainSteps(p, opt, s - 1, s);
      saveCheckpointIn(dir, { step: s, params: p, optimizer: opt }, 2);
    }
    assert.deepEqual(
      listCheckpoints(dir).map((c) => c.step),
      [4, 3],
    );
    assert.equal(resumeFromCheckpoint(dir)!.step, 4);
    // A torn/corrupt newest file (and a leftover temp file) are skipped, with a log line.
    writeFileSync(checkpointPath(dir, 5), Buffer.from('garbage!garbage!'));
    writeFileSync(join(dir, '.checkpoint-00000006.safetensors.123.tmp'), 'x');
    const logs: string[] = [];
    const r = resumeFromCheckpoint(dir, undefined, (m) => logs.push(m));
    assert.equal(r!.step, 4);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /checkpoint-00000005/);
    assert.ok(readdirSync(dir).length === 4);
  }));

test('data order: a function of (seed, step) only; each epoch is a permutation; seeds differ', () => {
  const order = { seed: 11, datasetSize: 10, batchSize: 4 };
  const stream = Array.from({ length: 10 }, (_, k) => batchIndices(order, k)).flat();
  for (let e = 0; e < 4; e++) {
    assert.deepEqual(
      [...stream.slice(e * 10, e * 10 + 10)].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  }
  // Recomputing a late batch first (as a resumed run does) gives the same answer.
  const fresh = { ...order };
  assert.deepEqual(batchIndices(fresh, 7), stream.slice(28, 32));
  assert.notDeepEqual(stream.slice(0, 10), stream.slice(10, 20));
  assert.notDeepEqual(batchIndices({ ...order, seed: 12 }, 0).concat(batchIndices({ ...order, seed: 12 }, 1)), stream.slice(0, 8));
  // A dataset smaller than a batch works (the batch spans epochs).
  assert.deepEqual([...batchIndices({ seed: 1, datasetSize: 3, batchSize: 6 }, 0)].sort(), [0, 0, 1, 1, 2, 2]);
  assert.throws(() => batchIndices({ ...order, batchSize: 0 }, 0), RangeError);
  // And the params helper used throughout: clones are independent.
  const p = model(3);
  const q = cloneParams(p);
  q.get('w')!.data[0] += 1;
  assert.notEqual(p.get('w')!.data[0], q.get('w')!.data[0]);
});
