import { allocate, readback, upload } from '../gpu/buffers.ts';
import { CommandBatch, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import type { RgbaImage } from '../io/preprocess.ts';
import { resizeForward } from '../kernels/resize.ts';
import { colormapTable, COLORMAPS, type ColormapName } from './colormaps.ts';
import {
  colorizeDispatch,
  percentileDispatches,
  reduceDispatch,
  REDUCTIONS,
  SELECTION_BYTES,
  selectionState,
  SIGNS,
  type Reduction,
  type RenderParams,
  type Sign,
} from './kernels.ts';

/**
 * How an attribution becomes a picture. Order: channels reduced, sign applied, range found, colormap, overlay.
 */
export interface HeatmapOptions {
  /**
   * Applied to the reduced value v: 'abs' |v| (default; Captum's visualize_image_attr), 'positive' max(v, 0),
   * 'negative' max(−v, 0) (how much each pixel speaks against the target, as Captum's 'negative'), or 'signed' v,
   * kept for a diverging colormap.
   */
  sign?: Sign;
  /**
   * Channels to one value per pixel, before the sign: 'sum' Σa (default; Captum), 'max-abs' the a with the largest |a|
   * (with 'abs', Simonyan et al.'s max over channels of |g|), 'l1' Σ|a| (PAIR's grayscale maps), 'l2' √Σa²;
   * 'none' only checks that there is one channel.
   */
  reduction?: Reduction | 'none';
  /** Where the channels are: 'chw' (default; ONNX, PyTorch) or 'hwc'. */
  layout?: 'chw' | 'hwc';
  /**
   * The percentile of |map| (numpy's linear interpolation, found exactly on the GPU) that the colormap's end
   * stands for; larger values are clipped. Default 99, PAIR saliency's visualisations; 100 is the maximum.
   */
  percentile?: number;
  /**
   * false keeps raw values (captum#1103): they are mapped through `range` instead of being scaled by the percentile.
   * Default true, or false when `range` is given.
   */
  normalize?: boolean;
  /** The values at the colormap's two ends when not normalising; default [0, 1], or [−1, 1] when signed. */
  range?: readonly [number, number];
  /** Default 'viridis' (colour-blind safe), or 'rdbu-r' when signed. */
  colormap?: ColormapName;
  /**
   * An image to draw the heat map over (RGBA8, as loadImage's `image`). Of another size than the map, the map
   * (after the sign) is resized to it bilinearly with half-pixel centres (torch interpolate, align_corners=False),
   * which undoes a plain preprocess resize; the range is still found on the map at its own size.
   */
  overlay?: RgbaImage;
  /** The heat map's alpha over `overlay`; default 0.5 (Captum's alpha_overlay). */
  opacity?: number;
}

export interface Heatmap {
  /** RGBA8, row-major: ImageData's layout. */
  rgba: Uint8ClampedArray;
  width: number;
  height: number;
  /** The values at the colormap's two ends: [0, s] or [−s, s] with s the percentile, or the fixed range. */
  range: [number, number];
}

/**
 * Renders an attribution of shape [H, W], [C, H, W] (or [H, W, C] with layout 'hwc'; a leading batch of 1 is
 * allowed; [W] is one row) as RGBA8 pixels: every stage runs on the GPU and one buffer is read back.
 * A GPUBuffer attribution (usage STORAGE) is read in place from its start.
 */
export async function renderHeatmap(
  context: GpuContext,
  attribution: Float32Array | GPUBuffer,
  shape: readonly number[],
  options: HeatmapOptions = {},
): Promise<Heatmap> {
  const plan = resolve(attribution, shape, options);
  const { device } = context;
  const owned: GPUBuffer[] = [];
  const uniforms: GPUBuffer[] = [];
  try {
    const input = attribution instanceof Float32Array ? await upload(device, 'render attribution', attribution) : attribution;
    if (input !== attribution) owned.push(input);
    const { bytes: state, fraction } = selectionState(plan.pixels, plan.scale);
    const params: RenderParams = { ...plan.params, fraction };
    const overlay = options.overlay;
    const resized = overlay !== undefined && (overlay.width !== plan.width || overlay.height !== plan.height);
    const [reduced, histogram, selection, lut, pixels, map] = await allocate(device, [
      { label: 'render reduced', size: 4 * plan.pixels },
      { label: 'render histogram', size: 4 * 512 },
      { label: 'render selection', size: SELECTION_BYTES },
      { label: 'render lut', size: 4 * 256 },
      { label: 'render pixels', size: 4 * plan.outSize + SELECTION_BYTES },
      { label: 'render resized', size: resized ? 4 * plan.outSize : 4 },
    ]);
    owned.push(reduced!, histogram!, selection!, lut!, pixels!, map!);
    device.queue.writeBuffer(selection!, 0, state);
    const table = colormapTable(plan.colormap);
    device.queue.writeBuffer(lut!, 0, table.buffer, table.byteOffset, table.byteLength);
    if (overlay) device.queue.writeBuffer(pixels!, 0, overlay.data.buffer, overlay.data.byteOffset, overlay.data.byteLength);

    const dispatches: Dispatch[] = [await reduceDispatch(context, { attribution: input, reduced: reduced!, selection: selection! }, params)];
    if (plan.scale.kind === 'percentile')
      dispatches.push(...(await percentileDispatches(context, { reduced: reduced!, histogram: histogram!, selection: selection! }, params)));
    if (resized) {
      const dims = {
        batch: 1,
        channels: 1,
        inHeight: plan.height,
        inWidth: plan.width,
        outHeight: overlay.height,
        outWidth: overlay.width,
        mode: 'linear' as const,
      };
      dispatches.push(await resizeForward(context, { x: reduced!, y: map! }, dims));
    }
    dispatches.push(
      await colorizeDispatch(context, { reduced: resized ? map! : reduced!, selection: selection!, lut: lut!, pixels: pixels! }, params),
    );
    uniforms.push(...dispatches.flatMap((d) => d.bound.uniforms));

    const batch = new CommandBatch(device, 'render heatmap').add(...dispatches);
    batch.copy(selection!, pixels!, SELECTION_BYTES, 0, 4 * plan.outSize);
    await batch.submit();
    const bytes = await readback(device, pixels!);
    const tail = bytes.slice(4 * plan.outSize);
    const nonFinite = new Uint32Array(tail)[5]!;
    if (nonFinite > 0)
      throw new GradlensError(
        'NAN_INPUT',
        `renderHeatmap: the attribution has ${nonFinite} NaN or infinite value(s); check the method's inputs and options`,
      );
    const [lo, hi] = new Float32Array(tail, 24, 2);
    const [width, height] = overlay ? [overlay.width, overlay.height] : [plan.width, plan.height];
    return { rgba: new Uint8ClampedArray(bytes, 0, 4 * plan.outSize), width, height, range: [lo!, hi!] };
  } finally {
    for (const buffer of [...owned, ...uniforms]) buffer.destroy();
  }
}

interface Plan {
  pixels: number;
  height: number;
  width: number;
  outSize: number;
  colormap: ColormapName;
  scale: { kind: 'percentile'; percentile: number } | { kind: 'range'; range: readonly [number, number] };
  params: Omit<RenderParams, 'fraction'>;
}

function resolve(attribution: Float32Array | GPUBuffer, shape: readonly number[], options: HeatmapOptions): Plan {
  const bad = (message: string) => new GradlensError('BAD_PARAMS', `renderHeatmap: ${message}`);
  const layout = options.layout ?? 'chw';
  if (layout !== 'chw' && layout !== 'hwc') throw bad(`layout must be 'chw' or 'hwc', got ${String(layout)}`);
  if (shape.length === 0 || !shape.every((n) => Number.isInteger(n) && n >= 1))
    throw bad(`shape must be positive integers, got [${shape.join(', ')}]`);
  const [channels, height, width] = imageAxes(shape, layout, bad);
  const pixels = height * width;
  const count = channels * pixels;
  if (attribution instanceof Float32Array) {
    if (attribution.length !== count) throw bad(`shape [${shape.join(', ')}] has ${count} elements but the attribution has ${attribution.length}`);
  } else if (attribution.size < 4 * count || (attribution.usage & 0x80) === 0) {
    throw bad(`the attribution buffer needs usage STORAGE and ${4 * count} bytes (has ${attribution.size})`);
  }

  const sign = options.sign ?? 'abs';
  if (!SIGNS.includes(sign)) throw bad(`sign must be one of ${SIGNS.join(', ')}, got ${String(sign)}`);
  const reductionOption = options.reduction ?? 'sum';
  if (reductionOption === 'none' && channels !== 1) throw bad(`reduction 'none' needs one channel, the attribution has ${channels}`);
  const reduction = reductionOption === 'none' ? 'sum' : reductionOption;
  if (!REDUCTIONS.includes(reduction)) throw bad(`reduction must be one of none, ${REDUCTIONS.join(', ')}, got ${String(reduction)}`);
  const colormap = options.colormap ?? (sign === 'signed' ? 'rdbu-r' : 'viridis');
  if (!COLORMAPS.includes(colormap)) throw bad(`unknown colormap "${String(colormap)}" (known: ${COLORMAPS.join(', ')})`);

  if (options.normalize === true && options.range) throw bad('a fixed range replaces normalisation: give normalize: false or leave it out');
  const normalize = options.normalize ?? !options.range;
  let scale: Plan['scale'];
  if (normalize) {
    const percentile = options.percentile ?? 99;
    if (!(percentile >= 0 && percentile <= 100)) throw bad(`percentile must lie in [0, 100], got ${percentile}`);
    scale = { kind: 'percentile', percentile };
  } else {
    const range = options.range ?? (sign === 'signed' ? [-1, 1] : [0, 1]);
    if (range.length !== 2 || !range.every(Number.isFinite) || !(range[0] < range[1]))
      throw bad(`range must be two finite numbers, low < high; got [${range.join(', ')}]`);
    scale = { kind: 'range', range };
  }

  const opacity = options.opacity ?? 0.5;
  if (!(opacity >= 0 && opacity <= 1)) throw bad(`opacity must lie in [0, 1], got ${opacity}`);
  const overlay = options.overlay;
  if (overlay) {
    const ok = Number.isInteger(overlay.width) && Number.isInteger(overlay.height) && overlay.width >= 1 && overlay.height >= 1;
    if (!ok || overlay.data.length !== 4 * overlay.width * overlay.height)
      throw bad(`overlay must be RGBA8 of width × height × 4 bytes (${overlay.width}×${overlay.height}, ${overlay.data.length} bytes)`);
  }
  const outSize = overlay ? overlay.width * overlay.height : pixels;
  return {
    pixels,
    height,
    width,
    outSize,
    colormap,
    scale,
    params: { pixels, channels, layout, reduction, sign, signedRange: sign === 'signed', outPixels: outSize, overlay: Boolean(overlay), opacity },
  };
}

/** [channels, height, width] from an image shape; leading axes of 1 are dropped. */
function imageAxes(shape: readonly number[], layout: 'chw' | 'hwc', bad: (message: string) => GradlensError): [number, number, number] {
  const axes = [...shape];
  while (axes.length > 3 && axes[0] === 1) axes.shift();
  if (axes.length === 1) return [1, 1, axes[0]!];
  if (axes.length === 2) return [1, axes[0]!, axes[1]!];
  if (axes.length === 3) return layout === 'chw' ? [axes[0]!, axes[1]!, axes[2]!] : [axes[2]!, axes[0]!, axes[1]!];
  throw bad(`shape must be [W], [H, W], [C, H, W] or [H, W, C] (after a leading batch of 1), got [${shape.join(', ')}]`);
}
