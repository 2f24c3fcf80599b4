/** `anyad doctor`: the setup report for bug reports (providers, adapter, threads, weights, models). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { doctorReport, formatDoctorReport } from '../../engine/doctor';
import { releaseAllSessions } from '../../engine/graph/runtime';
import { intOption, type CommandSpec } from '../args';

/** The extension/CLI package root (dist/cli.js and src/cli/commands/*.ts both sit below it). */
export function packageRoot(from = __dirname): string | undefined {
  for (let d = from; ; d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      try { if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'anyad-vscode') return d; } catch { /* not ours */ }
    }
    if (dirname(d) === d) return undefined;
  }
}

export const doctorCommand: CommandSpec = {
  name: 'doctor',
  summary: 'show the setup (execution providers and why not, GPU adapter, threads, encoder weights, models) for a bug report',
  usage: 'anyad doctor [--json] [--workspace DIR] [--threads N] [--no-probe]',
  options: {
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
    workspace: { type: 'string', description: 'folder searched for trained model bundles', default: '.' },
    threads: { type: 'string', description: 'the thread setting to report (0 = onnxruntime default)', default: '0' },
    'no-probe': { type: 'boolean', description: 'do not start a one-node session on each provider' },
  },
  positionals: [0, 0],
  async run(opts) {
    const root = packageRoot();
    let version = '?';
    try { if (root) version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version; } catch { /* unknown */ }
    try {
      const report = await doctorReport({
        anyadVersion: version, threads: intOption(opts, 'threads', 0), probe: opts['no-probe'] !== true,
        workspaceRoots: [String(opts.workspace)], shippedDefault: root ? join(root, 'models', 'default') : undefined,
      });
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatDoctorReport(report));
    } finally {
      await releaseAllSessions();
    }
    return 0;
  },
};
