import type { GpuContext } from '../gpu/device.ts';
import { renderHeatmap, type HeatmapOptions } from '../render/heatmap.ts';
import { encodePng } from './image.ts';

/** An attribution rendered as a heat map (renderHeatmap's options and shapes) and encoded as PNG bytes. */
export async function heatmapPng(
  context: GpuContext,
  attribution: Float32Array | GPUBuffer,
  shape: readonly number[],
  options: HeatmapOptions = {},
): Promise<Uint8Array> {
  const { rgba, width, height } = await renderHeatmap(context, attribution, shape, options);
  return encodePng(rgba, width, height);
}
