import { readFile, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative } from 'node:path';
import { GradlensError } from '../gpu/errors.ts';
import type { PreprocessOptions, RgbaImage } from '../io/preprocess.ts';
import { readNpy, toFloat32 } from '../io/npy.ts';
import { glob, isGlob } from './glob.ts';
import { loadImage } from './image.ts';

/** One thing to explain: a file, or one row of a CSV file (`id` is `file.csv#row`, rows counted from 1). */
export interface InputRef {
  id: string;
  path: string;
  kind: 'image' | 'npy' | 'csv-row';
  row?: number;
}

export interface LoadedInput {
  data: Float32Array;
  /** The decoded pixels of an image input, for the overlay. */
  image?: RgbaImage;
}

const KINDS: Record<string, InputRef['kind'] | 'csv'> = { '.png': 'image', '.jpg': 'image', '.jpeg': 'image', '.npy': 'npy', '.csv': 'csv' };

/** What a folder contributes: images and arrays. A CSV in a folder is often metadata (labels), so it is named explicitly. */
const FOLDER_KINDS = new Set(['.png', '.jpg', '.jpeg', '.npy']);

/** Parsed CSV files: rows as text, the `label` column dropped (a true class, not a model input). */
const tables = new Map<string, { header: string[]; rows: string[][] }>();

/** Files, folders (searched recursively for .png/.jpg/.jpeg/.npy) and globs, in the order given, without repeats. */
export async function listInputs(args: readonly string[]): Promise<InputRef[]> {
  const refs: InputRef[] = [];
  const seen = new Set<string>();
  for (const arg of args) {
    const files = isGlob(arg) ? await glob(arg) : await expand(arg);
    if (files.length === 0) throw new GradlensError('BAD_PARAMS', `no input files match "${arg}"`);
    for (const file of files) {
      for (const ref of await refsOf(file, !isGlob(arg) && files.length === 1 && files[0] === arg)) {
        if (!seen.has(ref.id)) refs.push(ref);
        seen.add(ref.id);
      }
    }
  }
  return refs;
}

async function expand(arg: string): Promise<string[]> {
  const info = await stat(arg).catch(() => undefined);
  if (!info) throw new GradlensError('BAD_PARAMS', `input "${arg}" does not exist`);
  if (!info.isDirectory()) return [arg];
  return (await glob(`${arg.replace(/\/+$/, '')}/**/*`)).filter((file) => FOLDER_KINDS.has(extname(file).toLowerCase()));
}

/** An explicitly named file of an unknown extension is read as an image, so a bad one is reported, not skipped. */
async function refsOf(file: string, named: boolean): Promise<InputRef[]> {
  const id = displayPath(file);
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') {
    const table = await readTable(file);
    return table.rows.map((_, i) => ({ id: `${id}#${i + 1}`, path: file, kind: 'csv-row', row: i + 1 }));
  }
  const kind = KINDS[extension];
  if (!kind && !named) return [];
  return [{ id, path: file, kind: kind === 'npy' ? 'npy' : 'image' }];
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return isAbsolute(file) && rel.startsWith('..') ? file : rel.split('\\').join('/');
}

async function readTable(file: string) {
  let table = tables.get(file);
  if (!table) {
    const lines = (await readFile(file, 'utf8')).split(/\r?\n/).filter((line) => line.trim() !== '');
    const [head = '', ...body] = lines;
    const header = head.split(',').map((h) => h.trim());
    const label = header.indexOf('label');
    const drop = (cells: string[]) => (label < 0 ? cells : cells.filter((_, i) => i !== label));
    table = { header: drop(header), rows: body.map((line) => drop(line.split(','))) };
    tables.set(file, table);
  }
  return table;
}

/** Feature names of a CSV input (its header without `label`). */
export async function featureNames(ref: InputRef): Promise<string[] | undefined> {
  return ref.kind === 'csv-row' ? (await readTable(ref.path)).header : undefined;
}

/** Reads one input as the model's input tensor; a wrong size or an unreadable file is a BAD_INPUT error. */
export async function loadInput(ref: InputRef, inputShape: readonly number[], preprocessing: PreprocessOptions): Promise<LoadedInput> {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const expectSize = (data: Float32Array, what: string) => {
    if (data.length !== size) {
      throw new GradlensError('BAD_INPUT', `${ref.id}: ${what} has ${data.length} values; the model takes [${inputShape.join(', ')}] = ${size}`);
    }
    return data;
  };
  if (ref.kind === 'csv-row') {
    const cells = (await readTable(ref.path)).rows[ref.row! - 1]!;
    const data = Float32Array.from(cells, (cell, i) => {
      const value = cell.trim() === '' ? NaN : Number(cell);
      if (!Number.isFinite(value)) throw new GradlensError('BAD_INPUT', `${ref.id}: column ${i + 1} is "${cell}", not a number`);
      return value;
    });
    return { data: expectSize(data, 'the row') };
  }
  if (ref.kind === 'npy') {
    const bytes = await readFile(ref.path).catch((error: Error) => {
      throw new GradlensError('BAD_INPUT', `cannot read ${ref.id}: ${error.message}`);
    });
    const array = readNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { data: expectSize(toFloat32(array), `the array of shape [${array.shape.join(', ')}]`) };
  }
  const loaded = await loadImage(ref.path, preprocessing);
  return { data: expectSize(loaded.data, `the image as [${loaded.shape.join(', ')}]`), image: loaded.image };
}
