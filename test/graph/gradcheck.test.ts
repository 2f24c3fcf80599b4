/**
 * Every op's gradient rule against central finite differences of the same ONNX forward:
 * L = Σ(out ⊙ R), inputs with broadcasting shapes. float64 graphs (tolerance 1e-6) wherever
 * onnxruntime's CPU provider has a double kernel; Erf (gelu), Conv and the fused
 * LayerNormalization are float32-only there (tolerance 1e-2).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CASES } from './cases';
import { gradCheck } from './helpers';

for (const c of CASES) {
  const dtype = c.dtype ?? 'float64';
  test(`gradcheck ${dtype}: ${c.name}`, async () => {
    const r = await gradCheck(dtype, c.inputs, c.build);
    const tol = dtype === 'float64' ? 1e-6 : 1e-2;
    assert.ok(r.worst < tol, `relative error ${JSON.stringify(r.perInput)} ≥ ${tol}`);
    // Non-degenerate: some gradient is clearly non-zero.
    assert.ok(
      Object.values(r.analytic).some((gv) => gv.some((v) => Math.abs(v) > 1e-3)),
      'all gradients ~0',
    );
  });
}
