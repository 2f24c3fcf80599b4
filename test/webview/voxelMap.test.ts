/**
 * The viewer's voxel maps against the two real implementations they bridge: the engine's
 * canonical grid (toCanonical, headerGridOf) and NiiVue's own NVImage (decoded here in Node,
 * the same code the webview runs), on LPS, RAS, big-endian LAS, NIfTI-2 LIP and oblique files.
 * Then a NiiVue drawing action goes through the protocol and the AnnotationDocument to a saved
 * file: the labels sit voxel for voxel where NiiVue's own writer would put them on the source grid.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNifti, toCanonical } from '../../src/engine/nifti';
import { headerGridOf } from '../../src/engine/nifti/headerGrid';
import { AnnotationDocument } from '../../src/extension/model/annotationDocument';
import { parseWebviewMessage } from '../../src/shared/webviewProtocol';
import { VoxelMap } from '../../src/webview/voxelMap';

const GRID = join(__dirname, '..', 'fixtures', 'nifti', 'grid');
const FILES = ['lps.nii.gz', 'ras.nii.gz', 'las_be.nii', 'nifti2_lip.nii.gz', 'oblique.nii.gz'];
const tmp = mkdtempSync(join(tmpdir(), 'anyad-voxelmap-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface NvImage {
  permRAS: number[];
  dimsRAS: number[];
  img2RASstart: number[];
  img2RASstep: number[];
  img: ArrayLike<number>;
}
/** NiiVue's decode of a file (its package is ESM-only: imported dynamically). */
async function niivue(bytes: Buffer, name: string): Promise<NvImage> {
  const { NVImage } = await import('@niivue/niivue');
  const ab = Uint8Array.prototype.slice.call(bytes).buffer;
  return await (NVImage.new as unknown as (b: ArrayBuffer, n: string) => Promise<NvImage>)(ab, name);
}
/** NiiVue's own draw-order → storage-index rule (as its drawing writer uses it). */
function nativeIndex(nv: NvImage, j: number): number {
  const [, nx, ny] = nv.dimsRAS;
  const rx = j % nx;
  const ry = Math.floor(j / nx) % ny;
  const rz = Math.floor(j / (nx * ny));
  return (
    nv.img2RASstart[0] + rx * nv.img2RASstep[0] + nv.img2RASstart[1] + ry * nv.img2RASstep[1] + nv.img2RASstart[2] + rz * nv.img2RASstep[2]
  );
}

for (const file of FILES) {
  test(`${file}: canonical ↔ NiiVue draw order ↔ storage agree with the engine and with NiiVue`, async () => {
    const bytes = readFileSync(join(GRID, file));
    const grid = headerGridOf(bytes, file);
    const nv = await niivue(bytes, file);
    const map = new VoxelMap(grid.source.dims, grid.source.axes, nv);
    const read = readNifti(bytes, { file });
    const canonical = toCanonical(read.volume);
    assert.deepEqual(map.canonicalDims, canonical.dims);
    assert.deepEqual(grid.canonical.dims, canonical.dims, "headerGridOf gives toCanonical's grid");
    for (let k = 0; k < 16; k++) assert.ok(Math.abs(grid.canonical.affine[k] - canonical.affine[k]) < 1e-9, `canonical affine [${k}]`);
    const n = map.count;
    const seen = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      const i = map.drawToCanonicalIndex(j);
      assert.equal(map.canonicalToDrawIndex(i), j);
      const s = map.canonicalToStorageIndex(i);
      // The storage voxel NiiVue puts at draw index j is the one the engine puts at canonical i.
      assert.equal(s, nativeIndex(nv, j), `draw ${j} → canonical ${i} → storage ${s}`);
      assert.equal(canonical.data[i], read.volume.data[s]);
      seen[i]++;
    }
    assert.ok(
      seen.every((c) => c === 1),
      'a bijection',
    );
    // Whole-array reorders agree with the index maps; coordinates with indices.
    const ramp = Float32Array.from({ length: n }, (_, i) => i);
    const drawn = map.canonicalToDraw(ramp);
    for (let j = 0; j < n; j += 7) assert.equal(drawn[j], map.drawToCanonicalIndex(j));
    assert.deepEqual(map.drawToCanonical(drawn), ramp);
    const stored = map.canonicalToStorage(ramp);
    for (let i = 0; i < n; i += 5) assert.equal(stored[map.canonicalToStorageIndex(i)], i);
    const [cx, cy] = map.canonicalDims;
    const c = [1, 2, 1];
    const r = map.canonicalToDrawVoxel(c);
    assert.deepEqual(map.drawToCanonicalVoxel(r), c);
    const [dx, dy] = map.drawDims;
    assert.equal(r[0] + dx * (r[1] + dy * r[2]), map.canonicalToDrawIndex(c[0] + cx * (c[1] + cy * c[2])));
  });
}

test('a NiiVue drawing action on an oblique and an LPS file is saved voxel for voxel on the source grid', async () => {
  for (const file of ['oblique.nii.gz', 'lps.nii.gz']) {
    const bytes = readFileSync(join(GRID, file));
    const grid = headerGridOf(bytes, file);
    const nv = await niivue(bytes, file);
    const map = new VoxelMap(grid.source.dims, grid.source.axes, nv);
    // What the webview does after a stroke: the drawing bitmap's changes, as canonical indices.
    const bitmap = new Uint8Array(map.count);
    const painted = [0, 3, map.count - 1, Math.floor(map.count / 2)];
    painted.forEach((j, k) => {
      bitmap[j] = k + 1;
    });
    const changes = painted.map((j) => [map.drawToCanonicalIndex(j), bitmap[j]]).sort((a, b) => a[0] - b[0]);
    const raw = {
      type: 'drawEdit',
      kind: 'brush',
      indices: Uint32Array.from(changes.map((c) => c[0])).buffer,
      values: Uint8Array.from(changes.map((c) => c[1])).buffer,
    };
    const msg = parseWebviewMessage(raw, grid.canonical.dims);
    assert.ok(msg && msg.type === 'drawEdit');
    const path = join(tmp, `${file}_annot.nii.gz`);
    const doc = await AnnotationDocument.open(grid.canonical, path, { source: { ...grid.source, file } });
    const edit = doc.apply(msg.kind, new Uint32Array(msg.indices), new Uint8Array(msg.values));
    assert.equal(edit?.indices.length, painted.length);
    await doc.save();
    const saved = readNifti(path);
    assert.deepEqual(saved.volume.dims, grid.source.dims, 'same dims as the image');
    assert.deepEqual([...saved.volume.affine], [...readNifti(bytes).volume.affine], 'same affine as the image');
    for (let j = 0; j < map.count; j++) {
      assert.equal(saved.volume.data[nativeIndex(nv, j)], bitmap[j], `draw voxel ${j} (${file})`);
    }
  }
});
