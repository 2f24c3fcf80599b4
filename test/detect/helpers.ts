/** Shared setup of the detection tests: a seeded random-init tiny bundle and a small phantom case. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initModalityAffine } from '../../src/engine/model/alignment';
import { type BundleContents, type SubsetThresholds, writeBundle } from '../../src/engine/model/bundle';
import { createRandomEncoderWeights } from '../../src/engine/model/encoderWeights';
import { headConfig, initHeadParams } from '../../src/engine/model/headWeights';
import { modelPreset } from '../../src/engine/model/presets';
import { writePhantomCohort } from '../../src/engine/phantom';
import { type Case, discoverCases } from '../../src/engine/study';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `anyad-${prefix}-`));
}

/** Bundle contents from the tiny-cpu preset: seeded random encoder, initial head, identity affine with one row perturbed. */
export function tinyContents(seed = 3, thresholds?: SubsetThresholds): BundleContents {
  const preset = modelPreset('tiny-cpu');
  const encoder = createRandomEncoderWeights(preset.encoder, seed);
  const cfg = headConfig(preset.encoder.embedDim, preset.encoder.numHeads);
  const params = initHeadParams(cfg, seed);
  for (const [k, v] of initModalityAffine(cfg.dim)) params.set(k, v);
  params.get('modality_affine.en0.bias')!.data.fill(0.25, 4 * cfg.dim, 5 * cfg.dim); // subset 5 differs from identity
  return {
    encoder,
    headConfig: cfg,
    params,
    geometry: preset.geometry,
    preset: preset.name,
    stats: [
      { mean: new Float32Array(cfg.dim).fill(0.5), std: new Float32Array(cfg.dim).fill(2), count: 64 },
      { mean: new Float32Array(cfg.dim), std: new Float32Array(cfg.dim).fill(1), count: 64 },
    ],
    thresholds,
    training: { cases: 0, note: 'test bundle, untrained' },
    metrics: { imageAuroc: 0.5 },
    createdAt: new Date('2026-01-02T03:04:05Z'),
  };
}

export function writeTinyBundle(dir: string, thresholds?: SubsetThresholds): string {
  writeBundle(dir, tinyContents(3, thresholds));
  return dir;
}

/** One anomalous phantom case of 48×40×24 voxels (nx ≠ ny, so a swapped axis cannot pass; written on the calling thread). */
export async function phantomCase(root: string): Promise<Case> {
  await writePhantomCohort(root, { cases: 1, seed: 11, size: [48, 40, 24], anomalousFraction: 1, workers: 0 });
  return discoverCases(root)[0];
}
