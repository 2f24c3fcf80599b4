/**
 * How the extension shows a model's provenance beside its results: the viewer's banner, the
 * status bar, the output channel, and the model card one click away. No 'vscode' import:
 * the command handlers use these, the unit tests call them directly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelProvenanceJson } from '../shared/detectJson';
import type { HeatmapModel } from '../shared/webviewProtocol';

/** Files that describe a bundle, best first: the shipped default's card, then a trained bundle's report. */
export const MODEL_CARD_FILES = ['MODEL_CARD.md', 'report.md'] as const;

/** The markdown file describing the bundle in `dir`, or undefined when it has none. */
export function modelCardPath(dir: string): string | undefined {
  return MODEL_CARD_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
}

/** The heatmap message's `model` field. */
export function heatmapModel(p: ModelProvenanceJson): HeatmapModel {
  return { kind: p.encoder.kind, description: p.encoder.description, warning: p.warning };
}

/** Appended to the status bar text; empty for a pretrained model without a warning. */
export function statusSuffix(p: ModelProvenanceJson): string {
  if (p.encoder.kind === 'random-init') return ' · RANDOM-INIT encoder';
  return p.warning ? ' · model warning' : '';
}

/** The status bar item's tooltip after a detection. */
export function statusTooltip(p: ModelProvenanceJson, modelDir: string): string {
  const lines = [`AnyAD: last detection used ${modelDir}`, `Encoder: ${p.encoder.description}`];
  if (p.warning) lines.push(`Warning: ${p.warning}`, 'Run "AnyAD: Show model card" for this model\'s limits.');
  return lines.join('\n');
}

/** The output channel's line about the model of a detection. */
export function provenanceLogLine(p: ModelProvenanceJson): string {
  const e = p.encoder;
  const ids = [e.name, e.revision ? `revision ${e.revision}` : '', e.sha256 ? `sha256 ${e.sha256}` : ''].filter(Boolean).join(', ');
  return `Model provenance: ${e.kind} encoder (${ids}): ${e.description}${p.warning ? `\nWARNING: ${p.warning}` : ''}`;
}
