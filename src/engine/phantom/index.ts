/** Synthetic multi-sequence brain phantoms with BraTS-style lesions (demo data and tests). */
export {
  generatePhantomCase,
  generatePhantomArrays,
  phantomAffine,
  DEFAULT_PHANTOM_SIZE,
  MIN_PHANTOM_SIZE,
  type PhantomParams,
  type PhantomCase,
  type PhantomArrays,
} from './generate';
export {
  writePhantomCohort,
  writePhantomCase,
  phantomCaseId,
  phantomSliceRange,
  DEFAULT_ANOMALOUS_FRACTION,
  type PhantomCohortOptions,
  type PhantomCohortSummary,
  type PhantomCaseSummary,
} from './cohort';
export { Tissue, TISSUE_NAMES } from './anatomy';
export { PHANTOM_SEQUENCES, TISSUE_SIGNAL, LESION_SIGNAL, type PhantomSequence } from './contrast';
export { LABEL_NECROTIC, LABEL_EDEMA, LABEL_ENHANCING, type LesionInfo } from './lesions';
