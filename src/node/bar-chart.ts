/** Signs of attribution, coloured as the diverging rdbu-r colormap ends: red for evidence for the target, blue against. */
const POSITIVE = '#b2182b';
const NEGATIVE = '#2166ac';
const xml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A tabular attribution as a standalone SVG (no scripts, nothing fetched): one labelled horizontal bar per feature, in
 * the input's column order, from a zero line, with its value; the scale is symmetric so bars of either sign compare.
 */
export function attributionBars(values: ArrayLike<number>, features: readonly string[] | undefined, title: string): string {
  const count = values.length;
  const label = (i: number) => features?.[i] ?? `feature ${i}`;
  const row = 18;
  const labelWidth = Math.min(240, 16 + 6.5 * Math.max(7, ...Array.from({ length: count }, (_, i) => label(i).length)));
  const [barWidth, valueWidth, top] = [360, 80, 34];
  const width = labelWidth + barWidth + valueWidth;
  const height = top + count * row + 22;
  const magnitude = Math.max(...Array.from(values, (v) => (Number.isFinite(v) ? Math.abs(v) : 0)), 1e-30);
  const zero = labelWidth + barWidth / 2;
  const f = (v: number) => v.toFixed(1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      'font-family="sans-serif" font-size="11">',
    `<title>${xml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${xml(title)}</text>`,
  ];
  for (let i = 0; i < count; i++) {
    const value = values[i]!;
    const y = top + i * row;
    const length = Number.isFinite(value) ? (Math.abs(value) / magnitude) * (barWidth / 2 - 4) : 0;
    const x = value < 0 ? zero - length : zero;
    parts.push(
      `<text x="${labelWidth - 8}" y="${f(y + 12.5)}" text-anchor="end">${xml(label(i))}</text>`,
      `<rect x="${f(x)}" y="${y + 3}" width="${f(length)}" height="${row - 6}" fill="${value < 0 ? NEGATIVE : POSITIVE}">` +
        `<title>${xml(`${label(i)}: ${value}`)}</title></rect>`,
      `<text x="${labelWidth + barWidth + 6}" y="${f(y + 12.5)}">${Number.isFinite(value) ? value.toPrecision(3) : String(value)}</text>`,
    );
  }
  const bottom = top + count * row;
  parts.push(
    `<line x1="${zero}" y1="${top}" x2="${zero}" y2="${bottom}" stroke="#333"/>`,
    `<text x="${labelWidth + 4}" y="${bottom + 16}" fill="${NEGATIVE}">← against the target</text>`,
    `<text x="${labelWidth + barWidth - 4}" y="${bottom + 16}" text-anchor="end" fill="${POSITIVE}">for the target →</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
