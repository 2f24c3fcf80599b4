/**
 * Maps an anomaly map back onto the slice it came from, for display in the viewer.
 *
 * Preprocessing took the slice (height rows × width columns) → resize to R×R → centre crop
 * C×C (top = left = round((R − C)/2), Python's round-half-to-even as torchvision's
 * CenterCrop). The model's map lives on that crop (or on the 256×256 evaluation grid). Back:
 * resize the map to C×C if needed, place it in an R×R canvas at the crop offset — the border
 * the crop cut away was never seen by the model and is set to 0 (no anomaly evidence) — then
 * resize the canvas to height × width. Both resizes are bilinear with half-pixel centres
 * (align_corners=False), no antialias. The output is row-major in the same orientation as the
 * image that was fed to preprocessing.
 */
import { EvalError } from '../errors';
import { centerCropOffset } from '../study/preprocess';
import { resizeBilinear } from './resample';

export interface CropGeometry {
  /** Side of the square the slice was resized to (R). */
  resize: number;
  /** Side of the centre crop the model saw (C ≤ R). */
  crop: number;
}

export function mapToSliceGrid(map: Float32Array, mapSize: number, geometry: CropGeometry, width: number, height: number): Float32Array {
  const { resize: R, crop: C } = geometry;
  const ints = [mapSize, R, C, width, height];
  if (!ints.every((v) => Number.isSafeInteger(v) && v > 0)) {
    throw new EvalError(
      'eval/bad-size',
      `mapToSliceGrid: sizes must be positive integers (map ${mapSize}, resize ${R}, crop ${C}, slice ${width}×${height})`,
    );
  }
  if (C > R) throw new EvalError('eval/bad-size', `mapToSliceGrid: crop ${C} is larger than the resized image ${R}`);
  if (map.length !== mapSize * mapSize) {
    throw new EvalError('eval/size-mismatch', `mapToSliceGrid: ${map.length} values for a ${mapSize}×${mapSize} map`);
  }
  const onCrop = mapSize === C ? map : resizeBilinear(map, mapSize, mapSize, C, C, false);
  const canvas = new Float32Array(R * R);
  const off = centerCropOffset(R, C);
  for (let y = 0; y < C; y++) canvas.set(onCrop.subarray(y * C, (y + 1) * C), (y + off) * R + off);
  return resizeBilinear(canvas, R, R, height, width, false);
}
