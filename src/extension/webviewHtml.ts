/**
 * The viewer's HTML shell: strict CSP, controls from @vscode-elements/elements (themed by
 * VS Code's CSS variables, focusable, labelled) and one canvas NiiVue draws into with WebGL2.
 * Every control has a stable id / data-testid for the end-to-end tests.
 *
 * CSP, and why each source is there:
 * - script-src: only our nonce'd bundle (NiiVue and the elements are bundled into it; no eval,
 *   no WebAssembly, no workers: NiiVue 0.69 needs none of them for NIfTI);
 * - style-src: our nonce'd sheet; the elements style themselves through constructable
 *   stylesheets (adoptedStyleSheets), which CSP does not govern;
 * - img-src data:: NiiVue loads its font atlas and matcap bitmaps (embedded data: URLs)
 *   through Image elements into WebGL textures;
 * - everything else (fetch/XHR, remote content, frames, fonts, workers) stays 'none': files
 *   arrive as message bytes, and decompression runs on in-memory streams.
 * The canvas needs no CSP source: WebGL2 is not governed by CSP.
 */
import { randomBytes } from 'node:crypto';
import { CHANNELS, ROLE_TITLES, SEQUENCE_DISPLAY_ORDER } from '../shared/vocabulary';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function viewerHtml(opts: { cspSource: string; scriptUri: string; title: string }): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = ["default-src 'none'", 'img-src data:', `style-src ${opts.cspSource} 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`].join(
    '; ',
  );
  const btn = (id: string, label: string, title = label, extra = '') =>
    `<vscode-button id="${id}" data-testid="${id}" secondary title="${esc(title)}" aria-label="${esc(title)}"${extra}>${label}</vscode-button>`;
  const seqTab = (s: string, label: string) =>
    `<vscode-button id="seq-${s}" data-testid="seq-${s}" data-seq="${s}" role="tab" aria-selected="false" secondary disabled title="Show ${label} as the background">${label}</vscode-button>`;
  const mod = (s: string, label: string) =>
    `<vscode-checkbox id="mod-${s}" data-testid="mod-${s}" data-mod="${s}" label="${label}" aria-label="Detect with ${label}"></vscode-checkbox>`;
  const tool = (t: string, label: string, key: string) =>
    btn(`tool-${t}`, label, `${label} (${key})`, ` data-tool="${t}" aria-pressed="false"`);
  const check = (id: string, label: string, checked = true) =>
    `<vscode-checkbox id="${id}" data-testid="${id}" label="${label}" aria-label="${label}"${checked ? ' checked' : ''}></vscode-checkbox>`;
  const range = (id: string, label: string, min: number, max: number, value: number) =>
    `<input type="range" id="${id}" data-testid="${id}" min="${min}" max="${max}" value="${value}" aria-label="${esc(label)}" title="${esc(label)}">`;
  const select = (id: string, label: string, options: [string, string][]) =>
    `<vscode-single-select id="${id}" data-testid="${id}" aria-label="${esc(label)}" title="${esc(label)}">${options.map(([v, t]) => `<vscode-option value="${v}">${esc(t)}</vscode-option>`).join('')}</vscode-single-select>`;
  const colormaps: [string, string][] = [
    ['hot', 'hot'],
    ['jet', 'jet'],
    ['viridis', 'viridis'],
    ['plasma', 'plasma'],
    ['warm', 'warm'],
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(opts.title)}</title>
<style nonce="${nonce}">
  html, body { height: 100%; }
  body { margin: 0; padding: 6px; box-sizing: border-box; display: flex; flex-direction: column; gap: 4px; color: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
  .bar { display: flex; flex-wrap: wrap; gap: 4px 6px; align-items: center; }
  .group { display: flex; gap: 4px; align-items: center; padding-right: 8px; border-right: 1px solid var(--vscode-panel-border, #8884); }
  .group > .cap { opacity: 0.75; }
  vscode-button[aria-pressed="true"], vscode-button[aria-selected="true"] { outline: 1px solid var(--vscode-focusBorder); }
  vscode-single-select { width: 9em; }
  vscode-textfield { width: 5.5em; }
  /* Compact: the toolbars must leave the image most of a small editor. */
  body { overflow: auto; }
  vscode-button { --vscode-button-padding-horizontal: 6px; }
  input[type="range"] { width: 80px; accent-color: var(--vscode-button-background); }
  [hidden] { display: none !important; }
  #main { flex: 1; min-height: 280px; display: flex; gap: 6px; }
  #canvas-box { flex: 1; min-width: 0; display: flex; gap: 2px; }
  .pane { position: relative; flex: 1; min-width: 0; background: #000; }
  /* Absolutely placed so the canvas's pixel size never feeds back into the layout. */
  .pane canvas { position: absolute; inset: 0; width: 100%; height: 100%; display: block; outline: none; }
  .pane .cap { position: absolute; left: 4px; bottom: 2px; color: #ccc; font-size: 11px; pointer-events: none; }
  #side { width: 250px; overflow: auto; display: flex; flex-direction: column; gap: 8px; }
  #side h3 { margin: 0; font-size: 11px; text-transform: uppercase; opacity: 0.8; }
  #colorbar-box { position: relative; }
  #colorbar { width: 100%; height: 14px; display: block; }
  #colorbar-mark { position: absolute; top: -2px; width: 2px; height: 18px; background: #0ff; }
  .ticks { display: flex; justify-content: space-between; gap: 6px; font-size: 11px; }
  table { border-collapse: collapse; width: 100%; font-size: 11px; }
  td, th { padding: 1px 3px; text-align: left; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
  td.num, th.num { text-align: right; }
  .swatch { display: inline-block; width: 10px; height: 10px; vertical-align: middle; }
  input.name { width: 100%; background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, transparent); font-size: 11px; }
  #slice-strip { width: 100%; height: 22px; display: block; background: var(--vscode-editorWidget-background, #222); }
  #notice { color: var(--vscode-editorWarning-foreground); min-height: 1.2em; }
  #notice.error { color: var(--vscode-errorForeground); }
  #error { color: var(--vscode-errorForeground); white-space: pre-wrap; }
  #error:empty { display: none; }
  /* The random-init banner sits right under the result it qualifies. */
  #model-warning { padding: 3px 6px; color: var(--vscode-foreground); background: var(--vscode-inputValidation-warningBackground, #5c4a00); border: 1px solid var(--vscode-inputValidation-warningBorder, #b89500); }
  button.link { background: none; border: none; padding: 0; color: var(--vscode-textLink-foreground); text-decoration: underline; cursor: pointer; font: inherit; }
  button.link:hover { color: var(--vscode-textLink-activeForeground); }
</style>
</head>
<body>
<div class="bar" id="info-bar"><span id="info" data-testid="info">Loading ${esc(opts.title)}…</span></div>
<div id="error" data-testid="error" role="alert"></div>
<div class="bar" id="controls">
  <div class="group" role="tablist" aria-label="Background sequence">${seqTab('opened', 'File')}${SEQUENCE_DISPLAY_ORDER.map((s) => seqTab(s, ROLE_TITLES[s])).join('')}</div>
  <div class="group"><span class="cap">Blend</span>${select('blend-select', 'Blend a second sequence over the background', [['none', 'none']])}${range('blend-opacity', 'Blend opacity', 0, 100, 50)}</div>
  <div class="group"><span class="cap">Side by side</span>${select('side-select', 'Show a second sequence beside the first, crosshair and views synced', [['none', 'none']])}</div>
  <div class="group" aria-label="Detection sequences"><span class="cap">Detect with</span>${CHANNELS.map((c) => mod(c, ROLE_TITLES[c])).join('')}
    ${btn('detect-slice', 'Detect slice', 'Detect anomalies on the current axial slice')}${btn('detect-volume', 'Detect volume', 'Detect anomalies on the whole volume')}</div>
</div>
<div class="bar" id="views-bar">
  <div class="group" aria-label="View">${btn('plane-axial', 'Axial', 'Axial view (1)', ' aria-pressed="false"')}${btn('plane-coronal', 'Coronal', 'Coronal view (2)', ' aria-pressed="false"')}${btn('plane-sagittal', 'Sagittal', 'Sagittal view (3)', ' aria-pressed="false"')}${btn('view-multiplanar', 'Multiplanar', 'Multiplanar: three planes and a 3-D render (4)', ' aria-pressed="false"')}${btn('view-3d', '3-D', '3-D render (5)', ' aria-pressed="false"')}
    ${btn('orient-toggle', 'Radiological', 'Radiological: patient right on the left; click for neurological', ' aria-pressed="false"')}</div>
  <div class="group"><label for="slice">Slice</label>${range('slice', 'Slice', 0, 0, 0).replace('data-testid="slice"', 'data-testid="slice-slider"')}<span id="slice-label" data-testid="slice-label"></span></div>
  <div class="group"><span class="cap">W/L</span>${select('wl-preset', 'Window preset', [
    ['auto', 'Auto (NiiVue robust range)'],
    ['narrow', 'Narrow (5–95 %)'],
    ['full', 'Full range'],
    ['custom', 'Custom'],
  ])}
    <vscode-textfield id="wl-min" data-testid="wl-min" inputmode="decimal" aria-label="Window minimum" title="Window minimum"></vscode-textfield><vscode-textfield id="wl-max" data-testid="wl-max" inputmode="decimal" aria-label="Window maximum" title="Window maximum"></vscode-textfield>
    <span id="wl-readout" data-testid="wl-readout"></span></div>
</div>
<div class="bar" id="tools">
  <div class="group" aria-label="Tools">${tool('navigate', 'Navigate', 'N')}${tool('brush', 'Pen', 'B')}${tool('eraser', 'Eraser', 'E')}${tool('fill', 'Fill', 'F')}${tool('measure', 'Measure', 'M')}
    ${check('pen-filled', 'Filled outline', false)}
    <label for="brush-size">Size</label>${range('brush-size', 'Pen size (voxels)', 1, 15, 3)}<span id="brush-size-label" data-testid="brush-size-label">3</span>
    <vscode-textfield id="label-value" data-testid="label-value" type="number" min="1" max="255" value="1" aria-label="Label value to draw" title="Label value to draw"></vscode-textfield></div>
  <div class="group">${btn('undo', 'Undo')}${btn('redo', 'Redo')}${btn('save', 'Save')}${btn('save-as', 'Save as…', 'Save the annotation as…')}${btn('revert', 'Revert', 'Revert the annotation to its file')}</div>
</div>
<div class="bar" id="layers" aria-label="Layers">
  <div class="group">${check('overlay-heatmap', 'Heatmap')}${range('opacity-heatmap', 'Heatmap opacity', 0, 100, 50)}${select('colormap', 'Heatmap colormap', colormaps)}</div>
  <div class="group">${check('overlay-mask', 'Label mask')}${range('opacity-mask', 'Label mask opacity', 0, 100, 50)}</div>
  <div class="group">${check('overlay-annotation', 'Annotation')}${range('opacity-annotation', 'Annotation opacity', 0, 100, 70)}</div>
  <div class="group" id="overlay-list"></div>
  <div class="group">${btn('add-overlay', 'Add overlay…', 'Add another NIfTI of this subject (a segmentation, a map) as an overlay')}${btn('show-log', 'Log', 'Open the AnyAD output channel')}</div>
</div>
<div id="main">
  <div id="canvas-box"><div class="pane"><canvas id="viewer-canvas" data-testid="viewer-canvas" tabindex="0" aria-label="Image view (NiiVue): arrow keys move slices, N/B/E/F/M pick tools, 1–5 pick views"></canvas></div>
    <div class="pane" id="side-pane" hidden><canvas id="side-canvas" data-testid="side-canvas" tabindex="0" aria-label="Second sequence, side by side (crosshair synced)"></canvas><span class="cap" id="side-caption" data-testid="side-caption"></span></div></div>
  <div id="side">
    <section id="colorbar-section" data-testid="colorbar-section" hidden><h3>Anomaly heatmap</h3>
      <div id="colorbar-box"><canvas id="colorbar" data-testid="colorbar" width="256" height="14" role="img" aria-label="Heatmap colour bar"></canvas><div id="colorbar-mark" data-testid="colorbar-mark"></div></div>
      <div class="ticks"><span id="colorbar-min" data-testid="colorbar-min"></span><span id="colorbar-threshold" data-testid="colorbar-threshold"></span><span id="colorbar-max" data-testid="colorbar-max"></span></div></section>
    <section><h3>Labels</h3><table id="label-table" data-testid="label-table" aria-label="Label colour table"></table></section>
    <section><h3>Statistics</h3>${btn('stats-refresh', 'Compute', 'Per-label statistics of the annotation and the label mask')}<table id="stats" data-testid="stats" aria-label="Per-label statistics"></table></section>
  </div>
</div>
<canvas id="slice-strip" data-testid="slice-strip" height="22" title="Per-slice anomaly scores (click to go to a slice)"></canvas>
<div class="bar"><span id="readout" data-testid="readout"></span><span id="measure-readout" data-testid="measure-readout"></span><span id="score" data-testid="score"></span></div>
<div id="model-warning" data-testid="model-warning" role="alert" hidden><span id="model-warning-text" data-testid="model-warning-text"></span> — <button class="link" id="model-card" data-testid="model-card">Model card</button> · <button class="link" id="pretrained-weights" data-testid="pretrained-weights">Get pretrained weights</button></div>
<div id="notice" data-testid="notice" role="status"></div>
<script nonce="${nonce}" src="${opts.scriptUri}"></script>
</body>
</html>`;
}
