import { main } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/io';

/** A stream that keeps what is written to it; not a terminal, so progress prints plain lines. */
export function textSink(): CliOutput & { text(): string } {
  const chunks: string[] = [];
  return {
    write(text: string) {
      chunks.push(text);
      return true;
    },
    text: () => chunks.join(''),
  };
}

/** Runs the CLI in-process with its own output streams; returns the exit code and what it printed. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = textSink();
  const stderr = textSink();
  const code = await main(args, { stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
