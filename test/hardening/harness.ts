/**
 * Runs a hardening case in a child process under a wall-time and a memory bound, checked here
 * rather than by asserts on the work itself: a hang shows up as a timeout (the child is
 * killed), an unbounded read as a peak RSS over the bound. The peak RSS is the child's own
 * (process.resourceUsage().maxRSS, reported by it) or, for processes it starts, polled from
 * /proc/<pid>/status (VmHWM) while they run.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CASES_SCRIPT = join(__dirname, 'cases.ts');
export const ROOT = join(__dirname, '..', '..');

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Highest VmHWM seen while it ran, in MiB (0 when it ended before the first poll). */
  peakRssMB: number;
  timedOut: boolean;
  seconds: number;
}

function vmHwmMB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // already gone
  }
}

/**
 * Spawns a process, kills it (SIGKILL) after `timeoutMs`, polls its peak RSS; `onLine` sees
 * each stdout line (return true to stop waiting for more, e.g. before a kill).
 */
export function spawnMeasured(
  cmd: string,
  args: string[],
  opts: {
    timeoutMs: number;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    onLine?: (line: string, child: import('node:child_process').ChildProcess) => void;
  },
): Promise<Measured> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '',
      peak = 0,
      timedOut = false,
      partial = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += String(d);
      partial += String(d);
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) opts.onLine?.(l, child);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += String(d);
    });
    const poll = setInterval(() => {
      if (child.pid) peak = Math.max(peak, vmHwmMB(child.pid));
    }, 25);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      // Let the pipes drain before resolving.
      setImmediate(() => resolve({ code, signal, stdout, stderr, peakRssMB: peak, timedOut, seconds: (performance.now() - t0) / 1000 }));
    });
  });
}

/** `node --import tsx src/cli/main.ts ARGS` (the CLI as users run it, from the sources). */
export function runAnyad(
  args: string[],
  opts: Omit<Parameters<typeof spawnMeasured>[2], 'timeoutMs'> & { timeoutMs?: number } = {},
): Promise<Measured> {
  return spawnMeasured(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { timeoutMs: 60_000, ...opts });
}

export interface CaseBounds {
  /** Wall time of the whole case (child start-up included). */
  timeoutMs: number;
  /** Peak RSS of the case process and of any process it started (as it reports). */
  maxRssMB: number;
}

export interface CaseOutcome {
  seconds: number;
  peakRssMB: number;
  details: unknown;
}

/** Runs case `name` of cases.ts in a child under `bounds`; throws with the child's output when it fails. */
export async function runCase(name: string, bounds: CaseBounds): Promise<CaseOutcome> {
  const r = await spawnMeasured(process.execPath, ['--import', 'tsx', CASES_SCRIPT, name], { timeoutMs: bounds.timeoutMs });
  const tail = `\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
  if (r.timedOut) throw new Error(`case '${name}' exceeded its time bound of ${bounds.timeoutMs} ms (killed)${tail}`);
  const line = r.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('CASE-RESULT '));
  if (r.code !== 0 || !line) throw new Error(`case '${name}' failed (exit ${r.code ?? r.signal})${tail}`);
  const result = JSON.parse(line.slice('CASE-RESULT '.length)) as { ownRssMB: number; childrenRssMB: number; details: unknown };
  const peak = Math.max(result.ownRssMB, result.childrenRssMB, r.peakRssMB);
  if (peak > bounds.maxRssMB)
    throw new Error(`case '${name}' exceeded its memory bound: peak RSS ${peak.toFixed(0)} MiB > ${bounds.maxRssMB} MiB${tail}`);
  return { seconds: r.seconds, peakRssMB: peak, details: result.details };
}
