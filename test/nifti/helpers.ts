/** Shared bits of the NIfTI tests: seeded randomness, temp dirs, error assertions. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { inspect } from 'node:util';
import { NiftiError } from '../../src/engine/errors';

import { mulberry32 as seededRandom } from '../helpers/random';
export { seededRandom };

/** A fresh temp dir, removed by the returned cleanup. */
export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `anyad-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `fn` must throw a NiftiError with `code` whose message names `file` (by base name). */
export function assertNiftiError(fn: () => unknown, code: string, file?: string): NiftiError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected NiftiError ${code}, but nothing was thrown`);
  assert.ok(caught instanceof NiftiError, `expected NiftiError ${code}, got ${caught instanceof Error ? caught.stack : inspect(caught)}`);
  assert.equal(caught.code, code, `wrong code; message: ${caught.message}`);
  if (file) assert.ok(caught.message.includes(basename(file)), `message does not name ${basename(file)}: ${caught.message}`);
  return caught;
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with the first offending index in the message. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= atol + rtol * Math.abs(expected[i]);
    if (!ok) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}
