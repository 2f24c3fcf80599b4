/** `anyad dataset`: discover the cases of a folder and print the slice dataset summary. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultWorkspaceConfig, loadWorkspaceConfig, type WorkspaceConfig } from '../../engine/config';
import { ConfigError } from '../../engine/errors';
import { workspaceDataset } from '../../engine/study';
import type { CommandSpec } from '../args';

/** --config wins; else ROOT/anyad.json if present; else defaults. --root overrides data.root. */
function resolveConfig(root: string | undefined, configPath: string | undefined): WorkspaceConfig {
  if (configPath) {
    const config = loadWorkspaceConfig(configPath);
    return root ? { ...config, data: { ...config.data, root: resolve(root) } } : config;
  }
  if (!root) throw new ConfigError('cli/missing-option', '--root or --config is required');
  const beside = join(root, 'anyad.json');
  if (existsSync(beside)) {
    const config = loadWorkspaceConfig(beside);
    return { ...config, data: { ...config.data, root: resolve(root) } };
  }
  return defaultWorkspaceConfig(root);
}

export const datasetCommand: CommandSpec = {
  name: 'dataset',
  summary: 'find the cases of a folder and summarise the train/test slice dataset',
  usage: 'anyad dataset --root DIR [--config anyad.json] [--json]',
  options: {
    root: { type: 'string', description: "folder with the studies (default: the config's data.root)" },
    config: { type: 'string', description: 'workspace config (default: DIR/anyad.json if present)' },
    json: { type: 'boolean', description: 'print summary, warnings and slice lists as JSON' },
  },
  positionals: [0, 0],
  run(opts, _positionals, io) {
    const root = typeof opts.root === 'string' ? opts.root : undefined;
    const config = resolveConfig(root, typeof opts.config === 'string' ? opts.config : undefined);
    const { warnings, dataset: ds, text } = workspaceDataset(config);
    if (opts.json) {
      io.stdout.write(
        JSON.stringify({
          root: config.data.root,
          config: config.file ?? null,
          warnings,
          summary: ds.summary,
          train: ds.train,
          test: ds.test,
        }) + '\n',
      );
      return 0;
    }
    io.stdout.write(text + '\n' + warnings.map((w) => `warning: ${w}\n`).join(''));
    return 0;
  },
};
