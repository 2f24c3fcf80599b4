/**
 * Driving VS Code's web workbench (code-server) through Playwright: the command palette,
 * quick open, notifications, the AnyAD output log and the viewer webview. Every wait is a
 * poll on an explicit signal with a deadline.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { findFiles, poll } from './harness';

/** DOM hooks of the AnyAD viewer webview; one place to update when the viewer changes. */
export const VIEWER = {
  /** NiiVue's WebGL2 canvas: every view (axial, coronal, sagittal, multiplanar, 3-D) draws here. */
  canvas: '[data-testid="viewer-canvas"]',
  planeAxial: '[data-testid="plane-axial"]',
  planeCoronal: '[data-testid="plane-coronal"]',
  seqT1: '[data-testid="seq-t1"]',
  modT1: '[data-testid="mod-t1"]',
  modFlair: '[data-testid="mod-flair"]',
  modT2: '[data-testid="mod-t2"]',
  sliceSlider: '[data-testid="slice-slider"]',
  sliceLabel: '[data-testid="slice-label"]',
  toolBrush: '[data-testid="tool-brush"]',
  save: '[data-testid="save"]',
  detectSlice: '[data-testid="detect-slice"]',
  info: '[data-testid="info"]',
  score: '[data-testid="score"]',
  notice: '[data-testid="notice"]',
  error: '[data-testid="error"]',
  modelWarning: '[data-testid="model-warning"]',
  modelCard: '[data-testid="model-card"]',
  planeSagittal: '[data-testid="plane-sagittal"]',
  view3d: '[data-testid="view-3d"]',
  seqT2: '[data-testid="seq-t2"]',
  seqFlair: '[data-testid="seq-flair"]',
  blendSelect: '[data-testid="blend-select"]',
  sideSelect: '[data-testid="side-select"]',
  sideCanvas: '[data-testid="side-canvas"]',
  overlayHeatmap: '[data-testid="overlay-heatmap"]',
  overlayMask: '[data-testid="overlay-mask"]',
  colorbarSection: '[data-testid="colorbar-section"]',
  colorbarMin: '[data-testid="colorbar-min"]',
  colorbarMax: '[data-testid="colorbar-max"]',
  colorbarThreshold: '[data-testid="colorbar-threshold"]',
  colorbarMark: '[data-testid="colorbar-mark"]',
  toolMeasure: '[data-testid="tool-measure"]',
  toolEraser: '[data-testid="tool-eraser"]',
  toolFill: '[data-testid="tool-fill"]',
  toolNavigate: '[data-testid="tool-navigate"]',
  measureReadout: '[data-testid="measure-readout"]',
  labelValue: '[data-testid="label-value"]',
  brushSize: '[data-testid="brush-size"]',
  undo: '[data-testid="undo"]',
  redo: '[data-testid="redo"]',
  revert: '[data-testid="revert"]',
  statsRefresh: '[data-testid="stats-refresh"]',
  stats: '[data-testid="stats"]',
};

/** Whether a checkbox (a vscode-checkbox web component or a native one) is ticked. */
export async function isOn(viewer: FrameLocator, selector: string): Promise<boolean> {
  return viewer.locator(selector).evaluate((el: HTMLElement & { checked?: boolean }) => Boolean(el.checked), undefined, { timeout: 5000 });
}

/** Sets a control's value as a user's choice would (vscode-single-select, vscode-textfield, range): value, then the event it fires. */
export async function setValue(viewer: FrameLocator, selector: string, value: string, event: 'change' | 'input' = 'change'): Promise<void> {
  await viewer.locator(selector).evaluate(
    (el: HTMLElement & { value: string }, [v, ev]: [string, string]) => {
      el.value = v;
      el.dispatchEvent(new Event(ev, { bubbles: true }));
    },
    [value, event] as [string, string],
    { timeout: 5000 },
  );
}

export interface Notification {
  text: string;
  severity: 'info' | 'warning' | 'error';
}

export class Workbench {
  constructor(
    readonly page: Page,
    private readonly userDataDir: string,
  ) {}

  async waitLoaded(timeoutMs: number): Promise<void> {
    await this.page.locator('.monaco-workbench .part.editor').waitFor({ state: 'visible', timeout: timeoutMs });
    await this.page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
  }

  private quickInput() {
    return this.page.locator('.quick-input-widget');
  }

  /** Quick-input rows whose label (not its description or separator text) matches `label`. */
  private quickInputRow(label: RegExp) {
    const name = this.page.locator('.label-name', { hasText: label });
    return this.quickInput().locator('.monaco-list-row').filter({ has: name }).first();
  }

  /** Opens the command palette (F1: no browser binds it) with `text` typed, returning once the list shows `expectRow`. */
  private async openQuickInput(text: string, expectRow: RegExp, timeoutMs: number): Promise<void> {
    let lastRows: string[] = [];
    await poll(
      `quick input row ${expectRow}`,
      timeoutMs,
      async () => {
        const input = this.quickInput().locator('input');
        if (!(await this.quickInput().isVisible())) {
          await this.page
            .locator('.monaco-workbench')
            .focus()
            .catch(() => undefined);
          await this.page.keyboard.press('F1');
          const opened = await input.waitFor({ state: 'visible', timeout: 3000 }).then(
            () => true,
            () => false,
          );
          if (!opened) {
            // A focused webview can swallow F1: the title bar's command center opens the same quick input by mouse.
            await this.page.locator('.command-center-center').first().click({ timeout: 3000 });
            await input.waitFor({ state: 'visible', timeout: 3000 });
          }
        }
        // Short action timeouts: a stuck attempt is retried by the poll instead of eating its whole budget.
        if ((await input.inputValue({ timeout: 3000 })) !== text) await input.fill(text, { timeout: 3000 });
        // File results arrive asynchronously (a ripgrep search on the server): give them a moment
        // before giving up on this attempt, or a slow first search is cancelled every time.
        if (
          await this.quickInputRow(expectRow)
            .waitFor({ state: 'visible', timeout: 3000 })
            .then(
              () => true,
              () => false,
            )
        )
          return true;
        // Not there (extension not registered, file index still building): close and retry.
        lastRows = await this.quickInput().locator('.monaco-list-row').allTextContents();
        await this.page.keyboard.press('Escape');
        return false;
      },
      1000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; rows shown for "${text}": ${JSON.stringify(lastRows.slice(0, 8))}`);
    });
  }

  /** Resolves once the palette lists `title` (e.g. "AnyAD: Train on workspace"). */
  async waitForCommand(title: string, timeoutMs: number): Promise<void> {
    await this.openQuickInput(`>${title}`, exact(title), timeoutMs);
    await this.page.keyboard.press('Escape');
    await this.quickInput().waitFor({ state: 'hidden', timeout: 5000 });
  }

  async runCommand(title: string, timeoutMs = 30_000): Promise<void> {
    await this.openQuickInput(`>${title}`, exact(title), timeoutMs);
    await this.quickInputRow(exact(title)).click();
    await this.quickInput().waitFor({ state: 'hidden', timeout: 5000 });
  }

  /** Opens a workspace file by name through quick open (needs VS Code's file search: ripgrep). */
  async quickOpen(fileName: string, timeoutMs = 30_000): Promise<void> {
    await this.openQuickInput(fileName, exact(fileName), timeoutMs);
    await this.quickInputRow(exact(fileName)).click();
    await this.quickInput().waitFor({ state: 'hidden', timeout: 5000 });
  }

  async activeTabTitle(): Promise<string> {
    return (await this.page.locator('.tabs-container .tab.active').first().getAttribute('aria-label')) ?? '';
  }

  /** Titles (aria-labels) of every editor tab in every group. */
  async tabTitles(): Promise<string[]> {
    const tabs = await this.page.locator('.tabs-container .tab').all();
    return Promise.all(tabs.map(async (t) => (await t.getAttribute('aria-label')) ?? ''));
  }

  /** Whether the active editor tab shows unsaved changes. */
  async activeTabDirty(): Promise<boolean> {
    const cls = (await this.page.locator('.tabs-container .tab.active').first().getAttribute('class')) ?? '';
    return /\bdirty\b/.test(cls);
  }

  async notifications(): Promise<Notification[]> {
    const items = this.page.locator('.notifications-toasts .notification-list-item');
    const out: Notification[] = [];
    for (const item of await items.all()) {
      const text = (
        await item
          .locator('.notification-list-item-message')
          .innerText()
          .catch(() => '')
      ).trim();
      const icon =
        (await item
          .locator('.notification-list-item-icon')
          .getAttribute('class')
          .catch(() => '')) ?? '';
      const severity = /codicon-error/.test(icon) ? 'error' : /codicon-warning/.test(icon) ? 'warning' : 'info';
      if (text) out.push({ text, severity });
    }
    return out;
  }

  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
  }

  /** The AnyAD output channel as VS Code logs it under the user-data-dir. */
  outputLog(): string {
    return findFiles(join(this.userDataDir, 'logs'), /-AnyAD\.log$/)
      .map((f) => readFileSync(f, 'utf8'))
      .join('');
  }

  /** The visible webview's inner document (the AnyAD viewer, or e.g. a markdown preview). */
  webview(): FrameLocator {
    return this.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('#active-frame');
  }

  /** The visible viewer webview's inner document. */
  viewer(): FrameLocator {
    return this.webview();
  }
}

export interface CanvasStats {
  width: number;
  height: number;
  /** Grey, non-black pixels: image intensities, not coloured crosshairs or overlays. */
  grey: number;
  /** Pixels with r ≠ g or g ≠ b: overlays (heatmap, labels) and the crosshair. */
  coloured: number;
  /** FNV-1a hash of the RGBA bytes: tells two renderings apart. */
  checksum: number;
}

/**
 * Pixel statistics of a canvas, read by copying it onto a 2D scratch canvas (works for 2D
 * and WebGL sources).
 */
export async function canvasStats(viewer: FrameLocator, selector: string): Promise<CanvasStats> {
  return viewer.locator(selector).evaluate(
    (c: HTMLCanvasElement) => {
      const scratch = document.createElement('canvas');
      scratch.width = c.width;
      scratch.height = c.height;
      const ctx = scratch.getContext('2d');
      if (!ctx || c.width === 0 || c.height === 0) return { width: c.width, height: c.height, grey: 0, coloured: 0, checksum: 0 };
      ctx.drawImage(c, 0, 0);
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      let grey = 0;
      let coloured = 0;
      let hash = 0x811c9dc5;
      for (let i = 0; i < px.length; i += 4) {
        const [r, g, b] = [px[i], px[i + 1], px[i + 2]];
        if (Math.max(r, g, b) > 16 && Math.max(r, g, b) - Math.min(r, g, b) < 24) grey++;
        if (r !== g || g !== b) coloured++;
        hash = Math.imul(hash ^ (r | (g << 8) | (b << 16)), 0x01000193);
      }
      return { width: c.width, height: c.height, grey, coloured, checksum: hash >>> 0 };
    },
    undefined,
    { timeout: 5000 },
  );
}

/** Whether a canvas shows an image: a real size and at least 5 % grey image pixels. */
export function showsImage(s: CanvasStats): boolean {
  return s.width > 1 && s.grey > 0.05 * s.width * s.height;
}

function exact(title: string): RegExp {
  return new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
