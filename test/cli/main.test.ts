/**
 * `anyad` itself: which stream each kind of output goes to and the exit codes (README, "Command
 * line"), through main()'s own output streams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli';

test('help goes to stdout: exit 0 when asked for, 2 when no command was given', async () => {
  const asked = await runCli(['--help']);
  assert.deepEqual([asked.code, asked.stderr], [0, '']);
  assert.match(asked.stdout, /^Usage: anyad <command> \[options\]/m);
  assert.match(asked.stdout, /^ {2}detect +score a slice/m, 'each command with its summary');
  const none = await runCli([]);
  assert.deepEqual([none.code, none.stdout, none.stderr], [2, asked.stdout, '']);
  const command = await runCli(['info', '--help']);
  assert.deepEqual([command.code, command.stderr], [0, '']);
  assert.match(command.stdout, /^Usage: anyad info FILE/m);
  assert.match(command.stdout, /^ {2}--volume VALUE +which volume of a 4-D file to summarise \(default: 0\)$/m);
});

test('errors go to stderr as one line: usage 2, a user error 1', async () => {
  const unknown = await runCli(['frobnicate']);
  assert.deepEqual(unknown, { code: 2, stdout: '', stderr: "anyad: unknown command 'frobnicate' (try anyad --help)\n" });
  const bad = await runCli(['info', 'x.nii', '--bogus']);
  assert.deepEqual(bad, {
    code: 1,
    stdout: '',
    stderr: "anyad info: error: unknown option --bogus for 'anyad info' (see anyad info --help)\n",
  });
  const missing = await runCli(['info']);
  assert.deepEqual([missing.code, missing.stdout], [1, '']);
  assert.equal(missing.stderr, "anyad info: error: 'anyad info' needs 1 argument(s); usage: anyad info FILE [--json] [--volume N]\n");
});
