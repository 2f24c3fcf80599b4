/**
 * Child process of resume.test.ts (not a test itself).
 *   node --import tsx resume-child.ts <checkpointDir> stop <N>   train with a checkpoint every step; after
 *        step N's checkpoint print "ready N" and wait to be killed
 *   node --import tsx resume-child.ts <checkpointDir> finish <out>   resume from the newest checkpoint, train
 *        to the end, write the parameters to <out> (safetensors), print "done <resumedFrom>"
 */
import { writeSafetensors } from '../../src/engine/safetensors';
import { trainLoop } from '../../src/engine/train/step';
import { RESUME_SETUP } from './resume-setup';

async function main(): Promise<void> {
  const [dir, mode, arg] = process.argv.slice(2);
  const { problem, loop } = RESUME_SETUP();
  const program = await problem.program();
  const r = await trainLoop({
    ...loop,
    program,
    params: problem.init(),
    checkpointDir: dir,
    checkpointEvery: 1,
    resume: true,
    onStep: async (s) => {
      if (mode === 'stop' && s.step + 1 === Number(arg)) {
        process.stdout.write(`ready ${s.step + 1}\n`);
        await new Promise(() => setInterval(() => undefined, 60_000)); // stay alive until SIGKILL
      }
    },
  });
  if (mode === 'finish') {
    writeSafetensors(arg, Object.fromEntries([...r.params].map(([n, p]) => [n, { shape: [...p.shape], data: p.data }])));
    process.stdout.write(`done ${r.resumedFrom}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
