/**
 * The hardening cases (issue #15), one per name; run by harness.ts in a child process each
 * (node --import tsx test/hardening/cases.ts NAME), which bounds its time and memory. A case
 * throws (node:assert) on failure and ends by printing `CASE-RESULT {json}`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorkspaceConfig, parseWorkspaceConfig } from '../../src/engine/config';
import { AnyadError, ConfigError, FileError, NiftiError, SafetensorsError } from '../../src/engine/errors';
import {
  type BundleManifest,
  BundleError,
  loadBundle,
  loadBundleAsync,
  manifestChecksum,
  writeBundle,
} from '../../src/engine/model/bundle';
import { createRandomEncoderWeights, loadEncoderWeights, loadEncoderWeightsAsync } from '../../src/engine/model/encoderWeights';
import { headConfig, initHeadParams } from '../../src/engine/model/headWeights';
import { vitPreset } from '../../src/engine/model/vitConfig';
import { readNifti, writeNifti } from '../../src/engine/nifti';
import { phantomSliceRange, writePhantomCohort } from '../../src/engine/phantom';
import { readSafetensors, serializeSafetensors } from '../../src/engine/safetensors';
import { discoverStudy } from '../../src/engine/study';
import { writeFileAtomic } from '../../src/engine/util/atomic';
import { globMatch } from '../../src/engine/util/glob';
import { acquireRunLock, RUN_LOCK_FILE } from '../../src/engine/util/runLock';
import { resolveEncoder } from '../../src/engine/train/pipeline';
import type { HostToWebview } from '../../src/shared/webviewProtocol';
import { FakeEventEmitter, fakeFileUri, requireWithVscode } from '../helpers/fakeVscode';
import { fakePanel } from '../helpers/fakeWebviewPanel';
import { runAnyad, type Measured, ROOT } from './harness';

// The mutable CommonJS exports objects (which ES import bindings are not): some cases patch
// node:crypto or node:fs functions that src/engine calls through, or load a CommonJS preload.
const requireCommonJs = createRequire(__filename);

const work = mkdtempSync(join(tmpdir(), 'anyad-hardening-'));
let childrenRssMB = 0;
const details: Record<string, unknown> = {};

/** Runs the CLI and keeps the peak RSS of the process for the harness's memory bound. */
async function cli(args: string[], opts: Parameters<typeof runAnyad>[1] = {}): Promise<Measured> {
  const r = await runAnyad(args, opts);
  childrenRssMB = Math.max(childrenRssMB, r.peakRssMB);
  assert.equal(r.timedOut, false, `anyad ${args.join(' ')} timed out: ${r.stderr}`);
  return r;
}

/** A CLI failure the user can act on: exit 1, one error line (after any progress lines), no stack trace. */
function assertOneLineError(r: Measured, re: RegExp): void {
  assert.equal(r.code, 1, `exit code ${r.code}: ${r.stderr}`);
  const errors = r.stderr.split('\n').filter((l) => /^anyad [\w-]+: (internal )?error/.test(l));
  assert.equal(errors.length, 1, `one error line expected:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.match(errors[0], /^anyad [\w-]+: error: /);
  assert.match(errors[0], re);
  assert.equal(r.stderr.trimEnd().split('\n').pop(), errors[0], 'the error is the last line');
}

function throwsTyped(fn: () => unknown, cls: new (...a: never[]) => AnyadError, re: RegExp): AnyadError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof cls, `expected a ${cls.name}, got ${String((caught as Error)?.stack ?? caught)}`);
  assert.match((caught as Error).message, re);
  assert.doesNotMatch((caught as Error).message, /\n/);
  return caught;
}

function tinyImage(path: string): void {
  writeNifti(path, { dims: [8, 8, 4], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], data: new Float32Array(256).fill(1) });
}

// ---------------------------------------------------------------------------------------

const CASES: Record<string, () => Promise<void>> = {
  /** FIFOs (and symlinks to them) are refused at once by every reader instead of blocking open(). */
  async fifo() {
    const fifo = join(work, 'case1_flair.nii.gz');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const link = join(work, 'link.nii');
    symlinkSync(fifo, link);
    throwsTyped(() => readNifti(fifo), NiftiError, /FIFO/);
    throwsTyped(() => readNifti(link), NiftiError, /FIFO/);
    throwsTyped(() => loadWorkspaceConfig(fifo), ConfigError, /FIFO/);
    throwsTyped(() => readSafetensors(fifo), SafetensorsError, /FIFO/);
    throwsTyped(() => loadEncoderWeights(link), SafetensorsError, /FIFO/);
    const r = await cli(['info', fifo]);
    assertOneLineError(r, /case1_flair\.nii\.gz: cannot read image: a FIFO/);
    // Discovery over a folder holding the FIFO (named like a case file) ends too.
    tinyImage(join(work, 'case1_t1.nii.gz'));
    discoverStudy(work);
  },

  /** Symlink loops: a clear error (ELOOP), and discovery of a folder with loops ends. */
  async 'symlink-loops'() {
    const a = join(work, 'a.nii.gz'),
      b = join(work, 'b.nii.gz');
    symlinkSync(b, a);
    symlinkSync(a, b);
    symlinkSync(work, join(work, 'self')); // a folder loop
    throwsTyped(() => readNifti(a), NiftiError, /a\.nii\.gz: cannot read image: too many levels of symbolic links .*\(ELOOP\)/);
    throwsTyped(() => loadWorkspaceConfig(a), ConfigError, /ELOOP/);
    tinyImage(join(work, 'BraTS-X-00001-000-t2f.nii.gz'));
    const found = discoverStudy(work);
    details.discovered = found.cases.length;
    const r = await cli(['info', a]);
    assertOneLineError(r, /too many levels of symbolic links/);
  },

  /** /dev/zero and /dev/urandom (directly or behind a symlink) are refused before any read. */
  async 'dev-zero'() {
    for (const dev of ['/dev/zero', '/dev/urandom']) {
      throwsTyped(() => loadEncoderWeights(dev), SafetensorsError, /character device/);
      throwsTyped(() => readNifti(dev), NiftiError, /character device/);
      throwsTyped(() => loadWorkspaceConfig(dev), ConfigError, /character device/);
    }
    // A config naming /dev/zero as encoder weights (what training resolves): refused at once.
    const config = parseWorkspaceConfig({ model: { preset: 'tiny-cpu', encoderWeights: '/dev/zero' } }, join(work, 'anyad.json'));
    await assert.rejects(
      resolveEncoder(config),
      (e: unknown) => e instanceof SafetensorsError && /\/dev\/zero: cannot read encoder weights: a character device/.test(e.message),
    );
    // A bundle whose head is a symlink to /dev/zero is refused, not hashed forever.
    const bundle = join(work, 'bundle');
    mkdirSync(bundle);
    for (const f of ['model.onnx', 'anyad.json']) copyFileSync(join(ROOT, 'models', 'default', f), join(bundle, f));
    symlinkSync('/dev/zero', join(bundle, 'head.safetensors'));
    throwsTyped(() => loadBundle(bundle), BundleError, /head\.safetensors: cannot read model file: a character device/);
    tinyImage(join(work, 'c1_flair.nii.gz'));
    const r = await cli(['detect', '--model', bundle, '--flair', join(work, 'c1_flair.nii.gz'), '--slice', '2']);
    assertOneLineError(r, /head\.safetensors: cannot read model file: a character device/);
  },

  /** A Cancel reaches long reads and hashes: a 2 GiB model and 1.5 GiB weights stop within a chunk; `anyad train` ends on SIGTERM while reading weights. */
  async 'cancel-long-read'() {
    const bundle = join(work, 'bundle');
    mkdirSync(bundle);
    for (const f of ['head.safetensors', 'anyad.json']) copyFileSync(join(ROOT, 'models', 'default', f), join(bundle, f));
    writeFileSync(join(bundle, 'model.onnx'), '');
    truncateSync(join(bundle, 'model.onnx'), 2 * 1024 ** 3); // sparse: reads fast, as a big model would
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 30);
    await assert.rejects(
      loadBundleAsync(bundle, { signal: abort.signal }),
      (e: unknown) =>
        e instanceof BundleError && e.code === 'bundle/cancelled' && /model\.onnx: reading model file was cancelled/.test(e.message),
    );
    const weights = join(work, 'w.safetensors');
    writeFileSync(weights, '');
    truncateSync(weights, 1.5 * 1024 ** 3);
    const abort2 = new AbortController();
    setTimeout(() => abort2.abort(), 30);
    await assert.rejects(
      loadEncoderWeightsAsync(weights, {}, abort2.signal),
      (e: unknown) => e instanceof SafetensorsError && e.code === 'safetensors/cancelled',
    );
    // `anyad train` with 3.5 GiB of encoder weights: SIGTERM (the extension's Cancel) during the read ends it (exit 130).
    const big = join(work, 'big.safetensors');
    writeFileSync(big, '');
    truncateSync(big, 3.5 * 1024 ** 3);
    const { configPath } = await cohort('cancel', 4, undefined, { encoderWeights: big });
    let sent = false;
    const r = await cli(['train', '--config', configPath, '--progress-json'], {
      onLine: (l, child) => {
        if (!sent && l.includes('"phase":"data"') && l.includes('training slices')) {
          sent = true;
          setTimeout(() => child.kill('SIGTERM'), 200);
        }
      },
    });
    assert.ok(sent);
    assert.equal(r.code, 130, r.stderr);
  },

  /** Glob patterns: linear-time matching, and a complexity cap that is a clear ConfigError. */
  async 'pathological-globs'() {
    const name = `${'a'.repeat(4000)}.nii.gz`;
    const twentyOne = `${'*a'.repeat(20)}*b`;
    // Backtracking took minutes for this; the harness's time bound is the check.
    for (let i = 0; i < 50; i++) assert.equal(globMatch(twentyOne, name), false);
    assert.equal(globMatch('*A*.NII.gz', 'xa.nii.GZ'), true);
    assert.equal(globMatch('?_t1*', 'a_T1w.nii'), true);
    throwsTyped(
      () => parseWorkspaceConfig({ data: { sequences: { flair: [twentyOne] } } }, join(work, 'anyad.json')),
      ConfigError,
      /data\.sequences\.flair\[0\] pattern has 21 '\*', more than the 16 allowed/,
    );
    throwsTyped(
      () => parseWorkspaceConfig({ data: { sequences: { t1: ['x'.repeat(300)] } } }, join(work, 'anyad.json')),
      ConfigError,
      /300 characters long/,
    );
    // The most complex allowed pattern against long names, through discovery.
    const sixteen = `${'*a'.repeat(15)}*b`;
    for (let i = 0; i < 40; i++) writeFileSync(join(work, `${'a'.repeat(200)}${i}.nii.gz`), '');
    const config = parseWorkspaceConfig({ data: { sequences: { flair: [sixteen] } } }, join(work, 'anyad.json'));
    discoverStudy(work, config);
  },

  /** Disk full (a 1 MiB tmpfs, or injected ENOSPC) and a read-only file system: one-line errors, nothing partial left. */
  async 'disk-full'() {
    const mnt = join(work, 'small');
    mkdirSync(mnt);
    // ANYAD_HARDENING_NO_MOUNT=1 tries the injected-ENOSPC path where mounting works too.
    const mounted =
      !process.env.ANYAD_HARDENING_NO_MOUNT && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status === 0;
    details.mode = mounted ? 'tmpfs 1 MiB' : 'injected ENOSPC';
    const env = mounted
      ? process.env
      : { ...process.env, NODE_OPTIONS: `--require ${join(__dirname, 'inject-enospc.cjs')}`, ANYAD_INJECT_ENOSPC: mnt };
    if (!mounted) {
      process.env.ANYAD_INJECT_ENOSPC = mnt;
      requireCommonJs('./inject-enospc.cjs');
    }
    try {
      throwsTyped(
        () => writeFileAtomic(join(mnt, 'big.bin'), new Uint8Array(2 << 20)),
        FileError,
        /big\.bin: cannot write: disk full \(no space left on the device\) \(ENOSPC\)/,
      );
      assert.deepEqual(readdirSync(mnt), [], 'no temp file left behind');
      // A bundle that does not fit: no model folder, complete or not, is left.
      const enc = createRandomEncoderWeights(vitPreset('tiny'), 0);
      const head = headConfig(enc.config.embedDim, enc.config.numHeads);
      throwsTyped(
        () =>
          writeBundle(join(mnt, 'model-1'), {
            encoder: enc,
            headConfig: head,
            params: initHeadParams(head, 0),
            geometry: { resize: 128, crop: 112 },
          }),
        FileError,
        /disk full/,
      );
      assert.deepEqual(readdirSync(mnt), [], 'no partial bundle left behind');
      // The CLI: one line, exit 1.
      const r = await cli(['phantom', '--out', join(mnt, 'cohort'), '--cases', '2', '--size', '128x128x80', '--workers', '0'], { env });
      assertOneLineError(r, /disk full/);
      if (mounted) {
        // Read-only: remount the same tmpfs read-only.
        rmSync(join(mnt, 'cohort'), { recursive: true, force: true });
        assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0);
        throwsTyped(() => writeFileAtomic(join(mnt, 'x.json'), '{}'), FileError, /x\.json: cannot write: read-only file system \(EROFS\)/);
        const ro = await cli(['phantom', '--out', join(mnt, 'cohort'), '--cases', '1', '--size', '64x64x40', '--workers', '0']);
        assertOneLineError(ro, /read-only file system/);
      }
    } finally {
      if (mounted) spawnSync('umount', [mnt]);
    }
    // Folders under /proc: Node's recursive mkdir spins there; ours stops with a typed error.
    throwsTyped(() => writeFileAtomic('/proc/anyad-x/y/z.json', '{}'), FileError, /\/proc\/anyad-x: cannot create folder/);
    // A folder where a file should be; a name too long; a name that is not UTF-8.
    mkdirSync(join(work, 'taken.json'));
    throwsTyped(() => writeFileAtomic(join(work, 'taken.json'), '{}'), FileError, /taken\.json: cannot write: is a folder/);
    throwsTyped(() => readNifti(join(work, `${'n'.repeat(300)}.nii`)), NiftiError, /file name too long \(ENAMETOOLONG\)/);
    const raw = Buffer.concat([Buffer.from(`${work}/case_\u00e9`), Buffer.from([0xff, 0xfe]), Buffer.from('_flair.nii')]);
    writeFileSync(raw, 'x');
    const listed = readdirSync(work).find((n) => n.startsWith('case_'))!;
    throwsTyped(() => readNifti(join(work, listed)), NiftiError, /not valid UTF-8/);
    const bad = await cli(['info', join(work, listed)]);
    assertOneLineError(bad, /not valid UTF-8/);
  },

  /** Atomic writes: exclusive create (a planted symlink is not followed), modes, orphan cleanup. */
  async 'temp-files'() {
    const victim = join(work, 'victim.txt');
    writeFileSync(victim, 'precious');
    const target = join(work, 'state.json');
    // Make the temp name predictable for this test only, and plant a symlink there.
    const cryptoModule = requireCommonJs('node:crypto') as { randomBytes: unknown };
    const real = cryptoModule.randomBytes;
    cryptoModule.randomBytes = () => Buffer.alloc(6);
    symlinkSync(victim, join(work, `.state.json.${process.pid}.000000000000.tmp`));
    try {
      throwsTyped(
        () => writeFileAtomic(target, 'attacker-controlled?'),
        FileError,
        /state\.json: cannot write: its temporary file \.state\.json\.\d+\.0+\.tmp already exists/,
      );
    } finally {
      cryptoModule.randomBytes = real;
    }
    assert.equal(readFileSync(victim, 'utf8'), 'precious', 'the symlink was not followed');
    assert.equal(existsSync(target), false);
    // Modes: a new file gets the umask's default; a replaced file keeps its own mode.
    process.umask(0o022);
    writeFileAtomic(target, '{}');
    assert.equal(statSync(target).mode & 0o777, 0o644);
    chmodSync(target, 0o600);
    writeFileAtomic(target, '{"a":1}');
    assert.equal(statSync(target).mode & 0o777, 0o600);
    // Orphans of a dead process from before this one started are removed; a live one's kept.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const orphan = join(work, `.report.md.${dead}.abc.tmp`);
    const live = join(work, `.report.md.${process.ppid}.def.tmp`);
    for (const f of [orphan, live]) {
      writeFileSync(f, 'x');
      utimesSync(f, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    }
    writeFileAtomic(join(work, 'report.md'), '# r');
    assert.equal(existsSync(orphan), false, 'orphan of a dead process removed');
    assert.equal(existsSync(live), true, 'temp file of a live process kept');
    // Two writers of one file never share a temp name.
    const names = new Set<string>();
    const fs = requireCommonJs('node:fs') as { openSync: typeof import('node:fs').openSync };
    const open = fs.openSync;
    fs.openSync = ((p: string, ...rest: never[]) => {
      names.add(String(p));
      return (open as (...a: unknown[]) => number)(p, ...rest);
    }) as typeof open;
    try {
      writeFileAtomic(target, '1');
      writeFileAtomic(target, '2');
    } finally {
      fs.openSync = open;
    }
    assert.equal([...names].filter((n) => n.endsWith('.tmp')).length, 2);
  },

  /** A second training into the same output folder is refused, naming the first; stale locks are taken over. */
  async 'concurrent-trainings'() {
    const { configPath, outDir } = await cohort('concurrent', 1);
    const release = acquireRunLock(outDir, 'training'); // "the other run": this process
    const r = await cli(['train', '--config', configPath]);
    assertOneLineError(r, new RegExp(`another training \\(pid ${process.pid}, started .*\\) is using this output folder`));
    throwsTyped(() => acquireRunLock(outDir, 'training'), ConfigError, /another training/);
    release();
    assert.equal(existsSync(join(outDir, RUN_LOCK_FILE)), false);
    // A lock left by a killed run (its pid is gone) does not block the next one.
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
    writeFileSync(join(outDir, RUN_LOCK_FILE), JSON.stringify({ pid: dead, startedAt: new Date().toISOString(), what: 'training' }));
    acquireRunLock(outDir, 'training')();
  },

  /**
   * Kill during validation: `anyad train` is SIGKILLed while it validates step 4 and run again;
   * its evaluations, losses and selection equal an uninterrupted run's.
   */
  async 'kill-during-evaluation'() {
    const a = await cohort('straight', 8);
    const b = await cohort('killed', 8, a.root);
    let killedAt = '';
    const [straight, killed] = await Promise.all([
      cli(['train', '--config', a.configPath, '--progress-json']),
      cli(['train', '--config', b.configPath, '--progress-json'], {
        onLine: (l, child) => {
          if (!killedAt && l.includes('"phase":"evaluate"') && l.includes('validating step 4')) {
            killedAt = l;
            child.kill('SIGKILL');
          }
        },
      }),
    ]);
    assert.equal(straight.code, 0, straight.stderr);
    assert.equal(killed.signal, 'SIGKILL', `the run was not killed during validation: ${killed.stderr}`);
    const ck = join(b.outDir, 'checkpoints');
    const before = JSON.parse(readFileSync(join(ck, 'evaluations.json'), 'utf8')) as {
      evaluations: Array<{ step: number }>;
      losses: number[][];
    };
    assert.deepEqual(
      before.evaluations.map((e) => e.step),
      [],
      'killed before the step-4 validation was recorded',
    );
    assert.deepEqual(
      before.losses.map((l) => l[0]),
      [0, 1, 2, 3],
      'losses up to the checkpoint were on disk',
    );
    assert.ok(existsSync(join(ck, 'checkpoint-00000004.safetensors')));
    const resumed = await cli(['train', '--config', b.configPath, '--progress-json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const history = (dir: string) => {
      const model = readdirSync(dir).find((n) => n.startsWith('model-'))!;
      const t = JSON.parse(readFileSync(join(dir, model, 'training.json'), 'utf8')) as {
        bestStep: number;
        evaluations: Array<Record<string, unknown>>;
        losses: number[][];
      };
      return { bestStep: t.bestStep, losses: t.losses, evaluations: t.evaluations.map(({ seconds: _, ...e }) => e) };
    };
    const x = history(a.outDir),
      y = history(b.outDir);
    assert.deepEqual(
      y.evaluations.map((e) => e.step),
      [4, 8],
    );
    assert.deepEqual(y, x, 'selection, evaluations and losses equal the uninterrupted run');
    details.bestStep = x.bestStep;
  },

  /** A tampered manifest is refused with a clear message; absurd sizes and NaN parameters too. */
  async 'manifest-tampering'() {
    const copy = (name: string, edit?: (m: BundleManifest) => void): string => {
      const dir = join(work, name);
      mkdirSync(dir);
      for (const f of ['model.onnx', 'head.safetensors', 'anyad.json']) copyFileSync(join(ROOT, 'models', 'default', f), join(dir, f));
      if (edit) {
        const m = JSON.parse(readFileSync(join(dir, 'anyad.json'), 'utf8')) as BundleManifest;
        edit(m);
        writeFileSync(join(dir, 'anyad.json'), JSON.stringify(m, null, 2));
      }
      return dir;
    };
    assert.deepEqual(loadBundle(copy('intact')).warnings, []);
    const edited = copy('thresholds', (m) => {
      m.thresholds!.bySubset['7'] = 0;
    });
    throwsTyped(() => loadBundle(edited), BundleError, /anyad\.json: the manifest was changed after the model was written/);
    throwsTyped(
      () =>
        loadBundle(
          copy('depth', (m) => {
            m.head.decoderDepth = 1e9;
          }),
        ),
      BundleError,
      /'head\.decoderDepth' must be a number in \[2, 64\], got 1000000000/,
    );
    throwsTyped(
      () =>
        loadBundle(
          copy('resize', (m) => {
            m.preprocessing.resize = 100000;
          }),
        ),
      BundleError,
      /crop <= resize <= 1024/,
    );
    // NaN head, with the manifest re-sealed (as a careless tool would): refused at load.
    const nan = copy('nan');
    const head = readSafetensors(join(nan, 'head.safetensors'));
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, t] of head.tensors)
      tensors[k] = {
        shape: t.shape,
        data: new Float32Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength)),
      };
    const first = Object.keys(tensors)[0];
    tensors[first].data[0] = NaN;
    const nanBytes = serializeSafetensors(tensors, head.metadata);
    writeFileSync(join(nan, 'head.safetensors'), nanBytes);
    const m = JSON.parse(readFileSync(join(nan, 'anyad.json'), 'utf8')) as BundleManifest;
    m.files['head.safetensors'] = { sha256: createHash('sha256').update(nanBytes).digest('hex'), bytes: nanBytes.length };
    m.manifestSha256 = manifestChecksum(m);
    writeFileSync(join(nan, 'anyad.json'), JSON.stringify(m, null, 2));
    throwsTyped(
      () => loadBundle(nan),
      BundleError,
      new RegExp(`parameter '${first.replace(/\./g, '\\.')}' holds a non-finite value \\(NaN`),
    );
    // A manifest from before checksums: loads, with a warning.
    const old = copy('old', (mm) => {
      delete mm.manifestSha256;
    });
    assert.match(loadBundle(old).warnings.join('\n'), /has no checksum/);
    // The CLI says it in one line.
    tinyImage(join(work, 'c1_flair.nii.gz'));
    const r = await cli(['detect', '--model', edited, '--flair', join(work, 'c1_flair.nii.gz'), '--slice', '2']);
    assertOneLineError(r, /the manifest was changed after the model was written/);
  },

  /** A 50 MB anyad.json is refused by size before it is read or parsed. */
  async 'huge-config'() {
    const path = join(work, 'anyad.json');
    const text = Buffer.alloc(50_000_000, 0x20); // valid JSON: 50 MB of spaces, then {}
    text.write('{}', text.length - 2);
    writeFileSync(path, text);
    throwsTyped(() => loadWorkspaceConfig(path), ConfigError, /config is .* MiB, over the 4\.0 MiB limit/);
    const r = await cli(['train', '--config', path]);
    assertOneLineError(r, /over the 4\.0 MiB limit/);
    // Absurd run sizes are config errors, not a months-long ETA.
    throwsTyped(
      () => parseWorkspaceConfig({ train: { steps: 1e12 } }, path),
      ConfigError,
      /train\.steps must be an integer in \[1, 1000000\]/,
    );
    throwsTyped(
      () => parseWorkspaceConfig({ train: { batchSize: 4096 } }, path),
      ConfigError,
      /train\.batchSize must be an integer in \[1, 256\]/,
    );
    throwsTyped(
      () => parseWorkspaceConfig({ preprocess: { resize: 100000 } }, path),
      ConfigError,
      /preprocess\.resize must be an integer in \[14, 1024\]/,
    );
  },

  /** The viewer host: a pathological stroke is refused by cost; a broken annotation opens the image read-only. */
  async 'webview-host-work'() {
    const { STROKE_COST_BUDGET, openEditor } = loadEditor();
    const dir = join(work, 'case');
    mkdirSync(dir);
    const flair = join(dir, 'case7_flair.nii.gz');
    writeNifti(flair, {
      dims: [256, 256, 8],
      affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      data: new Float32Array(256 * 256 * 8).fill(1),
    });
    writeFileSync(join(dir, 'case7_annot.nii.gz'), 'not a nifti file');
    const ed = await openEditor(flair);
    ed.send({ type: 'ready' });
    await new Promise((r) => setTimeout(r, 200));
    const notices = () => hostMessages(ed).flatMap((m) => (m.type === 'notice' ? [m.text] : []));
    assert.ok(
      notices().some((t) => /Annotation not loaded, drawing is off: .*case7_annot\.nii\.gz/.test(t)),
      `notices: ${notices().join(' | ')}`,
    );
    assert.ok(
      hostMessages(ed).some((m) => m.type === 'file' && m.layer === 'opened'),
      'the image itself opened',
    );
    // Drawing is refused while the annotation is read-only; the broken file is untouched.
    ed.send({ type: 'stroke', tool: 'brush', plane: 'axial', slice: 2, points: [10, 10, 20, 20], radius: 2, value: 1 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(readFileSync(join(dir, 'case7_annot.nii.gz'), 'utf8'), 'not a nifti file');
    // A case with a good (absent) annotation: the 4096-point radius-64 zig-zag stroke is refused by cost.
    rmSync(join(dir, 'case7_annot.nii.gz'));
    const ok = await openEditor(flair);
    ok.send({ type: 'ready' });
    await new Promise((r) => setTimeout(r, 200));
    const points = Array.from({ length: 4096 }, (_, i) => (i % 2 === 0 ? [0, 0] : [255, 255])).flat();
    const t0 = performance.now();
    ok.send({ type: 'stroke', tool: 'brush', plane: 'axial', slice: 2, points, radius: 64, value: 1 });
    await new Promise((r) => setTimeout(r, 50));
    details.strokeMs = performance.now() - t0;
    assert.ok(
      hostMessages(ok).some((m) => m.type === 'notice' && /Stroke not applied: too large/.test(m.text)),
      'refused with a notice',
    );
    details.budget = STROKE_COST_BUDGET;
    // An ordinary stroke still draws.
    ok.send({ type: 'stroke', tool: 'brush', plane: 'axial', slice: 2, points: [10, 10, 40, 40], radius: 3, value: 1 });
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!hostMessages(ok).some((m, i, all) => m.type === 'notice' && /Stroke not applied/.test(m.text) && i > all.length - 2));
  },
};

// ---------------------------------------------------------------------------------------

/** A tiny phantom cohort (6 cases) and a config training `steps` steps, validating every 4. */
async function cohort(
  name: string,
  steps: number,
  dataRoot?: string,
  model: Record<string, unknown> = {},
): Promise<{ root: string; configPath: string; outDir: string }> {
  const size: [number, number, number] = [48, 48, 32];
  const root = dataRoot ?? join(work, `cohort-${name}`);
  if (!dataRoot) await writePhantomCohort(root, { cases: 6, seed: 11, size, anomalousFraction: 0.5, workers: 0 });
  const outDir = join(work, `out-${name}`);
  const configPath = join(root, `anyad-${name}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      data: { root: '.', slices: { axis: 'axial', ...phantomSliceRange(size[2]) } },
      model: { preset: 'tiny-cpu', randomEncoderSeed: 3, ...model },
      preprocess: { resize: 64, crop: 56 },
      output: { dir: outDir },
      train: { steps, batchSize: 4, evalEvery: 4, seed: 5, lr: 0.01, provider: 'cpu', threads: 1 },
    }),
  );
  return { root, configPath, outDir };
}

/** The custom editor provider against a minimal stand-in of the VS Code API (as test/extension does). */
/** What the editor host posted to the stand-in panel: host-to-webview messages. */
function hostMessages(view: { posted: unknown[] }): HostToWebview[] {
  return view.posted as HostToWebview[];
}

function loadEditor() {
  const vscodeStandIn = {
    EventEmitter: FakeEventEmitter,
    Uri: {
      joinPath: (base: { fsPath: string }, ...parts: string[]) => fakeFileUri(join(base.fsPath, ...parts)),
      parse: (s: string) => fakeFileUri(s.replace(/^file:\/\//, '')),
      file: fakeFileUri,
    },
    workspace: {
      fs: { readFile: async (u: { fsPath: string }) => new Uint8Array(readFileSync(u.fsPath)) },
      getConfiguration: () => ({ get: (_k: string, d: unknown) => d }),
    },
    commands: { executeCommand: async () => undefined },
    window: { showWarningMessage: async () => undefined, showErrorMessage: async () => undefined },
  };
  const mod = requireWithVscode<typeof import('../../src/extension/niftiEditor')>(
    join(ROOT, 'src', 'extension', 'niftiEditor'),
    vscodeStandIn,
  );
  const openEditor = async (path: string) => {
    const provider = new mod.NiftiEditorProvider(fakeFileUri('/ext') as never, { appendLine: () => {}, show: () => {} } as never);
    const doc = await provider.openCustomDocument(fakeFileUri(path) as never, { backupId: undefined, untitledDocumentData: undefined });
    const view = fakePanel();
    provider.resolveCustomEditor(doc, view.panel as never);
    return view;
  };
  return { STROKE_COST_BUDGET: mod.STROKE_COST_BUDGET, openEditor };
}

async function main(): Promise<void> {
  const name = process.argv[2];
  const run = CASES[name];
  if (!run) throw new Error(`unknown case '${name}' (cases: ${Object.keys(CASES).join(', ')})`);
  try {
    await run();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const ownRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`CASE-RESULT ${JSON.stringify({ ownRssMB, childrenRssMB, details })}\n`);
  process.exit(0); // onnxruntime / pending handles must not keep a finished case alive
}

export const CASE_NAMES = Object.keys(CASES);

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}
