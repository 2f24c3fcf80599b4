/** Extension entry point: registers the NIfTI custom editor and the AnyAD commands. VS Code glue only. */
import * as vscode from 'vscode';
import { join } from 'node:path';
import { NIFTI_VIEW_TYPE, type NiftiDocument, NiftiEditorProvider } from './niftiEditor';
import { WorkspaceSequences, assignSequenceCommand } from './workspaceSequences';
import { type CommandEnv, detectCommand, pretrainedWeightsCommand, scanCommand, showModelCardCommand, trainCommand } from './commands';
import { removePrivateTempDir } from './tempFolder';
import { EngineClient } from './engineClient';
import { HostBlockProbe } from './hostBlockProbe';
import { closeLabelFiles } from './model/labelFiles';
import { UnsavedAnnotationLedger } from './model/unsavedAnnotations';
import { installCudaCommand, showSetupCommand } from './setup';
import { COMMANDS, HOST_BLOCK_COMMAND } from '../shared/vocabulary';

let engine: EngineClient | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('AnyAD');
  // The viewer provider also answers "which volume, slice and sequences?" for Detect (viewer.activeDocument()).
  // Which file is which sequence: anyad.json + the "Assign sequence…" choices kept in workspaceState.
  const sequences = new WorkspaceSequences(context.workspaceState);
  const unsaved = new UnsavedAnnotationLedger(join((context.storageUri ?? context.globalStorageUri).fsPath, 'unsaved-annotations'));
  const viewer = new NiftiEditorProvider(context.extensionUri, log, sequences, unsaved);
  // Shows the execution provider setting until a run reports the provider actually used.
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  status.text = `AnyAD: ${vscode.workspace.getConfiguration('anyad').get<string>('executionProvider', 'auto')}`;
  status.tooltip = 'AnyAD execution provider / last detection';
  status.show();
  // The status bar belongs to the viewer in front: its last result, else the provider line.
  const idle = { text: status.text, tooltip: String(status.tooltip) };
  viewer.onDidChangeActiveViewer((doc) => {
    const s = doc?.status ?? idle;
    status.text = s.text;
    status.tooltip = s.tooltip;
  });
  // One engine process per window: started on first use, restarted after a crash, stopped when idle.
  engine = new EngineClient({
    command: { script: vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath, args: ['engine'] },
    log: (l) => log.appendLine(l),
  });
  // How long this thread is blocked while opening, detecting, training: logged, and asked by tests (anyad.hostBlock).
  const probe = new HostBlockProbe();
  probe.start();
  const env: CommandEnv = { log, viewer, extensionUri: context.extensionUri, status, sequences, engine, probe };
  // Opening a volume counts as the 'open' phase until its viewer has had time to ask for the file's bytes.
  const editor: vscode.CustomEditorProvider<NiftiDocument> = {
    onDidChangeCustomDocument: viewer.onDidChangeCustomDocument,
    openCustomDocument: (uri, ctx) => {
      const end = probe.phase('open');
      setTimeout(() => {
        end();
        log.appendLine(`Host: longest synchronous block during open ${probe.max('open').toFixed(1)} ms`);
      }, 5000);
      return viewer.openCustomDocument(uri, ctx);
    },
    resolveCustomEditor: (doc, panel) => viewer.resolveCustomEditor(doc, panel),
    saveCustomDocument: (doc) => viewer.saveCustomDocument(doc),
    saveCustomDocumentAs: (doc, dest) => viewer.saveCustomDocumentAs(doc, dest),
    revertCustomDocument: (doc) => viewer.revertCustomDocument(doc),
    backupCustomDocument: (doc, ctx) => viewer.backupCustomDocument(doc, ctx),
  };
  // An edited anyad.json (patterns, assignments) re-resolves the open viewers' cases.
  const configWatcher = vscode.workspace.createFileSystemWatcher('**/anyad.json');
  const refresh = () => viewer.refreshCases();
  context.subscriptions.push(
    log,
    status,
    vscode.window.registerCustomEditorProvider(NIFTI_VIEW_TYPE, editor, {
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: false,
    }),
    vscode.commands.registerCommand(COMMANDS.detect, (uri?: unknown, mode?: unknown) => detectCommand(env, uri, mode)),
    vscode.commands.registerCommand(COMMANDS.train, () => trainCommand(env)),
    vscode.commands.registerCommand(COMMANDS.scan, () => scanCommand(env)),
    // Hidden (not in the palette): the longest host blocks per phase, for tests and benchmarks.
    vscode.commands.registerCommand(HOST_BLOCK_COMMAND, (reset?: unknown) => {
      const s = probe.snapshot();
      if (reset === true) probe.reset();
      return s;
    }),
    { dispose: () => probe.stop() },
    vscode.commands.registerCommand(COMMANDS.assignSequence, (uri?: unknown) =>
      assignSequenceCommand({ sequences, log, activeFile: () => viewer.activeDocument()?.uri, refresh }, uri),
    ),
    configWatcher,
    configWatcher.onDidChange(refresh),
    configWatcher.onDidCreate(refresh),
    configWatcher.onDidDelete(refresh),
    vscode.commands.registerCommand(COMMANDS.showModelCard, (dir?: unknown) => showModelCardCommand(env, dir)),
    vscode.commands.registerCommand(COMMANDS.pretrainedWeights, () => pretrainedWeightsCommand(env)),
    vscode.commands.registerCommand(COMMANDS.showSetup, () => showSetupCommand(context.extensionUri, log)),
    vscode.commands.registerCommand(COMMANDS.installCuda, () => installCudaCommand(context.extensionUri, log)),
  );
  log.appendLine('AnyAD activated');
}

export async function deactivate(): Promise<void> {
  removePrivateTempDir();
  closeLabelFiles();
  await engine?.dispose();
}
