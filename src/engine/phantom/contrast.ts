/**
 * Relative signal of each tissue and lesion compartment per MRI sequence (white matter on
 * T1 = 1). The orderings follow real scans: T1 WM > GM > CSF; T2 CSF > GM > WM; FLAIR
 * GM > WM with CSF suppressed; T1ce like T1 plus enhancing vessels, choroid plexus and
 * tumour rim.
 */
import { TISSUE_COUNT } from './anatomy';

import { SEQUENCES, type SequenceName } from '../../shared/vocabulary';

/** A phantom study holds every sequence a study can. */
export const PHANTOM_SEQUENCES = SEQUENCES;
export type PhantomSequence = SequenceName;

/** Indexed by Tissue code: background, CSF, GM, WM, deep GM, choroid plexus, vessel. */
export const TISSUE_SIGNAL: Record<PhantomSequence, readonly number[]> = {
  //      bg    csf   gm    wm    deepGM choroid vessel
  t1: [0, 0.22, 0.62, 1.0, 0.72, 0.55, 0.4],
  t1ce: [0, 0.22, 0.64, 1.0, 0.74, 1.25, 1.35],
  t2: [0, 1.0, 0.58, 0.4, 0.5, 0.7, 0.25],
  flair: [0, 0.12, 0.66, 0.52, 0.6, 0.35, 0.2],
};

/** Lesion compartments: edema (label 2), core (label 1), enhancing rim (label 4). */
export interface LesionSignal {
  edema: number;
  core: number;
  rim: number;
}

export const LESION_SIGNAL: Record<PhantomSequence, LesionSignal> = {
  flair: { edema: 0.92, core: 0.6, rim: 0.72 }, // core varies per lesion (see lesions.ts)
  t1: { edema: 0.74, core: 0.32, rim: 0.7 },
  t1ce: { edema: 0.76, core: 0.34, rim: 1.55 },
  t2: { edema: 0.86, core: 0.95, rim: 0.55 },
};

/** A non-enhancing core (low-grade look): milder on T1, bright on FLAIR and T2. */
export const NON_ENHANCING_CORE: Record<PhantomSequence, number> = { flair: 0.85, t1: 0.55, t1ce: 0.56, t2: 0.85 };

/** The per-case tissue table: the reference values with ±5 % jitter (orderings kept). */
export function jitteredTissueSignal(seq: PhantomSequence, jitter: () => number): Float32Array {
  const out = new Float32Array(TISSUE_COUNT);
  TISSUE_SIGNAL[seq].forEach((v, t) => {
    out[t] = v * jitter();
  });
  return out;
}
