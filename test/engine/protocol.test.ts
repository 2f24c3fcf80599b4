/**
 * The engine protocol: malformed, oversized, other-version and out-of-order messages are
 * refused on receipt — by the validators, by a real `anyad engine` process fed raw messages
 * (it answers an id-less protocol error and keeps serving), and by the host's ledger.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import {
  ENGINE_LIMITS,
  ENGINE_PROTOCOL_VERSION as V,
  EngineProtocolError,
  RequestLedger,
  parseEngineEvent,
  parseEngineRequest,
  parseEngineResult,
} from '../../src/shared/engineProtocol';
import { CLI_MAIN } from './helpers';

const detect = { model: '/m', files: { flair: '/a.nii.gz' }, modalities: ['flair'], slice: 3, provider: 'cpu', threads: 0 };
const provenance = { encoder: { kind: 'pretrained', name: 'x', description: 'd' }, warning: null };
const sliceJson = {
  model: '/m',
  case: '/c',
  subset: 'FLAIR',
  provider: 'cpu',
  out: null,
  ...provenance,
  z: 1,
  score: 0.5,
  threshold: null,
  anomalous: null,
};

test('requests: valid ones parse; malformed, oversized, unknown and other-version ones are EngineProtocolErrors naming the field', () => {
  assert.equal(parseEngineRequest({ v: V, id: 1, kind: 'detect', params: detect }).kind, 'detect');
  assert.deepEqual(parseEngineRequest({ v: V, id: 2, kind: 'cancel', target: 1 }), { v: V, id: 2, kind: 'cancel', target: 1 });
  const bad: Array<[unknown, RegExp]> = [
    [null, /'request' must be an object/],
    ['detect', /'request' must be an object/],
    [{ v: 2, id: 1, kind: 'stats' }, /protocol version 2/],
    [{ v: V, id: 0, kind: 'stats' }, /'id'/],
    [{ v: V, id: 1.5, kind: 'stats' }, /'id'/],
    [{ v: V, id: 1, kind: 'rm -rf' }, /'kind' must be one of/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, modalities: ['flair', 'flair'] } }, /repeats/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, modalities: ['dwi'] } }, /modalities\[0\]/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, slice: -1 } }, /params.slice/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, files: {} } }, /at least one/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, files: { t1ce: '/x' } } }, /files key/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, model: 'a\0b' } }, /params.model/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, provider: 'tpu' } }, /params.provider/],
    [{ v: V, id: 1, kind: 'detect', params: { ...detect, model: 'x'.repeat(ENGINE_LIMITS.path + 1) } }, /oversized/],
    [{ v: V, id: 1, kind: 'stats', junk: 'x'.repeat(ENGINE_LIMITS.jsonChars) }, /oversized/],
    [{ v: V, id: 1, kind: 'saveMap', params: { detectId: 1, path: '/tmp/map.png' } }, /\.nii/],
  ];
  for (const [raw, re] of bad)
    assert.throws(
      () => parseEngineRequest(raw),
      (e: unknown) => e instanceof EngineProtocolError && re.test(e.message),
      JSON.stringify(raw)?.slice(0, 80),
    );
});

test('events and results: a map must be a Float32Array of exactly its dims, within the size limit; the detect JSON is validated', () => {
  const map = new Float32Array(4 * 3);
  const ok = parseEngineResult('detect', {
    detect: sliceJson,
    map,
    dims: [4, 3, 2],
    z: 1,
    batch: 1,
    mapId: null,
    timings: { loadMs: 1, detectMs: 2 },
  });
  assert.equal(ok.map, map);
  const bad: Array<[unknown, RegExp]> = [
    [
      { detect: sliceJson, map: Array.from(map), dims: [4, 3, 2], z: 1, batch: 1, mapId: null, timings: { loadMs: 1, detectMs: 2 } },
      /Float32Array/,
    ],
    [
      { detect: sliceJson, map: new Float32Array(5), dims: [4, 3, 2], z: 1, batch: 1, mapId: null, timings: { loadMs: 1, detectMs: 2 } },
      /has 5 values/,
    ],
    [{ detect: sliceJson, map, dims: [4, 3, 2], z: 2, batch: 1, mapId: null, timings: { loadMs: 1, detectMs: 2 } }, /result.z/],
    [
      { detect: sliceJson, map, dims: [4, 3, 2], z: null, batch: 1, mapId: null, timings: { loadMs: 1, detectMs: 2 } },
      /has 12 values|volume|slice/,
    ],
    [
      { detect: { ...sliceJson, score: 'high' }, map, dims: [4, 3, 2], z: 1, batch: 1, mapId: null, timings: { loadMs: 1, detectMs: 2 } },
      /score/,
    ],
    [
      {
        detect: sliceJson,
        map: new Float32Array(1),
        dims: [65536, 65536, 1],
        z: null,
        batch: 1,
        mapId: null,
        timings: { loadMs: 1, detectMs: 2 },
      },
      /oversized/,
    ],
  ];
  for (const [raw, re] of bad)
    assert.throws(
      () => parseEngineResult('detect', raw),
      (e: unknown) => e instanceof EngineProtocolError && re.test(e.message),
      re.source,
    );
  assert.throws(() => parseEngineEvent({ v: V, kind: 'progress', id: 1, done: 5, total: 4 }), /'done'/);
  assert.throws(() => parseEngineEvent({ v: V, kind: 'log', id: 1, message: 'x'.repeat(ENGINE_LIMITS.text + 1) }), /oversized/);
  assert.throws(() => parseEngineEvent({ v: V, kind: 'bye' }), /'kind'/);
});

test('ledger: ready first and once; events only for requests in flight; nothing after the result; late events of a cancelled request ignored', () => {
  const l = new RequestLedger();
  assert.throws(() => l.accept({ v: V, kind: 'progress', id: 1, done: 0, total: 1 }), /before 'ready'/);
  l.accept({ v: V, kind: 'ready', pid: 9 });
  assert.throws(() => l.accept({ v: V, kind: 'ready', pid: 9 }), /second 'ready'/);
  const a = l.open('detect');
  assert.throws(() => l.accept({ v: V, kind: 'result', id: a + 1, result: {} }), /not in flight/);
  assert.equal(l.accept({ v: V, kind: 'progress', id: a, done: 1, total: 2 }), 'detect');
  assert.equal(l.accept({ v: V, kind: 'result', id: a, result: {} }), 'detect');
  assert.throws(() => l.accept({ v: V, kind: 'progress', id: a, done: 2, total: 2 }), /not in flight/);
  assert.throws(() => l.accept({ v: V, kind: 'result', id: a, result: {} }), /not in flight/);
  const b = l.open('detect');
  l.cancel(b);
  assert.equal(l.accept({ v: V, kind: 'progress', id: b, done: 1, total: 2 }), undefined);
  assert.equal(
    l.accept({ v: V, kind: 'error', id: b, error: { name: 'AbortError', code: 'engine/cancelled', message: 'cancelled' } }),
    undefined,
  );
  assert.throws(() => l.accept({ v: V, kind: 'result', id: b, result: {} }), /not in flight/);
  assert.ok(l.reserve() > b);
});

test('a real engine process: garbage, oversized, other-version and out-of-order requests get id-less protocol errors; valid ones are still served', async () => {
  const child = fork(CLI_MAIN, ['engine'], {
    execArgv: ['--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m) => {
    events.push(m as Record<string, unknown>);
    waiters.splice(0).forEach((w) => w());
  });
  const next = async (n: number) => {
    while (events.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  try {
    await next(1);
    assert.equal(events[0].kind, 'ready');
    child.send({ v: V, id: 5, kind: 'stats' });
    await next(2);
    assert.equal(events[1].kind, 'result');
    assert.equal(events[1].id, 5);
    const raw: unknown[] = [
      'hello',
      42,
      { v: V, id: 6, kind: 'detect', params: { ...detect, slice: 'middle-ish' } },
      { v: 99, id: 7, kind: 'stats' },
      { v: V, id: 8, kind: 'stats', pad: 'x'.repeat(ENGINE_LIMITS.jsonChars + 1) },
      { v: V, id: 5, kind: 'stats' }, // reused id: out of order
      { v: V, id: 3, kind: 'stats' }, // older id: out of order
    ];
    for (const r of raw) child.send(r as object);
    await next(2 + raw.length);
    for (const e of events.slice(2)) {
      assert.equal(e.kind, 'error');
      assert.equal(e.id, null);
      assert.equal((e.error as { code: string }).code, 'engine/protocol');
    }
    assert.match(String((events[2 + 5].error as { message: string }).message), /not after 5/);
    child.send({ v: V, id: 9, kind: 'stats' });
    await next(3 + raw.length);
    assert.deepEqual([events.at(-1)!.kind, events.at(-1)!.id], ['result', 9]);
  } finally {
    child.kill('SIGKILL');
  }
});
