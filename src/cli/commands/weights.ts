/**
 * `anyad weights list|get`: pretrained DINOv2 weights in the Hugging Face cache (shared with
 * Python). `get` is the explicit consent to download; `--dry-run` only asks the hub for sizes
 * (a HEAD per file, none when cached), which the extension shows before asking the user.
 */
import { resolve } from 'node:path';
import { loadWorkspaceConfig } from '../../engine/config';
import { ConfigError, HubError } from '../../engine/errors';
import { hubCacheDir, listCache } from '../../engine/hub/cache';
import { type DownloadProgress, type HubOptions, ensureRepoFiles, formatBytes, hubEndpoint, planDownload } from '../../engine/hub/download';
import { ENCODER_FILES } from '../../engine/hub/encoderSource';
import { type EncoderSource, parseEncoderSpec } from '../../engine/hub/names';
import type { CommandSpec, OptionValues } from '../args';
import { downloadPrinter } from '../downloadProgress';

/** The hub model `get` is about: NAME, or the config's model.encoder; undefined when the config names none. */
function target(opts: OptionValues, name: string | undefined): Extract<EncoderSource, { kind: 'hub' }> | undefined {
  if (name !== undefined && typeof opts.config === 'string')
    throw new ConfigError('cli/bad-option', 'give a model NAME or --config, not both');
  let src: EncoderSource | undefined;
  if (name !== undefined) src = parseEncoderSpec(name, process.cwd(), 'NAME');
  else if (typeof opts.config === 'string') src = loadWorkspaceConfig(resolve(opts.config)).model.encoder;
  else throw new ConfigError('cli/missing-argument', "'anyad weights get' needs a model NAME (e.g. dinov2-small) or --config anyad.json");
  if (src?.kind === 'local') {
    if (name !== undefined) throw new ConfigError('cli/bad-option', `'${name}' is a local path, not a hub model; nothing to download`);
    return undefined;
  }
  if (src && typeof opts.revision === 'string')
    return { ...src, revision: opts.revision, name: `${src.name.replace(/@.*$/, '')}@${opts.revision}` };
  return src;
}

export const weightsCommand: CommandSpec = {
  name: 'weights',
  summary: 'list or download pretrained DINOv2 weights (Hugging Face cache, shared with Python)',
  usage:
    'anyad weights list [--json] | anyad weights get NAME|--config anyad.json [--revision R] [--endpoint URL] [--dry-run] [--json|--progress-json]',
  options: {
    revision: { type: 'string', description: 'branch, tag or commit of the hub repo (default main, or NAME@revision)' },
    endpoint: { type: 'string', description: 'hub URL (overrides HF_ENDPOINT; default https://huggingface.co)' },
    config: { type: 'string', description: 'get: the model.encoder of this workspace config' },
    'dry-run': { type: 'boolean', description: 'get: say what would be downloaded (sizes from the hub; no request when cached)' },
    json: { type: 'boolean', description: 'one JSON object on stdout' },
    'progress-json': {
      type: 'boolean',
      description: 'get: JSON lines on stdout ({type: "progress"|"result"}); used by the VS Code extension',
    },
  },
  positionals: [1, 2],
  async run(opts, positionals, io) {
    const [action, name] = positionals;
    const out = (o: object) => io.stdout.write(`${JSON.stringify(o)}\n`);
    const hub: HubOptions = { endpoint: typeof opts.endpoint === 'string' ? opts.endpoint : undefined };
    if (action === 'list') {
      if (name !== undefined)
        throw new ConfigError('cli/extra-argument', `unexpected argument '${name}'; usage: anyad weights list [--json]`);
      const cacheDir = hubCacheDir();
      const models = listCache(cacheDir);
      if (opts.json === true) {
        out({ cacheDir, models });
        return 0;
      }
      io.stdout.write(`Hugging Face cache: ${cacheDir}\n`);
      if (models.length === 0) io.stdout.write('no models cached (anyad weights get dinov2-small fetches one)\n');
      for (const m of models) {
        io.stdout.write(
          `${m.repo}  ${m.revisions.length ? m.revisions.join(',') : '(by commit)'}  ${m.commit.slice(0, 12)}  ${formatBytes(m.size)}  ${m.path}\n`,
        );
      }
      return 0;
    }
    if (action !== 'get') throw new ConfigError('cli/bad-argument', `unknown action '${action}'; usage: ${weightsCommand.usage}`);
    const src = target(opts, name);
    if (!src) {
      const none = { needed: false, reason: 'the config names no hub model (model.encoder is unset or a local path)' };
      if (opts.json === true || opts['progress-json'] === true) out(opts['progress-json'] === true ? { type: 'result', ...none } : none);
      else io.stdout.write(`${none.reason}; nothing to download\n`);
      return 0;
    }
    hub.displayName = src.name.replace(/@.*$/, '');
    if (opts['dry-run'] === true) {
      const plan = await planDownload(src.repo, src.revision, ENCODER_FILES, hub);
      const result = {
        needed: plan.bytesToDownload > 0 || plan.files.some((f) => !f.cached),
        name: hub.displayName,
        endpoint: hubEndpoint(hub),
        ...plan,
      };
      if (opts.json === true) out(result);
      else {
        io.stdout.write(
          result.needed
            ? `would download ${formatBytes(plan.bytesToDownload)} of ${src.repo}@${src.revision} (commit ${plan.commit}) from ${result.endpoint} into ${plan.cacheDir}\n`
            : `${src.repo}@${src.revision} is cached (commit ${plan.commit}) in ${plan.cacheDir}\n`,
        );
        for (const f of plan.files)
          io.stdout.write(`  ${f.file}  ${f.size !== undefined ? formatBytes(f.size) : '?'}  ${f.cached ? 'cached' : 'to download'}\n`);
      }
      return 0;
    }
    const progressJson = opts['progress-json'] === true;
    const printer = progressJson ? undefined : downloadPrinter(io.stderr);
    const abort = new AbortController();
    // SIGINT (Ctrl-C) and SIGTERM (the extension's Cancel): stop; the partial file is resumed next time.
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const onProgress = progressJson ? (p: DownloadProgress) => out({ type: 'progress', ...p }) : printer;
      const got = await ensureRepoFiles(src.repo, src.revision, ENCODER_FILES, {
        ...hub,
        allowDownload: true,
        signal: abort.signal,
        onProgress,
      });
      printer?.done();
      const files = Object.fromEntries(Object.entries(got.files).map(([f, c]) => [f, c.path]));
      const downloaded = Object.values(got.files).some((f) => f.downloaded);
      const result = {
        name: hub.displayName,
        repo: got.repo,
        revision: got.revision,
        commit: got.commit,
        cacheDir: got.cacheDir,
        downloaded,
        files,
      };
      if (progressJson) out({ type: 'result', ...result });
      else if (opts.json === true) out(result);
      else
        io.stdout.write(
          `${got.repo}@${got.revision} (commit ${got.commit}) ${downloaded ? 'downloaded to' : 'already in'} ${got.cacheDir}\n`,
        );
      return 0;
    } catch (e) {
      printer?.done();
      if (e instanceof HubError && e.code === 'hub/cancelled') {
        io.stderr.write(`anyad weights: ${e.message}\n`);
        if (progressJson) out({ type: 'result', cancelled: true });
        return 130;
      }
      throw e;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  },
};
