export { colormap, COLORMAPS, legendStops, type ColormapName, type LegendStop } from './colormaps.ts';
export { renderHeatmap, type Heatmap, type HeatmapOptions } from './heatmap.ts';
export type { Reduction, Sign } from './kernels.ts';
