/**
 * Consent and download of the encoder weights a training run needs, before it starts. The
 * decisions live here, free of the VS Code API (weightsConsent.ts adapts it), so a test can
 * drive them against a real CLI and a loopback hub. The extension host itself only checks the
 * cache (a few stat calls); sizes and the download run in the CLI child process.
 *
 *   cached → train.  Not cached: 'never' → refuse, naming the command to run by hand;
 *   'ask' → `anyad weights get --config … --dry-run --json` (HEAD: the size), one question per
 *   model; 'allow' or yes → `anyad weights get --config … --progress-json` under a cancellable
 *   progress notification with bytes, rate and ETA.
 */
import type { WorkspaceConfig } from '../engine/config';
import type { DownloadSetting } from '../shared/vocabulary';
import { findCachedFile } from '../engine/hub/cache';
import { cacheDirOf, formatBytes } from '../engine/hub/download';
import { ENCODER_FILES, getCommandFor } from '../engine/hub/encoderSource';

export type { DownloadSetting };

export interface FlowResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface WeightsUi {
  setting(): DownloadSetting;
  /** Runs the CLI (a child process in the extension); onStdoutLine gets each line; cancelled when the token fires. */
  runCli(args: string[], opts: { onStdoutLine?: (line: string) => void; token?: unknown }): Promise<FlowResult>;
  /** A yes/no question; true = download. */
  ask(message: string): Promise<boolean>;
  error(message: string): Promise<void> | void;
  info(message: string): Promise<void> | void;
  log(line: string): void;
  /** Runs a task under a cancellable progress notification; report(message, incrementPercent). */
  withProgress<T>(title: string, task: (report: (message: string, increment: number) => void, token: unknown) => Promise<T>): Promise<T>;
}

/** Models the user agreed to download in this session: asked once per model. */
const consented = new Set<string>();

interface Plan {
  needed: boolean;
  name: string;
  repo: string;
  revision: string;
  commit?: string;
  endpoint: string;
  cacheDir: string;
  bytesToDownload: number;
}
interface ProgressLine {
  type: string;
  file?: string;
  bytes?: number;
  total?: number;
  resumedFrom?: number;
  bytesPerSec?: number;
  etaSec?: number;
  cancelled?: boolean;
}

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as T;
const firstLine = (r: FlowResult) => r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exited with code ${String(r.code)}`;

/** True when training may start (the weights are cached, or nothing needs downloading). */
export async function ensureEncoderWeights(
  ui: WeightsUi,
  config: WorkspaceConfig,
  configPath: string,
  env: Record<string, string | undefined> = process.env,
): Promise<boolean> {
  const src = config.model.encoder;
  if (src?.kind !== 'hub') return true;
  return ensureHubWeights(ui, { ...src, target: ['--config', configPath], then: 'train again' }, env);
}

/** A hub encoder to make present in the cache; `target` names it to `anyad weights get` (a name, or --config FILE). */
export interface HubWeights {
  name: string;
  repo: string;
  revision: string;
  target: string[];
  then: string;
}

/** True when the encoder's files are in the Hugging Face cache afterwards (already there, or downloaded with consent). */
export async function ensureHubWeights(
  ui: WeightsUi,
  src: HubWeights,
  env: Record<string, string | undefined> = process.env,
): Promise<boolean> {
  const cacheDir = cacheDirOf({ env });
  if (ENCODER_FILES.every((f) => findCachedFile(cacheDir, src.repo, src.revision, f))) return true;
  const command = getCommandFor(src.repo, src.revision);
  const setting = ui.setting();
  if (setting === 'never') {
    await ui.error(
      `AnyAD: the encoder ${src.name} (${src.repo}) is not in the Hugging Face cache and anyad.downloads is "never". Run \`${command}\` in a terminal (or copy a Hugging Face cache that holds it to ${cacheDir}), then ${src.then}.`,
    );
    return false;
  }
  const dry = await ui.runCli(['weights', 'get', ...src.target, '--dry-run', '--json'], {});
  if (dry.code !== 0) throw new Error(firstLine(dry));
  const plan = lastJson<Plan>(dry.stdout);
  if (!plan.needed) return true;
  const key = `${plan.repo}@${plan.revision}`;
  if (setting === 'ask' && !consented.has(key)) {
    const yes = await ui.ask(
      `AnyAD: download the pretrained encoder ${plan.repo} (${formatBytes(plan.bytesToDownload)}, Apache-2.0) from ${plan.endpoint} into the Hugging Face cache ${plan.cacheDir}? Python tools share that cache.`,
    );
    if (!yes) {
      await ui.info(`AnyAD: not downloaded. \`${command}\` fetches it from a terminal; anyad.downloads controls this question.`);
      return false;
    }
    consented.add(key);
  }
  ui.log(`Downloading ${key} (${formatBytes(plan.bytesToDownload)}) into ${plan.cacheDir}`);
  const total = Math.max(1, plan.bytesToDownload);
  const run = await ui.withProgress(`AnyAD: downloading ${plan.repo}`, (report, token) => {
    const perFile = new Map<string, number>();
    let shownPct = 0;
    return ui.runCli(['weights', 'get', ...src.target, '--progress-json'], {
      token,
      onStdoutLine: (line) => {
        let m: ProgressLine;
        try {
          m = JSON.parse(line) as ProgressLine;
        } catch {
          ui.log(line);
          return;
        }
        if (m.type !== 'progress' || !m.file) return;
        perFile.set(m.file, (m.bytes ?? 0) - (m.resumedFrom ?? 0));
        const done = [...perFile.values()].reduce((a, b) => a + b, 0);
        const pct = Math.min(100, Math.floor((100 * done) / total));
        const rate = m.bytesPerSec ? ` · ${formatBytes(Math.round(m.bytesPerSec))}/s` : '';
        const eta = m.etaSec !== undefined && m.bytesPerSec ? ` · ETA ${Math.ceil(m.etaSec)} s` : '';
        report(`${m.file}: ${formatBytes(m.bytes ?? 0)} of ${formatBytes(m.total ?? 0)}${rate}${eta}`, Math.max(0, pct - shownPct));
        shownPct = Math.max(shownPct, pct);
      },
    });
  });
  if (run.code === 130 || run.code === null) {
    await ui.info(`AnyAD: download of ${plan.repo} cancelled; the partial file is kept and the next attempt resumes it.`);
    return false;
  }
  if (run.code !== 0) throw new Error(firstLine(run));
  ui.log(`Downloaded ${key} (commit ${lastJson<{ commit?: string }>(run.stdout).commit ?? '?'})`);
  return true;
}
