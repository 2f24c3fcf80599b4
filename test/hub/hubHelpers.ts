/** Shared set-up of the hub tests: the tiny HF-named DINOv2 fixture served as facebook/dinov2-small. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FakeRepo, fakeCommit } from './fakeHub';

const FIXTURES = join(__dirname, '..', 'fixtures', 'model');
export const WEIGHTS = readFileSync(join(FIXTURES, 'encoder-hf.safetensors'));
export const CONFIG = readFileSync(join(FIXTURES, 'encoder-hf-config.json'));
export const COMMIT = fakeCommit('dinov2-small main');
export const OLD_COMMIT = fakeCommit('dinov2-small v1');

/** The tiny weights under a repo, as the hub serves a DINOv2 model repo (config.json regular, weights LFS). */
export function tinyRepo(extra: Partial<FakeRepo> = {}): FakeRepo {
  return {
    commit: COMMIT,
    refs: { v1: OLD_COMMIT },
    files: { 'config.json': CONFIG, 'model.safetensors': WEIGHTS },
    lfs: ['model.safetensors'],
    ...extra,
  };
}
