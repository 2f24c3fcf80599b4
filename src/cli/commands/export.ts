/** `anyad export --triton DIR --model M`: a Triton Inference Server model repository of a bundle. */
import { ConfigError } from '../../engine/errors';
import { exportTriton } from '../../engine/model/triton';
import { intOption, stringOption, type CommandSpec } from '../args';

export const exportCommand: CommandSpec = {
  name: 'export',
  summary: 'export a model bundle for serving elsewhere (Triton Inference Server model repository)',
  usage: 'anyad export --triton DIR --model DIR [--name anyad] [--max-batch 16] [--json]',
  options: {
    triton: { type: 'string', description: 'model repository folder to write (DIR/NAME/config.pbtxt, DIR/NAME/1/model.onnx)' },
    model: { type: 'string', description: 'model bundle folder' },
    name: { type: 'string', description: 'model name in the repository', default: 'anyad' },
    'max-batch': { type: 'string', description: 'max_batch_size for a symbolic-batch model', default: '16' },
    json: { type: 'boolean', description: 'print what was written as JSON' },
  },
  positionals: [0, 0],
  run(opts, _positionals, io) {
    if (typeof opts.triton !== 'string')
      throw new ConfigError('cli/missing-option', '--triton DIR is required (the only export format so far)');
    const r = exportTriton(stringOption(opts, 'model'), opts.triton, {
      name: String(opts.name),
      maxBatch: intOption(opts, 'max-batch', 1, 4096),
    });
    if (opts.json) {
      io.stdout.write(JSON.stringify(r) + '\n');
      return 0;
    }
    io.stdout.write(
      `Triton model repository: ${opts.triton}\n  ${r.config}\n  ${r.model}\n  max_batch_size ${r.maxBatchSize}\n` +
        `Serve it: docker run --rm -p8000:8000 -p8001:8001 -v ${opts.triton}:/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models\n`,
    );
    return 0;
  },
};
