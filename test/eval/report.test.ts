// Reports: markdown in the paper's layout, a JSON twin with the same numbers, SVG figures
// that are well-formed XML with the expected elements; n/a instead of NaN everywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SubsetEvaluator, curvesOf, type SubsetResult } from '../../src/engine/eval/subsetEvaluator';
import { writeReport } from '../../src/engine/eval/writeReport';
import type { ReportInput } from '../../src/engine/eval/reportTypes';
import type { MetricSet } from '../../src/engine/eval/types';
import { MODALITY_SUBSETS } from '../../src/engine/study/modalities';
import { EvalError } from '../../src/engine/errors';
import { mulberry32 as rng } from '../helpers/random';

// ---------------------------------------------------------------- a strict little XML parser
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** Parses well-formed XML (elements, attributes, text, the 5 entities and &#..;) or throws. */
function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`XML: ${msg} at offset ${i}: ${JSON.stringify(src.slice(i, i + 40))}`);
  };
  const NAME = /[A-Za-z_:][\w:.-]*/y;
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const checkText = (t: string) => {
    if (t.includes('<')) fail('raw < in text or attribute');
    for (const m of t.matchAll(/&([^;]*);?/g)) {
      if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);$/.test(m[0])) fail(`bad entity ${m[0]}`);
    }
  };
  const element = (): XmlElement => {
    if (src[i] !== '<') fail('expected <');
    i++;
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      ws();
      if (src.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      const a = name();
      ws();
      if (src[i] !== '=') fail('expected =');
      i++;
      ws();
      const q = src[i];
      if (q !== '"' && q !== "'") fail('attribute value not quoted');
      const end = src.indexOf(q, i + 1);
      if (end < 0) fail('unterminated attribute');
      const v = src.slice(i + 1, end);
      checkText(v);
      if (a in el.attrs) fail(`duplicate attribute ${a}`);
      el.attrs[a] = v;
      i = end + 1;
    }
    for (;;) {
      const lt = src.indexOf('<', i);
      if (lt < 0) fail(`unclosed <${el.name}>`);
      const t = src.slice(i, lt);
      checkText(t);
      el.text += t;
      i = lt;
      if (src.startsWith('</', i)) {
        i += 2;
        const close = name();
        if (close !== el.name) fail(`</${close}> closes <${el.name}>`);
        ws();
        if (src[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      el.children.push(element());
    }
  };
  ws();
  const root = element();
  ws();
  if (i !== src.length) fail('content after the root element');
  return root;
}

function all(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => all(c, name))];
}
function allText(el: XmlElement): string {
  return el.text + el.children.map(allText).join(' ');
}

test('the XML checker rejects malformed documents (it can fail)', () => {
  assert.throws(() => parseXml('<svg><g></svg>'));
  assert.throws(() => parseXml('<svg a=1/>'));
  assert.throws(() => parseXml('<svg>a & b</svg>'));
  assert.throws(() => parseXml('<svg a="1" a="2"/>'));
  assert.throws(() => parseXml('<svg/><svg/>'));
  assert.equal(parseXml('<svg a="x&amp;y"><t>1 &lt; 2</t></svg>').children[0].text, '1 &lt; 2');
});

// ---------------------------------------------------------------- synthetic evaluation results

/**
 * One subset evaluated on synthetic 32×32 maps: anomalous slices have a blob that the map sees
 * with `strength`. With `cases`, slice s belongs to case s mod cases.
 */
function evaluateSynthetic(seed: number, strength: number, label: string, cases?: number): SubsetResult {
  const r = rng(seed);
  const size = 32;
  // 200 resamples: these tests check how intervals are rendered, not their precision.
  const ev = new SubsetEvaluator({ mapSize: size, expectedSlices: 40, label, bootstrap: { samples: 200, seed: 0 } });
  for (let s = 0; s < 40; s++) {
    const anomalous = s % 2 === 1;
    const mask = anomalous ? new Uint8Array(size * size) : null;
    const cx = 6 + r() * 20,
      cy = 6 + r() * 20,
      rad = 2 + r() * 4;
    const map = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inBlob = (x - cx) ** 2 + (y - cy) ** 2 <= rad * rad;
        if (mask && inBlob) mask[y * size + x] = 1;
        map[y * size + x] = r() * 0.5 + (mask && inBlob ? strength * r() : 0);
      }
    }
    ev.addSlice(map, mask, { name: `slice ${s}`, caseId: cases ? `case${s % cases}` : undefined });
  }
  return ev.finalize();
}

const LABELS = MODALITY_SUBSETS.map((s) => s.label);

function baseInput(): ReportInput {
  return {
    title: 'AnyAD on a synthetic phantom',
    kind: 'standard',
    models: [],
    dataSummary: {
      dataset: 'phantom (synthetic)',
      sliceRule: 'axial 80–120, every 5th',
      splits: [
        { name: 'train', cases: 8, slices: 72, normal: 72, anomalous: 0 },
        { name: 'test', cases: 4, slices: 40, normal: 20, anomalous: 20 },
      ],
    },
    config: { model: { encoder: 'vit_tiny', px: 112 }, train: { steps: 100, note: 'a ``` fence inside' } },
    encoder: { kind: 'pretrained', name: 'DINOv2 ViT-B/14 with registers', file: 'dinov2-reg-base.safetensors', sha256: 'ab'.repeat(32) },
    timing: { 'feature cache': 3.25, train: 125.5, evaluation: 4000 },
    generatedAt: '2025-01-01T00:00:00.000Z',
  };
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-report-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('report: paper table for two models, JSON twin with the same numbers, figures referenced', () => {
  const anyad: Record<string, MetricSet> = {};
  const baseline: Record<string, MetricSet> = {};
  const curves: Record<string, ReturnType<typeof curvesOf>> = {};
  LABELS.forEach((l, k) => {
    const a = evaluateSynthetic(10 + k, 0.9, l);
    anyad[l] = a.metrics;
    curves[l] = curvesOf(a);
    baseline[l] = evaluateSynthetic(10 + k, 0.3, l).metrics;
  });
  // One cell with no defined value: the table must show n/a, never NaN.
  baseline.T2 = {
    ...baseline.T2,
    pixel: { ...baseline.T2.pixel, aupro: null },
    notes: ['pixel AUPRO: no anomalous regions in the ground truth'],
  };
  // A NaN from a careless caller is shown as n/a as well.
  baseline.T1 = { ...baseline.T1, image: { ...baseline.T1.image, ap: NaN } };
  const input: ReportInput = {
    ...baseInput(),
    models: [
      { name: 'AnyAD', perSubset: anyad },
      { name: 'INP-Former | baseline', perSubset: baseline },
    ],
    curves: { perSubset: curves },
  };

  withTempDir((dir) => {
    const written = writeReport(dir, input);
    const md = readFileSync(written.markdownPath, 'utf8');
    const json = JSON.parse(readFileSync(written.jsonPath, 'utf8'));
    // Only the report's files are left: atomic writes leave no temp files behind.
    assert.deepEqual(readdirSync(dir).sort(), [
      'bars.svg',
      'models-auroc.svg',
      'pr-image.svg',
      'pr-pixel.svg',
      'report.json',
      'report.md',
      'roc-image.svg',
      'roc-pixel.svg',
    ]);
    assert.equal(written.files.length, 8);

    assert.ok(md.includes('| Metric | Model | F | T1 | T2 | F+T1 | F+T2 | T1+T2 | F+T1+T2 | Mean |'), md);
    const row = (metric: string, model: string) =>
      md.split('\n').find((l) => l.startsWith(`| ${metric} | ${model} |`) || (metric === '' && l.startsWith(`|  | ${model} |`)));
    const auroc = row('AUROC', 'AnyAD')!;
    const f = anyad.F;
    assert.ok(auroc.includes(`| ${f.image.auroc!.toFixed(4)}/${f.pixel.auroc!.toFixed(4)} |`), auroc);
    const mean = (k: 'auroc') => LABELS.reduce((s, l) => s + anyad[l].image[k]!, 0) / 7;
    assert.ok(
      auroc.trim().endsWith(`| ${mean('auroc').toFixed(4)}/${(LABELS.reduce((s, l) => s + anyad[l].pixel.auroc!, 0) / 7).toFixed(4)} |`),
      auroc,
    );
    const aupro = row('AUPRO', 'AnyAD')!;
    assert.ok(aupro.includes(`| ${f.pixel.aupro!.toFixed(4)} |`) && !aupro.includes('/'), aupro);
    const baselineRows = md.split('\n').filter((l) => l.startsWith('|  | INP-Former \\| baseline |'));
    assert.equal(baselineRows.length, 4, 'pipe in the model name is escaped; one row per metric for the second model');
    const baselineAupro = baselineRows[3];
    assert.equal(baselineAupro.split('|').filter((c) => c.trim() === 'n/a').length, 2, 'T2 and the mean are n/a');
    assert.match(md, /INP-Former \| baseline, T2: pixel AUPRO: no anomalous regions/);
    assert.match(md, /!\[ROC curves, image level\]\(roc-image\.svg\)/);
    assert.match(md, /!\[Precision–recall curves, pixel level\]\(pr-pixel\.svg\)/);
    assert.match(md, /!\[[^\]]*\]\(bars\.svg\)/);
    assert.match(md, /\| test \| 4 \| 40 \| 20 \| 20 \|/);
    assert.match(md, /sha256 `abababab/);
    assert.match(md, /\| evaluation \| 1 h 06 min \|/);
    assert.ok(md.includes('````json'), 'config fence longer than the backticks inside it');
    assert.doesNotMatch(md, /WARNING/);

    assert.equal(json.schema, 'anyad.report/1');
    assert.deepEqual(json.columns, [...LABELS, 'Mean']);
    assert.equal(json.results[0].rows.AUROC.F.image, f.image.auroc);
    assert.equal(json.results[0].rows.AP['T1+T2'].pixel, anyad['T1+T2'].pixel.ap);
    assert.equal(json.results[1].rows.AUPRO.T2.pixel, null);
    assert.equal(json.results[1].rows.AP.T1.image, null);
    assert.ok(baselineRows[1].includes(`| n/a/${baseline.T1.pixel.ap!.toFixed(4)} |`), baselineRows[1]);
    assert.equal(json.results[1].rows.AUPRO.Mean.pixel, null);
    assert.equal(json.results[0].rows.F1.Mean.image, LABELS.reduce((s, l) => s + anyad[l].image.f1!, 0) / 7);
    assert.deepEqual(json.dataSummary, input.dataSummary);
    for (const file of readdirSync(dir)) assert.doesNotMatch(readFileSync(join(dir, file), 'utf8'), /NaN/, file);
  });
});

test('SVG figures are well-formed, self-contained, with axes, one polyline per curve and labels', () => {
  const perSubset: Record<string, MetricSet> = {};
  const curves: Record<string, ReturnType<typeof curvesOf>> = {};
  LABELS.forEach((l, k) => {
    const a = evaluateSynthetic(40 + k, 0.7, l);
    perSubset[l] = a.metrics;
    curves[l] = curvesOf(a);
  });
  withTempDir((dir) => {
    writeReport(dir, { ...baseInput(), models: [{ name: 'AnyAD <&> v2', perSubset }], curves: { perSubset: curves } });
    for (const file of ['roc-image.svg', 'roc-pixel.svg', 'pr-image.svg', 'pr-pixel.svg', 'bars.svg']) {
      const src = readFileSync(join(dir, file), 'utf8');
      const svg = parseXml(src);
      assert.equal(svg.name, 'svg', file);
      assert.equal(svg.attrs.xmlns, 'http://www.w3.org/2000/svg');
      assert.match(svg.attrs.viewBox, /^0 0 \d+ \d+$/);
      assert.equal(
        all(svg, 'script').length + all(svg, 'foreignObject').length + all(svg, 'image').length,
        0,
        `${file}: nothing active or external`,
      );
      assert.doesNotMatch(src, /href|url\(|@import/, file);
      assert.ok(
        all(svg, 'path').some((p) => p.attrs.class === 'axis'),
        `${file}: axes`,
      );
      const texts = all(svg, 'text').map(allText);
      assert.ok(texts.includes('0.0') && texts.includes('1.0'), `${file}: tick labels`);
      assert.ok(
        texts.some((t) => t.includes('— AnyAD &lt;&amp;&gt; v2')),
        `${file}: title text, escaped`,
      );
      if (file === 'bars.svg') {
        assert.equal(all(svg, 'rect').filter((r) => r.attrs.class === 'bar').length, 8 * 7, 'a bar per metric per column');
        assert.ok(texts.includes('AUPRO') && texts.includes('F+T1+T2') && texts.includes('Mean'));
      } else {
        const lines = all(svg, 'polyline');
        assert.equal(lines.length, 7, `${file}: one polyline per subset`);
        for (const pl of lines) {
          const pts = pl.attrs.points.split(' ').map((p) => p.split(',').map(Number));
          assert.ok(pts.length >= 2 && pts.every((p) => p.length === 2 && p.every(Number.isFinite)), `${file}: points`);
        }
        assert.ok(
          texts.some((t) => /^F\+T1 {2}(AUROC|AP) \d\.\d{4}$/.test(t)),
          `${file}: legend with values`,
        );
        assert.ok(texts.includes(file.startsWith('roc') ? 'False positive rate' : 'Recall'));
      }
    }
  });
});

test('cross-domain and zero-shot reports are labelled; missing labels and bad inputs are typed errors', () => {
  const m = evaluateSynthetic(3, 0.8, 'T1ce').metrics;
  withTempDir((dir) => {
    const zs = writeReport(dir, {
      ...baseInput(),
      title: 'Zero-shot',
      kind: 'zero-shot',
      unseenSequence: 'T1ce',
      models: [{ name: 'AnyAD', perSubset: { T1ce: m } }],
    });
    const md = readFileSync(zs.markdownPath, 'utf8');
    assert.match(md, /\*\*Zero-shot evaluation\*\* — input sequence \*\*T1ce\*\* was never seen in training/);
    assert.ok(md.includes('| Metric | T1ce |'), 'one column, no Mean, no Model column');
    const bars = parseXml(readFileSync(join(dir, 'bars.svg'), 'utf8'));
    assert.ok(allText(bars).includes('zero-shot: T1ce'));
  });
  withTempDir((dir) => {
    const cd = writeReport(dir, {
      ...baseInput(),
      title: 'Cross-domain',
      kind: 'cross-domain',
      trainedOn: 'BraTS2018',
      testedOn: 'Pretreat-MetsToBrain-Masks',
      models: [{ name: 'AnyAD', perSubset: { F: m, 'F+T1+T2': m } }],
      encoder: { kind: 'random-init', name: 'ViT-tiny/14', seed: 7 },
    });
    const md = readFileSync(cd.markdownPath, 'utf8');
    assert.match(md, /trained on \*\*BraTS2018\*\*, tested on \*\*Pretreat-MetsToBrain-Masks\*\*/);
    assert.match(md, /^> ⚠️ \*\*WARNING — RANDOM-INIT ENCODER\.\*\*.*seed 7/m);
    assert.ok(md.includes('| Metric | F | F+T1+T2 | Mean |'));
  });
  const bad = (patch: Partial<ReportInput>) => () =>
    writeReport(join(tmpdir(), 'never-written'), { ...baseInput(), models: [{ name: 'A', perSubset: { F: m } }], ...patch });
  const isBad = (e: unknown) => e instanceof EvalError && e.code === 'eval/bad-report';
  assert.throws(bad({ kind: 'cross-domain', trainedOn: 'A' }), isBad);
  assert.throws(bad({ kind: 'zero-shot' }), isBad);
  assert.throws(bad({ models: [] }), isBad);
  assert.throws(bad({ curves: { model: 'nobody', perSubset: {} } }), isBad);
});

test('report: per-model 95 % interval tables with counts, a sample-size header, two models told apart', () => {
  const anyad: Record<string, MetricSet> = {};
  const baseline: Record<string, MetricSet> = {};
  LABELS.forEach((l, k) => {
    anyad[l] = evaluateSynthetic(60 + k, 0.9, l, 5).metrics;
    baseline[l] = evaluateSynthetic(60 + k, 0.2, l, 5).metrics;
  });
  const BASE = 'Intensity baseline (non-learned)';
  withTempDir((dir) => {
    const written = writeReport(dir, {
      ...baseInput(),
      models: [
        { name: 'AnyAD', perSubset: anyad },
        { name: BASE, perSubset: baseline },
      ],
      bootstrap: { samples: 200, seed: 0 },
    });
    const md = readFileSync(written.markdownPath, 'utf8');
    const json = JSON.parse(readFileSync(written.jsonPath, 'utf8'));
    const lines = md.split('\n');
    // The header says what the numbers rest on, and which models the tables hold.
    assert.ok(md.includes('**Sample size:** every number below rests on 5 cases, 40 slices (20 normal, 20 anomalous).'), md);
    assert.ok(md.includes(`Models, in table order: **AnyAD**, **${BASE}**.`));
    assert.ok(md.indexOf('**Sample size:**') < md.indexOf('## Results'));
    // The paper table is unchanged: one header, 4 metric rows per model, models interleaved.
    assert.ok(md.includes('| Metric | Model | F | T1 | T2 | F+T1 | F+T2 | T1+T2 | F+T1+T2 | Mean |'));
    assert.equal(lines.filter((l) => l.startsWith(`|  | ${BASE} |`)).length, 4);
    // One interval table per model, in model order, after the paper table.
    const section = md.indexOf('### 95 % confidence intervals');
    assert.ok(section > md.indexOf('| Metric | Model |'));
    assert.match(md, /over 200 bootstrap resamples \(seed 0\) of the test \*\*cases\*\*/);
    const first = md.indexOf('**AnyAD**', section);
    const second = md.indexOf(`**${BASE}**`, section);
    assert.ok(first > section && second > first, 'AnyAD first, the baseline second');
    const header = '| Subset | n | Image AUROC | Image AP | Pixel AUROC | Pixel AP |';
    assert.equal(lines.filter((l) => l === header).length, 2);
    const fmt = (v: number | null, ci: [number, number] | null | undefined) =>
      `${v!.toFixed(3)} [${ci![0].toFixed(3)}, ${ci![1].toFixed(3)}]`;
    for (const [model, per, from] of [
      ['AnyAD', anyad, first],
      [BASE, baseline, second],
    ] as const) {
      for (const l of LABELS) {
        const m = per[l];
        const want = `| ${l} | 5 / 40 (20/20) | ${fmt(m.image.auroc, m.ci!.image.auroc)} | ${fmt(m.image.ap, m.ci!.image.ap)} | ${fmt(m.pixel.auroc, m.ci!.pixel.auroc)} | ${fmt(m.pixel.ap, m.ci!.pixel.ap)} |`;
        const at = md.indexOf(want + '\n', from);
        assert.ok(at > from && (model === BASE || at < second), `${model}, ${l}: ${want}`);
      }
    }
    assert.match(md, /\| F \| 5 \/ 40 \(20\/20\) \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \|/);
    // The JSON twin holds the same intervals and counts.
    assert.deepEqual(
      json.intervals.map((t: { model: string }) => t.model),
      ['AnyAD', BASE],
    );
    const row = json.intervals[1].rows.find((r: { subset: string }) => r.subset === 'F+T2');
    assert.deepEqual(row['pixel AP'], { value: baseline['F+T2'].pixel.ap, ci: baseline['F+T2'].ci!.pixel.ap });
    assert.deepEqual(row.counts, { cases: 5, slices: 40, normal: 20, anomalous: 20 });
    assert.deepEqual(json.counts, [
      { counts: { cases: 5, slices: 40, normal: 20, anomalous: 20 }, models: ['AnyAD', BASE], subsets: LABELS },
    ]);
    assert.deepEqual(json.bootstrap, { samples: 200, seed: 0 });
  });

  // Results without intervals or counts (older JSON): no interval table, no sample-size line;
  // a missing interval shows the value alone, a missing value n/a; differing counts are listed.
  const plain = Object.fromEntries(LABELS.map((l) => [l, { image: anyad[l].image, pixel: anyad[l].pixel }])) as Record<string, MetricSet>;
  const partial: Record<string, MetricSet> = {
    ...baseline,
    F: {
      ...baseline.F,
      image: { ...baseline.F.image, auroc: null },
      ci: { ...baseline.F.ci!, pixel: { auroc: null, ap: baseline.F.ci!.pixel.ap } },
    },
    T1: { ...baseline.T1, counts: { cases: 4, slices: 30, normal: 10, anomalous: 20 } },
  };
  withTempDir((dir) => {
    const md = readFileSync(
      writeReport(dir, {
        ...baseInput(),
        models: [
          { name: 'Old', perSubset: plain },
          { name: BASE, perSubset: partial },
        ],
      }).markdownPath,
      'utf8',
    );
    assert.doesNotMatch(md, /\*\*Old\*\*\n\n\| Subset/);
    assert.match(md, /over bootstrap resamples of the test/);
    const fRow = md.split('\n').find((l) => l.startsWith('| F | 5 / 40'))!;
    assert.equal(fRow.split(' | ')[2], 'n/a', fRow);
    assert.equal(fRow.split(' | ')[4], baseline.F.pixel.auroc!.toFixed(3), fRow);
    assert.ok(
      md.includes(
        '**Sample size:** the numbers rest on 5 cases, 40 slices (20 normal, 20 anomalous) (' +
          BASE +
          ': F, T2, F+T1, F+T2, T1+T2, F+T1+T2); 4 cases, 30 slices (10 normal, 20 anomalous) (' +
          BASE +
          ': T1).',
      ),
      md.split('\n').find((l) => l.startsWith('**Sample')),
    );
  });
});
