/**
 * Smooth seeded 3-D value noise: random values on a coarse lattice, interpolated with
 * smoothstep weights. Cheap enough to sample per voxel; used for shape deformation,
 * cortical folding, lesion borders and bias fields.
 */
import type { Rng } from '../util/random';

export class ValueNoise3D {
  private readonly values: Float32Array;
  private readonly gx: number;
  private readonly gxy: number;
  private readonly inv: number;
  private readonly max: [number, number, number];

  /**
   * @param extent voxel extent the noise will be sampled over (coordinates from -spacing to
   *   extent + spacing are valid; others are clamped)
   * @param spacing lattice spacing in voxels (feature size)
   */
  constructor(rng: Rng, extent: readonly [number, number, number], spacing: number) {
    if (!(spacing > 0)) throw new RangeError(`ValueNoise3D: spacing must be positive, got ${spacing}`);
    this.inv = 1 / spacing;
    // One extra cell on each side: sample coordinates are shifted by +1 cell.
    const g = extent.map((e) => Math.ceil(e / spacing) + 4) as [number, number, number];
    this.gx = g[0];
    this.gxy = g[0] * g[1];
    this.max = [g[0] - 2, g[1] - 2, g[2] - 2];
    this.values = new Float32Array(g[0] * g[1] * g[2]);
    for (let i = 0; i < this.values.length; i++) this.values[i] = rng.uniform() * 2 - 1;
  }

  /** Noise value in [-1, 1] at voxel coordinates (x, y, z). */
  sample(x: number, y: number, z: number): number {
    let fx = x * this.inv + 1;
    let fy = y * this.inv + 1;
    let fz = z * this.inv + 1;
    fx = fx < 0 ? 0 : fx > this.max[0] ? this.max[0] : fx;
    fy = fy < 0 ? 0 : fy > this.max[1] ? this.max[1] : fy;
    fz = fz < 0 ? 0 : fz > this.max[2] ? this.max[2] : fz;
    const ix = fx | 0;
    const iy = fy | 0;
    const iz = fz | 0;
    let tx = fx - ix;
    let ty = fy - iy;
    let tz = fz - iz;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    tz = tz * tz * (3 - 2 * tz);
    const v = this.values;
    const gx = this.gx;
    const gxy = this.gxy;
    const i0 = ix + gx * iy + gxy * iz;
    const i1 = i0 + gxy;
    const a = v[i0] + tx * (v[i0 + 1] - v[i0]);
    const b = v[i0 + gx] + tx * (v[i0 + gx + 1] - v[i0 + gx]);
    const c = v[i1] + tx * (v[i1 + 1] - v[i1]);
    const d = v[i1 + gx] + tx * (v[i1 + gx + 1] - v[i1 + gx]);
    const ab = a + ty * (b - a);
    const cd = c + ty * (d - c);
    return ab + tz * (cd - ab);
  }
}
