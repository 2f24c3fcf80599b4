/**
 * Hand-written SVG charts for reports: self-contained (no scripts, styles, fonts or links),
 * white background so they read in dark themes too, viewBox so they scale. They render in
 * VS Code's markdown preview (as <img>) and in any browser.
 */
import type { Curve } from './types';

/** Distinguishable colours (Tableau 10), one per series in order. */
export const SERIES_COLOURS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

const XML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c] ?? c);
}

/** A coordinate with at most 2 decimals (keeps files small; 0.01 px is invisible). */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function colour(i: number): string {
  return SERIES_COLOURS[i % SERIES_COLOURS.length];
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function open(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT} font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${n(width / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold" fill="#222222">${escapeXml(title)}</text>`,
  ];
}

interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Y axis 0..1 with ticks every 0.2, grid lines, and its label. */
function yAxis(f: Frame, label: string): string[] {
  const out: string[] = [];
  let grid = '';
  let ticks = '';
  for (let i = 0; i <= 5; i++) {
    const y = f.top + f.height - (i / 5) * f.height;
    grid += `M${n(f.left)} ${n(y)}H${n(f.left + f.width)}`;
    ticks += `M${n(f.left - 5)} ${n(y)}H${n(f.left)}`;
    out.push(`<text x="${n(f.left - 8)}" y="${n(y + 4)}" text-anchor="end" fill="#333333">${(i / 5).toFixed(1)}</text>`);
  }
  const cy = f.top + f.height / 2;
  return [
    `<path class="grid" d="${grid}" stroke="#e6e6e6" stroke-width="1" fill="none"/>`,
    `<path class="ticks" d="${ticks}" stroke="#333333" stroke-width="1" fill="none"/>`,
    ...out,
    `<text x="${n(f.left - 44)}" y="${n(cy)}" text-anchor="middle" transform="rotate(-90 ${n(f.left - 44)} ${n(cy)})" fill="#222222">${escapeXml(label)}</text>`,
  ];
}

function axes(f: Frame): string {
  return `<path class="axis" d="M${n(f.left)} ${n(f.top)}V${n(f.top + f.height)}H${n(f.left + f.width)}" stroke="#333333" stroke-width="1.2" fill="none"/>`;
}

function legend(x: number, y: number, entries: Array<{ label: string; colour: string; kind: 'line' | 'box' }>): string[] {
  const out = [`<g class="legend">`];
  entries.forEach((e, i) => {
    const yy = y + i * 20;
    out.push(
      e.kind === 'line'
        ? `<line x1="${n(x)}" y1="${n(yy)}" x2="${n(x + 22)}" y2="${n(yy)}" stroke="${e.colour}" stroke-width="2.5"/>`
        : `<rect x="${n(x + 4)}" y="${n(yy - 6)}" width="12" height="12" fill="${e.colour}"/>`,
    );
    out.push(`<text x="${n(x + 28)}" y="${n(yy + 4)}" fill="#222222">${escapeXml(e.label)}</text>`);
  });
  out.push('</g>');
  return out;
}

export interface LineSeries {
  label: string;
  curve: Curve;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Draw the chance diagonal (ROC). */
  diagonal?: boolean;
}

/** Curves on the unit square (ROC, PR): one polyline per series, legend on the right. */
export function lineChartSvg(o: LineChartOptions): string {
  const f: Frame = { left: 70, top: 44, width: 400, height: 400 };
  const width = 720;
  const height = 510;
  const px = (x: number) => f.left + Math.min(1, Math.max(0, x)) * f.width;
  const py = (y: number) => f.top + f.height - Math.min(1, Math.max(0, y)) * f.height;
  const out = open(width, height, o.title);
  out.push(...yAxis(f, o.yLabel));
  let xticks = '';
  for (let i = 0; i <= 5; i++) {
    const x = f.left + (i / 5) * f.width;
    xticks += `M${n(x)} ${n(f.top + f.height)}V${n(f.top + f.height + 5)}`;
    out.push(`<text x="${n(x)}" y="${n(f.top + f.height + 20)}" text-anchor="middle" fill="#333333">${(i / 5).toFixed(1)}</text>`);
  }
  out.push(`<path class="ticks" d="${xticks}" stroke="#333333" stroke-width="1" fill="none"/>`);
  out.push(
    `<path class="grid" d="${Array.from({ length: 6 }, (_, i) => `M${n(f.left + (i / 5) * f.width)} ${n(f.top)}V${n(f.top + f.height)}`).join('')}" stroke="#e6e6e6" stroke-width="1" fill="none"/>`,
  );
  out.push(
    `<text x="${n(f.left + f.width / 2)}" y="${n(f.top + f.height + 42)}" text-anchor="middle" fill="#222222">${escapeXml(o.xLabel)}</text>`,
  );
  if (o.diagonal)
    out.push(
      `<path class="chance" d="M${n(px(0))} ${n(py(0))}L${n(px(1))} ${n(py(1))}" stroke="#999999" stroke-width="1" stroke-dasharray="4 4" fill="none"/>`,
    );
  out.push(axes(f));
  o.series.forEach((s, i) => {
    const pts = s.curve.x.map((x, k) => `${n(px(x))},${n(py(s.curve.y[k]))}`).join(' ');
    out.push(`<polyline class="series" points="${pts}" fill="none" stroke="${colour(i)}" stroke-width="1.8" stroke-linejoin="round"/>`);
  });
  out.push(
    ...legend(
      f.left + f.width + 24,
      f.top + 10,
      o.series.map((s, i) => ({ label: s.label, colour: colour(i), kind: 'line' as const })),
    ),
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  /** One bar per series inside each group (legend entries). */
  seriesLabels: string[];
  /** values[k] belongs to seriesLabels[k]; null = n/a (no bar, a small "n/a"). */
  groups: Array<{ label: string; values: Array<number | null> }>;
}

/** Grouped bars on a 0..1 axis (metric values per modality subset). */
export function barChartSvg(o: BarChartOptions): string {
  const groupWidth = Math.max(60, 14 * o.seriesLabels.length + 20);
  const f: Frame = { left: 70, top: 44, width: groupWidth * o.groups.length, height: 320 };
  const legendWidth = 40 + 8 * Math.max(10, ...o.seriesLabels.map((l) => l.length));
  // Wide enough for the title even with a single group (e.g. a zero-shot T1ce column).
  const width = Math.max(f.left + f.width + 24 + legendWidth, 40 + 8.5 * o.title.length);
  const height = f.top + f.height + 70;
  const out = open(width, height, o.title);
  out.push(...yAxis(f, o.yLabel));
  const bar = (groupWidth - 20) / Math.max(1, o.seriesLabels.length);
  o.groups.forEach((g, gi) => {
    const gx = f.left + gi * groupWidth + 10;
    out.push(
      `<text x="${n(gx + (groupWidth - 20) / 2)}" y="${n(f.top + f.height + 20)}" text-anchor="middle" fill="#222222">${escapeXml(g.label)}</text>`,
    );
    g.values.forEach((v, si) => {
      const x = gx + si * bar;
      if (v === null || !Number.isFinite(v)) {
        out.push(`<text x="${n(x + bar / 2)}" y="${n(f.top + f.height - 4)}" text-anchor="middle" font-size="8" fill="#777777">n/a</text>`);
        return;
      }
      const h = Math.min(1, Math.max(0, v)) * f.height;
      out.push(
        `<rect class="bar" x="${n(x + 1)}" y="${n(f.top + f.height - h)}" width="${n(Math.max(1, bar - 2))}" height="${n(h)}" fill="${colour(si)}"><title>${escapeXml(`${g.label} ${o.seriesLabels[si]}: ${v.toFixed(4)}`)}</title></rect>`,
      );
    });
  });
  out.push(axes(f));
  out.push(
    ...legend(
      f.left + f.width + 24,
      f.top + 10,
      o.seriesLabels.map((l, i) => ({ label: l, colour: colour(i), kind: 'box' as const })),
    ),
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}
