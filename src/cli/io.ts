/** Where CLI commands print: process.stdout/stderr when run as `anyad`, string sinks in tests. */

/** The part of a stream a command uses; process.stdout and process.stderr are ones. */
export interface CliOutput {
  write(text: string): unknown;
  /** A terminal: progress is one line rewritten in place instead of a line per update. */
  readonly isTTY?: boolean;
  /** Terminal width, when isTTY. */
  readonly columns?: number;
}

export interface CliIo {
  /** Results: text, JSON, JSON lines. */
  stdout: CliOutput;
  /** Progress, warnings and errors. */
  stderr: CliOutput;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr };
}
