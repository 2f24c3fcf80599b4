/**
 * The preprocessing worker of whole-volume detection (prepWorker.ts): onnxruntime-node runs a
 * session on the calling thread, so the next batch's preprocessing can only overlap the
 * current batch's model run from another thread. Where no worker can start (no bundled
 * dist/prepWorker.js, no tsx from source), detect preprocesses in-thread as before.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ChannelName } from '../study/modalities';
import type { PrepReply, PrepRequest } from './prepWorker';

function workerScript(): { file: string; eval: boolean } | undefined {
  if (!__filename.endsWith('.ts')) {
    const js = join(__dirname, 'prepWorker.js'); // beside the bundle (dist/)
    return existsSync(js) ? { file: js, eval: false } : undefined;
  }
  // From source (tests, benches): the worker loads the TypeScript through tsx's require hook.
  const ts = join(__dirname, 'prepWorker.ts');
  return existsSync(ts) ? { file: `require('tsx/cjs/api').register(); require(${JSON.stringify(ts)});`, eval: true } : undefined;
}

export class PrepPool {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void }>();
  private failed: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: PrepReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m.images);
    });
    const fail = (e: Error) => {
      this.failed = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`preprocessing worker exited with code ${code}`));
    });
    worker.unref();
  }

  private static shared: PrepPool | undefined;

  /**
   * The process's worker, started on first use and kept (unref'd: it never holds the process
   * open) so later volumes do not pay its start; undefined where none can run.
   */
  static get(): PrepPool | undefined {
    if (PrepPool.shared && !PrepPool.shared.failed) return PrepPool.shared;
    const s = workerScript();
    if (!s) return undefined;
    try {
      PrepPool.shared = new PrepPool(new Worker(s.file, { eval: s.eval }));
      return PrepPool.shared;
    } catch {
      return undefined;
    }
  }

  /** Model inputs of the slices (each: one axial image per channel), prepared in the worker; the slices' buffers move there. */
  prepare(req: Omit<PrepRequest, 'id'>): Promise<Float32Array[]> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolvePromise, reject) => {
      this.pending.set(id, { resolve: resolvePromise, reject });
      // Held while work is pending (an unref'd worker's answer would not keep the process alive).
      this.worker.ref();
      this.worker.postMessage(
        { ...req, id } satisfies PrepRequest,
        req.slices.flat().map((a) => a.buffer as ArrayBuffer),
      );
    });
  }

  /** Stops the worker (the next get() starts another). */
  close(): void {
    if (PrepPool.shared === this) PrepPool.shared = undefined;
    void this.worker.terminate();
  }
}

export type { ChannelName };
