/**
 * Reading and writing annotation (label) files. Inflating, reorienting and checking a label
 * volume takes ~20 ms for a 96×96×64 phantom and hundreds of ms for a 240×240×155 BraTS case:
 * run on the extension host's thread that would freeze every extension, so the annotation's
 * file work runs in a worker thread (labelFileWorker.ts). Where no worker can start, the same
 * functions run in-thread. No 'vscode' import.
 */
import { existsSync } from 'node:fs';
import { NiftiError } from '../../engine/errors';
import { readNifti, sameGrid, toCanonical, writeOnSourceGrid, type SourceGrid } from '../../engine/nifti';
import type { Volume } from '../../engine/nifti/types';
import { ThreadWorker, workerScript } from '../../engine/util/threadWorker';

/** The voxel grid an annotation lives on (the opened volume's canonical grid). */
export type LabelGrid = Pick<Volume, 'dims' | 'spacing' | 'affine'>;

export type LabelFileRequest =
  | { op: 'read'; path: string; grid: LabelGrid; orEmpty: boolean; maxBytes?: number }
  | { op: 'write'; path: string; source: SourceGrid; labels: Uint8Array };

/** Reads a label file onto `grid`: it must be on the same grid and hold integers 0..255. */
export function readLabelsInThread(path: string, grid: LabelGrid, maxBytes?: number): Uint8Array {
  const vol = toCanonical(readNifti(path, maxBytes === undefined ? {} : { maxBytes }).volume);
  if (!sameGrid(vol, grid)) {
    throw new NiftiError(
      'nifti/grid-mismatch',
      `the annotation is not on the grid of the opened volume (${vol.dims.join('×')} vs ${grid.dims.join('×')} voxels, or a different affine)`,
      path,
    );
  }
  const out = new Uint8Array(vol.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = vol.data[i];
    if (!(Number.isInteger(v) && v >= 0 && v <= 255)) {
      throw new NiftiError('nifti/bad-label', `voxel ${i} holds ${v}; annotation labels must be integers 0..255`, path);
    }
    out[i] = v;
  }
  return out;
}

/** Writes labels (canonical grid) to `path` on the opened file's own grid, atomically. */
export function writeLabelsInThread(path: string, source: SourceGrid, labels: Uint8Array): void {
  writeOnSourceGrid(path, source, labels, { datatype: 'uint8', description: 'AnyAD annotation' });
}

/** What the worker does for one request (also the in-thread fallback). */
export function runLabelFileRequest(req: LabelFileRequest): Uint8Array | null {
  if (req.op === 'write') {
    writeLabelsInThread(req.path, req.source, req.labels);
    return null;
  }
  if (req.orEmpty && !existsSync(req.path)) return new Uint8Array(req.grid.dims[0] * req.grid.dims[1] * req.grid.dims[2]);
  return readLabelsInThread(req.path, req.grid, req.maxBytes);
}

let worker: ThreadWorker<LabelFileRequest, Uint8Array | null> | undefined | null;
function labelWorker(): ThreadWorker<LabelFileRequest, Uint8Array | null> | null {
  if (worker === undefined) {
    const script = workerScript(__dirname, 'labelFileWorker');
    worker = script ? new ThreadWorker(script) : null;
  }
  return worker;
}

async function run(req: LabelFileRequest, transfer: ArrayBuffer[] = []): Promise<Uint8Array | null> {
  const w = labelWorker();
  return w ? w.call(req, transfer) : runLabelFileRequest(req);
}

/** The labels stored at `path` on `grid` (zeros when `orEmpty` and the file does not exist), read off-thread. */
export async function readLabels(path: string, grid: LabelGrid, opts: { orEmpty?: boolean; maxBytes?: number } = {}): Promise<Uint8Array> {
  const labels = await run({ op: 'read', path, grid, orEmpty: opts.orEmpty ?? false, maxBytes: opts.maxBytes });
  if (!labels) throw new Error('the label worker returned nothing for a read');
  return labels;
}

/** Writes `labels` to `path` off-thread; the labels are copied when the call is made, so later edits do not race the write. */
export async function writeLabels(path: string, source: SourceGrid, labels: Uint8Array): Promise<void> {
  const copy = labels.slice();
  await run({ op: 'write', path, source, labels: copy }, [copy.buffer]);
}

/** Stops the worker thread (tests; the extension's deactivate). */
export function closeLabelFiles(): void {
  worker?.close();
  worker = undefined;
}
