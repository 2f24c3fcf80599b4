/** Loading a case's volumes (canonical RAS) and checking that they share one voxel grid. */
import { basename } from 'node:path';
import { StudyError } from '../errors';
import { loadVolume, loadVolumeWithSource, sameGrid, type SourceGrid } from '../nifti';
import type { Volume } from '../nifti/types';
import type { Case } from './discover';
import { SEQUENCES, type SequenceName } from './modalities';

export interface LoadCaseOptions {
  /** Sequences to load (each must exist); default: all the case has. */
  sequences?: readonly SequenceName[];
  /** Load the label too when the case has one; default true. */
  label?: boolean;
  /** Memory limit per volume read (see readNifti). */
  maxBytes?: number;
}

export interface LoadedCase {
  case: Case;
  volumes: Partial<Record<SequenceName, Volume>>;
  /** Each loaded sequence's file grid: what outputs for it are written on (writeOnSourceGrid). */
  sources: Partial<Record<SequenceName, SourceGrid>>;
  label?: Volume;
}

function describeGrid(v: Volume): string {
  const a = v.affine;
  const origin = [a[3], a[7], a[11]].map((x) => Number(x.toFixed(2)));
  return `${v.dims.join('×')} voxels of ${v.spacing.map((s) => Number(s.toFixed(3))).join('×')} mm, origin (${origin.join(', ')})`;
}

export function loadCase(c: Case, opts: LoadCaseOptions = {}): LoadedCase {
  const wanted = (opts.sequences ?? SEQUENCES).map((s) => ({ s, file: c.files[s] }));
  const found = wanted.filter((w): w is { s: SequenceName; file: string } => Boolean(w.file));
  const missing = opts.sequences ? wanted.filter((w) => !w.file).map((w) => w.s) : [];
  if (missing.length) {
    const have = SEQUENCES.filter((s) => c.files[s]).map((s) => s.toUpperCase());
    throw new StudyError(
      'study/missing-sequence',
      `case ${c.id} has no ${missing.map((s) => s.toUpperCase()).join(', ')} (it has ${have.join(', ') || 'no sequences'})`,
      c.dir,
    );
  }
  const readOpts = opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes };
  const loaded: { file: string; vol: Volume }[] = [];
  const volumes: Partial<Record<SequenceName, Volume>> = {};
  const sources: Partial<Record<SequenceName, SourceGrid>> = {};
  for (const { s, file } of found) {
    const r = loadVolumeWithSource(file, readOpts);
    volumes[s] = r.volume;
    sources[s] = r.source;
    loaded.push({ file, vol: r.volume });
  }
  let label: Volume | undefined;
  if (c.label && opts.label !== false) {
    label = loadVolume(c.label, readOpts);
    loaded.push({ file: c.label, vol: label });
  }
  const ref = loaded[0];
  for (const other of loaded.slice(1)) {
    if (!sameGrid(ref.vol, other.vol)) {
      throw new StudyError(
        'study/grid-mismatch',
        `case ${c.id}: ${basename(other.file)} is not on the grid of ${basename(ref.file)}: ${describeGrid(other.vol)} vs ${describeGrid(ref.vol)} (resample it onto the same grid)`,
        c.dir,
      );
    }
  }
  return { case: c, volumes, sources, label };
}
