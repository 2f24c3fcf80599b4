/**
 * Issue #15's fault cases, each run by harness.ts in its own process under a wall-time and a
 * peak-RSS bound (a hang is a timeout, an unbounded read a memory overrun; no wall-clock
 * asserts on the work). The two training cases are in hardening-train.test.ts so the runner
 * can run them beside these.
 */
import { test } from 'node:test';
import { runCase } from './harness';

// Start-up of a case process (tsx) is ≈ 0.5–1 s and ≈ 90 MiB; the bounds leave room for a
// loaded machine but not for a hang (minutes) or an unbounded read (GBs).
const QUICK = { timeoutMs: 30_000, maxRssMB: 400 };

for (const [name, what] of [
  ['fifo', 'a FIFO (or a symlink to one) as a case file, config, weights: refused at once, CLI one line'],
  ['symlink-loops', 'symlink loops: ELOOP in words; discovery of a folder with loops ends'],
  ['dev-zero', '/dev/zero and /dev/urandom as weights, image, config, bundle head: refused before reading'],
  [
    'cancel-long-read',
    'a Cancel stops hashing a 2 GiB model and reading 1.5 GiB of weights within a chunk; anyad train exits 130 on SIGTERM while reading 3.5 GiB of weights',
  ],
  ['pathological-globs', 'a 21-star pattern against a 4000-character name is linear; complexity caps are ConfigErrors'],
  [
    'disk-full',
    'disk full (1 MiB tmpfs or injected ENOSPC), read-only, folders under /proc, folder-for-file, long and non-UTF-8 names: one-line errors, nothing partial left',
  ],
  ['temp-files', 'a symlink planted at the temp name is not followed; modes; orphan cleanup; unique temp names'],
  ['manifest-tampering', 'edited thresholds, decoderDepth 1e9, resize 1e5, NaN head: refused with clear messages; old manifests warn'],
  ['huge-config', 'a 50 MB anyad.json is refused by size; absurd steps/batch/resize are ConfigErrors'],
  ['webview-host-work', 'a 4096-point radius-64 stroke is refused by cost; a broken annotation opens the image read-only with a notice'],
] as const) {
  test(`hardening: ${name} — ${what}`, async (t) => {
    const r = await runCase(name, QUICK);
    t.diagnostic(
      `${name}: ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMB.toFixed(0)} MiB (bounds ${QUICK.timeoutMs / 1000} s, ${QUICK.maxRssMB} MiB)`,
    );
  });
}
