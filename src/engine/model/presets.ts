/**
 * Named model presets: an encoder architecture plus the preprocessing geometry it runs at.
 *
 * | preset     | encoder                     | resize → crop | patch grid | use                          |
 * |------------|-----------------------------|---------------|------------|------------------------------|
 * | `tiny-cpu` | D 64, 10 blocks, 4 heads    | 128 → 112     | 8 × 8      | tests, offline demos (random) |
 * | `cpu`      | ViT-S/14 (D 384, 6 heads)   | 256 → 224     | 16 × 16    | laptops, CPU inference        |
 * | `paper`    | ViT-B/14 (D 768, 12 heads)  | 448 → 392     | 28 × 28    | the paper's setting           |
 *
 * The encoder configs have no register tokens; a pretrained checkpoint's own config (and its
 * registers) replaces them when weights are loaded. `checkpoint` names the DINOv2 weights the
 * preset is meant for.
 */
import { ConfigError } from '../errors';
import type { PreprocessGeometry } from '../study/preprocess';
import { type VitConfig, vitPreset } from './vitConfig';
import { MODEL_PRESET_NAMES, type ModelPresetName } from '../../shared/vocabulary';

export interface ModelPreset {
  name: ModelPresetName;
  description: string;
  encoder: VitConfig;
  geometry: PreprocessGeometry;
  /** Hugging Face id of the intended pretrained encoder (none for tiny-cpu). */
  checkpoint?: string;
}

export { MODEL_PRESET_NAMES, type ModelPresetName };

/** A preset (fresh objects each call). Unknown names are a ConfigError listing the known ones. */
export function modelPreset(name: string): ModelPreset {
  switch (name) {
    case 'tiny-cpu':
      return {
        name,
        description: 'tiny ViT (D 64, 10 blocks) at 112 px from 128: tests and offline demos with random-init weights',
        encoder: vitPreset('tiny'),
        geometry: { resize: 128, crop: 112 },
      };
    case 'cpu':
      return {
        name,
        description: 'DINOv2 ViT-S/14 at 224 px from 256: the laptop preset',
        encoder: vitPreset('small'),
        geometry: { resize: 256, crop: 224 },
        checkpoint: 'facebook/dinov2-with-registers-small',
      };
    case 'paper':
      return {
        name,
        description: "DINOv2 ViT-B/14 at 392 px from 448: the paper's setting",
        encoder: vitPreset('base'),
        geometry: { resize: 448, crop: 392 },
        checkpoint: 'facebook/dinov2-with-registers-base',
      };
    default:
      throw new ConfigError('config/model-preset', `unknown model preset '${name}' (known: ${MODEL_PRESET_NAMES.join(', ')})`);
  }
}
