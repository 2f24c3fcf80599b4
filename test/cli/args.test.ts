/**
 * The CLI's option parser: what each spelling of an argument list means and the one-line
 * errors (with their codes) for what it refuses. Written against the hand-written parser and
 * kept when parsing moved onto node:util.parseArgs, so the move changed none of this.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/engine/errors';
import { type CommandSpec, formatHelp, intOption, parseArgs, stringOption } from '../../src/cli/args';

const spec: CommandSpec = {
  name: 'probe',
  summary: 'a command for the parser tests',
  usage: 'anyad probe FILE [--model DIR] [--json]',
  options: {
    model: { type: 'string', description: 'model folder' },
    steps: { type: 'string', description: 'steps', default: '200' },
    json: { type: 'boolean', description: 'print JSON' },
    'dry-run': { type: 'boolean', description: 'say what would happen' },
  },
  positionals: [1, 2],
  run: () => 0,
};

function refuses(argv: string[], code: string, message: string): void {
  assert.throws(
    () => parseArgs(spec, argv),
    (e: unknown) => e instanceof ConfigError && e.code === code && e.message === message,
    `${argv.join(' ')} → ${code}: ${message}`,
  );
}

test('values: --key VALUE, --key=VALUE, flags, defaults; the last of a repeated option wins', () => {
  assert.deepEqual(parseArgs(spec, ['f', '--model', 'm']), {
    opts: { model: 'm', steps: '200' },
    positionals: ['f'],
    help: false,
  });
  assert.deepEqual(parseArgs(spec, ['--model=a=b', 'f', '--json', '--dry-run', '--steps', '3']).opts, {
    model: 'a=b',
    steps: '3',
    json: true,
    'dry-run': true,
  });
  assert.equal(parseArgs(spec, ['f', '--model=', '--json']).opts.model, '', 'an empty inline value is a value');
  assert.equal(parseArgs(spec, ['f', '--model', 'a', '--model', 'b']).opts.model, 'b');
});

test('a value may start with one dash; one starting with two only inline', () => {
  assert.equal(parseArgs(spec, ['f', '--steps', '-5']).opts.steps, '-5');
  assert.equal(parseArgs(spec, ['f', '--model', '-h']).opts.model, '-h');
  assert.equal(parseArgs(spec, ['f', '--model=--json']).opts.model, '--json');
  refuses(['f', '--model', '--json'], 'cli/missing-value', '--model needs a value');
  refuses(['f', '--model', '--'], 'cli/missing-value', '--model needs a value');
  refuses(['f', '--model'], 'cli/missing-value', '--model needs a value');
});

test('positionals: words with one dash and everything after -- are positionals', () => {
  assert.deepEqual(parseArgs(spec, ['-', '-x']).positionals, ['-', '-x']);
  assert.deepEqual(parseArgs(spec, ['-5']).positionals, ['-5']);
  assert.deepEqual(parseArgs(spec, ['-xy']).positionals, ['-xy']);
  assert.deepEqual(parseArgs(spec, ['--json', '--', '--model', '-h']), {
    opts: { steps: '200', json: true },
    positionals: ['--model', '-h'],
    help: false,
  });
});

test('--help and -h anywhere ask for help and skip the positional count, not the option checks', () => {
  assert.equal(parseArgs(spec, ['--help']).help, true);
  assert.equal(parseArgs(spec, ['a', 'b', 'c', '-h']).help, true);
  assert.equal(parseArgs(spec, ['f', '--', '-h']).help, false, 'after --, -h is a file name');
  refuses(['--help', '--bogus'], 'cli/unknown-option', "unknown option --bogus for 'anyad probe' (see anyad probe --help)");
});

test('refusals: unknown option, a flag with a value, too few or too many positionals', () => {
  refuses(['f', '--bogus'], 'cli/unknown-option', "unknown option --bogus for 'anyad probe' (see anyad probe --help)");
  refuses(['f', '--bogus=1'], 'cli/unknown-option', "unknown option --bogus for 'anyad probe' (see anyad probe --help)");
  refuses(['f', '--toString'], 'cli/unknown-option', "unknown option --toString for 'anyad probe' (see anyad probe --help)");
  refuses(['f', '--json=false'], 'cli/bad-option', '--json is a flag and takes no value');
  refuses([], 'cli/missing-argument', "'anyad probe' needs 1 argument(s); usage: anyad probe FILE [--model DIR] [--json]");
  refuses(['a', 'b', 'c'], 'cli/extra-argument', "unexpected argument 'c'; usage: anyad probe FILE [--model DIR] [--json]");
  // The first problem in argument order is the one reported.
  refuses(['f', '--model', '--bogus'], 'cli/missing-value', '--model needs a value');
  refuses(['f', '--bogus', '--model'], 'cli/unknown-option', "unknown option --bogus for 'anyad probe' (see anyad probe --help)");
});

test('typed option readers: integers in a range, required strings', () => {
  assert.equal(intOption({ n: '12' }, 'n', 1, 20), 12);
  for (const raw of ['0', '21', '1.5', 'x', '', undefined, true])
    assert.throws(
      () => intOption({ n: raw }, 'n', 1, 20),
      (e: unknown) => e instanceof ConfigError && e.message === `--n must be an integer in [1, 20], got '${String(raw)}'`,
    );
  assert.equal(stringOption({ model: 'm' }, 'model'), 'm');
  for (const raw of ['', undefined, true])
    assert.throws(
      () => stringOption({ model: raw }, 'model'),
      (e: unknown) => e instanceof ConfigError && e.code === 'cli/missing-option' && e.message === '--model is required',
    );
});

test('help lists each option with VALUE for strings and the default of string options', () => {
  assert.equal(
    formatHelp(spec),
    [
      'anyad probe — a command for the parser tests',
      '',
      'Usage: anyad probe FILE [--model DIR] [--json]',
      '',
      'Options:',
      '  --model VALUE            model folder',
      '  --steps VALUE            steps (default: 200)',
      '  --json                   print JSON',
      '  --dry-run                say what would happen',
      '  --help                   show this help',
    ].join('\n'),
  );
});
