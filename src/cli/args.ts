/**
 * Command specs and their parsing. node:util.parseArgs splits the arguments into tokens
 * (`--key VALUE`, `--key=VALUE`, flags, `--`); the checks and their wording stay here, because
 * parseArgs's strict mode throws Node's own messages (an unknown option's name only inside the
 * message text) while the CLI's errors are ConfigErrors with stable codes that point at the
 * command's --help. Two rules parseArgs does not have are kept from the CLI's first parser:
 *  - a string option's value may not start with '--' unless given inline: `--model --json` is a
 *    missing value, not a model folder named '--json' (`--model=--json` is one);
 *  - a word with a single dash other than -h ('-', '-x', '-5') is a positional, not an option.
 */
import { parseArgs as tokenizeArgs } from 'node:util';
import { ConfigError } from '../engine/errors';
import { PROVIDERS, type ProviderChoice } from '../shared/vocabulary';
import type { CliIo } from './io';

export interface OptionSpec {
  /** 'string' takes a value, 'boolean' is a flag. */
  type: 'string' | 'boolean';
  description: string;
  default?: string | boolean;
}

/** Parsed options by name: a string option's value, true for a given flag, undefined when absent. */
export type OptionValues = Record<string, string | boolean | undefined>;

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Number of positional arguments accepted: [min, max]. */
  positionals: [number, number];
  run(opts: OptionValues, positionals: string[], io: CliIo): Promise<number | void> | number | void;
}

export interface ParsedArgs {
  opts: OptionValues;
  positionals: string[];
  /** --help or -h was given: print the help, run nothing. */
  help: boolean;
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const { tokens } = tokenizeArgs({
    args: argv,
    options: Object.fromEntries(Object.entries(spec.options).map(([k, o]) => [k, { type: o.type }])),
    // Not strict: unknown options come back as tokens, to be refused below in the CLI's words.
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const opts: OptionValues = {};
  for (const [k, o] of Object.entries(spec.options)) if (o.default !== undefined) opts[k] = o.default;
  const positionals: string[] = [];
  let help = false;
  let lastShortIndex = -1;
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    else if (token.kind === 'option' && !token.rawName.startsWith('--')) {
      // A single-dash word: -h, or a positional. parseArgs splits '-xy' into two tokens of one index.
      if (argv[token.index] === '-h') help = true;
      else if (token.index !== lastShortIndex) positionals.push(argv[token.index]);
      lastShortIndex = token.index;
    } else if (token.kind === 'option') {
      const { name, value, inlineValue } = token;
      if (name === 'help' && value === undefined) {
        help = true;
        continue;
      }
      const o = Object.hasOwn(spec.options, name) ? spec.options[name] : undefined;
      if (!o)
        throw new ConfigError('cli/unknown-option', `unknown option --${name} for 'anyad ${spec.name}' (see anyad ${spec.name} --help)`);
      if (o.type === 'boolean') {
        if (value !== undefined) throw new ConfigError('cli/bad-option', `--${name} is a flag and takes no value`);
        opts[name] = true;
      } else {
        if (value === undefined || (!inlineValue && value.startsWith('--')))
          throw new ConfigError('cli/missing-value', `--${name} needs a value`);
        opts[name] = value;
      }
    }
    // The remaining kind, 'option-terminator' (--), needs nothing: parseArgs makes what follows positionals.
  }
  if (!help) {
    const [min, max] = spec.positionals;
    if (positionals.length < min)
      throw new ConfigError('cli/missing-argument', `'anyad ${spec.name}' needs ${min} argument(s); usage: ${spec.usage}`);
    if (positionals.length > max)
      throw new ConfigError('cli/extra-argument', `unexpected argument '${positionals[max]}'; usage: ${spec.usage}`);
  }
  return { opts, positionals, help };
}

export function formatHelp(spec: CommandSpec): string {
  const lines = [`anyad ${spec.name} — ${spec.summary}`, '', `Usage: ${spec.usage}`, ''];
  const entries = Object.entries(spec.options);
  if (entries.length) {
    lines.push('Options:');
    for (const [k, o] of entries) {
      const flag = o.type === 'boolean' ? `--${k}` : `--${k} VALUE`;
      const def = o.default !== undefined && o.type !== 'boolean' ? ` (default: ${String(o.default)})` : '';
      lines.push(`  ${flag.padEnd(24)} ${o.description}${def}`);
    }
  }
  lines.push(`  ${'--help'.padEnd(24)} show this help`);
  return lines.join('\n');
}

/** Parses a positive integer option with a clear error. */
export function intOption(opts: OptionValues, key: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = opts[key];
  const v = typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new ConfigError('cli/bad-option', `--${key} must be an integer in [${min}, ${max}], got '${String(raw)}'`);
  return v;
}

/** --provider, one of the execution providers the runtime knows. */
export function providerOption(opts: OptionValues): ProviderChoice {
  const provider = String(opts.provider) as ProviderChoice;
  if (!PROVIDERS.includes(provider))
    throw new ConfigError('cli/bad-option', `--provider must be one of ${PROVIDERS.join(', ')}, got '${provider}'`);
  return provider;
}

/** Required string option. */
export function stringOption(opts: OptionValues, key: string): string {
  const v = opts[key];
  if (typeof v !== 'string' || v === '') throw new ConfigError('cli/missing-option', `--${key} is required`);
  return v;
}
