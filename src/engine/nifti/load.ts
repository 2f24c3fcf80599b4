/** The one-call loader most callers want: read one volume and reorient it to canonical RAS. */
import { readNifti, type ReadOptions } from './read';
import { toCanonical } from './orient';
import type { Volume } from './types';

export function loadVolume(path: string, opts: ReadOptions = {}): Volume {
  return toCanonical(readNifti(path, opts).volume);
}
