/** Engine-process tests: a client that forks the CLI from source (`anyad engine` through tsx). */
import { join } from 'node:path';
import { EngineClient, type EngineClientOptions } from '../../src/extension/engineClient';

export const CLI_MAIN = join(__dirname, '..', '..', 'src', 'cli', 'main.ts');

export function engineClient(opts: Partial<EngineClientOptions> = {}, lines: string[] = []): EngineClient {
  return new EngineClient({
    command: { script: CLI_MAIN, args: ['engine'], execArgv: ['--import', 'tsx'] },
    log: (l) => lines.push(l),
    ...opts,
  });
}
