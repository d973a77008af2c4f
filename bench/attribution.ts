// Attributions per second, gradlens against its peers (bench/peers.ts: TF.js on the same adapter and on wasm) computing
// the same method on the same weights and inputs. Each figure is a steady-state median after a warm-up call; equal
// work: the same batch, steps, samples and points per chunk. Run by `gradlens bench --suite attribution,peers`.
import { readFileSync } from 'node:fs';
import { explain, type ExplainOptions } from '../src/attribution/explain.ts';
import type { MethodId } from '../src/attribution/types.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { sizeOf, type Graph } from '../src/graph/ir.ts';
import { Model } from '../src/graph/model.ts';
import { smallCnn } from '../src/graph/models.ts';
import { rng, uniform } from '../src/graph/random.ts';
import { loadOnnx } from '../src/onnx/load.ts';
import { median } from './measure.ts';
import type { PeerModel, PeerPlan } from './peers.ts';

export interface AttributionCase {
  model: string;
  graph: Graph;
  batch: number;
}

export interface MethodRun {
  id: MethodId;
  /** The method with its work, as the tables show it: IG-64, SmoothGrad-32, Grad-CAM. */
  label: string;
  options: Partial<ExplainOptions>;
}

export interface AttributionRow {
  model: string;
  method: string;
  batch: number;
  points: number;
  chunkSize: number;
  /** Attributions per second, by engine. */
  perSecond: Record<string, number>;
  /** Median ms per call (one call explains the whole batch), by engine. */
  ms: Record<string, number>;
  /** Timed calls the median is of, by engine (after one warm-up call). */
  calls: Record<string, number>;
  /** Σ of all attribution values, by engine: for IG, Σ f(x) − f(baseline) over the batch, the same in every runtime. */
  sum: Record<string, number>;
  /** max |peer − gradlens| / max |gradlens|, by peer, for the methods without noise. */
  difference: Record<string, number>;
}

export interface AttributionSuite {
  /** Each peer that ran, and where. */
  peers: Record<string, string>;
  notes: string[];
  rows: AttributionRow[];
}

export interface AttributionOptions {
  cases: AttributionCase[];
  methods: MethodRun[];
  /** TF.js backends to run beside gradlens: 'webgpu', 'wasm'. */
  peers: readonly string[];
  repeats: number;
  /** Time one method may take, all engines together; a slow engine runs fewer timed calls (at least one). */
  budgetMs: number;
  log?: (line: string) => void;
}

/** The demo's digit CNN (models/digits.onnx), or the same-shaped smallCnn where the file is missing. */
export function digitsCase(batch: number, notes: string[]): AttributionCase {
  try {
    return { model: 'digits.onnx', graph: loadOnnx(new Uint8Array(readFileSync('models/digits.onnx'))), batch };
  } catch (error) {
    notes.push(`models/digits.onnx not loaded (${String(error)}); smallCnn({ inputSize: 28 }) instead`);
    return { model: 'smallCnn 28×28', graph: smallCnn({ inputSize: 28 }), batch };
  }
}

/** A timed call of one engine; `prepare` (switching TF.js's backend) stays outside the timing. */
interface Engine {
  name: string;
  prepare?: () => Promise<unknown>;
  run: () => Promise<Float32Array>;
}

/**
 * Warm-up calls, then rounds in which every engine runs once in turn, so a machine whose load changes (shared cores)
 * weighs on all engines alike. An engine whose calls would overrun its share of the budget takes part in fewer rounds
 * (at least one); the others still get `repeats`.
 */
async function measureTogether(engines: Engine[], repeats: number, budgetMs: number) {
  const outputs = new Map<string, Float32Array>();
  const rounds = new Map<string, number>();
  for (const engine of engines) {
    await engine.prepare?.();
    const start = performance.now();
    outputs.set(engine.name, await engine.run());
    const warmUp = performance.now() - start;
    rounds.set(engine.name, Math.max(1, Math.min(repeats, Math.floor(budgetMs / engines.length / warmUp))));
  }
  const times = new Map<string, number[]>(engines.map((engine) => [engine.name, []]));
  for (let round = 0; round < repeats; round++) {
    for (const engine of engines.filter((e) => round < rounds.get(e.name)!)) {
      await engine.prepare?.();
      const start = performance.now();
      outputs.set(engine.name, await engine.run());
      times.get(engine.name)!.push(performance.now() - start);
    }
  }
  const ms = new Map([...times].map(([name, list]) => [name, median(list)]));
  return { ms, calls: rounds, outputs };
}

export function relativeDifference(peer: ArrayLike<number>, reference: ArrayLike<number>): number {
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    difference = Math.max(difference, Math.abs(peer[i]! - reference[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  return difference / (scale || 1);
}

const total = (values: Float32Array) => values.reduce((sum, v) => sum + v, 0);

export async function attributionSuite(gpu: GpuContext, options: AttributionOptions): Promise<AttributionSuite> {
  const notes: string[] = [];
  const log = options.log ?? (() => undefined);
  // TF.js only when a peer is asked for: the import fails where it is not installed, and that is a note, not an error.
  const peers = options.peers.length
    ? await import('./peers.ts').then(
        ({ openPeers }) => openPeers(gpu, options.peers, notes),
        (error: unknown) => (notes.push(`TF.js peers not installed (${String(error)})`), []),
      )
    : [];
  const rows: AttributionRow[] = [];
  for (const { model: name, graph, batch } of options.cases) {
    const inputs = uniform(rng(11), batch * sizeOf(graph.inputShape), 1).map((v) => 0.5 + 0.5 * v);
    const model = await Model.create(gpu, graph);
    const peerModels = new Map<string, PeerModel>();
    for (const peer of peers) peerModels.set(peer.name, await peer.load(graph));
    try {
      for (const method of options.methods) {
        const explainOptions = { method: method.id, seed: 5, ...method.options } as ExplainOptions;
        // gradlens's first call compiles its kernels and plans; its choices (chunk size, layer) set the peers' plan.
        let last = await explain(model, inputs, batch, explainOptions);
        const used = last.options as { layer?: string; relu?: boolean };
        const plan: PeerPlan = {
          chunkSize: last.timing.chunkSize,
          ...(used.layer ? { layer: used.layer } : {}),
          ...(used.relu !== undefined ? { relu: used.relu } : {}),
        };
        const engines: Engine[] = [
          { name: 'gradlens', run: async () => (last = await explain(model, inputs, batch, explainOptions)).attribution },
          ...peers.map((peer) => ({
            name: peer.name,
            prepare: peer.activate,
            run: () => peerModels.get(peer.name)!.attribute(inputs, batch, method, plan),
          })),
        ];
        const { ms, calls, outputs } = await measureTogether(engines, options.repeats, options.budgetMs);
        const row: AttributionRow = {
          model: name,
          method: method.label,
          batch,
          points: last.timing.points,
          chunkSize: plan.chunkSize,
          perSecond: {},
          ms: {},
          calls: {},
          sum: {},
          difference: {},
        };
        for (const [engine, time] of ms) {
          row.ms[engine] = time;
          row.calls[engine] = calls.get(engine)!;
          row.perSecond[engine] = (1000 * batch) / time;
          row.sum[engine] = total(outputs.get(engine)!);
          log(`· ${name}, ${engine}, ${method.label}: ${time.toFixed(0)} ms per call (median of ${row.calls[engine]})`);
          if (engine !== 'gradlens' && method.id !== 'smoothgrad')
            row.difference[engine] = relativeDifference(outputs.get(engine)!, outputs.get('gradlens')!);
        }
        rows.push(row);
      }
    } finally {
      model.destroy();
      for (const peerModel of peerModels.values()) peerModel.dispose();
    }
  }
  if (rows.some((row) => (row.difference['tfjs-wasm'] ?? 0) > 1e-3)) {
    notes.push(
      'tfjs-wasm differs by > 1e-3 in some rows. A cause seen in tfjs-backend-wasm 4.22: its MaxPoolGrad sends the gradient of a window whose maximum is ≤ 0 to the wrong element or nowhere, so all-zero windows after a ReLU lose their share of ∂f/∂A',
    );
  }
  return { peers: Object.fromEntries(peers.map((peer) => [peer.name, peer.adapter])), notes, rows };
}
