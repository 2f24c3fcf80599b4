/**
 * Custom editor for *.nii / *.nii.gz. The document is the opened volume (read through the
 * engine, validated, size limited, reoriented to RAS) plus its editable annotation
 * (AnnotationDocument): edits reach VS Code as custom-document edits with undo/redo,
 * and save / save as / revert / backup (hot exit) go through the annotation model.
 * A file the engine refuses shows a readable error view, never a blank panel.
 */
import * as vscode from 'vscode';
import { unlinkSync } from 'node:fs';
import { isAnyadError } from '../engine/errors';
import { loadVolume, readNifti, sameGrid, sourceGridOf, toCanonical } from '../engine/nifti';
import type { NiftiHeader, Volume } from '../engine/nifti/types';
import { findCaseOfFile, type Case, type SequenceRules } from '../engine/study';
import { closedRegionVoxels, strokeVoxels } from './model/planes';
import { AnnotationDocument, defaultAnnotationPath, type LabelPatch } from './model/annotationDocument';
import { parseWebviewMessage, SEQUENCE_NAMES, type Colormap, type DetectChannel, type Dims3, type HeatmapMessage, type HostToWebview, type SequenceTab, type WebviewToHost } from '../webview/protocol';
import { viewerHtml } from './webviewHtml';

export const NIFTI_VIEW_TYPE = 'anyad.niftiViewer';

interface LoadedVolume {
  header: NiftiHeader;
  /** Canonical (RAS) volume: the grid of every overlay and of the annotation. */
  volume: Volume;
  /** The case the file belongs to (sibling sequences, label), when its name says. */
  case?: Case;
  /** Which sequence of the case the opened file is. */
  opened: SequenceTab | null;
  /** Why the case's sequences may be incomplete (a broken anyad.json, a naming conflict); shown as a notice. */
  caseNotice?: string;
  annotation: AnnotationDocument;
}

/** Where the viewer gets the workspace's sequence rules (anyad.json + manual assignments). */
export interface SequenceRuleSource {
  rulesFor(path: string): { rules: SequenceRules; configProblem?: string };
}

/** Where a viewer is: for the Detect command (current slice, chosen sequences). */
export interface ViewerState {
  cursor: Dims3;
  modalities: DetectChannel[];
}

export class NiftiDocument implements vscode.CustomDocument {
  readonly panels = new Set<vscode.WebviewPanel>();
  viewState: ViewerState | null = null;
  /** Bundle folder of the detection shown: the viewer's "Model card" link opens its card. */
  shownModel: string | undefined;
  constructor(readonly uri: vscode.Uri, readonly loaded: LoadedVolume | { error: string }, private readonly onDispose?: () => void) {}

  /** Sends `msg` to every viewer of this document. */
  post(msg: HostToWebview): void {
    for (const p of this.panels) void p.webview.postMessage(msg);
  }

  /**
   * Shows a detection result: `map` on the canonical voxel grid (NaN where not computed),
   * the score, threshold and decision, for axial `slice` or the whole volume (null).
   */
  showDetection(map: Float32Array, result: Omit<HeatmapMessage, 'type' | 'data'>, modelDir: string): void {
    this.shownModel = modelDir;
    this.post({ type: 'heatmap', data: bufferOf(map), ...result, modalities: [...result.modalities] });
  }

  /** Fills the per-slice score strip (one score per axial slice, NaN = not scored). */
  showSliceScores(scores: Float32Array, threshold: number): void {
    this.post({ type: 'sliceScores', scores: bufferOf(scores), threshold });
  }
  dispose(): void {
    this.panels.clear();
    this.onDispose?.();
  }
}

function maxBytes(): number {
  return vscode.workspace.getConfiguration('anyad').get<number>('maxVolumeMegabytes', 2048) * 1024 * 1024;
}
function errorText(e: unknown, what: string): string {
  return isAnyadError(e) ? e.message : `${what}: ${(e as Error)?.message ?? String(e)}`;
}
/** The exact bytes of a typed array, as an ArrayBuffer postMessage can carry. */
function bufferOf(a: Float32Array | Uint8Array | Uint32Array): ArrayBuffer {
  return (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a.buffer : a.slice().buffer) as ArrayBuffer;
}
function patchMessage(p: LabelPatch): HostToWebview {
  return { type: 'annotationPatch', indices: bufferOf(p.indices), values: bufferOf(p.values) };
}

export class NiftiEditorProvider implements vscode.CustomEditorProvider<NiftiDocument> {
  private readonly changes = new vscode.EventEmitter<vscode.CustomDocumentEditEvent<NiftiDocument>>();
  readonly onDidChangeCustomDocument = this.changes.event;
  private active: NiftiDocument | undefined;

  /** Open documents, so a new sequence assignment reaches every viewer. */
  private readonly docs = new Set<NiftiDocument>();

  constructor(private readonly extensionUri: vscode.Uri, private readonly log: vscode.OutputChannel, private readonly sequences?: SequenceRuleSource) {}

  /**
   * Re-resolves the case of every open viewer (after "Assign sequence…" or an anyad.json
   * change) and updates the sequence tabs, Detect choices and label mask of those that changed.
   */
  refreshCases(): void {
    for (const doc of this.docs) {
      if ('error' in doc.loaded) continue;
      const loaded = doc.loaded;
      const { found, notice } = this.caseOf(doc.uri.fsPath);
      const opened = openedRole(found, doc.uri.fsPath);
      if (JSON.stringify([found, opened]) === JSON.stringify([loaded.case, loaded.opened]) && notice === loaded.caseNotice) continue;
      Object.assign(loaded, { case: found, opened, caseNotice: notice });
      doc.post({ type: 'case', sequences: SEQUENCE_NAMES.filter((s) => found?.files[s]), opened, hasLabel: Boolean(found?.label) });
      const mask = this.maskMessage(loaded);
      if (mask) doc.post(mask);
      // An empty notice clears one left over from the previous case.
      doc.post({ type: 'notice', level: notice ? 'warn' : 'info', text: notice ?? '' });
    }
  }

  /** The document of the viewer last focused (for commands such as Detect). */
  activeDocument(): NiftiDocument | undefined {
    return this.active;
  }

  async openCustomDocument(uri: vscode.Uri, context: vscode.CustomDocumentOpenContext): Promise<NiftiDocument> {
    const name = uri.path.split('/').pop() ?? uri.path;
    try {
      if (uri.scheme !== 'file') throw new Error(`only files on disk can be opened (this is a '${uri.scheme}' resource)`);
      const bytes = await vscode.workspace.fs.readFile(uri);
      const read = readNifti(bytes, { file: name, maxBytes: maxBytes() });
      const { header, volume } = read;
      const canonical = toCanonical(volume);
      const { found, notice } = this.caseOf(uri.fsPath);
      const opened = openedRole(found, uri.fsPath);
      const backupPath = context.backupId ? vscode.Uri.parse(context.backupId).fsPath : undefined;
      // The annotation is written on the opened file's own grid (not the canonical one).
      const annotation = AnnotationDocument.open(canonical, defaultAnnotationPath(uri.fsPath, found?.id), { source: sourceGridOf(read, uri.fsPath), backupPath, maxBytes: maxBytes() });
      const doc: NiftiDocument = new NiftiDocument(uri, { header, volume: canonical, case: found, opened, caseNotice: notice, annotation }, () => this.docs.delete(doc));
      this.docs.add(doc);
      return doc;
    } catch (e) {
      if (!isAnyadError(e)) this.log.appendLine(`unexpected error opening ${uri.fsPath}: ${(e as Error)?.stack ?? String(e)}`);
      return new NiftiDocument(uri, { error: errorText(e, `could not open ${name}`) });
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
    doc.panels.add(panel);
    this.active = doc;
    panel.onDidChangeViewState(() => { if (panel.active) this.active = doc; });
    panel.onDidDispose(() => {
      doc.panels.delete(panel);
      if (this.active === doc && doc.panels.size === 0) this.active = undefined;
    });
    const dims = 'error' in doc.loaded ? null : doc.loaded.volume.dims;
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const msg = parseWebviewMessage(raw, dims);
      if (!msg) {
        this.log.appendLine(`viewer: dropped a malformed message from the webview (${describe(raw)})`);
        return;
      }
      try {
        this.handle(doc, panel, name, msg);
      } catch (e) {
        this.log.appendLine(`viewer: ${msg.type} failed: ${(e as Error)?.stack ?? String(e)}`);
        void panel.webview.postMessage({ type: 'notice', level: 'error', text: errorText(e, `${msg.type} failed`) } satisfies HostToWebview);
      }
    });
  }

  private handle(doc: NiftiDocument, panel: vscode.WebviewPanel, name: string, msg: WebviewToHost): void {
    const post = (m: HostToWebview) => void panel.webview.postMessage(m);
    if (msg.type === 'log') {
      this.log.appendLine(`viewer ${msg.level}: ${msg.message}`);
      return;
    }
    if ('error' in doc.loaded) {
      if (msg.type === 'ready') post({ type: 'error', title: `Cannot show ${name}`, detail: doc.loaded.error });
      return;
    }
    const loaded = doc.loaded;
    switch (msg.type) {
      case 'ready':
        this.sendInitial(loaded, name, post);
        return;
      case 'requestSequence':
        post(this.sequenceMessage(loaded, msg.sequence));
        return;
      case 'stroke': {
        const { dims } = loaded.volume;
        const voxels = strokeVoxels(dims, msg.plane, msg.slice, msg.points, msg.radius);
        this.paint(doc, loaded.annotation, msg.tool, voxels, msg.tool === 'eraser' ? 0 : msg.value);
        return;
      }
      case 'fill': {
        const voxels = closedRegionVoxels(loaded.annotation.labels, loaded.volume.dims, msg.plane, msg.slice, msg.a, msg.b);
        if (!voxels) {
          post({ type: 'notice', level: 'warn', text: 'Fill: that region is not closed on this slice (it reaches the edge); draw a closed outline first.' });
          post({ type: 'labels', layer: 'annotation', data: bufferOf(loaded.annotation.labels) });
          return;
        }
        this.paint(doc, loaded.annotation, 'fill', voxels, msg.value);
        return;
      }
      case 'command': {
        const command = { undo: 'undo', redo: 'redo', save: 'workbench.action.files.save', detectSlice: 'anyad.detect', detectVolume: 'anyad.detect',
          showModelCard: 'anyad.showModelCard', pretrainedWeights: 'anyad.pretrainedWeights' }[msg.command];
        const args = msg.command === 'detectSlice' ? [doc.uri, 'slice'] : msg.command === 'detectVolume' ? [doc.uri, 'volume']
          : msg.command === 'showModelCard' && doc.shownModel ? [doc.shownModel] : [];
        void vscode.commands.executeCommand(command, ...args);
        return;
      }
      case 'viewState':
        doc.viewState = { cursor: msg.cursor, modalities: msg.modalities };
        return;
    }
  }

  private sendInitial(loaded: LoadedVolume, name: string, post: (m: HostToWebview) => void): void {
    const { header, volume } = loaded;
    const sequences = SEQUENCE_NAMES.filter((s) => loaded.case?.files[s]);
    const cfg = vscode.workspace.getConfiguration('anyad');
    const opacity = cfg.get<number>('overlay.opacity', 0.5);
    const colormap = cfg.get<Colormap>('overlay.colormap', 'hot');
    post({
      type: 'init', name, dims: volume.dims, spacing: volume.spacing, orientation: header.orientation, datatype: header.datatype,
      sequences, opened: loaded.opened, hasLabel: Boolean(loaded.case?.label), annotationFile: loaded.annotation.annotationPath,
      overlay: { opacity: Number.isFinite(opacity) ? Math.min(1, Math.max(0, opacity)) : 0.5, colormap: ['hot', 'jet', 'viridis'].includes(colormap) ? colormap : 'hot' },
    });
    post({ type: 'volume', sequence: 'opened', data: bufferOf(volume.data) });
    post({ type: 'labels', layer: 'annotation', data: bufferOf(loaded.annotation.labels) });
    const mask = this.maskMessage(loaded);
    if (mask) post(mask);
    if (loaded.caseNotice) post({ type: 'notice', level: 'warn', text: loaded.caseNotice });
  }

  /** The case's label mask on the opened grid (or a notice why not); undefined without a label. */
  private maskMessage(loaded: LoadedVolume): HostToWebview | undefined {
    if (!loaded.case?.label) return undefined;
    try {
      const mask = this.onGrid(loaded, loaded.case.label);
      const bytes = new Uint8Array(mask.data.length);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.max(0, Math.min(255, Math.round(mask.data[i])));
      return { type: 'labels', layer: 'mask', data: bytes.buffer };
    } catch (e) {
      return { type: 'notice', level: 'warn', text: `Label mask not shown: ${errorText(e, 'cannot read it')}` };
    }
  }

  /**
   * The case of a file under the workspace's rules; a broken anyad.json or a naming conflict
   * only costs the sibling tabs, so it becomes a notice (and a log line), never an error view.
   */
  private caseOf(path: string): { found?: Case; notice?: string } {
    const { rules, configProblem } = this.sequences?.rulesFor(path) ?? { rules: {} };
    const ignored = configProblem ? `anyad.json is not applied (${configProblem}); fix it to see the sequences its patterns and assignments name.` : undefined;
    if (ignored) this.log.appendLine(`viewer: ${ignored}`);
    try {
      return { found: findCaseOfFile(path, rules), notice: ignored };
    } catch (e) {
      const text = `Sibling sequences not shown: ${errorText(e, 'case discovery failed')}`;
      this.log.appendLine(`viewer: ${path}: ${text}`);
      return { notice: ignored ? `${ignored} ${text}` : text };
    }
  }

  /** A sibling sequence's voxels, or a notice saying why it cannot be shown. */
  private sequenceMessage(loaded: LoadedVolume, sequence: SequenceTab): HostToWebview {
    const file = loaded.case?.files[sequence];
    if (!file) return { type: 'notice', level: 'warn', text: `This case has no ${sequence.toUpperCase()} file.` };
    try {
      return { type: 'volume', sequence, data: bufferOf(this.onGrid(loaded, file).data) };
    } catch (e) {
      return { type: 'notice', level: 'error', text: `${sequence.toUpperCase()} not shown: ${errorText(e, 'cannot read it')}` };
    }
  }

  /** Loads a case file and checks it lies on the opened volume's grid. */
  private onGrid(loaded: LoadedVolume, file: string): Volume {
    const vol = loadVolume(file, { maxBytes: maxBytes() });
    if (!sameGrid(vol, loaded.volume)) throw new Error(`${file} is not on the grid of the opened volume (${vol.dims.join('×')} vs ${loaded.volume.dims.join('×')})`);
    return vol;
  }

  /** Applies one annotation edit, tells VS Code (undo/redo, dirty) and the viewers. */
  private paint(doc: NiftiDocument, annotation: AnnotationDocument, kind: 'brush' | 'eraser' | 'fill', voxels: Uint32Array, value: number): void {
    const edit = annotation.paint(kind, voxels, value);
    if (!edit) return;
    doc.post(patchMessage({ indices: edit.indices, values: new Uint8Array(edit.indices.length).fill(value) }));
    this.changes.fire({
      document: doc,
      label: kind === 'fill' ? 'Fill region' : kind === 'eraser' ? 'Erase' : 'Brush stroke',
      undo: () => { const p = annotation.undo(); if (p) doc.post(patchMessage(p)); },
      redo: () => { const p = annotation.redo(); if (p) doc.post(patchMessage(p)); },
    });
  }

  async saveCustomDocument(doc: NiftiDocument): Promise<void> {
    if (!('error' in doc.loaded)) doc.loaded.annotation.save();
  }

  /** Save As writes the annotation to `destination`, which becomes its file from then on. */
  async saveCustomDocumentAs(doc: NiftiDocument, destination: vscode.Uri): Promise<void> {
    if (!('error' in doc.loaded)) doc.loaded.annotation.saveAs(destination.fsPath);
  }

  async revertCustomDocument(doc: NiftiDocument): Promise<void> {
    if ('error' in doc.loaded) return;
    doc.loaded.annotation.revert(maxBytes());
    doc.post({ type: 'labels', layer: 'annotation', data: bufferOf(doc.loaded.annotation.labels) });
  }

  /** Hot exit: the unsaved annotation goes to VS Code's backup location as a NIfTI. */
  async backupCustomDocument(doc: NiftiDocument, context: vscode.CustomDocumentBackupContext): Promise<vscode.CustomDocumentBackup> {
    const target = context.destination;
    if (!('error' in doc.loaded)) doc.loaded.annotation.backup(target.fsPath);
    return {
      id: target.toString(),
      delete: () => { try { unlinkSync(target.fsPath); } catch { /* already gone */ } },
    };
  }
}

/** Which sequence of its case the opened file is (null when the rules do not say). */
function openedRole(found: Case | undefined, path: string): SequenceTab | null {
  return found ? SEQUENCE_NAMES.find((s) => found.files[s] === path) ?? null : null;
}

function describe(raw: unknown): string {
  if (typeof raw !== 'object' || raw === null) return typeof raw;
  const t = (raw as { type?: unknown }).type;
  return typeof t === 'string' ? `type '${t.slice(0, 40)}'` : 'no type';
}
