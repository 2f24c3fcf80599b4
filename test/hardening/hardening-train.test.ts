/**
 * Issue #15's training cases (see hardening.test.ts), each in its own bounded process: a kill
 * during validation resumes to the same selection as an uninterrupted run; a second training
 * into one output folder is refused.
 */
import { test } from 'node:test';
import { runCase } from './harness';

test('hardening: kill-during-evaluation — SIGKILL while validating, resume: evaluations, losses and selection equal an uninterrupted run', async (t) => {
  const bounds = { timeoutMs: 110_000, maxRssMB: 1200 }; // ≈ 30 s alone, 70 s on a loaded shared machine
  const r = await runCase('kill-during-evaluation', bounds);
  t.diagnostic(
    `${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMB.toFixed(0)} MiB (bounds ${bounds.timeoutMs / 1000} s, ${bounds.maxRssMB} MiB)`,
  );
});

test('hardening: concurrent-trainings — a second training into the same output folder is refused naming the first; a stale lock is taken over', async (t) => {
  const bounds = { timeoutMs: 40_000, maxRssMB: 800 };
  const r = await runCase('concurrent-trainings', bounds);
  t.diagnostic(
    `${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMB.toFixed(0)} MiB (bounds ${bounds.timeoutMs / 1000} s, ${bounds.maxRssMB} MiB)`,
  );
});
