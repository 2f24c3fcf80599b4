/**
 * Seeded pseudo-random numbers for everything that must be reproducible (phantoms, data
 * splits, modality masking). xoshiro128** (32-bit state words, fast in JS integer maths)
 * seeded through splitmix32, so nearby seeds give unrelated streams.
 */

export interface Rng {
  /** Uniform in [0, 1) with 32-bit resolution. */
  uniform(): number;
  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number;
}

/** One splitmix32 step: a good 32-bit mixer for seeding and hashing. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Combines a seed with further integers (e.g. a case index) into a new 32-bit seed, so a
 * sub-task's stream depends only on its identity, not on the order tasks were run in.
 */
export function mixSeed(seed: number, ...parts: number[]): number {
  let h = splitmix32(seed >>> 0);
  for (const p of parts) h = splitmix32((h ^ (p >>> 0)) >>> 0);
  return h;
}

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`);
  // Fold seeds outside 32 bits (e.g. 2**40) into the state instead of silently truncating.
  const hi = Math.floor(seed / 0x100000000) >>> 0;
  let s = splitmix32((seed >>> 0) ^ splitmix32(hi));
  let a = s;
  s = splitmix32(s);
  let b = s;
  s = splitmix32(s);
  let c = s;
  s = splitmix32(s);
  let d = s;
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is a fixed point

  const nextUint32 = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  const uniform = (): number => nextUint32() / 4294967296;
  let spare: number | undefined;
  const rng: Rng = {
    nextUint32,
    uniform,
    range: (lo, hi) => lo + (hi - lo) * uniform(),
    normal: () => {
      if (spare !== undefined) {
        const v = spare;
        spare = undefined;
        return v;
      }
      let u = uniform();
      while (u === 0) u = uniform(); // log(0) guard
      const r = Math.sqrt(-2 * Math.log(u));
      const theta = 2 * Math.PI * uniform();
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
    int: (n) => {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`rng.int: n must be a positive integer, got ${n}`);
      return Math.floor(uniform() * n);
    },
    shuffle: <T>(items: T[]): T[] => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(uniform() * (i + 1));
        const t = items[i];
        items[i] = items[j];
        items[j] = t;
      }
      return items;
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
