/**
 * The AnyAD head's weights (bottleneck, INP aggregation block, INP-guided decoder, INPs) under
 * the reference's `INP_Former.state_dict()` names, so a head trained with the public PyTorch
 * code (converted to safetensors) loads unchanged and ours can be exported back.
 *
 * Linear weights are stored as torch does, [out, in] (y = x·Wᵀ + b).
 */
import { ConfigError, SafetensorsError } from '../errors';
import { type SafetensorsFile, getFloat32, readSafetensors, writeSafetensors } from '../safetensors';
import { createRng } from '../util/random';

export interface HeadConfig {
  /** Token width D (the encoder's). */
  dim: number;
  /** Attention heads of the aggregation and decoder blocks. */
  heads: number;
  /** Number of INPs (learned prototypes); 6 in the reference. */
  inpCount: number;
  /** Prototype (decoder) blocks; even, the two halves form De0 and De1. 8 in the reference. */
  decoderDepth: number;
  /** MLP hidden width = mlpRatio · dim (4 in the reference). */
  mlpRatio: number;
  /** LayerNorm epsilon of the head's blocks (1e-8 in the reference). */
  lnEps: number;
}

/** A named float32 tensor; a Map of these is structurally the trainer's `Params`. */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}
export type WeightMap = Map<string, WeightTensor>;

/** The reference head for a given width: 6 INPs, 8 decoder blocks, MLP ratio 4, LN eps 1e-8. */
export function headConfig(dim: number, heads: number, overrides: Partial<HeadConfig> = {}): HeadConfig {
  return validateHeadConfig({ dim, heads, inpCount: 6, decoderDepth: 8, mlpRatio: 4, lnEps: 1e-8, ...overrides });
}

export function validateHeadConfig(cfg: HeadConfig, source?: string): HeadConfig {
  const fail = (msg: string): never => {
    throw new ConfigError('config/head', msg, source);
  };
  for (const key of ['dim', 'heads', 'inpCount', 'decoderDepth'] as const) {
    if (!Number.isSafeInteger(cfg[key]) || cfg[key] < 1) fail(`${key} must be a positive integer, got ${JSON.stringify(cfg[key])}`);
  }
  if (cfg.dim % cfg.heads !== 0) fail(`dim ${cfg.dim} is not divisible by heads ${cfg.heads}`);
  if (cfg.decoderDepth % 2 !== 0) fail(`decoderDepth must be even (its halves form De0 and De1), got ${cfg.decoderDepth}`);
  if (!(cfg.mlpRatio > 0) || !Number.isSafeInteger(cfg.mlpRatio * cfg.dim))
    fail(`mlpRatio ${cfg.mlpRatio} × dim ${cfg.dim} is not a positive integer`);
  if (!(cfg.lnEps > 0)) fail(`lnEps must be > 0, got ${cfg.lnEps}`);
  return cfg;
}

/** Metadata key under which saveHeadParams records the config. */
const HEAD_CONFIG_KEY = 'anyad_head_config';

type Kind = 'linearWeight' | 'bias' | 'lnWeight' | 'lnBias' | 'learnScale' | 'inp';
interface ParamSpec {
  name: string;
  shape: number[];
  kind: Kind;
}

function linear(prefix: string, out: number, inp: number): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [out, inp], kind: 'linearWeight' },
    { name: `${prefix}.bias`, shape: [out], kind: 'bias' },
  ];
}
function layerNorm(prefix: string, d: number): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [d], kind: 'lnWeight' },
    { name: `${prefix}.bias`, shape: [d], kind: 'lnBias' },
  ];
}

/** Every head parameter with its shape, in the reference module order. */
function headParamSpecs(cfg: HeadConfig): ParamSpec[] {
  const d = cfg.dim;
  const hidden = cfg.mlpRatio * d;
  const mlp = (p: string): ParamSpec[] => [...linear(`${p}.mlp.fc1`, hidden, d), ...linear(`${p}.mlp.fc2`, d, hidden)];
  const specs: ParamSpec[] = [
    ...linear('bottleneck.0.fc1', hidden, d),
    ...linear('bottleneck.0.fc2', d, hidden),
    ...layerNorm('aggregation.0.norm1', d),
    ...linear('aggregation.0.attn.q', d, d),
    ...linear('aggregation.0.attn.kv', 2 * d, d),
    ...linear('aggregation.0.attn.proj', d, d),
    ...layerNorm('aggregation.0.norm2', d),
    ...mlp('aggregation.0'),
  ];
  for (let k = 0; k < cfg.decoderDepth; k++) {
    const p = `decoder.${k}`;
    specs.push(
      ...layerNorm(`${p}.norm1`, d),
      { name: `${p}.attn.learn_scale`, shape: [cfg.heads, 1, 1], kind: 'learnScale' },
      ...linear(`${p}.attn.q`, d, d),
      ...linear(`${p}.attn.kv`, 2 * d, d),
      ...linear(`${p}.attn.proj`, d, d),
      ...layerNorm(`${p}.norm2`, d),
      ...mlp(p),
    );
  }
  specs.push({ name: 'prototype_token', shape: [cfg.inpCount, d], kind: 'inp' });
  return specs;
}

/** Names and shapes of the head's parameters (reference state_dict names, module order). */
export function headParamShapes(cfg: HeadConfig): Array<[string, number[]]> {
  return headParamSpecs(cfg).map((s) => [s.name, s.shape]);
}

/**
 * Fresh head weights as the reference's train.py initialises them: Linear weights truncated
 * normal (std 0.01, cut at ±0.03 = ±3σ, by rejection), Linear biases 0, LayerNorm 1/0, INPs
 * standard normal, `learn_scale` 1 (Prototype_Attention's own init). Seeded, deterministic.
 */
export function initHeadParams(cfg: HeadConfig, seed: number): WeightMap {
  validateHeadConfig(cfg);
  const rng = createRng(seed);
  const truncNormal = (): number => {
    for (;;) {
      const z = rng.normal();
      if (Math.abs(z) <= 3) return 0.01 * z;
    }
  };
  const out: WeightMap = new Map();
  for (const s of headParamSpecs(cfg)) {
    const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    if (s.kind === 'linearWeight') for (let i = 0; i < data.length; i++) data[i] = truncNormal();
    else if (s.kind === 'inp') for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    else if (s.kind === 'lnWeight' || s.kind === 'learnScale') data.fill(1);
    out.set(s.name, { shape: s.shape, data });
  }
  return out;
}

/**
 * Reads the architecture from a file's head tensors: D and the INP count from
 * `prototype_token`, heads from `decoder.0.attn.learn_scale`, the decoder depth from the
 * `decoder.{k}` blocks present, the MLP ratio from `bottleneck.0.fc1.weight`; the LayerNorm
 * epsilon from our metadata when present, else the reference's 1e-8.
 */
export function inferHeadConfig(file: SafetensorsFile, source = '<safetensors>'): HeadConfig {
  const shapeOf = (name: string): number[] => {
    const t = file.tensors.get(name);
    if (!t)
      throw new SafetensorsError(
        'safetensors/missing-tensor',
        `tensor '${name}' is missing: this is not an AnyAD/INP-Former head checkpoint (reference state_dict names expected)`,
        source,
      );
    return t.shape;
  };
  const inp = shapeOf('prototype_token');
  const scale = shapeOf('decoder.0.attn.learn_scale');
  const fc1 = shapeOf('bottleneck.0.fc1.weight');
  if (inp.length !== 2 || scale.length !== 3 || fc1.length !== 2) {
    throw new SafetensorsError(
      'safetensors/shape-mismatch',
      `head tensors have unexpected ranks: prototype_token [${inp.join()}], decoder.0.attn.learn_scale [${scale.join()}], bottleneck.0.fc1.weight [${fc1.join()}]`,
      source,
    );
  }
  let depth = 0;
  while (file.tensors.has(`decoder.${depth}.attn.learn_scale`)) depth++;
  return validateHeadConfig(
    { dim: inp[1], heads: scale[0], inpCount: inp[0], decoderDepth: depth, mlpRatio: fc1[0] / inp[1], lnEps: savedLnEps(file) ?? 1e-8 },
    source,
  );
}

/** The LayerNorm epsilon recorded by saveHeadParams (tensors cannot tell it); undefined in reference files. */
function savedLnEps(file: SafetensorsFile): number | undefined {
  const raw = file.metadata[HEAD_CONFIG_KEY];
  if (raw === undefined) return undefined;
  try {
    const eps = (JSON.parse(raw) as Partial<HeadConfig>).lnEps;
    return typeof eps === 'number' ? eps : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Loads the head's weights from a safetensors file (path or parsed) in reference names; other
 * tensors (e.g. `encoder.*`) are ignored. The config is inferred from the file unless given,
 * in which case every tensor must match it. A missing or mismatched tensor is a
 * SafetensorsError naming it and the expected shape.
 */
export function loadHeadParams(file: SafetensorsFile | string, expected?: HeadConfig): { config: HeadConfig; params: WeightMap } {
  const source = typeof file === 'string' ? file : '<safetensors>';
  const st = typeof file === 'string' ? readSafetensors(file) : file;
  const config = expected ? validateHeadConfig(expected) : inferHeadConfig(st, source);
  const params: WeightMap = new Map();
  for (const s of headParamSpecs(config)) {
    if (!st.tensors.has(s.name)) {
      throw new SafetensorsError(
        'safetensors/missing-tensor',
        `head weight '${s.name}' (shape [${s.shape.join(', ')}]) is missing`,
        source,
      );
    }
    params.set(s.name, { shape: s.shape, data: getFloat32(st, s.name, s.shape, source).data });
  }
  return { config, params };
}

/** Writes head weights (reference names) to a safetensors file, with the config in the metadata. */
export function saveHeadParams(path: string, config: HeadConfig, params: WeightMap): void {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name] of headParamShapes(config)) {
    const t = params.get(name);
    if (!t) throw new ConfigError('config/head', `cannot save the head: parameter '${name}' is missing`, path);
    tensors[name] = { shape: [...t.shape], data: t.data };
  }
  writeSafetensors(path, tensors, { format: 'pt', [HEAD_CONFIG_KEY]: JSON.stringify(config) });
}
