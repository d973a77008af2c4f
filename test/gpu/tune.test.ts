import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.ts';
import { isGallivm } from '../../src/gpu/limits.ts';
import { adapterKey, browserTuneStore, parseTuneFile, TUNE_FORMAT, TUNED_KERNELS, type TuneFile } from '../../src/gpu/tune.ts';
import { conv2dBackwardInput, conv2dForward } from '../../src/kernels/conv2d.ts';
import { gemm } from '../../src/kernels/gemm.ts';
import { fileTuneStore } from '../../src/node/tune-store.ts';
import { expectAllClose } from '../helpers/close.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import * as reference from '../reference/conv2d.ts';
import { randomTensor } from '../reference/random.ts';

// One cache folder per test file, so the user's ~/.cache/gradlens is never read or written here.
const folder = mkdtempSync(join(tmpdir(), 'gradlens-tune-'));
const contexts: GpuContext[] = [];
async function open(options: { autotune?: boolean; tuneCache?: string } = {}): Promise<GpuContext> {
  const context = await GpuContext.open({ tuneCache: folder, ...options });
  contexts.push(context);
  return context;
}
afterAll(() => contexts.forEach((c) => c.destroy()));

const conv = { batch: 2, inChannels: 9, height: 9, width: 11, outChannels: 6, kernelHeight: 3, kernelWidth: 3, pads: [1, 1, 1, 1] as const };

describe('autotune cache', () => {
  it('a file store round-trips a record, keyed by adapter and kernel version, written atomically', () => {
    const store = fileTuneStore(join(folder, 'round-trip'));
    const file: TuneFile = {
      format: TUNE_FORMAT,
      kernels: TUNED_KERNELS,
      adapter: 'v|a|d|desc|vulkan|core',
      choices: { k: { choice: 'direct', ms: { direct: 1 } } },
    };
    expect(store.load(file.adapter, TUNED_KERNELS)).toEqual({});
    store.save(file);
    expect(store.load(file.adapter, TUNED_KERNELS).file).toEqual(file);
    expect(readdirSync(join(folder, 'round-trip')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(store.load('another adapter', TUNED_KERNELS)).toEqual({});
    const stale = store.load(file.adapter, 'other kernels');
    expect(stale.file).toBeUndefined();
    expect(stale.note).toMatch(/other kernels; ignored/);
  });

  it('the browser store keeps choices in localStorage, and in memory where localStorage refuses them', () => {
    const file: TuneFile = { format: TUNE_FORMAT, kernels: TUNED_KERNELS, adapter: 'browser adapter', choices: { k: { choice: 'block', ms: {} } } };
    const items = new Map<string, string>();
    const storage = { getItem: (key: string) => items.get(key) ?? null, setItem: (key: string, value: string) => void items.set(key, value) };
    const global = globalThis as { localStorage?: unknown };
    try {
      global.localStorage = storage;
      browserTuneStore().save(file);
      expect(browserTuneStore().load(file.adapter, TUNED_KERNELS).file).toEqual(file); // a new page reads it back
      global.localStorage = {
        getItem: () => null,
        setItem: () => {
          throw new Error('QuotaExceededError');
        },
      };
      const store = browserTuneStore();
      store.save(file);
      expect(store.load(file.adapter, TUNED_KERNELS).file).toEqual(file);
    } finally {
      delete global.localStorage;
    }
  });

  it('a corrupt or foreign cache file is ignored with a note, never an error', async () => {
    expect(parseTuneFile('{"format": 1, "choi', 'a', TUNED_KERNELS, 'x').note).toMatch(/not JSON; ignored/);
    expect(parseTuneFile('[1, 2]', 'a', TUNED_KERNELS, 'x').note).toMatch(/ignored/);
    expect(parseTuneFile('null', 'a', TUNED_KERNELS, 'x').note).toMatch(/ignored/);
    const probe = await open({ tuneCache: join(folder, 'corrupt') });
    const store = fileTuneStore(join(folder, 'corrupt'));
    store.save({ format: TUNE_FORMAT, kernels: TUNED_KERNELS, adapter: adapterKey(probe.report), choices: {} });
    const [name] = readdirSync(join(folder, 'corrupt'));
    writeFileSync(join(folder, 'corrupt', name!), '{ this is not json');
    const context = await open({ tuneCache: join(folder, 'corrupt') });
    expect(context.report.tuning?.note).toMatch(/not JSON; ignored/);
    expect(context.tuning.choices.size).toBe(0);
  });

  it('autotune measures a new shape class once, stores it, and a later context reads it without measuring', async () => {
    const cache = join(folder, 'measured');
    const tuned = await open({ autotune: true, tuneCache: cache });
    const t = { x: randomTensor(2 * 9 * 9 * 11, 1), w: randomTensor(6 * 9 * 9, 2) };
    const io = await uploadAll(tuned, t);
    const y = await zeros(tuned, 'y', 2 * 6 * 9 * 11);
    await conv2dForward(tuned, { ...io, y }, conv);
    const keys = [...tuned.tuning.choices.keys()];
    expect(keys).toEqual([expect.stringMatching(/^conv2d-forward:9>6:k3x3:s1x1/)]);
    const record = tuned.tuning.choices.get(keys[0]!)!;
    expect(Object.keys(record.ms).sort()).toEqual(['block', 'block8', 'direct', 'implicit-gemm', 'ubo', 'ubo8']);
    const saved = JSON.parse(readFileSync(join(cache, readdirSync(cache)[0]!), 'utf8')) as TuneFile;
    expect(saved.choices[keys[0]!]).toEqual(record);
    expect(saved.adapter).toBe(adapterKey(tuned.report));

    const later = await open({ tuneCache: cache });
    expect(later.report.tuning).toMatchObject({ entries: 1, autotune: false });
    expect(later.tuning.choice(keys[0]!, ['direct', 'implicit-gemm', 'block', 'block8', 'ubo', 'ubo8'])).toBe(record.choice);
    for (const buffer of [io.x, io.w, y]) buffer.destroy();
  });

  it('a plan uses the cached choice instead of the heuristic, and both paths match the float64 reference', async () => {
    const cache = join(folder, 'used');
    const context = await open({ tuneCache: cache });
    const t = { x: randomTensor(2 * 9 * 9 * 11, 1), w: randomTensor(6 * 9 * 9, 2), gradY: randomTensor(2 * 6 * 9 * 11, 3) };
    const io = await uploadAll(context, t);
    const y = await zeros(context, 'y', t.gradY.length);
    const gradX = await zeros(context, 'gradX', t.x.length);
    // The heuristic: the packed-weight kernel on llvmpipe (6 output channels to block), the implicit GEMM elsewhere (depth
    // 81 > 16, 9 input channels); the cache says otherwise below.
    const untuned = isGallivm(context.report) ? /conv2d_ubo_forward/ : /conv2d_forward/;
    const heuristic = await conv2dForward(context, { ...io, y }, conv);
    expect(heuristic.bound.kernel.name).toMatch(untuned);
    const keyOf = (direction: string) => `conv2d-${direction}:9>6:k3x3:s1x1:d1x1:p256`;
    context.tuning.record(keyOf('forward'), { choice: 'block', ms: {} });
    context.tuning.record(keyOf('backward-input'), { choice: 'direct-s1', ms: {} });
    const forward = await conv2dForward(context, { ...io, y }, conv);
    const backward = await conv2dBackwardInput(context, { gradY: io.gradY, w: io.w, gradX }, conv);
    expect(forward.bound.kernel.name).toBe('conv2d/conv2d_block_forward');
    expect(backward.bound.kernel.name).toBe('conv2d/conv2d_direct_backward_input_s1');
    await runDispatches(context, 'tuned conv', [forward, backward]);
    const s = {
      ...conv,
      strides: [1, 1] as [number, number],
      dilations: [1, 1] as [number, number],
      group: 1,
      pads: [...conv.pads] as [number, number, number, number],
    };
    expectAllClose(await read(context, y, t.gradY.length), reference.conv2d(s, t.x, t.w), { abs: 1e-5, rel: 1e-5 });
    expectAllClose(await read(context, gradX, t.x.length), reference.conv2dBackwardInput(s, t.gradY, t.w), { abs: 1e-5, rel: 1e-5 });
    // A choice that is no candidate (an older version's name) falls back to the heuristic.
    context.tuning.record(keyOf('forward'), { choice: 'retired-kernel', ms: {} });
    expect((await conv2dForward(context, { ...io, y }, conv)).bound.kernel.name).toMatch(untuned);
    // The GEMM's cached kernel likewise.
    const a = await uploadAll(context, { a: randomTensor(12, 4), b: randomTensor(12, 5) });
    const c = await zeros(context, 'c', 9);
    context.tuning.record('gemm:00:1x4x4x4:r1', { choice: 'direct', ms: {} });
    expect((await gemm(context, { ...a, c }, { m: 3, n: 3, k: 4 }))[0]!.bound.kernel.name).toBe('gemm/gemm_direct');
    for (const buffer of [io.x, io.w, io.gradY, y, gradX, a.a, a.b, c]) buffer.destroy();
  });
});
