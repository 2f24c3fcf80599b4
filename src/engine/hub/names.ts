/**
 * What `model.encoder` (anyad.json) and `anyad weights get NAME` accept: a short DINOv2 name,
 * a Hugging Face model id `org/name` with an optional `@revision`, or a local file/folder.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors';

const SIZES = ['small', 'base', 'large', 'giant'] as const;

/** Short names → hub ids (Meta's DINOv2 releases on the hub; Apache-2.0). */
export const DINOV2_NAMES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(
    SIZES.flatMap((s): Array<[string, string]> => [
      [`dinov2-${s}`, `facebook/dinov2-${s}`],
      [`dinov2-with-registers-${s}`, `facebook/dinov2-with-registers-${s}`],
    ]),
  ),
);

export type EncoderSource =
  { kind: 'hub'; repo: string; revision: string; /** as written, e.g. 'dinov2-small' */ name: string } | { kind: 'local'; path: string };

/** The short name of a hub id when it has one (for commands shown to the user). */
export function shortName(repo: string): string {
  return Object.entries(DINOV2_NAMES).find(([, r]) => r === repo)?.[0] ?? repo;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
const REVISION = /^[\w.-]+(\/[\w.-]+)*$/;

/**
 * Classifies an encoder spec. Paths (absolute, ./ ../ ~/, a .safetensors name, or anything that
 * exists relative to baseDir) are local; short names and `org/name[@rev]` are hub models.
 */
export function parseEncoderSpec(spec: string, baseDir: string, key = 'model.encoder'): EncoderSource {
  const s = spec.trim();
  const at = s.lastIndexOf('@');
  const [id, revision] = at > 0 ? [s.slice(0, at), s.slice(at + 1)] : [s, 'main'];
  const looksLikePath = isAbsolute(s) || /^(\.{1,2}|~)([/\\]|$)/.test(s) || /\.safetensors$/i.test(s) || s.includes('\\');
  if (!looksLikePath && (DINOV2_NAMES[id] || HUB_ID.test(id)) && !existsSync(resolve(baseDir, s))) {
    if (!REVISION.test(revision) || revision.split('/').includes('..'))
      throw new ConfigError('config/encoder', `${key}: '${revision}' is not a revision (a branch, tag or commit hash)`);
    const repo = DINOV2_NAMES[id] ?? id;
    if (repo.includes('--') || repo.includes('..'))
      throw new ConfigError('config/encoder', `${key}: '${id}' is not a Hugging Face model id`);
    return { kind: 'hub', repo, revision, name: s };
  }
  const path = s.startsWith('~') ? join(homedir(), s.slice(1)) : resolve(baseDir, s);
  if (!looksLikePath && !existsSync(path)) {
    throw new ConfigError(
      'config/encoder',
      `${key}: '${s}' is neither a file/folder nor a model name (known: ${Object.keys(DINOV2_NAMES).join(', ')}; or a hub id org/name[@revision])`,
    );
  }
  return { kind: 'local', path };
}
