/**
 * Trainable parameters: named float32 tensors, kept in TypeScript between session runs (the
 * training graph takes them as inputs and returns their gradients; the optimiser updates them
 * in place). A Map keeps the order stable, so files and checksums are deterministic.
 */
export interface ParamTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type Params = Map<string, ParamTensor>;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Builds a parameter set, checking that each data length matches its shape. */
export function makeParams(entries: Iterable<[string, readonly number[], Float32Array?]>): Params {
  const out: Params = new Map();
  for (const [name, shape, data] of entries) {
    if (out.has(name)) throw new RangeError(`parameter '${name}' given twice`);
    const n = numel(shape);
    const d = data ?? new Float32Array(n);
    if (d.length !== n)
      throw new RangeError(`parameter '${name}': shape [${shape.join(', ')}] holds ${n} values but ${d.length} were given`);
    out.set(name, { shape: [...shape], data: d });
  }
  return out;
}

/** A deep copy (new buffers), of trainer parameters or of a model's weights. */
export function cloneParams(p: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): Params {
  return makeParams([...p].map(([name, t]) => [name, t.shape, t.data.slice()] as [string, readonly number[], Float32Array]));
}

/** Total number of scalars. */
export function paramCount(p: Params): number {
  let n = 0;
  for (const t of p.values()) n += t.data.length;
  return n;
}
