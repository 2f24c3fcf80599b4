/**
 * Slice planes of a canonical (RAS) volume and the voxel sets the annotation tools touch.
 * Pure TypeScript with no Node or DOM imports: the host applies edits with it and the
 * webview uses the same code for its immediate preview, so both agree voxel for voxel.
 *
 * In-plane coordinates (a, b) are canonical voxel coordinates of the plane's two in-plane
 * axes in increasing axis order: axial (x, y), coronal (x, z), sagittal (y, z). How they
 * are flipped on screen (radiological/neurological) is the viewer's business only.
 */

export type Plane = 'axial' | 'coronal' | 'sagittal';
export const PLANES: readonly Plane[] = ['axial', 'coronal', 'sagittal'];
export type Dims = readonly [number, number, number];

/** The canonical axis a plane's slices step along, and its two in-plane axes (a, b). */
export const PLANE_AXES: Record<Plane, { slice: 0 | 1 | 2; a: 0 | 1 | 2; b: 0 | 1 | 2 }> = {
  axial: { slice: 2, a: 0, b: 1 },
  coronal: { slice: 1, a: 0, b: 2 },
  sagittal: { slice: 0, a: 1, b: 2 },
};

/** Number of slices of `plane` and its in-plane size (a, b). */
export function planeShape(dims: Dims, plane: Plane): { slices: number; width: number; height: number } {
  const ax = PLANE_AXES[plane];
  return { slices: dims[ax.slice], width: dims[ax.a], height: dims[ax.b] };
}

/** Linear voxel index (x fastest) of in-plane point (a, b) on slice `slice` of `plane`. */
export function planeVoxelIndex(dims: Dims, plane: Plane, slice: number, a: number, b: number): number {
  const p = [0, 0, 0];
  const ax = PLANE_AXES[plane];
  p[ax.slice] = slice;
  p[ax.a] = a;
  p[ax.b] = b;
  return p[0] + dims[0] * (p[1] + dims[1] * p[2]);
}

/**
 * Voxels covered by a brush stroke: discs of `radius` voxels (radius 0 = one voxel) centred
 * on each point of the polyline `points` ([a0, b0, a1, b1, …]), with segments between
 * consecutive points filled so a fast drag leaves no gaps. Sorted, unique, clipped to the slice.
 */
/**
 * The work strokeVoxels does for these points and radius, in voxel visits: one brush stamp of
 * (2⌈r⌉+1)² voxels per half-voxel step along each segment. The webview bounds points and
 * radius, but long jumps with a big brush still multiply to minutes; callers check this first.
 */
export function strokeCost(points: ArrayLike<number>, radius: number): number {
  const side = 2 * Math.ceil(Math.max(0, radius)) + 1;
  let stamps = points.length >= 2 ? 1 : 0;
  for (let i = 2; i + 1 < points.length; i += 2) {
    stamps += Math.max(1, Math.ceil(Math.hypot(points[i] - points[i - 2], points[i + 1] - points[i - 1]) * 2));
  }
  return stamps * side * side;
}

export function strokeVoxels(dims: Dims, plane: Plane, slice: number, points: ArrayLike<number>, radius: number): Uint32Array {
  const { width, height } = planeShape(dims, plane);
  const covered = new Uint8Array(width * height);
  const r = Math.max(0, radius);
  const r2 = r * r + 1e-9;
  const ri = Math.ceil(r);
  const stamp = (ca: number, cb: number): void => {
    const a0 = Math.round(ca);
    const b0 = Math.round(cb);
    for (let db = -ri; db <= ri; db++) {
      const b = b0 + db;
      if (b < 0 || b >= height) continue;
      for (let da = -ri; da <= ri; da++) {
        const a = a0 + da;
        if (a < 0 || a >= width || da * da + db * db > r2) continue;
        covered[a + width * b] = 1;
      }
    }
  };
  const n = Math.floor(points.length / 2);
  for (let i = 0; i < n; i++) {
    const a = points[2 * i];
    const b = points[2 * i + 1];
    if (i === 0) {
      stamp(a, b);
      continue;
    }
    const pa = points[2 * i - 2];
    const pb = points[2 * i - 1];
    const steps = Math.max(1, Math.ceil(Math.hypot(a - pa, b - pb) * 2));
    for (let s = 1; s <= steps; s++) stamp(pa + ((a - pa) * s) / steps, pb + ((b - pb) * s) / steps);
  }
  return planeCellsToVoxels(dims, plane, slice, covered, width, height);
}

/**
 * The closed region around seed (a, b) on one slice: every voxel 4-connected to the seed
 * that has the seed's label. Returns null when that region reaches the slice's border,
 * i.e. it is not enclosed (filling it would paint the background of the whole slice).
 */
export function closedRegionVoxels(labels: Uint8Array, dims: Dims, plane: Plane, slice: number, a: number, b: number): Uint32Array | null {
  const { width, height } = planeShape(dims, plane);
  const seedValue = labels[planeVoxelIndex(dims, plane, slice, a, b)];
  const inRegion = new Uint8Array(width * height);
  const stack = [a + width * b];
  inRegion[a + width * b] = 1;
  for (let cell = stack.pop(); cell !== undefined; cell = stack.pop()) {
    const ca = cell % width;
    const cb = (cell - ca) / width;
    if (ca === 0 || cb === 0 || ca === width - 1 || cb === height - 1) return null;
    for (const next of [cell - 1, cell + 1, cell - width, cell + width]) {
      if (inRegion[next]) continue;
      const na = next % width;
      const nb = (next - na) / width;
      if (labels[planeVoxelIndex(dims, plane, slice, na, nb)] !== seedValue) continue;
      inRegion[next] = 1;
      stack.push(next);
    }
  }
  return planeCellsToVoxels(dims, plane, slice, inRegion, width, height);
}

function planeCellsToVoxels(dims: Dims, plane: Plane, slice: number, cells: Uint8Array, width: number, height: number): Uint32Array {
  const out: number[] = [];
  for (let b = 0; b < height; b++)
    for (let a = 0; a < width; a++) if (cells[a + width * b]) out.push(planeVoxelIndex(dims, plane, slice, a, b));
  return Uint32Array.from(out).sort();
}
