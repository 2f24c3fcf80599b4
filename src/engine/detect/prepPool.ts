/**
 * The preprocessing worker of whole-volume detection (prepWorker.ts): onnxruntime-node runs a
 * session on the calling thread, so the next batch's preprocessing can only overlap the
 * current batch's model run from another thread. Where no worker can start (no bundled
 * dist/prepWorker.js, no tsx from source), detect preprocesses in-thread as before.
 */
import { ThreadWorker, workerScript } from '../util/threadWorker';
import type { ChannelName } from '../study/modalities';
import type { PrepRequest } from './prepWorker';

export class PrepPool {
  private constructor(private readonly worker: ThreadWorker<PrepRequest, Float32Array[]>) {}

  private static shared: PrepPool | undefined;

  /**
   * The process's worker, started on first use and kept (unref'd while idle: it never holds the
   * process open) so later volumes do not pay its start; undefined where none can run.
   */
  static get(): PrepPool | undefined {
    if (PrepPool.shared) return PrepPool.shared;
    const script = workerScript(__dirname, 'prepWorker');
    if (!script) return undefined;
    PrepPool.shared = new PrepPool(new ThreadWorker(script));
    return PrepPool.shared;
  }

  /** Model inputs of the slices (each: one axial image per channel), prepared in the worker; the slices' buffers move there. */
  prepare(req: PrepRequest): Promise<Float32Array[]> {
    return this.worker.call(
      req,
      req.slices.flat().map((a) => a.buffer as ArrayBuffer),
    );
  }

  /** Stops the worker (the next get() starts another). */
  close(): void {
    if (PrepPool.shared === this) PrepPool.shared = undefined;
    this.worker.close();
  }
}

export type { ChannelName };
