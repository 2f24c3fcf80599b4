/**
 * The fuzzer (scripts/fuzz.ts) at 2,000 cases per parser: no untyped exception, no hang. A
 * second run plants a never-ending case to show the harness finds and names hangs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnMeasured, ROOT } from './harness';

const FUZZ = join(ROOT, 'scripts', 'fuzz.ts');

interface Report {
  parser: string;
  cases: number;
  untyped: number;
  hangs: number;
}

async function fuzz(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = await spawnMeasured(process.execPath, ['--import', 'tsx', FUZZ, ...args], { timeoutMs: 90_000, env });
  assert.equal(r.timedOut, false, `fuzz timed out:\n${r.stdout}`);
  const last = r.stdout.trim().split('\n').pop()!;
  return { ...r, reports: (JSON.parse(last) as { reports: Report[] }).reports };
}

test('fuzz: 2,000 cases each of the NIfTI, safetensors, config and webview parsers — 0 untyped exceptions, 0 hangs', async (t) => {
  const r = await fuzz(['--cases', '2000']);
  t.diagnostic(
    r.stdout
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'))
      .join('\n'),
  );
  assert.deepEqual(
    r.reports.map((x) => x.parser),
    ['nifti', 'safetensors', 'config', 'webview'],
  );
  for (const x of r.reports) {
    assert.equal(x.cases, 2000);
    assert.equal(x.untyped, 0, `${x.parser}: untyped exceptions\n${r.stdout}`);
    assert.equal(x.hangs, 0, `${x.parser}: hangs\n${r.stdout}`);
  }
  assert.equal(r.code, 0);
});

test('fuzz: a case that never ends is reported as a hang by its number, and the run goes on', async () => {
  const r = await fuzz(['--cases', '300', '--parsers', 'webview', '--case-limit-ms', '500'], {
    ...process.env,
    ANYAD_FUZZ_SELFTEST_HANG: 'webview:123',
  });
  assert.equal(r.code, 1);
  assert.equal(r.reports[0].hangs, 1);
  assert.match(r.stdout, /case 123: hang or crash/);
});
