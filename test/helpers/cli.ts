import { main } from '../../src/cli/main';

/**
 * Runs the CLI in-process; returns the exit code and what it printed. Only string writes are
 * captured: the test runner's own (binary) messages on stdout must still reach it, or a report
 * written while a test runs would land in the captured text.
 */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [o, e] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  const capture = (sink: string[], orig: typeof o) =>
    ((c: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof c !== 'string') return (orig as (...a: unknown[]) => boolean)(c, ...rest);
      sink.push(c);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out, o);
  process.stderr.write = capture(err, e);
  try {
    return { code: await main(args), stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}
