/** Studies: discovery by file name, case loading, the slice dataset, and slice preprocessing. */
export {
  SEQUENCES,
  CHANNELS,
  MODALITY_SUBSETS,
  FULL_SUBSET,
  subsetById,
  subsetOfChannels,
  type SequenceName,
  type ChannelName,
  type ModalitySubset,
} from './modalities';
export {
  discoverCases,
  discoverStudy,
  findCaseOfFile,
  caseFromInputs,
  DEFAULT_MAX_DEPTH,
  type CaseInputs,
  type DiscoveryOptions,
} from './discover';
export {
  matchFileName,
  globToRegExp,
  roleLabel,
  SequenceResolver,
  CASE_FILE_ROLES,
  type Case,
  type CaseFileRole,
  type DiscoveryResult,
  type FileMatch,
  type SequenceRules,
} from './resolver';
export { loadCase, type LoadCaseOptions, type LoadedCase } from './load';
export { axialImage, imageToVoxel, type SliceImage } from './slice';
export {
  buildSliceDataset,
  selectedSlices,
  formatDatasetSummary,
  type SliceRef,
  type SliceDataset,
  type SliceDatasetSummary,
  type SplitCounts,
} from './dataset';
export {
  preprocessSlice,
  preprocessMask,
  minMaxToUint8,
  centerCropOffset,
  anomalyPredicate,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PreprocessGeometry,
} from './preprocess';
export { resizeBilinearU8 } from './pil-resize';
export { forEachSliceByCase, fullModalityInput } from './sliceImages';
export { discoverWorkspace, requireCases, workspaceDataset, type WorkspaceDataset, type WorkspaceDatasetOptions } from './workspaceDataset';
