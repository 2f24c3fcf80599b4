/**
 * Custom editor for *.nii / *.nii.gz: reads the file through the engine (validated, size
 * limited), reorients to RAS and sends the voxels to the webview as a transferred buffer.
 * A file the engine refuses shows a readable error view, never a blank panel.
 */
import * as vscode from 'vscode';
import { isAnyadError } from '../engine/errors';
import { readNifti, toCanonical } from '../engine/nifti';
import type { NiftiHeader, Volume } from '../engine/nifti/types';
import { parseWebviewMessage, type HostToWebview } from '../webview/protocol';
import { viewerHtml } from './webviewHtml';

export const NIFTI_VIEW_TYPE = 'anyad.niftiViewer';

class NiftiDocument implements vscode.CustomDocument {
  constructor(
    readonly uri: vscode.Uri,
    readonly loaded: { header: NiftiHeader; volume: Volume } | { error: string },
  ) {}
  dispose(): void {}
}

export class NiftiEditorProvider implements vscode.CustomReadonlyEditorProvider<NiftiDocument> {
  constructor(private readonly extensionUri: vscode.Uri, private readonly log: vscode.OutputChannel) {}

  async openCustomDocument(uri: vscode.Uri): Promise<NiftiDocument> {
    const name = uri.path.split('/').pop() ?? uri.path;
    try {
      const bytes = await vscode.workspace.fs.readFile(uri);
      const maxMb = vscode.workspace.getConfiguration('anyad').get<number>('maxVolumeMegabytes', 2048);
      const { header, volume } = readNifti(bytes, { file: name, maxBytes: maxMb * 1024 * 1024 });
      return new NiftiDocument(uri, { header, volume: toCanonical(volume) });
    } catch (e) {
      if (!isAnyadError(e)) this.log.appendLine(`unexpected error opening ${uri.fsPath}: ${(e as Error)?.stack ?? String(e)}`);
      return new NiftiDocument(uri, { error: isAnyadError(e) ? e.message : `could not open ${name}: ${(e as Error)?.message ?? String(e)}` });
    }
  }

  async resolveCustomEditor(doc: NiftiDocument, panel: vscode.WebviewPanel): Promise<void> {
    const distUri = vscode.Uri.joinPath(this.extensionUri, 'dist');
    panel.webview.options = { enableScripts: true, localResourceRoots: [distUri] };
    const name = doc.uri.path.split('/').pop() ?? 'volume';
    panel.webview.html = viewerHtml({
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(distUri, 'webview.js')).toString(),
      title: name,
    });
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const msg = parseWebviewMessage(raw);
      if (!msg) {
        this.log.appendLine(`viewer: dropped a malformed message from the webview`);
        return;
      }
      if (msg.type === 'log') this.log.appendLine(`viewer ${msg.level}: ${msg.message}`);
      else void panel.webview.postMessage(volumeMessage(name, doc));
    });
  }
}

function volumeMessage(name: string, doc: NiftiDocument): HostToWebview {
  if ('error' in doc.loaded) return { type: 'error', title: `Cannot show ${name}`, detail: doc.loaded.error };
  const { header, volume } = doc.loaded;
  const data = volume.data.byteOffset === 0 && volume.data.byteLength === volume.data.buffer.byteLength
    ? (volume.data.buffer as ArrayBuffer)
    : (volume.data.slice().buffer as ArrayBuffer);
  return { type: 'volume', name, dims: volume.dims, spacing: volume.spacing, orientation: header.orientation, datatype: header.datatype, data };
}
