/**
 * The end-to-end steps, run in order against one code-server window. A step throws to fail;
 * `gate: true` marks steps later ones depend on (if it fails, the rest are not run).
 * To add a step, append an object here: it gets the workbench and the shared context.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Workbench } from './workbench';
import { VIEWER, canvasStats } from './workbench';
import { poll } from './harness';

export interface StepContext {
  wb: Workbench;
  /** Workspace folder (a phantom cohort from `anyad phantom`). */
  workspace: string;
  /** Number of cases in that cohort. */
  cases: number;
  /** A FLAIR volume of the cohort, relative to the workspace. */
  flairFile: string;
  /** code-server's extensions folder, where the .vsix was installed. */
  extensionsDir: string;
}

export interface Step {
  name: string;
  gate?: boolean;
  run(ctx: StepContext): Promise<void>;
}

const TRAIN = 'AnyAD: Train on workspace';

export const STEPS: Step[] = [
  {
    name: 'installed extension loads its bundled onnxruntime-node',
    async run({ extensionsDir }) {
      // Resolve from dist/extension.js exactly as the extension host will, in a child process
      // so the native library never loads into the test runner.
      const ext = readdirSync(extensionsDir).find((n) => n.startsWith('anyad.anyad-vscode-'));
      assert.ok(ext, `no anyad.anyad-vscode-* folder in ${extensionsDir}`);
      const script = `const m = require('node:module').createRequire(process.argv[1]);
        const ort = m('onnxruntime-node');
        console.log(m.resolve('onnxruntime-node'), typeof ort.InferenceSession.create);`;
      const entry = join(extensionsDir, ext, 'dist', 'extension.js');
      const r = spawnSync(process.execPath, ['-e', script, entry], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `loading onnxruntime-node from ${entry} failed:\n${r.stderr}`);
      const [resolved, createType] = r.stdout.trim().split(' ');
      assert.ok(resolved.startsWith(join(extensionsDir, ext, 'dist', 'node_modules')), `resolved outside the extension: ${resolved}`);
      assert.equal(createType, 'function');
    },
  },
  {
    name: 'workbench loads the phantom workspace',
    gate: true,
    async run({ wb, flairFile }) {
      await wb.waitLoaded(90_000);
      const caseFolder = flairFile.split('/')[0];
      await wb.page.locator('.explorer-folders-view .monaco-list-row', { hasText: caseFolder }).first()
        .waitFor({ state: 'visible', timeout: 30_000 });
    },
  },
  {
    name: 'extension activates and contributes its commands',
    gate: true,
    async run({ wb }) {
      // The palette lists contributed commands once the extension is registered; the
      // output channel's first line proves activate() ran (workspaceContains:*.nii.gz).
      await wb.waitForCommand(TRAIN, 60_000);
      await wb.waitForCommand('AnyAD: Detect anomalies', 10_000);
      await poll('"AnyAD activated" in the AnyAD output log', 60_000, () => wb.outputLog().includes('AnyAD activated'));
    },
  },
  {
    name: 'viewer opens a .nii.gz and draws a non-blank axial slice',
    async run({ wb, flairFile }) {
      const name = flairFile.split('/').pop()!;
      await wb.quickOpen(name);
      await poll(`the ${name} tab to be active`, 15_000, async () => (await wb.activeTabTitle()).includes(name));
      const viewer = wb.viewer();
      const stats = await poll('the viewer canvas to show a slice', 60_000, async () => {
        const errorText = (await viewer.locator(VIEWER.error).innerText({ timeout: 2000 }).catch(() => '')).trim();
        if (errorText) throw new Error(`viewer shows an error: ${errorText}`);
        const s = await canvasStats(viewer, VIEWER.axialCanvas);
        return s.width > 1 && s.grey > 0.05 * s.width * s.height ? s : false;
      }, 500);
      console.log(`    canvas ${stats.width}×${stats.height}, ${(100 * stats.grey / (stats.width * stats.height)).toFixed(1)}% grey image pixels`);
    },
  },
  {
    name: 'Train on workspace reads anyad.json and summarises the cohort',
    async run({ wb, cases }) {
      await wb.clearNotifications();
      const logBefore = wb.outputLog().length;
      await wb.runCommand(TRAIN);
      const note = await poll('an AnyAD notification', 60_000, async () => (await wb.notifications()).find((n) => n.text.includes('AnyAD')));
      console.log(`    notification (${note.severity}): ${note.text}`);
      assert.notEqual(note.severity, 'error', `Train reported an error: ${note.text}`);
      const added = await poll('the dataset summary in the AnyAD output log', 30_000, () => {
        const text = wb.outputLog().slice(logBefore);
        return /^cases:/m.test(text) ? text : false;
      });
      assert.doesNotMatch(added, /failed/i, `the AnyAD log reports a failure:\n${added}`);
      assert.match(added, new RegExp(`^cases:\\s+${cases} used`, 'm'), `the summary should count ${cases} cases:\n${added}`);
    },
  },
];
