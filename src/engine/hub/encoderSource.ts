/**
 * Encoder weights named in anyad.json (`model.encoder`): resolved through the Hugging Face
 * cache (downloaded only with consent) or read from a local file/folder, with provenance that
 * names the hub id, the commit and the file's sha256.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { type EncoderWeights, type LoadEncoderOptions, loadEncoderWeights } from '../model/encoderWeights';
import { findCachedFile } from './cache';
import { type HubOptions, cacheDirOf, ensureRepoFiles } from './download';
import { type EncoderSource, shortName } from './names';

/** The files of a DINOv2 model repo that AnyAD reads. */
export const ENCODER_FILES = Object.freeze(['config.json', 'model.safetensors'] as const);

type LoadOptions = Pick<LoadEncoderOptions, 'registers' | 'config'>;

/** Loads the encoder a spec names; hub models come from the cache, downloading only with opts.allowDownload. */
export async function loadEncoderFrom(src: EncoderSource, load: LoadOptions, hub: HubOptions = {}): Promise<EncoderWeights> {
  if (src.kind === 'local') {
    const isDir = existsSync(src.path) && statSync(src.path).isDirectory();
    if (!isDir) return loadEncoderWeights(src.path, load);
    const weights = join(src.path, 'model.safetensors');
    if (!existsSync(weights))
      throw new ConfigError(
        'config/encoder',
        'the encoder folder holds no model.safetensors (expected a Hugging Face model folder: model.safetensors + config.json)',
        src.path,
      );
    const config = load.config ?? (existsSync(join(src.path, 'config.json')) ? join(src.path, 'config.json') : undefined);
    return loadEncoderWeights(weights, { ...load, config });
  }
  const got = await ensureRepoFiles(src.repo, src.revision, ENCODER_FILES, { displayName: src.name, ...hub });
  return loadHubSnapshot(src.repo, src.revision, got.files['model.safetensors'].path, got.files['config.json'].path, got.commit, load);
}

/**
 * The preset's checkpoint when it is already in the cache (no request is ever made), else
 * undefined: a default must not reach for the network.
 */
export function loadCachedEncoder(
  repo: string,
  revision: string,
  load: LoadOptions,
  hub: Pick<HubOptions, 'env' | 'cacheDir'> = {},
): EncoderWeights | undefined {
  const cacheDir = cacheDirOf(hub);
  const weights = findCachedFile(cacheDir, repo, revision, 'model.safetensors');
  const config = findCachedFile(cacheDir, repo, revision, 'config.json');
  if (!weights || !config) return undefined;
  return loadHubSnapshot(repo, revision, weights.path, config.path, weights.commit, load);
}

function loadHubSnapshot(
  repo: string,
  revision: string,
  weights: string,
  config: string,
  commit: string,
  load: LoadOptions,
): EncoderWeights {
  const enc = loadEncoderWeights(weights, { ...load, config: load.config ?? config });
  enc.provenance.hub = { repo, revision, commit, file: 'model.safetensors', cachePath: weights };
  return enc;
}

/** The command that fetches a preset's checkpoint, for log lines. */
export function getCommandFor(repo: string, revision = 'main'): string {
  return `anyad weights get ${shortName(repo)}${revision !== 'main' ? ` --revision ${revision}` : ''}`;
}
