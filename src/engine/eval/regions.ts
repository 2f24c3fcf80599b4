/** Connected regions of a 2-D binary mask, 8-connectivity (skimage.measure.label(connectivity=2)). */

export interface LabelledRegions {
  /** Number of regions; region ids are 1..count. */
  count: number;
  /** sizes[r - 1] = pixels of region r. */
  sizes: number[];
}

/**
 * Labels the nonzero pixels of `mask` (row-major, `height` rows of `width`) into `labels`
 * (0 = background, 1..count), numbered in raster order of each region's first pixel.
 * `stack` is scratch space of at least width·height entries (reuse it across calls).
 */
export function labelRegions8(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  labels: Int32Array,
  stack: Int32Array = new Int32Array(width * height),
): LabelledRegions {
  const n = width * height;
  labels.fill(0, 0, n);
  const sizes: number[] = [];
  for (let start = 0; start < n; start++) {
    if (mask[start] === 0 || labels[start] !== 0) continue;
    const id = sizes.length + 1;
    let size = 0;
    let top = 0;
    stack[top++] = start;
    labels[start] = id;
    // Depth-first flood fill; every pixel is pushed once because it is labelled on push.
    while (top > 0) {
      const p = stack[--top];
      size++;
      const y = (p / width) | 0;
      const x = p - y * width;
      const y0 = y > 0 ? y - 1 : y;
      const y1 = y < height - 1 ? y + 1 : y;
      const x0 = x > 0 ? x - 1 : x;
      const x1 = x < width - 1 ? x + 1 : x;
      for (let yy = y0; yy <= y1; yy++) {
        for (let xx = x0; xx <= x1; xx++) {
          const q = yy * width + xx;
          if (mask[q] !== 0 && labels[q] === 0) {
            labels[q] = id;
            stack[top++] = q;
          }
        }
      }
    }
    sizes.push(size);
  }
  return { count: sizes.length, sizes };
}
