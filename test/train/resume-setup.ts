/** The run shared by resume.test.ts and its child processes (a helper, not a test). */
import { transformerProblem } from './toy-models';

export const RESUME_STEPS = 20;

export function RESUME_SETUP() {
  const problem = transformerProblem(7, 1);
  return {
    problem,
    loop: {
      totalSteps: RESUME_STEPS,
      schedule: { baseValue: 1e-2, finalValue: 1e-3, totalIters: RESUME_STEPS, warmupIters: 5, startWarmupValue: 0 },
      dataOrder: { seed: 21, datasetSize: problem.datasetSize, batchSize: problem.batchSize },
      makeBatch: (indices: number[]) => problem.makeBatch(indices),
    },
  };
}
