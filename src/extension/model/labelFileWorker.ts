/**
 * Worker thread body for labelFiles.ts: reads and writes annotation files off the extension
 * host's thread. Bundled as dist/labelFileWorker.js.
 */
import { serveRequests } from '../../engine/util/threadWorker';
import { runLabelFileRequest, type LabelFileRequest } from './labelFiles';

serveRequests<LabelFileRequest, Uint8Array | null>((req) => {
  const labels = runLabelFileRequest(req);
  return { ok: labels, transfer: labels ? [labels.buffer as ArrayBuffer] : [] };
});
