/**
 * The options `anyad detect` and `anyad scan` share (which model, which sequences, where and
 * how it runs): declared and read here once, so both commands take and check them alike.
 */
import type { ProviderChoice } from '../shared/vocabulary';
import { intOption, providerOption, stringOption, type OptionSpec, type OptionValues } from './args';

export const INFERENCE_OPTIONS = {
  model: { type: 'string', description: 'model bundle folder (model.onnx + anyad.json + head.safetensors)' },
  config: {
    type: 'string',
    description: 'workspace config whose data.sequences patterns and data.assignments say which file is which sequence',
  },
  modalities: { type: 'string', description: 'sequences to use, comma-separated (default: every model sequence the case has)' },
  provider: { type: 'string', description: 'execution provider', default: 'auto' },
  threads: { type: 'string', description: 'intra-op threads per process (0: one per core)', default: '0' },
  batch: { type: 'string', description: 'slices per model run (default: from free memory, at most 16; 1 = slice by slice)' },
} satisfies Record<string, OptionSpec>;

export interface InferenceOptions {
  model: string;
  config: string | undefined;
  /** As given, split at commas; the engine trims, lower-cases and checks them. */
  modalities: string[] | undefined;
  provider: ProviderChoice;
  threads: number;
  /** Undefined: chosen from free memory. */
  batchSize: number | undefined;
}

/** Reads and checks the INFERENCE_OPTIONS of a parsed command line (--model is required). */
export function inferenceOptions(opts: OptionValues): InferenceOptions {
  return {
    model: stringOption(opts, 'model'),
    config: typeof opts.config === 'string' ? opts.config : undefined,
    modalities: typeof opts.modalities === 'string' ? opts.modalities.split(',') : undefined,
    provider: providerOption(opts),
    threads: intOption(opts, 'threads', 0, 1024),
    batchSize: opts.batch === undefined ? undefined : intOption(opts, 'batch', 1, 256),
  };
}
