/** Command handlers: thin wrappers over the engine. */
import * as vscode from 'vscode';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { locateBundle } from '../engine/model/bundleLocator';
import { niftiOutputPath, readNifti, toCanonical } from '../engine/nifti';
import { cliErrorLine, runCli } from './cliRunner';
import type { NiftiEditorProvider } from './niftiEditor';
import type { WorkspaceSequences } from './workspaceSequences';
import { CONFIG_TEMPLATE, loadWorkspaceConfig } from '../engine/config';
import { isAnyadError } from '../engine/errors';
import { buildSliceDataset, discoverStudy, formatDatasetSummary } from '../engine/study';
import { writeFileAtomic } from '../engine/util/atomic';
import { isVolumeResult, parseDetectOutput } from '../shared/detectJson';
import { heatmapModel, modelCardPath, provenanceLogLine, statusSuffix, statusTooltip } from './provenance';
import { ensureEncoderWeightsInVsCode, ensureHubWeightsInVsCode } from './weightsConsent';
import { DINOV2_NAMES } from '../engine/hub/names';
import { type ModelPresetName, modelPreset } from '../engine/model/presets';
import { readRegularFile } from '../engine/util/fileio';
import { privateTempFile } from './tempFolder';

export interface CommandEnv {
  log: vscode.OutputChannel;
  viewer: NiftiEditorProvider;
  extensionUri: vscode.Uri;
  status: vscode.StatusBarItem;
  /** The workspace's sequence rules (anyad.json + "Assign sequence…" choices). */
  sequences?: WorkspaceSequences;
}

const NO_MODEL = 'AnyAD: no model found. Run "AnyAD: Train on workspace", or set anyad.modelPath to a model folder.';

/** The model Detect uses: anyad.modelPath, else the newest bundle trained in the workspace, else the shipped default. */
function locateModel(env: CommandEnv): ReturnType<typeof locateBundle> {
  return locateBundle({
    explicit: vscode.workspace.getConfiguration('anyad').get<string>('modelPath', '') || undefined,
    workspaceRoots: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    shippedDefault: join(env.extensionUri.fsPath, 'models', 'default'),
  });
}

/**
 * AnyAD: Detect anomalies — on the active viewer's current axial slice or whole volume, with
 * the viewer's modality subset. Runs the CLI in a child process and shows the map it writes.
 */
export async function detectCommand(env: CommandEnv, _uri?: unknown, modeArg?: unknown): Promise<void> {
  const doc = env.viewer.activeDocument();
  if (!doc || 'error' in doc.loaded) {
    await vscode.window.showErrorMessage('AnyAD: open a NIfTI volume in the AnyAD viewer first (its current slice and sequences are what Detect uses).');
    return;
  }
  const cfg = vscode.workspace.getConfiguration('anyad');
  const located = locateModel(env);
  if (!located) {
    await vscode.window.showErrorMessage(NO_MODEL);
    return;
  }
  const loaded = doc.loaded;
  // The viewer's case decides the files (one resolver for viewer, Detect and CLI): they go to the CLI explicitly.
  const present = (['flair', 't1', 't2'] as const).filter((s) => loaded.case?.files[s]);
  if (present.length === 0) {
    await vscode.window.showErrorMessage('AnyAD: this file is not a known FLAIR, T1 or T2. Run "AnyAD: Assign sequence…" on it, or add a data.sequences pattern to anyad.json.');
    return;
  }
  let mode = modeArg === 'slice' || modeArg === 'volume' ? modeArg : undefined;
  const z = doc.viewState?.cursor[2] ?? Math.floor(loaded.grid.canonical.dims[2] / 2);
  if (!mode) {
    const pick = await vscode.window.showQuickPick([{ label: `Current slice (axial ${z})`, mode: 'slice' as const }, { label: 'Whole volume', mode: 'volume' as const }], { title: 'AnyAD: Detect anomalies on…' });
    if (!pick) return;
    mode = pick.mode;
  }
  const modalities = doc.viewState?.modalities.length ? doc.viewState.modalities : present;
  const tmp = privateTempFile('-map.nii.gz'); // private 0700 folder, removed on deactivate
  const configPath = env.sequences?.rulesFor(doc.uri.fsPath).configPath;
  const files = present.flatMap((s) => [`--${s}`, loaded.case!.files[s]!]);
  const args = ['detect', '--model', located.dir, ...files, ...(configPath ? ['--config', configPath] : []), '--modalities', modalities.join(','), '--json', '--out', tmp,
    '--provider', cfg.get<string>('executionProvider', 'auto'), '--threads', String(cfg.get<number>('threads', 0)),
    ...(mode === 'volume' ? ['--all'] : ['--slice', String(z)])];
  env.log.appendLine(`Detect: model ${located.dir} (${located.source}), ${mode === 'volume' ? 'whole volume' : `slice ${z}`}, sequences ${modalities.join('+')}`);
  env.log.appendLine(`Detect: files ${present.map((s) => `${s.toUpperCase()} ${loaded.case!.files[s]}`).join(', ')}${configPath ? `; config ${configPath}` : ''}`);
  try {
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AnyAD: detecting anomalies…', cancellable: true },
      (_p, token) => runCli(env.extensionUri, args, { token, onStderrLine: (l) => env.log.appendLine(l) }));
    if (r.code !== 0) {
      if (r.code === null) return; // cancelled
      throw new Error(cliErrorLine(r));
    }
    const res = parseDetectOutput(r.stdout);
    if (isVolumeResult(res) !== (mode === 'volume')) throw new Error(`the AnyAD CLI answered a ${mode} detection with a ${isVolumeResult(res) ? 'volume' : 'slice'} result`);
    env.log.appendLine(provenanceLogLine(res));
    env.status.tooltip = statusTooltip(res, located.dir);
    const model = heatmapModel(res);
    // Read the map file once and delete it before any prompt, so an unanswered prompt leaves
    // nothing behind. It is Float32 on the opened grid; reading it holds the file's voxels and
    // their Float32 copy at once (2 × 4 bytes a voxel), plus room for the header.
    const mapFile = readRegularFile(tmp, { what: 'anomaly map', maxBytes: 8 * loaded.grid.canonical.dims.reduce((a, b) => a * b, 1) + (1 << 20) });
    rmSync(tmp, { force: true });
    const [nx, ny, nz] = loaded.grid.canonical.dims;
    const map = toCanonical(readNifti(mapFile, { file: 'anomaly map', maxBytes: 8 * nx * ny * nz + (1 << 20) }).volume).data;
    if (!isVolumeResult(res)) {
      const shown = new Float32Array(map.length).fill(NaN);
      shown.set(map.subarray(z * nx * ny, (z + 1) * nx * ny), z * nx * ny);
      const threshold = res.threshold ?? Number.MAX_VALUE;
      doc.showDetection(shown, { score: res.score, threshold, decision: res.anomalous === true, slice: z, modalities: [...modalities], model }, located.dir);
      env.status.text = `${res.warning ? '$(warning) ' : ''}AnyAD: ${res.anomalous ? 'anomalous' : 'normal'} · score ${res.score.toFixed(3)}${res.threshold != null ? ` (threshold ${res.threshold.toFixed(3)})` : ''} · ${res.provider}${statusSuffix(res)}`;
    } else {
      const slices = res.slices;
      const scores = new Float32Array(nz).fill(NaN);
      for (const s of slices) scores[s.z] = s.score;
      const threshold = slices.find((s) => s.threshold != null)?.threshold ?? Number.MAX_VALUE;
      const worst = slices.reduce((a, s) => (s.score > a.score ? s : a), slices[0]);
      const flagged = slices.filter((s) => s.anomalous).length;
      doc.showSliceScores(scores, threshold);
      doc.showDetection(map, { score: worst?.score ?? NaN, threshold, decision: flagged > 0, slice: null, modalities: [...modalities], model }, located.dir);
      env.status.text = `${res.warning ? '$(warning) ' : ''}AnyAD: ${flagged} of ${slices.length} slices anomalous · ${res.provider}${statusSuffix(res)}`;
      const save = await vscode.window.showInformationMessage(`AnyAD: ${flagged} of ${slices.length} slices above the threshold.`, 'Save 3-D map as NIfTI…');
      if (save) {
        const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(doc.uri.fsPath.replace(/\.nii(\.gz)?$/i, '_anomaly_map.nii.gz')), filters: { NIfTI: ['nii.gz', 'nii'] } });
        if (target) {
          // The CLI wrote the map on the opened file's grid (gzip-compressed): copy it, unpacked for a .nii name.
          const path = niftiOutputPath(target.fsPath);
          writeFileAtomic(path, /\.gz$/i.test(path) ? mapFile : gunzipSync(mapFile));
        }
      }
    }
    env.status.show();
    if (!isVolumeResult(res) && res.threshold === null) void vscode.window.showWarningMessage('AnyAD: this model has no calibrated threshold for the chosen sequences; only the score is shown.');
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    env.log.appendLine(`Detect failed: ${message}`);
    void vscode.window.showErrorMessage(`AnyAD: ${message}`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

interface TrainLine { type: 'progress' | 'log' | 'result'; message?: string; phase?: string; step?: number; totalSteps?: number; loss?: number; etaSec?: number; completed?: boolean; reportPath?: string | null; bundleDir?: string | null; encoderDescription?: string }

/**
 * AnyAD: Train on workspace — reads anyad.json (offers a template when missing), trains in a
 * child process (`anyad train --progress-json`) with a cancellable progress notification and
 * a log in the AnyAD output channel, then opens the report's preview. The new bundle is found
 * by Detect as the newest in the workspace.
 */
export async function trainCommand(env: CommandEnv): Promise<void> {
  const { log } = env;
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
    // Fail fast, in-process, on a bad config or an empty study (clear message, no child process).
    const config = loadWorkspaceConfig(configPath);
    const { cases, warnings } = discoverStudy(config.data.root, config);
    const ds = buildSliceDataset(cases, config);
    log.appendLine(formatDatasetSummary(ds.summary, config.data.root));
    for (const w of warnings) log.appendLine(`warning: ${w}`);
    log.show(true);
    // Pretrained weights named by model.encoder: cached, or downloaded now with consent (anyad.downloads).
    if (!(await ensureEncoderWeightsInVsCode(env.extensionUri, log, config, configPath))) return;
    const cfg = vscode.workspace.getConfiguration('anyad');
    // The settings override anyad.json's train.provider/threads only when set to something
    // other than their defaults ('auto', 0): a default setting must not mask the workspace's choice.
    const provider = cfg.get<string>('executionProvider', 'auto');
    const threads = cfg.get<number>('threads', 0);
    const args = ['train', '--config', configPath, '--progress-json',
      ...(provider !== 'auto' ? ['--provider', provider] : []), ...(threads > 0 ? ['--threads', String(threads)] : [])];
    let result: TrainLine | undefined;
    const run = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AnyAD: training', cancellable: true }, (progress, token) => {
      let lastPct = 0;
      return runCli(env.extensionUri, args, {
        token,
        onStderrLine: (l) => log.appendLine(l),
        onStdoutLine: (l) => {
          let m: TrainLine;
          try { m = JSON.parse(l) as TrainLine; } catch { log.appendLine(l); return; }
          if (m.type === 'result') { result = m; return; }
          if (m.type === 'log') { log.appendLine(m.message ?? ''); return; }
          const pct = m.totalSteps ? Math.floor((100 * (m.step ?? 0)) / m.totalSteps) : lastPct;
          const detail = m.step !== undefined && m.totalSteps ? `step ${m.step}/${m.totalSteps}${m.loss !== undefined ? ` · loss ${m.loss.toFixed(4)}` : ''}${m.etaSec !== undefined ? ` · ETA ${Math.round(m.etaSec)} s` : ''}` : (m.message ?? m.phase ?? '');
          progress.report({ message: detail, increment: Math.max(0, pct - lastPct) });
          lastPct = Math.max(lastPct, pct);
          if (m.message && m.phase !== 'train') log.appendLine(m.message);
        },
      });
    });
    if (result && result.completed === false) {
      log.appendLine(`Training cancelled at step ${result.step}; run it again to resume from the checkpoint.`);
      await vscode.window.showInformationMessage(`AnyAD: training cancelled at step ${result.step}; running it again resumes from the checkpoint.`);
      return;
    }
    if (run.code !== 0 || !result?.reportPath) throw new Error(run.code === null ? 'training was stopped' : cliErrorLine(run));
    log.appendLine(`Training finished. Model: ${result.bundleDir}\nReport: ${result.reportPath}`);
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(result.reportPath));
    void vscode.window.showInformationMessage(`AnyAD: training finished; report ${result.reportPath}`);
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    log.appendLine(`Train on workspace failed: ${message}`);
    await vscode.window.showErrorMessage(`AnyAD: ${message}`);
  }
}

/**
 * AnyAD: Show model card — the markdown describing a model (the shipped default's
 * MODEL_CARD.md, a trained bundle's report.md) in a preview. `dir`: the bundle of the result
 * the viewer shows (its banner's link); otherwise the model Detect would use.
 */
export async function showModelCardCommand(env: CommandEnv, dir?: unknown): Promise<void> {
  const bundle = typeof dir === 'string' ? dir : locateModel(env)?.dir;
  if (!bundle) {
    await vscode.window.showErrorMessage(NO_MODEL);
    return;
  }
  const card = modelCardPath(bundle);
  if (!card) {
    await vscode.window.showErrorMessage(`AnyAD: the model in ${bundle} has no model card or report; its anyad.json describes it.`);
    return;
  }
  env.log.appendLine(`Model card: ${card}`);
  await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(card));
}

/**
 * AnyAD: Get pretrained encoder weights — pick a DINOv2 encoder (the presets' defaults first),
 * fetch it into the Hugging Face cache through the same consent flow as training (size shown,
 * anyad.downloads, progress with Cancel), then say how to use it; "How it works" opens the README.
 */
export async function pretrainedWeightsCommand(env: CommandEnv): Promise<void> {
  const forPreset = (preset: ModelPresetName) => modelPreset(preset).checkpoint;
  const recommended = new Map([[forPreset('cpu'), 'preset "cpu" (laptops)'], [forPreset('paper'), 'preset "paper" (the paper\'s setting)']]);
  const items = Object.entries(DINOV2_NAMES)
    .map(([name, repo]) => ({ label: name, description: repo, detail: recommended.has(repo) ? `default of ${recommended.get(repo)}` : undefined, name, repo }))
    .sort((a, b) => Number(recommended.has(b.repo)) - Number(recommended.has(a.repo)));
  const readme = { label: '$(book) How pretrained weights work (README)', name: '', repo: '' };
  const pick = await vscode.window.showQuickPick([...items, readme], { title: 'AnyAD: pretrained DINOv2 encoder to put in the Hugging Face cache' });
  if (!pick) return;
  if (!pick.name) {
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.joinPath(env.extensionUri, 'README.md').with({ fragment: 'pretrained-dinov2-weights' }));
    return;
  }
  try {
    const ok = await ensureHubWeightsInVsCode(env.extensionUri, env.log, { name: pick.name, repo: pick.repo, revision: 'main', target: [pick.name], then: 'try again' });
    if (!ok) return;
    env.log.appendLine(`Encoder ${pick.name} (${pick.repo}) is in the Hugging Face cache.`);
    void vscode.window.showInformationMessage(`AnyAD: ${pick.name} is ready. Set "model": { "encoder": "${pick.name}" } in anyad.json and train (AnyAD: Train on workspace) for a model with a pretrained encoder.`);
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    env.log.appendLine(`Getting ${pick.name} failed: ${message}`);
    void vscode.window.showErrorMessage(`AnyAD: ${message}`);
  }
}
