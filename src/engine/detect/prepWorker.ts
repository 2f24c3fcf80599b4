/**
 * Worker thread body: preprocesses axial slices into model inputs (preprocessSlice), so a
 * whole-volume detect prepares the next batch while onnxruntime (which runs on the calling
 * thread) scores the current one. Same function, same bits as preprocessing in-thread.
 * Bundled as dist/prepWorker.js; prepPool.ts starts it.
 */
import { parentPort } from 'node:worker_threads';
import { type ChannelName, subsetOfChannels } from '../study/modalities';
import { preprocessSlice } from '../study/preprocess';

export interface PrepRequest {
  id: number;
  width: number;
  height: number;
  channels: ChannelName[];
  geom: { resize: number; crop: number };
  /** Per slice, one axial image per channel (in `channels` order). */
  slices: Float32Array[][];
}

export type PrepReply = { id: number; images: Float32Array[] } | { id: number; error: string };

// Loaded only as a worker thread: parentPort is its channel to the pool (absent on the main thread).
const port = parentPort;
port?.on('message', (m: PrepRequest) => {
  try {
    const subset = subsetOfChannels(m.channels);
    if (!subset) throw new Error(`no modality subset of ${m.channels.join(', ')}`);
    const images = m.slices.map((views) => {
      const byName: Partial<Record<ChannelName, Float32Array>> = {};
      m.channels.forEach((c, i) => {
        byName[c] = views[i];
      });
      return preprocessSlice(byName, m.width, m.height, subset, m.geom);
    });
    port.postMessage(
      { id: m.id, images } satisfies PrepReply,
      images.map((x) => x.buffer as ArrayBuffer),
    );
  } catch (e) {
    port.postMessage({ id: m.id, error: (e as Error)?.message ?? String(e) } satisfies PrepReply);
  }
});
