/** Evaluation: threshold metrics (AUROC, AP, F1-max, AUPRO), reference anomaly maps, reports. */
export * from './types';
export { binaryMetrics, type BinaryMetricsOptions } from './binaryMetrics';
export { PixelMetricAccumulator, type PixelAccumulatorOptions } from './pixelAccumulator';
export { labelRegions8, type LabelledRegions } from './regions';
export { ThresholdSweep, ProIntegrator, CurveSampler } from './thresholdSweep';
export {
  EVAL_MAP_SIZE,
  SCORE_TOP_RATIO,
  anomalyMapFromFeatures,
  cosineDistanceMap,
  evaluationMap,
  fuseScaleMaps,
  imageScore,
  referenceGaussianKernel,
  smoothedMapAtPx,
} from './anomalyMap';
export { gaussianKernel, convolveZeroPad } from './gaussian';
export { resizeBilinear, resizeNearest } from './resample';
export { topKMean, topKCount, selectLargest } from './topk';
export { mapToSliceGrid, type CropGeometry } from './sliceGrid';
export {
  SubsetEvaluator,
  toMetricSet,
  curvesOf,
  type SubsetEvaluatorOptions,
  type SubsetResult,
  type SubsetCurves,
  type SliceInfo,
} from './subsetEvaluator';
export {
  caseBootstrap,
  blockAurocAp,
  binBounds,
  interval95,
  percentileSorted,
  DEFAULT_BOOTSTRAP,
  type Interval,
  type BootstrapOptions,
} from './bootstrap';
export { intensityBaseline, type IntensityBaselineResult } from './intensityBaseline';
export * from './reportTypes';
export {
  buildResultsTables,
  formatCell,
  formatValue,
  formatInterval,
  formatCounts,
  METRIC_ROWS,
  MEAN_COLUMN,
  INTERVAL_COLUMNS,
  type Cell,
  type ModelTable,
  type ResultsTables,
  type IntervalCell,
  type ModelIntervalTable,
  type SubsetCounts,
} from './reportTables';
export { writeReport, REPORT_JSON, REPORT_MARKDOWN, REPORT_SCHEMA } from './writeReport';
export { lineChartSvg, barChartSvg, escapeXml } from './svgCharts';
