/**
 * Training steps whose parameters and optimiser state stay where the session runs: the graph
 * carries the optimiser (optimGraph.ts), each run's `<name>.next` outputs are fed to the next
 * run as they are (on WebGPU: device tensors, never copied to the host), and only the batch,
 * three scalars, the loss and the reported scalars cross per step. `sync()` copies parameters
 * and state into the host's Params and StableAdamW (for a checkpoint, an evaluation, the end),
 * through a second session whose outputs are on the CPU (onnxruntime-node 1.30 aborts the
 * process when a device tensor's getData() is called).
 */
import { Graph, emitModel, mul } from '../graph';
import { type Feed, type Session, createSession, outputFloat32, releaseSession, run, runTensors } from '../graph/runtime';
import type { StableAdamW } from './optim';
import { OPTIMIZER_NAMES as N, optimizerScalars, optimizerStateNames } from './optimGraph';
import { required } from '../errors';
import type { Params } from './params';
import type { Batch } from './step';

/** Bytes of a feed or output held in host memory (0 for a device tensor). */
function hostBytes(f: Feed): number {
  if (ArrayBuffer.isView(f)) return f.byteLength;
  return f.location === 'cpu' ? (f.data as Float32Array).byteLength : 0;
}

export class DeviceStepper {
  /** Every state input: a host array until the first run, then the run's output tensor. */
  private readonly state = new Map<string, Feed>();
  private readonly shapes = new Map<string, readonly number[]>();
  private readonly names: string[];
  /** Steps taken (StableAdamW's bias-correction count, shared by every parameter). */
  private count: number;
  private download: Session | undefined;
  /** Host bytes fed to and fetched from the session in the last step (host↔device on a GPU; the first step uploads the state). */
  lastStepBytes = { in: 0, out: 0 };

  constructor(
    private readonly session: Session,
    private readonly params: Params,
    private readonly optimizer: StableAdamW,
  ) {
    const amsgrad = optimizer.options.amsgrad;
    this.names = optimizerStateNames(params.keys(), amsgrad);
    const steps = new Set([...optimizer.state.values()].map((s) => s.step));
    if (steps.size > 1) throw new RangeError('the in-graph optimiser needs every parameter at the same step');
    this.count = [...steps][0] ?? 0;
    this.load();
  }

  /** Takes the parameters and state from the host (as a resume left them). */
  private load(): void {
    const amsgrad = this.optimizer.options.amsgrad;
    for (const [name, p] of this.params) {
      const st = this.optimizer.state.get(name);
      const n = p.data.length;
      const host: [string, Float32Array][] = [
        [name, p.data],
        [N.expAvg(name), st?.expAvg ?? new Float32Array(n)],
        [N.expAvgSq(name), st?.expAvgSq ?? new Float32Array(n)],
        ...(amsgrad ? [[N.maxExpAvgSq(name), st?.maxExpAvgSq ?? new Float32Array(n)] as [string, Float32Array]] : []),
      ];
      for (const [k, v] of host) {
        this.dispose(this.state.get(k));
        this.state.set(k, v.slice());
        this.shapes.set(k, p.shape);
      }
    }
  }

  /** One step: forward, backward, clip and StableAdamW in one run. */
  async step(
    batch: Batch,
    lr: number,
    lossName: string,
    scalarOutputs: readonly string[],
  ): Promise<{ loss: number; gradNorm: number; outputs: Record<string, number> }> {
    const scalars = optimizerScalars(this.count + 1, lr, this.optimizer.options);
    const feeds: Record<string, Feed> = { ...batch.feeds, ...scalars, ...Object.fromEntries(this.state) };
    const shapes: Record<string, readonly number[]> = { ...batch.shapes, ...Object.fromEntries(this.shapes) };
    for (const k of Object.keys(scalars)) shapes[k] = [1];
    // Every output, in the session's order (see optimGraph.appendToTrainingGraph): the state's next values and a few scalars.
    const out = await runTensors(this.session, feeds, shapes);
    this.count += 1;
    this.lastStepBytes = {
      in: Object.values(feeds).reduce((n, f) => n + hostBytes(f), 0),
      out: Object.values(out).reduce((n, t) => n + hostBytes(t), 0),
    };
    for (const k of this.names) {
      this.dispose(this.state.get(k));
      this.state.set(k, out[N.next(k)]);
    }
    const scalar = (name: string) => (out[name].data as Float32Array)[0];
    return {
      loss: scalar(lossName),
      gradNorm: scalar(N.gradNorm),
      outputs: Object.fromEntries(scalarOutputs.map((n) => [n, scalar(n)])),
    };
  }

  /** Copies parameters and optimiser state (and its step count) into the host's Params and StableAdamW. */
  async sync(): Promise<void> {
    const host = await this.onHost();
    const get = (k: string) => required(host.get(k), `the synced ${k}`);
    const amsgrad = this.optimizer.options.amsgrad;
    for (const [name, p] of this.params) {
      p.data.set(get(name));
      if (this.count === 0) continue;
      this.optimizer.state.set(name, {
        step: this.count,
        expAvg: get(N.expAvg(name)).slice(),
        expAvgSq: get(N.expAvgSq(name)).slice(),
        maxExpAvgSq: amsgrad ? get(N.maxExpAvgSq(name)).slice() : null,
      });
    }
  }

  /** Every state tensor's values on the host: CPU data as it is, the rest through the download session. */
  private async onHost(): Promise<Map<string, Float32Array>> {
    const host = new Map<string, Float32Array>();
    for (const [k, t] of this.state) {
      if (t instanceof Float32Array) host.set(k, t);
      else if (!ArrayBuffer.isView(t) && t.location === 'cpu') host.set(k, t.data as Float32Array);
    }
    if (host.size < this.names.length) {
      // The download session reads every state tensor (those on the host are copied up: a sync is rare).
      this.download ??= await this.downloadSession();
      const out = await run(this.download, Object.fromEntries(this.state), Object.fromEntries(this.shapes));
      for (const k of this.names) if (!host.has(k)) host.set(k, outputFloat32(out, N.next(k)));
    }
    return host;
  }

  async release(): Promise<void> {
    for (const t of this.state.values()) this.dispose(t);
    this.state.clear();
    if (this.download) await releaseSession(this.download);
  }

  /** A session on the same provider that copies every state tensor to the CPU (x·1 is exact). */
  private async downloadSession(): Promise<Session> {
    const g = new Graph('download');
    for (const k of this.names) g.output(N.next(k), mul(g.input(k, [...required(this.shapes.get(k), `the shape of ${k}`)]), 1));
    return createSession(emitModel(g), { provider: this.session.provider });
  }

  private dispose(t: Feed | undefined): void {
    if (t && !ArrayBuffer.isView(t) && t.location === 'gpu-buffer') t.dispose();
  }
}
