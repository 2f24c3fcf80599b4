/**
 * The typed, versioned protocol between the extension host and its engine process
 * (`anyad engine`, one per window): requests from the host, events from the engine, and the
 * validation both sides run on receipt. Node IPC with `serialization: 'advanced'` carries the
 * messages, so a detection map travels as a Float32Array (one structured-clone copy; no temp
 * file, no JSON of numbers).
 *
 * Sequencing (checked by RequestLedger on the host and by the engine's server):
 *   engine: `ready` first, once; then per request id: `progress`/`log`* and exactly one
 *   `result` or `error`; nothing for an id that is not in flight.
 *   host: request ids strictly increasing; `cancel` names an id (a finished one is ignored:
 *   cancel and result may cross).
 * Anything else — malformed, oversized, unknown kind, other version, out of order — is an
 * EngineProtocolError that names the field; the receiver drops the message and says so.
 *
 * Pure TypeScript with type-only imports: safe for the engine, the extension host and tests.
 */
import { type DetectJson, parseDetectJson } from './detectJson';
import { CHANNELS, PROVIDERS, type ChannelName, type ProviderChoice } from './vocabulary';

export const ENGINE_PROTOCOL_VERSION = 1;

export const ENGINE_LIMITS = Object.freeze({
  /** Characters of a message's JSON part (everything but a map's Float32Array). */
  jsonChars: 1 << 20,
  /** Characters of one text field (messages, labels). */
  text: 16_384,
  /** Characters of a path. */
  path: 4096,
  /** Voxels of a map (1 GiB of float32). */
  mapVoxels: 1 << 28,
  /** Cases a scan may report. */
  listItems: 100_000,
});

export type ChannelId = ChannelName;
export type ProviderId = ProviderChoice;
const CHANNEL_IDS: readonly ChannelId[] = CHANNELS;
const PROVIDER_IDS: readonly ProviderId[] = PROVIDERS;

export interface DetectParams {
  /** Bundle folder. */
  model: string;
  /** The case's sequence files (the viewer's resolver decided them). */
  files: Partial<Record<ChannelId, string>>;
  /** Workspace config whose sequence rules apply (optional). */
  config?: string;
  modalities: ChannelId[];
  /** An axial slice, 'all' (whole volume) or 'middle'. */
  slice: number | 'all' | 'middle';
  provider: ProviderId;
  threads: number;
  /** Slices per model run for a volume (default: from free memory). */
  batchSize?: number;
}

export interface SaveMapParams {
  /** The id of a finished whole-volume detect request of this engine. */
  detectId: number;
  /** .nii or .nii.gz; written on the source file's grid. */
  path: string;
}

export interface ConfigParams {
  config: string;
}

export interface ScanParams {
  root: string;
  model: string;
  out: string;
  config?: string;
  modalities?: ChannelId[];
  provider: ProviderId;
  threads: number;
}

interface RequestBase {
  v: typeof ENGINE_PROTOCOL_VERSION;
  id: number;
}
export type EngineRequest =
  | (RequestBase & { kind: 'detect'; params: DetectParams })
  | (RequestBase & { kind: 'saveMap'; params: SaveMapParams })
  | (RequestBase & { kind: 'datasetSummary'; params: ConfigParams })
  | (RequestBase & { kind: 'trainPreflight'; params: ConfigParams })
  | (RequestBase & { kind: 'scan'; params: ScanParams })
  | (RequestBase & { kind: 'stats' })
  | (RequestBase & { kind: 'cancel'; target: number });
export type EngineRequestKind = EngineRequest['kind'];
/** Requests that get an answer (cancel does not). */
export type AnsweredKind = Exclude<EngineRequestKind, 'cancel'>;

export interface DetectResult {
  detect: DetectJson;
  /** The map on the case's canonical grid: slice z only (nx·ny values) or the whole volume (nx·ny·nz). */
  map: Float32Array;
  /** [nx, ny, nz] of the canonical grid. */
  dims: [number, number, number];
  /** The slice of a slice result; null for a volume. */
  z: number | null;
  /** Slices per model run (1 for a slice or an older batch-1 model). */
  batch: number;
  /** A volume map the engine keeps for saveMap (its detectId), or null. */
  mapId: number | null;
  /** Engine-side milliseconds: loading the case and model (0 when warm), and detection. */
  timings: { loadMs: number; detectMs: number };
}

export interface DatasetResult {
  /** formatDatasetSummary's text. */
  text: string;
  warnings: string[];
  notes: string[];
  cases: number;
  slices: { train: number; val: number; test: number };
}

export interface ScanResult {
  cases: number;
  scanned: number;
  skipped: number;
  failed: number;
  summary: string;
  casesCsv: string;
  slicesCsv: string;
}

export interface StatsResult {
  pid: number;
  cases: number;
  caseBytes: number;
  sessions: number;
  bundles: number;
}

export interface EngineResults {
  detect: DetectResult;
  saveMap: { path: string };
  datasetSummary: DatasetResult;
  trainPreflight: DatasetResult;
  scan: ScanResult;
  stats: StatsResult;
}

export interface EngineErrorJson {
  /** The error class (ConfigError, StudyError, AbortError, …). */
  name: string;
  code: string;
  message: string;
}

export type EngineEvent =
  | { v: typeof ENGINE_PROTOCOL_VERSION; kind: 'ready'; pid: number }
  | { v: typeof ENGINE_PROTOCOL_VERSION; kind: 'progress'; id: number; done: number; total: number; message?: string }
  | { v: typeof ENGINE_PROTOCOL_VERSION; kind: 'log'; id: number | null; message: string }
  | { v: typeof ENGINE_PROTOCOL_VERSION; kind: 'result'; id: number; result: unknown }
  | { v: typeof ENGINE_PROTOCOL_VERSION; kind: 'error'; id: number | null; error: EngineErrorJson };

/** A message that breaks the protocol; the receiver drops it. */
export class EngineProtocolError extends Error {
  override name = 'EngineProtocolError';
}

function fail(msg: string): never {
  throw new EngineProtocolError(`engine protocol: ${msg}`);
}
function obj(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) fail(`'${name}' must be an object`);
  return v as Record<string, unknown>;
}
function str(v: unknown, name: string, max: number = ENGINE_LIMITS.text): string {
  if (typeof v !== 'string') fail(`'${name}' must be a string`);
  if (v.length > max) fail(`'${name}' is oversized (${v.length} characters, at most ${max})`);
  return v;
}
function path(v: unknown, name: string): string {
  const p = str(v, name, ENGINE_LIMITS.path);
  if (p === '' || p.includes('\0')) fail(`'${name}' must be a non-empty path without NUL`);
  return p;
}
function int(v: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) fail(`'${name}' must be an integer in [${min}, ${max}]`);
  return v as number;
}
function num(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`'${name}' must be a finite number`);
  return v;
}
function oneOf<T extends string>(v: unknown, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly unknown[]).includes(v))
    fail(`'${name}' must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)?.slice(0, 40)}`);
  return v as T;
}
function channels(v: unknown, name: string): ChannelId[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 3) fail(`'${name}' must be 1 to 3 of ${CHANNEL_IDS.join(', ')}`);
  const out = (v as unknown[]).map((c, i) => oneOf(c, CHANNEL_IDS, `${name}[${i}]`));
  if (new Set(out).size !== out.length) fail(`'${name}' repeats a sequence`);
  return out;
}
function strings(v: unknown, name: string): string[] {
  if (!Array.isArray(v) || v.length > ENGINE_LIMITS.listItems)
    fail(`'${name}' must be an array of at most ${ENGINE_LIMITS.listItems} strings`);
  return (v as unknown[]).map((s, i) => str(s, `${name}[${i}]`));
}
/** The size of the JSON part: typed arrays count as nothing (they are checked against dims). */
function jsonSize(v: unknown): number {
  let n = 0;
  try {
    n = JSON.stringify(v, (_k, x: unknown) => (ArrayBuffer.isView(x) ? null : typeof x === 'bigint' ? 0 : x))?.length ?? 0;
  } catch {
    fail('the message is not serialisable data');
  }
  return n;
}
function envelope(raw: unknown, what: string): Record<string, unknown> {
  const m = obj(raw, what);
  if (m.v !== ENGINE_PROTOCOL_VERSION)
    fail(
      `${what} of protocol version ${JSON.stringify(m.v)?.slice(0, 20)}; this side speaks ${ENGINE_PROTOCOL_VERSION} (restart VS Code after updating the extension)`,
    );
  const size = jsonSize(m);
  if (size > ENGINE_LIMITS.jsonChars) fail(`${what} is oversized (${size} characters of JSON, at most ${ENGINE_LIMITS.jsonChars})`);
  return m;
}

function detectParams(v: unknown): DetectParams {
  const p = obj(v, 'params');
  const f = obj(p.files, 'params.files');
  const files: Partial<Record<ChannelId, string>> = {};
  for (const k of Object.keys(f)) files[oneOf(k, CHANNEL_IDS, 'params.files key')] = path(f[k], `params.files.${k}`);
  if (Object.keys(files).length === 0) fail(`'params.files' must name at least one sequence file`);
  const slice = p.slice === 'all' || p.slice === 'middle' ? p.slice : int(p.slice, 'params.slice', 0, 1 << 20);
  return {
    model: path(p.model, 'params.model'),
    files,
    ...(p.config !== undefined ? { config: path(p.config, 'params.config') } : {}),
    modalities: channels(p.modalities, 'params.modalities'),
    slice,
    provider: oneOf(p.provider, PROVIDER_IDS, 'params.provider'),
    threads: int(p.threads, 'params.threads', 0, 1024),
    ...(p.batchSize !== undefined ? { batchSize: int(p.batchSize, 'params.batchSize', 1, 256) } : {}),
  };
}

function scanParams(v: unknown): ScanParams {
  const p = obj(v, 'params');
  return {
    root: path(p.root, 'params.root'),
    model: path(p.model, 'params.model'),
    out: path(p.out, 'params.out'),
    ...(p.config !== undefined ? { config: path(p.config, 'params.config') } : {}),
    ...(p.modalities !== undefined ? { modalities: channels(p.modalities, 'params.modalities') } : {}),
    provider: oneOf(p.provider, PROVIDER_IDS, 'params.provider'),
    threads: int(p.threads, 'params.threads', 0, 1024),
  };
}

const REQUEST_KINDS: readonly EngineRequestKind[] = ['detect', 'saveMap', 'datasetSummary', 'trainPreflight', 'scan', 'stats', 'cancel'];

/** Validates a request on receipt (engine side). */
export function parseEngineRequest(raw: unknown): EngineRequest {
  const m = envelope(raw, 'request');
  const id = int(m.id, 'id', 1);
  const base = { v: ENGINE_PROTOCOL_VERSION, id } as const;
  const kind = oneOf(m.kind, REQUEST_KINDS, 'kind');
  switch (kind) {
    case 'detect':
      return { ...base, kind, params: detectParams(m.params) };
    case 'saveMap': {
      const p = obj(m.params, 'params');
      const out = path(p.path, 'params.path');
      if (!/\.nii(\.gz)?$/i.test(out)) fail(`'params.path' must end in .nii or .nii.gz`);
      return { ...base, kind, params: { detectId: int(p.detectId, 'params.detectId', 1), path: out } };
    }
    case 'datasetSummary':
    case 'trainPreflight':
      return { ...base, kind, params: { config: path(obj(m.params, 'params').config, 'params.config') } };
    case 'scan':
      return { ...base, kind, params: scanParams(m.params) };
    case 'stats':
      return { ...base, kind };
    case 'cancel':
      return { ...base, kind, target: int(m.target, 'target', 1) };
  }
}

const EVENT_KINDS: readonly EngineEvent['kind'][] = ['ready', 'progress', 'log', 'result', 'error'];

/** Validates an event's envelope on receipt (host side); `result` is checked by parseEngineResult. */
export function parseEngineEvent(raw: unknown): EngineEvent {
  const m = envelope(raw, 'event');
  const v = ENGINE_PROTOCOL_VERSION;
  const kind = oneOf(m.kind, EVENT_KINDS, 'kind');
  const optId = (x: unknown) => (x === null ? null : int(x, 'id', 1));
  switch (kind) {
    case 'ready':
      return { v, kind, pid: int(m.pid, 'pid', 1) };
    case 'progress': {
      const total = int(m.total, 'total', 0);
      const done = int(m.done, 'done', 0, total);
      return { v, kind, id: int(m.id, 'id', 1), done, total, ...(m.message !== undefined ? { message: str(m.message, 'message') } : {}) };
    }
    case 'log':
      return { v, kind, id: optId(m.id), message: str(m.message, 'message') };
    case 'result':
      return { v, kind, id: int(m.id, 'id', 1), result: m.result };
    case 'error': {
      const e = obj(m.error, 'error');
      return {
        v,
        kind,
        id: optId(m.id),
        error: { name: str(e.name, 'error.name', 100), code: str(e.code, 'error.code', 200), message: str(e.message, 'error.message') },
      };
    }
  }
}

function datasetResult(r: Record<string, unknown>): DatasetResult {
  const s = obj(r.slices, 'result.slices');
  return {
    text: str(r.text, 'result.text', ENGINE_LIMITS.jsonChars),
    warnings: strings(r.warnings, 'result.warnings'),
    notes: strings(r.notes, 'result.notes'),
    cases: int(r.cases, 'result.cases'),
    slices: { train: int(s.train, 'result.slices.train'), val: int(s.val, 'result.slices.val'), test: int(s.test, 'result.slices.test') },
  };
}

/** Validates the result of a request of `kind` (host side). */
export function parseEngineResult<K extends AnsweredKind>(kind: K, raw: unknown): EngineResults[K] {
  const r = obj(raw, 'result');
  switch (kind) {
    case 'detect': {
      const d = r.dims;
      if (!Array.isArray(d) || d.length !== 3) fail(`'result.dims' must be [nx, ny, nz]`);
      const dims = (d as unknown[]).map((x, i) => int(x, `result.dims[${i}]`, 1, 1 << 16)) as [number, number, number];
      const z = r.z === null ? null : int(r.z, 'result.z', 0, dims[2] - 1);
      if (!(r.map instanceof Float32Array)) fail(`'result.map' must be a Float32Array`);
      const map = r.map;
      const want = z === null ? dims[0] * dims[1] * dims[2] : dims[0] * dims[1];
      if (want > ENGINE_LIMITS.mapVoxels) fail(`'result.map' is oversized (${want} voxels, at most ${ENGINE_LIMITS.mapVoxels})`);
      if (map.length !== want)
        fail(`'result.map' has ${map.length} values; dims ${dims.join('×')} ${z === null ? '' : `(slice ${z}) `}need ${want}`);
      let detect: DetectJson;
      try {
        detect = parseDetectJson(r.detect);
      } catch (e) {
        return fail(`'result.detect': ${(e as Error).message}`);
      }
      if ('slices' in detect !== (z === null))
        fail(`'result.detect' is a ${'slices' in detect ? 'volume' : 'slice'} result but z is ${String(z)}`);
      const t = obj(r.timings, 'result.timings');
      const mapId = r.mapId === null ? null : int(r.mapId, 'result.mapId', 1);
      return {
        detect,
        map,
        dims,
        z,
        batch: int(r.batch, 'result.batch', 1, 256),
        mapId,
        timings: { loadMs: num(t.loadMs, 'result.timings.loadMs'), detectMs: num(t.detectMs, 'result.timings.detectMs') },
      } as EngineResults[K];
    }
    case 'saveMap':
      return { path: path(r.path, 'result.path') } as EngineResults[K];
    case 'datasetSummary':
    case 'trainPreflight':
      return datasetResult(r) as EngineResults[K];
    case 'scan':
      return {
        cases: int(r.cases, 'result.cases'),
        scanned: int(r.scanned, 'result.scanned'),
        skipped: int(r.skipped, 'result.skipped'),
        failed: int(r.failed, 'result.failed'),
        summary: path(r.summary, 'result.summary'),
        casesCsv: path(r.casesCsv, 'result.casesCsv'),
        slicesCsv: path(r.slicesCsv, 'result.slicesCsv'),
      } as EngineResults[K];
    case 'stats':
      return {
        pid: int(r.pid, 'result.pid', 1),
        cases: int(r.cases, 'result.cases'),
        caseBytes: int(r.caseBytes, 'result.caseBytes'),
        sessions: int(r.sessions, 'result.sessions'),
        bundles: int(r.bundles, 'result.bundles'),
      } as EngineResults[K];
  }
  return fail(`no result is defined for '${String(kind)}'`);
}

/**
 * The host's record of requests in flight: ids strictly increasing, and every event checked
 * against it (ready once and first; progress/log/result/error only for an id in flight; the
 * result or error ends it).
 */
export class RequestLedger {
  private nextId = 1;
  private ready = false;
  private readonly inFlight = new Map<number, AnsweredKind>();
  private readonly cancelled = new Set<number>();

  /** A fresh id for a request of `kind`. */
  open(kind: AnsweredKind): number {
    const id = this.nextId++;
    this.inFlight.set(id, kind);
    return id;
  }

  /** An id for a message that gets no answer (cancel): ids stay increasing. */
  reserve(): number {
    return this.nextId++;
  }

  /** Forget a request the host gave up on (engine gone). */
  drop(id: number): void {
    this.inFlight.delete(id);
  }

  /** A request the host cancelled: its remaining events (cancel and result may cross) are ignored, then forgotten. */
  cancel(id: number): void {
    if (this.inFlight.delete(id)) this.cancelled.add(id);
  }

  /** Whether the engine said ready. */
  get isReady(): boolean {
    return this.ready;
  }

  /**
   * Checks an event's order; returns the request kind for an event of a request in flight,
   * undefined for ready, id-less logs/errors and late events of a cancelled request.
   * Throws EngineProtocolError.
   */
  accept(e: EngineEvent): AnsweredKind | undefined {
    if (e.kind === 'ready') {
      if (this.ready) fail(`a second 'ready'`);
      this.ready = true;
      return undefined;
    }
    if (!this.ready) fail(`'${e.kind}' before 'ready'`);
    if (e.id === null) {
      if (e.kind === 'log' || e.kind === 'error') return undefined;
      fail(`'${e.kind}' without a request id`);
    }
    if (this.cancelled.has(e.id)) {
      if (e.kind === 'result' || e.kind === 'error') this.cancelled.delete(e.id);
      return undefined;
    }
    const kind = this.inFlight.get(e.id);
    if (!kind) fail(`'${e.kind}' for request ${e.id}, which is not in flight (finished, cancelled or never sent)`);
    if (e.kind === 'result' || e.kind === 'error') this.inFlight.delete(e.id);
    return kind;
  }
}
