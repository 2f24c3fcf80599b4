/**
 * The annotation being edited in the NIfTI viewer: a uint8 label volume on the canonical
 * (RAS) grid of the opened volume, with an undo/redo history of compact edits, a dirty
 * state, and save / revert / backup to NIfTI files. No 'vscode' import: the custom editor
 * wraps it, the unit tests drive it directly.
 *
 * On disk the annotation is a uint8 NIfTI on the opened file's own grid (its voxel order and
 * header geometry, via writeOnSourceGrid), written atomically, so other tools can index it
 * like the image. Reading goes through toCanonical, so annotations stored RAS by earlier
 * versions still open. File work runs off the calling thread (labelFiles.ts): the extension
 * host must not inflate a volume.
 */
import { basename, dirname, join } from 'node:path';
import { NiftiError } from '../../engine/errors';
import type { SourceGrid } from '../../engine/nifti';
import { readLabels, writeLabels, type LabelGrid } from './labelFiles';

export type { LabelGrid };

export type EditKind = 'brush' | 'eraser' | 'fill';

/** One edit: the voxels it changed, their previous labels, and the labels they got. */
export interface LabelEdit {
  readonly kind: EditKind;
  readonly indices: Uint32Array;
  readonly before: Uint8Array;
  readonly after: Uint8Array;
}

/** New labels for some voxels: what the viewer must apply after an edit, undo or redo. */
export interface LabelPatch {
  indices: Uint32Array;
  values: Uint8Array;
}

/** Default file of a volume's annotation: `<case>_annot.nii.gz` beside it (case id, else the file's stem). */
export function defaultAnnotationPath(volumePath: string, caseId?: string): string {
  const stem = caseId ?? basename(volumePath).replace(/\.nii(\.gz)?$/i, '');
  return join(dirname(volumePath), `${stem}_annot.nii.gz`);
}

/** Marks "state on disk unknown": a document restored from a backup is dirty until saved. */
const NOT_ON_DISK: LabelEdit = { kind: 'fill', indices: new Uint32Array(0), before: new Uint8Array(0), after: new Uint8Array(0) };

export class AnnotationDocument {
  private edits: LabelEdit[] = [];
  /** Number of edits in `edits` currently applied (the rest can be redone). */
  private applied = 0;
  /** The top applied edit when the labels last matched the file (null: no edit). */
  private savedTop: LabelEdit | null = null;

  private constructor(
    readonly grid: LabelGrid,
    private readonly source: SourceGrid,
    private path: string,
    private data: Uint8Array,
  ) {}

  /**
   * Opens the annotation of `grid` stored at `path` (all zeros when the file does not exist
   * yet) or, when `backupPath` is given, the unsaved state a backup holds (then dirty).
   * `source` is the opened file's grid (loadVolumeWithSource / sourceGridOf), `grid` its
   * canonical one; files are written on `source`.
   */
  static async open(
    grid: LabelGrid,
    path: string,
    opts: { source: SourceGrid; backupPath?: string; maxBytes?: number },
  ): Promise<AnnotationDocument> {
    const { source } = opts;
    const canonicalDims = source.axes.map((a) => source.dims[a.axis]);
    if (canonicalDims.some((d, w) => d !== grid.dims[w])) {
      throw new NiftiError(
        'nifti/grid-mismatch',
        `the source grid ${source.dims.join('×')} does not reorient to the label grid ${grid.dims.join('×')}`,
        source.file ?? path,
      );
    }
    if (opts.backupPath !== undefined) {
      const doc = new AnnotationDocument(grid, source, path, await readLabels(opts.backupPath, grid, { maxBytes: opts.maxBytes }));
      doc.savedTop = NOT_ON_DISK;
      return doc;
    }
    return new AnnotationDocument(grid, source, path, await readLabels(path, grid, { orEmpty: true, maxBytes: opts.maxBytes }));
  }

  /** The current labels, x fastest (read-only for callers). */
  get labels(): Uint8Array {
    return this.data;
  }
  get annotationPath(): string {
    return this.path;
  }
  get dirty(): boolean {
    return this.top() !== this.savedTop;
  }
  get canUndo(): boolean {
    return this.applied > 0;
  }
  get canRedo(): boolean {
    return this.applied < this.edits.length;
  }

  /**
   * Sets `indices` to label `value` (0 erases) as one undoable edit. Only voxels that change
   * are recorded; returns null when nothing changes (no edit is added).
   */
  paint(kind: EditKind, indices: ArrayLike<number>, value: number): LabelEdit | null {
    if (!Number.isInteger(value) || value < 0 || value > 255) throw new RangeError(`label value must be an integer 0..255, got ${value}`);
    return this.apply(kind, indices, new Uint8Array(indices.length).fill(value));
  }

  /**
   * Sets voxel `indices[i]` to label `values[i]` as one undoable edit (a viewer stroke that
   * drew, erased or filled; mixed values are one edit too). Only voxels that change are
   * recorded, the last value of a repeated index wins; null when nothing changes.
   */
  apply(kind: EditKind, indices: ArrayLike<number>, values: ArrayLike<number>): LabelEdit | null {
    if (values.length !== indices.length) throw new RangeError(`${indices.length} voxel indices but ${values.length} values`);
    const n = this.data.length;
    const target = new Map<number, number>();
    for (let i = 0; i < indices.length; i++) {
      const v = indices[i];
      const value = values[i];
      if (!Number.isInteger(v) || v < 0 || v >= n) throw new RangeError(`voxel index ${v} is outside the volume (${n} voxels)`);
      if (!Number.isInteger(value) || value < 0 || value > 255) throw new RangeError(`label value must be an integer 0..255, got ${value}`);
      // Duplicates must be recorded once, or undo would restore the new value.
      target.set(v, value);
    }
    const changed = [...target].filter(([v, value]) => this.data[v] !== value);
    if (changed.length === 0) return null;
    const unique = new Uint32Array(changed.length);
    const before = new Uint8Array(changed.length);
    const after = new Uint8Array(changed.length);
    changed.forEach(([v, value], i) => {
      unique[i] = v;
      before[i] = this.data[v];
      after[i] = value;
      this.data[v] = value;
    });
    const edit: LabelEdit = { kind, indices: unique, before, after };
    this.edits.length = this.applied;
    this.edits.push(edit);
    this.applied++;
    return edit;
  }

  /** Undoes the latest applied edit; returns the labels it restored, or null with nothing to undo. */
  undo(): LabelPatch | null {
    if (!this.canUndo) return null;
    const edit = this.edits[--this.applied];
    for (let i = 0; i < edit.indices.length; i++) this.data[edit.indices[i]] = edit.before[i];
    return { indices: edit.indices, values: edit.before };
  }

  /** Re-applies the next undone edit; returns the labels it set, or null with nothing to redo. */
  redo(): LabelPatch | null {
    if (!this.canRedo) return null;
    const edit = this.edits[this.applied++];
    for (let i = 0; i < edit.indices.length; i++) this.data[edit.indices[i]] = edit.after[i];
    return { indices: edit.indices, values: edit.after };
  }

  /**
   * Writes the labels to the annotation file (atomically) and marks the document clean as of
   * the call: an edit made while the file is written keeps it dirty.
   */
  async save(): Promise<void> {
    const top = this.top();
    await writeLabels(this.path, this.source, this.data);
    this.savedTop = top;
  }

  /** Writes the labels to `path`, which becomes the annotation file from now on. */
  async saveAs(path: string): Promise<void> {
    const top = this.top();
    await writeLabels(path, this.source, this.data);
    this.path = path;
    this.savedTop = top;
  }

  /** Reloads the annotation file (zeros when it does not exist), dropping edits and history. */
  async revert(maxBytes?: number): Promise<void> {
    const data = await readLabels(this.path, this.grid, { orEmpty: true, maxBytes });
    this.data = data;
    this.edits = [];
    this.applied = 0;
    this.savedTop = null;
  }

  /** Writes the unsaved labels to `path` (hot exit); `open(…, { backupPath })` restores them. */
  async backup(path: string): Promise<void> {
    await writeLabels(path, this.source, this.data);
  }

  private top(): LabelEdit | null {
    return this.applied > 0 ? this.edits[this.applied - 1] : null;
  }
}
