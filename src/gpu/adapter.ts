/// <reference types="@webgpu/types" preserve="true" />
import { adapterNamed } from './limits.ts';
/** What the platform module (`#adapter`: Dawn in Node, navigator.gpu in browsers) must provide. */
export type Backend = 'vulkan' | 'opengles' | 'metal' | 'd3d12' | 'd3d11' | 'null';

export interface AdapterOptions {
  /** Node only: Dawn's backend. Default: the platform's best; `GRADLENS_BACKEND` on the CLI. */
  backend?: Backend;
  /** Node only: pick the adapter whose name contains this text (Dawn's `adapter=` toggle); `GRADLENS_ADAPTER`. */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** `compatibility` runs on OpenGL ES and older devices; it is implied by the `opengles` backend. */
  featureLevel?: 'core' | 'compatibility';
  /**
   * Loop iterations one kernel invocation may run; default the adapter's known budget (65,535 on Mesa's llvmpipe and
   * lavapipe, none elsewhere). Tests lower it to exercise the split paths on any adapter.
   */
  loopBudget?: number;
  /**
   * Measure kernel choices (convolution path, GEMM tile) on this device for each new shape class a plan meets, and
   * keep them in the autotune cache (src/gpu/tune.ts); default false: plans use cached choices where present and the
   * built-in heuristics elsewhere, and never measure. `gradlens tune` fills the cache ahead.
   */
  autotune?: boolean;
  /** Node: the autotune cache's folder (default `$XDG_CACHE_HOME/gradlens`, else `~/.cache/gradlens`); false: none. */
  tuneCache?: string | false;
  /**
   * Subgroup kernels (row reductions on subgroupShuffleXor: softmax, layernorm) where the device has the `subgroups`
   * feature and their probe passes (src/gpu/subgroups.ts). Default on; `false` never (the feature is then not even
   * requested). Measured 1.1–1.3× faster than the plain tree on SwiftShader (docs/performance.md).
   */
  subgroups?: boolean;
  /**
   * 'f16' keeps a copy of the weights of Conv, ConvTranspose, Gemm and MatMul-by-a-constant as f16, which the kernels
   * read instead (half the bytes read; the f32 weights stay too, so memory grows by half the weights), widening each
   * to f32, so products and sums stay f32; needs the adapter's `shader-f16` (an error otherwise). Default 'f32'. The
   * error against f32, measured, is in docs/performance.md.
   */
  precision?: 'f32' | 'f16';
}

export interface FoundAdapter {
  adapter: GPUAdapter;
  /** Which backend served it, as far as the platform can tell ('browser' where the browser chose). */
  backend: Backend | 'browser';
  /** Set when the runtime had to pick a software driver itself (no hardware adapter answered). */
  note?: string;
  /** What must stay referenced while the adapter lives (Dawn's instance: collecting it crashes the process). */
  keepAlive?: unknown;
}

const SOFTWARE_ADAPTERS = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|warp/i;

/** A CPU implementation rather than a GPU, by the adapter's own flag or its well-known names. */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  return Boolean(info.isFallbackAdapter) || adapterNamed(info, SOFTWARE_ADAPTERS);
}
