/**
 * A loopback stand-in for the Hugging Face hub and its CDN (two node:http servers on
 * 127.0.0.1, random ports) that speaks the protocol huggingface_hub relies on:
 * HEAD/GET {repo}/resolve/{revision}/{file} with X-Repo-Commit, ETag (git blob sha1) for
 * regular files, X-Linked-Etag (sha256) / X-Linked-Size and a 302 to the CDN for LFS files,
 * X-Error-Code on 404s, 401 for a private repo without the right token, Range (206) on the
 * CDN. Misbehaviour on demand: a truncated body, corrupted bytes, a slow body, an ignored Range.
 * Every request is recorded, so tests can prove that a cached file costs none.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  /** Commit of 'main' (and any refs not listed). */
  commit: string;
  /** Extra branch/tag → commit. */
  refs?: Record<string, string>;
  files: Record<string, Uint8Array>;
  /** Files served as LFS (sha256 ETag, redirect to the CDN). */
  lfs: string[];
  /** When set, requests need `Authorization: Bearer <token>`. */
  token?: string;
}

export interface Behaviour {
  /** CDN closes the connection after this many body bytes. */
  truncateAt?: number;
  /** CDN flips a byte in the middle of the body. */
  corrupt?: boolean;
  /** CDN sends the body in chunks of this size with a pause between them. */
  slow?: { chunk: number; pauseMs: number };
  /** CDN answers Range requests with the whole body (200). */
  ignoreRange?: boolean;
}

export interface Recorded {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const gitBlobSha1 = (b: Uint8Array): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export class FakeHub {
  readonly requests: Recorded[] = [];
  behaviour: Behaviour = {};
  /** Called with the CDN's running count of body bytes sent. */
  onCdnBytes?: (sent: number) => void;
  endpoint = '';
  cdn = '';
  private servers: Server[] = [];
  private blobs = new Map<string, Uint8Array>();

  constructor(
    readonly repos: Record<string, FakeRepo>,
    private readonly tls?: { key: string; cert: string },
  ) {
    for (const r of Object.values(repos)) for (const f of r.lfs) this.blobs.set(sha256(r.files[f]), r.files[f]);
  }

  /** With `tls`, both servers speak HTTPS with that key and certificate. */
  static async start(repos: Record<string, FakeRepo>, tls?: { key: string; cert: string }): Promise<FakeHub> {
    const hub = new FakeHub(repos, tls);
    hub.cdn = await hub.listen((req, res) => hub.serveCdn(req, res), 'cdn');
    hub.endpoint = await hub.listen((req, res) => hub.serveHub(req, res), 'hub');
    return hub;
  }

  count(server?: 'hub' | 'cdn'): number {
    return this.requests.filter((r) => !server || r.server === server).length;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.closeAllConnections();
            s.close(() => r());
          }),
      ),
    );
  }

  private listen(handler: (req: IncomingMessage, res: ServerResponse) => void, name: 'hub' | 'cdn'): Promise<string> {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      this.requests.push({ server: name, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      handler(req, res);
    };
    const server: Server = this.tls ? createTlsServer(this.tls, onRequest) : createServer(onRequest);
    this.servers.push(server);
    const scheme = this.tls ? 'https' : 'http';
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve(`${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`)),
    );
  }

  private serveHub(req: IncomingMessage, res: ServerResponse): void {
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    const fail = (status: number, code?: string) => {
      res.writeHead(status, code ? { 'x-error-code': code } : {});
      res.end();
    };
    if (!m) return fail(404);
    const [repoId, revision, file] = [m[1], decodeURIComponent(m[2]), decodeURIComponent(m[3])];
    const repo = this.repos[repoId];
    if (!repo) return fail(404, 'RepoNotFound');
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return fail(401);
    const commits = new Set([repo.commit, ...Object.values(repo.refs ?? {})]);
    const commit = revision === 'main' ? repo.commit : (repo.refs?.[revision] ?? (commits.has(revision) ? revision : undefined));
    if (!commit) return fail(404, 'RevisionNotFound');
    const body = repo.files[file];
    if (!body) return fail(404, 'EntryNotFound');
    if (repo.lfs.includes(file)) {
      const etag = sha256(body);
      res.writeHead(302, {
        location: `${this.cdn}/blobs/${etag}?file=${encodeURIComponent(file)}`,
        'x-repo-commit': commit,
        'x-linked-etag': `"${etag}"`,
        'x-linked-size': String(body.length),
        etag: `"${gitBlobSha1(body)}"`,
        'content-length': '0',
      });
      res.end();
      return;
    }
    res.writeHead(200, {
      'x-repo-commit': commit,
      etag: `"${gitBlobSha1(body)}"`,
      'content-length': String(body.length),
      'content-type': 'application/json',
    });
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(body));
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse): void {
    const m = /^\/blobs\/([0-9a-f]{64})/.exec(req.url ?? '');
    const blob = m && this.blobs.get(m[1]);
    if (!blob) {
      res.writeHead(404);
      res.end();
      return;
    }
    let body = Buffer.from(blob);
    if (this.behaviour.corrupt) {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range && !this.behaviour.ignoreRange) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': String(body.length - start),
      });
    } else {
      res.writeHead(200, { 'content-length': String(body.length) });
    }
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const rest = body.subarray(start);
    const { truncateAt, slow } = this.behaviour;
    const limit = truncateAt !== undefined ? Math.min(rest.length, truncateAt) : rest.length;
    const chunk = slow?.chunk ?? 64 * 1024;
    let sent = 0;
    const pump = () => {
      if (res.destroyed) return;
      while (sent < limit) {
        const piece = rest.subarray(sent, Math.min(limit, sent + chunk));
        sent += piece.length;
        // A dropped connection mid-body: close the socket once the last bytes are flushed.
        res.write(piece, sent === limit && limit < rest.length ? () => res.socket?.end() : undefined);
        this.onCdnBytes?.(sent);
        if (slow && sent < limit) {
          setTimeout(pump, slow.pauseMs);
          return;
        }
      }
      if (limit === rest.length) res.end();
    };
    pump();
  }
}

/** Deterministic 40-hex commit ids for the fake repos. */
export function fakeCommit(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}
