/**
 * One worker thread that answers requests (request → reply by id): work that must not run on
 * the calling thread (the extension host's NIfTI inflation, detect's preprocessing while
 * onnxruntime runs). The worker is started on first use and unref'd while idle, so it never
 * holds a process open; a crash rejects what was pending and the next call starts a new one.
 *
 * The script is the bundle beside this file (dist/<name>.js) or, from source (tests, benches),
 * the TypeScript module loaded through tsx. An AnyadError thrown in the worker comes back as the
 * same class, code, message and file (see errorFromReply), so callers show the same text.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, Worker } from 'node:worker_threads';
import { AnyadError, ConfigError, NiftiError, StudyError } from '../errors';

export interface WorkerErrorJson {
  name: string;
  code?: string;
  message: string;
  reason?: string;
  file?: string;
}
export type WorkerReply<R> = { id: number; ok: R } | { id: number; error: WorkerErrorJson };

/** The typed errors a worker may throw, by a name that survives bundling (class names may not). */
const ERROR_CLASSES: Record<string, new (code: string, message: string, file?: string) => AnyadError> = {
  NiftiError,
  StudyError,
  ConfigError,
  AnyadError,
};

/** The error of a worker-side failure, as the reply carries it (for the worker's side). */
export function errorToReply(e: unknown): WorkerErrorJson {
  if (e instanceof AnyadError) {
    const name = Object.keys(ERROR_CLASSES).find((k) => e instanceof ERROR_CLASSES[k]) ?? 'AnyadError';
    return { name, code: e.code, message: e.message, reason: e.reason, file: e.file };
  }
  return { name: 'Error', message: (e as Error)?.message ?? String(e) };
}

/** The caller-side error for a worker's error reply: typed errors keep their class and code. */
export function errorFromReply(e: WorkerErrorJson): Error {
  const cls = ERROR_CLASSES[e.name];
  if (cls && e.code !== undefined) return new cls(e.code, e.reason ?? e.message, e.file);
  return new Error(e.message);
}

/** dist/<name>.js beside the bundle, or src/…/<name>.ts through tsx; undefined when neither exists. */
export function workerScript(dir: string, name: string): { file: string; eval: boolean } | undefined {
  if (!__filename.endsWith('.ts')) {
    const js = join(dir, `${name}.js`);
    return existsSync(js) ? { file: js, eval: false } : undefined;
  }
  const ts = join(dir, `${name}.ts`);
  return existsSync(ts) ? { file: `require('tsx/cjs/api').register(); require(${JSON.stringify(ts)});`, eval: true } : undefined;
}

export class ThreadWorker<Req extends object, Rep> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Rep) => void; reject: (e: Error) => void }>();

  constructor(private readonly script: { file: string; eval: boolean }) {}

  /** Sends `request` (moving `transfer`'s buffers to the worker) and resolves with its reply. */
  call(request: Req, transfer: ArrayBuffer[] = []): Promise<Rep> {
    const id = this.nextId++;
    return new Promise<Rep>((resolve, reject) => {
      // A worker that cannot start rejects this call (the caller decides), it does not throw.
      const worker = this.started();
      this.pending.set(id, { resolve, reject });
      // Held while work is pending: an unref'd worker's reply would not keep the process alive.
      worker.ref();
      worker.postMessage({ ...request, id }, transfer);
    });
  }

  /** Stops the worker; pending calls fail, the next call starts a new one. */
  close(): void {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new Error('worker closed'));
    void w?.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.script.file, { eval: this.script.eval });
    worker.on('message', (m: WorkerReply<Rep>) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in m) p.reject(errorFromReply(m.error));
      else p.resolve(m.ok);
    });
    const fail = (e: Error) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(e);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`worker thread exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/**
 * The worker's side: answers each request with `handle`'s result (its `transfer` buffers move
 * back instead of being copied) or with the error it threw. Does nothing on the main thread.
 */
export function serveRequests<Req, Rep>(handle: (request: Req) => { ok: Rep; transfer?: ArrayBuffer[] }): void {
  const port = parentPort;
  port?.on('message', (m: Req & { id: number }) => {
    try {
      const { ok, transfer } = handle(m);
      port.postMessage({ id: m.id, ok } satisfies WorkerReply<Rep>, transfer ?? []);
    } catch (e) {
      port.postMessage({ id: m.id, error: errorToReply(e) } satisfies WorkerReply<Rep>);
    }
  });
}
