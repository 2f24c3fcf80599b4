/**
 * Configuration of the frozen DINOv2 ViT encoder: presets (small/base/large and the goldens'
 * 'tiny'), validation, and reading the architecture from a config JSON (Hugging Face
 * `config.json` or the AnyAD reference's safetensors metadata `config`).
 */
import { ConfigError } from '../errors';

export interface VitConfig {
  /** Token width D. */
  embedDim: number;
  /** Number of blocks of the checkpoint (only blocks up to the last target layer are used). */
  depth: number;
  numHeads: number;
  patchSize: number;
  /** MLP hidden width = mlpRatio · D. */
  mlpRatio: number;
  /** Register tokens used (inserted after cls, without position embedding). */
  registers: number;
  lnEps: number;
  /** Side of the square position-embedding grid the checkpoint was trained with (518 / 14 = 37). */
  posGrid: number;
  /** Whether blocks scale their residual branches by learned gammas (ls1, ls2). */
  layerScale: boolean;
  /** Blocks whose outputs are the features (0-based). */
  targetLayers: number[];
  /** Groups of indices into targetLayers averaged into En0, En1, … */
  fuseGroups: number[][];
}

export type VitPresetName = 'tiny' | 'small' | 'base' | 'large';

const COMMON = {
  patchSize: 14,
  mlpRatio: 4,
  registers: 0,
  lnEps: 1e-6,
  posGrid: 37,
  layerScale: true,
} as const;

/** AnyAD's feature layers: raw outputs of blocks 2..9, fused as (2–5) and (6–9). */
export const DEFAULT_TARGET_LAYERS: readonly number[] = [2, 3, 4, 5, 6, 7, 8, 9];
export const DEFAULT_FUSE_GROUPS: readonly (readonly number[])[] = [
  [0, 1, 2, 3],
  [4, 5, 6, 7],
];

const SIZES: Record<VitPresetName, { embedDim: number; depth: number; numHeads: number }> = {
  tiny: { embedDim: 64, depth: 10, numHeads: 4 },
  small: { embedDim: 384, depth: 12, numHeads: 6 },
  base: { embedDim: 768, depth: 12, numHeads: 12 },
  large: { embedDim: 1024, depth: 24, numHeads: 16 },
};

/** A preset config (a fresh object; `registers` 0 unless overridden). */
export function vitPreset(name: VitPresetName, overrides: Partial<VitConfig> = {}): VitConfig {
  const size = SIZES[name];
  if (!size) throw new ConfigError('config/vit-preset', `unknown ViT preset '${String(name)}' (known: ${Object.keys(SIZES).join(', ')})`);
  return validateVitConfig({
    ...COMMON,
    ...size,
    targetLayers: [...DEFAULT_TARGET_LAYERS],
    fuseGroups: DEFAULT_FUSE_GROUPS.map((g) => [...g]),
    ...overrides,
  });
}

/** Heads of the DINOv2 widths (tiny 64 → 4, ViT-S 384 → 6, ViT-B 768 → 12, ViT-L 1024 → 16, ViT-g 1536 → 24). */
export function headsForWidth(embedDim: number): number | undefined {
  return ({ 64: 4, 384: 6, 768: 12, 1024: 16, 1536: 24 } as Record<number, number>)[embedDim];
}

/** Blocks the encoder computes: up to and including the last target layer. */
export function blocksUsed(cfg: VitConfig): number {
  return Math.max(...cfg.targetLayers) + 1;
}

/** Checks a config's internal consistency; returns it unchanged. Throws ConfigError naming the field. */
export function validateVitConfig(cfg: VitConfig, source?: string): VitConfig {
  const fail = (msg: string): never => {
    throw new ConfigError('config/vit', msg, source);
  };
  const posInt = (name: keyof VitConfig, v: unknown): void => {
    if (!Number.isSafeInteger(v) || (v as number) < 1) fail(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  posInt('embedDim', cfg.embedDim);
  posInt('depth', cfg.depth);
  posInt('numHeads', cfg.numHeads);
  posInt('patchSize', cfg.patchSize);
  posInt('posGrid', cfg.posGrid);
  if (cfg.embedDim % cfg.numHeads !== 0) fail(`embedDim ${cfg.embedDim} is not divisible by numHeads ${cfg.numHeads}`);
  if (!Number.isSafeInteger(cfg.mlpRatio * cfg.embedDim) || cfg.mlpRatio <= 0)
    fail(`mlpRatio ${cfg.mlpRatio} × embedDim ${cfg.embedDim} is not a positive integer`);
  if (!Number.isSafeInteger(cfg.registers) || cfg.registers < 0)
    fail(`registers must be a non-negative integer, got ${JSON.stringify(cfg.registers)}`);
  if (!(cfg.lnEps > 0)) fail(`lnEps must be > 0, got ${cfg.lnEps}`);
  if (!Array.isArray(cfg.targetLayers) || cfg.targetLayers.length === 0) fail('targetLayers must be a non-empty list');
  cfg.targetLayers.forEach((l, i) => {
    if (!Number.isSafeInteger(l) || l < 0 || l >= cfg.depth)
      fail(`targetLayers[${i}] = ${l} is not a block of a ${cfg.depth}-block encoder`);
    if (i > 0 && l <= cfg.targetLayers[i - 1]) fail('targetLayers must be strictly increasing');
  });
  if (!Array.isArray(cfg.fuseGroups) || cfg.fuseGroups.length === 0) fail('fuseGroups must be a non-empty list of groups');
  cfg.fuseGroups.forEach((grp, i) => {
    if (!Array.isArray(grp) || grp.length === 0) fail(`fuseGroups[${i}] must be a non-empty list`);
    for (const j of grp)
      if (!Number.isSafeInteger(j) || j < 0 || j >= cfg.targetLayers.length)
        fail(`fuseGroups[${i}] refers to target layer #${j}, but there are ${cfg.targetLayers.length}`);
  });
  return cfg;
}

/** Architecture fields read from a config JSON; absent fields are undefined. */
export interface VitConfigHints {
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  patchSize?: number;
  mlpRatio?: number;
  registers?: number;
  lnEps?: number;
  posGrid?: number;
  layerScale?: boolean;
  targetLayers?: number[];
  fuseGroups?: number[][];
}

/**
 * Reads architecture hints from a Hugging Face Dinov2 / Dinov2WithRegisters `config.json`
 * (hidden_size, num_attention_heads, …) or the AnyAD reference config (embed_dim, num_heads,
 * target_layers, …). Fields that contradict the weights are caught when the weights load.
 */
export function vitHintsFromJson(json: unknown, source?: string): VitConfigHints {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ConfigError('config/vit-json', 'encoder config is not a JSON object', source);
  const j = json as Record<string, unknown>;
  const num = (...keys: string[]): number | undefined => {
    for (const k of keys) {
      const v = j[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new ConfigError('config/vit-json', `${k} must be a number, got ${JSON.stringify(v)}`, source);
      return v;
    }
    return undefined;
  };
  if (j.use_swiglu_ffn === true)
    throw new ConfigError('config/vit-json', 'SwiGLU MLPs (DINOv2 ViT-g) are not supported; use a small, base or large checkpoint', source);
  if (typeof j.hidden_act === 'string' && j.hidden_act !== 'gelu')
    throw new ConfigError('config/vit-json', `hidden_act '${j.hidden_act}' is not supported (DINOv2 uses exact 'gelu')`, source);
  const imageSize = num('image_size', 'img_size_pos_embed', 'img_size');
  const patchSize = num('patch_size');
  const hints: VitConfigHints = {
    embedDim: num('hidden_size', 'embed_dim'),
    depth: num('num_hidden_layers', 'depth'),
    numHeads: num('num_attention_heads', 'num_heads'),
    patchSize,
    mlpRatio: num('mlp_ratio'),
    registers: num('num_register_tokens'),
    lnEps: num('layer_norm_eps', 'encoder_ln_eps'),
    posGrid: imageSize !== undefined && patchSize !== undefined ? Math.floor(imageSize / patchSize) : undefined,
  };
  if (Array.isArray(j.target_layers)) hints.targetLayers = j.target_layers as number[];
  if (Array.isArray(j.fuse_layer_encoder)) hints.fuseGroups = j.fuse_layer_encoder as number[][];
  return hints;
}
