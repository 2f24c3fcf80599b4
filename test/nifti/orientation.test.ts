/**
 * Orientation: one anatomy written RAS, LPS, LAS (and permuted) by our writer, with data and
 * affine reordered by index arithmetic written out here, must load to identical canonical
 * volumes. Also the slice convention, stats and grid comparison.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  axialSlice,
  coronalSlice,
  loadVolume,
  orientationCode,
  readNifti,
  sagittalSlice,
  sameGrid,
  toCanonical,
  volumeStats,
  writeNifti,
  type Volume,
} from '../../src/engine/nifti';
import { assertAllClose, assertNiftiError, makeTempDir, seededRandom } from './helpers';

const tmp = makeTempDir('nifti-orient');
after(tmp.cleanup);

/** The reference anatomy: RAS storage, 9×7×5 voxels of 1.0×1.5×2.0 mm, asymmetric content. */
function rasVolume(): Volume {
  const dims: [number, number, number] = [9, 7, 5];
  const rand = seededRandom(99);
  const data = Float32Array.from({ length: 9 * 7 * 5 }, () => Math.round(rand() * 1000));
  const affine = new Float64Array([1, 0, 0, -4, 0, 1.5, 0, -4.5, 0, 0, 2, -4, 0, 0, 0, 1]);
  return { dims, spacing: [1, 1.5, 2], affine, data };
}

/**
 * Stored axis k = RAS axis perm[k], reversed where flips[k]. Data moved voxel by voxel; the
 * affine column k is ± RAS column perm[k], and the offset is the world position of the new
 * voxel (0,0,0) — written out directly, not through toCanonical.
 */
function restore(ras: Volume, perm: [number, number, number], flips: [boolean, boolean, boolean]): Volume {
  const dims = perm.map((a) => ras.dims[a]) as [number, number, number];
  const data = new Float32Array(ras.data.length);
  const src = [0, 0, 0];
  for (let k2 = 0; k2 < dims[2]; k2++)
    for (let k1 = 0; k1 < dims[1]; k1++)
      for (let k0 = 0; k0 < dims[0]; k0++) {
        const k = [k0, k1, k2];
        for (let s = 0; s < 3; s++) src[perm[s]] = flips[s] ? dims[s] - 1 - k[s] : k[s];
        data[k0 + dims[0] * (k1 + dims[1] * k2)] = ras.data[src[0] + ras.dims[0] * (src[1] + ras.dims[1] * src[2])];
      }
  const affine = new Float64Array(16);
  affine[15] = 1;
  for (let i = 0; i < 3; i++) {
    let offset = ras.affine[i * 4 + 3];
    for (let s = 0; s < 3; s++) {
      const col = ras.affine[i * 4 + perm[s]];
      affine[i * 4 + s] = flips[s] ? -col : col;
      if (flips[s]) offset += col * (dims[s] - 1);
    }
    affine[i * 4 + 3] = offset;
  }
  return { dims, spacing: perm.map((a) => ras.spacing[a]) as [number, number, number], affine, data };
}

test('RAS, LPS, LAS and a permuted storage load to identical canonical volumes and slices', () => {
  const ras = rasVolume();
  const variants: [string, [number, number, number], [boolean, boolean, boolean]][] = [
    ['RAS', [0, 1, 2], [false, false, false]],
    ['LPS', [0, 1, 2], [true, true, false]],
    ['LAS', [0, 1, 2], [true, false, false]],
    ['PSL', [1, 2, 0], [true, false, true]],
    ['IRP', [2, 0, 1], [true, false, true]],
  ];
  const loaded: Volume[] = [];
  for (const [code, perm, flips] of variants) {
    const path = join(tmp.dir, `anatomy_${code}.nii.gz`);
    writeNifti(path, restore(ras, perm, flips), { datatype: 'int16' });
    assert.equal(readNifti(path).header.orientation, code, `${code} file orientation`);
    loaded.push(loadVolume(path));
  }
  for (const [i, vol] of loaded.entries()) {
    const code = variants[i][0];
    assert.deepEqual(vol.dims, ras.dims, `${code} dims`);
    assert.deepEqual(
      vol.spacing.map((s) => Math.fround(s)),
      ras.spacing.map((s) => Math.fround(s)),
      `${code} spacing`,
    );
    assertAllClose(vol.affine, ras.affine, 0, 1e-5, `${code} canonical affine`);
    assert.deepEqual(vol.data, ras.data, `${code} canonical data`);
    for (let z = 0; z < ras.dims[2]; z++) assert.deepEqual(axialSlice(vol, z), axialSlice(ras, z), `${code} axial ${z}`);
    for (let y = 0; y < ras.dims[1]; y++) assert.deepEqual(coronalSlice(vol, y), coronalSlice(ras, y), `${code} coronal ${y}`);
    for (let x = 0; x < ras.dims[0]; x++) assert.deepEqual(sagittalSlice(vol, x), sagittalSlice(ras, x), `${code} sagittal ${x}`);
  }
});

test('toCanonical keeps every voxel at its world position', () => {
  const vol = restore(rasVolume(), [2, 0, 1], [false, true, true]);
  const canon = toCanonical(vol);
  assert.equal(orientationCode(canon.affine), 'RAS');
  const world = (a: Float64Array, i: number, j: number, k: number) =>
    [0, 1, 2].map((r) => a[r * 4] * i + a[r * 4 + 1] * j + a[r * 4 + 2] * k + a[r * 4 + 3]);
  const index = (v: Volume, i: number, j: number, k: number) => i + v.dims[0] * (j + v.dims[1] * k);
  const rand = seededRandom(5);
  for (let n = 0; n < 50; n++) {
    const [i, j, k] = [0, 1, 2].map((a) => Math.floor(rand() * vol.dims[a]));
    const w = world(vol.affine, i, j, k);
    // Invert the (axis-aligned) canonical affine: diagonal entries only.
    const c = [0, 1, 2].map((r) => Math.round((w[r] - canon.affine[r * 4 + 3]) / canon.affine[r * 5]));
    assert.equal(canon.data[index(canon, c[0], c[1], c[2])], vol.data[index(vol, i, j, k)]);
  }
  const ras = rasVolume();
  assert.equal(toCanonical(ras), ras, 'already canonical: returned as is');
});

test('orientationCode names the direction each voxel axis increases towards', () => {
  const diag = (x: number, y: number, z: number) => [x, 0, 0, 0, 0, y, 0, 0, 0, 0, z, 0, 0, 0, 0, 1];
  assert.equal(orientationCode(diag(1, 1, 1)), 'RAS');
  assert.equal(orientationCode(diag(-1, -1, 1)), 'LPS');
  assert.equal(orientationCode(diag(-1, 1, 1)), 'LAS');
  assert.equal(orientationCode(diag(1, -1, -1)), 'RPI');
  // Column k = voxel axis k: axis 0 along −z, axis 1 along +x, axis 2 along −y.
  assert.equal(orientationCode([0, 2, 0, 0, 0, 0, -3, 0, -1, 0, 0, 0, 0, 0, 0, 1]), 'IRP');
  // 40° oblique in the x–y plane: still mostly R and A; never the same world axis twice.
  const t = (40 * Math.PI) / 180;
  assert.equal(orientationCode([Math.cos(t), -Math.sin(t), 0, 0, Math.sin(t), Math.cos(t), 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), 'RAS');
  const u = (50 * Math.PI) / 180;
  assert.equal(orientationCode([Math.cos(u), -Math.sin(u), 0, 0, Math.sin(u), Math.cos(u), 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), 'ALS');
});

test('slices follow the documented row/column convention', () => {
  const vol = rasVolume();
  const [nx, ny, nz] = vol.dims;
  const at = (x: number, y: number, z: number) => vol.data[x + nx * (y + ny * z)];
  const ax = axialSlice(vol, 3);
  assert.deepEqual([ax.width, ax.height], [nx, ny]);
  const co = coronalSlice(vol, 2);
  assert.deepEqual([co.width, co.height], [nx, nz]);
  const sa = sagittalSlice(vol, 4);
  assert.deepEqual([sa.width, sa.height], [ny, nz]);
  for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) assert.equal(ax.data[r * nx + c], at(c, r, 3));
  for (let r = 0; r < nz; r++) for (let c = 0; c < nx; c++) assert.equal(co.data[r * nx + c], at(c, 2, r));
  for (let r = 0; r < nz; r++) for (let c = 0; c < ny; c++) assert.equal(sa.data[r * ny + c], at(4, c, r));
  assertNiftiError(() => axialSlice(vol, nz), 'nifti/slice-index');
  assertNiftiError(() => coronalSlice(vol, -1), 'nifti/slice-index');
  assertNiftiError(() => sagittalSlice(vol, 1.5), 'nifti/slice-index');
});

test('volumeStats and sameGrid', () => {
  const data = new Float32Array([0, -2, 4, 0, 8.5, 1]);
  const s = volumeStats({ data });
  assert.deepEqual(s, { count: 6, min: -2, max: 8.5, mean: 11.5 / 6, nonZero: 4 });
  const a = rasVolume();
  const b = { ...a, affine: new Float64Array(a.affine) };
  assert.ok(sameGrid(a, b));
  b.affine[3] += 5e-4;
  assert.ok(sameGrid(a, b), 'within the default 1e-3 mm');
  assert.ok(!sameGrid(a, b, 1e-4));
  b.affine[3] += 0.1;
  assert.ok(!sameGrid(a, b), 'shifted origin');
  assert.ok(!sameGrid(a, { ...a, dims: [9, 7, 6] }), 'different dims');
  const lps = restore(a, [0, 1, 2], [true, true, false]);
  assert.ok(!sameGrid(a, lps), 'same anatomy, different storage order');
  assert.ok(sameGrid(a, toCanonical(lps), 1e-9));
});
