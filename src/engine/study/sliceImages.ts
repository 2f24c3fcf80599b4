/** Model inputs of dataset slices: each case loaded once, each slice preprocessed with all 3 channels. */
import { ConfigError, StudyError } from '../errors';
import type { SliceRef } from './dataset';
import type { Case } from './discover';
import { type LoadCaseOptions, type LoadedCase, loadCase } from './load';
import { CHANNELS, FULL_SUBSET } from './modalities';
import { type PreprocessGeometry, preprocessSlice } from './preprocess';
import { axialImage } from './slice';

/**
 * Calls `visit(loaded, i)` for every slice i, loading each case once. `what` names the slice
 * set in the error for a slice whose case was not discovered (e.g. 'training', 'test').
 */
export function forEachSliceByCase(
  cases: readonly Case[],
  slices: readonly SliceRef[],
  opts: LoadCaseOptions,
  what: string,
  visit: (loaded: LoadedCase, index: number) => void,
): void {
  const byId = new Map(cases.map((c) => [c.id, c]));
  const wanted = new Map<string, number[]>();
  slices.forEach((s, i) => wanted.set(s.caseId, [...(wanted.get(s.caseId) ?? []), i]));
  for (const [id, idx] of wanted) {
    const c = byId.get(id);
    if (!c) throw new ConfigError('train/unknown-case', `${what} slice refers to case '${id}', which is not among the discovered cases`);
    const loaded = loadCase(c, opts);
    for (const i of idx) visit(loaded, i);
  }
}

/** The full-modality model input [3, C, C] of axial slice z of a case loaded with FLAIR, T1 and T2. */
export function fullModalityInput(loaded: LoadedCase, z: number, geom: PreprocessGeometry): Float32Array {
  const views = CHANNELS.map((ch) => {
    const volume = loaded.volumes[ch];
    if (!volume)
      throw new StudyError('study/missing-sequence', `case ${loaded.case.id} was loaded without ${ch.toUpperCase()}`, loaded.case.dir);
    return axialImage(volume, z);
  });
  const data = Object.fromEntries(CHANNELS.map((ch, k) => [ch, views[k].data]));
  return preprocessSlice(data, views[0].width, views[0].height, FULL_SUBSET, geom);
}
