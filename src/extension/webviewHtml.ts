/** The viewer's HTML shell: strict CSP (nonce script, no remote content, no inline handlers). */
import { randomBytes } from 'node:crypto';

export function viewerHtml(opts: { cspSource: string; scriptUri: string; title: string }): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `img-src ${opts.cspSource} data: blob:`,
    `style-src ${opts.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(opts.title)}</title>
<style nonce="${nonce}">
  body { margin: 0; padding: 8px; color: var(--vscode-foreground); font-family: var(--vscode-font-family); }
  #bar { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; }
  #view { image-rendering: pixelated; background: #000; max-width: 100%; }
  #error { color: var(--vscode-errorForeground); white-space: pre-wrap; }
</style>
</head>
<body>
<div id="bar"><span id="info">Loading ${esc(opts.title)}…</span><input id="slice" type="range" min="0" max="0" value="0" aria-label="Axial slice"><span id="sliceLabel"></span></div>
<canvas id="view" width="1" height="1"></canvas>
<div id="error"></div>
<script nonce="${nonce}" src="${opts.scriptUri}"></script>
</body>
</html>`;
}
