/**
 * `anyad engine`: the long-lived engine process of a VS Code window (internal). Speaks the
 * engine protocol (src/shared/engineProtocol.ts) over Node IPC and keeps bundles, sessions and
 * decoded cases warm; exits when the extension disconnects or kills it.
 */
import { serveOverIpc } from '../../engine/service/server';
import type { CommandSpec } from '../args';

export const engineCommand: CommandSpec = {
  name: 'engine',
  summary: 'serve the VS Code extension over IPC (internal; started by the extension)',
  usage: 'anyad engine   (child_process.fork with serialization "advanced")',
  options: {},
  positionals: [0, 0],
  async run() {
    await serveOverIpc();
    return 0;
  },
};
