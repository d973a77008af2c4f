import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { glob, isDynamicPattern } from 'tinyglobby';
import { GradlensError } from '../gpu/errors.ts';
import { fitWithin } from '../io/downscale.ts';
import type { PreprocessOptions, RgbaImage } from '../io/preprocess.ts';
import { readNpy, toFloat32 } from '../io/npy.ts';
import { loadImage } from './image.ts';

/** One thing to explain: a file, or one row of a CSV file (`id` is `file.csv#row`, rows counted from 1). */
export interface InputRef {
  id: string;
  path: string;
  kind: 'image' | 'npy' | 'csv-row' | 'tokens';
  row?: number;
}

export interface LoadedInput {
  data: Float32Array;
  /** The pixels of an image input for display (overlay, thumbnail), at most OVERLAY_SIDE on the longer side. */
  image?: RgbaImage;
  /** A CSV row's column names. */
  features?: string[];
  /** A token input's tokens, as its JSON file gives them (one per id). */
  tokens?: string[];
}

/** Longest side of an overlay: a heat map over an 8000-pixel photo is drawn at a size a screen shows, not 8000². */
export const OVERLAY_SIDE = 1024;

const KINDS: Record<string, InputRef['kind'] | 'csv'> = {
  '.png': 'image',
  '.jpg': 'image',
  '.jpeg': 'image',
  '.npy': 'npy',
  '.csv': 'csv',
  '.json': 'tokens',
};

/** What a folder contributes: images and arrays. A CSV or JSON in a folder is often metadata (labels), so it is named explicitly. */
const FOLDER_PATTERN = '**/*.{png,jpg,jpeg,npy}';

/** A CSV file's header and rows as text cells, `label` still in (a row is checked against the header before it is dropped). */
interface Table {
  header: string[];
  rows: string[][];
  label: number;
}

const tables = new Map<string, Table>();

/** Files, folders (searched recursively for .png/.jpg/.jpeg/.npy) and globs, in the order given, without repeats. */
export async function listInputs(args: readonly string[]): Promise<InputRef[]> {
  const refs: InputRef[] = [];
  const seen = new Set<string>();
  for (const arg of args) {
    // A path that exists is taken as written, even where it looks like a pattern (`photo [1].png`).
    const pattern = !existsSync(arg) && isDynamicPattern(arg);
    const files = pattern ? await glob(arg, { absolute: true, onlyFiles: true, expandDirectories: false }) : await expand(arg);
    if (files.length === 0) throw new GradlensError('BAD_PARAMS', `no input files match "${arg}"`);
    for (const file of files.sort()) {
      for (const ref of await refsOf(file, !pattern && files.length === 1 && resolve(files[0]!) === resolve(arg))) {
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
  return glob(FOLDER_PATTERN, { cwd: arg, absolute: true, onlyFiles: true, caseSensitiveMatch: false });
}

/** An explicitly named file of an unknown extension is read as an image, so a bad one is reported, not skipped. */
async function refsOf(file: string, named: boolean): Promise<InputRef[]> {
  const id = displayPath(file);
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') {
    const table = await readTable(file);
    return table.rows.map((_, i) => ({ id: `${id}#${i + 1}`, path: file, kind: 'csv-row', row: i + 1 }));
  }
  if (extension === '.json') {
    const texts = await readTokenFile(file);
    return texts.length === 1 && !texts.list
      ? [{ id, path: file, kind: 'tokens' }]
      : texts.map((_, i) => ({ id: `${id}#${i + 1}`, path: file, kind: 'tokens', row: i + 1 }));
  }
  const kind = KINDS[extension];
  if (!kind && !named) return [];
  return [{ id, path: file, kind: kind === 'npy' ? 'npy' : 'image' }];
}

/** Relative to the working folder where the file is inside it; absolute otherwise. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel.startsWith('..') || isAbsolute(rel) ? resolve(file) : rel.split('\\').join('/');
}

/** RFC 4180 (quoted fields, embedded commas and newlines); rows of another length than the header are kept, to fail alone. */
async function readTable(file: string): Promise<Table> {
  let table = tables.get(file);
  if (!table) {
    let records: string[][];
    try {
      records = parse(await readFile(file, 'utf8'), { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true });
    } catch (error) {
      throw new GradlensError('BAD_PARAMS', `${displayPath(file)}: not a readable CSV file (${(error as Error).message})`);
    }
    const [header = [], ...rows] = records;
    table = { header, rows, label: header.indexOf('label') };
    tables.set(file, table);
  }
  return table;
}

/** One token input of a JSON file: ids, and the tokens they stand for where the file gives them. */
interface TokenText {
  ids: unknown;
  tokens?: unknown;
}

const tokenFiles = new Map<string, TokenText[] & { list?: boolean }>();

/** A JSON file of token inputs: one `{tokens, ids}` object, or a list of them (one input each). */
async function readTokenFile(file: string): Promise<TokenText[] & { list?: boolean }> {
  let texts = tokenFiles.get(file);
  if (!texts) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new GradlensError('BAD_PARAMS', `${displayPath(file)}: not a readable JSON file (${(error as Error).message})`);
    }
    const list = Array.isArray(parsed);
    texts = Object.assign((list ? parsed : [parsed]) as TokenText[], { list });
    tokenFiles.set(file, texts);
  }
  return texts;
}

/** A token input's ids (integers ≥ 0) and tokens (strings, one per id) as the JSON gives them; anything else is BAD_INPUT. */
function tokenValues(ref: InputRef, text: TokenText | undefined): { data: Float32Array; tokens?: string[] } {
  const where = `${ref.id}: a token input is {"tokens": [strings], "ids": [integers]}`;
  if (!text || typeof text !== 'object' || !Array.isArray(text.ids) || text.ids.length === 0)
    throw new GradlensError('BAD_INPUT', `${where}; "ids" is missing or empty`);
  const ids = text.ids as unknown[];
  const bad = ids.findIndex((id) => !Number.isInteger(id) || (id as number) < 0 || (id as number) >= 2 ** 24);
  if (bad >= 0) throw new GradlensError('BAD_INPUT', `${where}; ids[${bad}] is ${JSON.stringify(ids[bad])}, not a token id`);
  const data = Float32Array.from(ids as number[]);
  if (text.tokens === undefined) return { data };
  const tokens = text.tokens;
  if (!Array.isArray(tokens) || tokens.length !== ids.length || !tokens.every((t) => typeof t === 'string')) {
    throw new GradlensError('BAD_INPUT', `${where}; "tokens" must be ${ids.length} strings, one per id`);
  }
  return { data, tokens: tokens as string[] };
}

const withoutLabel = <T>(cells: T[], label: number) => (label < 0 ? cells : cells.filter((_, i) => i !== label));

/** Feature names of a CSV input (its header without `label`). */
export async function featureNames(ref: InputRef): Promise<string[] | undefined> {
  if (ref.kind !== 'csv-row') return undefined;
  const table = await readTable(ref.path);
  return withoutLabel(table.header, table.label);
}

/** Bytes a .npy header may take beyond its data (npy format 2/3 headers reach 4 GiB in principle, never in practice). */
const NPY_HEADER_ROOM = 1 << 20;

/** The longest sequence of ids read from a .npy for a model of any sequence length. */
const MAX_IDS = 1 << 20;

/** A plain decimal number, as a CSV of features writes it: not `0x10`, `Infinity` or an empty cell. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function rowValues(ref: InputRef, table: Table): Float32Array {
  const cells = table.rows[ref.row! - 1]!;
  if (cells.length !== table.header.length) {
    throw new GradlensError(
      'BAD_INPUT',
      `${ref.id}: the row has ${cells.length} cells, the header ${table.header.length}; fix the row (no cell is guessed)`,
    );
  }
  const header = withoutLabel(table.header, table.label);
  return Float32Array.from(withoutLabel(cells, table.label), (cell, i) => {
    if (!DECIMAL.test(cell)) throw new GradlensError('BAD_INPUT', `${ref.id}: column "${header[i]}" is "${cell}", not a decimal number`);
    return Number(cell);
  });
}

/**
 * Reads one input as the model's input tensor; a wrong size or an unreadable file is a BAD_INPUT error. `anyLength`: the
 * model takes sequences of any length (a text model), so a 1-D input's length is its own.
 */
export async function loadInput(
  ref: InputRef,
  inputShape: readonly number[],
  preprocessing: PreprocessOptions,
  anyLength = false,
): Promise<LoadedInput> {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const expectSize = (data: Float32Array, what: string) => {
    if (data.length !== size && !(anyLength && data.length > 0)) {
      throw new GradlensError('BAD_INPUT', `${ref.id}: ${what} has ${data.length} values; the model takes [${inputShape.join(', ')}] = ${size}`);
    }
    return data;
  };
  if (ref.kind === 'csv-row') {
    const table = await readTable(ref.path);
    return { data: expectSize(rowValues(ref, table), 'the row'), features: withoutLabel(table.header, table.label) };
  }
  if (ref.kind === 'tokens') {
    const texts = await readTokenFile(ref.path);
    const { data, tokens } = tokenValues(ref, texts[(ref.row ?? 1) - 1]);
    return { data: expectSize(data, 'the ids'), ...(tokens ? { tokens } : {}) };
  }
  if (ref.kind === 'npy') {
    // A file larger than the input could be in any dtype (8 bytes a value, and a header) is refused unread.
    const { size: fileBytes } = await stat(ref.path).catch(() => ({ size: 0 }));
    if (fileBytes > (anyLength ? MAX_IDS : size) * 8 + NPY_HEADER_ROOM) {
      throw new GradlensError(
        'BAD_INPUT',
        `${ref.id}: ${fileBytes} bytes, more than an array of ${size} values ([${inputShape.join(', ')}]) can take; it is not read`,
      );
    }
    const bytes = await readFile(ref.path).catch((error: Error) => {
      throw new GradlensError('BAD_INPUT', `cannot read ${ref.id}: ${error.message}`);
    });
    const array = readNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { data: expectSize(toFloat32(array), `the array of shape [${array.shape.join(', ')}]`) };
  }
  const loaded = await loadImage(ref.path, preprocessing);
  // The model input is made from the full image; only the copy kept for display is shrunk.
  return { data: expectSize(loaded.data, `the image as [${loaded.shape.join(', ')}]`), image: fitWithin(loaded.image, OVERLAY_SIDE) };
}
