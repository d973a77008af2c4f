// bench.html: one self-contained page (inline CSS and SVG bar charts, no scripts or external assets) of a bench run.
import type { AttributionSuite } from './attribution.ts';
import { fmt } from './compare.ts';
import type { BenchResult } from './result.ts';
import { adapterLine, formatBench } from './table.ts';

interface Bar {
  label: string;
  value: number;
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Horizontal bars on one linear scale from 0, the value written at each bar's end. */
export function barChart(bars: Bar[], unit: string): string {
  const row = 22;
  const labelWidth = 460;
  const barWidth = 360;
  const max = Math.max(...bars.map((bar) => bar.value), Number.MIN_VALUE);
  const height = bars.length * row + 8;
  const items = bars.map((bar, i) => {
    const y = 4 + i * row;
    const width = Math.max(1, (bar.value / max) * barWidth);
    return (
      `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escape(bar.label)}</text>` +
      `<rect x="${labelWidth}" y="${y + 3}" width="${width.toFixed(1)}" height="${row - 6}" fill="#3b6ea5"/>` +
      `<text x="${(labelWidth + width + 4).toFixed(1)}" y="${y + 15}">${escape(`${fmt(bar.value)} ${unit}`)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + barWidth + 160}" height="${height}" font-size="12" font-family="sans-serif">${items.join('')}</svg>`;
}

function attributionBars(suite: AttributionSuite): Bar[] {
  return suite.rows.flatMap((row) =>
    Object.entries(row.perSecond).map(([engine, value]) => ({ label: `${row.model} ${row.method} — ${engine}`, value })),
  );
}

export function benchHtml(result: BenchResult): string {
  const sections: string[] = [];
  const cold = result.coldStart;
  sections.push(
    `<h2 id="cold-start">Cold start</h2>`,
    barChart(
      [
        { label: 'adapter', value: cold.adapterMs },
        { label: 'model load', value: cold.loadMs },
        { label: `pipeline compile (${cold.modules} modules, ${cold.pipelines} pipelines)`, value: cold.compileMs },
        { label: 'run', value: cold.runMs },
        { label: 'warm call, for scale', value: cold.warmMs },
      ],
      'ms',
    ),
  );
  if (result.kernels) {
    const compute = result.kernels.filter((row) => row.gflops !== undefined);
    const memory = result.kernels.filter((row) => row.gbps !== undefined);
    sections.push(
      `<h2 id="kernels">Kernels</h2>`,
      barChart(
        compute.map((row) => ({ label: row.name, value: row.gflops! })),
        'GFLOP/s',
      ),
    );
    sections.push(
      barChart(
        memory.map((row) => ({ label: row.name, value: row.gbps! })),
        'GB/s',
      ),
    );
  }
  if (result.networks)
    sections.push(
      `<h2 id="networks">Networks</h2>`,
      barChart(
        result.networks.map((row) => ({ label: row.name, value: row.imagesPerSecond })),
        'images/s',
      ),
    );
  if (result.attribution) sections.push(`<h2 id="attribution">Attribution methods</h2>`, barChart(attributionBars(result.attribution), '/s'));
  if (result.peers) sections.push(`<h2 id="peers">Peers</h2>`, barChart(attributionBars(result.peers), '/s'));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gradlens bench</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}pre{background:#f4f4f4;padding:1em;overflow-x:auto;font-size:12px}</style></head>
<body><h1>gradlens bench</h1>
<p id="adapter">${escape(adapterLine(result))}, ${escape(result.date)}, scale ${result.scale}${result.reduced ? ` — reduced sizes: ${escape(result.reduced)}` : ''}</p>
${sections.join('\n')}
<h2 id="table">All figures</h2><pre>${escape(formatBench(result))}</pre>
</body></html>
`;
}
