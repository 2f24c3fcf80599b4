/** Shared setup of the head tests: fixtures, graph assembly with params as inputs, runs, error measures. */
import { join } from 'node:path';
import { type Graph, type Tensor, emitModel, grad } from '../../src/engine/graph';
import { type Session, createSession, run } from '../../src/engine/graph/runtime';
import type { ChannelStats } from '../../src/engine/model/alignment';
import { type HeadConfig, type WeightMap, loadHeadParams } from '../../src/engine/model/headWeights';
import { type Objective, type ObjectiveConfig, buildTrainingGraph } from '../../src/engine/model/losses';
import { getFloat32, readSafetensors } from '../../src/engine/safetensors';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'model');
export const WEIGHTS_FILE = join(FIXTURES, 'head-weights.safetensors');
const golden = readSafetensors(join(FIXTURES, 'head-golden.safetensors'));

export function goldenTensor(name: string): { shape: number[]; data: Float32Array } {
  return getFloat32(golden, name);
}

export function referenceHead(): { config: HeadConfig; params: WeightMap } {
  return loadHeadParams(WEIGHTS_FILE);
}

/** Images [from, to) of a golden tensor whose axis 0 is the image. */
export function images(name: string, from: number, to: number): Float32Array {
  const t = goldenTensor(name);
  const per = t.data.length / t.shape[0];
  return t.data.slice(from * per, to * per);
}

export interface BuiltObjective {
  graph: Graph;
  objective: Objective;
  params: Map<string, Tensor>;
  shapes: Record<string, number[]>;
}

/**
 * The training graph (8×8 patch grid) for batch b; with `gradsOf`, the gradients 'grad.<name>'
 * of `gradsOf(objective)` w.r.t. every parameter (the trainer's own graph uses the total).
 */
export function buildTiny(
  b: number,
  cfg: HeadConfig,
  weights: WeightMap,
  objCfg: ObjectiveConfig,
  opts: { stats?: ChannelStats[]; gradsOf?: (o: Objective) => Tensor; extraOutputs?: boolean } = {},
): BuiltObjective {
  const side = 8;
  const { graph, objective, params } = buildTrainingGraph({
    batch: b,
    side,
    head: cfg,
    weights,
    objective: objCfg,
    stats: opts.stats,
    grads: false,
  });
  if (opts.extraOutputs) {
    graph.output('out.inp', objective.head.inp);
    graph.output('out.bottleneck', objective.head.bottleneck);
    objective.head.decBlocks.forEach((t, k) => graph.output(`out.dec${k}`, t));
    graph.output('out.de0', objective.head.de[0]);
    graph.output('out.de1', objective.head.de[1]);
    graph.output('out.headInput', objective.headInput);
  }
  if (opts.gradsOf) grad(opts.gradsOf(objective), [...params.values()]);
  const d = cfg.dim;
  const shapes: Record<string, number[]> = { fused: [b, side * side, d], en0: [b, d, side, side], en1: [b, d, side, side], subset: [b] };
  for (const [name, w] of weights) shapes[name] = [...w.shape];
  return { graph, objective, params, shapes };
}

export async function sessionOf(built: BuiltObjective): Promise<Session> {
  return createSession(emitModel(built.graph, { paramsAs: 'inputs' }), { provider: 'cpu', threads: 2 });
}

export type Feeds = Record<string, Float32Array | BigInt64Array>;

/** Feeds for images [from, to) of the golden inputs plus the given weights. */
export function goldenFeeds(from: number, to: number, weights: WeightMap, subset?: number[]): Feeds {
  const feeds: Feeds = { fused: images('full.fused', from, to), en0: images('full.en0', from, to), en1: images('full.en1', from, to) };
  if (subset) feeds.subset = BigInt64Array.from(subset, (s) => BigInt(s));
  for (const [name, w] of weights) feeds[name] = w.data;
  return feeds;
}

export async function runBuilt(
  session: Session,
  built: BuiltObjective,
  feeds: Feeds,
  fetch?: string[],
): Promise<Record<string, Float32Array>> {
  const used: Feeds = {};
  for (const name of session.inputNames) used[name] = feeds[name];
  const out = await run(session, used, built.shapes, fetch);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

/** max |a − b| and max |b| (b = reference). */
export function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): { abs: number; ref: number; rel: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let abs = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  return { abs, ref, rel: abs / Math.max(ref, 1e-30) };
}

import { mulberry32 as mulberry } from '../helpers/random';
export { mulberry };
