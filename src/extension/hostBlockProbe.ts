/**
 * Measures how long the extension host's thread is blocked: a timer that should fire every
 * `intervalMs` notes how late it fires; the lateness is time the thread spent in one
 * synchronous stretch (ours or another extension's). On a shared machine a timer is also late
 * when the OS runs other processes instead, which is not the host working: a tick counts at
 * most the CPU time this process used meanwhile (process.cpuUsage; Node 20 has no per-thread
 * figure). Kept per phase (open, detect, train, …) so a test or benchmark can say which action
 * blocked. No 'vscode' import.
 */
export class HostBlockProbe {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private readonly maxByPhase = new Map<string, number>();
  private active = new Set<string>(['any']);

  constructor(private readonly intervalMs = 5) {}

  start(): void {
    if (this.timer) return;
    this.last = performance.now();
    let cpu = process.cpuUsage();
    this.timer = setInterval(() => {
      const now = performance.now();
      const used = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      const late = Math.max(0, now - this.last - this.intervalMs);
      const block = Math.min(late, (used.user + used.system) / 1000);
      this.last = now;
      for (const p of this.active) this.maxByPhase.set(p, Math.max(this.maxByPhase.get(p) ?? 0, block));
    }, this.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Counts blocks toward `phase` until the returned function is called. */
  phase(name: string): () => void {
    this.active.add(name);
    this.maxByPhase.set(name, this.maxByPhase.get(name) ?? 0);
    return () => {
      this.active.delete(name);
    };
  }

  /** Longest block in ms, overall ('any') or for a phase. */
  max(phase = 'any'): number {
    return this.maxByPhase.get(phase) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.maxByPhase].map(([k, v]) => [k, Math.round(v * 10) / 10]));
  }

  reset(): void {
    this.maxByPhase.clear();
  }
}
