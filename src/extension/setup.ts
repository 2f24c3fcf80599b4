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
  const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AnyAD: checking the setup…' }, () =>
    runCli(extensionUri, args),
  );
  if (r.code !== 0) {
    log.appendLine(r.stderr);
    void vscode.window.showErrorMessage(`AnyAD: anyad doctor failed: ${cliErrorLine(r)}`);
    return;
  }
  const settings = `settings: anyad.executionProvider = ${cfg.get<string>('executionProvider', 'auto')}, anyad.threads = ${cfg.get<number>('threads', 0)}, VS Code ${vscode.version}\n`;
  const doc = await vscode.workspace.openTextDocument({ content: `${r.stdout}${settings}`, language: 'plaintext' });
  await vscode.window.showTextDocument(doc, { preview: false });
}

/**
 * "AnyAD: Install CUDA provider": asks first (what is downloaded, from where, how large
 * roughly), then runs `anyad doctor --install-cuda --yes --progress-json` in a child process
 * with a cancellable progress notification; the CLI checks the SHA-512 and starts a CUDA
 * session to verify.
 */
export async function installCudaCommand(extensionUri: vscode.Uri, log: vscode.OutputChannel): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    void vscode.window.showInformationMessage(
      `AnyAD: onnxruntime's CUDA provider exists only for Linux x64. ${process.platform === 'win32' ? "On Windows set anyad.executionProvider to 'dml' (DirectML) or leave it on 'auto'." : "Use 'webgpu' or 'auto'."}`,
    );
    return;
  }
  const ok = await vscode.window.showWarningMessage(
    'Install the CUDA execution provider?',
    {
      modal: true,
      detail:
        "AnyAD will download onnxruntime-node's CUDA provider libraries (the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux, several hundred MB) from api.nuget.org, check their SHA-512 and put them next to the extension's onnxruntime binding. They need an NVIDIA driver, CUDA 12 and cuDNN 9 on the library path.",
    },
    'Download and install',
  );
  if (ok !== 'Download and install') return;
  const r = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'AnyAD: installing the CUDA provider', cancellable: true },
    (progress, token) => {
      let last = 0;
      return runCli(extensionUri, ['doctor', '--install-cuda', '--yes', '--progress-json'], {
        token,
        onStderrLine: (l) => log.appendLine(l),
        onStdoutLine: (l) => {
          try {
            const e = JSON.parse(l) as { event: string; received?: number; total?: number; message?: string };
            if (e.event === 'progress' && e.total) {
              const pct = Math.floor((100 * (e.received ?? 0)) / e.total);
              progress.report({ increment: pct - last, message: `${pct}% of ${(e.total / 2 ** 20).toFixed(0)} MB` });
              last = pct;
            } else if (e.event === 'info' && e.message) log.appendLine(e.message);
          } catch {
            log.appendLine(l);
          }
        },
      });
    },
  );
  const done = r.stdout
    .trim()
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l) as { event?: string; verified?: boolean; verifyError?: string };
      } catch {
        return {};
      }
    })
    .find((e) => e.event === 'done');
  if (done?.verified) void vscode.window.showInformationMessage('AnyAD: the CUDA provider is installed and a CUDA session started.');
  else if (done)
    void vscode.window.showWarningMessage(
      `AnyAD: the CUDA provider is installed, but a CUDA session did not start: ${done.verifyError ?? 'unknown'}`,
    );
  else void vscode.window.showErrorMessage(`AnyAD: installing the CUDA provider failed: ${cliErrorLine(r)}`);
}
