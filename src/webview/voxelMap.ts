/**
 * Voxel orders the viewer juggles, and exact maps between them. Pure, no DOM: unit-tested
 * against the engine and against NiiVue's own NVImage in Node.
 *
 * - storage: the file's order (x fastest over sourceDims) — NVImage.img, files on disk;
 * - canonical: the engine's RAS order (toCanonical; canonical axis w = storage axis
 *   axes[w].axis, reversed when axes[w].flip) — the annotation document, anomaly maps;
 * - draw: NiiVue's RAS-permuted order (NVImage.permRAS / dimsRAS) — its drawing bitmap and
 *   the voxel coordinates of its crosshair. NiiVue picks its permutation on its own, so it is
 *   read from the decoded image, never assumed equal to ours (they differ for oblique data).
 */
import type { Dims3, GridAxis } from '../shared/webviewProtocol';

/** What the map needs from a decoded NVImage. */
export interface NiivueGrid {
  /** [ndim, nx, ny, nz] in NiiVue's RAS order. */
  dimsRAS: ArrayLike<number>;
  /** ±(1-based storage axis) per RAS axis; negative = reversed. */
  permRAS: ArrayLike<number>;
}

/** index = base + Σ coord[w]·step[w] of one order, walked over the other order's coordinates. */
interface Walk {
  dims: Dims3;
  base: number;
  step: Dims3;
}

export class VoxelMap {
  readonly count: number;
  /** Canonical dims and NiiVue's draw dims. */
  readonly canonicalDims: Dims3;
  readonly drawDims: Dims3;
  /** Per canonical axis: the draw axis it is, and whether it runs the other way. */
  private readonly canonToDrawAxis: { axis: number; flip: boolean }[];
  private readonly canonToDraw: Walk;
  private readonly drawToCanon: Walk;
  private readonly canonToStorage: Walk;

  constructor(
    readonly sourceDims: Dims3,
    readonly axes: readonly GridAxis[],
    nv: NiivueGrid,
  ) {
    this.count = sourceDims[0] * sourceDims[1] * sourceDims[2];
    this.canonicalDims = axes.map((a) => sourceDims[a.axis]) as Dims3;
    const drawStorage = [0, 1, 2].map((p) => ({ axis: Math.abs(nv.permRAS[p]) - 1, flip: nv.permRAS[p] < 0 }));
    this.drawDims = drawStorage.map((d) => sourceDims[d.axis]) as Dims3;
    if (this.drawDims.some((d, p) => d !== nv.dimsRAS[p + 1]) || new Set(drawStorage.map((d) => d.axis)).size !== 3) {
      throw new Error(
        `NiiVue's grid ${Array.from(nv.dimsRAS).slice(1).join('×')} (perm ${Array.from(nv.permRAS).join(',')}) is not a reordering of ${sourceDims.join('×')}`,
      );
    }
    this.canonToDrawAxis = axes.map((a) => {
      const p = drawStorage.findIndex((d) => d.axis === a.axis);
      return { axis: p, flip: a.flip !== drawStorage[p].flip };
    });
    this.canonToDraw = walk(this.canonicalDims, this.drawDims, this.canonToDrawAxis);
    // The inverse: per draw axis, the canonical axis it is.
    const drawToCanonAxis = [0, 1, 2].map((p) => {
      const w = this.canonToDrawAxis.findIndex((c) => c.axis === p);
      return { axis: w, flip: this.canonToDrawAxis[w].flip };
    });
    this.drawToCanon = walk(this.drawDims, this.canonicalDims, drawToCanonAxis);
    this.canonToStorage = walk(this.canonicalDims, sourceDims, axes);
  }

  /** Draw-order voxel coordinates of canonical voxel `c`. */
  canonicalToDrawVoxel(c: readonly number[]): Dims3 {
    const out: Dims3 = [0, 0, 0];
    this.canonToDrawAxis.forEach(({ axis, flip }, w) => {
      out[axis] = flip ? this.canonicalDims[w] - 1 - c[w] : c[w];
    });
    return out;
  }

  /** Canonical voxel coordinates of draw-order voxel `r` (NiiVue's crosshair `vox`). */
  drawToCanonicalVoxel(r: readonly number[]): Dims3 {
    const out: Dims3 = [0, 0, 0];
    this.canonToDrawAxis.forEach(({ axis, flip }, w) => {
      out[w] = flip ? this.drawDims[axis] - 1 - r[axis] : r[axis];
    });
    return out;
  }

  canonicalToDrawIndex(i: number): number {
    return at(this.canonToDraw, this.canonicalDims, i);
  }
  drawToCanonicalIndex(j: number): number {
    return at(this.drawToCanon, this.drawDims, j);
  }
  canonicalToStorageIndex(i: number): number {
    return at(this.canonToStorage, this.canonicalDims, i);
  }

  /** A whole canonical volume in draw order (annotation → NiiVue's drawing bitmap). */
  canonicalToDraw<T extends Uint8Array | Float32Array>(data: T): T {
    return reorder(data, this.canonToDraw);
  }
  /** A whole draw-order volume in canonical order. */
  drawToCanonical<T extends Uint8Array | Float32Array>(data: T): T {
    return reorder(data, this.drawToCanon);
  }
  /** A whole canonical volume in the file's storage order (an anomaly map → an NVImage's img). */
  canonicalToStorage<T extends Uint8Array | Float32Array>(data: T): T {
    return reorder(data, this.canonToStorage);
  }
}

/** Where each voxel of an order with `fromDims` lands in an order with `toDims`, axis w of `from` being axis map[w].axis of `to`. */
function walk(fromDims: Dims3, toDims: Dims3, map: readonly { axis: number; flip: boolean }[]): Walk {
  const stride = [1, toDims[0], toDims[0] * toDims[1]];
  let base = 0;
  const step: Dims3 = [0, 0, 0];
  map.forEach(({ axis, flip }, w) => {
    step[w] = flip ? -stride[axis] : stride[axis];
    if (flip) base += (toDims[axis] - 1) * stride[axis];
  });
  return { dims: fromDims, base, step };
}

function at(w: Walk, dims: Dims3, i: number): number {
  const x = i % dims[0];
  const r = (i - x) / dims[0];
  const y = r % dims[1];
  const z = (r - y) / dims[1];
  return w.base + x * w.step[0] + y * w.step[1] + z * w.step[2];
}

function reorder<T extends Uint8Array | Float32Array>(data: T, w: Walk): T {
  const [nx, ny, nz] = w.dims;
  if (data.length !== nx * ny * nz) throw new RangeError(`${data.length} values for a ${w.dims.join('×')} grid`);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const [s0, s1, s2] = w.step;
  let k = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      let p = w.base + z * s2 + y * s1;
      for (let x = 0; x < nx; x++, p += s0) out[p] = data[k++];
    }
  }
  return out;
}
