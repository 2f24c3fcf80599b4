/**
 * Extension benchmark (not a test): the packaged extension in a real VS Code (code-server +
 * Chromium, the E2E harness of test/e2e), on a phantom cohort of BraTS-sized volumes.
 *
 *   1. open a FLAIR volume in the viewer; Train on workspace (tiny settings) so Detect uses a
 *      freshly written (symbolic-batch) bundle;
 *   2. Detect on a slice twice and on the whole volume twice through the palette; the second of
 *      each is the warm figure: the extension's own "Detect timing" log line (command start to
 *      map handed to the viewer, engine process round trip included);
 *   3. the same detections with the CLI in this run (`anyad detect`, a fresh process each:
 *      its wall time, process start to exit) — the engine figures;
 *   4. the host's longest synchronous block during open, Detect and Train (the extension's
 *      probe, from its log lines).
 *
 * The last line is one JSON object: {detect_slice_warm_ms, detect_slice_engine_ms, warm_ratio,
 * detect_volume_ms, detect_volume_engine_ms, volume_ratio, host_max_block_ms, …}.
 *
 *   npm run bench:extension   (packages the .vsix first; scripts/install-e2e-deps.sh once)
 *   env: ANYAD_BENCH_SIZE (default 240x240x155), ANYAD_E2E_DIR, ANYAD_E2E_CHROMIUM
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { CodeServer, codeServerCli, freePort, poll, type CodeServerDirs, WORKBENCH_SETTINGS } from '../test/e2e/harness';
import { Workbench } from '../test/e2e/workbench';

const ROOT = resolve(__dirname, '..');
const CODE_SERVER = join(process.env.ANYAD_E2E_DIR ?? join(ROOT, '.e2e'), 'code-server', 'node_modules', '.bin', 'code-server');
const CHROMIUM = process.env.ANYAD_E2E_CHROMIUM ?? '/usr/bin/chromium';
const SIZE = process.env.ANYAD_BENCH_SIZE ?? '240x240x155';
const CLI = join(ROOT, 'dist', 'cli.js');
const SETTINGS = { ...WORKBENCH_SETTINGS, 'anyad.executionProvider': 'cpu' };
const TINY_TRAINING = {
  model: { preset: 'tiny-cpu' },
  train: { steps: 20, batchSize: 8, evalEvery: 0, provider: 'cpu' },
  output: { dir: 'anyad-out' },
};

let server: CodeServer | undefined;
let browser: Browser | undefined;

const log = (s: string) => process.stdout.write(`${s}\n`);

/** Wall time of one `anyad detect` process (what a user running the CLI waits for). */
function cliDetect(args: string[]): { ms: number; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'detect', ...args, '--json', '--progress', '--provider', 'cpu'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`anyad detect failed:\n${r.stderr}`);
  return { ms, stderr: r.stderr };
}

/** Runs Detect from the palette on `what` and returns the extension's timing line's total. */
async function detectFromPalette(wb: Workbench, what: RegExp, mode: 'slice' | 'volume'): Promise<{ ms: number; text: string }> {
  const before = wb.outputLog().length;
  // The palette, then Detect's own quick pick (slice or volume) in the same widget.
  const page = wb.page;
  const input = page.locator('.quick-input-widget input');
  // The palette counts as open once the command is typed into it: right after a training run
  // the report preview can take the focus and close a palette that had just appeared.
  const typed = () =>
    input.fill('>AnyAD: Detect anomalies', { timeout: 2000 }).then(
      () => true,
      () => false,
    );
  await poll(
    'the command palette',
    30_000,
    async () => {
      if ((await input.isVisible()) && (await typed())) return true;
      // A focused webview swallows F1: give the focus to the active tab's title first.
      await page
        .locator('.tabs-container .tab.active')
        .first()
        .click({ timeout: 3000 })
        .catch(() => undefined);
      await page.keyboard.press('F1');
      if (
        (await input.waitFor({ state: 'visible', timeout: 3000 }).then(
          () => true,
          () => false,
        )) &&
        (await typed())
      )
        return true;
      await page
        .locator('.command-center-center')
        .first()
        .click({ timeout: 2000 })
        .catch(() => undefined);
      return (
        (await input.waitFor({ state: 'visible', timeout: 2000 }).then(
          () => true,
          () => false,
        )) && (await typed())
      );
    },
    500,
  );
  const command = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'AnyAD: Detect anomalies' }).first();
  await command.waitFor({ state: 'visible', timeout: 15_000 });
  await command.click();
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: what }).first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  await row.click();
  const text = await poll(
    `Detect (${mode}) to log its timing`,
    300_000,
    () => {
      const t = wb.outputLog().slice(before);
      if (/Detect failed/.test(t)) throw new Error(t);
      return new RegExp(`^Detect timing: ${mode} \\d+ ms`, 'm').test(t) && /^Host: longest synchronous block during Detect/m.test(t)
        ? t
        : false;
    },
    100,
  );
  return { ms: Number(new RegExp(`^Detect timing: ${mode} (\\d+) ms`, 'm').exec(text)![1]), text };
}

function blockOf(text: string, phase: string): number {
  const all = [...text.matchAll(new RegExp(`^Host: longest synchronous block during ${phase} ([\\d.]+) ms`, 'gm'))].map((m) =>
    Number(m[1]),
  );
  if (all.length === 0) throw new Error(`no host-block line for ${phase} in the AnyAD log`);
  return Math.max(...all);
}

async function main(): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  const vsix = join(ROOT, `${pkg.name}-linux-x64-${pkg.version}.vsix`);
  for (const [what, p] of [
    ['code-server (scripts/install-e2e-deps.sh)', CODE_SERVER],
    ['Chromium', CHROMIUM],
    ['the .vsix (npm run package)', vsix],
    ['dist/cli.js', CLI],
  ]) {
    if (!existsSync(p)) throw new Error(`missing ${what}: ${p}`);
  }
  log(`extension bench: ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}, phantom volumes ${SIZE}`);
  const tmp = mkdtempSync(join(tmpdir(), 'anyad-ext-bench-'));
  try {
    const workspace = join(tmp, 'workspace');
    const ph = spawnSync(
      process.execPath,
      [CLI, 'phantom', '--out', workspace, '--cases', '2', '--size', SIZE, '--seed', '3', '--workers', '0'],
      { encoding: 'utf8' },
    );
    if (ph.status !== 0) throw new Error(`anyad phantom failed: ${ph.stderr}`);
    const caseId = readdirSync(workspace)
      .filter((n) => existsSync(join(workspace, n, `${n}_flair.nii.gz`)))
      .sort()[0];
    const files = ['flair', 't1', 't2'].map((s) => join(workspace, caseId, `${caseId}_${s}.nii.gz`));
    const configPath = join(workspace, 'anyad.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), ...TINY_TRAINING }, null, 2));

    const dirs: CodeServerDirs = {
      bin: CODE_SERVER,
      userData: join(tmp, 'user-data'),
      extensions: join(tmp, 'extensions'),
      config: join(tmp, 'config.yaml'),
    };
    mkdirSync(join(dirs.userData, 'User'), { recursive: true });
    writeFileSync(join(dirs.userData, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));
    writeFileSync(dirs.config, 'auth: none\ncert: false\n');
    codeServerCli(dirs, ['--install-extension', vsix], 120_000);
    const port = await freePort();
    server = CodeServer.start(dirs, port, workspace, join(tmp, 'code-server.log'));
    await server.waitHealthy(60_000);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`, { timeout: 60_000 });
    const wb = new Workbench(page, dirs.userData);
    await wb.waitLoaded(90_000);
    await wb.waitForCommand('AnyAD: Detect anomalies', 90_000);
    await poll('"AnyAD activated"', 60_000, () => wb.outputLog().includes('AnyAD activated'));

    // Train first: Detect then uses the newest workspace bundle, written with a symbolic batch.
    const t0 = performance.now();
    await wb.runCommand('AnyAD: Train on workspace');
    await poll(
      'Train to finish (or fail)',
      600_000,
      () => {
        const t = wb.outputLog();
        if (/Train on workspace failed/.test(t)) throw new Error(t);
        return /Training finished/.test(t) && /Host: longest synchronous block during Train/.test(t);
      },
      500,
    );
    log(`train (tiny, through the extension): ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const flairName = `${caseId}_flair.nii.gz`;
    await wb.quickOpen(flairName);
    await poll(
      'the viewer to report its open phase',
      60_000,
      () => /Host: longest synchronous block during open/.test(wb.outputLog()),
      250,
    );

    const slice1 = await detectFromPalette(wb, /Current slice/, 'slice');
    const slice2 = await detectFromPalette(wb, /Current slice/, 'slice');
    const vol1 = await detectFromPalette(wb, /Whole volume/, 'volume');
    const vol2 = await detectFromPalette(wb, /Whole volume/, 'volume');
    const model = /^Detect: model (.+) \(\w+\), slice (\d+), sequences (\S+)$/m.exec(slice2.text);
    if (!model) throw new Error(`no Detect model line:\n${slice2.text}`);
    const [, bundle, z, seqs] = model;
    const modalities = seqs.split('+').join(',');
    const fileArgs = ['--flair', files[0], '--t1', files[1], '--t2', files[2], '--model', bundle, '--modalities', modalities];
    const cliSlice = [cliDetect([...fileArgs, '--slice', z]), cliDetect([...fileArgs, '--slice', z])];
    const cliVolume = [cliDetect([...fileArgs, '--all']), cliDetect([...fileArgs, '--all'])];
    const all = wb.outputLog();
    const blocks = { open: blockOf(all, 'open'), detect: blockOf(all, 'Detect'), train: blockOf(all, 'Train') };
    const median2 = (a: number, b: number) => (a + b) / 2;
    const sliceEngine = median2(cliSlice[0].ms, cliSlice[1].ms);
    const volumeEngine = median2(cliVolume[0].ms, cliVolume[1].ms);
    log(
      `Detect slice ${z} (${seqs}): first ${slice1.ms} ms, warm ${slice2.ms} ms; CLI ${cliSlice.map((c) => c.ms.toFixed(0)).join(', ')} ms`,
    );
    log(
      `Detect volume: first ${vol1.ms} ms, warm ${vol2.ms} ms; CLI ${cliVolume.map((c) => c.ms.toFixed(0)).join(', ')} ms (${/timings: .*/.exec(cliVolume[1].stderr)?.[0] ?? ''})`,
    );
    log(`host's longest synchronous block: open ${blocks.open} ms, Detect ${blocks.detect} ms, Train ${blocks.train} ms`);
    const result = {
      detect_slice_warm_ms: slice2.ms,
      detect_slice_engine_ms: Math.round(sliceEngine),
      warm_ratio: Number((slice2.ms / sliceEngine).toFixed(3)),
      detect_volume_ms: vol2.ms,
      detect_volume_engine_ms: Math.round(volumeEngine),
      volume_ratio: Number((vol2.ms / volumeEngine).toFixed(3)),
      host_max_block_ms: Math.max(blocks.open, blocks.detect, blocks.train),
      detect_slice_first_ms: slice1.ms,
      detect_volume_first_ms: vol1.ms,
      host_block_ms: blocks,
      volume: SIZE,
      cpus: cpus().length,
      load_average: loadavg()[0],
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void (async () => {
      await browser?.close().catch(() => undefined);
      await server?.stop().catch(() => undefined);
      process.exit(130);
    })();
  });
}
process.on('exit', () => server?.killNow());
main().catch(async (e) => {
  console.error(`extension bench failed: ${(e as Error)?.stack ?? e}`);
  await browser?.close().catch(() => undefined);
  await server?.stop().catch(() => undefined);
  process.exitCode = 1;
});
