/** Command handlers: thin wrappers that call one engine function each. */
import * as vscode from 'vscode';

export async function detectCommand(log: vscode.OutputChannel): Promise<void> {
  log.appendLine('Detect anomalies: no trained AnyAD model bundle is available in this version.');
  await vscode.window.showInformationMessage('AnyAD: no trained model bundle is available yet, so anomaly detection cannot run. Train on workspace will produce one once training lands.');
}

export async function trainCommand(log: vscode.OutputChannel): Promise<void> {
  log.appendLine('Train on workspace: not available yet.');
}
