/** One line of a chart: its label and points (x, y). */
export interface Series {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/**
 * A line chart as a standalone SVG string (no scripts, no external resources): deletion and insertion curves, or
 * similarity by randomised layer with `categories` naming the x positions.
 */
export function lineChart(
  series: readonly Series[],
  options: { title: string; xLabel: string; yLabel: string; categories?: readonly string[]; width?: number; height?: number },
): string {
  const [width, height] = [options.width ?? 520, options.height ?? 320];
  const margin = { left: 56, right: 150, top: 30, bottom: options.categories ? 70 : 44 };
  const xs = series.flatMap((s) => Array.from(s.x));
  const ys = series.flatMap((s) => Array.from(s.y)).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(0, ...ys), Math.max(...ys, 1e-9)];
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.05;
  const px = (x: number) => margin.left + ((x - x0) / (x1 - x0 || 1)) * (width - margin.left - margin.right);
  const py = (y: number) => height - margin.bottom - ((y - y0) / (y1 - y0)) * (height - margin.top - margin.bottom);
  const f = (v: number) => v.toFixed(1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escape(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2 - margin.right / 2}" y="18" text-anchor="middle" font-size="13">${escape(options.title)}</text>`,
    `<line x1="${margin.left}" y1="${py(y0)}" x2="${width - margin.right}" y2="${py(y0)}" stroke="#333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="#333"/>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const y = y0 + ((y1 - y0) * k) / 4;
    parts.push(`<text x="${margin.left - 4}" y="${f(py(y) + 4)}" text-anchor="end">${y.toPrecision(3)}</text>`);
    if (y0 < 0 && k === 0)
      parts.push(`<line x1="${margin.left}" y1="${f(py(0))}" x2="${width - margin.right}" y2="${f(py(0))}" stroke="#bbb" stroke-dasharray="3 3"/>`);
  }
  if (options.categories) {
    options.categories.forEach((name, k) =>
      parts.push(`<text transform="translate(${f(px(k))},${height - margin.bottom + 12}) rotate(30)" font-size="10">${escape(name)}</text>`),
    );
  } else {
    for (let k = 0; k <= 4; k++)
      parts.push(
        `<text x="${f(px(x0 + ((x1 - x0) * k) / 4))}" y="${height - margin.bottom + 14}" text-anchor="middle">${(x0 + ((x1 - x0) * k) / 4).toPrecision(2)}</text>`,
      );
  }
  parts.push(`<text x="${(margin.left + width - margin.right) / 2}" y="${height - 6}" text-anchor="middle">${escape(options.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(14,${(margin.top + height - margin.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)}</text>`,
  );
  series.forEach((s, k) => {
    const colour = COLOURS[k % COLOURS.length]!;
    const points = Array.from({ length: s.x.length }, (_, i) => `${f(px(s.x[i]!))},${f(py(Number.isFinite(s.y[i]!) ? s.y[i]! : y0))}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.8" points="${points}"><title>${escape(s.label)}</title></polyline>`);
    parts.push(`<rect x="${width - margin.right + 10}" y="${margin.top + k * 16}" width="10" height="10" fill="${colour}"/>`);
    parts.push(`<text x="${width - margin.right + 24}" y="${margin.top + k * 16 + 9}">${escape(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
