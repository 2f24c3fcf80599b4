/**
 * NIfTI viewer (browser side). Draws axial slices of the canonical volume the host sends,
 * with an automatic window from the 1st–99th percentile of the volume's non-zero voxels.
 */
import { parseHostMessage, type VolumeMessage } from './protocol';

declare function acquireVsCodeApi(): { postMessage(msg: unknown): void };
const vscode = acquireVsCodeApi();

const canvas = document.getElementById('view') as HTMLCanvasElement;
const slider = document.getElementById('slice') as HTMLInputElement;
const sliceLabel = document.getElementById('sliceLabel') as HTMLSpanElement;
const info = document.getElementById('info') as HTMLSpanElement;
const errorBox = document.getElementById('error') as HTMLDivElement;

let volume: { msg: VolumeMessage; voxels: Float32Array; lo: number; hi: number } | null = null;

function percentileWindow(v: Float32Array): [number, number] {
  const step = Math.max(1, Math.floor(v.length / 200000));
  const sample: number[] = [];
  for (let i = 0; i < v.length; i += step) if (v[i] !== 0) sample.push(v[i]);
  if (sample.length === 0) return [0, 1];
  sample.sort((a, b) => a - b);
  const lo = sample[Math.floor(0.01 * (sample.length - 1))];
  const hi = sample[Math.floor(0.99 * (sample.length - 1))];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** Axial slice z: image row r shows canonical y = ny-1-r (anterior up), column c shows x = nx-1-c (radiological). */
function drawAxial(z: number): void {
  if (!volume) return;
  const [nx, ny] = volume.msg.dims;
  canvas.width = nx;
  canvas.height = ny;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(nx, ny);
  const { voxels, lo, hi } = volume;
  const scale = 255 / (hi - lo);
  for (let r = 0; r < ny; r++) {
    const y = ny - 1 - r;
    for (let c = 0; c < nx; c++) {
      const x = nx - 1 - c;
      const v = voxels[x + nx * (y + ny * z)];
      const g = Math.max(0, Math.min(255, (v - lo) * scale));
      const o = 4 * (r * nx + c);
      img.data[o] = img.data[o + 1] = img.data[o + 2] = g;
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  canvas.style.width = `${Math.min(4, Math.max(1, Math.floor(512 / nx))) * nx}px`;
  sliceLabel.textContent = `axial ${z} / ${volume.msg.dims[2] - 1}`;
}

window.addEventListener('message', (event: MessageEvent) => {
  const msg = parseHostMessage(event.data);
  if (!msg) {
    vscode.postMessage({ type: 'log', level: 'warn', message: 'viewer: dropped a malformed message from the host' });
    return;
  }
  if (msg.type === 'error') {
    info.textContent = msg.title;
    errorBox.textContent = msg.detail;
    return;
  }
  const voxels = new Float32Array(msg.data);
  const [lo, hi] = percentileWindow(voxels);
  volume = { msg, voxels, lo, hi };
  const [nx, ny, nz] = msg.dims;
  info.textContent = `${msg.name} — ${nx}×${ny}×${nz}, ${msg.spacing.map((s) => s.toFixed(2)).join('×')} mm, ${msg.orientation} (shown as RAS), ${msg.datatype}`;
  slider.max = String(nz - 1);
  slider.value = String(Math.floor(nz / 2));
  drawAxial(Math.floor(nz / 2));
});

slider.addEventListener('input', () => drawAxial(Number(slider.value)));
vscode.postMessage({ type: 'ready' });
