/**
 * Worker thread body for labelFiles.ts: reads and writes annotation files off the extension
 * host's thread. Bundled as dist/labelFileWorker.js.
 */
import { parentPort } from 'node:worker_threads';
import { errorToReply, type WorkerReply } from '../../engine/util/threadWorker';
import { runLabelFileRequest, type LabelFileRequest } from './labelFiles';

const port = parentPort;
port?.on('message', (m: LabelFileRequest & { id: number }) => {
  try {
    const labels = runLabelFileRequest(m);
    port.postMessage({ id: m.id, ok: labels } satisfies WorkerReply<Uint8Array | null>, labels ? [labels.buffer as ArrayBuffer] : []);
  } catch (e) {
    port.postMessage({ id: m.id, error: errorToReply(e) } satisfies WorkerReply<Uint8Array | null>);
  }
});
