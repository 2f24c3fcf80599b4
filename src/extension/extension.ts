/** Extension entry point: registers the NIfTI custom editor and the AnyAD commands. VS Code glue only. */
import * as vscode from 'vscode';
import { NIFTI_VIEW_TYPE, NiftiEditorProvider } from './niftiEditor';
import { detectCommand, trainCommand } from './commands';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('AnyAD');
  // The viewer provider also answers "which volume, slice and sequences?" for Detect (viewer.activeDocument()).
  const viewer = new NiftiEditorProvider(context.extensionUri, log);
  context.subscriptions.push(
    log,
    vscode.window.registerCustomEditorProvider(NIFTI_VIEW_TYPE, viewer, {
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: false,
    }),
    vscode.commands.registerCommand('anyad.detect', () => detectCommand(log)),
    vscode.commands.registerCommand('anyad.train', () => trainCommand(log)),
  );
  log.appendLine('AnyAD activated');
}

export function deactivate(): void {}
