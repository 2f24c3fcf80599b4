/**
 * The engine process end to end, through the extension's client and a real `anyad engine`
 * child: detect (slice and volume) gives what the CLI's code path gives, bit for bit, from warm
 * caches the second time; a volume is cancelled mid-way and the same process serves the next
 * request; a killed engine fails its requests in flight and a new one answers the next; the
 * map is saved on the source grid; dataset summary and training pre-flight run there.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, getPriority } from 'node:os';
import { after, before, test } from 'node:test';
import { detectCase } from '../../src/engine/service/detectCase';
import { readNifti } from '../../src/engine/nifti';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import type { Case } from '../../src/engine/study';
import { EngineCrashedError, EngineRequestError } from '../../src/extension/engineClient';
import type { DetectParams } from '../../src/shared/engineProtocol';
import { phantomCase, tempDir, writeTinyBundle } from '../detect/helpers';
import { engineClient } from './helpers';

let root: string;
let model: string;
let kase: Case;
let params: DetectParams;

before(async () => {
  root = tempDir('engine');
  model = writeTinyBundle(join(root, 'model'));
  kase = await phantomCase(join(root, 'data'));
  params = {
    model,
    files: { flair: kase.files.flair!, t1: kase.files.t1!, t2: kase.files.t2! },
    modalities: ['flair', 't2'],
    slice: 12,
    provider: 'cpu',
    threads: 1,
  };
});
after(() => releaseAllSessions());

test('engine: slice and volume detect match the CLI code path bit for bit; the second request is served warm', async () => {
  const lines: string[] = [];
  const client = engineClient({}, lines);
  try {
    const first = await client.request('detect', params);
    const direct = await detectCase({ model, case: kase, modalities: ['flair', 't2'], slice: 12, provider: 'cpu', threads: 1 });
    assert.ok(!('slices' in direct.result));
    assert.equal(first.z, 12);
    assert.deepEqual(first.dims, direct.result.grid.dims);
    assert.ok('score' in first.detect && first.detect.score === direct.result.score);
    assert.deepEqual(first.map, direct.result.map);
    const stats1 = await client.request('stats', undefined);
    const second = await client.request('detect', { ...params, modalities: ['t1'] });
    const stats2 = await client.request('stats', undefined);
    // Same case (all sequences decoded once), same bundle and session: nothing new was loaded.
    assert.deepEqual([stats2.cases, stats2.bundles, stats2.sessions], [stats1.cases, stats1.bundles, stats1.sessions]);
    assert.equal(stats1.cases, 1);
    assert.equal(second.detect.subset, 'T1');
    const progress: number[] = [];
    const vol = await client.request('detect', { ...params, slice: 'all' }, { onProgress: (d) => progress.push(d) });
    const directVol = await detectCase({ model, case: kase, modalities: ['flair', 't2'], slice: 'all', provider: 'cpu', threads: 1 });
    assert.ok('slices' in directVol.result && 'slices' in vol.detect);
    assert.equal(vol.z, null);
    assert.deepEqual(
      progress,
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    assert.deepEqual(vol.map, directVol.result.map.data);
    assert.deepEqual(vol.detect.slices, directVol.result.slices);
    // The map saved by the engine on the FLAIR file's own grid.
    const saved = join(root, 'saved_map.nii.gz');
    assert.ok(vol.mapId !== null);
    await client.request('saveMap', { detectId: vol.mapId, path: saved });
    const back = readNifti(saved, { file: 'map' });
    assert.equal(back.volume.data.length, vol.map.length);
    assert.equal(client.starts, 1);
  } finally {
    await client.dispose();
  }
});

test('engine: a whole volume cancelled mid-way rejects with AbortError; the same process answers next', async () => {
  const client = engineClient();
  try {
    const ac = new AbortController();
    let seen = 0;
    await assert.rejects(
      client.request(
        'detect',
        { ...params, slice: 'all', batchSize: 1 },
        {
          signal: ac.signal,
          onProgress: (d) => {
            seen = d;
            if (d === 3) ac.abort();
          },
        },
      ),
      (e: Error) => e.name === 'AbortError',
    );
    assert.ok(seen >= 3 && seen < 24, `progress ${seen}`);
    const pid = client.pid;
    // The engine stopped the volume (its queue is free): the next request is answered by the same process.
    const r = await client.request('detect', params);
    assert.equal(r.z, 12);
    assert.equal(client.pid, pid);
    assert.equal(client.starts, 1);
    assert.equal(client.violations, 0, 'late events of the cancelled request are expected, not violations');
  } finally {
    await client.dispose();
  }
});

test('engine: a crash fails the request in flight with EngineCrashedError; the next request starts a new engine', async () => {
  const lines: string[] = [];
  const client = engineClient({}, lines);
  try {
    await client.request('stats', undefined);
    const pid = client.pid;
    const inFlight = client.request(
      'detect',
      { ...params, slice: 'all', batchSize: 1 },
      {
        onProgress: (d) => {
          if (d === 2) client.kill('SIGKILL');
        },
      },
    );
    await assert.rejects(inFlight, EngineCrashedError);
    const again = await client.request('detect', params);
    assert.equal(again.z, 12);
    assert.notEqual(client.pid, pid);
    assert.equal(client.starts, 2);
    assert.ok(
      lines.some((l) => /exited \(SIGKILL\)/.test(l)),
      lines.join('\n'),
    );
  } finally {
    await client.dispose();
  }
});

test('engine: errors arrive typed (StudyError with its code); dataset summary and pre-flight run in the engine; idle shutdown', async () => {
  const lines: string[] = [];
  const client = engineClient({ idleMs: 200 }, lines);
  try {
    await assert.rejects(
      client.request('detect', { ...params, slice: 99 }),
      (e: unknown) => e instanceof EngineRequestError && e.engineName === 'StudyError' && e.code === 'study/slice-index',
    );
    const config = join(root, 'anyad.json');
    writeFileSync(config, JSON.stringify({ data: { root: './data', slices: { start: 8, end: 16, step: 4 } } }));
    const ds = await client.request('trainPreflight', { config });
    assert.equal(ds.cases, 1);
    assert.match(ds.text, /slices:/);
    const empty = join(root, 'empty.json');
    writeFileSync(empty, JSON.stringify({ data: { root: './nothing-here' } }));
    await assert.rejects(
      client.request('trainPreflight', { config: empty }),
      (e: unknown) => e instanceof EngineRequestError && e.code.startsWith('study/'),
    );
    const pid = client.pid!;
    // Below normal priority, so the window and extension host keep the cores while a model runs.
    assert.ok(getPriority(pid) >= constants.priority.PRIORITY_BELOW_NORMAL, `engine nice ${getPriority(pid)}`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(client.pid, undefined, 'the idle engine was shut down');
    assert.throws(() => process.kill(pid, 0));
    assert.ok(lines.some((l) => /idle/.test(l)));
    assert.ok(existsSync(config));
  } finally {
    await client.dispose();
  }
});
