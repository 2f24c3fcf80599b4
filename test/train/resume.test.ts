import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../../src/engine/errors';
import { releaseAllSessions } from '../../src/engine/graph/runtime';
import { readSafetensors } from '../../src/engine/safetensors';
import { listCheckpoints, loadCheckpoint } from '../../src/engine/train/checkpoint';
import { trainLoop } from '../../src/engine/train/step';
import { RESUME_SETUP, RESUME_STEPS } from './resume-setup';

const CHILD = join(__dirname, 'resume-child.ts');

function spawnChild(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = createInterface({ input: child.stdout });
  /** Resolves with the first stdout line matching `re` (rejects if the child exits first). */
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      lines.on('line', (l) => {
        if (re.test(l)) resolve(l);
      });
      void exited.then((x) => reject(new Error(`child exited (${x.code ?? x.signal}) before printing ${re}: ${stderr}`)));
    });
  return { child, exited, waitFor, stderr: () => stderr };
}

function bits(data: Float32Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

test('train 10 steps, SIGKILL after the step-10 checkpoint, resume in a new process → bit-identical to 20 straight steps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-resume-'));
  try {
    // A: 20 uninterrupted steps in this process.
    const { problem, loop } = RESUME_SETUP();
    const a = await trainLoop({ ...loop, program: await problem.program(), params: problem.init() });
    assert.equal(a.step, RESUME_STEPS);
    await releaseAllSessions();

    // B1: a child trains with a checkpoint after every step and is killed hard after step 10's.
    const ckdir = join(dir, 'ck');
    const b1 = spawnChild([ckdir, 'stop', '10']);
    assert.equal(await b1.waitFor(/^ready /), 'ready 10');
    assert.equal(listCheckpoints(ckdir)[0].step, 10);
    b1.child.kill('SIGKILL');
    assert.deepEqual(await b1.exited, { code: null, signal: 'SIGKILL' });
    // The checkpoint holds the state after 10 steps, not the start or the end.
    const ck = loadCheckpoint(listCheckpoints(ckdir)[0].path, problem.init());
    assert.equal(ck.step, 10);
    assert.notEqual(bits(ck.params.get('qkv.weight')!.data), bits(problem.init().get('qkv.weight')!.data));
    assert.notEqual(bits(ck.params.get('qkv.weight')!.data), bits(a.params.get('qkv.weight')!.data));

    // B2: a new process resumes from that checkpoint and trains the remaining 10 steps.
    const out = join(dir, 'final.safetensors');
    const b2 = spawnChild([ckdir, 'finish', out]);
    assert.equal(await b2.waitFor(/^done /), 'done 10');
    assert.deepEqual(await b2.exited, { code: 0, signal: null }, b2.stderr());

    const final = readSafetensors(out);
    assert.deepEqual([...final.tensors.keys()], [...a.params.keys()]);
    for (const [name, p] of a.params) {
      const t = final.tensors.get(name)!;
      assert.equal(Buffer.from(t.bytes).toString('hex'), bits(p.data), `${name} differs after resume`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trainLoop: resuming with other settings is refused; cancelling saves a checkpoint to resume from', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-resume-'));
  try {
    const { problem, loop } = RESUME_SETUP();
    const program = await problem.program();
    const base = { ...loop, program, checkpointDir: dir, checkpointEvery: 2, resume: true };
    const first = await trainLoop({ ...base, params: problem.init(), totalSteps: 4 });
    assert.deepEqual([first.resumedFrom, first.step], [0, 4]);
    assert.deepEqual(
      listCheckpoints(dir).map((c) => c.step),
      [4, 2],
    );

    const refused = (re: RegExp) => (e: unknown) => e instanceof ConfigError && e.code === 'train/resume-mismatch' && re.test(e.message);
    await assert.rejects(
      trainLoop({ ...base, params: problem.init(), schedule: { ...loop.schedule, baseValue: 5e-3 } }),
      refused(/schedule/),
    );
    await assert.rejects(trainLoop({ ...base, params: problem.init(), dataOrder: { ...loop.dataOrder, seed: 1 } }), refused(/data order/));
    await assert.rejects(trainLoop({ ...base, params: problem.init(), optimizer: { eps: 1e-8 } }), refused(/optimiser settings/));

    // Resume at 4; cancel after step 5 (an odd step, no periodic checkpoint): a checkpoint is still written.
    const ctl = new AbortController();
    const second = await trainLoop({
      ...base,
      params: problem.init(),
      signal: ctl.signal,
      onStep: (s) => {
        if (s.step === 4) ctl.abort();
      },
    });
    assert.deepEqual([second.resumedFrom, second.step, second.history.map((h) => h.step)], [4, 5, [4]]);
    assert.equal(listCheckpoints(dir)[0].step, 5);
  } finally {
    await releaseAllSessions();
    rmSync(dir, { recursive: true, force: true });
  }
});
