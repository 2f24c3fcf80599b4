/**
 * Frozen DINOv2 encoder weights: loading from safetensors in any of three namings into one
 * internal layout, and a seeded random init for tests and offline demos.
 *
 * Namings (detected from where `cls_token` lives):
 * - 'hf': Hugging Face Dinov2Model / Dinov2WithRegistersModel (`embeddings.cls_token`,
 *   `encoder.layer.{i}.attention.attention.{query,key,value}`, `layer_scale1.lambda1`, …),
 *   optionally under a prefix such as `dinov2.`;
 * - 'meta': Meta's DINOv2 (`cls_token`, `blocks.{i}.attn.qkv`, `ls1.gamma`, `register_tokens`),
 *   optionally under a prefix (`backbone.`, `module.`, …);
 * - 'anyad-reference': the AnyAD reference state_dict, i.e. Meta naming under `encoder.`.
 *
 * Internal layout (torch conventions): Linear weights [out, in]; qkv fused [3D, D] with rows
 * [q; k; v], heads contiguous; patch conv [D, 3, p, p]; everything float32.
 */
import { createHash } from 'node:crypto';
import { readRegularFile, readRegularFileAsync, readRegularTextFile } from '../util/fileio';
import { ConfigError, SafetensorsError } from '../errors';
import { MAX_SAFETENSORS_BYTES, type SafetensorsFile, type TensorEntry, parseSafetensors, toFloat32 } from '../safetensors';
import { createRng, mixSeed } from '../util/random';
import {
  DEFAULT_FUSE_GROUPS,
  DEFAULT_TARGET_LAYERS,
  type VitConfig,
  type VitConfigHints,
  blocksUsed,
  headsForWidth,
  validateVitConfig,
  vitHintsFromJson,
} from './vitConfig';

// Part of the detect JSON and engine protocol contracts, so it lives in src/shared.
import type { EncoderNaming, EncoderProvenance } from '../../shared/encoderProvenance';
export type { EncoderNaming, EncoderProvenance };

export interface LinearWeights {
  /** [out, in] */
  weight: Float32Array;
  /** [out] */
  bias: Float32Array;
}

export interface NormWeights {
  weight: Float32Array;
  bias: Float32Array;
}

export interface EncoderBlockWeights {
  norm1: NormWeights;
  /** [3D, D], rows [q; k; v] */
  qkv: LinearWeights;
  proj: LinearWeights;
  /** LayerScale gamma [D] of the attention branch (absent when config.layerScale is false). */
  ls1?: Float32Array;
  norm2: NormWeights;
  /** [hidden, D] */
  fc1: LinearWeights;
  /** [D, hidden] */
  fc2: LinearWeights;
  ls2?: Float32Array;
}

export interface EncoderWeights {
  config: VitConfig;
  /** [D] */
  clsToken: Float32Array;
  /** [registers, D] (empty when no registers are used) */
  registerTokens: Float32Array;
  /** [1 + posGrid², D]: the checkpoint's table (row 0 = cls). */
  posEmbed: Float32Array;
  /** Patch-embedding conv: weight [D, 3, p, p], bias [D]. */
  patchEmbed: LinearWeights;
  /** Blocks 0 … last target layer (later blocks are never loaded). */
  blocks: EncoderBlockWeights[];
  provenance: EncoderProvenance;
}

export interface LoadEncoderOptions {
  /** Register tokens to use: default = the checkpoint's; 0 drops them (reference-compatible features). */
  registers?: number;
  /** Architecture config: a parsed JSON object (HF config.json or AnyAD reference config) or a path to one. */
  config?: string | Record<string, unknown>;
  /** Overrides the target layers (default [2..9], or the config's `target_layers`). */
  targetLayers?: number[];
  fuseGroups?: number[][];
}

/** One-line label for reports; random init is unmistakable. */
export function describeProvenance(p: EncoderProvenance): string {
  if (p.kind === 'random-init') return `RANDOM-INIT encoder (seed ${p.seed ?? '?'}; not pretrained — features carry no learned meaning)`;
  const regs =
    p.checkpointRegisters !== undefined && p.checkpointRegisters !== p.registers
      ? `${p.registers} of the checkpoint's ${p.checkpointRegisters} register tokens`
      : `${p.registers} register tokens`;
  const name = p.hub
    ? `${p.hub.repo}@${p.hub.commit.slice(0, 12)}${p.hub.revision !== p.hub.commit ? ` (${p.hub.revision})` : ''}`
    : (p.source ?? '<memory>');
  return `pretrained encoder ${name} (${p.naming} naming, ${regs}${p.sha256 ? `, sha256 ${p.sha256.slice(0, 12)}…` : ''})`;
}

// ---------------------------------------------------------------------------------------
// Naming

interface NamingScheme {
  naming: EncoderNaming;
  prefix: string;
  cls: string;
  registers: string;
  pos: string;
  patchWeight: string;
  patchBias: string;
  blockPrefix: (i: number) => string;
  blockPattern: RegExp;
}

function scheme(naming: EncoderNaming, prefix: string): NamingScheme {
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (naming === 'hf') {
    return {
      naming,
      prefix,
      cls: `${prefix}embeddings.cls_token`,
      registers: `${prefix}embeddings.register_tokens`,
      pos: `${prefix}embeddings.position_embeddings`,
      patchWeight: `${prefix}embeddings.patch_embeddings.projection.weight`,
      patchBias: `${prefix}embeddings.patch_embeddings.projection.bias`,
      blockPrefix: (i) => `${prefix}encoder.layer.${i}.`,
      blockPattern: new RegExp(`^${esc}encoder\\.layer\\.(\\d+)\\.`),
    };
  }
  return {
    naming,
    prefix,
    cls: `${prefix}cls_token`,
    registers: `${prefix}register_tokens`,
    pos: `${prefix}pos_embed`,
    patchWeight: `${prefix}patch_embed.proj.weight`,
    patchBias: `${prefix}patch_embed.proj.bias`,
    blockPrefix: (i) => `${prefix}blocks.${i}.`,
    blockPattern: new RegExp(`^${esc}blocks\\.(\\d+)\\.`),
  };
}

/** Detects the naming of a checkpoint from its tensor names. */
export function detectEncoderNaming(names: Iterable<string>, source?: string): { naming: EncoderNaming; prefix: string } {
  const all = [...names];
  const candidates = all.filter((n) => n === 'cls_token' || n.endsWith('.cls_token'));
  // Prefer a cls_token that has blocks next to it (a file may hold other modules too).
  for (const cls of candidates) {
    const found = cls.endsWith('embeddings.cls_token')
      ? { naming: 'hf' as const, prefix: cls.slice(0, -'embeddings.cls_token'.length) }
      : { naming: (cls === 'encoder.cls_token' ? 'anyad-reference' : 'meta') as EncoderNaming, prefix: cls.slice(0, -'cls_token'.length) };
    const s = scheme(found.naming, found.prefix);
    if (all.some((n) => s.blockPattern.test(n))) return found;
  }
  const shown = all.slice(0, 8).join(', ') + (all.length > 8 ? `, … (${all.length} tensors)` : '');
  throw new SafetensorsError(
    'safetensors/not-an-encoder',
    `no DINOv2 encoder found: expected 'cls_token' (Meta/AnyAD naming) or 'embeddings.cls_token' (Hugging Face) next to transformer blocks; the file has ${shown || 'no tensors'}`,
    source,
  );
}

// ---------------------------------------------------------------------------------------
// Loading

/** Reads an encoder checkpoint file (see the module comment for the namings). */
export function loadEncoderWeights(path: string, opts: LoadEncoderOptions = {}): EncoderWeights {
  const bytes = readRegularFile(path, {
    what: 'encoder weights',
    maxBytes: MAX_SAFETENSORS_BYTES,
    as: SafetensorsError,
    code: 'safetensors/unreadable',
    tooLargeCode: 'safetensors/too-large',
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return encoderWeightsFromSafetensors(parseSafetensors(bytes, path), { ...opts, source: path, sha256 });
}

/** loadEncoderWeights, reading the file in chunks so that `signal` (a Cancel) stops a long read. */
export async function loadEncoderWeightsAsync(path: string, opts: LoadEncoderOptions = {}, signal?: AbortSignal): Promise<EncoderWeights> {
  const hash = createHash('sha256');
  const bytes = await readRegularFileAsync(path, {
    what: 'encoder weights',
    maxBytes: MAX_SAFETENSORS_BYTES,
    as: SafetensorsError,
    code: 'safetensors/unreadable',
    tooLargeCode: 'safetensors/too-large',
    signal,
    onChunk: (c) => hash.update(c),
  });
  return encoderWeightsFromSafetensors(parseSafetensors(bytes, path), { ...opts, source: path, sha256: hash.digest('hex') });
}

/** Checked reads of a checkpoint's tensors; errors name the tensor, the naming (`label`) and the file. */
interface CheckpointReader {
  has: (name: string) => boolean;
  shapeOf: (name: string) => number[];
  /** The tensor as float32, which must have exactly `shape`. */
  tensor: (name: string, shape: readonly number[]) => Float32Array;
}

function checkpointReader(file: SafetensorsFile, label: string, source: string | undefined): CheckpointReader {
  const entry = (name: string): TensorEntry => {
    const t = file.tensors.get(name);
    if (!t) throw new SafetensorsError('safetensors/missing-tensor', `${name}: missing (${label})`, source);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype))
      throw new SafetensorsError('safetensors/dtype', `${name}: expected a floating-point tensor, found ${t.dtype}`, source);
    return t;
  };
  return {
    has: (name) => file.tensors.has(name),
    shapeOf: (name) => entry(name).shape,
    tensor: (name, shape) => {
      const t = entry(name);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new SafetensorsError(
          'safetensors/shape-mismatch',
          `${name}: expected [${shape.join(', ')}], found [${t.shape.join(', ')}]`,
          source,
        );
      }
      return toFloat32(t, name);
    },
  };
}

/** The architecture a checkpoint's tensors imply. */
interface CheckpointArchitecture {
  /** Width (embedding dimension). */
  d: number;
  patchSize: number;
  posGrid: number;
  /** Blocks present in the file. */
  depth: number;
  /** MLP hidden width. */
  hidden: number;
  hasLayerScale: boolean;
  checkpointRegisters: number;
}

function architectureOf(file: SafetensorsFile, r: CheckpointReader, s: NamingScheme, source: string | undefined): CheckpointArchitecture {
  const bad = (name: string, expected: string, shape: readonly number[]) =>
    new SafetensorsError('safetensors/shape-mismatch', `${name}: expected ${expected}, found [${shape.join(', ')}]`, source);
  const clsShape = r.shapeOf(s.cls);
  const d = clsShape[clsShape.length - 1];
  if (clsShape.length !== 3 || clsShape[0] !== 1 || clsShape[1] !== 1) throw bad(s.cls, '[1, 1, D]', clsShape);
  const patchShape = r.shapeOf(s.patchWeight);
  if (patchShape.length !== 4 || patchShape[0] !== d || patchShape[1] !== 3 || patchShape[2] !== patchShape[3])
    throw bad(s.patchWeight, `[${d}, 3, p, p]`, patchShape);
  const posShape = r.shapeOf(s.pos);
  const posGrid = Math.round(Math.sqrt((posShape[1] ?? 0) - 1));
  if (posShape.length !== 3 || posShape[0] !== 1 || posShape[2] !== d || posGrid * posGrid + 1 !== posShape[1])
    throw bad(s.pos, `[1, 1 + G², ${d}] for a square grid G`, posShape);
  let depth = 0;
  for (const n of file.tensors.keys()) {
    const m = s.blockPattern.exec(n);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  const hidden = r.shapeOf(`${s.blockPrefix(0)}mlp.fc1.weight`)[0];
  const hasLayerScale = r.has(`${s.blockPrefix(0)}${s.naming === 'hf' ? 'layer_scale1.lambda1' : 'ls1.gamma'}`);
  const checkpointRegisters = r.has(s.registers) ? (r.shapeOf(s.registers)[1] ?? 0) : 0;
  if (r.has(s.registers)) {
    const rs = r.shapeOf(s.registers);
    if (rs.length !== 3 || rs[0] !== 1 || rs[2] !== d) throw bad(s.registers, `[1, R, ${d}]`, rs);
  }
  return { d, patchSize: patchShape[2], posGrid, depth, hidden, hasLayerScale, checkpointRegisters };
}

/** Every architecture hint must agree with the weights; returns the number of attention heads. */
function checkHints(a: CheckpointArchitecture, hints: VitConfigHints, source: string | undefined): number {
  const { d } = a;
  const mismatch = (field: string, fromConfig: unknown, fromWeights: unknown): never => {
    throw new ConfigError(
      'config/vit-mismatch',
      `the encoder config says ${field} = ${JSON.stringify(fromConfig)} but the weights have ${JSON.stringify(fromWeights)}`,
      source,
    );
  };
  if (hints.embedDim !== undefined && hints.embedDim !== d) mismatch('embedDim', hints.embedDim, d);
  if (hints.patchSize !== undefined && hints.patchSize !== a.patchSize) mismatch('patchSize', hints.patchSize, a.patchSize);
  if (hints.posGrid !== undefined && hints.posGrid !== a.posGrid) mismatch('posGrid (image_size / patch_size)', hints.posGrid, a.posGrid);
  // A checkpoint may be trimmed to the blocks AnyAD uses, so it can hold fewer blocks than the config says.
  if (hints.depth !== undefined && hints.depth < a.depth) mismatch('depth', hints.depth, a.depth);
  if (hints.mlpRatio !== undefined && hints.mlpRatio * d !== a.hidden) mismatch('mlpRatio', hints.mlpRatio, a.hidden / d);
  if (hints.registers !== undefined && hints.registers !== a.checkpointRegisters)
    mismatch('num_register_tokens', hints.registers, a.checkpointRegisters);
  const numHeads = hints.numHeads ?? headsForWidth(d);
  if (numHeads === undefined) {
    throw new ConfigError(
      'config/vit-heads',
      `cannot tell the number of attention heads of a width-${d} encoder; pass a config JSON with num_attention_heads`,
      source,
    );
  }
  return numHeads;
}

/** The register tokens used: the checkpoint's, or 0 when asked to drop them (no other count fits the weights). */
function registersUsed(requested: number | undefined, checkpointRegisters: number, source: string | undefined): number {
  if (requested === undefined) return checkpointRegisters;
  if (requested !== 0 && requested !== checkpointRegisters) {
    throw new ConfigError(
      'config/registers',
      `registers: ${requested} requested, but the checkpoint has ${checkpointRegisters} register tokens (use ${checkpointRegisters}, or 0 to drop them)`,
      source,
    );
  }
  return requested;
}

/** Block i's weights; Hugging Face's separate query/key/value become one qkv projection. */
function blockWeights(r: CheckpointReader, s: NamingScheme, i: number, a: CheckpointArchitecture): EncoderBlockWeights {
  const { d, hidden, hasLayerScale } = a;
  const p = s.blockPrefix(i);
  const lin = (name: string, out: number, inp: number): LinearWeights => ({
    weight: r.tensor(`${p}${name}.weight`, [out, inp]),
    bias: r.tensor(`${p}${name}.bias`, [out]),
  });
  const norm = (name: string): NormWeights => ({ weight: r.tensor(`${p}${name}.weight`, [d]), bias: r.tensor(`${p}${name}.bias`, [d]) });
  if (s.naming === 'hf') {
    const q = lin('attention.attention.query', d, d);
    const k = lin('attention.attention.key', d, d);
    const v = lin('attention.attention.value', d, d);
    return {
      norm1: norm('norm1'),
      qkv: { weight: concatF32([q.weight, k.weight, v.weight]), bias: concatF32([q.bias, k.bias, v.bias]) },
      proj: lin('attention.output.dense', d, d),
      ls1: hasLayerScale ? r.tensor(`${p}layer_scale1.lambda1`, [d]) : undefined,
      norm2: norm('norm2'),
      fc1: lin('mlp.fc1', hidden, d),
      fc2: lin('mlp.fc2', d, hidden),
      ls2: hasLayerScale ? r.tensor(`${p}layer_scale2.lambda1`, [d]) : undefined,
    };
  }
  return {
    norm1: norm('norm1'),
    qkv: lin('attn.qkv', 3 * d, d),
    proj: lin('attn.proj', d, d),
    ls1: hasLayerScale ? r.tensor(`${p}ls1.gamma`, [d]) : undefined,
    norm2: norm('norm2'),
    fc1: lin('mlp.fc1', hidden, d),
    fc2: lin('mlp.fc2', d, hidden),
    ls2: hasLayerScale ? r.tensor(`${p}ls2.gamma`, [d]) : undefined,
  };
}

/** Converts a parsed safetensors checkpoint to encoder weights. */
export function encoderWeightsFromSafetensors(
  file: SafetensorsFile,
  opts: LoadEncoderOptions & { source?: string; sha256?: string } = {},
): EncoderWeights {
  const source = opts.source;
  const { naming, prefix } = detectEncoderNaming(file.tensors.keys(), source);
  const s = scheme(naming, prefix);
  const label = `${naming === 'hf' ? 'Hugging Face' : naming === 'meta' ? 'Meta DINOv2' : 'AnyAD reference'} naming${prefix ? `, prefix '${prefix}'` : ''}`;
  const r = checkpointReader(file, label, source);

  // The architecture: from the tensors, cross-checked with any config given.
  const hints = configHints(file, opts, source);
  const arch = architectureOf(file, r, s, source);
  const { d, patchSize, posGrid, hidden, checkpointRegisters } = arch;
  const numHeads = checkHints(arch, hints, source);
  const registers = registersUsed(opts.registers, checkpointRegisters, source);
  const config = validateVitConfig(
    {
      embedDim: d,
      depth: hints.depth ?? arch.depth,
      numHeads,
      patchSize,
      mlpRatio: hidden / d,
      registers,
      lnEps: hints.lnEps ?? 1e-6,
      posGrid,
      layerScale: arch.hasLayerScale,
      targetLayers: [...(opts.targetLayers ?? hints.targetLayers ?? DEFAULT_TARGET_LAYERS)],
      fuseGroups: (opts.fuseGroups ?? hints.fuseGroups ?? DEFAULT_FUSE_GROUPS).map((g) => [...g]),
    },
    source,
  );
  // The blocks are read (and checked) before the embeddings: with several bad tensors, a block's is reported.
  const blocks = Array.from({ length: blocksUsed(config) }, (_, i) => blockWeights(r, s, i, arch));
  const registerTokens = registers > 0 ? r.tensor(s.registers, [1, checkpointRegisters, d]) : new Float32Array(0);
  return {
    config,
    clsToken: r.tensor(s.cls, [1, 1, d]),
    registerTokens,
    posEmbed: r.tensor(s.pos, [1, 1 + posGrid * posGrid, d]),
    patchEmbed: { weight: r.tensor(s.patchWeight, [d, 3, patchSize, patchSize]), bias: r.tensor(s.patchBias, [d]) },
    blocks,
    provenance: { kind: 'pretrained', source, sha256: opts.sha256, naming, registers, checkpointRegisters },
  };
}

/** Architecture hints: an explicit config (object or JSON file) wins over the file's metadata `config`. */
function configHints(file: SafetensorsFile, opts: LoadEncoderOptions, source?: string): VitConfigHints {
  if (typeof opts.config === 'string') {
    let json: unknown;
    try {
      json = JSON.parse(
        readRegularTextFile(opts.config, { what: 'encoder config', maxBytes: 1 << 20, as: ConfigError, code: 'config/vit-json' }),
      );
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError('config/vit-json', `the encoder config is not valid JSON (${(e as Error).message})`, opts.config, { cause: e });
    }
    return vitHintsFromJson(json, opts.config);
  }
  if (opts.config) return vitHintsFromJson(opts.config, source);
  const meta = file.metadata.config;
  if (meta === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(meta);
  } catch {
    return {};
  } // metadata is free-form; only a JSON object is a config
  return typeof json === 'object' && json !== null && !Array.isArray(json)
    ? vitHintsFromJson(json, `${source ?? '<safetensors>'} (metadata config)`)
    : {};
}

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Random init

/**
 * Seeded random encoder (deterministic for a given config and seed; block i's values do not
 * depend on how many blocks are built). The init follows the goldens' harness so features
 * are non-degenerate: Linear weights N(0, 0.02²) truncated at ±2σ, except qkv and the patch
 * conv with std 1/√fan_in (peaky attention, image-driven tokens); biases N(0, 0.02²);
 * LayerNorm weights 1 + 0.1·N, biases 0.02·N; LayerScale gammas U(0.5, 1.5); position
 * embedding truncated N(0, 0.02²); cls and registers N(0, 0.02²).
 */
export function createRandomEncoderWeights(config: VitConfig, seed: number): EncoderWeights {
  const cfg = validateVitConfig({ ...config, targetLayers: [...config.targetLayers], fuseGroups: config.fuseGroups.map((g) => [...g]) });
  const d = cfg.embedDim;
  const hidden = cfg.mlpRatio * d;
  const p = cfg.patchSize;
  const stream = (...ids: number[]) => createRng(mixSeed(seed, ...ids));
  const normal = (ids: number[], n: number, std: number, truncate = false): Float32Array => {
    const rng = stream(...ids);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let v = rng.normal();
      while (truncate && Math.abs(v) > 2) v = rng.normal();
      out[i] = v * std;
    }
    return out;
  };
  const shifted = (ids: number[], n: number, base: number, std: number): Float32Array => normal(ids, n, std).map((v) => v + base);
  const uniform = (ids: number[], n: number, lo: number, hi: number): Float32Array => {
    const rng = stream(...ids);
    return Float32Array.from({ length: n }, () => rng.range(lo, hi));
  };
  const linear = (ids: number[], out: number, inp: number, std: number): LinearWeights => ({
    weight: normal([...ids, 0], out * inp, std, true),
    bias: normal([...ids, 1], out, 0.02),
  });
  const norm = (ids: number[]): NormWeights => ({ weight: shifted([...ids, 0], d, 1, 0.1), bias: normal([...ids, 1], d, 0.02) });

  const blocks: EncoderBlockWeights[] = [];
  for (let i = 0; i < blocksUsed(cfg); i++) {
    const b = 100 + i;
    blocks.push({
      norm1: norm([b, 0]),
      qkv: linear([b, 1], 3 * d, d, 1 / Math.sqrt(d)),
      proj: linear([b, 2], d, d, 0.02),
      ls1: cfg.layerScale ? uniform([b, 3], d, 0.5, 1.5) : undefined,
      norm2: norm([b, 4]),
      fc1: linear([b, 5], hidden, d, 0.02),
      fc2: linear([b, 6], d, hidden, 0.02),
      ls2: cfg.layerScale ? uniform([b, 7], d, 0.5, 1.5) : undefined,
    });
  }
  return {
    config: cfg,
    clsToken: normal([1], d, 0.02),
    registerTokens: normal([2], cfg.registers * d, 0.02),
    posEmbed: normal([3], (1 + cfg.posGrid * cfg.posGrid) * d, 0.02, true),
    patchEmbed: linear([4], d, 3 * p * p, 1 / Math.sqrt(3 * p * p)),
    blocks,
    provenance: { kind: 'random-init', source: `random init (seed ${seed})`, naming: 'none', registers: cfg.registers, seed },
  };
}
