/**
 * Finds the model bundle to use: an explicit folder, else the newest bundle under a
 * workspace's output folders, else a shipped default. A bundle is a folder holding
 * model.onnx and an anyad.json manifest with a `createdAt` (not the workspace config,
 * which has neither).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularTextFile } from '../util/fileio';
import { BUNDLE_FILES } from './bundle';

const SKIP = new Set(['node_modules', '.git', 'checkpoints']);

/** createdAt of the bundle in `dir`, or undefined when `dir` is not a bundle. */
export function bundleCreatedAt(dir: string): number | undefined {
  const manifest = join(dir, BUNDLE_FILES.manifest);
  if (!existsSync(join(dir, BUNDLE_FILES.model)) || !existsSync(manifest)) return undefined;
  try {
    // Guarded read: this walk runs in the extension host, where a FIFO named anyad.json would block it.
    const m = JSON.parse(readRegularTextFile(manifest, { maxBytes: 16 << 20 })) as { createdAt?: unknown };
    const t = typeof m.createdAt === 'string' ? Date.parse(m.createdAt) : NaN;
    return Number.isFinite(t) ? t : statSync(manifest).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest bundle folder below `root` (depth-limited walk), or undefined. */
export function findNewestBundle(root: string, maxDepth = 4): string | undefined {
  let best: { dir: string; t: number } | undefined;
  const walk = (dir: string, depth: number): void => {
    const t = bundleCreatedAt(dir);
    if (t !== undefined) {
      if (!best || t > best.t) best = { dir, t };
      return;
    }
    if (depth >= maxDepth) return;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      if (name.startsWith('.') || SKIP.has(name)) continue;
      const p = join(dir, name);
      try {
        if (statSync(p).isDirectory()) walk(p, depth + 1);
      } catch {
        /* vanished or unreadable */
      }
    }
  };
  walk(root, 0);
  return best?.dir;
}

/** Resolution order: explicit setting → newest in the workspace roots → the shipped default. */
export function locateBundle(opts: {
  explicit?: string;
  workspaceRoots: string[];
  shippedDefault?: string;
}): { dir: string; source: 'setting' | 'workspace' | 'shipped' } | undefined {
  if (opts.explicit) return { dir: opts.explicit, source: 'setting' };
  let newest: { dir: string; t: number } | undefined;
  for (const root of opts.workspaceRoots) {
    const dir = findNewestBundle(root);
    const t = dir ? bundleCreatedAt(dir) : undefined;
    if (dir && t !== undefined && (!newest || t > newest.t)) newest = { dir, t };
  }
  if (newest) return { dir: newest.dir, source: 'workspace' };
  if (opts.shippedDefault && bundleCreatedAt(opts.shippedDefault) !== undefined) return { dir: opts.shippedDefault, source: 'shipped' };
  return undefined;
}
