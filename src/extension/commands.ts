/** Command handlers: thin wrappers over the engine. */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { locateBundle } from '../engine/model/bundleLocator';
import { niftiOutputPath } from '../engine/nifti';
import { cliErrorLine, runCli } from './cliRunner';
import type { NiftiEditorProvider } from './niftiEditor';
import type { WorkspaceSequences } from './workspaceSequences';
import { CONFIG_TEMPLATE, loadWorkspaceConfig } from '../engine/config';
import { isAnyadError } from '../engine/errors';
import { writeFileAtomic } from '../engine/util/atomic';
import { isVolumeResult } from '../shared/detectJson';
import type { DetectParams, DetectResult } from '../shared/engineProtocol';
import type { EngineClient } from './engineClient';
import type { HostBlockProbe } from './hostBlockProbe';
import { heatmapModel, modelCardPath, provenanceLogLine, statusSuffix, statusTooltip } from './provenance';
import { ensureEncoderWeightsInVsCode, ensureHubWeightsInVsCode } from './weightsConsent';
import { DINOV2_NAMES } from '../engine/hub/names';
import { type ModelPresetName, modelPreset } from '../engine/model/presets';
import { CHANNELS } from '../shared/vocabulary';

export interface CommandEnv {
  log: vscode.OutputChannel;
  viewer: NiftiEditorProvider;
  extensionUri: vscode.Uri;
  status: vscode.StatusBarItem;
  /** The workspace's sequence rules (anyad.json + "Assign sequence…" choices). */
  sequences?: WorkspaceSequences;
  /** The window's engine process (Detect, dataset summary, training pre-flight, scan). */
  engine: EngineClient;
  /** Longest synchronous blocks of the host thread, per action. */
  probe?: HostBlockProbe;
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
 * the viewer's modality subset. The window's engine process does the work (case and model
 * warm after the first Detect) and sends the map back as a Float32Array on the canonical grid;
 * the host only routes it to the viewer.
 */
export async function detectCommand(env: CommandEnv, _uri?: unknown, modeArg?: unknown): Promise<void> {
  const doc = env.viewer.activeDocument();
  if (!doc || 'error' in doc.loaded) {
    await vscode.window.showErrorMessage(
      'AnyAD: open a NIfTI volume in the AnyAD viewer first (its current slice and sequences are what Detect uses).',
    );
    return;
  }
  const cfg = vscode.workspace.getConfiguration('anyad');
  const located = locateModel(env);
  if (!located) {
    await vscode.window.showErrorMessage(NO_MODEL);
    return;
  }
  const loaded = doc.loaded;
  // The viewer's case decides the files (one resolver for viewer, Detect and CLI): they go to the engine explicitly.
  const presentFiles = CHANNELS.flatMap((s) => {
    const file = loaded.case?.files[s];
    return file ? [{ sequence: s, file }] : [];
  });
  const present = presentFiles.map((p) => p.sequence);
  if (present.length === 0) {
    await vscode.window.showErrorMessage(
      'AnyAD: this file is not a known FLAIR, T1 or T2. Run "AnyAD: Assign sequence…" on it, or add a data.sequences pattern to anyad.json.',
    );
    return;
  }
  let mode: 'slice' | 'volume' | undefined = modeArg === 'slice' || modeArg === 'volume' ? modeArg : undefined;
  const z = doc.viewState?.cursor[2] ?? Math.floor(loaded.grid.canonical.dims[2] / 2);
  if (!mode) {
    const pick = await vscode.window.showQuickPick(
      [
        { label: `Current slice (axial ${z})`, mode: 'slice' as const },
        { label: 'Whole volume', mode: 'volume' as const },
      ],
      { title: 'AnyAD: Detect anomalies on…' },
    );
    if (!pick) return;
    mode = pick.mode;
  }
  const modalities = doc.viewState?.modalities.length ? doc.viewState.modalities : present;
  const configPath = env.sequences?.rulesFor(doc.uri.fsPath).configPath;
  const files: DetectParams['files'] = {};
  for (const p of presentFiles) files[p.sequence] = p.file;
  const provider = cfg.get<string>('executionProvider', 'auto') as DetectParams['provider'];
  const params: DetectParams = {
    model: located.dir,
    files,
    ...(configPath ? { config: configPath } : {}),
    modalities: [...modalities] as DetectParams['modalities'],
    slice: mode === 'volume' ? 'all' : z,
    provider,
    threads: cfg.get<number>('threads', 0),
  };
  env.log.appendLine(
    `Detect: model ${located.dir} (${located.source}), ${mode === 'volume' ? 'whole volume' : `slice ${z}`}, sequences ${modalities.join('+')}`,
  );
  env.log.appendLine(
    `Detect: files ${presentFiles.map((p) => `${p.sequence.toUpperCase()} ${p.file}`).join(', ')}${configPath ? `; config ${configPath}` : ''}`,
  );
  const endPhase = env.probe?.phase('detect');
  const t0 = performance.now();
  try {
    let r: DetectResult;
    try {
      r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'AnyAD: detecting anomalies…', cancellable: true },
        async (progress, token) => {
          const ac = new AbortController();
          const sub = token.onCancellationRequested(() => ac.abort());
          let shown = 0;
          try {
            return await env.engine.request('detect', params, {
              signal: ac.signal,
              onLog: (m) => env.log.appendLine(m),
              onProgress: (done, total) => {
                progress.report({ message: `slice ${done}/${total}`, increment: (100 * (done - shown)) / Math.max(1, total) });
                shown = done;
              },
            });
          } finally {
            sub.dispose();
          }
        },
      );
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') {
        env.log.appendLine('Detect cancelled');
        return;
      }
      throw e;
    }
    const res = r.detect;
    if (isVolumeResult(res) !== (mode === 'volume'))
      throw new Error(`the AnyAD engine answered a ${mode} detection with a ${isVolumeResult(res) ? 'volume' : 'slice'} result`);
    env.log.appendLine(provenanceLogLine(res));
    env.status.tooltip = statusTooltip(res, located.dir);
    const model = heatmapModel(res);
    const [nx, ny, nz] = r.dims;
    if (!isVolumeResult(res)) {
      // The engine sends the slice's map only; the viewer's heatmap is a volume, NaN off the slice.
      const shown = new Float32Array(nx * ny * nz).fill(NaN);
      shown.set(r.map, res.z * nx * ny);
      const threshold = res.threshold ?? Number.MAX_VALUE;
      doc.showDetection(
        shown,
        { score: res.score, threshold, decision: res.anomalous === true, slice: res.z, modalities: [...modalities], model },
        located.dir,
      );
      env.status.text = `${res.warning ? '$(warning) ' : ''}AnyAD: ${res.anomalous ? 'anomalous' : 'normal'} · score ${res.score.toFixed(3)}${res.threshold != null ? ` (threshold ${res.threshold.toFixed(3)})` : ''} · ${res.provider}${statusSuffix(res)}`;
    } else {
      const slices = res.slices;
      const scores = new Float32Array(nz).fill(NaN);
      for (const s of slices) scores[s.z] = s.score;
      const threshold = slices.find((s) => s.threshold != null)?.threshold ?? Number.MAX_VALUE;
      const worst = slices.reduce((a, s) => (s.score > a.score ? s : a), slices[0]);
      const flagged = slices.filter((s) => s.anomalous).length;
      doc.showSliceScores(scores, threshold);
      doc.showDetection(
        r.map,
        { score: worst?.score ?? NaN, threshold, decision: flagged > 0, slice: null, modalities: [...modalities], model },
        located.dir,
      );
      env.status.text = `${res.warning ? '$(warning) ' : ''}AnyAD: ${flagged} of ${slices.length} slices anomalous · ${res.provider}${statusSuffix(res)}`;
    }
    logDetectTiming(env, mode, r, performance.now() - t0);
    // Remembered by the viewer: the status bar shows it again whenever that viewer is in front.
    doc.status = { text: env.status.text, tooltip: String(env.status.tooltip ?? '') };
    env.status.show();
    if (isVolumeResult(res) && r.mapId !== null) {
      // Not awaited: Detect is done; the offer stays until the user answers (or never does).
      const flagged = res.slices.filter((s) => s.anomalous).length;
      const mapId = r.mapId;
      void (async () => {
        const save = await vscode.window.showInformationMessage(
          `AnyAD: ${flagged} of ${res.slices.length} slices above the threshold.`,
          'Save 3-D map as NIfTI…',
        );
        if (!save) return;
        const target = await vscode.window.showSaveDialog({
          defaultUri: vscode.Uri.file(doc.uri.fsPath.replace(/\.nii(\.gz)?$/i, '_anomaly_map.nii.gz')),
          filters: { NIfTI: ['nii.gz', 'nii'] },
        });
        // The engine keeps the map and writes it on the opened file's own grid.
        if (target) await env.engine.request('saveMap', { detectId: mapId, path: niftiOutputPath(target.fsPath) });
      })().catch((e: unknown) => {
        env.log.appendLine(`Saving the 3-D map failed: ${(e as Error)?.message ?? String(e)}`);
        void vscode.window.showErrorMessage(`AnyAD: saving the 3-D map failed: ${(e as Error)?.message ?? String(e)}`);
      });
    }
    if (!isVolumeResult(res) && res.threshold === null)
      void vscode.window.showWarningMessage(
        'AnyAD: this model has no calibrated threshold for the chosen sequences; only the score is shown.',
      );
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    env.log.appendLine(`Detect failed: ${message}`);
    void vscode.window.showErrorMessage(`AnyAD: ${message}`);
  } finally {
    endPhase?.();
    if (env.probe) env.log.appendLine(`Host: longest synchronous block during Detect ${env.probe.max('detect').toFixed(1)} ms`);
  }
}

/** One log line per Detect: the host's wall time and the engine's own (the bench reads it). */
function logDetectTiming(env: CommandEnv, mode: 'slice' | 'volume', r: DetectResult, totalMs: number): void {
  env.log.appendLine(
    `Detect timing: ${mode} ${totalMs.toFixed(0)} ms in all; engine load ${r.timings.loadMs.toFixed(0)} ms, detect ${r.timings.detectMs.toFixed(0)} ms${mode === 'volume' ? ` (batch ${r.batch})` : ''}`,
  );
}

interface TrainLine {
  type: 'progress' | 'log' | 'result';
  message?: string;
  phase?: string;
  step?: number;
  totalSteps?: number;
  loss?: number;
  etaSec?: number;
  completed?: boolean;
  reportPath?: string | null;
  bundleDir?: string | null;
  encoderDescription?: string;
}

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
  const endPhase = env.probe?.phase('train');
  let logged = false;
  /** Once: the longest host block from the start of Train to the finished run (pre-flight, consent, training). */
  const logTrainBlock = () => {
    if (logged) return;
    logged = true;
    endPhase?.();
    if (env.probe) log.appendLine(`Host: longest synchronous block during Train ${env.probe.max('train').toFixed(1)} ms`);
  };
  try {
    // Fail fast on a bad config or an empty study, with a clear message, before training starts.
    // The config is a small JSON read here (the weights consent needs it); the dataset scan
    // (every case's label volume) runs in the engine process, never on this thread.
    const config = loadWorkspaceConfig(configPath);
    const pre = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'AnyAD: checking the training data…' },
      () => env.engine.request('trainPreflight', { config: configPath }, { onLog: (m) => log.appendLine(m) }),
    );
    log.appendLine(pre.text);
    for (const w of pre.warnings) log.appendLine(`warning: ${w}`);
    for (const n of pre.notes) log.appendLine(`note: ${n}`);
    log.show(true);
    // Pretrained weights named by model.encoder: cached, or downloaded now with consent (anyad.downloads).
    if (!(await ensureEncoderWeightsInVsCode(env.extensionUri, log, config, configPath))) return;
    const cfg = vscode.workspace.getConfiguration('anyad');
    // The settings override anyad.json's train.provider/threads only when set to something
    // other than their defaults ('auto', 0): a default setting must not mask the workspace's choice.
    const provider = cfg.get<string>('executionProvider', 'auto');
    const threads = cfg.get<number>('threads', 0);
    const args = [
      'train',
      '--config',
      configPath,
      '--progress-json',
      ...(provider !== 'auto' ? ['--provider', provider] : []),
      ...(threads > 0 ? ['--threads', String(threads)] : []),
    ];
    let result: TrainLine | undefined;
    const run = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'AnyAD: training', cancellable: true },
      (progress, token) => {
        let lastPct = 0;
        return runCli(env.extensionUri, args, {
          token,
          onStderrLine: (l) => log.appendLine(l),
          onStdoutLine: (l) => {
            let m: TrainLine;
            try {
              m = JSON.parse(l) as TrainLine;
            } catch {
              log.appendLine(l);
              return;
            }
            if (m.type === 'result') {
              result = m;
              return;
            }
            if (m.type === 'log') {
              log.appendLine(m.message ?? '');
              return;
            }
            const pct = m.totalSteps ? Math.floor((100 * (m.step ?? 0)) / m.totalSteps) : lastPct;
            const detail =
              m.step !== undefined && m.totalSteps
                ? `step ${m.step}/${m.totalSteps}${m.loss !== undefined ? ` · loss ${m.loss.toFixed(4)}` : ''}${m.etaSec !== undefined ? ` · ETA ${Math.round(m.etaSec)} s` : ''}`
                : (m.message ?? m.phase ?? '');
            progress.report({ message: detail, increment: Math.max(0, pct - lastPct) });
            lastPct = Math.max(lastPct, pct);
            if (m.message && m.phase !== 'train') log.appendLine(m.message);
          },
        });
      },
    );
    if (result && result.completed === false) {
      log.appendLine(`Training cancelled at step ${result.step}; run it again to resume from the checkpoint.`);
      await vscode.window.showInformationMessage(
        `AnyAD: training cancelled at step ${result.step}; running it again resumes from the checkpoint.`,
      );
      return;
    }
    if (run.code !== 0 || !result?.reportPath) throw new Error(run.code === null ? 'training was stopped' : cliErrorLine(run));
    log.appendLine(`Training finished. Model: ${result.bundleDir}\nReport: ${result.reportPath}`);
    logTrainBlock();
    // The report preview is VS Code's markdown extension at work (on this same thread): measured apart.
    const endPreview = env.probe?.phase('preview');
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(result.reportPath));
    void vscode.window.showInformationMessage(`AnyAD: training finished; report ${result.reportPath}`);
    setTimeout(() => {
      endPreview?.();
      if (env.probe)
        log.appendLine(
          `Host: longest synchronous block during the report preview (markdown extension) ${env.probe.max('preview').toFixed(1)} ms`,
        );
    }, 2000);
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    log.appendLine(`Train on workspace failed: ${message}`);
    await vscode.window.showErrorMessage(`AnyAD: ${message}`);
  } finally {
    logTrainBlock();
  }
}

/**
 * AnyAD: Scan workspace — whole-volume detection of every case in the workspace (the engine
 * process's scan: maps on each source grid, cases.csv, slices.csv, summary.md sorted by score;
 * resumable), with per-case progress and an ETA; the summary opens in a preview.
 */
export async function scanCommand(env: CommandEnv): Promise<void> {
  const { log } = env;
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    await vscode.window.showErrorMessage('AnyAD: open a folder with your studies first.');
    return;
  }
  const located = locateModel(env);
  if (!located) {
    await vscode.window.showErrorMessage(NO_MODEL);
    return;
  }
  const root = folder.uri.fsPath;
  const configPath = join(root, 'anyad.json');
  const cfg = vscode.workspace.getConfiguration('anyad');
  const out = join(root, 'anyad-scan');
  log.appendLine(`Scan: model ${located.dir} (${located.source}), cases under ${root}, outputs in ${out}`);
  const endPhase = env.probe?.phase('scan');
  try {
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'AnyAD: scanning the workspace', cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        const sub = token.onCancellationRequested(() => ac.abort());
        let shown = 0;
        try {
          return await env.engine.request(
            'scan',
            {
              root,
              model: located.dir,
              out,
              ...(existsSync(configPath) ? { config: configPath } : {}),
              provider: cfg.get<string>('executionProvider', 'auto') as DetectParams['provider'],
              threads: cfg.get<number>('threads', 0),
            },
            {
              signal: ac.signal,
              onLog: (m) => log.appendLine(m),
              onProgress: (done, total, message) => {
                progress.report({ message, increment: (100 * (done - shown)) / Math.max(1, total) });
                shown = done;
                if (message) log.appendLine(`Scan: ${message}`);
              },
            },
          );
        } finally {
          sub.dispose();
        }
      },
    );
    log.appendLine(
      `Scan finished: ${r.cases} cases (${r.scanned} scanned, ${r.skipped} already done, ${r.failed} failed). Summary: ${r.summary}`,
    );
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(r.summary));
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') {
      log.appendLine('Scan cancelled; running it again resumes where it stopped.');
      return;
    }
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    log.appendLine(`Scan failed: ${message}`);
    await vscode.window.showErrorMessage(`AnyAD: ${message}`);
  } finally {
    endPhase?.();
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
  const recommended = new Map([
    [forPreset('cpu'), 'preset "cpu" (laptops)'],
    [forPreset('paper'), 'preset "paper" (the paper\'s setting)'],
  ]);
  const items = Object.entries(DINOV2_NAMES)
    .map(([name, repo]) => ({
      label: name,
      description: repo,
      detail: recommended.has(repo) ? `default of ${recommended.get(repo)}` : undefined,
      name,
      repo,
    }))
    .sort((a, b) => Number(recommended.has(b.repo)) - Number(recommended.has(a.repo)));
  const readme = { label: '$(book) How pretrained weights work (README)', name: '', repo: '' };
  const pick = await vscode.window.showQuickPick([...items, readme], {
    title: 'AnyAD: pretrained DINOv2 encoder to put in the Hugging Face cache',
  });
  if (!pick) return;
  if (!pick.name) {
    await vscode.commands.executeCommand(
      'markdown.showPreview',
      vscode.Uri.joinPath(env.extensionUri, 'README.md').with({ fragment: 'pretrained-dinov2-weights' }),
    );
    return;
  }
  try {
    const ok = await ensureHubWeightsInVsCode(env.extensionUri, env.log, {
      name: pick.name,
      repo: pick.repo,
      revision: 'main',
      target: [pick.name],
      then: 'try again',
    });
    if (!ok) return;
    env.log.appendLine(`Encoder ${pick.name} (${pick.repo}) is in the Hugging Face cache.`);
    void vscode.window.showInformationMessage(
      `AnyAD: ${pick.name} is ready. Set "model": { "encoder": "${pick.name}" } in anyad.json and train (AnyAD: Train on workspace) for a model with a pretrained encoder.`,
    );
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    env.log.appendLine(`Getting ${pick.name} failed: ${message}`);
    void vscode.window.showErrorMessage(`AnyAD: ${message}`);
  }
}
