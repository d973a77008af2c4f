import { describe, expect, it } from 'vitest';
import { integrate, type PointSpec } from '../../src/attribution/engine.ts';
import { explain } from '../../src/attribution/explain.ts';
import { hasOption } from '../../src/attribution/describe.ts';
import { METHOD_IDS, METHODS } from '../../src/attribution/registry.ts';
import type { ExplainOptions, MethodId } from '../../src/attribution/types.ts';
import { balanced, SOFTWARE_WORKING_SET } from '../../src/attribution/runner.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { Model } from '../../src/graph/model.ts';
import { trackAllocations } from '../../src/gpu/buffers.ts';
import { resnet18, smallCnn } from '../../src/graph/models.ts';
import { perturbedLogits } from '../../src/metrics/perturb.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomTensor } from '../reference/random.ts';

const graph = smallCnn({ inputSize: 8, seed: 3 });
const x = randomTensor(3 * 64, 81, 1);
const set = randomTensor(2 * 64, 82, 1);

/** Small settings every method accepts, so each runs in a few chunks' time; seeded, so random methods repeat. */
function optionsFor(method: MethodId): ExplainOptions {
  const options: ExplainOptions = { method, seed: 11, steps: 5, samples: 2, weightSamples: 2, maxSigma: 2, target: [1, 4, 7] };
  if (hasOption(method, 'baselines')) options.baselines = set;
  // Layer and neuron methods: a layer, and a neuron of it, of small-cnn.
  if (METHODS[method].capabilities.layer && !method.includes('grad-cam') && method !== 'guided-grad-cam') options.layer = 'relu_2';
  if (method === 'layer-grad-cam') options.layer = 'relu_6';
  if (method.startsWith('neuron-')) Object.assign(options, { layer: 'maxpool_3', neuron: [3, 1, 2] });
  return options;
}

describe('the runner chunks without changing a result', () => {
  for (const method of METHOD_IDS) {
    it(`${method}: the smallest chunks give what one chunk gives`, async () => {
      const model = await Model.create(await testContext(), graph);
      try {
        const whole = await explain(model, x, 3, optionsFor(method));
        const chunkSize = method === 'idgi' ? 2 : 1;
        const chunked = await explain(model, x, 3, { ...optionsFor(method), chunkSize });
        // The chunk asked for, or one (input, reference) pair where a method's points come in pairs (DeepLift).
        expect(chunked.timing.chunkSize).toBeLessThanOrEqual(2);
        expect(chunked.timing.chunks).toBeGreaterThan(whole.timing.chunks);
        expect(whole.attribution.some((v) => v !== 0)).toBe(true);
        expectAllClose(chunked.attribution, whole.attribution, { abs: 1e-5, rel: 1e-4 }, method);
        if (whole.delta) expectAllClose(chunked.delta!, whole.delta, { abs: 1e-4, rel: 1e-4 }, `${method} delta`);
      } finally {
        model.destroy();
      }
    });
  }

  it('metric perturbations: logits of one-point chunks equal those of one chunk', async () => {
    const model = await Model.create(await testContext(), graph);
    const points = 5;
    const perturbation = {
      inputs: x.slice(0, 64),
      replacements: new Float32Array(64),
      feature: Uint32Array.from({ length: 64 }, (_, e) => e),
      features: 64,
      ranks: Uint32Array.from({ length: 64 }, (_, e) => (e * 37) % 64),
      source: new Uint32Array(points),
      order: new Uint32Array(points),
      limit: Uint32Array.from({ length: points }, (_, p) => p * 10),
    };
    const whole = await perturbedLogits(model, perturbation);
    expectAllClose(await perturbedLogits(model, perturbation, 1), whole, { abs: 1e-6, rel: 1e-6 });
    expect(new Set(Array.from({ length: points }, (_, p) => whole[p * 10])).size).toBe(points);
    model.destroy();
  });
});

describe('chunks are submitted back to back', () => {
  /** What the device is asked to do while `body` runs: submits, error-scope pops settling, waits for the queue, maps. */
  async function traced(device: GPUDevice, body: () => Promise<unknown>): Promise<string[]> {
    const log: string[] = [];
    const { queue } = device;
    const [submit, pop, done] = [queue.submit, device.popErrorScope, queue.onSubmittedWorkDone];
    const mapAsync = GPUBuffer.prototype.mapAsync;
    queue.submit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
      log.push('submit');
      return submit.call(this, buffers);
    };
    device.popErrorScope = function (this: GPUDevice) {
      const popped = pop.call(this);
      void popped.then(() => log.push('popped'));
      return popped;
    };
    queue.onSubmittedWorkDone = function (this: GPUQueue) {
      log.push('wait');
      return done.call(this);
    };
    GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
      log.push('map');
      return mapAsync.apply(this, args);
    };
    try {
      await body();
    } finally {
      Object.assign(queue, { submit, onSubmittedWorkDone: done });
      device.popErrorScope = pop;
      GPUBuffer.prototype.mapAsync = mapAsync;
    }
    return log;
  }

  const request = (): PointSpec => ({
    inputs: x.slice(0, 64),
    count: 1,
    baselines: { perInput: new Float32Array(64) },
    path: { alphas: [0.125, 0.375, 0.625, 0.875], weights: [0.25, 0.25, 0.25, 0.25] },
    samples: 2,
    stdev: new Float32Array(1),
    multiply: 'input-minus-baseline',
    combine: 'mean',
    seed: 1,
  });

  it('a run of 8 chunks submits all 8 before the first check settles, never waits for the queue, and maps once', async () => {
    const context = await testContext();
    const model = await Model.create(context, graph);
    try {
      const options = { targets: Int32Array.of(2), score: 'logit' as const, chunkSize: 1 };
      const whole = await integrate(model, request(), { ...options, chunkSize: 8 });
      await integrate(model, request(), options); // plans made: the traced call only runs
      let chunked: Awaited<ReturnType<typeof integrate>> | undefined;
      const log = await traced(context.device, async () => (chunked = await integrate(model, request(), options)));
      expect(chunked!.chunks).toBe(8);
      expectAllClose(chunked!.attribution, whole.attribution, { abs: 1e-6, rel: 1e-5 });
      // The chunks' submits come one after another (the finalize and readback submits follow); nothing waits between.
      const first = log.indexOf('submit');
      expect(log.slice(first, first + 8)).toEqual(Array(8).fill('submit'));
      expect(log.filter((entry) => entry === 'wait')).toEqual([]);
      expect(log.filter((entry) => entry === 'map')).toEqual(['map']);
    } finally {
      model.destroy();
    }
  });

  it('with progress asked for, at most two chunks are queued and every chunk is reported in order', async () => {
    const context = await testContext();
    const model = await Model.create(context, graph);
    try {
      const seen: number[] = [];
      const options = {
        targets: Int32Array.of(2),
        score: 'logit' as const,
        chunkSize: 2,
        onProgress: ({ done }: { done: number }) => seen.push(done),
      };
      await integrate(model, request(), options);
      seen.length = 0;
      const log = await traced(context.device, () => integrate(model, request(), options));
      expect(seen).toEqual([2, 4, 6, 8]);
      expect(log.filter((entry) => entry === 'wait').length).toBe(4);
    } finally {
      model.destroy();
    }
  });
});

describe('the memory budget', () => {
  it('a ResNet run allocates at most its budget beyond the weights, freeing cached plans it does not use', async () => {
    const context = await testContext();
    const tracker = trackAllocations(context.device);
    const model = await Model.create(context, resnet18({ inputSize: 16, width: 4, classes: 5, seed: 2 }));
    try {
      const input = randomTensor(3 * 16 * 16, 83, 1);
      const request: PointSpec = {
        inputs: input,
        count: 1,
        baselines: { perInput: new Float32Array(input.length) },
        path: { alphas: Array.from({ length: 12 }, (_, k) => (k + 0.5) / 12), weights: new Array<number>(12).fill(1 / 12) },
        samples: 1,
        stdev: new Float32Array(1),
        multiply: 'input-minus-baseline',
        combine: 'mean',
        seed: 1,
      };
      const options = { targets: Int32Array.of(3), score: 'logit' as const };
      // One chunk of 12 points: its plan stays cached, more than the budget below allows.
      const whole = await integrate(model, request, { ...options, chunkSize: 12 });
      // The weights, and what is derived from them once and kept with them (packed convolution weights on llvmpipe).
      const weights = tracker.live - model.planBytes();
      const perPoint = (await model.cachedPlan({ batch: 1, objective: 'logit', rules: 'standard' })).bytes;
      const budget = Math.round(3.5 * perPoint) + 64 * 1024;
      expect(model.planBytes()).toBeGreaterThan(budget);
      tracker.resetPeak();
      const budgeted = await integrate(model, request, { ...options, memoryBudget: budget });
      expect(budgeted.chunkSize).toBeGreaterThanOrEqual(2);
      expect(budgeted.chunks).toBeGreaterThan(1);
      expect(tracker.peak - weights).toBeLessThanOrEqual(budget);
      expect(tracker.live - weights).toBeLessThanOrEqual(budget); // what stays cached, too
      expectAllClose(budgeted.attribution, whole.attribution, { abs: 1e-5, rel: 1e-4 });
      // The same call again makes no plan: what it needs stayed cached within the budget, its sizing remembered.
      const made: unknown[] = [];
      const plan = model.plan.bind(model);
      model.plan = (planOptions) => (made.push(planOptions), plan(planOptions));
      tracker.resetPeak();
      await integrate(model, request, { ...options, memoryBudget: budget });
      expect(made).toEqual([]);
      expect(tracker.peak - weights).toBeLessThanOrEqual(budget);
    } finally {
      model.destroy();
      tracker.stop();
    }
  });
});

describe('the default chunk size', () => {
  it('covers the points in as few chunks as the cap allows, evenly, in whole groups', () => {
    expect(balanced(64, 28)).toBe(22); // 3 chunks of 22 (66 points run), not 28 + 28 + 8 (84)
    expect(balanced(64, 21)).toBe(16);
    expect(balanced(64, 64)).toBe(64);
    expect(balanced(64, 32)).toBe(32);
    expect(balanced(5, 4, 1, 2)).toBe(3);
    expect(balanced(14, 6, 2)).toBe(6); // 3 chunks: 14 / 3 rounded up to a whole pair
    expect(balanced(12, 4, 2)).toBe(4);
  });

  it("on a software adapter, a chunk's largest tensor stays within the working set; a chunkSize given wins", async () => {
    const context = await testContext();
    // Its largest tensor, the convolution's output, is 64 × 64 × 64 floats (1 MiB) a point: 32 points fit 32 MiB.
    const b = new GraphBuilder('wide-conv', 5);
    let h = b.maxPool(b.relu(b.conv(b.input([1, 64, 64]), { channels: 64, kernel: 1 })), { kernel: 4 });
    h = b.gemm(b.node('Flatten', [h], { axis: 1 }), 4);
    const model = await Model.create(context, b.build(h));
    try {
      const input = randomTensor(64 * 64, 84, 1);
      const options: ExplainOptions = { method: 'integrated-gradients', steps: 40, rule: 'riemann_middle', target: 1 };
      const chosen = await explain(model, input, 1, options);
      if (context.report.software) {
        expect(SOFTWARE_WORKING_SET / (64 * 64 * 64 * 4)).toBe(32);
        expect(chosen.timing).toMatchObject({ chunkSize: 20, chunks: 2 }); // 40 points under a cap of 32
      } else {
        expect(chosen.timing).toMatchObject({ chunkSize: 40, chunks: 1 });
      }
      const given = await explain(model, input, 1, { ...options, chunkSize: 40 });
      expect(given.timing).toMatchObject({ chunkSize: 40, chunks: 1 });
      expectAllClose(chosen.attribution, given.attribution, { abs: 1e-5, rel: 1e-4 });
    } finally {
      model.destroy();
    }
  });
});

describe('no GPU buffer outlives its call', () => {
  /** Buffers made on the device and not yet destroyed, while `body` runs and after. */
  async function liveAfter(device: GPUDevice, body: () => Promise<unknown>): Promise<string[]> {
    const live = new Set<GPUBuffer>();
    const create = device.createBuffer;
    device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
      const buffer = create.call(this, descriptor);
      const destroy = buffer.destroy;
      live.add(buffer);
      buffer.destroy = function (this: GPUBuffer) {
        live.delete(buffer);
        return destroy.call(this);
      };
      return buffer;
    };
    try {
      await body();
    } finally {
      device.createBuffer = create;
    }
    await new Promise((resolve) => setTimeout(resolve, 0)); // lets a destroyed model's plan promises settle
    return [...live].map((buffer) => buffer.label);
  }

  it('after a first call has made the plans, a second leaves nothing behind, for every method', async () => {
    const context = await testContext();
    const model = await Model.create(context, graph);
    try {
      const leftovers: Record<string, string[]> = {};
      for (const method of METHOD_IDS) {
        const options = { ...optionsFor(method), chunkSize: method === 'idgi' ? 2 : 1 };
        await explain(model, x, 3, options); // plans are the model's, made once and kept: not this call's
        const live = await liveAfter(context.device, () => explain(model, x, 3, options));
        if (live.length > 0) leftovers[method] = live;
      }
      expect(leftovers).toEqual({});
    } finally {
      model.destroy();
    }
  });

  it('the tracker sees a buffer that is not destroyed', async () => {
    const { device } = await testContext();
    const live = await liveAfter(device, async () => device.createBuffer({ label: 'leak', size: 4, usage: 0x80 }));
    expect(live).toEqual(['leak']);
  });
});
