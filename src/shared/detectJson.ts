/**
 * The JSON contract between the CLI and the extension: what `anyad detect --json` prints (one
 * object on its last stdout line) and the model provenance that `anyad train --progress-json`
 * reports with its result. The CLI builds these objects, the extension parses them with
 * `parseDetectJson` instead of trusting a cast: a CLI from another build, or a stray line on
 * stdout, must fail with a message naming the field, not show a wrong result.
 *
 * The encoder's provenance travels with every result (DESIGN.md, Model): a model whose
 * encoder is a seeded random init gives detections that are not meaningful, and `warning`
 * says so wherever the result is shown.
 *
 * Pure TypeScript with type-only imports: safe for the CLI, the extension host and tests.
 */
import type { EncoderProvenance } from './encoderProvenance';

export const ENCODER_KINDS = ['pretrained', 'random-init'] as const;
export type EncoderKind = (typeof ENCODER_KINDS)[number];

/** Where a model's encoder weights came from. */
export interface EncoderJson {
  kind: EncoderKind;
  /** Short name: the Hugging Face repo id (weights in the hub cache), the weights file, or "random-init (seed N)". */
  name: string;
  /** Hugging Face commit the weights were read from, when known. */
  revision?: string;
  /** SHA-256 of the weights file, when known. */
  sha256?: string;
  /** The bundle's one-line description (random init is unmistakable in it). */
  description: string;
}

/** What every result that comes from a model carries about it. */
export interface ModelProvenanceJson {
  encoder: EncoderJson;
  /** The bundle's warning (set for a random-init encoder), or null. */
  warning: string | null;
}

interface DetectCommon extends ModelProvenanceJson {
  /** The bundle folder used. */
  model: string;
  case: string;
  /** Modality subset label (vocabulary.ts subsetLabel), e.g. "F+T2". */
  subset: string;
  /** Execution provider that ran the model. */
  provider: string;
  /** The map file written with --out, or null. */
  out: string | null;
}

export interface DetectSliceScoreJson {
  z: number;
  score: number;
  threshold: number | null;
  anomalous: boolean | null;
}

/** `anyad detect --json --slice Z`. */
export interface DetectSliceJson extends DetectCommon, DetectSliceScoreJson {}

/** `anyad detect --json --all`. */
export interface DetectVolumeJson extends DetectCommon {
  slices: DetectSliceScoreJson[];
}

export type DetectJson = DetectSliceJson | DetectVolumeJson;

export function isVolumeResult(r: DetectJson): r is DetectVolumeJson {
  return 'slices' in r;
}

/** Hugging Face hub-cache layout: …/models--org--name/snapshots/<revision>/<file>. */
const HUB_PATH = /(?:^|[\\/])models--([^\\/]+?)--([^\\/]+)[\\/]snapshots[\\/]([^\\/]+)[\\/]/;

/** The JSON form of an encoder's provenance; `description` is the bundle's (or describeProvenance's) text. */
export function encoderJson(p: EncoderProvenance, description: string): EncoderJson {
  if (p.kind === 'random-init') return { kind: 'random-init', name: `random-init (seed ${p.seed ?? '?'})`, description };
  // The hub record (weights fetched by id) names repo and resolved commit; a path in the hub
  // cache layout still says them; any other file is named by its file name.
  const source = p.source ?? '<memory>';
  const cached = HUB_PATH.exec(source);
  const hub = p.hub
    ? { repo: p.hub.repo, revision: p.hub.commit }
    : cached
      ? { repo: `${cached[1]}/${cached[2]}`, revision: cached[3] }
      : undefined;
  return {
    kind: 'pretrained',
    name: hub?.repo ?? (source.split(/[\\/]/).pop() || source),
    ...(hub ? { revision: hub.revision } : {}),
    ...(p.sha256 ? { sha256: p.sha256 } : {}),
    description,
  };
}

/** The provenance of a bundle as its manifest states it (BundleManifest's `encoder` and `warning`). */
export function modelProvenance(manifest: {
  encoder: { provenance: EncoderProvenance; description: string };
  warning?: string;
}): ModelProvenanceJson {
  return { encoder: encoderJson(manifest.encoder.provenance, manifest.encoder.description), warning: manifest.warning ?? null };
}

/** A detect result, train result or report line that is not what the contract says. */
export class DetectJsonError extends Error {}

const MAX_TEXT = 4000;

function fail(msg: string): never {
  throw new DetectJsonError(`malformed result from the AnyAD CLI: ${msg}`);
}
function obj(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`'${name}' must be an object`);
  return v as Record<string, unknown>;
}
function text(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length > MAX_TEXT) fail(`'${name}' must be a string (at most ${MAX_TEXT} characters)`);
  return v;
}
function optText(v: unknown, name: string): string | undefined {
  return v === undefined ? undefined : text(v, name);
}
function num(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`'${name}' must be a finite number`);
  return v;
}
function nullableNum(v: unknown, name: string): number | null {
  return v === null ? null : num(v, name);
}
function nullableBool(v: unknown, name: string): boolean | null {
  if (v !== null && typeof v !== 'boolean') fail(`'${name}' must be true, false or null`);
  return v;
}
function sliceIndex(v: unknown, name: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) fail(`'${name}' must be a slice index (integer ≥ 0)`);
  return v as number;
}
/** The score fields of `v`; `at` prefixes the field names in messages ('' at the top level). */
function sliceScore(v: unknown, at: string): DetectSliceScoreJson {
  const s = obj(v, at || 'result');
  const f = (k: string) => (at ? `${at}.${k}` : k);
  return {
    z: sliceIndex(s.z, f('z')),
    score: num(s.score, f('score')),
    threshold: nullableNum(s.threshold, f('threshold')),
    anomalous: nullableBool(s.anomalous, f('anomalous')),
  };
}

/** Validates the provenance part of a result (`encoder`, `warning`); fields are copied, extras dropped. */
export function parseModelProvenance(raw: Record<string, unknown>): ModelProvenanceJson {
  const e = obj(raw.encoder, 'encoder');
  if (!(ENCODER_KINDS as readonly unknown[]).includes(e.kind))
    fail(`'encoder.kind' must be one of ${ENCODER_KINDS.join(', ')}, got ${JSON.stringify(e.kind)?.slice(0, 40)}`);
  const revision = optText(e.revision, 'encoder.revision');
  const sha256 = optText(e.sha256, 'encoder.sha256');
  const encoder: EncoderJson = {
    kind: e.kind as EncoderKind,
    name: text(e.name, 'encoder.name'),
    ...(revision !== undefined ? { revision } : {}),
    ...(sha256 !== undefined ? { sha256 } : {}),
    description: text(e.description, 'encoder.description'),
  };
  const warning = raw.warning === null ? null : text(raw.warning, 'warning');
  // A random-init model without its warning would be shown as if it were meaningful.
  if (encoder.kind === 'random-init' && !warning) fail(`a random-init encoder must come with a 'warning'`);
  return { encoder, warning };
}

/** Validates one parsed `anyad detect --json` object. Throws DetectJsonError naming the field. */
export function parseDetectJson(raw: unknown): DetectJson {
  const r = obj(raw, 'result');
  const common: DetectCommon = {
    model: text(r.model, 'model'),
    case: text(r.case, 'case'),
    subset: text(r.subset, 'subset'),
    provider: text(r.provider, 'provider'),
    out: r.out === null ? null : text(r.out, 'out'),
    ...parseModelProvenance(r),
  };
  if (r.slices !== undefined) {
    if (!Array.isArray(r.slices)) fail(`'slices' must be an array`);
    return { ...common, slices: (r.slices as unknown[]).map((s, i) => sliceScore(s, `slices[${i}]`)) };
  }
  return { ...common, ...sliceScore(r, '') };
}

/** Parses the CLI's stdout: its last non-empty line is the result object. */
export function parseDetectOutput(stdout: string): DetectJson {
  const line = stdout.trim().split('\n').pop() ?? '';
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    fail(`expected one JSON object, got ${JSON.stringify(line.slice(0, 80))}`);
  }
  return parseDetectJson(raw);
}
