/**
 * A bundle as a Triton Inference Server model repository, so the same model.onnx can be
 * served past one machine:
 *
 *   DIR/<name>/config.pbtxt      backend onnxruntime; inputs/outputs with names, dtypes, dims
 *   DIR/<name>/1/model.onnx      the bundle's model, byte for byte
 *   DIR/<name>/anyad.json        the bundle manifest (preprocessing, thresholds; Triton ignores it)
 *
 * A symbolic-batch bundle gets max_batch_size N (dims without the batch axis; the [B] tensors
 * `subset` and `score` are declared [1] and reshaped to [] so the model sees [B]) and dynamic
 * batching; an older batch-1 bundle gets max_batch_size 0 and its full static dims.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import { BUNDLE_FILES, type LoadedBundle, loadBundle } from './bundle';
import { INFERENCE_NAMES } from './inference';

export interface TritonExportOptions {
  /** Model name in the repository (default 'anyad'). */
  name?: string;
  /** max_batch_size of a symbolic-batch bundle (default 16). */
  maxBatch?: number;
}

export interface TritonTensor {
  name: string;
  dataType: 'TYPE_FP32' | 'TYPE_INT64';
  dims: number[];
  reshape?: number[];
}

export interface TritonExport {
  dir: string;
  config: string;
  model: string;
  maxBatchSize: number;
  inputs: TritonTensor[];
  outputs: TritonTensor[];
}

/** Triton's tensors for a bundle (what config.pbtxt declares). */
export function tritonTensors(
  bundle: LoadedBundle,
  maxBatch: number,
): { maxBatchSize: number; inputs: TritonTensor[]; outputs: TritonTensor[] } {
  const c = bundle.manifest.preprocessing.crop;
  const m = bundle.manifest.model.evalMapSize;
  const dynamic = bundle.manifest.model.batch === 'dynamic';
  // With batching Triton adds the batch axis in front; a [B] tensor is declared [1] and reshaped to [].
  const t = (name: string, dataType: TritonTensor['dataType'], dims: number[]): TritonTensor =>
    dynamic
      ? dims.length === 0
        ? { name, dataType, dims: [1], reshape: [] }
        : { name, dataType, dims }
      : { name, dataType, dims: [1, ...dims] };
  return {
    maxBatchSize: dynamic ? maxBatch : 0,
    inputs: [t(INFERENCE_NAMES.image, 'TYPE_FP32', [3, c, c]), t(INFERENCE_NAMES.subset, 'TYPE_INT64', [])],
    outputs: [
      t(INFERENCE_NAMES.map, 'TYPE_FP32', [1, c, c]),
      t(INFERENCE_NAMES.map256, 'TYPE_FP32', [1, m, m]),
      t(INFERENCE_NAMES.score, 'TYPE_FP32', []),
    ],
  };
}

function tensorText(x: TritonTensor): string {
  return [
    '  {',
    `    name: "${x.name}"`,
    `    data_type: ${x.dataType}`,
    `    dims: [ ${x.dims.join(', ')} ]`,
    ...(x.reshape ? [`    reshape: { shape: [ ${x.reshape.join(', ')} ] }`] : []),
    '  }',
  ].join('\n');
}

export function exportTriton(bundleDir: string, outDir: string, opts: TritonExportOptions = {}): TritonExport {
  const name = opts.name ?? 'anyad';
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name) || name === '.' || name === '..')
    throw new ConfigError('cli/bad-option', `model name must be letters, digits, '_', '-', '.', got '${name}'`);
  const maxBatch = opts.maxBatch ?? 16;
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1 || maxBatch > 4096)
    throw new ConfigError('cli/bad-option', `max batch must be an integer in 1..4096, got ${maxBatch}`);
  const bundle = loadBundle(bundleDir);
  const { maxBatchSize, inputs, outputs } = tritonTensors(bundle, maxBatch);
  const dir = join(resolve(outDir), name);
  mkdirSync(join(dir, '1'), { recursive: true });
  const model = join(dir, '1', 'model.onnx');
  copyFileSync(bundle.modelPath, model);
  copyFileSync(join(bundle.dir, BUNDLE_FILES.manifest), join(dir, BUNDLE_FILES.manifest));
  const config = [
    `# AnyAD model from ${bundle.dir} (anyad export --triton). Inputs are preprocessed slices:`,
    `# ${bundle.manifest.preprocessing.steps}; subset = modality subset id 1..7 (anyad.json "subsets").`,
    `name: "${name}"`,
    'backend: "onnxruntime"',
    `max_batch_size: ${maxBatchSize}`,
    'input [',
    inputs.map(tensorText).join(',\n'),
    ']',
    'output [',
    outputs.map(tensorText).join(',\n'),
    ']',
    ...(maxBatchSize > 0 ? ['dynamic_batching { }'] : []),
    'instance_group [ { kind: KIND_AUTO } ]',
    '',
  ].join('\n');
  const configPath = join(dir, 'config.pbtxt');
  writeFileAtomic(configPath, config);
  return { dir, config: configPath, model, maxBatchSize, inputs, outputs };
}
