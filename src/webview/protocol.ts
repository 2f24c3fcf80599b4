/**
 * Messages between the extension host and the NIfTI viewer webview. Both sides validate
 * everything they receive with these parsers: a webview is untrusted content and the host
 * is a different process, so a malformed message is dropped (and logged), never acted on.
 * Pure TypeScript: bundled into both the extension host and the browser.
 */

export interface VolumeMessage {
  type: 'volume';
  name: string;
  dims: [number, number, number];
  spacing: [number, number, number];
  orientation: string;
  datatype: string;
  /** Canonical (RAS) voxels, x fastest, as Float32 bytes: transferred, never a JSON array. */
  data: ArrayBuffer;
}
export interface ErrorMessage { type: 'error'; title: string; detail: string }
export type HostToWebview = VolumeMessage | ErrorMessage;

export interface ReadyMessage { type: 'ready' }
export interface LogMessage { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
export type WebviewToHost = ReadyMessage | LogMessage;

const MAX_TEXT = 4000;

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function isText(x: unknown, max = MAX_TEXT): x is string {
  return typeof x === 'string' && x.length <= max;
}
function isTriple(x: unknown, check: (v: number) => boolean): x is [number, number, number] {
  return Array.isArray(x) && x.length === 3 && x.every((v) => typeof v === 'number' && check(v));
}

export function parseWebviewMessage(raw: unknown): WebviewToHost | null {
  if (!isObj(raw)) return null;
  switch (raw.type) {
    case 'ready':
      return Object.keys(raw).length === 1 ? { type: 'ready' } : null;
    case 'log':
      if ((raw.level === 'info' || raw.level === 'warn' || raw.level === 'error') && isText(raw.message)) {
        return { type: 'log', level: raw.level, message: raw.message };
      }
      return null;
    default:
      return null;
  }
}

export function parseHostMessage(raw: unknown): HostToWebview | null {
  if (!isObj(raw)) return null;
  switch (raw.type) {
    case 'volume': {
      const { name, dims, spacing, orientation, datatype, data } = raw;
      if (!isText(name, 1000) || !isText(orientation, 8) || !isText(datatype, 16)) return null;
      if (!isTriple(dims, (v) => Number.isInteger(v) && v > 0 && v <= 4096)) return null;
      if (!isTriple(spacing, (v) => Number.isFinite(v) && v > 0)) return null;
      if (!(data instanceof ArrayBuffer) || data.byteLength !== 4 * dims[0] * dims[1] * dims[2]) return null;
      return { type: 'volume', name, dims, spacing, orientation, datatype, data };
    }
    case 'error':
      if (isText(raw.title, 500) && isText(raw.detail)) return { type: 'error', title: raw.title, detail: raw.detail };
      return null;
    default:
      return null;
  }
}
