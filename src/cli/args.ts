/** A small, strict argument parser: unknown options and missing values are errors. */
import { ConfigError } from '../engine/errors';
import { PROVIDERS, type ProviderChoice } from '../shared/vocabulary';

export interface OptionSpec {
  /** 'string' takes a value, 'boolean' is a flag. */
  type: 'string' | 'boolean';
  description: string;
  default?: string | boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Number of positional arguments accepted: [min, max]. */
  positionals: [number, number];
  run(opts: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number | void> | number | void;
}

export function parseArgs(
  spec: CommandSpec,
  argv: string[],
): { opts: Record<string, string | boolean | undefined>; positionals: string[]; help: boolean } {
  const opts: Record<string, string | boolean | undefined> = {};
  for (const [k, o] of Object.entries(spec.options)) if (o.default !== undefined) opts[k] = o.default;
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const o = spec.options[key];
      if (!o)
        throw new ConfigError('cli/unknown-option', `unknown option --${key} for 'anyad ${spec.name}' (see anyad ${spec.name} --help)`);
      if (o.type === 'boolean') {
        if (eq >= 0) throw new ConfigError('cli/bad-option', `--${key} is a flag and takes no value`);
        opts[key] = true;
      } else {
        const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined || (eq < 0 && v.startsWith('--'))) throw new ConfigError('cli/missing-value', `--${key} needs a value`);
        opts[key] = v;
      }
      continue;
    }
    positionals.push(a);
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
export function intOption(opts: Record<string, string | boolean | undefined>, key: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = opts[key];
  const v = typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new ConfigError('cli/bad-option', `--${key} must be an integer in [${min}, ${max}], got '${String(raw)}'`);
  return v;
}

/** --provider, one of the execution providers the runtime knows. */
export function providerOption(opts: Record<string, string | boolean | undefined>): ProviderChoice {
  const provider = String(opts.provider) as ProviderChoice;
  if (!PROVIDERS.includes(provider))
    throw new ConfigError('cli/bad-option', `--provider must be one of ${PROVIDERS.join(', ')}, got '${provider}'`);
  return provider;
}

/** Required string option. */
export function stringOption(opts: Record<string, string | boolean | undefined>, key: string): string {
  const v = opts[key];
  if (typeof v !== 'string' || v === '') throw new ConfigError('cli/missing-option', `--${key} is required`);
  return v;
}
