/**
 * Process plumbing for the end-to-end run: polling with deadlines (never fixed sleeps), a
 * free loopback port, code-server in its own process group, and a memory sampler.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';

/**
 * Chromium flags of the E2E browser. The viewer draws with WebGL2 (NiiVue); headless Chromium
 * has no GPU here, so WebGL2 runs on SwiftShader through ANGLE: --use-gl=angle
 * --use-angle=swiftshader picks it explicitly and --enable-unsafe-swiftshader allows it for web
 * content (newer Chromium refuses the software fallback without it). No --disable-gpu: builds
 * that honour it take WebGL away.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Calls `probe` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : inspect(lastError)})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface CodeServerDirs {
  bin: string;
  userData: string;
  extensions: string;
  config: string;
}

/** Runs a code-server CLI command (e.g. --install-extension) to completion. */
export function codeServerCli(dirs: CodeServerDirs, args: string[], timeoutMs: number): string {
  const r = spawnSync(dirs.bin, ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--config', dirs.config, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0)
    throw new Error(`code-server ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${out}`);
  return out;
}

/** A code-server started in its own process group, so stopping it takes its watcher and extension host too. */
export class CodeServer {
  readonly url: string;
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static start(dirs: CodeServerDirs, port: number, workspace: string, logFile: string): CodeServer {
    const fd = openSync(logFile, 'a');
    const child = spawn(
      dirs.bin,
      [
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--auth',
        'none',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--user-data-dir',
        dirs.userData,
        '--extensions-dir',
        dirs.extensions,
        '--config',
        dirs.config,
        workspace,
      ],
      { detached: true, stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    return new CodeServer(child, port);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    await poll(`code-server /healthz on port ${this.port}`, timeoutMs, async () => {
      if (this.exited) throw new Error(`code-server exited (${this.child.exitCode ?? this.child.signalCode}); see code-server.log`);
      const res = await fetch(`${this.url}/healthz`);
      return res.ok;
    });
  }

  /** SIGTERM to the whole group, SIGKILL to whatever is left after a grace period. */
  async stop(graceMs = 5000): Promise<void> {
    const pgid = this.child.pid;
    if (pgid === undefined) return;
    signalGroup(pgid, 'SIGTERM');
    try {
      await poll('code-server process group to exit', graceMs, () => !groupAlive(pgid), 100);
    } catch {
      signalGroup(pgid, 'SIGKILL');
      await poll('code-server process group to die', 5000, () => !groupAlive(pgid), 100).catch(() => undefined);
    }
  }

  /** Last-resort synchronous kill for process 'exit' handlers. */
  killNow(): void {
    if (this.child.pid !== undefined) signalGroup(this.child.pid, 'SIGKILL');
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Parent pid and process group of every process, from /proc. */
function processTable(): Map<number, { ppid: number; pgid: number }> {
  const table = new Map<number, { ppid: number; pgid: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command name: state ppid pgrp ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { ppid: Number(rest[1]), pgid: Number(rest[2]) });
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples the proportional set size (shared pages split fairly, so Chromium's many
 * processes are not counted many times) of this process and all its descendants.
 */
export class MemorySampler {
  peakKiB = 0;
  private timer: NodeJS.Timeout | undefined;

  start(intervalMs = 1000): void {
    if (!existsSync('/proc/self/smaps_rollup')) return;
    const sample = () => {
      const table = processTable();
      const tree = new Set([process.pid]);
      // Descendants: repeat until no process joins (the table is unordered).
      for (let grew = true; grew;) {
        grew = false;
        for (const [pid, p] of table)
          if (!tree.has(pid) && tree.has(p.ppid)) {
            tree.add(pid);
            grew = true;
          }
      }
      let total = 0;
      for (const pid of tree) total += pssKiB(pid);
      this.peakKiB = Math.max(this.peakKiB, total);
    };
    sample();
    this.timer = setInterval(sample, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** Finds files under `dir` whose name matches `pattern` (used for VS Code's log files). */
export function findFiles(dir: string, pattern: RegExp): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findFiles(p, pattern));
    else if (pattern.test(entry.name)) out.push(p);
  }
  return out;
}

/** User settings of the test and benchmark workbenches: no start page, tips, trust prompt, updates or telemetry. */
export const WORKBENCH_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'chat.commandCenter.enabled': false,
  'files.exclude': { '**/.git': true },
  // VS Code in the browser saves after 1 s by default (desktop: off); off here, so dirty state,
  // revert and hot-exit backups are what a desktop user gets.
  'files.autoSave': 'off',
};
