/**
 * The extension's side of its engine process (`anyad engine`, one per window): started on
 * first use, its events validated on receipt (engineProtocol), requests cancellable, restarted
 * on the next request after a crash (every request then in flight fails with
 * EngineCrashedError), and shut down after an idle spell. The host only routes messages: the
 * volumes, sessions and maps live in the engine.
 *
 * No 'vscode' import: tests drive it with real child processes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { runInBackground } from './processPriority';
import {
  type AnsweredKind,
  ENGINE_PROTOCOL_VERSION,
  type EngineErrorJson,
  type EngineEvent,
  EngineProtocolError,
  type EngineRequest,
  type EngineResults,
  RequestLedger,
  parseEngineEvent,
  parseEngineResult,
} from '../shared/engineProtocol';

export interface EngineCommand {
  /** The script node runs (dist/cli.js). */
  script: string;
  /** Its arguments (['engine']). */
  args: string[];
  /** Node options (e.g. ['--import', 'tsx'] in tests). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface EngineClientOptions {
  command: EngineCommand;
  /** Shut the engine down after this long without a request (default 10 minutes). */
  idleMs?: number;
  /** How long the engine may take to say ready (default 60 s). */
  startTimeoutMs?: number;
  /** Engine logs, its stderr, starts, exits and dropped messages. */
  log?: (line: string) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, message?: string) => void;
  onLog?: (message: string) => void;
}

/** The engine answered with an error (its class name, code and message). */
export class EngineRequestError extends Error {
  readonly code: string;
  readonly engineName: string;
  constructor(e: EngineErrorJson) {
    super(e.message);
    this.name = e.name === 'AbortError' ? 'AbortError' : 'EngineRequestError';
    this.code = e.code;
    this.engineName = e.name;
  }
}

/** The engine process exited (crash, kill, out of memory) while a request was in flight. */
export class EngineCrashedError extends Error {
  override name = 'EngineCrashedError';
}

function abortError(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

type Params<K extends AnsweredKind> = Extract<EngineRequest, { kind: K }> extends { params: infer P } ? P : undefined;

interface Pending {
  kind: AnsweredKind;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  opts: RequestOptions;
}

interface Running {
  child: ChildProcess;
  ledger: RequestLedger;
  ready: Promise<void>;
  pending: Map<number, Pending>;
}

export class EngineClient {
  private running: Running | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** Engine processes started so far (1 + restarts). */
  starts = 0;
  /** Messages dropped for breaking the protocol. */
  violations = 0;

  constructor(private readonly opts: EngineClientOptions) {}

  /** The engine's pid while one runs. */
  get pid(): number | undefined {
    return this.running?.child.pid;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private start(): Running {
    const { script, args, execArgv, env } = this.opts.command;
    this.starts++;
    const child = fork(script, args, {
      serialization: 'advanced',
      execArgv: execArgv ?? [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...(env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
    });
    runInBackground(child);
    const ledger = new RequestLedger();
    const pending = new Map<number, Pending>();
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    ready.catch(() => undefined);
    const timer = setTimeout(() => {
      onFail(new EngineCrashedError(`the AnyAD engine did not start within ${(this.opts.startTimeoutMs ?? 60_000) / 1000} s`));
      child.kill('SIGKILL');
    }, this.opts.startTimeoutMs ?? 60_000);
    const run: Running = { child, ledger, ready, pending };
    let partial = '';
    child.stderr?.on('data', (c: Buffer) => {
      partial += c.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) this.log(`engine: ${l}`);
    });
    child.on('message', (raw: unknown) => {
      let e: EngineEvent;
      let kind: AnsweredKind | undefined;
      try {
        e = parseEngineEvent(raw);
        kind = ledger.accept(e);
      } catch (err) {
        this.violations++;
        this.log(`engine message dropped: ${(err as Error).message}`);
        return;
      }
      if (e.kind === 'ready') {
        clearTimeout(timer);
        this.log(`engine process ${e.pid} ready`);
        onReady();
        return;
      }
      if (e.kind === 'log' && e.id === null) {
        this.log(`engine: ${e.message}`);
        return;
      }
      if (e.kind === 'error' && e.id === null) {
        this.log(`engine error: ${e.error.message}`);
        return;
      }
      const p = pending.get(e.id as number);
      if (!kind || !p) return; // a late event of a cancelled request
      switch (e.kind) {
        case 'progress':
          p.opts.onProgress?.(e.done, e.total, e.message);
          return;
        case 'log':
          (p.opts.onLog ?? ((m: string) => this.log(`engine: ${m}`)))(e.message);
          return;
        case 'error':
          pending.delete(e.id as number);
          p.reject(new EngineRequestError(e.error));
          break;
        case 'result':
          pending.delete(e.id);
          try {
            p.resolve(parseEngineResult(kind, e.result));
          } catch (err) {
            this.violations++;
            p.reject(err as Error);
          }
          break;
      }
      this.armIdle();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (this.running === run) this.running = undefined;
      const why = `the AnyAD engine process exited (${signal ?? `code ${String(code)}`})`;
      onFail(new EngineCrashedError(why));
      if (pending.size) this.log(`${why} with ${pending.size} request(s) in flight; it restarts on the next request`);
      for (const [id, p] of pending) {
        ledger.drop(id);
        p.reject(new EngineCrashedError(why));
      }
      pending.clear();
    });
    child.on('error', (err) => {
      this.log(`engine process error: ${err.message}`);
      onFail(err);
    });
    return run;
  }

  /** Sends a request and resolves with its validated result. */
  async request<K extends AnsweredKind>(kind: K, params: Params<K>, opts: RequestOptions = {}): Promise<EngineResults[K]> {
    if (this.disposed) throw new EngineCrashedError('the AnyAD engine was shut down');
    opts.signal?.throwIfAborted();
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    const run = this.running ?? (this.running = this.start());
    await run.ready;
    opts.signal?.throwIfAborted();
    const id = run.ledger.open(kind);
    const message = { v: ENGINE_PROTOCOL_VERSION, id, kind, ...(params !== undefined ? { params } : {}) } as EngineRequest;
    return new Promise<EngineResults[K]>((resolvePromise, reject) => {
      const onAbort = () => {
        if (!run.pending.delete(id)) return;
        run.ledger.cancel(id);
        this.send(run, { v: ENGINE_PROTOCOL_VERSION, id: run.ledger.reserve(), kind: 'cancel', target: id });
        reject(abortError());
        this.armIdle();
      };
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          opts.signal?.removeEventListener('abort', onAbort);
          f(v);
        };
      run.pending.set(id, { kind, resolve: done(resolvePromise as (v: unknown) => void), reject: done(reject), opts });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.send(run, message);
    });
  }

  private send(run: Running, message: EngineRequest): void {
    try {
      run.child.send(message);
    } catch (e) {
      this.log(`could not send to the engine: ${(e as Error).message}`);
    }
  }

  private armIdle(): void {
    const run = this.running;
    if (!run || run.pending.size > 0 || this.disposed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => {
        if (this.running === run && run.pending.size === 0) {
          this.log('engine idle: shutting it down (it starts again on the next request)');
          this.stop(run);
        }
      },
      this.opts.idleMs ?? 10 * 60_000,
    );
    this.idleTimer.unref?.();
  }

  private stop(run: Running): void {
    if (this.running === run) this.running = undefined;
    // Disconnecting ends the engine's serve loop; a stuck one is killed.
    try {
      run.child.disconnect();
    } catch {
      /* already gone */
    }
    const kill = setTimeout(() => run.child.kill('SIGKILL'), 3000);
    kill.unref?.();
    run.child.once('exit', () => clearTimeout(kill));
  }

  /** Kills the engine now, as a crash would (tests; a hung engine). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.running?.child.kill(signal);
  }

  /** Shuts the engine down; waits for it to exit. */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const run = this.running;
    if (!run) return;
    const exited = new Promise<void>((r) => {
      if (run.child.exitCode !== null || run.child.signalCode !== null) r();
      else run.child.once('exit', () => r());
    });
    this.stop(run);
    await exited;
  }
}

export { EngineProtocolError };
