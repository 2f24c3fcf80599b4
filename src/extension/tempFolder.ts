/**
 * The extension's private temp folder: created on first use with mkdtemp (mode 0700, an
 * unpredictable name, so no other user can plant or read files in it) and removed on
 * deactivate. Detect's maps go here instead of predictable names in the shared temp folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let folder: string | undefined;
let counter = 0;

export function privateTempDir(): string {
  folder ??= mkdtempSync(join(tmpdir(), 'anyad-'));
  return folder;
}

/** A fresh file name inside the private folder (the file is not created). */
export function privateTempFile(suffix: string): string {
  return join(privateTempDir(), `${Date.now()}-${++counter}${suffix}`);
}

export function removePrivateTempDir(): void {
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
}
