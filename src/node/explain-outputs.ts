import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { GpuContext } from '../gpu/device.ts';
import type { RgbaImage } from '../io/preprocess.ts';
import { writeNpy } from '../io/npy.ts';
import { renderHeatmap, type HeatmapOptions } from '../render/heatmap.ts';
import type { Format } from './explain-options.ts';
import { encodePng } from './image.ts';
import { writeAtomic, type ResultRecord } from './results.ts';

/** Characters of the readable part of a name: enough to recognise the input, short of any file system's 255-byte limit. */
const READABLE_LENGTH = 80;

/**
 * A file name (without extension) from an input id, one per id by construction: a readable stem beside a hash of the
 * whole id, so `a b.png`, `a_b.png` and `a+b.png` never share files (`samples/digits/3.png` → `samples_digits_3-1f0c…`).
 */
export function outputStem(id: string): string {
  const [path = '', row] = id.split('#');
  const readable = `${path.replace(/^(\.\.?\/)+|^\/+/g, '').replace(/\.[A-Za-z0-9]{1,5}$/, '')}${row ? `_row${row}` : ''}`
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(-READABLE_LENGTH);
  return `${readable}-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

export interface OutputJob {
  outDir: string;
  id: string;
  attribution: Float32Array;
  /** The model's input shape (no batch axis). */
  shape: readonly number[];
  image?: RgbaImage;
  formats: Set<Format>;
  heatmap: HeatmapOptions;
  layout: 'chw' | 'hwc';
}

/** Writes one input's files (each atomically) and returns their names relative to the output folder. */
export async function writeOutputs(context: GpuContext, job: OutputJob, record: () => ResultRecord): Promise<Record<string, string>> {
  const stem = outputStem(job.id);
  const files: Record<string, string> = {};
  if (job.formats.has('npy')) {
    files.npy = `${stem}.npy`;
    await writeAtomic(join(job.outDir, files.npy), writeNpy(job.attribution, [1, ...job.shape]));
  }
  if (job.formats.has('png')) {
    files.png = `${stem}.png`;
    await writeAtomic(join(job.outDir, files.png), await overlayPng(context, job));
  }
  if (job.formats.has('json')) {
    files.json = `${stem}.json`;
    await writeAtomic(join(job.outDir, files.json), `${JSON.stringify({ ...record(), files }, null, 2)}\n`);
  }
  return files;
}

/** The heat map over the input image; a 1-D input (tabular) becomes a strip of cells large enough to see. */
async function overlayPng(context: GpuContext, job: OutputJob): Promise<Uint8Array> {
  const flat = job.shape.length === 1 || job.shape.every((d, i) => i === job.shape.length - 1 || d === 1);
  const shape = flat ? [job.attribution.length] : job.shape;
  const options: HeatmapOptions = { ...job.heatmap, layout: job.layout };
  if (job.image) options.overlay = job.image;
  const map = await renderHeatmap(context, job.attribution, shape, options);
  if (!flat) return encodePng(map.rgba, map.width, map.height);
  const cell = 16;
  const strip = enlarge(map.rgba, map.width, map.height, cell);
  return encodePng(strip, map.width * cell, map.height * cell);
}

function enlarge(rgba: Uint8ClampedArray, width: number, height: number, factor: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * factor * height * factor * 4);
  for (let y = 0; y < height * factor; y++) {
    for (let x = 0; x < width * factor; x++) {
      const from = (Math.floor(y / factor) * width + Math.floor(x / factor)) * 4;
      out.set(rgba.subarray(from, from + 4), (y * width * factor + x) * 4);
    }
  }
  return out;
}
