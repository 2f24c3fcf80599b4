/** Extension entry point: registers the NIfTI custom editor and the AnyAD commands. VS Code glue only. */
import * as vscode from 'vscode';
import { NIFTI_VIEW_TYPE, NiftiEditorProvider } from './niftiEditor';
import { WorkspaceSequences, assignSequenceCommand } from './workspaceSequences';
import { type CommandEnv, detectCommand, pretrainedWeightsCommand, showModelCardCommand, trainCommand } from './commands';
import { removePrivateTempDir } from './tempFolder';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('AnyAD');
  // The viewer provider also answers "which volume, slice and sequences?" for Detect (viewer.activeDocument()).
  // Which file is which sequence: anyad.json + the "Assign sequence…" choices kept in workspaceState.
  const sequences = new WorkspaceSequences(context.workspaceState);
  const viewer = new NiftiEditorProvider(context.extensionUri, log, sequences);
  // Shows the execution provider setting until a run reports the provider actually used.
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  status.text = `AnyAD: ${vscode.workspace.getConfiguration('anyad').get<string>('executionProvider', 'auto')}`;
  status.tooltip = 'AnyAD execution provider / last detection';
  status.show();
  const env: CommandEnv = { log, viewer, extensionUri: context.extensionUri, status, sequences };
  // An edited anyad.json (patterns, assignments) re-resolves the open viewers' cases.
  const configWatcher = vscode.workspace.createFileSystemWatcher('**/anyad.json');
  const refresh = () => viewer.refreshCases();
  context.subscriptions.push(
    log,
    status,
    vscode.window.registerCustomEditorProvider(NIFTI_VIEW_TYPE, viewer, {
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: false,
    }),
    vscode.commands.registerCommand('anyad.detect', (uri?: unknown, mode?: unknown) => detectCommand(env, uri, mode)),
    vscode.commands.registerCommand('anyad.train', () => trainCommand(env)),
    vscode.commands.registerCommand('anyad.assignSequence', (uri?: unknown) =>
      assignSequenceCommand({ sequences, log, activeFile: () => viewer.activeDocument()?.uri, refresh }, uri)),
    configWatcher, configWatcher.onDidChange(refresh), configWatcher.onDidCreate(refresh), configWatcher.onDidDelete(refresh),
    vscode.commands.registerCommand('anyad.showModelCard', (dir?: unknown) => showModelCardCommand(env, dir)),
    vscode.commands.registerCommand('anyad.pretrainedWeights', () => pretrainedWeightsCommand(env)),
  );
  log.appendLine('AnyAD activated');
}

export function deactivate(): void {
  removePrivateTempDir();
}
