/**
 * "AnyAD: Show setup": `anyad doctor` in a child process (it starts onnxruntime sessions to
 * probe the providers, which must not block the extension host), shown in a new untitled
 * document the user can copy into a bug report.
 */
import * as vscode from 'vscode';
import { cliErrorLine, runCli } from './cliRunner';

export async function showSetupCommand(extensionUri: vscode.Uri, log: vscode.OutputChannel): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('anyad');
  const args = ['doctor', '--threads', String(cfg.get<number>('threads', 0))];
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (root) args.push('--workspace', root);
  const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AnyAD: checking the setup…' }, () => runCli(extensionUri, args));
  if (r.code !== 0) {
    log.appendLine(r.stderr);
    void vscode.window.showErrorMessage(`AnyAD: anyad doctor failed: ${cliErrorLine(r)}`);
    return;
  }
  const settings = `settings: anyad.executionProvider = ${cfg.get<string>('executionProvider', 'auto')}, anyad.threads = ${cfg.get<number>('threads', 0)}, VS Code ${vscode.version}\n`;
  const doc = await vscode.workspace.openTextDocument({ content: `${r.stdout}${settings}`, language: 'plaintext' });
  await vscode.window.showTextDocument(doc, { preview: false });
}
