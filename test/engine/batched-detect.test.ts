/**
 * Whole-volume detect in batches (with the next batch preprocessed in a worker thread) gives
 * the same numbers, bit for bit, as slice by slice; progress is reported per slice.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { detect } from '../../src/engine/detect';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { loadBundle } from '../../src/engine/model/bundle';
import { phantomCase, tempDir, writeTinyBundle } from '../detect/helpers';

test('whole volume: batches of 5 (worker preprocessing) equal slice by slice bit for bit', async () => {
  const root = tempDir('batched');
  const bundle = loadBundle(writeTinyBundle(join(root, 'model')));
  const kase = await phantomCase(join(root, 'data'));
  try {
    const logs: string[] = [];
    const progress: number[] = [];
    const one = await detect(bundle, kase, { slice: 'all', modalities: ['flair', 't2'], provider: 'cpu', threads: 1, batchSize: 1 });
    const many = await detect(bundle, kase, {
      slice: 'all',
      modalities: ['flair', 't2'],
      provider: 'cpu',
      threads: 1,
      batchSize: 5,
      log: (m) => logs.push(m),
      onProgress: (d) => progress.push(d),
    });
    assert.equal(one.batch, 1);
    assert.equal(many.batch, 5);
    assert.ok(
      logs.some((l) => /batches of 5, preprocessing in a worker/.test(l)),
      logs.join('\n'),
    );
    assert.deepEqual(
      progress,
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    assert.deepEqual(many.slices, one.slices);
    assert.ok(
      one.map.data.every((v, i) => Object.is(v, many.map.data[i])),
      'maps differ',
    );
    assert.ok(new Set(one.slices.map((s) => s.score)).size > 1, 'scores vary across slices');
  } finally {
    await releaseAllSessions();
  }
});
