import { GradlensError } from '../gpu/errors.ts';

// A protobuf wire-format reader of our own, as Netron has: `onnx-proto` is stale (IR 8), `protobufjs` has an open report
// of unbounded recursion on small hostile inputs, and our own reader hands out `bytes` fields (raw_data) as zero-copy
// subarrays. Every length is checked against the bytes present and nesting is bounded, so hostile bytes end in
// CORRUPT_MODEL, never in another exception or a hang.

export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;
export type WireType = (typeof WIRE)[keyof typeof WIRE];

/** Messages nest at most this deep (ONNX needs 7: model → graph → node → attribute → tensor → entry). */
export const MAX_DEPTH = 16;

export function corrupt(what: string): GradlensError {
  return new GradlensError('CORRUPT_MODEL', `the ONNX bytes are truncated or corrupt (${what}); load the file again, or re-export the model`);
}

const utf8 = new TextDecoder('utf-8');

/** One message's bytes, read field by field; `message()` opens a nested one, one level deeper. */
export class ProtoReader {
  private pos: number;

  constructor(
    readonly bytes: Uint8Array,
    private readonly end = bytes.length,
    readonly depth = 0,
    start = 0,
  ) {
    if (depth > MAX_DEPTH) throw corrupt(`messages nested deeper than ${MAX_DEPTH}`);
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's number and wire type; wire types ONNX never uses (groups, 6, 7) are corrupt. */
  tag(): { field: number; wire: WireType } {
    const key = this.varint();
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (field < 1 || field > 0x1fffffff) throw corrupt(`field number ${field}`);
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) throw corrupt(`wire type ${wire} of field ${field}`);
    return { field, wire: wire as WireType };
  }

  /** A varint as a JS number: int64 two's complement becomes negative; exact up to 2^53. */
  varint(): number {
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw corrupt('a varint runs past the end');
      const byte = this.bytes[this.pos++]!;
      if (i < 4) low |= (byte & 0x7f) << (7 * i);
      else if (i === 4) {
        low |= (byte & 0x0f) << 28;
        high = (byte & 0x7f) >>> 4;
      } else high |= (byte & 0x7f) << (7 * i - 32);
      if (byte < 0x80) return (high | 0) * 4294967296 + (low >>> 0);
    }
    throw corrupt('a varint longer than 10 bytes');
  }

  fixed32(): DataView {
    return this.view(4);
  }

  fixed64(): DataView {
    return this.view(8);
  }

  /** A length-delimited field's bytes: a subarray of the model, not a copy. */
  bytesField(): Uint8Array {
    const length = this.varint();
    if (length < 0 || length > this.end - this.pos) throw corrupt(`a field of ${length} bytes where ${this.end - this.pos} remain`);
    const start = this.pos;
    this.pos += length;
    return this.bytes.subarray(start, this.pos);
  }

  string(): string {
    return utf8.decode(this.bytesField());
  }

  /** A nested message, read one level deeper. */
  message(): ProtoReader {
    const bytes = this.bytesField();
    return new ProtoReader(bytes, bytes.length, this.depth + 1);
  }

  skip(wire: WireType): void {
    if (wire === WIRE.varint) this.varint();
    else if (wire === WIRE.fixed64) this.view(8);
    else if (wire === WIRE.fixed32) this.view(4);
    else this.bytesField();
  }

  private view(size: number): DataView {
    if (size > this.end - this.pos) throw corrupt(`a ${size}-byte field runs past the end`);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, size);
    this.pos += size;
    return view;
  }
}

/** Checks a known field's wire type: a mismatch means the bytes are not the message they claim to be. */
export function expectWire(actual: WireType, expected: WireType, field: string): void {
  if (actual !== expected) throw corrupt(`field ${field} has wire type ${actual}, expected ${expected}`);
}

/**
 * A repeated scalar field, packed (one length-delimited run) or not (one value per tag): proto2 readers take both.
 * Packed runs hold at most one value per byte, so what they allocate is bounded by the bytes present.
 */
export function readRepeated(
  reader: ProtoReader,
  wire: WireType,
  element: 'varint' | 'fixed32' | 'fixed64',
  into: number[],
  field: string,
  read: (r: ProtoReader) => number,
): void {
  const unpacked = element === 'varint' ? WIRE.varint : element === 'fixed32' ? WIRE.fixed32 : WIRE.fixed64;
  if (wire === unpacked) {
    into.push(read(reader));
    return;
  }
  expectWire(wire, WIRE.bytes, field);
  const run = reader.message();
  while (!run.done) into.push(read(run));
}

export const readVarint = (r: ProtoReader): number => r.varint();
export const readFloat = (r: ProtoReader): number => r.fixed32().getFloat32(0, true);
export const readDouble = (r: ProtoReader): number => r.fixed64().getFloat64(0, true);
