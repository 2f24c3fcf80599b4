/**
 * The engine process's request loop (`anyad engine`): validates each request on receipt
 * (engineProtocol), runs them one at a time in arrival order (onnxruntime runs on this thread;
 * a queue keeps a Detect from interleaving with a scan), answers with exactly one result or
 * error per request, and cancels a queued or running request on `cancel` (checked between
 * batches of slices and between cases). Malformed, oversized or out-of-order requests are
 * answered with an error event of id null and change nothing.
 */
import { writeOnSourceGrid } from '../nifti';
import { loadWorkspaceConfig } from '../config';
import { StudyError } from '../errors';
import type { SourceGrid } from '../nifti/sourceGrid';
import { discoverWorkspace, workspaceDataset } from '../study';
import {
  type AnsweredKind,
  type DatasetResult,
  type DetectResult,
  ENGINE_PROTOCOL_VERSION,
  type EngineErrorJson,
  type EngineEvent,
  type EngineRequest,
  type EngineResults,
  parseEngineRequest,
} from '../../shared/engineProtocol';
import { caseOfSpec, detectCase } from './detectCase';
import { scanCohort } from './scan';
import { WarmState } from './warm';

/** Where messages go and come from (process IPC in the engine process; a pair of queues in tests). */
export interface EnginePort {
  send(event: EngineEvent): void;
  onMessage(listener: (raw: unknown) => void): void;
}

const V = ENGINE_PROTOCOL_VERSION;

export function errorJson(e: unknown): EngineErrorJson {
  const err = e as { name?: unknown; code?: unknown; message?: unknown };
  const name = typeof err?.name === 'string' ? err.name : 'Error';
  const code = typeof err?.code === 'string' ? err.code : name === 'AbortError' ? 'engine/cancelled' : 'engine/internal';
  const message = typeof err?.message === 'string' ? err.message : String(e);
  return { name: name.slice(0, 100), code: code.slice(0, 200), message: message.slice(0, 8000) };
}

/** The dataset summary of a workspace config (also the training pre-flight, which needs cases). */
export function datasetSummary(configPath: string, needCases: boolean): DatasetResult {
  const config = loadWorkspaceConfig(configPath);
  const found = discoverWorkspace(config);
  if (!needCases && found.cases.length === 0)
    return {
      text: `no cases found in ${config.data.root}`,
      warnings: found.warnings,
      notes: [],
      cases: 0,
      slices: { train: 0, val: 0, test: 0 },
    };
  const { cases, warnings, dataset: ds, text } = workspaceDataset(config, { found });
  return {
    text,
    warnings,
    notes: [...ds.summary.notes],
    cases: cases.length,
    slices: { train: ds.train.length, val: ds.val.length, test: ds.test.length },
  };
}

interface Pending {
  req: Exclude<EngineRequest, { kind: 'cancel' }>;
  abort: AbortController;
}

export class EngineServer {
  readonly warm: WarmState;
  private lastId = 0;
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private running = false;
  /** Whole-volume maps of the last detections, for saveMap. */
  private readonly volumes = new Map<number, { source: SourceGrid; data: Float32Array; label: string }>();

  constructor(
    private readonly port: EnginePort,
    warm?: WarmState,
  ) {
    this.warm = warm ?? new WarmState();
    port.onMessage((raw) => this.receive(raw));
    port.send({ v: V, kind: 'ready', pid: process.pid });
  }

  private receive(raw: unknown): void {
    let req: EngineRequest;
    try {
      req = parseEngineRequest(raw);
      if (req.id <= this.lastId) throw new Error(`engine protocol: request id ${req.id} is not after ${this.lastId} (ids must increase)`);
    } catch (e) {
      this.port.send({ v: V, kind: 'error', id: null, error: { ...errorJson(e), code: 'engine/protocol' } });
      return;
    }
    this.lastId = req.id;
    if (req.kind === 'cancel') {
      const target = req.target;
      if (this.current?.req.id === target) this.current.abort.abort();
      const i = this.queue.findIndex((p) => p.req.id === target);
      if (i >= 0) {
        const [p] = this.queue.splice(i, 1);
        this.port.send({
          v: V,
          kind: 'error',
          id: p.req.id,
          error: { name: 'AbortError', code: 'engine/cancelled', message: 'cancelled' },
        });
      }
      return; // a cancel for a finished request crossed its result: nothing to do
    }
    this.queue.push({ req, abort: new AbortController() });
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let p = this.queue.shift(); p; p = this.queue.shift()) {
        this.current = p;
        try {
          const result = await this.handle(p.req, p.abort.signal);
          this.port.send({ v: V, kind: 'result', id: p.req.id, result });
        } catch (e) {
          this.port.send({ v: V, kind: 'error', id: p.req.id, error: errorJson(e) });
        }
        this.current = undefined;
      }
    } finally {
      this.running = false;
    }
  }

  private async handle(req: Pending['req'], signal: AbortSignal): Promise<EngineResults[AnsweredKind]> {
    const log = (message: string) => this.port.send({ v: V, kind: 'log', id: req.id, message: message.slice(0, 8000) });
    switch (req.kind) {
      case 'detect':
        return this.detect(req, signal, log);
      case 'saveMap':
        return this.saveMap(req);
      case 'datasetSummary':
        return datasetSummary(req.params.config, false);
      case 'trainPreflight':
        return datasetSummary(req.params.config, true);
      case 'scan': {
        const p = req.params;
        return scanCohort({
          root: p.root,
          model: p.model,
          out: p.out,
          config: p.config,
          modalities: p.modalities,
          provider: p.provider,
          threads: p.threads,
          signal,
          log,
          warm: this.warm,
          onProgress: (e) => this.port.send({ v: V, kind: 'progress', id: req.id, done: e.done, total: e.total, message: e.message }),
        });
      }
      case 'stats':
        return { pid: process.pid, ...this.warm.stats() };
    }
  }

  /** Detects on one case; a whole-volume map is kept (the last two) for a later saveMap. */
  private async detect(
    req: Extract<Pending['req'], { kind: 'detect' }>,
    signal: AbortSignal,
    log: (m: string) => void,
  ): Promise<DetectResult> {
    const p = req.params;
    const kase = caseOfSpec({ files: p.files, config: p.config });
    const out = await detectCase({
      model: p.model,
      case: kase,
      modalities: p.modalities,
      slice: p.slice === 'middle' ? undefined : p.slice,
      provider: p.provider,
      threads: p.threads,
      batchSize: p.batchSize,
      signal,
      log,
      warm: this.warm,
      onProgress: (done, total) => this.port.send({ v: V, kind: 'progress', id: req.id, done, total }),
    });
    const r = out.result;
    if (!('slices' in r))
      return { detect: out.json, map: r.map, dims: [...r.grid.dims], z: r.z, batch: 1, mapId: null, timings: out.timings };
    this.volumes.set(req.id, { source: r.source, data: r.map.data, label: r.subset.label });
    while (this.volumes.size > 2) this.volumes.delete(this.volumes.keys().next().value as number);
    return { detect: out.json, map: r.map.data, dims: [...r.map.dims], z: null, batch: out.batch, mapId: req.id, timings: out.timings };
  }

  private saveMap(req: Extract<Pending['req'], { kind: 'saveMap' }>): { path: string } {
    const v = this.volumes.get(req.params.detectId);
    if (!v)
      throw new StudyError(
        'engine/no-map',
        `no whole-volume map of request ${req.params.detectId} is kept (only the last two are); run Detect again`,
      );
    writeOnSourceGrid(req.params.path, v.source, v.data, { datatype: 'float32', description: `AnyAD anomaly map (${v.label})` });
    return { path: req.params.path };
  }
}

/** Serves the protocol over this process's IPC channel until the parent disconnects. */
export function serveOverIpc(): Promise<void> {
  if (!process.send)
    throw new StudyError('engine/no-ipc', 'anyad engine talks to the VS Code extension over IPC; start it with child_process.fork');
  const send = process.send.bind(process);
  const server = new EngineServer({
    send: (e) => {
      send(e);
    },
    onMessage: (l) => process.on('message', l),
  });
  return new Promise((resolvePromise) => {
    process.on('disconnect', () => {
      void server.warm.dispose().finally(resolvePromise);
    });
  });
}
