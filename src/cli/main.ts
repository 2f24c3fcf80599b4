/**
 * `anyad` command line: a thin layer over the engine. Each subcommand lives in
 * src/cli/commands/ and is listed in COMMANDS. Errors print one line and exit non-zero.
 *
 * Exit codes (README, "Command line"): 0 success; 1 an error the user can act on (bad file,
 * config, I/O: disk full, permission, read-only…), one line naming the file and the cause;
 * 2 usage; 70 internal error (a bug: message and stack trace); 130 cancelled (SIGINT/SIGTERM).
 */
import { isAnyadError } from '../engine/errors';
import { fileError, isSystemError } from '../engine/util/fileio';
import { formatHelp, parseArgs, type CommandSpec } from './args';
import { COMMANDS } from './commands';
import { type CliIo, processIo } from './io';

function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'anyad — any-modality anomaly detection for multi-sequence brain MRI',
    '',
    'Usage: anyad <command> [options]   (anyad <command> --help for details)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
  ].join('\n');
}

/** Runs `anyad ARGV...`, printing to io; returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(topHelp() + '\n');
    return name ? 0 : 2;
  }
  const cmd: CommandSpec | undefined = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.stderr.write(`anyad: unknown command '${name}' (try anyad --help)\n`);
    return 2;
  }
  try {
    const { opts, positionals, help } = parseArgs(cmd, rest);
    if (help) {
      io.stdout.write(formatHelp(cmd) + '\n');
      return 0;
    }
    const code = await cmd.run(opts, positionals, io);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    if (isAnyadError(e)) {
      io.stderr.write(`anyad ${name}: error: ${e.message.split('\n')[0]}\n`);
      return 1;
    }
    // A system error that escaped a typed wrapper (disk full, read-only file system…) is still
    // the user's environment, not a bug: one line naming the path and the cause.
    if (isSystemError(e)) {
      const verbs: Record<string, string> = {
        open: 'open',
        read: 'read',
        write: 'write',
        mkdir: 'create folder',
        rename: 'move',
        unlink: 'remove',
        rmdir: 'remove',
        scandir: 'list',
        copyfile: 'copy',
      };
      const err = fileError(e, e.path ?? '', verbs[e.syscall ?? ''] ?? 'access');
      io.stderr.write(`anyad ${name}: error: ${err.message.split('\n')[0]}\n`);
      return 1;
    }
    io.stderr.write(`anyad ${name}: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}

if (require.main === module) {
  // main() turns every error into an exit code and a message; nothing is left to reject.
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
