/**
 * Custom editor for *.nii / *.nii.gz. The host reads only headers (the image's grid, checked
 * and size limited as the engine would) and sends the files' bytes: NiiVue decodes and draws
 * them in the webview, so opening a volume costs the host no inflation and no copies of
 * decoded voxels. The document is that grid plus the editable annotation (AnnotationDocument,
 * written on the file's own grid): NiiVue drawing actions reach VS Code as custom-document
 * edits with undo/redo, and save / save as / revert / backup (hot exit) go through the
 * annotation model. A file the engine refuses shows a readable error view, never a blank panel.
 */
import * as vscode from 'vscode';
import { unlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { isAnyadError, NiftiError } from '../engine/errors';
import { readRegularFileAsync } from '../engine/util/fileio';
import { privateTempFile } from './tempFolder';
import { sameGrid } from '../engine/nifti';
import { headerGridOf, type HeaderGrid } from '../engine/nifti/headerGrid';
import type { NiftiHeader } from '../engine/nifti/types';
import { findCaseOfFile, type Case, type SequenceRules } from '../engine/study';
import { closedRegionVoxels, strokeCost, strokeVoxels } from '../shared/planes';
import { AnnotationDocument, defaultAnnotationPath, type EditKind, type LabelPatch } from './model/annotationDocument';
import type { UnsavedAnnotationLedger } from './model/unsavedAnnotations';
import {
  parseWebviewMessage,
  SEQUENCE_NAMES,
  type Colormap,
  type DetectChannel,
  type Dims3,
  type HeatmapMessage,
  type HostToWebview,
  type InitMessage,
  type SequenceTab,
  type WebviewToHost,
} from '../shared/webviewProtocol';
import { viewerHtml } from './webviewHtml';
import { COLORMAPS, COMMANDS } from '../shared/vocabulary';

export const NIFTI_VIEW_TYPE = 'anyad.niftiViewer';

interface LoadedVolume {
  header: NiftiHeader;
  /** The file's grid; its canonical (RAS) grid is that of every map and of the annotation. */
  grid: HeaderGrid;
  /** The file's bytes until a viewer has been sent them (later viewers read the file again). */
  bytes?: Uint8Array;
  /** The case the file belongs to (sibling sequences, label), when its name says. */
  case?: Case;
  /** Which sequence of the case the opened file is. */
  opened: SequenceTab | null;
  /** Why the case's sequences may be incomplete (a broken anyad.json, a naming conflict); shown as a notice. */
  caseNotice?: string;
  annotation: AnnotationDocument;
  /**
   * Set when the case's annotation file could not be loaded: the image still opens, with an
   * empty annotation that cannot be edited (so the file is never overwritten), and this notice.
   */
  annotationReadOnly?: { path: string; notice: string };
}

/**
 * Most brush-stamp voxel visits one stroke message may cost (points × segment steps ×
 * (2r+1)²): ~0.1 s of host time. A bigger stroke is refused with a notice, not run for minutes.
 */
export const STROKE_COST_BUDGET = 20_000_000;

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
  /** The status bar line of this viewer's last result: shown again whenever it is the active editor. */
  status: { text: string; tooltip: string } | undefined;
  /** Opened with unsaved labels VS Code does not know of (found in the ledger): marked dirty once shown. */
  unsavedToMark = false;
  constructor(
    readonly uri: vscode.Uri,
    readonly loaded: LoadedVolume | { error: string },
    private readonly onDispose?: () => void,
  ) {}

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
/**
 * The bytes of an image file: a regular file (a FIFO would block the host forever, /dev/zero
 * never end) no larger on disk than anyad.maxVolumeMegabytes, checked before reading; read
 * without blocking the host's thread.
 */
function readImageFile(path: string): Promise<Buffer> {
  return readRegularFileAsync(path, {
    what: 'image',
    maxBytes: maxBytes(),
    as: NiftiError,
    code: 'nifti/io',
    tooLargeCode: 'nifti/too-large',
  });
}
function errorText(e: unknown, what: string): string {
  return isAnyadError(e) ? e.message : `${what}: ${(e as Error)?.message ?? String(e)}`;
}
/**
 * Whether any voxel is non-zero. A plain loop, four voxels a step where aligned: `.some` with a
 * callback over a 240×240×155 volume held the host thread ~50 ms on open.
 */
function anyNonZero(a: Uint8Array): boolean {
  const words = a.byteOffset % 4 === 0 ? new Uint32Array(a.buffer, a.byteOffset, a.length >> 2) : new Uint32Array(0);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return true;
  for (let i = words.length << 2; i < a.length; i++) if (a[i] !== 0) return true;
  return false;
}

/** The exact bytes of a typed array, as an ArrayBuffer postMessage can carry. */
function bufferOf(a: Float32Array | Uint8Array | Uint32Array): ArrayBuffer {
  // The typed-array slice copies (a Node Buffer's own slice would share its pooled memory).
  return (
    a.byteOffset === 0 && a.byteLength === a.buffer.byteLength
      ? a.buffer
      : Uint8Array.prototype.slice.call(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).buffer
  ) as ArrayBuffer;
}
/** An edit the host does not apply: the viewer says why and puts back the drawing as the document holds it. */
function rejectEdit(loaded: LoadedVolume, post: (m: HostToWebview) => void, why: string): void {
  post({ type: 'notice', level: 'warn', text: why });
  post({ type: 'labels', layer: 'annotation', data: bufferOf(loaded.annotation.labels) });
}
function patchMessage(p: LabelPatch): HostToWebview {
  return { type: 'annotationPatch', indices: bufferOf(p.indices), values: bufferOf(p.values) };
}

export class NiftiEditorProvider implements vscode.CustomEditorProvider<NiftiDocument> {
  private readonly changes = new vscode.EventEmitter<
    vscode.CustomDocumentEditEvent<NiftiDocument> | vscode.CustomDocumentContentChangeEvent<NiftiDocument>
  >();
  /**
   * Edits (undo/redo) and, once after a restore from the ledger, a content change (dirty until
   * saved or reverted): VS Code tells the two apart by the presence of undo/redo.
   */
  readonly onDidChangeCustomDocument = this.changes.event as vscode.Event<vscode.CustomDocumentEditEvent<NiftiDocument>>;
  private active: NiftiDocument | undefined;
  private readonly activeChanged = new vscode.EventEmitter<NiftiDocument | undefined>();
  /** The viewer in front changed (undefined: no viewer is the active editor): the status bar follows it. */
  readonly onDidChangeActiveViewer = this.activeChanged.event;
  private shown: NiftiDocument | undefined;
  private setShown(doc: NiftiDocument | undefined): void {
    if (doc === this.shown) return;
    this.shown = doc;
    this.activeChanged.fire(doc);
  }

  /** Open documents, so a new sequence assignment reaches every viewer. */
  private readonly docs = new Set<NiftiDocument>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.OutputChannel,
    private readonly sequences?: SequenceRuleSource,
    /** Where unsaved annotations were backed up, for restores VS Code does not hand over. */
    private readonly unsaved?: UnsavedAnnotationLedger,
  ) {}

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
      // An empty notice clears one left over from the previous case.
      doc.post({ type: 'notice', level: notice ? 'warn' : 'info', text: notice ?? '' });
      void this.maskMessage(loaded).then((mask) => {
        if (mask) doc.post(mask);
      });
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
      const bytes = await readImageFile(uri.fsPath);
      // Header only: the webview decodes the image (a .nii.gz is inflated here just to its header).
      const grid = headerGridOf(bytes, name, maxBytes());
      const source = { ...grid.source, file: uri.fsPath };
      const { found, notice } = this.caseOf(uri.fsPath);
      const opened = openedRole(found, uri.fsPath);
      // The annotation is written on the opened file's own grid (not the canonical one).
      const annotationPath = defaultAnnotationPath(uri.fsPath, found?.id);
      const handedBackup = context.backupId ? vscode.Uri.parse(context.backupId).fsPath : undefined;
      const ledgerBackup = handedBackup ? undefined : this.unsaved?.find(uri.fsPath, annotationPath);
      const backupPath = handedBackup ?? ledgerBackup;
      let annotation: AnnotationDocument;
      let annotationReadOnly: LoadedVolume['annotationReadOnly'];
      try {
        annotation = await AnnotationDocument.open(grid.canonical, annotationPath, { source, backupPath, maxBytes: maxBytes() });
      } catch (e) {
        // A broken annotation must not make the image (and every sequence of its case) unopenable.
        if (!isAnyadError(e)) throw e;
        annotationReadOnly = {
          path: annotationPath,
          notice: `Annotation not loaded, drawing is off: ${e.message}. Fix, move or delete that file and reopen the image to annotate.`,
        };
        this.log.appendLine(`viewer: ${annotationReadOnly.notice}`);
        // An empty annotation at a path that does not exist: nothing is ever written over the broken file.
        annotation = await AnnotationDocument.open(grid.canonical, privateTempFile('-annotation.nii.gz'), { source });
      }
      if (backupPath && !annotationReadOnly)
        this.log.appendLine(
          `viewer: restored the unsaved annotation of ${uri.fsPath} from ${handedBackup ? "VS Code's backup" : `its last backup ${backupPath}`}`,
        );
      const doc: NiftiDocument = new NiftiDocument(
        uri,
        { header: grid.header, grid, bytes, case: found, opened, caseNotice: notice, annotation, annotationReadOnly },
        () => {
          this.docs.delete(doc);
          // Closed: VS Code has either saved the labels or the user chose not to keep them.
          this.unsaved?.forget(uri.fsPath);
        },
      );
      doc.unsavedToMark = Boolean(ledgerBackup) && !annotationReadOnly;
      this.docs.add(doc);
      return doc;
    } catch (e) {
      if (!isAnyadError(e)) this.log.appendLine(`unexpected error opening ${uri.fsPath}: ${(e as Error)?.stack ?? String(e)}`);
      return new NiftiDocument(uri, { error: errorText(e, `could not open ${name}`) });
    }
  }

  resolveCustomEditor(doc: NiftiDocument, panel: vscode.WebviewPanel): void {
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
    this.setShown(doc);
    if (doc.unsavedToMark) {
      // The document is VS Code's by now: the restored labels mark it dirty until saved or reverted.
      doc.unsavedToMark = false;
      this.changes.fire({ document: doc });
    }
    panel.onDidChangeViewState(() => {
      if (panel.active) this.active = doc;
      // Detect keeps using the last viewer; the status bar shows only the one in front.
      this.setShown(panel.active ? doc : this.shown === doc ? undefined : this.shown);
    });
    panel.onDidDispose(() => {
      doc.panels.delete(panel);
      if (this.active === doc && doc.panels.size === 0) this.active = undefined;
      if (this.shown === doc) this.setShown(undefined);
    });
    const dims = 'error' in doc.loaded ? null : doc.loaded.grid.canonical.dims;
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const msg = parseWebviewMessage(raw, dims);
      if (!msg) {
        this.log.appendLine(`viewer: dropped a malformed message from the webview (${describe(raw)})`);
        return;
      }
      const failed = (e: unknown) => {
        this.log.appendLine(`viewer: ${msg.type} failed: ${(e as Error)?.stack ?? String(e)}`);
        void panel.webview.postMessage({
          type: 'notice',
          level: 'error',
          text: errorText(e, `${msg.type} failed`),
        } satisfies HostToWebview);
      };
      try {
        void this.handle(doc, panel, name, msg).catch(failed);
      } catch (e) {
        failed(e);
      }
    });
    // The image goes out now, not after the webview's 'ready': VS Code holds messages until the
    // page has loaded (its script listens by then), so the bytes travel while the script loads.
    if (!('error' in doc.loaded)) {
      const loaded = doc.loaded;
      this.eager.add(panel);
      void this.sendInitial(doc.uri, loaded, name, (m) => void panel.webview.postMessage(m)).catch((e) => {
        this.log.appendLine(`viewer: sending ${name} failed: ${(e as Error)?.stack ?? String(e)}`);
        void panel.webview.postMessage({
          type: 'error',
          title: `Cannot show ${name}`,
          detail: errorText(e, 'sending it failed'),
        } satisfies HostToWebview);
      });
    }
  }

  /** Panels sent their image before their first 'ready' (a later 'ready' is a reloaded page: sent again). */
  private readonly eager = new WeakSet<vscode.WebviewPanel>();

  private async handle(doc: NiftiDocument, panel: vscode.WebviewPanel, name: string, msg: WebviewToHost): Promise<void> {
    const post = (m: HostToWebview) => void panel.webview.postMessage(m);
    if (msg.type === 'log') {
      this.log.appendLine(`viewer ${msg.level}: ${msg.message}`);
      // The output channel opens by itself only on errors (e.g. a file NiiVue cannot decode).
      if (msg.level === 'error') this.log.show(true);
      return;
    }
    if ('error' in doc.loaded) {
      if (msg.type === 'ready') post({ type: 'error', title: `Cannot show ${name}`, detail: doc.loaded.error });
      return;
    }
    const loaded = doc.loaded;
    switch (msg.type) {
      case 'ready':
        if (this.eager.delete(panel)) return;
        await this.sendInitial(doc.uri, loaded, name, post);
        return;
      case 'requestSequence':
        post(await this.sequenceMessage(loaded, msg.sequence));
        return;
      case 'drawEdit': {
        if (this.refuseReadOnly(loaded, post)) return;
        const edit = loaded.annotation.apply(msg.kind, new Uint32Array(msg.indices), new Uint8Array(msg.values));
        if (edit) this.recordEdit(doc, loaded.annotation, edit.kind, { indices: edit.indices, values: edit.after });
        return;
      }
      case 'addOverlay':
        await this.addOverlay(doc.uri, post);
        return;
      case 'stroke': {
        if (this.refuseReadOnly(loaded, post)) return;
        const { dims } = loaded.grid.canonical;
        const cost = strokeCost(msg.points, msg.radius);
        if (cost > STROKE_COST_BUDGET) {
          this.log.appendLine(
            `viewer: stroke refused: ${msg.points.length / 2} points, radius ${msg.radius} (cost ${cost} over ${STROKE_COST_BUDGET})`,
          );
          rejectEdit(
            loaded,
            post,
            'Stroke not applied: too large to draw in one go (long jumps with a big brush); draw it in shorter strokes or with a smaller brush.',
          );
          return;
        }
        const voxels = strokeVoxels(dims, msg.plane, msg.slice, msg.points, msg.radius);
        this.paint(doc, loaded.annotation, msg.tool, voxels, msg.tool === 'eraser' ? 0 : msg.value);
        return;
      }
      case 'fill': {
        if (this.refuseReadOnly(loaded, post)) return;
        const voxels = closedRegionVoxels(loaded.annotation.labels, loaded.grid.canonical.dims, msg.plane, msg.slice, msg.a, msg.b);
        if (!voxels) {
          rejectEdit(loaded, post, 'Fill: that region is not closed on this slice (it reaches the edge); draw a closed outline first.');
          return;
        }
        this.paint(doc, loaded.annotation, 'fill', voxels, msg.value);
        return;
      }
      case 'command': {
        if (msg.command === 'showLog') {
          this.log.show(true);
          return;
        }
        const command = {
          undo: 'undo',
          redo: 'redo',
          save: 'workbench.action.files.save',
          saveAs: 'workbench.action.files.saveAs',
          revert: 'workbench.action.files.revert',
          detectSlice: COMMANDS.detect,
          detectVolume: COMMANDS.detect,
          showModelCard: COMMANDS.showModelCard,
          pretrainedWeights: COMMANDS.pretrainedWeights,
        }[msg.command];
        const args =
          msg.command === 'detectSlice'
            ? [doc.uri, 'slice']
            : msg.command === 'detectVolume'
              ? [doc.uri, 'volume']
              : msg.command === 'showModelCard' && doc.shownModel
                ? [doc.shownModel]
                : [];
        void vscode.commands.executeCommand(command, ...args);
        return;
      }
      case 'viewState':
        doc.viewState = { cursor: msg.cursor, modalities: msg.modalities };
        return;
    }
  }

  /** True (after a notice and a reset of the drawing) when the annotation cannot be edited. */
  private refuseReadOnly(loaded: LoadedVolume, post: (m: HostToWebview) => void): boolean {
    if (!loaded.annotationReadOnly) return false;
    rejectEdit(loaded, post, loaded.annotationReadOnly.notice);
    return true;
  }

  private async sendInitial(uri: vscode.Uri, loaded: LoadedVolume, name: string, post: (m: HostToWebview) => void): Promise<void> {
    const { header, grid } = loaded;
    const sequences = SEQUENCE_NAMES.filter((s) => loaded.case?.files[s]);
    const cfg = vscode.workspace.getConfiguration('anyad');
    const opacity = cfg.get<number>('overlay.opacity', 0.5);
    const colormap = cfg.get<Colormap>('overlay.colormap', 'hot');
    post({
      type: 'init',
      name,
      dims: grid.canonical.dims,
      spacing: grid.canonical.spacing,
      orientation: header.orientation,
      datatype: header.datatype,
      sequences,
      opened: loaded.opened,
      hasLabel: Boolean(loaded.case?.label),
      annotationFile: loaded.annotationReadOnly?.path ?? loaded.annotation.annotationPath,
      overlay: {
        opacity: Number.isFinite(opacity) ? Math.min(1, Math.max(0, opacity)) : 0.5,
        colormap: (COLORMAPS as readonly string[]).includes(colormap) ? colormap : 'hot',
      },
      sourceDims: grid.source.dims,
      axes: grid.source.axes.map((a) => ({ axis: a.axis, flip: a.flip })) as InitMessage['axes'],
    });
    const bytes = loaded.bytes ?? (await readImageFile(uri.fsPath));
    loaded.bytes = undefined;
    post({ type: 'file', layer: 'opened', name, bytes: bufferOf(bytes) });
    // A blank annotation is not sent: the webview starts from an empty drawing.
    if (anyNonZero(loaded.annotation.labels)) post({ type: 'labels', layer: 'annotation', data: bufferOf(loaded.annotation.labels) });
    const mask = await this.maskMessage(loaded);
    if (mask) post(mask);
    if (loaded.caseNotice) post({ type: 'notice', level: 'warn', text: loaded.caseNotice });
    if (loaded.annotationReadOnly) post({ type: 'notice', level: 'warn', text: loaded.annotationReadOnly.notice });
  }

  /** The case's label mask file (or a notice why not); undefined without a label. */
  private async maskMessage(loaded: LoadedVolume): Promise<HostToWebview | undefined> {
    if (!loaded.case?.label) return undefined;
    try {
      return {
        type: 'file',
        layer: 'mask',
        name: basename(loaded.case.label),
        bytes: bufferOf(await this.onGrid(loaded, loaded.case.label)),
      };
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
    const ignored = configProblem
      ? `anyad.json is not applied (${configProblem}); fix it to see the sequences its patterns and assignments name.`
      : undefined;
    if (ignored) this.log.appendLine(`viewer: ${ignored}`);
    try {
      return { found: findCaseOfFile(path, rules), notice: ignored };
    } catch (e) {
      const text = `Sibling sequences not shown: ${errorText(e, 'case discovery failed')}`;
      this.log.appendLine(`viewer: ${path}: ${text}`);
      return { notice: ignored ? `${ignored} ${text}` : text };
    }
  }

  /** A sibling sequence's file, or a notice saying why it cannot be shown. */
  private async sequenceMessage(loaded: LoadedVolume, sequence: SequenceTab): Promise<HostToWebview> {
    const file = loaded.case?.files[sequence];
    if (!file) return { type: 'notice', level: 'warn', text: `This case has no ${sequence.toUpperCase()} file.` };
    try {
      return { type: 'file', layer: sequence, name: basename(file), bytes: bufferOf(await this.onGrid(loaded, file)) };
    } catch (e) {
      return { type: 'notice', level: 'error', text: `${sequence.toUpperCase()} not shown: ${errorText(e, 'cannot read it')}` };
    }
  }

  /** A case file's bytes, once its header says it lies on the opened volume's grid. */
  private async onGrid(loaded: LoadedVolume, file: string): Promise<Uint8Array> {
    const bytes = await readImageFile(file);
    const other = headerGridOf(bytes, file, maxBytes()).canonical;
    const own = loaded.grid.canonical;
    if (!sameGrid(other, own))
      throw new Error(`${file} is not on the grid of the opened volume (${other.dims.join('×')} vs ${own.dims.join('×')})`);
    return bytes;
  }

  /**
   * "Add overlay…": another NIfTI of the subject (a segmentation, a map from another tool),
   * picked by the user. NiiVue resamples it onto the view, so any grid in the same world
   * space is accepted; the header must still pass the engine's checks.
   */
  private async addOverlay(uri: vscode.Uri, post: (m: HostToWebview) => void): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      title: 'Add a NIfTI of this subject as an overlay',
      canSelectMany: false,
      defaultUri: vscode.Uri.joinPath(uri, '..'),
      filters: { NIfTI: ['nii', 'nii.gz', 'gz'] },
      openLabel: 'Add overlay',
    });
    const file = picked?.[0];
    if (!file) return;
    const name = basename(file.fsPath);
    try {
      const bytes = await readImageFile(file.fsPath);
      headerGridOf(bytes, name, maxBytes());
      post({ type: 'file', layer: 'overlay', name, bytes: bufferOf(bytes) });
    } catch (e) {
      post({ type: 'notice', level: 'error', text: `${name} not added: ${errorText(e, 'cannot read it')}` });
    }
  }

  /** Applies one annotation edit, tells VS Code (undo/redo, dirty) and the viewers. */
  private paint(doc: NiftiDocument, annotation: AnnotationDocument, kind: EditKind, voxels: Uint32Array, value: number): void {
    const edit = annotation.paint(kind, voxels, value);
    if (edit) this.recordEdit(doc, annotation, kind, { indices: edit.indices, values: edit.after });
  }

  /** An edit the annotation has applied: every viewer shows it, VS Code gets it for undo/redo and dirty state. */
  private recordEdit(doc: NiftiDocument, annotation: AnnotationDocument, kind: EditKind, patch: LabelPatch): void {
    doc.post(patchMessage(patch));
    this.changes.fire({
      document: doc,
      label: kind === 'fill' ? 'Fill region' : kind === 'eraser' ? 'Erase' : 'Brush stroke',
      undo: () => {
        const p = annotation.undo();
        if (p) doc.post(patchMessage(p));
      },
      redo: () => {
        const p = annotation.redo();
        if (p) doc.post(patchMessage(p));
      },
    });
  }

  async saveCustomDocument(doc: NiftiDocument): Promise<void> {
    if (!('error' in doc.loaded) && !doc.loaded.annotationReadOnly) {
      await doc.loaded.annotation.save();
      this.unsaved?.forget(doc.uri.fsPath);
      this.log.appendLine(`viewer: saved the annotation of ${doc.uri.fsPath} to ${doc.loaded.annotation.annotationPath}`);
    }
  }

  /** Save As writes the annotation to `destination`, which becomes its file from then on. */
  async saveCustomDocumentAs(doc: NiftiDocument, destination: vscode.Uri): Promise<void> {
    if (!('error' in doc.loaded)) await doc.loaded.annotation.saveAs(destination.fsPath);
    this.unsaved?.forget(doc.uri.fsPath);
  }

  async revertCustomDocument(doc: NiftiDocument): Promise<void> {
    if ('error' in doc.loaded) return;
    await doc.loaded.annotation.revert(maxBytes());
    this.unsaved?.forget(doc.uri.fsPath);
    doc.post({ type: 'labels', layer: 'annotation', data: bufferOf(doc.loaded.annotation.labels) });
    this.log.appendLine(
      `viewer: reverted the annotation of ${doc.uri.fsPath} to ${doc.loaded.annotation.annotationPath} (${doc.panels.size} viewer(s))`,
    );
  }

  /** Hot exit: the unsaved annotation goes to VS Code's backup location as a NIfTI. */
  async backupCustomDocument(doc: NiftiDocument, context: vscode.CustomDocumentBackupContext): Promise<vscode.CustomDocumentBackup> {
    const target = context.destination;
    if (!('error' in doc.loaded)) {
      await doc.loaded.annotation.backup(target.fsPath);
      this.unsaved?.record(doc.uri.fsPath, target.fsPath);
      this.log.appendLine(`viewer: backed up the unsaved annotation of ${doc.uri.fsPath} to ${target.fsPath}`);
    }
    return {
      id: target.toString(),
      delete: () => {
        this.unsaved?.forget(doc.uri.fsPath, target.fsPath);
        try {
          unlinkSync(target.fsPath);
        } catch {
          /* already gone */
        }
      },
    };
  }
}

/** Which sequence of its case the opened file is (null when the rules do not say). */
function openedRole(found: Case | undefined, path: string): SequenceTab | null {
  return found ? (SEQUENCE_NAMES.find((s) => found.files[s] === path) ?? null) : null;
}

function describe(raw: unknown): string {
  if (typeof raw !== 'object' || raw === null) return typeof raw;
  const t = (raw as { type?: unknown }).type;
  return typeof t === 'string' ? `type '${t.slice(0, 40)}'` : 'no type';
}
