import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { GpuContext } from '../gpu/device.ts';
import type { RgbaImage } from '../io/preprocess.ts';
import { fitWithin } from '../io/downscale.ts';
import { writeNpy } from '../io/npy.ts';
import { renderHeatmap, type HeatmapOptions } from '../render/heatmap.ts';
import type { Format } from './explain-options.ts';
import { attributionBars } from './bar-chart.ts';
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

/** Longest side of the copy of an input image kept beside its results, for a report that reads nothing outside its folder. */
export const THUMBNAIL_SIDE = 256;

export interface OutputJob {
  outDir: string;
  id: string;
  attribution: Float32Array;
  /** The model's input shape (no batch axis). */
  shape: readonly number[];
  /** The input's pixels (already shrunk for display): the overlay's background and the report's thumbnail. */
  image?: RgbaImage;
  /** A tabular input's column names, for its chart. */
  features?: readonly string[];
  /** What the picture shows, e.g. `saliency for class 3`. */
  title: string;
  formats: Set<Format>;
  heatmap: HeatmapOptions;
  layout: 'chw' | 'hwc';
}

/**
 * Writes one input's files (each atomically) and returns their names relative to the output folder. The picture
 * (`--format png`) is a heat map over the image, or for a 1-D (tabular) input a labelled bar chart (`.svg`).
 */
export async function writeOutputs(context: GpuContext, job: OutputJob, record: () => ResultRecord): Promise<Record<string, string>> {
  const stem = outputStem(job.id);
  const files: Record<string, string> = {};
  const write = async (key: string, name: string, data: Uint8Array | string) => {
    await writeAtomic(join(job.outDir, name), data);
    files[key] = name;
  };
  if (job.formats.has('npy')) await write('npy', `${stem}.npy`, writeNpy(job.attribution, [1, ...job.shape]));
  if (job.formats.has('png')) {
    const flat = job.shape.length === 1 || job.shape.every((d, i) => i === job.shape.length - 1 || d === 1);
    if (flat) await write('svg', `${stem}.svg`, attributionBars(job.attribution, job.features, job.title));
    else await write('png', `${stem}.png`, await overlayPng(context, job));
    if (job.image) {
      const thumbnail = fitWithin(job.image, THUMBNAIL_SIDE);
      await write('input', `${stem}-input.png`, encodePng(thumbnail.data, thumbnail.width, thumbnail.height));
    }
  }
  if (job.formats.has('json')) await write('json', `${stem}.json`, `${JSON.stringify({ ...record(), files }, null, 2)}\n`);
  return files;
}

/** The heat map over the input image, at the image's (display) size. */
async function overlayPng(context: GpuContext, job: OutputJob): Promise<Uint8Array> {
  const options: HeatmapOptions = { ...job.heatmap, layout: job.layout };
  if (job.image) options.overlay = job.image;
  const map = await renderHeatmap(context, job.attribution, job.shape, options);
  return encodePng(map.rgba, map.width, map.height);
}
