/** The VS Code side of weightsFlow.ts: the anyad.downloads setting, a modal question, a cancellable progress notification. */
import * as vscode from 'vscode';
import type { WorkspaceConfig } from '../engine/config';
import { runCli } from './cliRunner';
import { type DownloadSetting, type HubWeights, type WeightsUi, ensureEncoderWeights, ensureHubWeights } from './weightsFlow';

export function ensureEncoderWeightsInVsCode(
  extensionUri: vscode.Uri,
  log: vscode.OutputChannel,
  config: WorkspaceConfig,
  configPath: string,
): Promise<boolean> {
  return ensureEncoderWeights(vsCodeUi(extensionUri, log), config, configPath);
}

/** The same consent and download flow for one named encoder (the "Get pretrained encoder weights" command). */
export function ensureHubWeightsInVsCode(extensionUri: vscode.Uri, log: vscode.OutputChannel, weights: HubWeights): Promise<boolean> {
  return ensureHubWeights(vsCodeUi(extensionUri, log), weights);
}

function vsCodeUi(extensionUri: vscode.Uri, log: vscode.OutputChannel): WeightsUi {
  return {
    setting: () => vscode.workspace.getConfiguration('anyad').get<DownloadSetting>('downloads', 'ask'),
    runCli: (args, opts) =>
      runCli(extensionUri, args, {
        onStderrLine: (l) => log.appendLine(l),
        onStdoutLine: opts.onStdoutLine,
        token: opts.token as vscode.CancellationToken | undefined,
      }),
    ask: async (message) => (await vscode.window.showInformationMessage(message, { modal: true }, 'Download')) === 'Download',
    error: async (message) => {
      log.appendLine(message);
      await vscode.window.showErrorMessage(message);
    },
    info: async (message) => {
      log.appendLine(message);
      await vscode.window.showInformationMessage(message);
    },
    log: (line) => log.appendLine(line),
    withProgress: (title, task) =>
      Promise.resolve(
        vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) =>
          task((message, increment) => progress.report({ message, increment }), token),
        ),
      ),
  };
}
