/**
 * The annotation document model: edits, undo/redo, dirty state, and save / revert / backup
 * round trips through real NIfTI files (read back with the engine's reader, grid checked
 * with sameGrid). The source volume is stored LPS so the canonical grid differs from storage;
 * saved files are on the source's grid (LPS order, its affine), not the canonical one.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadVolumeWithSource, readNifti, sameGrid, toCanonical, writeNifti } from '../../src/engine/nifti';
import { NiftiError } from '../../src/engine/errors';
import { AnnotationDocument, defaultAnnotationPath } from '../../src/extension/model/annotationDocument';
import { planeVoxelIndex, strokeVoxels } from '../../src/shared/planes';

/** Temp folders of this file, removed when its tests end. */
const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'anyad-annot-'));
  tempDirs.push(d);
  return d;
}
after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

const DIMS: [number, number, number] = [12, 10, 8];
// LPS storage: x runs to the left, y to posterior; toCanonical flips both.
const LPS_AFFINE = [-2, 0, 0, 30, 0, -2, 0, 40, 0, 0, 3, -10, 0, 0, 0, 1];

function sourceGrid(dir: string) {
  const n = DIMS[0] * DIMS[1] * DIMS[2];
  const data = new Float32Array(n).map((_, i) => (i * 7) % 100);
  const path = join(dir, 'case1_flair.nii.gz');
  writeNifti(path, { dims: DIMS, affine: LPS_AFFINE, data });
  const { volume: canonical, source } = loadVolumeWithSource(path);
  return { path, canonical, source };
}

async function fresh() {
  const dir = tempDir();
  const { path, canonical, source } = sourceGrid(dir);
  const annot = defaultAnnotationPath(path, 'case1');
  return { dir, path, canonical, source, annot, doc: await AnnotationDocument.open(canonical, annot, { source }) };
}

const count = (a: Uint8Array, v: number) => a.reduce((s, x) => s + (x === v ? 1 : 0), 0);

test('annotation path: <case>_annot.nii.gz beside the file, else the file stem', async () => {
  assert.equal(defaultAnnotationPath('/d/BraTS_001_flair.nii.gz', 'BraTS_001'), '/d/BraTS_001_annot.nii.gz');
  assert.equal(defaultAnnotationPath('/d/scan.nii'), '/d/scan_annot.nii.gz');
  assert.equal(defaultAnnotationPath('/d/brain.NII.GZ'), '/d/brain_annot.nii.gz');
});

test('a new annotation is all zeros on the canonical grid, clean, with nothing to undo', async () => {
  const { doc, canonical, annot } = await fresh();
  assert.equal(doc.labels.length, canonical.data.length);
  assert.equal(count(doc.labels, 0), doc.labels.length);
  assert.equal(doc.dirty, false);
  assert.equal(doc.canUndo, false);
  assert.equal(doc.undo(), null);
  assert.equal(doc.annotationPath, annot);
  assert.equal(existsSync(annot), false, 'opening does not write');
});

test('brush edit records only changed voxels once; undo/redo restore exact labels; dirty follows', async () => {
  const { doc } = await fresh();
  // A radius-2 disc has 13 lattice points (x² + y² ≤ 4).
  const disc = strokeVoxels(DIMS, 'axial', 3, [5, 5], 2);
  assert.equal(disc.length, 13);
  const e1 = doc.paint('brush', [...disc, ...disc], 2)!;
  assert.equal(e1.indices.length, 13, 'duplicates recorded once');
  assert.equal(count(doc.labels, 2), 13);
  assert.equal(doc.dirty, true);
  // Overlapping eraser: only voxels that held a label change.
  const e2 = doc.paint('eraser', strokeVoxels(DIMS, 'axial', 3, [6, 5], 0), 0)!;
  assert.equal(e2.indices.length, 1);
  assert.deepEqual([...e2.before], [2]);
  assert.equal(doc.paint('eraser', [0, 1, 2], 0), null, 'no change, no edit');
  assert.equal(count(doc.labels, 2), 12);
  const u = doc.undo()!;
  assert.deepEqual([...u.values], [2]);
  assert.equal(count(doc.labels, 2), 13);
  doc.undo();
  assert.equal(count(doc.labels, 0), doc.labels.length);
  assert.equal(doc.dirty, false, 'back at the saved (empty) state');
  doc.redo();
  assert.equal(count(doc.labels, 2), 13);
  assert.equal(doc.dirty, true);
  // A new edit after undo drops the redo branch.
  doc.paint('fill', [0], 5);
  assert.equal(doc.canRedo, false);
  assert.throws(() => doc.paint('brush', [doc.labels.length], 1), RangeError);
  assert.throws(() => doc.paint('brush', [0], 256), RangeError);
});

test('save writes a uint8 NIfTI on the same grid; stroke voxels read back; dirty tracks the saved edit', async () => {
  const { doc, canonical, source, annot, path } = await fresh();
  const stroke = strokeVoxels(DIMS, 'coronal', 4, [2, 1, 8, 6], 1);
  doc.paint('brush', stroke, 3);
  await doc.save();
  assert.equal(doc.dirty, false);
  const back = readNifti(annot);
  assert.equal(back.header.datatype, 'uint8');
  assert.equal(back.compressed, true);
  assert.ok(sameGrid(back.volume, readNifti(path).volume), "stored in the opened file's (LPS) order with its affine");
  assert.equal(back.header.orientation, 'LPS');
  const vol = toCanonical(back.volume);
  assert.ok(sameGrid(vol, canonical), 'annotation lies on the opened volume grid');
  assert.equal(
    vol.data.reduce((s, v) => s + (v === 3 ? 1 : 0), 0),
    stroke.length,
  );
  for (const i of stroke) assert.equal(vol.data[i], 3);
  // Undoing past the save makes it dirty again; redoing to it makes it clean.
  doc.undo();
  assert.equal(doc.dirty, true);
  doc.redo();
  assert.equal(doc.dirty, false);
  // The saved file reopens as the annotation, clean.
  const again = await AnnotationDocument.open(canonical, annot, { source });
  assert.deepEqual(again.labels, doc.labels);
  assert.equal(again.dirty, false);
});

test('save as writes elsewhere and moves the annotation there', async () => {
  const { doc, canonical, dir } = await fresh();
  doc.paint('brush', [planeVoxelIndex(DIMS, 'axial', 0, 0, 0)], 9);
  const other = join(dir, 'elsewhere', 'mine.nii');
  await doc.saveAs(other);
  assert.equal(doc.annotationPath, other);
  assert.equal(doc.dirty, false);
  const vol = toCanonical(readNifti(other).volume);
  assert.ok(sameGrid(vol, canonical));
  assert.equal(vol.data[0], 9);
});

test('revert reloads the file and drops the history', async () => {
  const { doc, canonical } = await fresh();
  doc.paint('brush', [10, 11], 1);
  await doc.save();
  doc.paint('brush', [20, 21, 22], 4);
  doc.paint('eraser', [10], 0);
  await doc.revert();
  assert.equal(doc.dirty, false);
  assert.equal(doc.canUndo, false);
  assert.equal(doc.canRedo, false);
  assert.deepEqual([...doc.labels.slice(10, 12)], [1, 1]);
  assert.equal(count(doc.labels, 0), canonical.data.length - 2);
});

test('backup then restore: same labels, dirty until saved, saving goes to the annotation file', async () => {
  const { doc, canonical, source, annot, dir } = await fresh();
  const stroke = strokeVoxels(DIMS, 'sagittal', 7, [1, 1, 1, 6], 1);
  doc.paint('brush', stroke, 7);
  const backup = join(dir, 'backups', 'abc123');
  await doc.backup(backup);
  assert.equal(existsSync(annot), false, 'a backup is not a save');
  const restored = await AnnotationDocument.open(canonical, annot, { source, backupPath: backup });
  assert.deepEqual(restored.labels, doc.labels);
  assert.equal(restored.dirty, true);
  await restored.save();
  assert.equal(restored.dirty, false);
  const vol = toCanonical(readNifti(annot).volume);
  assert.ok(sameGrid(vol, canonical));
  for (const i of stroke) assert.equal(vol.data[i], 7);
});

test('an annotation on another grid or with non-label values is refused with a typed error', async () => {
  const { canonical, source, dir } = await fresh();
  const wrongGrid = join(dir, 'wrong.nii.gz');
  writeNifti(wrongGrid, { dims: [12, 10, 7], affine: LPS_AFFINE, data: new Float32Array(12 * 10 * 7) }, { datatype: 'uint8' });
  await assert.rejects(
    () => AnnotationDocument.open(canonical, wrongGrid, { source }),
    (e: unknown) => e instanceof NiftiError && e.code === 'nifti/grid-mismatch' && e.message.includes(wrongGrid),
  );
  const fractional = join(dir, 'frac.nii.gz');
  const data = new Float32Array(canonical.data.length);
  data[5] = 1.5;
  writeNifti(fractional, { dims: canonical.dims, affine: canonical.affine, data });
  await assert.rejects(
    () => AnnotationDocument.open(canonical, fractional, { source }),
    (e: unknown) => e instanceof NiftiError && e.code === 'nifti/bad-label',
  );
});

test('an annotation stored RAS (canonical order) by an earlier version still opens', async () => {
  const { canonical, source, dir } = await fresh();
  const old = join(dir, 'old_annot.nii.gz');
  const data = new Float32Array(canonical.data.length);
  data[7] = 2;
  writeNifti(old, { dims: canonical.dims, affine: canonical.affine, data }, { datatype: 'uint8' });
  const doc = await AnnotationDocument.open(canonical, old, { source });
  assert.equal(doc.labels[7], 2);
  assert.equal(count(doc.labels, 0), doc.labels.length - 1);
});

test('a source grid that does not reorient to the label grid is refused', async () => {
  const { canonical, source, annot } = await fresh();
  const other = { ...canonical, dims: [canonical.dims[1], canonical.dims[0], canonical.dims[2]] as [number, number, number] };
  await assert.rejects(
    () => AnnotationDocument.open(other, annot, { source }),
    (e: unknown) => e instanceof NiftiError && e.code === 'nifti/grid-mismatch',
  );
});

test('apply: one edit with mixed values (a NiiVue action that drew and erased), undone and redone exactly', async () => {
  const { doc } = await fresh();
  doc.paint('brush', [1, 2], 3);
  const edit = doc.apply('brush', [2, 5, 6, 5], [0, 4, 7, 9])!;
  assert.deepEqual(
    [...edit.indices].sort((a, b) => a - b),
    [2, 5, 6],
  );
  assert.deepEqual([doc.labels[1], doc.labels[2], doc.labels[5], doc.labels[6]], [3, 0, 9, 7], 'the last value of a repeated index wins');
  doc.undo();
  assert.deepEqual([doc.labels[2], doc.labels[5], doc.labels[6]], [3, 0, 0]);
  const redo = doc.redo()!;
  assert.deepEqual([doc.labels[2], doc.labels[5], doc.labels[6]], [0, 9, 7]);
  assert.equal(redo.values.length, 3);
  assert.throws(() => doc.apply('brush', [0], [256]), RangeError);
  assert.throws(() => doc.apply('brush', [0, 1], [1]), RangeError);
  assert.equal(doc.apply('fill', [1], [3]), null, 'no change, no edit');
});

test("the annotation's file work runs off the calling thread: the event loop keeps turning while a large annotation is read and written", async () => {
  // 200×200×150 voxels: tens of ms of inflating and checking that must not hold the extension host.
  const dir = tempDir();
  const dims: [number, number, number] = [200, 200, 150];
  const path = join(dir, 'big_flair.nii.gz');
  writeNifti(path, { dims, affine: LPS_AFFINE, data: new Float32Array(dims[0] * dims[1] * dims[2]) }, { datatype: 'uint8' });
  const { volume: canonical, source } = loadVolumeWithSource(path);
  const annot = defaultAnnotationPath(path, 'big');
  const doc = await AnnotationDocument.open(canonical, annot, { source });
  doc.paint('brush', [0, 12345, doc.labels.length - 1], 3);
  const turnsDuring = async (work: Promise<unknown>) => {
    let turns = 0;
    let done = false;
    const spin = () => {
      if (done) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    await work;
    done = true;
    return turns;
  };
  // In-thread work would finish before the first setImmediate: at most one turn.
  assert.ok((await turnsDuring(doc.save())) > 1, 'save ran on the calling thread');
  const reopened = AnnotationDocument.open(canonical, annot, { source });
  assert.ok((await turnsDuring(reopened)) > 1, 'open ran on the calling thread');
  assert.deepEqual((await reopened).labels, doc.labels);
});
