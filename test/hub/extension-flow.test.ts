/**
 * The extension's consent/download flow (src/extension/weightsFlow.ts) with the real CLI in
 * child processes (as the extension runs it) against the loopback hub: 'never' refuses and
 * names the command, 'ask' shows the size and asks once per model, a yes downloads with
 * bytes/rate/ETA progress, Cancel sends SIGTERM and the CLI keeps the partial file; a cached
 * model needs no question and no child process. Also the anyad.downloads setting in package.json.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorkspaceConfig } from '../../src/engine/config';
import { findCachedFile, repoFolderName } from '../../src/engine/hub/cache';
import {
  type DownloadSetting,
  type FlowResult,
  type WeightsUi,
  ensureEncoderWeights,
  ensureHubWeights,
} from '../../src/extension/weightsFlow';
import { FakeHub, sha256 } from './fakeHub';
import { WEIGHTS, tinyRepo } from './hubHelpers';

const root = join(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'anyad-ext-weights-'));
const configPath = join(tmp, 'anyad.json');
let hub: FakeHub;

before(async () => {
  hub = await FakeHub.start({ 'facebook/dinov2-small': tinyRepo(), 'facebook/dinov2-with-registers-small': tinyRepo() });
  mkdirSync(join(tmp, 'data'));
  writeFileSync(configPath, JSON.stringify({ data: { root: 'data' }, model: { preset: 'tiny-cpu', encoder: 'dinov2-small' } }));
});
after(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** What the extension would do, recorded: a child-process CLI, questions answered by `answer`, progress kept. */
function recordingUi(setting: DownloadSetting, env: Record<string, string>, answer = true, cancelAfterReports?: number) {
  const rec = {
    asked: [] as string[],
    errors: [] as string[],
    infos: [] as string[],
    reports: [] as Array<[string, number]>,
    cliRuns: [] as string[][],
  };
  const ui: WeightsUi = {
    setting: () => setting,
    runCli(args, opts): Promise<FlowResult> {
      rec.cliRuns.push(args);
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args], {
          env: { PATH: process.env.PATH, ...env },
          stdio: 'pipe',
        });
        let stdout = '';
        let stderr = '';
        let partial = '';
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          partial += c.toString();
          const lines = partial.split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) if (l) opts.onStdoutLine?.(l);
        });
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        (opts.token as { onCancel?: (f: () => void) => void } | undefined)?.onCancel?.(() => child.kill('SIGTERM')); // as cliRunner.ts does
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    },
    ask: async (m) => {
      rec.asked.push(m);
      return answer;
    },
    error: (m) => {
      rec.errors.push(m);
    },
    info: (m) => {
      rec.infos.push(m);
    },
    log: () => {},
    async withProgress(_title, task) {
      let cancel: (() => void) | undefined;
      const token = {
        onCancel: (f: () => void) => {
          cancel = f;
        },
      };
      return task((message, increment) => {
        rec.reports.push([message, increment]);
        if (cancelAfterReports !== undefined && rec.reports.length === cancelAfterReports) cancel?.(); // the user presses Cancel
      }, token);
    },
  };
  return { ui, rec };
}

const envFor = (name: string) => ({ HF_HUB_CACHE: join(tmp, name), HF_HOME: join(tmp, 'home'), HF_ENDPOINT: hub.endpoint });

test('package.json: anyad.downloads is ask (default) | allow | never', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const s = pkg.contributes.configuration.properties['anyad.downloads'];
  assert.deepEqual(s.enum, ['ask', 'allow', 'never']);
  assert.equal(s.default, 'ask');
});

test('never: no request, no child process; the message names the command to run by hand', async () => {
  const env = envFor('never');
  const { ui, rec } = recordingUi('never', env);
  hub.requests.length = 0;
  assert.equal(await ensureEncoderWeights(ui, loadWorkspaceConfig(configPath), configPath, env), false);
  assert.match(rec.errors[0], /anyad weights get dinov2-small/);
  assert.deepEqual(rec.cliRuns, []);
  assert.equal(hub.count(), 0);
});

test('ask: the question shows the size; no = nothing downloaded; yes = downloaded with progress, and not asked again', async () => {
  const env = envFor('ask');
  const no = recordingUi('ask', env, false);
  hub.requests.length = 0;
  assert.equal(await ensureEncoderWeights(no.ui, loadWorkspaceConfig(configPath), configPath, env), false);
  assert.equal(no.rec.asked.length, 1);
  assert.match(no.rec.asked[0], /facebook\/dinov2-small \(2\.4 MB, Apache-2\.0\)/);
  assert.equal(hub.count('cdn'), 0, 'only HEADs before consent');

  const yes = recordingUi('ask', env, true);
  assert.equal(await ensureEncoderWeights(yes.ui, loadWorkspaceConfig(configPath), configPath, env), true);
  assert.equal(yes.rec.asked.length, 1);
  const got = findCachedFile(env.HF_HUB_CACHE, 'facebook/dinov2-small', 'main', 'model.safetensors');
  assert.equal(sha256(readFileSync(got!.path)), sha256(WEIGHTS));
  const last = yes.rec.reports.at(-1)!;
  assert.match(last[0], /model\.safetensors: 2\.4 MB of 2\.4 MB · .*\/s/);
  const sum = yes.rec.reports.reduce((a, [, inc]) => a + inc, 0);
  assert.ok(sum >= 99 && sum <= 100, `progress adds up to 100 % (${sum})`);

  // Cached now: no question, no child process. Wiped: the same model is not asked about again this session.
  const cached = recordingUi('ask', env, false);
  assert.equal(await ensureEncoderWeights(cached.ui, loadWorkspaceConfig(configPath), configPath, env), true);
  assert.deepEqual(cached.rec.cliRuns, []);
  rmSync(env.HF_HUB_CACHE, { recursive: true, force: true });
  const again = recordingUi('ask', env, false);
  assert.equal(await ensureEncoderWeights(again.ui, loadWorkspaceConfig(configPath), configPath, env), true);
  assert.deepEqual(again.rec.asked, []);
});

test('Cancel during the download: SIGTERM to the CLI, a message, the partial file kept for resuming', async () => {
  const env = envFor('cancel');
  hub.behaviour = { slow: { chunk: 32 * 1024, pauseMs: 20 } };
  try {
    const { ui, rec } = recordingUi('allow', env, true, 4);
    assert.equal(await ensureEncoderWeights(ui, loadWorkspaceConfig(configPath), configPath, env), false);
    assert.deepEqual(rec.asked, [], 'allow does not ask');
    assert.match(rec.infos[0], /cancelled.*resumes/);
    const blobs = join(env.HF_HUB_CACHE, repoFolderName('facebook/dinov2-small'), 'blobs', `${sha256(WEIGHTS)}`);
    assert.ok(existsSync(`${blobs}.incomplete`), 'partial file kept');
    assert.ok(!existsSync(blobs), 'no blob');
  } finally {
    hub.behaviour = {};
  }
});

test('a named encoder (AnyAD: Get pretrained encoder weights): the same question with the size, then `weights get NAME` with progress', async () => {
  const env = envFor('named');
  const target = {
    name: 'dinov2-with-registers-small',
    repo: 'facebook/dinov2-with-registers-small',
    revision: 'main',
    target: ['dinov2-with-registers-small'],
    then: 'try again',
  };
  const never = recordingUi('never', env);
  assert.equal(await ensureHubWeights(never.ui, target, env), false);
  assert.match(never.rec.errors[0], /anyad weights get dinov2-with-registers-small`.*then try again/);
  const { ui, rec } = recordingUi('ask', env, true);
  assert.equal(await ensureHubWeights(ui, target, env), true);
  assert.match(rec.asked[0], /facebook\/dinov2-with-registers-small \(2\.4 MB, Apache-2\.0\)/);
  assert.deepEqual(rec.cliRuns, [
    ['weights', 'get', 'dinov2-with-registers-small', '--dry-run', '--json'],
    ['weights', 'get', 'dinov2-with-registers-small', '--progress-json'],
  ]);
  const got = findCachedFile(env.HF_HUB_CACHE, 'facebook/dinov2-with-registers-small', 'main', 'model.safetensors');
  assert.equal(sha256(readFileSync(got!.path)), sha256(WEIGHTS));
});
