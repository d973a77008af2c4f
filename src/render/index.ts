export { colormap, COLORMAPS, legendStops, type ColormapName, type LegendStop } from './colormaps.ts';
export { renderHeatmap, type Heatmap, type HeatmapOptions } from './heatmap.ts';
export { SIGNS, type Reduction, type Sign } from './kernels.ts';
