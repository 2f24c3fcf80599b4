/**
 * In-memory cache of the frozen encoder's outputs per (training slice, modality subset).
 *
 * The encoder never trains, so its features for a masked slice never change: each
 * (slice, subset) pair is encoded once, the first time a batch asks for it, and served from
 * memory afterwards, so later epochs pay mostly for the head. Misses of one request are
 * encoded together in chunks of the encoder graph's static batch (a short last chunk is
 * padded with zero images, whose outputs are dropped).
 *
 * Cap: with `maxEntries`, entries beyond the cap are not stored (nothing is evicted). Training
 * walks the data in epochs, a cyclic access pattern under which evicting the least recently
 * used entry would miss every time; keeping the first entries keeps a fixed share of hits.
 */
import { ConfigError, required } from '../errors';
import { type Session, outputFloat32, run } from '../graph/runtime';
import { ENCODER_OUTPUTS } from '../model/encoder';
import { maskImage } from './masking';

/** The encoder's outputs for one image. */
export interface EncoderFeatures {
  /** Mean of the target layers, tokens [n, D]. */
  fused: Float32Array;
  /** Group maps [D, s, s]. */
  en0: Float32Array;
  en1: Float32Array;
}

export interface FeatureRequest {
  /** Index of the slice in the training image set. */
  slice: number;
  /** Modality subset id 1..7. */
  subset: number;
}

export interface FeatureCacheStats {
  entries: number;
  /** Bytes held by one entry (fused + en0 + en1, float32). */
  bytesPerEntry: number;
  bytes: number;
  hits: number;
  misses: number;
  /** Encoder session runs (each of `encoderBatch` images). */
  encoderRuns: number;
  /** Real (not padding) images encoded. */
  imagesEncoded: number;
}

export interface FeatureCacheOptions {
  /** Inference session of an encoder model (input 'image' [B, 3, H, W]; outputs 'fused', 'en0', 'en1'). */
  session: Session;
  /** The encoder graph's static batch B. */
  encoderBatch: number;
  /** Input image side H = W. */
  imageSize: number;
  /** Token width D and patch grid side s (n = s²). */
  dim: number;
  side: number;
  /** Full-modality preprocessed image [3, H, W] of a training slice. */
  image: (slice: number) => Float32Array;
  /** Most entries kept (default: no limit). */
  maxEntries?: number;
}

export class FeatureCache {
  private readonly entries = new Map<string, EncoderFeatures>();
  private hits = 0;
  private misses = 0;
  private encoderRuns = 0;
  private imagesEncoded = 0;
  readonly bytesPerEntry: number;

  constructor(private readonly o: FeatureCacheOptions) {
    if (!Number.isInteger(o.encoderBatch) || o.encoderBatch < 1)
      throw new ConfigError('config/feature-cache', `encoder batch must be a positive integer, got ${o.encoderBatch}`);
    if (o.maxEntries !== undefined && !(Number.isInteger(o.maxEntries) && o.maxEntries >= 0))
      throw new ConfigError('config/feature-cache', `maxEntries must be a non-negative integer, got ${o.maxEntries}`);
    this.bytesPerEntry = 3 * o.side * o.side * o.dim * 4;
  }

  /** Features for each request, in order; misses are encoded (and stored while under the cap). */
  async get(requests: readonly FeatureRequest[]): Promise<EncoderFeatures[]> {
    const out: (EncoderFeatures | undefined)[] = requests.map((r) => this.entries.get(key(r)));
    // Distinct missing pairs, so a pair asked for twice in one request is encoded once.
    const missing = new Map<string, FeatureRequest>();
    out.forEach((f, i) => {
      if (f) this.hits++;
      else {
        this.misses++;
        missing.set(key(requests[i]), requests[i]);
      }
    });
    const computed = new Map<string, EncoderFeatures>();
    const todo = [...missing.entries()];
    for (let start = 0; start < todo.length; start += this.o.encoderBatch) {
      const chunk = todo.slice(start, start + this.o.encoderBatch);
      const feats = await this.encode(chunk.map(([, r]) => r));
      chunk.forEach(([k], i) => {
        computed.set(k, feats[i]);
        if (this.o.maxEntries === undefined || this.entries.size < this.o.maxEntries) this.entries.set(k, feats[i]);
      });
    }
    return out.map((f, i) => f ?? required(computed.get(key(requests[i])), `the features of request ${i}`));
  }

  stats(): FeatureCacheStats {
    return {
      entries: this.entries.size,
      bytesPerEntry: this.bytesPerEntry,
      bytes: this.entries.size * this.bytesPerEntry,
      hits: this.hits,
      misses: this.misses,
      encoderRuns: this.encoderRuns,
      imagesEncoded: this.imagesEncoded,
    };
  }

  /** Encodes up to `encoderBatch` masked images in one run. */
  private async encode(reqs: FeatureRequest[]): Promise<EncoderFeatures[]> {
    const { encoderBatch: b, imageSize: h, dim: d, side: s } = this.o;
    const per = 3 * h * h;
    const images = new Float32Array(b * per);
    reqs.forEach((r, i) => {
      const full = this.o.image(r.slice);
      if (full.length !== per)
        throw new ConfigError(
          'config/feature-cache',
          `slice ${r.slice}: image has ${full.length} values, the encoder takes [3, ${h}, ${h}] = ${per}`,
        );
      images.set(maskImage(full, r.subset), i * per);
    });
    const names = [ENCODER_OUTPUTS.fused, ENCODER_OUTPUTS.en(0), ENCODER_OUTPUTS.en(1)];
    const res = await run(this.o.session, { image: images }, { image: [b, 3, h, h] }, names);
    this.encoderRuns++;
    this.imagesEncoded += reqs.length;
    const [fused, en0, en1] = names.map((n) => outputFloat32(res, n));
    const m = s * s * d;
    // Copies (slice), so one entry does not keep a whole batch's output buffer alive.
    return reqs.map((_, i) => ({
      fused: fused.slice(i * m, (i + 1) * m),
      en0: en0.slice(i * m, (i + 1) * m),
      en1: en1.slice(i * m, (i + 1) * m),
    }));
  }
}

function key(r: FeatureRequest): string {
  return `${r.slice}:${r.subset}`;
}
