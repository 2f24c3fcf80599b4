/**
 * Every op's gradient rule against central finite differences: L = Σ(out ⊙ R), inputs with
 * broadcasting shapes. float64 graphs are differenced through the same ONNX forward wherever
 * onnxruntime's CPU provider has a double kernel; Erf (gelu), Conv and the fused
 * LayerNormalization are float32-only there, so those cases are differenced through a float64
 * JavaScript forward of the same function (test/graph/references.ts). Both tolerances are far
 * under 1 %, and the last tests show a gradient that is 1 % off fails them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Graph, type Tensor, scaleGradient } from '../../src/engine/graph';
import { type Case, CASES } from './cases';
import { type GradCheckResult, gradCheck, referenceGradCheck } from './helpers';

/** Relative error allowed: float64 throughout, or a float32 gradient against float64 differences. */
const TOLERANCE = { float64: 1e-6, float32: 1e-5 } as const;

function dtypeOf(c: Case): 'float32' | 'float64' {
  return c.dtype ?? 'float64';
}

async function check(c: Case, build: (g: Graph, ts: Tensor[]) => Tensor = c.build): Promise<GradCheckResult> {
  if (dtypeOf(c) === 'float64') return gradCheck('float64', c.inputs, build);
  if (!c.reference) throw new Error(`${c.name}: a float32 case needs a float64 reference forward`);
  const r = await referenceGradCheck(c.inputs, build, c.reference);
  assert.ok(r.lossGap < 1e-5, `${c.name}: the float64 reference's loss is ${r.lossGap} (relative) off the graph's`);
  return r;
}

/** The case with the gradient of its first input multiplied by 1.01 (forward unchanged). */
function withGradientOffByOnePercent(c: Case): (g: Graph, ts: Tensor[]) => Tensor {
  return (g, [first, ...rest]) => c.build(g, [scaleGradient(first, g.scalar(1.01, dtypeOf(c))), ...rest]);
}

for (const c of CASES) {
  const tol = TOLERANCE[dtypeOf(c)];
  test(`gradcheck ${dtypeOf(c)}: ${c.name}`, async () => {
    const r = await check(c);
    assert.ok(r.worst < tol, `relative error ${JSON.stringify(r.perInput)} ≥ ${tol}`);
    // Non-degenerate: some gradient is clearly non-zero.
    assert.ok(
      Object.values(r.analytic).some((gv) => gv.some((v) => Math.abs(v) > 1e-3)),
      'all gradients ~0',
    );
  });
}

// Every float32 case (each has its own reference) and a few float64 ones.
const WRONG_GRADIENT_CASES = CASES.filter((c) => dtypeOf(c) === 'float32' || /^(mul|matmul|softmax)/.test(c.name));

test('the wrong-gradient checks cover both kinds of gradcheck', () => {
  assert.ok(WRONG_GRADIENT_CASES.some((c) => dtypeOf(c) === 'float32'));
  assert.ok(WRONG_GRADIENT_CASES.some((c) => dtypeOf(c) === 'float64'));
});

for (const c of WRONG_GRADIENT_CASES) {
  test(`gradcheck ${dtypeOf(c)} fails a gradient 1 % off: ${c.name}`, async () => {
    const r = await check(c, withGradientOffByOnePercent(c));
    const first = c.inputs[0].name;
    assert.ok(r.worst >= TOLERANCE[dtypeOf(c)], `a 1 % error passed: ${JSON.stringify(r.perInput)}`);
    // It measures the error it was given: 1 % on the first input.
    assert.ok(Math.abs(r.perInput[first] - 0.01) < 1e-3, `${first}: ${r.perInput[first]}`);
  });
}
