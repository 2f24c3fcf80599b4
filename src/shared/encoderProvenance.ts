/**
 * Where an encoder's weights came from: written into model bundles, the detect JSON and
 * reports, and read by the extension. Pure types, no imports.
 */
export type EncoderNaming = 'hf' | 'meta' | 'anyad-reference';

/** Where an encoder's weights came from; reports print it (random init is labelled loudly). */
export interface EncoderProvenance {
  kind: 'pretrained' | 'random-init';
  /** File the weights were read from (pretrained), or a description (random init). */
  source?: string;
  /** SHA-256 of the weights file. */
  sha256?: string;
  /** Naming the checkpoint used ('none' for random init). */
  naming: EncoderNaming | 'none';
  /** Register tokens the encoder uses. */
  registers: number;
  /** Register tokens the checkpoint holds (may be more than used, with `registers: 0`). */
  checkpointRegisters?: number;
  /** Seed of a random init. */
  seed?: number;
  /** Set when the weights came from the Hugging Face hub cache (`model.encoder`, or the preset's checkpoint). */
  hub?: {
    /** Hub id, e.g. facebook/dinov2-small. */
    repo: string;
    /** Revision asked for (branch, tag or commit). */
    revision: string;
    /** Commit the revision resolved to. */
    commit: string;
    /** File in the repo the weights were read from. */
    file: string;
    /** Where it lies in the cache (snapshots/<commit>/<file>). */
    cachePath: string;
  };
}
