import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.ts';
import { featureNames, listInputs, loadInput, type InputRef } from '../../src/node/inputs.ts';

let root: string;
const file = async (name: string, text = '') => {
  const path = join(root, name);
  await writeFile(path, text);
  return path;
};
const ids = (refs: InputRef[]) => refs.map((ref) => relative(root, ref.path));
const load = (ref: InputRef, width: number) => loadInput(ref, [width], { channels: 1 });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gradlens-inputs-'));
});

describe('CSV inputs (RFC 4180)', () => {
  it('reads quoted fields: a header name holding a comma stays one column', async () => {
    const csv = await file('quoted.csv', '"width, cm",height,label\n"1.5",2,0\n');
    const [ref] = await listInputs([csv]);
    expect(await featureNames(ref!)).toEqual(['width, cm', 'height']);
    expect(Array.from((await load(ref!, 2)).data)).toEqual([1.5, 2]);
  });

  it('fails a short row alone, without shifting its cells into the label column', async () => {
    const csv = await file('short.csv', 'a,b,c,label\n1,2,3,0\n4,5,1\n7,8,9,1\n');
    const refs = await listInputs([csv]);
    expect(refs).toHaveLength(3);
    expect(Array.from((await load(refs[0]!, 3)).data)).toEqual([1, 2, 3]);
    await expect(load(refs[1]!, 3)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/#2: the row has 3 cells, the header 4/),
    });
    expect(Array.from((await load(refs[2]!, 3)).data)).toEqual([7, 8, 9]);
  });

  it('reads only decimal numbers: 0x10, Infinity and an empty cell are errors', async () => {
    const csv = await file('hex.csv', 'a,b\n0x10,1\nInfinity,1\n,1\n1e3,-.5\n');
    const refs = await listInputs([csv]);
    for (const ref of refs.slice(0, 3))
      await expect(load(ref, 2)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/column "a"/) });
    expect(Array.from((await load(refs[3]!, 2)).data)).toEqual([1000, -0.5]);
  });
});

describe('input lists', () => {
  it('expands braces in globs', async () => {
    await mkdir(join(root, 'braces'));
    for (const name of ['a.png', 'b.png', 'c.png']) await file(`braces/${name}`);
    expect(ids(await listInputs([join(root, 'braces/{a,b}.png')]))).toEqual(['braces/a.png', 'braces/b.png']);
  });

  it('takes a file that exists as written, even where its name looks like a pattern', async () => {
    const path = await file('photo [1].png');
    await file('photo 1.png');
    expect(ids(await listInputs([path]))).toEqual(['photo [1].png']);
  });

  it('searches a folder recursively for images and arrays, whatever the case of the extension', async () => {
    await mkdir(join(root, 'tree/deep'), { recursive: true });
    for (const name of ['tree/x.PNG', 'tree/deep/y.npy', 'tree/notes.txt', 'tree/labels.csv']) await file(name);
    expect(ids(await listInputs([join(root, 'tree')]))).toEqual(['tree/deep/y.npy', 'tree/x.PNG']);
  });

  it('refuses a .npy far larger than the model input without reading it', async () => {
    const path = join(root, 'huge.npy');
    await writeFile(path, writeNpy(new Float32Array(300_000), [300_000]));
    const [ref] = await listInputs([path]);
    await expect(loadInput(ref!, [4], { channels: 1 })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/more than an array of 4 values/),
    });
  });
});
