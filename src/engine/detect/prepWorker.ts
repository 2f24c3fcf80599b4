/**
 * Worker thread body: preprocesses axial slices into model inputs (preprocessSlice), so a
 * whole-volume detect prepares the next batch while onnxruntime (which runs on the calling
 * thread) scores the current one. Same function, same bits as preprocessing in-thread.
 * Bundled as dist/prepWorker.js; prepPool.ts starts it.
 */
import { serveRequests } from '../util/threadWorker';
import { type ChannelName, subsetOfChannels } from '../study/modalities';
import { preprocessSlice } from '../study/preprocess';

export interface PrepRequest {
  width: number;
  height: number;
  channels: ChannelName[];
  geom: { resize: number; crop: number };
  /** Per slice, one axial image per channel (in `channels` order). */
  slices: Float32Array[][];
}

// Loaded only as a worker thread (serveRequests does nothing on the main thread).
serveRequests<PrepRequest, Float32Array[]>((m) => {
  const subset = subsetOfChannels(m.channels);
  if (!subset) throw new Error(`no modality subset of ${m.channels.join(', ')}`);
  const images = m.slices.map((views) => {
    const byName: Partial<Record<ChannelName, Float32Array>> = {};
    m.channels.forEach((c, i) => {
      byName[c] = views[i];
    });
    return preprocessSlice(byName, m.width, m.height, subset, m.geom);
  });
  return { ok: images, transfer: images.map((x) => x.buffer as ArrayBuffer) };
});
