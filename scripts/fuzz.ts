/**
 * Fuzzes the parsers that read what users and files hand us: NIfTI (readNifti on bytes, and the
 * viewer's header-only headerGridOf),
 * safetensors (parseSafetensors + decoding every tensor), the workspace config
 * (parseWorkspaceConfig on JSON text) and the webview ↔ host messages (parseWebviewMessage,
 * parseHostMessage). Each case mutates a valid input (bit flips, byte runs, truncation,
 * splices, boundary numbers in header fields / JSON values) from a seed, so a failure is
 * reproduced by its parser and case number.
 *
 * A case passes when the parser returns or throws a typed AnyadError (the webview parsers
 * must never throw: they return null). Anything else is an "untyped" failure. Each parser runs
 * in a child process watched by the parent: a case over its time limit is a "hang" (the child
 * is killed and the run continues after that case).
 *
 *   npm run fuzz -- --cases N [--parsers nifti,safetensors,config,webview] [--seed S] [--case-limit-ms MS]
 *
 * Prints one line per parser and a final JSON line; exits 1 on any untyped error or hang.
 */
import { spawn } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createInterface } from 'node:readline';
import { parseWorkspaceConfig } from '../src/engine/config';
import { isAnyadError } from '../src/engine/errors';
import { encodeNifti, readNifti } from '../src/engine/nifti';
import { headerGridOf } from '../src/engine/nifti/headerGrid';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../src/engine/safetensors';
import { parseHostMessage, parseWebviewMessage } from '../src/shared/webviewProtocol';
import { mulberry32 } from '../test/helpers/random';

const PARSERS = ['nifti', 'safetensors', 'config', 'webview'] as const;
type ParserName = (typeof PARSERS)[number];
/** A single case taking longer than this is a hang (the slowest real ones take milliseconds); --case-limit-ms. */
let CASE_LIMIT_MS = 5000;
/** Silence (no progress line) after which a child is killed: the case limit, plus a child's start-up. */
const watchdogMs = () => CASE_LIMIT_MS + 3000;

// ---- deterministic randomness ---------------------------------------------------------

const rngOf = mulberry32;
type Rng = () => number;
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)];

const BOUNDARY_INTS = [0, 1, -1, 2, 3, 7, 8, 255, 256, 32767, -32768, 65535, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 53, 1e308, -1e308];
const BOUNDARY_VALUES: unknown[] = [
  0,
  -1,
  1,
  0.5,
  1e9,
  -1e9,
  1e308,
  2 ** 53 + 1,
  NaN,
  Infinity,
  -Infinity,
  '',
  'x',
  '*'.repeat(40),
  '?*'.repeat(200),
  'a'.repeat(5000),
  null,
  true,
  false,
  [],
  {},
  [1, 2, 3],
  { a: 1 },
  '../../etc/passwd',
  '\u0000',
  '\uFFFD',
  '__proto__',
];

/** Byte-level mutations of a valid file: flips, random bytes, boundary integers, truncation, splices. */
function mutateBytes(r: Rng, base: Uint8Array, hot: number): Uint8Array {
  let b: Uint8Array = Uint8Array.from(base);
  const rounds = 1 + int(r, 4);
  for (let k = 0; k < rounds; k++) {
    // Half the mutations hit the first `hot` bytes (the header), where the parser decides.
    const at = () => (r() < 0.5 ? int(r, Math.min(hot, b.length || 1)) : int(r, b.length || 1));
    switch (int(r, 7)) {
      case 0: {
        const i = at();
        if (i < b.length) b[i] ^= 1 << int(r, 8);
        break;
      }
      case 1: {
        const i = at();
        for (let j = 0; j < 1 + int(r, 8) && i + j < b.length; j++) b[i + j] = int(r, 256);
        break;
      }
      case 2: {
        const i = at() & ~3;
        if (i + 8 <= b.length) {
          const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
          const v = pick(r, BOUNDARY_INTS);
          if (r() < 0.5) dv.setInt32(i, v | 0, r() < 0.5);
          else dv.setFloat64(i, v, r() < 0.5);
        }
        break;
      }
      case 3:
        b = b.subarray(0, int(r, b.length + 1));
        break;
      case 4: {
        const i = at();
        const len = int(r, 64);
        b = concat(b.subarray(0, i), b.subarray(i, i + len), b.subarray(i));
        break;
      }
      case 5: {
        const i = at();
        b = concat(b.subarray(0, i), b.subarray(Math.min(b.length, i + 1 + int(r, 32))));
        break;
      }
      default: {
        const i = at();
        if (i + 2 <= b.length) {
          const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
          dv.setInt16(i, pick(r, BOUNDARY_INTS) | 0, true);
        }
      }
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- the parsers and their seeds ------------------------------------------------------

function niftiSeeds(): Uint8Array[] {
  const image = (dims: number[]) => ({
    dims,
    affine: [2, 0, 0, -10, 0, 2, 0, -12, 0, 0, 3, 5, 0, 0, 0, 1],
    data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => (i * 7) % 13),
  });
  const out: Uint8Array[] = [];
  for (const datatype of ['float32', 'int16', 'uint8'] as const) {
    for (const version of [1, 2] as const) {
      const plain = encodeNifti(image([6, 5, 4]), { datatype, version });
      out.push(plain, encodeNifti(image([6, 5, 4]), { datatype, version, gzip: true }));
    }
  }
  out.push(
    encodeNifti(image([4, 3, 2, 2]), { datatype: 'int16', sclSlope: 2, sclInter: 1 }),
    encodeNifti(image([3, 3, 3]), { littleEndian: false }),
  );
  return out;
}

function safetensorsSeeds(): Uint8Array[] {
  return [
    serializeSafetensors(
      { a: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, b: { shape: [2], data: new Float64Array([1, -1]) } },
      { format: 'pt', config: '{"hidden_size":64}' },
    ),
    serializeSafetensors({
      w: { shape: [4], data: new Float32Array(4) },
      i: { dtype: 'I64', shape: [1], data: new BigInt64Array([7n]) },
      u: { shape: [3], data: new Uint8Array([1, 2, 3]) },
    }),
    serializeSafetensors({}),
  ];
}

const CONFIG_SEED = {
  data: {
    root: '.',
    sequences: { flair: ['*_fla.nii.gz'], t1: ['*T1w*'], t2: [] },
    assignments: { 'a/b.nii.gz': 't2' },
    slices: { axis: 'axial', start: 10, end: 20, step: 2 },
    anomalyLabels: [1, 2],
    split: { trainFraction: 0.8, valFraction: 0.2, seed: 3 },
    minLesionVoxels: 5,
    unlabelled: 'exclude',
  },
  preprocess: { resize: 128, crop: 112 },
  output: { dir: 'out' },
  model: { preset: 'tiny-cpu', randomEncoderSeed: 1 },
  train: {
    steps: 100,
    batchSize: 4,
    lr: 0.001,
    seed: 1,
    masking: 'sample',
    evalEvery: 10,
    lambdaGather: 0.2,
    lambdaAlign: 0.2,
    alignment: true,
    provider: 'cpu',
    threads: 1,
  },
};

/** A JSON value with random edits: values replaced by boundary values, keys added/removed, deep nesting. */
function mutateJson(r: Rng, v: unknown, depth = 0): unknown {
  if (r() < 0.08) return pick(r, BOUNDARY_VALUES);
  if (Array.isArray(v)) {
    const a = v.map((x) => mutateJson(r, x, depth + 1));
    if (r() < 0.1) a.push(pick(r, BOUNDARY_VALUES));
    if (r() < 0.02) return Array.from({ length: 2000 }, () => pick(r, ['*a*b*', 'x', 1]));
    return a;
  }
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (r() > 0.05) o[k] = mutateJson(r, x, depth + 1);
    if (r() < 0.05) o[pick(r, ['__proto__', 'constructor', 'extra', 'toString', ''])] = pick(r, BOUNDARY_VALUES);
    if (r() < 0.01 && depth < 3) o.deep = DEEP; // replaced by 5,000 nested arrays in the text (stringify would overflow)
    return o;
  }
  return v;
}

const DEEP = '\u0001deep';
/** JSON text of a mutated value, with DEEP markers turned into deeply nested arrays. */
function jsonText(v: unknown, indent?: number): string {
  return (JSON.stringify(v, null, indent) ?? 'null').split(JSON.stringify(DEEP)).join('['.repeat(5000) + ']'.repeat(5000));
}

function configText(r: Rng): string {
  const text = jsonText(mutateJson(r, CONFIG_SEED), r() < 0.5 ? 2 : undefined);
  if (r() < 0.7) return text;
  // Text-level damage: JSONC comments, cuts, stray characters, trailing commas.
  const bytes = mutateBytes(r, new TextEncoder().encode(text), text.length);
  const t = new TextDecoder().decode(bytes);
  return r() < 0.2 ? `// comment\n${t.replace(/}$/, ',}')} /* end` : t;
}

const DIMS: [number, number, number] = [16, 12, 8];
const MESSAGE_SEEDS: Array<Record<string, unknown>> = [
  { type: 'ready' },
  { type: 'log', level: 'info', message: 'hi' },
  { type: 'requestSequence', sequence: 't1' },
  { type: 'stroke', tool: 'brush', plane: 'axial', slice: 3, points: [1, 2, 5, 6], radius: 2, value: 1 },
  { type: 'fill', plane: 'coronal', slice: 2, a: 3, b: 4, value: 1 },
  { type: 'drawEdit', kind: 'brush', indices: new Uint32Array([1, 5, 9]).buffer, values: new Uint8Array([1, 1, 0]).buffer },
  { type: 'addOverlay' },
  { type: 'command', command: 'undo' },
  { type: 'viewState', cursor: [1, 2, 3], modalities: ['flair', 't2'] },
  { type: 'labels', layer: 'annotation', data: new Uint8Array(16 * 12 * 8).buffer },
  {
    type: 'heatmap',
    data: new Float32Array(16 * 12 * 8).buffer,
    score: 0.5,
    threshold: 0.4,
    decision: true,
    slice: 3,
    modalities: ['flair'],
    model: { encoder: 'x', warning: null },
  },
  { type: 'notice', level: 'warn', text: 'x' },
  { type: 'error', title: 't', detail: 'd' },
  { type: 'sliceScores', scores: new Float32Array(8).buffer, threshold: 1 },
];

function mutateMessage(r: Rng): unknown {
  const base = pick(r, MESSAGE_SEEDS);
  const m: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) {
    if (r() < 0.05) continue;
    if (v instanceof ArrayBuffer) {
      const choice = int(r, 6);
      m[k] =
        choice === 0
          ? new ArrayBuffer(int(r, 4096))
          : choice === 1
            ? new Uint8Array(v)
            : choice === 2
              ? v.slice(0, int(r, v.byteLength + 1))
              : choice === 3
                ? pick(r, BOUNDARY_VALUES)
                : v.slice(0);
      if (choice === 5 && k === 'indices')
        new Uint32Array(m[k] as ArrayBuffer).forEach((_, i, a) => {
          a[i] = pick(r, BOUNDARY_INTS) >>> 0;
        });
    } else if (Array.isArray(v) && r() < 0.1) {
      m[k] = Array.from({ length: int(r, 10000) }, () => (r() < 0.9 ? int(r, 20) : pick(r, BOUNDARY_VALUES)));
    } else {
      m[k] = mutateJson(r, v);
    }
  }
  if (r() < 0.05) m[pick(r, ['extra', '__proto__', 'constructor'])] = pick(r, BOUNDARY_VALUES);
  if (r() < 0.03) return pick(r, BOUNDARY_VALUES);
  return m;
}

/** Runs case `i` of `parser`: true when the input was accepted, false when rejected (null), or throws what the parser threw. */
function makeCase(parser: ParserName): (i: number, seed: number) => boolean {
  switch (parser) {
    case 'nifti': {
      const seeds = niftiSeeds();
      return (i, seed) => {
        const r = rngOf(seed * 7919 + i);
        const base = pick(r, seeds);
        let bytes = mutateBytes(r, base, base[0] === 0x1f ? base.length : 544);
        // Mutate inside the gzip stream too: the header the parser reads is the inflated one.
        if (base[0] === 0x1f && r() < 0.5) bytes = gzipSync(mutateBytes(r, readNiftiRaw(base), 544));
        // The viewer's header-only reader sees the same untrusted bytes in the extension host.
        let accepted = true;
        try {
          headerGridOf(bytes, 'fuzz.nii', 16 << 20);
        } catch (e) {
          if (!isAnyadError(e)) throw e;
          accepted = false;
        }
        readNifti(bytes, { file: 'fuzz.nii', maxBytes: 16 << 20, allowNonFinite: r() < 0.5 });
        return accepted;
      };
    }
    case 'safetensors': {
      const seeds = safetensorsSeeds();
      return (i, seed) => {
        const r = rngOf(seed * 7919 + i);
        const base = pick(r, seeds);
        const bytes =
          r() < 0.3
            ? jsonHeaderMutation(r, base)
            : mutateBytes(r, base, 8 + Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true)));
        const f = parseSafetensors(bytes, 'fuzz.safetensors');
        for (const [name, t] of f.tensors) toFloat32(t, name);
        return true;
      };
    }
    case 'config':
      return (i, seed) => {
        const r = rngOf(seed * 7919 + i);
        parseWorkspaceConfig(configText(r), '/fuzz/ws/anyad.json');
        return true;
      };
    case 'webview':
      return (i, seed) => {
        const r = rngOf(seed * 7919 + i);
        const msg = mutateMessage(r);
        const dims = r() < 0.1 ? null : DIMS;
        const a = parseWebviewMessage(msg, dims);
        const b = parseHostMessage(msg, dims);
        return a !== null || b !== null;
      };
  }
}

function readNiftiRaw(gz: Uint8Array): Uint8Array {
  return new Uint8Array(gunzipSync(gz));
}

/** A safetensors file whose JSON header was edited as JSON (offsets, shapes, dtypes), length fixed up. */
function jsonHeaderMutation(r: Rng, base: Uint8Array): Uint8Array {
  const n = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + n))) as unknown;
  const text = new TextEncoder().encode(jsonText(mutateJson(r, header)));
  const out = new Uint8Array(8 + text.length + (base.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(base.subarray(8 + n), 8 + text.length);
  return out;
}

// ---- child: run cases, report progress ------------------------------------------------

interface Counts {
  ok: number;
  typed: number;
  untyped: number;
  maxMs: number;
}

/**
 * Prints `at I ok typed untyped maxMs` (the counts before case I) as each case starts, so the
 * parent knows exactly which case went silent; `example …` per untyped failure; `result {counts}`.
 */
function runChild(parser: ParserName, start: number, count: number, seed: number): void {
  const run = makeCase(parser);
  const c: Counts = { ok: 0, typed: 0, untyped: 0, maxMs: 0 };
  let examples = 0;
  for (let i = start; i < start + count; i++) {
    process.stdout.write(`at ${i} ${c.ok} ${c.typed} ${c.untyped} ${c.maxMs.toFixed(2)}\n`); // synchronous on a pipe
    const t0 = performance.now();
    try {
      // Self-test of the hang detection (test/hardening/fuzz.test.ts): this case never ends.
      if (process.env.ANYAD_FUZZ_SELFTEST_HANG === `${parser}:${i}`)
        for (;;) {
          /* spin */
        }
      if (run(i, seed)) c.ok++;
      else c.typed++;
    } catch (e) {
      // Webview parsers must not throw at all; the others throw typed errors only.
      if (parser !== 'webview' && isAnyadError(e)) c.typed++;
      else {
        c.untyped++;
        if (examples++ < 5)
          process.stdout.write(`example case ${i}: ${((e as Error)?.stack ?? String(e)).split('\n').slice(0, 3).join(' | ')}\n`);
      }
    }
    c.maxMs = Math.max(c.maxMs, performance.now() - t0);
  }
  process.stdout.write(`result ${JSON.stringify(c)}\n`);
}

// ---- parent: one watched child per parser --------------------------------------------

interface ParserReport {
  parser: ParserName;
  cases: number;
  ok: number;
  typed: number;
  untyped: number;
  hangs: number;
  retried: number;
  maxCaseMs: number;
  seconds: number;
  examples: string[];
}

/**
 * Runs cases [start, start+count) in a child; resolves with the counts, or — when the child
 * went silent longer than a window of case limits allows, or died — the counts up to its last
 * progress line and where that was.
 */
function runWatched(
  parser: ParserName,
  start: number,
  count: number,
  seed: number,
  examples: string[],
): Promise<{ counts: Counts; complete: boolean; at: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--child', parser, String(start), String(count), String(seed)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let at = start;
    let counts: Counts = { ok: 0, typed: 0, untyped: 0, maxMs: 0 };
    let complete = false;
    // The decision waits for setImmediate: if this process itself was starved, its timers run
    // before the child's pending lines are read, and a busy child would look silent.
    let lastLine = Date.now();
    const arm = (delay: number): NodeJS.Timeout =>
      setTimeout(
        () =>
          setImmediate(() => {
            const silent = Date.now() - lastLine;
            if (silent >= watchdogMs()) child.kill('SIGKILL');
            else timer = arm(watchdogMs() - silent);
          }),
        delay,
      );
    let timer = arm(watchdogMs());
    createInterface({ input: child.stdout }).on('line', (l) => {
      lastLine = Date.now();
      if (l.startsWith('at ')) {
        const [i, ok, typed, untyped, maxMs] = l.slice(3).split(' ').map(Number);
        at = i;
        counts = { ok, typed, untyped, maxMs };
      } else if (l.startsWith('example ')) examples.push(l.slice(8));
      else if (l.startsWith('result ')) {
        counts = JSON.parse(l.slice(7)) as Counts;
        complete = true;
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ counts, complete, at });
    });
  });
}

async function fuzzParser(parser: ParserName, cases: number, seed: number): Promise<ParserReport> {
  const t0 = performance.now();
  const rep: ParserReport = { parser, cases, ok: 0, typed: 0, untyped: 0, hangs: 0, retried: 0, maxCaseMs: 0, seconds: 0, examples: [] };
  const add = (c: Counts) => {
    rep.ok += c.ok;
    rep.typed += c.typed;
    rep.untyped += c.untyped;
    rep.maxCaseMs = Math.max(rep.maxCaseMs, c.maxMs);
  };
  let start = 0;
  while (start < cases) {
    const r = await runWatched(parser, start, cases - start, seed, rep.examples);
    add(r.counts);
    if (r.complete) break;
    // Silent or dead during case `r.at` (the counts are those before it). A loaded machine can
    // starve a child too, so the case is run again alone: a hang only if it fails again.
    const again = await runWatched(parser, r.at, 1, seed, rep.examples);
    if (again.complete && again.counts.maxMs <= CASE_LIMIT_MS) {
      add(again.counts);
      rep.retried++;
      process.stderr.write(
        `note: ${parser} case ${r.at}: its child went silent for ${watchdogMs()} ms; alone it took ${again.counts.maxMs.toFixed(1)} ms\n`,
      );
    } else {
      rep.hangs++;
      rep.examples.push(`case ${r.at}: hang or crash (silent for ${watchdogMs()} ms or the process died, twice)`);
    }
    start = r.at + 1;
  }
  // Slow cases count as hangs too (the watchdog only catches the ones that never end).
  if (rep.maxCaseMs > CASE_LIMIT_MS) {
    rep.hangs++;
    rep.examples.push(`a case took ${rep.maxCaseMs.toFixed(0)} ms`);
  }
  rep.seconds = (performance.now() - t0) / 1000;
  return rep;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    runChild(argv[1] as ParserName, Number(argv[2]), Number(argv[3]), Number(argv[4]));
    return;
  }
  const opt = (name: string, d: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : d;
  };
  const cases = Number(opt('cases', '2000'));
  const seed = Number(opt('seed', '1'));
  CASE_LIMIT_MS = Number(opt('case-limit-ms', String(CASE_LIMIT_MS)));
  const parsers = opt('parsers', PARSERS.join(',')).split(',') as ParserName[];
  if (!Number.isSafeInteger(cases) || cases < 1 || parsers.some((p) => !PARSERS.includes(p))) {
    process.stderr.write(`usage: npm run fuzz -- --cases N [--parsers ${PARSERS.join(',')}] [--seed S]\n`);
    process.exit(2);
  }
  const reports: ParserReport[] = [];
  for (const p of parsers) {
    const r = await fuzzParser(p, cases, seed);
    reports.push(r);
    process.stdout.write(
      `${p.padEnd(12)} ${r.cases} cases: ${r.ok} accepted, ${r.typed} rejected (typed error${p === 'webview' ? ' or null' : ''}), ${r.untyped} untyped, ${r.hangs} hangs${r.retried ? ` (${r.retried} silent children re-run alone fine: machine load)` : ''}; slowest case ${r.maxCaseMs.toFixed(1)} ms; ${r.seconds.toFixed(1)} s\n`,
    );
    for (const e of r.examples) process.stdout.write(`  ${e}\n`);
  }
  process.stdout.write(`${JSON.stringify({ seed, caseLimitMs: CASE_LIMIT_MS, reports: reports.map(({ examples: _, ...r }) => r) })}\n`);
  process.exitCode = reports.some((r) => r.untyped > 0 || r.hangs > 0) ? 1 : 0;
}

void main();
