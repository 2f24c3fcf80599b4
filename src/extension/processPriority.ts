/**
 * Engine and training processes run below normal priority: on a 2-core laptop their
 * onnxruntime threads would otherwise take the cores from VS Code's window and extension host
 * (the UI stutters while a model runs). Threads the process starts later (onnxruntime's pool)
 * inherit the lowered priority.
 */
import type { ChildProcess } from 'node:child_process';
import { constants, setPriority } from 'node:os';

export function runInBackground(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    /* not permitted here (or the process already exited): it runs at normal priority */
  }
}
