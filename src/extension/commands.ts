/** Command handlers: thin wrappers over the engine. */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadWorkspaceConfig } from '../engine/config';
import { isAnyadError } from '../engine/errors';
import { buildSliceDataset, discoverStudy, formatDatasetSummary } from '../engine/study';
import { writeFileAtomic } from '../engine/util/atomic';

const CONFIG_TEMPLATE = `{
  // AnyAD workspace config: see the README's "Workspace config" section.
  "data": {
    "root": ".",                                   // folder with the studies
    "slices": { "axis": "axial", "start": 80, "end": 120, "step": 5 },
    "anomalyLabels": "any",
    "split": { "trainFraction": 0.8, "seed": 0 }
  },
  "preprocess": { "resize": 448, "crop": 392 },
  "output": { "dir": "anyad-out" }
}
`;

export async function detectCommand(log: vscode.OutputChannel): Promise<void> {
  log.appendLine('Detect anomalies: no trained AnyAD model bundle is available in this version.');
  await vscode.window.showInformationMessage('AnyAD: no trained model bundle is available yet, so anomaly detection cannot run in this version.');
}

/** Reads the workspace config and summarises the slice dataset it defines (training itself lands with the model). */
export async function trainCommand(log: vscode.OutputChannel): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    await vscode.window.showErrorMessage('AnyAD: open a folder with your studies first.');
    return;
  }
  const configPath = join(folder.uri.fsPath, 'anyad.json');
  if (!existsSync(configPath)) {
    const choice = await vscode.window.showInformationMessage('AnyAD: this workspace has no anyad.json.', 'Create anyad.json');
    if (choice) {
      writeFileAtomic(configPath, CONFIG_TEMPLATE);
      await vscode.window.showTextDocument(vscode.Uri.file(configPath));
    }
    return;
  }
  try {
    const config = loadWorkspaceConfig(configPath);
    const { cases, warnings } = discoverStudy(config.data.root, config);
    const ds = buildSliceDataset(cases, config);
    log.appendLine(formatDatasetSummary(ds.summary, config.data.root));
    for (const w of warnings) log.appendLine(`warning: ${w}`);
    log.show(true);
    await vscode.window.showInformationMessage(`AnyAD: ${cases.length} cases, ${ds.train.length} training and ${ds.test.length} test slices (details in the AnyAD output). Training itself is not available in this version.`);
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    log.appendLine(`Train on workspace failed: ${message}`);
    await vscode.window.showErrorMessage(`AnyAD: ${message}`);
  }
}
