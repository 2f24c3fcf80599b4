/** `anyad doctor`: the setup report for bug reports (providers, adapter, threads, weights, models). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { CudaInstallError, installCudaProvider } from '../../engine/cudaInstall';
import { doctorReport, formatDoctorReport } from '../../engine/doctor';
import { Graph, emitModel, relu } from '../../engine/graph';
import { bindingDir, createSession, releaseAllSessions, releaseSession } from '../../engine/graph/runtime';
import { intOption, type CommandSpec, type OptionValues } from '../args';
import type { CliIo, CliOutput } from '../io';

/** The extension/CLI package root (dist/cli.js and src/cli/commands/*.ts both sit below it). */
export function packageRoot(from = __dirname): string | undefined {
  for (let d = from; ; d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'anyad-vscode') return d;
      } catch {
        /* not ours */
      }
    }
    if (dirname(d) === d) return undefined;
  }
}

export const doctorCommand: CommandSpec = {
  name: 'doctor',
  summary: 'show the setup (execution providers and why not, GPU adapter, threads, encoder weights, models) for a bug report',
  usage:
    'anyad doctor [--json] [--workspace DIR] [--threads N] [--no-probe] | anyad doctor --install-cuda [--yes] [--progress-json] [--nuget-index URL]',
  options: {
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
    'install-cuda': {
      type: 'boolean',
      description:
        "download onnxruntime-node's CUDA provider libraries (NuGet, checked by SHA-512) next to the binding, then start a CUDA session (Linux x64)",
    },
    yes: { type: 'boolean', description: 'consent to the --install-cuda download without asking' },
    'progress-json': { type: 'boolean', description: 'with --install-cuda: one JSON line per progress step and a final result line' },
    'nuget-index': { type: 'string', description: 'NuGet v3 service index to fetch from (a mirror)' },
    workspace: { type: 'string', description: 'folder searched for trained model bundles', default: '.' },
    threads: { type: 'string', description: 'the thread setting to report (0 = onnxruntime default)', default: '0' },
    'no-probe': { type: 'boolean', description: 'do not start a one-node session on each provider' },
  },
  positionals: [0, 0],
  async run(opts, _positionals, io) {
    if (opts['install-cuda']) return installCuda(opts, io);
    const root = packageRoot();
    let version = '?';
    try {
      if (root) version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      /* unknown */
    }
    try {
      const report = await doctorReport({
        anyadVersion: version,
        threads: intOption(opts, 'threads', 0),
        probe: opts['no-probe'] !== true,
        workspaceRoots: [String(opts.workspace)],
        shippedDefault: root ? join(root, 'models', 'default') : undefined,
      });
      io.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatDoctorReport(report));
    } finally {
      await releaseAllSessions();
    }
    return 0;
  },
};

/** `anyad doctor --install-cuda`: see engine/cudaInstall.ts. Consent: --yes, or a y/N question on a terminal. */
async function installCuda(opts: OptionValues, io: CliIo): Promise<number> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new CudaInstallError(
      'cuda/platform',
      `onnxruntime-node has a CUDA provider only on Linux x64 (this is ${process.platform}-${process.arch}); on Windows use provider 'dml', elsewhere 'webgpu'`,
    );
  }
  const json = opts['progress-json'] === true;
  const say = (o: Record<string, unknown>, text: string) => io.stdout.write(json ? `${JSON.stringify(o)}\n` : `${text}\n`);
  const version = (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  let lastPct = -1;
  const result = await installCudaProvider({
    version,
    targetDir: bindingDir(),
    index: typeof opts['nuget-index'] === 'string' ? opts['nuget-index'] : undefined,
    log: (l) => say({ event: 'info', message: l }, l),
    confirm: async ({ url, bytes, targetDir }) => {
      const what = `download ${url}${bytes ? ` (${(bytes / 2 ** 20).toFixed(0)} MB)` : ''} and install the CUDA provider into ${targetDir}`;
      if (opts.yes === true) return true;
      if (!process.stdin.isTTY) throw new CudaInstallError('cuda/consent', `this would ${what}; run again with --yes to consent`);
      return askYesNo(`AnyAD will ${what}. Continue? [y/N] `, process.stdin, io.stdout);
    },
    onProgress: (received, total) => {
      const pct = total ? Math.floor((100 * received) / total) : Math.floor(received / 2 ** 24);
      if (pct === lastPct) return;
      lastPct = pct;
      say(
        { event: 'progress', received, total },
        total ? `  ${pct}% of ${(total / 2 ** 20).toFixed(0)} MB` : `  ${(received / 2 ** 20).toFixed(0)} MB`,
      );
    },
    verify: async () => {
      const g = new Graph('cuda-probe');
      g.output('y', relu(g.input('x', [1, 4])));
      const s = await createSession(emitModel(g), { provider: 'cuda' });
      await releaseSession(s);
    },
  });
  await releaseAllSessions();
  say(
    { event: 'done', ...result },
    `installed ${result.installed.join(', ')} (SHA-512 checked)\n${result.verified ? "a CUDA session started: provider 'cuda' (and 'auto') can use the GPU" : `but a CUDA session did not start: ${result.verifyError}`}`,
  );
  return result.verified ? 0 : 1;
}

/** A y/N question: true for y or yes (any case); false for anything else and for the end of input (Ctrl-D). */
export async function askYesNo(question: string, input: NodeJS.ReadableStream, output: CliOutput): Promise<boolean> {
  // The question goes to `output`; readline only reads the answer (a terminal echoes what is typed).
  output.write(question);
  const rl = createInterface({ input });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
