/**
 * One HTTP request (no redirects followed) over node:http/https, honouring HTTPS_PROXY /
 * HTTP_PROXY / NO_PROXY the way curl and Python's requests do. Node 20's fetch ignores those
 * variables, and researchers behind an institutional proxy need them: http targets go to the
 * proxy in absolute form; https targets go through a CONNECT tunnel with TLS end to end.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { HubError } from '../errors';
import type { Env } from './cache';

export interface RequestOptions {
  method: 'HEAD' | 'GET';
  headers?: Record<string, string>;
  env?: Env;
  signal?: AbortSignal;
  /** Socket inactivity limit (ms): a stalled connection fails instead of hanging. */
  idleTimeoutMs?: number;
}

/** The proxy for a URL from the environment (lower-case names win, as in curl), or undefined. */
export function proxyFor(url: URL, env: Env = process.env): URL | undefined {
  const get = (name: string) => env[name.toLowerCase()] ?? env[name.toUpperCase()];
  const raw = url.protocol === 'https:' ? get('https_proxy') : get('http_proxy');
  if (!raw || bypassProxy(url, get('no_proxy') ?? '')) return undefined;
  try {
    return new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new HubError('hub/bad-proxy', `the proxy setting '${raw}' is not a URL`);
  }
}

/** NO_PROXY: '*', or comma/space-separated hosts (a leading dot or none = the domain and its subdomains), optional :port. */
function bypassProxy(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true;
      const [, hostPattern = '', portPattern] = /^(.*?)(?::(\d+))?$/.exec(entry.toLowerCase()) ?? [];
      const h = hostPattern.replace(/^\*?\./, '').replace(/^\[|\]$/g, '');
      if (portPattern && portPattern !== port) return false;
      return host === h || host.endsWith(`.${h}`);
    });
}

/** Sends the request and resolves with the response head (the body is the caller's to read or discard). */
export function request(url: string, opts: RequestOptions): Promise<http.IncomingMessage> {
  const target = new URL(url);
  const proxy = proxyFor(target, opts.env);
  const headers: Record<string, string> = { 'user-agent': 'anyad-vscode (huggingface_hub-compatible)', ...opts.headers };
  const idle = opts.idleTimeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(cancelled());
      return;
    }
    let req: http.ClientRequest | undefined;
    const fail = (e: unknown) => reject(e instanceof HubError ? e : connectionError(target, proxy, e as NodeJS.ErrnoException));
    const onAbort = () => {
      req?.destroy(cancelled());
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const send = (mod: typeof http | typeof https, reqOpts: https.RequestOptions) => {
      req = mod.request(reqOpts, (res) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (opts.signal) cancelBodyOnAbort(res, opts.signal);
        resolve(res);
      });
      req.setTimeout(idle, () => req?.destroy(new HubError('hub/timeout', `no data from ${target.host} for ${Math.round(idle / 1000)} s`)));
      req.on('error', fail);
      req.end();
    };
    const base = { method: opts.method, headers, agent: false as const };
    if (!proxy) {
      send(target.protocol === 'https:' ? https : http, {
        ...base,
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port || undefined,
        path: target.pathname + target.search,
      });
      return;
    }
    if (target.protocol === 'http:') {
      // Plain HTTP through a proxy: the request line carries the absolute URL.
      send(proxy.protocol === 'https:' ? https : http, {
        ...base,
        ...proxyEndpoint(proxy),
        path: target.href,
        headers: { ...headers, host: target.host, ...proxyAuthorization(proxy) },
      });
      return;
    }
    connectTunnel(target, proxy, idle, fail, (socket) => {
      const servername = target.hostname.replace(/^\[|\]$/g, '');
      send(https, {
        ...base,
        hostname: servername,
        port: target.port || 443,
        path: target.pathname + target.search,
        createConnection: () => tls.connect({ socket, servername }),
      });
    });
  });
}

/** Aborting after the response head destroys the body stream; its reader sees that as an error. */
function cancelBodyOnAbort(res: http.IncomingMessage, signal: AbortSignal): void {
  const onBodyAbort = () => res.destroy(cancelled());
  signal.addEventListener('abort', onBodyAbort, { once: true });
  res.once('close', () => signal.removeEventListener('abort', onBodyAbort));
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

function proxyEndpoint(proxy: URL): { hostname: string; port: string | number } {
  return { hostname: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80) };
}

/** Opens a CONNECT tunnel through the proxy to target's host (HTTPS through a proxy); `onSocket` gets the tunnel. */
function connectTunnel(target: URL, proxy: URL, idle: number, fail: (e: unknown) => void, onSocket: (socket: Socket) => void): void {
  const authority = `${target.hostname}:${target.port || 443}`;
  const connect = (proxy.protocol === 'https:' ? https : http).request({
    ...proxyEndpoint(proxy),
    method: 'CONNECT',
    path: authority,
    headers: { host: authority, ...proxyAuthorization(proxy) },
    agent: false,
  });
  connect.setTimeout(idle, () =>
    connect.destroy(new HubError('hub/timeout', `no answer from the proxy ${proxy.host} for ${Math.round(idle / 1000)} s`)),
  );
  connect.on('error', fail);
  connect.on('connect', (res: http.IncomingMessage, socket: Socket) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      fail(new HubError('hub/proxy', `the proxy ${proxy.host} refused to connect to ${authority} (HTTP ${res.statusCode})`));
      return;
    }
    onSocket(socket);
  });
  connect.end();
}

export function cancelled(): HubError {
  return new HubError('hub/cancelled', 'download cancelled (the partial file is kept and the next attempt resumes it)');
}

function connectionError(target: URL, proxy: URL | undefined, e: NodeJS.ErrnoException): HubError {
  const via = proxy ? ` via the proxy ${proxy.host}` : '';
  const what =
    e.code === 'ECONNREFUSED'
      ? 'connection refused'
      : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
        ? 'host not found (offline?)'
        : (e.code ?? e.message);
  return new HubError(
    'hub/connection',
    `cannot reach ${target.host}${via}: ${what}; check the network (or HF_ENDPOINT), or work offline with HF_HUB_OFFLINE=1 and a populated cache`,
    undefined,
    { cause: e },
  );
}

/** Reads a (small) response body to a string, e.g. an error page. */
export async function readBody(res: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    if (n < limit) parts.push(c as Buffer);
    n += (c as Buffer).length;
  }
  return Buffer.concat(parts).toString('utf8').slice(0, limit);
}
