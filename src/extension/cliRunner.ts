/**
 * Runs the bundled `anyad` CLI in a child process. onnxruntime-node runs a session on the
 * calling thread, so inference and training never run in the extension host itself: a
 * child keeps the editor responsive, isolates native crashes, and is cancelled by a kill.
 */
import { fork } from 'node:child_process';
import { runInBackground } from './processPriority';
import * as vscode from 'vscode';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  extensionUri: vscode.Uri,
  args: string[],
  opts: { token?: vscode.CancellationToken; onStderrLine?: (line: string) => void; onStdoutLine?: (line: string) => void } = {},
): Promise<CliResult> {
  const cli = vscode.Uri.joinPath(extensionUri, 'dist', 'cli.js').fsPath;
  return new Promise((resolvePromise, reject) => {
    const child = fork(cli, args, { silent: true, execArgv: [], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    runInBackground(child);
    let stdout = '';
    let stderr = '';
    const lines = (onLine?: (l: string) => void) => {
      let partial = '';
      return (chunk: Buffer, sink: (s: string) => void) => {
        const s = chunk.toString('utf8');
        sink(s);
        if (!onLine) return;
        partial += s;
        const parts = partial.split(/\r?\n|\r/);
        partial = parts.pop() ?? '';
        for (const p of parts) if (p) onLine(p);
      };
    };
    const out = lines(opts.onStdoutLine);
    const err = lines(opts.onStderrLine);
    child.stdout?.on('data', (c: Buffer) =>
      out(c, (s) => {
        stdout += s;
      }),
    );
    child.stderr?.on('data', (c: Buffer) =>
      err(c, (s) => {
        stderr += s;
      }),
    );
    const sub = opts.token?.onCancellationRequested(() => child.kill('SIGTERM'));
    child.on('error', (e) => {
      sub?.dispose();
      reject(e);
    });
    child.on('exit', (code) => {
      sub?.dispose();
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The CLI's one-line error (its last stderr line), for a notification. */
export function cliErrorLine(r: CliResult): string {
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  // The CLI's own line ("anyad detect: error: …"), not the last frame of a stack trace after it.
  const own = lines.find((l) => /^anyad [\w-]+: (error|internal error): /.test(l));
  return own ?? lines[lines.length - 1] ?? `exited with code ${String(r.code)}`;
}
