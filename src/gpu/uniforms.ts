import type { StructInfo, TypeInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import { GradlensError } from './errors.ts';

export type UniformValue = number | readonly number[];
export type UniformValues = Readonly<Record<string, UniformValue>>;

/**
 * Packs values into a uniform struct's bytes by member name, with offsets and strides from reflection.
 * Every member must be given: a forgotten one would silently read as zero in the kernel.
 */
export function packUniform(struct: StructInfo, values: UniformValues, where: string): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.max(16, align(struct.size, 16)));
  const view = new DataView(bytes);
  const known = new Set(struct.members.map((member) => member.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new GradlensError('BAD_PARAMS', `${where}: no uniform member "${name}" (has ${[...known].join(', ')})`);
  }
  for (const member of struct.members) {
    const value = values[member.name];
    if (value === undefined) throw new GradlensError('BAD_PARAMS', `${where}: uniform member "${member.name}" not given`);
    const scalars = flatten(member.type);
    const given = typeof value === 'number' ? [value] : value;
    if (given.length !== scalars.length) {
      throw new GradlensError('BAD_PARAMS', `${where}: "${member.name}" takes ${scalars.length} value(s), got ${given.length}`);
    }
    scalars.forEach(({ offset, kind }, i) => write(view, member.offset + offset, kind, given[i]!, `${where}.${member.name}`));
  }
  return bytes;
}

type ScalarKind = 'u32' | 'i32' | 'f32';

/** The scalar slots of a member type, in WGSL order, with byte offsets inside the member. */
function flatten(type: TypeInfo): { offset: number; kind: ScalarKind }[] {
  const t = type as TypeInfo & { format?: TypeInfo | null; count?: number; stride?: number };
  if (isScalar(t.name)) return [{ offset: 0, kind: t.name }];
  const vector = /^vec([234])([uif]?)$/.exec(t.name);
  if (vector) {
    const kind = vector[2] ? suffixKind(vector[2]) : (t.format?.name as ScalarKind);
    return Array.from({ length: Number(vector[1]) }, (_, i) => ({ offset: 4 * i, kind }));
  }
  if (t.name === 'array' && t.format && t.count) {
    const inner = flatten(t.format);
    const stride = t.stride ?? t.format.size;
    return Array.from({ length: t.count }, (_, i) => inner.map((slot) => ({ ...slot, offset: slot.offset + i * stride }))).flat();
  }
  throw new GradlensError('BAD_PARAMS', `uniform member type ${t.name} is not supported (use u32, i32, f32, vecN or arrays of them)`);
}

function isScalar(name: string): name is ScalarKind {
  return name === 'u32' || name === 'i32' || name === 'f32';
}

function suffixKind(suffix: string): ScalarKind {
  return suffix === 'u' ? 'u32' : suffix === 'i' ? 'i32' : 'f32';
}

function write(view: DataView, offset: number, kind: ScalarKind, value: number, where: string): void {
  if (kind === 'f32') return view.setFloat32(offset, value, true);
  if (!Number.isInteger(value)) throw new GradlensError('BAD_PARAMS', `${where}: ${kind} needs an integer, got ${value}`);
  if (kind === 'u32') {
    if (value < 0 || value > 0xffffffff) throw new GradlensError('BAD_PARAMS', `${where}: ${value} is out of u32 range`);
    return view.setUint32(offset, value, true);
  }
  view.setInt32(offset, value, true);
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
