/** Slice-plane geometry of the annotation tools: voxel indexing, brush strokes, closed-region fill. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closedRegionVoxels, planeShape, planeVoxelIndex, strokeVoxels } from '../../src/shared/planes';

const DIMS: [number, number, number] = [9, 7, 5];
const idx = (x: number, y: number, z: number) => x + 9 * (y + 7 * z);

test('plane coordinates map to canonical voxels: axial (x,y), coronal (x,z), sagittal (y,z)', () => {
  assert.deepEqual(planeShape(DIMS, 'axial'), { slices: 5, width: 9, height: 7 });
  assert.deepEqual(planeShape(DIMS, 'coronal'), { slices: 7, width: 9, height: 5 });
  assert.deepEqual(planeShape(DIMS, 'sagittal'), { slices: 9, width: 7, height: 5 });
  assert.equal(planeVoxelIndex(DIMS, 'axial', 3, 2, 4), idx(2, 4, 3));
  assert.equal(planeVoxelIndex(DIMS, 'coronal', 6, 8, 1), idx(8, 6, 1));
  assert.equal(planeVoxelIndex(DIMS, 'sagittal', 5, 2, 4), idx(5, 2, 4));
});

test('a brush dab is the disc of lattice points within the radius, clipped at the border', () => {
  assert.deepEqual([...strokeVoxels(DIMS, 'axial', 1, [4, 3], 0)], [idx(4, 3, 1)]);
  // Radius 1: the centre and its four neighbours.
  assert.deepEqual(
    [...strokeVoxels(DIMS, 'coronal', 2, [4, 2], 1)],
    [idx(4, 2, 1), idx(3, 2, 2), idx(4, 2, 2), idx(5, 2, 2), idx(4, 2, 3)].sort((a, b) => a - b),
  );
  // Radius 2 at a corner keeps the quarter disc: (0,0),(1,0),(2,0),(0,1),(1,1),(0,2).
  assert.equal(strokeVoxels(DIMS, 'sagittal', 0, [0, 0], 2).length, 6);
});

test('a stroke between distant points leaves no gap', () => {
  const line = strokeVoxels(DIMS, 'axial', 0, [0, 0, 8, 6], 0);
  // Every column 0..8 is hit, and consecutive cells are 8-connected.
  const cells = [...line].map((i) => [i % 9, Math.floor(i / 9)]).sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  assert.deepEqual([...new Set(cells.map((c) => c[0]))], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  for (let k = 1; k < cells.length; k++)
    assert.ok(Math.abs(cells[k][0] - cells[k - 1][0]) <= 1 && Math.abs(cells[k][1] - cells[k - 1][1]) <= 1);
});

test('fill takes the enclosed region on one slice only, and refuses an open one', () => {
  const labels = new Uint8Array(9 * 7 * 5);
  // Outline of the rectangle x 1..5, y 1..5 on axial slice 2 (interior 3×3 = 9 voxels).
  for (let x = 1; x <= 5; x++) for (const y of [1, 5]) labels[idx(x, y, 2)] = 1;
  for (let y = 1; y <= 5; y++) for (const x of [1, 5]) labels[idx(x, y, 2)] = 1;
  const inside = closedRegionVoxels(labels, DIMS, 'axial', 2, 3, 3)!;
  assert.equal(inside.length, 9);
  for (const i of inside) {
    const x = i % 9;
    const y = Math.floor(i / 9) % 7;
    const z = Math.floor(i / 63);
    assert.ok(z === 2 && x >= 2 && x <= 4 && y >= 2 && y <= 4);
  }
  assert.equal(closedRegionVoxels(labels, DIMS, 'axial', 2, 7, 3), null, 'outside the outline reaches the border');
  assert.equal(closedRegionVoxels(labels, DIMS, 'axial', 1, 3, 3), null, 'the outline is on slice 2 only');
  // Clicking the outline itself fills the outline's connected label-1 voxels... which touch no border: 16 voxels.
  assert.equal(closedRegionVoxels(labels, DIMS, 'axial', 2, 1, 1)!.length, 16);
});
