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
    return this.evaluate(x, y, z, undefined);
  }

  /** Noise value at (x, y, z); its gradient (per voxel) is written into `grad`. */
  sampleWithGradient(x: number, y: number, z: number, grad: Float64Array): number {
    return this.evaluate(x, y, z, grad);
  }

  private evaluate(x: number, y: number, z: number, grad: Float64Array | undefined): number {
    let fx = x * this.inv + 1;
    let fy = y * this.inv + 1;
    let fz = z * this.inv + 1;
    fx = fx < 0 ? 0 : fx > this.max[0] ? this.max[0] : fx;
    fy = fy < 0 ? 0 : fy > this.max[1] ? this.max[1] : fy;
    fz = fz < 0 ? 0 : fz > this.max[2] ? this.max[2] : fz;
    const ix = fx | 0;
    const iy = fy | 0;
    const iz = fz | 0;
    const tx = fx - ix;
    const ty = fy - iy;
    const tz = fz - iz;
    const sx = tx * tx * (3 - 2 * tx);
    const sy = ty * ty * (3 - 2 * ty);
    const sz = tz * tz * (3 - 2 * tz);
    const v = this.values;
    const gx = this.gx;
    const i0 = ix + gx * iy + this.gxy * iz;
    const i1 = i0 + this.gxy;
    const c000 = v[i0],
      c100 = v[i0 + 1],
      c010 = v[i0 + gx],
      c110 = v[i0 + gx + 1];
    const c001 = v[i1],
      c101 = v[i1 + 1],
      c011 = v[i1 + gx],
      c111 = v[i1 + gx + 1];
    const a = c000 + sx * (c100 - c000);
    const b = c010 + sx * (c110 - c010);
    const c = c001 + sx * (c101 - c001);
    const d = c011 + sx * (c111 - c011);
    const ab = a + sy * (b - a);
    const cd = c + sy * (d - c);
    if (grad) {
      // d/ds of the trilinear blend, times ds/dt = 6t(1 - t), times dt/dx = 1/spacing.
      const dab = c100 - c000 + sy * (c110 - c010 - (c100 - c000));
      const dcd = c101 - c001 + sy * (c111 - c011 - (c101 - c001));
      grad[0] = (dab + sz * (dcd - dab)) * 6 * tx * (1 - tx) * this.inv;
      grad[1] = (b - a + sz * (d - c - (b - a))) * 6 * ty * (1 - ty) * this.inv;
      grad[2] = (cd - ab) * 6 * tz * (1 - tz) * this.inv;
    }
    return ab + sz * (cd - ab);
  }
}
