/**
 * The viewer's HTML shell: strict CSP (nonce script and style, no remote content, no inline
 * handlers), plain HTML controls styled with VS Code's CSS variables (thin on purpose, so a
 * later move to a web-component library only swaps these elements). Every control has a
 * stable id or data-testid for the end-to-end tests.
 */
import { randomBytes } from 'node:crypto';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function viewerHtml(opts: { cspSource: string; scriptUri: string; title: string }): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `img-src ${opts.cspSource} data: blob:`,
    `style-src ${opts.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const seqTab = (s: string, label: string) => `<button class="tab" id="seq-${s}" data-testid="seq-${s}" data-seq="${s}" disabled>${label}</button>`;
  const mod = (s: string, label: string) => `<label><input type="checkbox" id="mod-${s}" data-testid="mod-${s}" data-mod="${s}">${label}</label>`;
  const planeBtn = (p: string, label: string) => `<button id="plane-${p}" data-testid="plane-${p}" data-plane="${p}">${label}</button>`;
  const tool = (t: string, label: string, key: string) => `<button id="tool-${t}" data-testid="tool-${t}" data-tool="${t}" title="${label} (${key})">${label}</button>`;
  const view = (p: string) => `<div class="view" id="pane-${p}" data-plane="${p}"><canvas id="view-${p}" data-testid="view-${p}" tabindex="0" aria-label="${p} view"></canvas><span class="cap">${p}</span></div>`;
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
  .bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
  button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: 1px solid var(--vscode-button-border, transparent); padding: 2px 8px; cursor: pointer; }
  button:hover:not(:disabled) { background: var(--vscode-button-secondaryHoverBackground); }
  button[aria-pressed="true"] { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
  button:disabled { opacity: 0.45; cursor: default; }
  select, input[type="number"] { background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, transparent); }
  input[type="number"] { width: 4em; }
  .group { display: flex; gap: 4px; align-items: center; padding-right: 8px; border-right: 1px solid var(--vscode-panel-border, #8884); }
  #views { flex: 1; min-height: 120px; display: grid; gap: 4px; grid-template-columns: minmax(0, 1fr); grid-template-rows: minmax(0, 1fr); }
  #views.three { grid-template-columns: repeat(3, minmax(0, 1fr)); }
  .view { position: relative; background: #000; min-height: 0; overflow: hidden; }
  .view.hidden { display: none; }
  .view.active { outline: 1px solid var(--vscode-focusBorder); }
  /* Absolutely placed so the canvas's pixel size never feeds back into the layout. */
  .view canvas { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
  .cap { position: absolute; left: 4px; top: 2px; color: #ccc; font-size: 11px; pointer-events: none; }
  #slice-strip { width: 100%; height: 22px; display: block; background: var(--vscode-editorWidget-background, #222); }
  #notice { color: var(--vscode-editorWarning-foreground); min-height: 1.2em; }
  #error { color: var(--vscode-errorForeground); white-space: pre-wrap; }
  #error:empty { display: none; }
  /* The random-init banner sits right under the result it qualifies. */
  #model-warning { padding: 3px 6px; color: var(--vscode-foreground); background: var(--vscode-inputValidation-warningBackground, #5c4a00); border: 1px solid var(--vscode-inputValidation-warningBorder, #b89500); }
  #model-warning[hidden] { display: none; }
  button.link { background: none; border: none; padding: 0; color: var(--vscode-textLink-foreground); text-decoration: underline; }
  button.link:hover:not(:disabled) { background: none; color: var(--vscode-textLink-activeForeground); }
</style>
</head>
<body>
<div class="bar" id="info-bar"><span id="info" data-testid="info">Loading ${esc(opts.title)}…</span></div>
<div id="error" data-testid="error" role="alert"></div>
<div class="bar" id="controls">
  <div class="group" role="tablist" aria-label="Sequences">${seqTab('opened', 'File')}${seqTab('flair', 'FLAIR')}${seqTab('t1', 'T1')}${seqTab('t2', 'T2')}${seqTab('t1ce', 'T1ce')}</div>
  <div class="group" aria-label="Detection sequences">Detect with: ${mod('flair', 'FLAIR')}${mod('t1', 'T1')}${mod('t2', 'T2')}
    <button id="detect-slice" data-testid="detect-slice">Detect slice</button><button id="detect-volume" data-testid="detect-volume">Detect volume</button></div>
  <div class="group">${planeBtn('axial', 'Axial')}${planeBtn('coronal', 'Coronal')}${planeBtn('sagittal', 'Sagittal')}<button id="layout-3up" data-testid="layout-3up">3-up</button>
    <button id="orient-toggle" data-testid="orient-toggle" title="Radiological: patient right on the left">Radiological</button></div>
  <div class="group"><label>Slice <input type="range" id="slice" data-testid="slice-slider" min="0" max="0" value="0"></label><span id="slice-label" data-testid="slice-label"></span></div>
  <div class="group"><label>W/L <select id="wl-preset" data-testid="wl-preset"><option value="auto">Auto (1–99%)</option><option value="narrow">Narrow (5–95%)</option><option value="full">Full range</option></select></label><span id="wl-readout" data-testid="wl-readout"></span></div>
</div>
<div class="bar" id="tools">
  <div class="group">${tool('navigate', 'Navigate', 'N')}${tool('brush', 'Brush', 'B')}${tool('eraser', 'Eraser', 'E')}${tool('fill', 'Fill', 'F')}
    <label>Size <input type="range" id="brush-size" data-testid="brush-size" min="0" max="20" value="3"></label>
    <label>Label <input type="number" id="label-value" data-testid="label-value" min="1" max="255" value="1"></label></div>
  <div class="group"><button id="undo" data-testid="undo">Undo</button><button id="redo" data-testid="redo">Redo</button><button id="save" data-testid="save">Save</button></div>
  <div class="group"><label><input type="checkbox" id="overlay-heatmap" data-testid="overlay-heatmap" checked>Heatmap</label>
    <input type="range" id="opacity-heatmap" data-testid="opacity-heatmap" min="0" max="100" value="50" aria-label="Heatmap opacity">
    <select id="colormap" data-testid="colormap"><option value="hot">hot</option><option value="jet">jet</option><option value="viridis">viridis</option></select>
    <label><input type="checkbox" id="overlay-contour" data-testid="overlay-contour" checked>Contour</label></div>
  <div class="group"><label><input type="checkbox" id="overlay-mask" data-testid="overlay-mask" checked disabled>Label mask</label>
    <input type="range" id="opacity-mask" data-testid="opacity-mask" min="0" max="100" value="40" aria-label="Label mask opacity"></div>
  <div class="group"><label><input type="checkbox" id="overlay-annotation" data-testid="overlay-annotation" checked>Annotation</label>
    <input type="range" id="opacity-annotation" data-testid="opacity-annotation" min="0" max="100" value="60" aria-label="Annotation opacity"></div>
</div>
<div id="views">${view('axial')}${view('coronal')}${view('sagittal')}</div>
<canvas id="slice-strip" data-testid="slice-strip" height="22" title="Per-slice anomaly scores (click to go to a slice)"></canvas>
<div class="bar"><span id="readout" data-testid="readout"></span><span id="score" data-testid="score"></span></div>
<div id="model-warning" data-testid="model-warning" role="alert" hidden><span id="model-warning-text" data-testid="model-warning-text"></span> — <button class="link" id="model-card" data-testid="model-card">Model card</button> · <button class="link" id="pretrained-weights" data-testid="pretrained-weights">Get pretrained weights</button></div>
<div id="notice" data-testid="notice" role="status"></div>
<script nonce="${nonce}" src="${opts.scriptUri}"></script>
</body>
</html>`;
}
