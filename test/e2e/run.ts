/**
 * End-to-end test of the packaged extension in a real VS Code (code-server 4.100.3, web)
 * driven by Debian's Chromium through playwright-core. Run `scripts/install-e2e-deps.sh`
 * once, then `npm run test:e2e` (packages the .vsix first).
 *
 * Creates a temporary phantom workspace and fresh user-data/extensions folders, installs
 * the .vsix, runs the steps of steps.ts, screenshots each into test-artifacts/e2e/, and
 * stops every process it started, on failure and on SIGINT/SIGTERM too.
 * Env: ANYAD_E2E_DIR (code-server cache, default .e2e), ANYAD_E2E_CHROMIUM (default
 * /usr/bin/chromium), ANYAD_E2E_KEEP=1 keeps the temporary folder.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { inspect } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, CodeServer, MemorySampler, codeServerCli, freePort, type CodeServerDirs, WORKBENCH_SETTINGS } from './harness';
import { STEPS, type StepContext } from './steps';
import { Workbench } from './workbench';

const ROOT = resolve(__dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'e2e');
const CODE_SERVER = join(process.env.ANYAD_E2E_DIR ?? join(ROOT, '.e2e'), 'code-server', 'node_modules', '.bin', 'code-server');
const CHROMIUM = process.env.ANYAD_E2E_CHROMIUM ?? '/usr/bin/chromium';
const COHORT = { cases: 3, size: '96x96x64', seed: 3 };
/** Whole-run watchdog: a hung browser or server must not hang CI. */
const RUN_TIMEOUT_MS = 10 * 60_000;
/** Settings that keep first-run UI (welcome page, tips, trust, update checks) out of the way. */

let server: CodeServer | undefined;
let browser: Browser | undefined;
let tmp: string | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  // Browser first (it holds the server's sockets), then the server's whole group, then its files.
  cleaning ??= (async () => {
    await browser?.close().catch((e) => console.error(`e2e: closing the browser: ${(e as Error).message}`));
    await server?.stop().catch((e) => console.error(`e2e: stopping code-server: ${(e as Error).message}`));
    if (tmp && process.env.ANYAD_E2E_KEEP !== '1') {
      try {
        rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
      } catch (e) {
        console.error(`e2e: removing ${tmp}: ${(e as Error).message}`);
      }
    }
  })();
  return cleaning;
}

function prerequisites(vsix: string): void {
  const missing: string[] = [];
  if (!existsSync(CODE_SERVER)) missing.push(`code-server (${CODE_SERVER}): run scripts/install-e2e-deps.sh`);
  if (!existsSync(CHROMIUM)) missing.push(`Chromium (${CHROMIUM}): run scripts/install-e2e-deps.sh`);
  if (!existsSync(vsix)) missing.push(`${relative(ROOT, vsix)}: run npm run package`);
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) missing.push('dist/cli.js: run npm run build');
  if (missing.length) throw new Error(`missing:\n  ${missing.join('\n  ')}`);
}

/** A phantom cohort in a fresh folder, written by the project's own CLI (it also writes anyad.json). */
function makeWorkspace(dir: string): string {
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'dist', 'cli.js'),
      'phantom',
      '--out',
      dir,
      '--cases',
      String(COHORT.cases),
      '--size',
      COHORT.size,
      '--seed',
      String(COHORT.seed),
      '--workers',
      '0',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`anyad phantom failed:\n${r.stdout}${r.stderr}`);
  const caseDir = readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, `${n}_flair.nii.gz`)))
    .sort()[0];
  if (!caseDir) throw new Error(`anyad phantom wrote no <case>/<case>_flair.nii.gz under ${dir}`);
  return `${caseDir}/${caseDir}_flair.nii.gz`;
}

function stepFileName(index: number, name: string): string {
  return `${String(index + 1).padStart(2, '0')}-${name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}`;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  const vsix = join(ROOT, `${manifest.name}-linux-x64-${manifest.version}.vsix`);
  prerequisites(vsix);

  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'anyad-e2e-'));
  const workspace = join(tmp, 'workspace');
  const dirs: CodeServerDirs = {
    bin: CODE_SERVER,
    userData: join(tmp, 'user-data'),
    extensions: join(tmp, 'extensions'),
    config: join(tmp, 'config.yaml'),
  };
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  writeFileSync(join(dirs.userData, 'User', 'settings.json'), JSON.stringify(WORKBENCH_SETTINGS, null, 2));
  writeFileSync(dirs.config, 'auth: none\ncert: false\n');

  const memory = new MemorySampler();
  memory.start();
  const flairFile = makeWorkspace(workspace);
  const installOut = codeServerCli(dirs, ['--install-extension', vsix], 120_000);
  if (!/successfully installed/i.test(installOut))
    throw new Error(`installing ${relative(ROOT, vsix)} did not report success:\n${installOut}`);
  console.log(`e2e: installed ${relative(ROOT, vsix)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  const port = await freePort();
  server = CodeServer.start(dirs, port, workspace, join(ARTIFACTS, 'code-server.log'));
  await server.waitHealthy(60_000);
  console.log(`e2e: code-server ${server.url} healthy (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  // Our signal handlers close the browser in order; Playwright's own would race them.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  const consoleLog = join(ARTIFACTS, 'browser-console.log');
  page.on('console', (m) => appendFileSync(consoleLog, `[${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => appendFileSync(consoleLog, `[pageerror] ${e.message}\n`));
  await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`, { timeout: 60_000 });

  const ctx: StepContext = {
    wb: new Workbench(page, dirs.userData),
    workspace,
    cases: COHORT.cases,
    flairFile,
    extensionsDir: dirs.extensions,
  };
  let passed = 0;
  let failed = 0;
  let gateFailed: string | undefined;
  for (const [i, step] of STEPS.entries()) {
    const label = `${i + 1}/${STEPS.length} ${step.name}`;
    if (gateFailed) {
      failed++;
      console.log(`not run  ${label} (needs: ${gateFailed})`);
      continue;
    }
    const ts = Date.now();
    let error: unknown;
    try {
      await step.run(ctx);
    } catch (e) {
      error = e;
    }
    const secs = ((Date.now() - ts) / 1000).toFixed(1);
    const shot = join(ARTIFACTS, `${stepFileName(i, step.name)}${error ? '-FAILED' : ''}.png`);
    await page.screenshot({ path: shot, timeout: 15_000 }).catch((e) => console.log(`    (no screenshot: ${(e as Error).message})`));
    if (error) {
      failed++;
      console.log(
        `FAIL     ${label} (${secs} s)\n    ${(error instanceof Error ? (error.stack ?? error.message) : inspect(error))
          .split('\n')
          .join('\n    ')}`,
      );
      if (step.gate) gateFailed = step.name;
    } else {
      passed++;
      console.log(`ok       ${label} (${secs} s)`);
    }
  }
  writeFileSync(join(ARTIFACTS, 'anyad-output.log'), ctx.wb.outputLog());
  await cleanup();
  memory.stop();
  console.log(
    `e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s, peak memory (PSS of this process tree) ${(memory.peakKiB / 1048576).toFixed(2)} GiB; artifacts in ${relative(ROOT, ARTIFACTS)}/`,
  );
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`e2e: ${sig}, stopping code-server and the browser`);
    void cleanup().finally(() => process.exit(130));
  });
}
// If anything bypasses cleanup (an uncaught error on the way out), never leave code-server behind.
process.on('exit', () => server?.killNow());

const watchdog = setTimeout(() => {
  console.error(`e2e: run exceeded ${RUN_TIMEOUT_MS / 1000} s, aborting`);
  void cleanup().finally(() => process.exit(1));
}, RUN_TIMEOUT_MS);

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exitCode = code;
  },
  async (e) => {
    clearTimeout(watchdog);
    console.error(`e2e: setup failed: ${(e as Error)?.stack ?? e}`);
    await cleanup();
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  },
);
