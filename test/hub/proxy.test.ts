/**
 * Proxies, as institutional networks need them: HTTP_PROXY forwards plain-HTTP requests in
 * absolute form, HTTPS_PROXY tunnels TLS with CONNECT (checked end to end with a self-signed
 * hub on 127.0.0.1 trusted through NODE_EXTRA_CA_CERTS in a child process), NO_PROXY bypasses.
 * Also: the CLI stops on SIGTERM with exit code 130 and keeps the partial file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoFolderName } from '../../src/engine/hub/cache';
import { ensureRepoFiles } from '../../src/engine/hub/download';
import { proxyFor } from '../../src/engine/hub/http';
import { FakeHub, sha256 } from './fakeHub';
import { WEIGHTS, tinyRepo } from './hubHelpers';

const REPO = 'facebook/dinov2-small';
const FILES = ['config.json', 'model.safetensors'];
const tmp = mkdtempSync(join(tmpdir(), 'anyad-proxy-'));
let hub: FakeHub;
let proxy: { url: string; seen: string[]; server: Server };

/** A forward proxy: absolute-form HTTP requests are relayed, CONNECT opens a raw tunnel. */
async function startProxy(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const up = httpRequest(
      { hostname: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

before(async () => {
  hub = await FakeHub.start({ [REPO]: tinyRepo() });
  proxy = await startProxy();
});
after(async () => {
  await hub.close();
  proxy.server.closeAllConnections();
  await new Promise<void>((r) => proxy.server.close(() => r()));
  rmSync(tmp, { recursive: true, force: true });
});

test('proxyFor: lower case wins, NO_PROXY hosts/domains/ports and * bypass, https uses HTTPS_PROXY', () => {
  const u = (s: string) => new URL(s);
  assert.equal(proxyFor(u('https://huggingface.co/x'), { HTTPS_PROXY: 'http://p:3128' })?.host, 'p:3128');
  assert.equal(proxyFor(u('https://huggingface.co/x'), { HTTPS_PROXY: 'http://p:3128', https_proxy: 'q:8080' })?.host, 'q:8080');
  assert.equal(proxyFor(u('https://huggingface.co/x'), { HTTP_PROXY: 'http://p:3128' }), undefined, 'https does not use HTTP_PROXY');
  assert.equal(proxyFor(u('http://127.0.0.1:5/x'), { HTTP_PROXY: 'http://p:1', NO_PROXY: 'localhost,127.0.0.1' }), undefined);
  assert.equal(proxyFor(u('https://cdn-lfs.huggingface.co/x'), { HTTPS_PROXY: 'http://p:1', NO_PROXY: '.huggingface.co' }), undefined);
  assert.equal(proxyFor(u('https://cdn-lfs.huggingface.co/x'), { HTTPS_PROXY: 'http://p:1', no_proxy: 'huggingface.co' }), undefined);
  assert.equal(proxyFor(u('https://nothuggingface.co/x'), { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'huggingface.co' })?.host, 'p:1');
  assert.equal(
    proxyFor(u('https://h.org:8443/x'), { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'h.org:443' })?.host,
    'p:1',
    'another port is not bypassed',
  );
  assert.equal(proxyFor(u('https://h.org/x'), { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' }), undefined);
});

test('HTTP_PROXY: hub and CDN requests go through the proxy; NO_PROXY bypasses it', async () => {
  proxy.seen.length = 0;
  const got = await ensureRepoFiles(REPO, 'main', FILES, {
    env: { HTTP_PROXY: proxy.url },
    endpoint: hub.endpoint,
    cacheDir: join(tmp, 'c1'),
    allowDownload: true,
  });
  assert.equal(sha256(readFileSync(got.files['model.safetensors'].path)), sha256(WEIGHTS));
  assert.ok(
    proxy.seen.some((s) => s.startsWith(`HEAD ${hub.endpoint}/${REPO}/resolve/main/config.json`)),
    proxy.seen.join('\n'),
  );
  assert.ok(
    proxy.seen.some((s) => s.startsWith(`GET ${hub.cdn}/blobs/`)),
    'the CDN through the proxy too',
  );
  proxy.seen.length = 0;
  await ensureRepoFiles(REPO, 'main', FILES, {
    env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
    endpoint: hub.endpoint,
    cacheDir: join(tmp, 'c2'),
    allowDownload: true,
  });
  assert.deepEqual(proxy.seen, []);
});

let openssl = false;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
  openssl = true;
} catch {
  /* skipped below */
}

test(
  'HTTPS_PROXY: a CONNECT tunnel carries TLS to an https hub and its https CDN',
  { skip: !openssl && 'needs openssl to make a test certificate' },
  async () => {
    const key = join(tmp, 'key.pem');
    const cert = join(tmp, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const tlsHub = await FakeHub.start({ [REPO]: tinyRepo() }, { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') });
    try {
      proxy.seen.length = 0;
      const cacheDir = join(tmp, 'c3');
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'downloadChild.ts'), tlsHub.endpoint, cacheDir, REPO], {
        env: { PATH: process.env.PATH, HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: cert },
        stdio: 'pipe',
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0, stderr);
      const hubPort = new URL(tlsHub.endpoint).port;
      const cdnPort = new URL(tlsHub.cdn).port;
      assert.ok(proxy.seen.includes(`CONNECT 127.0.0.1:${hubPort}`), proxy.seen.join('\n'));
      assert.ok(proxy.seen.includes(`CONNECT 127.0.0.1:${cdnPort}`), 'the CDN through a tunnel too');
      assert.ok(
        proxy.seen.every((s) => s.startsWith('CONNECT')),
        'nothing in clear text',
      );
      assert.ok(tlsHub.count('cdn') === 1 && tlsHub.count('hub') === 3);
      const blob = join(cacheDir, repoFolderName(REPO), 'blobs', sha256(WEIGHTS));
      assert.equal(sha256(readFileSync(blob)), sha256(WEIGHTS));
    } finally {
      await tlsHub.close();
    }
  },
);

test('anyad weights get: SIGTERM mid-download exits 130 and keeps the partial file for the next run', async () => {
  hub.behaviour = { slow: { chunk: 32 * 1024, pauseMs: 20 } };
  const cacheDir = join(tmp, 'c4');
  const partial = join(cacheDir, repoFolderName(REPO), 'blobs', `${sha256(WEIGHTS)}.incomplete`);
  try {
    const cli = join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'weights', 'get', 'dinov2-small', '--endpoint', hub.endpoint], {
      env: { PATH: process.env.PATH, HF_HUB_CACHE: cacheDir, HF_HOME: join(tmp, 'home') },
      stdio: 'pipe',
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    // One SIGTERM (a second one would kill the process outright, as a second Ctrl-C should).
    let sent = false;
    hub.onCdnBytes = (n) => {
      if (!sent && n >= 128 * 1024 && existsSync(partial) && statSync(partial).size > 0) {
        sent = true;
        child.kill('SIGTERM');
      }
    };
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /cancelled .*resumes/);
    assert.ok(statSync(partial).size > 0);
    assert.ok(!existsSync(partial.replace(/\.incomplete$/, '')));
  } finally {
    hub.behaviour = {};
    hub.onCdnBytes = undefined;
  }
});
