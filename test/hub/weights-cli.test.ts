/**
 * End to end through the CLI, against the loopback hub serving the tiny HF-named DINOv2
 * fixture as facebook/dinov2-small: `weights get --dry-run` sizes, `train` refused without
 * consent, `weights get` downloads (progress on stderr), `weights list`, then `train` with
 * `"model": { "encoder": "dinov2-small" }` makes no request and its bundle and report name
 * the weights (hub id, commit) and their sha256. Also: the preset's checkpoint is used when
 * cached (no request) and otherwise the log says how to get it; HF_HUB_OFFLINE at the CLI.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkspaceConfig } from '../../src/engine/config';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { ensureRepoFiles } from '../../src/engine/hub/download';
import { loadBundle } from '../../src/engine/model/bundle';
import { phantomSliceRange, writePhantomCohort } from '../../src/engine/phantom';
import { resolveEncoder } from '../../src/engine/train/pipeline';
import { runCli } from '../helpers/cli';
import { FakeHub, sha256 } from './fakeHub';
import { COMMIT, CONFIG, WEIGHTS, tinyRepo } from './hubHelpers';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-weights-cli-'));
const cache = join(tmp, 'hf-cache');
const W_SHA = sha256(WEIGHTS);
let hub: FakeHub;

// The CLI reads the process environment: point it at a private cache, with no ambient hub or proxy settings.
for (const k of Object.keys(process.env)) if (/^(HF_|HUGGING|TRANSFORMERS_OFFLINE|https?_proxy|no_proxy)/i.test(k)) delete process.env[k];
process.env.HF_HOME = join(tmp, 'hf-home');
process.env.HF_HUB_CACHE = cache;

before(async () => {
  hub = await FakeHub.start({ 'facebook/dinov2-small': tinyRepo(), 'facebook/dinov2-with-registers-small': tinyRepo() });
});
after(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
  await releaseAllSessions();
});

const SIZE: [number, number, number] = [48, 48, 32];
const cohort = join(tmp, 'cohort');
const configPath = join(cohort, 'anyad.json');
const configJson = {
  data: { root: '.', slices: { axis: 'axial', ...phantomSliceRange(SIZE[2]) } },
  model: { preset: 'tiny-cpu', encoder: 'dinov2-small' },
  preprocess: { resize: 64, crop: 56 },
  output: { dir: join(tmp, 'out') },
  train: { steps: 2, batchSize: 2, evalEvery: 0, seed: 1, provider: 'cpu', threads: 1 },
};

test('weights get + train: the bundle and the report name the hub weights and their sha256', async () => {
  await writePhantomCohort(cohort, { cases: 4, seed: 5, size: SIZE, anomalousFraction: 0.5, workers: 0 });
  writeFileSync(configPath, JSON.stringify(configJson));

  // Sizes before consent: HEAD only, nothing written.
  const dry = await runCli(['weights', 'get', 'dinov2-small', '--endpoint', hub.endpoint, '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assert.equal(plan.needed, true);
  assert.equal(plan.repo, 'facebook/dinov2-small');
  assert.equal(plan.commit, COMMIT);
  assert.equal(plan.bytesToDownload, WEIGHTS.length + CONFIG.length);
  assert.deepEqual(
    hub.requests.map((r) => r.method),
    ['HEAD', 'HEAD'],
  );

  // Training without the weights and without consent: refused, one line naming the command.
  const refused = await runCli(['train', '--config', configPath]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /anyad train: error: .*anyad weights get dinov2-small/);
  assert.equal(hub.count('cdn'), 0);

  const got = await runCli(['weights', 'get', 'dinov2-small', '--endpoint', hub.endpoint]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(
    got.stdout,
    new RegExp(`facebook/dinov2-small@main \\(commit ${COMMIT}\\) downloaded to ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  );
  assert.match(got.stderr, /model\.safetensors {2}\d.* \/ 2\.4 MB \[#+\] .*\/s done/, 'progress lines with bytes, rate');

  const list = await runCli(['weights', 'list', '--json']);
  const listed = JSON.parse(list.stdout);
  assert.equal(listed.cacheDir, cache);
  assert.deepEqual(
    listed.models.map((m: { repo: string; commit: string; revisions: string[] }) => [m.repo, m.commit, m.revisions]),
    [['facebook/dinov2-small', COMMIT, ['main']]],
  );

  const requests = hub.count();
  const trained = await runCli(['train', '--config', configPath, '--progress-json']);
  assert.equal(trained.code, 0, trained.stderr);
  assert.equal(hub.count(), requests, 'training from the cache makes no request');
  const result = trained.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((m) => m.type === 'result');
  const manifest = loadBundle(result.bundleDir).manifest;
  const prov = manifest.encoder.provenance;
  assert.equal(prov.kind, 'pretrained');
  assert.equal(prov.sha256, W_SHA);
  assert.deepEqual(prov.hub, {
    repo: 'facebook/dinov2-small',
    revision: 'main',
    commit: COMMIT,
    file: 'model.safetensors',
    cachePath: join(cache, 'models--facebook--dinov2-small', 'snapshots', COMMIT, 'model.safetensors'),
  });
  assert.equal(manifest.warning, undefined, 'no random-init warning');
  const onDisk = JSON.parse(readFileSync(join(result.bundleDir, 'anyad.json'), 'utf8'));
  assert.equal(onDisk.encoder.provenance.sha256, W_SHA);
  const report = readFileSync(result.reportPath, 'utf8');
  assert.match(report, /facebook\/dinov2-small@/);
  assert.ok(report.includes(W_SHA), 'the report names the sha256');
  assert.doesNotMatch(report, /RANDOM-INIT/);
});

test('train --allow-download fetches what the config names (resolveEncoder with consent), then loads it', async () => {
  const config = parseWorkspaceConfig(
    { ...configJson, model: { preset: 'tiny-cpu', encoder: 'facebook/dinov2-with-registers-small@main' } },
    configPath,
  );
  const env = { HF_HUB_CACHE: join(tmp, 'cache-2') };
  await assert.rejects(resolveEncoder(config, { hub: { env, endpoint: hub.endpoint } }), /not in the Hugging Face cache/);
  const enc = await resolveEncoder(config, { hub: { env, endpoint: hub.endpoint, allowDownload: true } });
  assert.equal(enc.provenance.hub?.repo, 'facebook/dinov2-with-registers-small');
  assert.equal(enc.provenance.sha256, W_SHA);
  assert.equal(enc.config.embedDim, 64);
});

test("no model.encoder: the preset's checkpoint if cached (no request), else random init with a log line naming the command", async () => {
  const config = parseWorkspaceConfig({ ...configJson, model: { preset: 'cpu' } }, configPath);
  const logs: string[] = [];
  const env = { HF_HUB_CACHE: join(tmp, 'cache-3') };
  const random = await resolveEncoder(config, { hub: { env }, log: (m) => logs.push(m) });
  assert.equal(random.provenance.kind, 'random-init');
  assert.match(logs.join('\n'), /anyad weights get dinov2-with-registers-small/);
  await ensureRepoFiles('facebook/dinov2-with-registers-small', 'main', ['config.json', 'model.safetensors'], {
    env,
    endpoint: hub.endpoint,
    allowDownload: true,
  });
  const requests = hub.count();
  const cached = await resolveEncoder(config, { hub: { env, endpoint: 'http://127.0.0.1:9' } });
  assert.equal(hub.count(), requests);
  assert.equal(cached.provenance.kind, 'pretrained');
  assert.equal(cached.provenance.hub?.repo, 'facebook/dinov2-with-registers-small');
});

test('CLI: HF_HUB_OFFLINE=1 refuses to download with a one-line error; --progress-json emits JSON lines', async () => {
  process.env.HF_HUB_OFFLINE = '1';
  try {
    const r = await runCli(['weights', 'get', 'dinov2-base', '--endpoint', hub.endpoint]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^anyad weights: error: .*HF_HUB_OFFLINE/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  process.env.HF_HUB_CACHE = join(tmp, 'cache-4');
  try {
    const r = await runCli(['weights', 'get', 'facebook/dinov2-small', '--endpoint', hub.endpoint, '--progress-json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const progress = lines.filter((l) => l.type === 'progress' && l.file === 'model.safetensors');
    assert.ok(progress.length >= 2);
    assert.equal(progress.at(-1).bytes, WEIGHTS.length);
    assert.equal(progress.at(-1).done, true);
    assert.deepEqual(lines.at(-1), {
      type: 'result',
      name: 'facebook/dinov2-small',
      repo: 'facebook/dinov2-small',
      revision: 'main',
      commit: COMMIT,
      cacheDir: join(tmp, 'cache-4'),
      downloaded: true,
      files: {
        'config.json': join(tmp, 'cache-4', 'models--facebook--dinov2-small', 'snapshots', COMMIT, 'config.json'),
        'model.safetensors': join(tmp, 'cache-4', 'models--facebook--dinov2-small', 'snapshots', COMMIT, 'model.safetensors'),
      },
    });
  } finally {
    process.env.HF_HUB_CACHE = cache;
  }
});

test('anyad train --allow-download: downloads what model.encoder names (progress on stderr), then trains on it', async () => {
  const cfg2 = join(cohort, 'anyad-download.json');
  writeFileSync(cfg2, JSON.stringify({ ...configJson, output: { dir: join(tmp, 'out-2') } }));
  process.env.HF_HUB_CACHE = join(tmp, 'cache-5');
  process.env.HF_ENDPOINT = hub.endpoint;
  try {
    const r = await runCli(['train', '--config', cfg2, '--allow-download']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /model\.safetensors {2}2\.4 MB \/ 2\.4 MB \[#+\] .*done/);
    assert.match(r.stderr, /encoder: pretrained encoder facebook\/dinov2-small@/);
  } finally {
    process.env.HF_HUB_CACHE = cache;
    delete process.env.HF_ENDPOINT;
  }
});
