/**
 * Which backup holds the unsaved annotation of each image, recorded in the extension's own
 * storage folder (one small JSON file per image).
 *
 * Why: VS Code 1.100 restores a custom editor after a window reload from its serialized state,
 * and its serializer does not read the backup id back (`CustomEditorInputSerializer.fromJson`).
 * The editor then reopens the saved file under a dirty mark, and the unsaved labels sit in an
 * orphaned backup. With this ledger the viewer finds that backup itself; VS Code's own
 * backup id, when it does hand one over, still wins.
 *
 * A record lives from a backup until the labels are saved, reverted or the document is closed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirs, writeFileAtomic } from '../../engine/util/atomic';

interface LedgerRecord {
  image: string;
  backup: string;
}

export class UnsavedAnnotationLedger {
  constructor(readonly dir: string) {}

  /** `backup` now holds the unsaved labels of `image`; a backup it replaces is deleted. */
  record(image: string, backup: string): void {
    const previous = this.read(image);
    mkdirs(this.dir);
    writeFileAtomic(this.recordPath(image), JSON.stringify({ image, backup } satisfies LedgerRecord));
    if (previous && previous.backup !== backup) removeQuietly(previous.backup);
  }

  /**
   * The image's unsaved labels are gone (saved, reverted, closed): its record goes, and with it
   * the backup. With `backup`, only when the record still names that backup (a newer one stays).
   */
  forget(image: string, backup?: string): void {
    const rec = this.read(image);
    if (!rec || (backup !== undefined && rec.backup !== backup)) return;
    removeQuietly(this.recordPath(image));
    removeQuietly(rec.backup);
  }

  /**
   * The backup holding `image`'s unsaved labels, when there is one and it is newer than the
   * saved annotation at `annotationPath` (a file saved since, e.g. by another tool, wins).
   */
  find(image: string, annotationPath: string): string | undefined {
    const rec = this.read(image);
    if (!rec) return undefined;
    const backupTime = mtimeOf(rec.backup);
    const savedTime = mtimeOf(annotationPath);
    if (backupTime === undefined || (savedTime !== undefined && savedTime > backupTime)) {
      this.forget(image);
      return undefined;
    }
    return rec.backup;
  }

  private recordPath(image: string): string {
    return join(this.dir, `${createHash('sha256').update(image).digest('hex').slice(0, 32)}.json`);
  }

  private read(image: string): LedgerRecord | undefined {
    const path = this.recordPath(image);
    if (!existsSync(path)) return undefined;
    try {
      const rec = JSON.parse(readFileSync(path, 'utf8')) as Partial<LedgerRecord>;
      // A record for another image (a hash collision) or a damaged one is no record.
      if (rec.image === image && typeof rec.backup === 'string') return { image, backup: rec.backup };
    } catch {
      /* damaged: treated as absent and overwritten by the next backup */
    }
    return undefined;
  }
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
