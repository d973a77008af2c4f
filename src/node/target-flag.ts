import type { Target } from '../attribution/types.ts';
import { UsageError } from './common-options.ts';

export const TARGET_USAGE = `--target top1|K       the class explained (default top1); in a sequence output [steps, classes]
                        step=T,class=K|top1; in a dense map [channels?, height, width] region=X0,Y0,X1,Y1[,channel=C]
                        (output pixels X0 ≤ x < X1, Y0 ≤ y < Y1, summed) or mask=FILE.npy (weights, the output's shape)`;

const integer = (text: string | undefined, what: string) => {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isInteger(value) || value < 0)
    throw new UsageError(`--target: ${what} must be a non-negative integer, got "${text ?? ''}"`);
  return value;
};

/** `--target` as the explain options take it; `readMask` reads a mask file's weights. */
export function parseTarget(text: string, readMask: (file: string) => Float32Array): Target {
  if (text === 'top1') return 'top1';
  if (/^\d+$/.test(text)) return Number(text);
  const [kind, rest = ''] = text.split(/=(.*)/s) as [string, string?];
  if (kind === 'mask') return { mask: readMask(rest) };
  if (kind === 'region') {
    const parts = rest.split(',');
    const channel = parts.at(-1)?.match(/^channel=(.*)$/)?.[1];
    const corners = channel === undefined ? parts : parts.slice(0, -1);
    if (corners.length !== 4) throw new UsageError(`--target region= needs X0,Y0,X1,Y1 and optionally ,channel=C; got "${rest}"`);
    const [x0, y0, x1, y1] = corners.map((part, i) => integer(part, ['X0', 'Y0', 'X1', 'Y1'][i]!)) as [number, number, number, number];
    return { region: [x0, y0, x1, y1], ...(channel !== undefined ? { channel: integer(channel, 'channel') } : {}) };
  }
  const fields = new Map(text.split(',').map((field) => field.split('=', 2) as [string, string | undefined]));
  if (fields.has('step') && fields.size === 2 && fields.has('class')) {
    const chosen = fields.get('class');
    return { step: integer(fields.get('step'), 'step'), class: chosen === 'top1' ? 'top1' : integer(chosen, 'class') };
  }
  throw new UsageError(`--target must be top1, a class index, step=T,class=K|top1, region=X0,Y0,X1,Y1[,channel=C] or mask=FILE.npy; got "${text}"`);
}
