/** Extension entry point: registers the custom editor and the commands. VS Code glue only. */
import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('AnyAD');
  context.subscriptions.push(output);
  output.appendLine('AnyAD activated');
}

export function deactivate(): void {}
