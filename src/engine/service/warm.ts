/**
 * What the engine process keeps between requests: validated bundles, their onnxruntime
 * sessions, and decoded cases (every FLAIR/T1/T2 of the case, canonical, with source grids),
 * least recently used out first, cases bounded by their bytes. A file changed on disk (size
 * or mtime) is a new key, so a stale volume is never served.
 */
import { statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { type ProviderChoice, type Session, createSession, releaseSession } from '../graph/runtime';
import { BUNDLE_FILES, type LoadedBundle, loadBundle } from '../model/bundle';
import type { Case } from '../study/discover';
import { type LoadedCase, loadCase } from '../study/load';
import { CHANNELS } from '../study/modalities';
import { required } from '../errors';

export interface WarmOptions {
  /** Decoded voxel bytes kept (default: an eighth of the machine's memory, at most 2 GiB). */
  maxCaseBytes?: number;
  /** Sessions kept (default 2: a model and one other provider or model). */
  maxSessions?: number;
  /** Bundles kept (default 4). */
  maxBundles?: number;
}

function fileKey(p: string): string {
  try {
    const st = statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}`;
  } catch {
    return `${p}:missing`; // loadCase/loadBundle then say what is wrong
  }
}

function caseBytes(c: LoadedCase): number {
  return Object.values(c.volumes).reduce((n, v) => n + (v ? v.data.byteLength : 0), 0);
}

/** A Map used as an LRU: get() moves the entry to the end. */
function touch<K, V>(m: Map<K, V>, k: K): V | undefined {
  const v = m.get(k);
  if (v !== undefined) {
    m.delete(k);
    m.set(k, v);
  }
  return v;
}

export class WarmState {
  private readonly bundles = new Map<string, LoadedBundle>();
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly cases = new Map<string, { loaded: LoadedCase; bytes: number }>();
  private bytes = 0;
  readonly maxCaseBytes: number;
  private readonly maxSessions: number;
  private readonly maxBundles: number;

  constructor(opts: WarmOptions = {}) {
    this.maxCaseBytes = opts.maxCaseBytes ?? Math.min(2 ** 31, Math.floor(totalmem() / 8));
    this.maxSessions = Math.max(1, opts.maxSessions ?? 2);
    this.maxBundles = Math.max(1, opts.maxBundles ?? 4);
  }

  /** The bundle in `dir`, loaded and checksummed once per version of its files. */
  bundle(dir: string): LoadedBundle {
    const key = [BUNDLE_FILES.manifest, BUNDLE_FILES.model, BUNDLE_FILES.head].map((f) => fileKey(join(dir, f))).join('|');
    const hit = touch(this.bundles, key);
    if (hit) return hit;
    const b = loadBundle(dir);
    this.bundles.set(key, b);
    while (this.bundles.size > this.maxBundles) this.bundles.delete(this.bundles.keys().next().value as string);
    return b;
  }

  /** The bundle's session for a provider and thread count, created once. */
  session(bundle: LoadedBundle, provider: ProviderChoice, threads: number, log?: (m: string) => void): Promise<Session> {
    const key = `${fileKey(bundle.modelPath)}|${provider}|${threads}`;
    const hit = touch(this.sessions, key);
    if (hit) return hit;
    const s = createSession(bundle.modelPath, { provider, threads, log });
    this.sessions.set(key, s);
    s.catch(() => {
      if (this.sessions.get(key) === s) this.sessions.delete(key);
    });
    while (this.sessions.size > this.maxSessions) {
      const [k, old] = this.sessions.entries().next().value as [string, Promise<Session>];
      this.sessions.delete(k);
      void old.then(
        (x) => releaseSession(x),
        () => undefined,
      );
    }
    return s;
  }

  /** The case with every model sequence it has decoded (canonical), from memory when its files did not change. */
  loadCase(kase: Case): { loaded: LoadedCase; cached: boolean } {
    const sequences = CHANNELS.filter((c) => kase.files[c]);
    const key = JSON.stringify(sequences.map((s) => fileKey(required(kase.files[s], `the ${s} file`))));
    const hit = touch(this.cases, key);
    if (hit) return { loaded: { ...hit.loaded, case: kase }, cached: true };
    const loaded = loadCase(kase, { sequences, label: false });
    const bytes = caseBytes(loaded);
    // A case larger than the whole budget is used once and not kept.
    if (bytes <= this.maxCaseBytes) {
      this.cases.set(key, { loaded, bytes });
      this.bytes += bytes;
      while (this.bytes > this.maxCaseBytes && this.cases.size > 1) {
        const [k, old] = this.cases.entries().next().value as [string, { bytes: number }];
        this.cases.delete(k);
        this.bytes -= old.bytes;
      }
    }
    return { loaded, cached: false };
  }

  stats(): { cases: number; caseBytes: number; sessions: number; bundles: number } {
    return { cases: this.cases.size, caseBytes: this.bytes, sessions: this.sessions.size, bundles: this.bundles.size };
  }

  /** Frees the sessions and forgets everything. */
  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    this.cases.clear();
    this.bundles.clear();
    this.bytes = 0;
    for (const s of sessions)
      await s.then(
        (x) => releaseSession(x),
        () => undefined,
      );
  }
}
