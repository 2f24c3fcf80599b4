import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePhantomCase, Tissue, type PhantomCase } from '../../src/engine/phantom';

// In-memory phantoms on a small grid; every statistic below comes from the generated
// voxels and the generator's ground-truth maps, compared with MRI contrast rules.
const SIZE: [number, number, number] = [128, 128, 80];
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const cases = new Map<number, PhantomCase>(SEEDS.map((seed) => [seed, generatePhantomCase({ seed, size: SIZE, anomalous: true })]));
const SEQS = ['flair', 't1', 't1ce', 't2'] as const;

/** Mean intensity per tissue over voxels whose 6 neighbours share their tissue and that are not lesion. */
function interiorTissueMeans(c: PhantomCase, seq: (typeof SEQS)[number]): number[] {
  const [nx, ny] = SIZE;
  const d = c[seq].data;
  const sum = new Array(7).fill(0);
  const n = new Array(7).fill(0);
  for (let i = nx * ny; i < d.length - nx * ny; i++) {
    const t = c.tissue[i];
    if (t === 0 || c.seg.data[i] !== 0) continue;
    if (
      c.tissue[i + 1] !== t ||
      c.tissue[i - 1] !== t ||
      c.tissue[i + nx] !== t ||
      c.tissue[i - nx] !== t ||
      c.tissue[i + nx * ny] !== t ||
      c.tissue[i - nx * ny] !== t
    )
      continue;
    sum[t] += d[i];
    n[t]++;
  }
  return sum.map((s, t) => (n[t] > 20 ? s / n[t] : NaN));
}

test('tissue contrasts per sequence: T1 WM > GM > CSF, T2 CSF > GM > WM, FLAIR GM > WM > CSF (suppressed)', () => {
  for (const [seed, c] of cases) {
    const f = interiorTissueMeans(c, 'flair');
    const t1 = interiorTissueMeans(c, 't1');
    const t2 = interiorTissueMeans(c, 't2');
    const { Csf, Grey, White } = Tissue;
    assert.ok(t1[White] > t1[Grey] && t1[Grey] > t1[Csf], `seed ${seed} T1 ${t1.join(',')}`);
    assert.ok(t2[Csf] > t2[Grey] && t2[Grey] > t2[White], `seed ${seed} T2 ${t2.join(',')}`);
    assert.ok(f[Grey] > f[White] && f[White] > 1.5 * f[Csf], `seed ${seed} FLAIR ${f.join(',')}`);
    assert.ok(f[Grey] < 1.4 * f[White], `seed ${seed}: FLAIR GM/WM contrast should be slight`);
  }
});

test('background is exactly 0 outside the brain and non-zero inside', () => {
  const c = cases.get(1)!;
  for (const seq of SEQS) {
    const d = c[seq].data;
    let inside = 0;
    let insideZero = 0;
    for (let i = 0; i < d.length; i++) {
      if (c.tissue[i] === 0) assert.equal(d[i], 0);
      else {
        inside++;
        if (d[i] === 0) insideZero++;
      }
    }
    assert.ok(inside > 30000 && insideZero < inside * 0.001, `${seq}: ${insideZero} zero voxels inside`);
  }
});

interface LesionStats {
  edema: number;
  wm: number;
  rim: number;
  core: number;
  nEdema: number;
  nRim: number;
}

function lesionStats(c: PhantomCase, id: number, seq: (typeof SEQS)[number]): LesionStats {
  const l = c.lesions[id - 1];
  const [nx, ny, nz] = SIZE;
  const R = 1.6 * Math.max(...l.radii);
  const [ci, cj, ck] = l.center;
  const d = c[seq].data;
  const acc = { edema: 0, wm: 0, rim: 0, core: 0, nEdema: 0, nWm: 0, nRim: 0, nCore: 0 };
  for (let k = Math.max(0, Math.floor(ck - R)); k <= Math.min(nz - 1, Math.ceil(ck + R)); k++) {
    for (let j = Math.max(0, Math.floor(cj - R)); j <= Math.min(ny - 1, Math.ceil(cj + R)); j++) {
      for (let i = Math.max(0, Math.floor(ci - R)); i <= Math.min(nx - 1, Math.ceil(ci + R)); i++) {
        const idx = i + nx * (j + ny * k);
        const label = c.seg.data[idx];
        const mine = c.lesionMap[idx] === id;
        if (label === 0 && c.lesionMap[idx] === 0 && c.tissue[idx] === Tissue.White) {
          acc.wm += d[idx];
          acc.nWm++;
        } else if (mine && label === 2 && c.tissue[idx] === Tissue.White) {
          acc.edema += d[idx];
          acc.nEdema++;
        } else if (mine && label === 4) {
          acc.rim += d[idx];
          acc.nRim++;
        } else if (mine && label === 1) {
          acc.core += d[idx];
          acc.nCore++;
        }
      }
    }
  }
  return {
    edema: acc.edema / acc.nEdema,
    wm: acc.wm / acc.nWm,
    rim: acc.rim / acc.nRim,
    core: acc.core / acc.nCore,
    nEdema: acc.nEdema,
    nRim: acc.nRim,
  };
}

test("edema vs surrounding WM: brighter on FLAIR and T2, darker on T1 — except on a lesion's weak sequence, where it is near-isointense", () => {
  let checked = 0;
  const weakSeen = new Set<string>();
  for (const [seed, c] of cases) {
    c.lesions.forEach((l, li) => {
      const id = li + 1;
      if (l.voxels.edema < 40) return;
      for (const seq of ['flair', 't1', 't2'] as const) {
        const s = lesionStats(c, id, seq);
        if (s.nEdema < 20) return;
        const ratio = s.edema / s.wm;
        const where = `seed ${seed} lesion ${id} ${seq} (weak: ${l.weakSequence ?? 'none'}): edema/WM = ${ratio.toFixed(3)}`;
        if (seq === l.weakSequence) {
          assert.ok(Math.abs(ratio - 1) < 0.07, where);
          weakSeen.add(seq);
        } else if (seq === 't1') assert.ok(ratio < 0.93, where);
        else assert.ok(ratio > (seq === 'flair' ? 1.25 : 1.35), where);
      }
      checked++;
    });
  }
  assert.ok(checked >= 8, `only ${checked} lesions checked`);
  // Sequence subsets must carry different evidence: lesions weak on different sequences exist.
  assert.ok(weakSeen.size >= 2, `weak sequences seen: ${[...weakSeen].join(', ')}`);
});

test('the enhancing rim (label 4) stands out brightly only on T1ce', () => {
  let checked = 0;
  for (const [seed, c] of cases) {
    c.lesions.forEach((l, li) => {
      if (l.kind !== 'enhancing' || l.voxels.enhancing < 15) return;
      const s = Object.fromEntries(SEQS.map((seq) => [seq, lesionStats(c, li + 1, seq)])) as Record<(typeof SEQS)[number], LesionStats>;
      if (s.t1ce.nEdema < 20 || s.t1ce.nRim < 15) return;
      const where = `seed ${seed} lesion ${li + 1}`;
      assert.ok(
        s.t1ce.rim > 1.25 * s.t1ce.edema && s.t1ce.rim > 1.15 * s.t1ce.wm,
        `${where}: T1ce rim ${s.t1ce.rim}, edema ${s.t1ce.edema}, WM ${s.t1ce.wm}`,
      );
      for (const seq of ['flair', 't1', 't2'] as const)
        assert.ok(s[seq].rim < 1.1 * s[seq].edema, `${where} ${seq}: rim ${s[seq].rim} vs edema ${s[seq].edema}`);
      assert.ok(s.t1.rim < s.t1.wm, `${where}: T1 rim ${s.t1.rim} should be darker than WM ${s.t1.wm}`);
      checked++;
    });
  }
  assert.ok(checked >= 4, `only ${checked} enhancing lesions checked`);
});

test('cases vary: brain size, intensity scale and lesion placement differ between seeds', () => {
  const brainVoxels = [...cases.values()].map((c) => c.tissue.reduce((n, t) => n + (t !== 0 ? 1 : 0), 0));
  const mean = brainVoxels.reduce((a, b) => a + b, 0) / brainVoxels.length;
  const sd = Math.sqrt(brainVoxels.reduce((a, b) => a + (b - mean) ** 2, 0) / brainVoxels.length);
  assert.ok(sd / mean > 0.03, `brain volume coefficient of variation ${sd / mean}`);
  const wmT1 = [...cases.values()].map((c) => interiorTissueMeans(c, 't1')[Tissue.White]);
  assert.ok(Math.max(...wmT1) / Math.min(...wmT1) > 1.3, `T1 WM means ${wmT1.join(',')}`);
  const centres = new Set([...cases.values()].map((c) => c.lesions[0].center.join(',')));
  assert.equal(centres.size, cases.size);
  // Lesions sit in the axial band the paper samples (80–120 of 155 at full size).
  for (const c of cases.values())
    for (const l of c.lesions) assert.ok(l.center[2] >= 0.55 * SIZE[2] && l.center[2] <= 0.75 * SIZE[2], `lesion z ${l.center[2]}`);
});

test('a normal case has no labels; labels are BraTS values only', () => {
  const normal = generatePhantomCase({ seed: 3, size: SIZE, anomalous: false });
  assert.ok(normal.seg.data.every((v) => v === 0));
  assert.equal(normal.lesions.length, 0);
  for (const c of cases.values()) {
    const values = new Set(c.seg.data);
    for (const v of values) assert.ok([0, 1, 2, 4].includes(v), `label ${v}`);
    assert.ok(values.has(1) && values.has(2));
  }
});
