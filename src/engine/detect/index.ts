/** Detection with a trained model bundle: one slice or a whole volume of a case. */
export {
  detect,
  chooseBatchSize,
  MAX_BATCH,
  subsetOfModalities,
  type DetectOptions,
  type SliceDetection,
  type SliceScore,
  type VolumeDetection,
} from './detect';
