/**
 * Writes the quality benchmark's preprocessed slices (train images, test images and their
 * 256² masks) of a phantom cohort to one safetensors file, for the independent PyTorch
 * cross-check next to it (quality_check.py). Same config as bench/quality-bench.ts.
 *
 *   node --import tsx bench/torch-check/dump-slices.ts <phantoms dir> <out.safetensors>
 */
import { join, resolve } from 'node:path';
import { parseWorkspaceConfig } from '../../src/engine/config';
import { phantomSliceRange } from '../../src/engine/phantom';
import { writeSafetensors } from '../../src/engine/safetensors';
import { buildSliceDataset, discoverStudy } from '../../src/engine/study';
import { loadTrainingImages } from '../../src/engine/train/anyad';
import { EVAL_MAP_SIZE } from '../../src/engine/eval';
import { loadScoredImages } from '../../src/engine/train/evaluate';

const [dir, out] = process.argv.slice(2);
if (!dir || !out) throw new Error('usage: dump-slices.ts <phantoms dir> <out.safetensors>');
const phantoms = resolve(dir);
const config = parseWorkspaceConfig(
  {
    data: { root: phantoms, slices: { axis: 'axial', ...phantomSliceRange(155) }, split: { trainFraction: 0.75, seed: 1 } },
    model: { preset: 'tiny-cpu' },
  },
  join(phantoms, 'anyad.json'),
  { virtual: true },
);
const { cases } = discoverStudy(config.data.root, config);
const ds = buildSliceDataset(cases, config);
const train = loadTrainingImages(cases, ds.train, config.preprocess);
const test = loadScoredImages(cases, ds.test, config.preprocess, config.data.anomalyLabels);
const c = config.preprocess.crop;
const stack = (count: number, image: (i: number) => Float32Array) => {
  const a = new Float32Array(count * 3 * c * c);
  for (let i = 0; i < count; i++) a.set(image(i), i * 3 * c * c);
  return a;
};
const m2 = EVAL_MAP_SIZE * EVAL_MAP_SIZE;
const masks = new Uint8Array(test.count * m2);
for (let i = 0; i < test.count; i++) {
  const m = test.mask(i);
  if (m) masks.set(m, i * m2);
}
writeSafetensors(out, {
  train: { dtype: 'F32', shape: [train.count, 3, c, c], data: stack(train.count, train.image) },
  test: { dtype: 'F32', shape: [test.count, 3, c, c], data: stack(test.count, test.image) },
  masks: { dtype: 'U8', shape: [test.count, EVAL_MAP_SIZE, EVAL_MAP_SIZE], data: masks },
});
process.stdout.write(`${train.count} training and ${test.count} test slices → ${out}\n`);
