/**
 * Wire and disk encoding of the consensus core: a minimal canonical binary codec
 * (fixed-width big-endian integers, u32-length-prefixed byte strings with a bound each).
 * consensus/ knows nothing of the ledger, so it carries its own small codec; every
 * decode failure is a `CodecError`, which the core counts and drops.
 */

import { bytesToFill, copyBytes } from '../ledger/assert.js';

/** Decoding failed: the bytes are not a valid message or record. */
export class CodecError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'CodecError';
  }
}

export class Encoder {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(capacityBytes = 128) {
    this.buffer = new Uint8Array(capacityBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  /**
   * The module's one reusable encoder, emptied. Encoding is synchronous and never nested,
   * so one growing buffer serves every message and record (`finish()` copies the bytes
   * out; no encode calls another). Saves two ArrayBuffer allocations per message, which
   * were a fifth of the simulator's time.
   */
  static shared(): Encoder {
    const e = (sharedEncoder ??= new Encoder(64 * 1024));
    e.length = 0;
    return e;
  }

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buffer.length) {
      let size = this.buffer.length * 2;
      while (size < at + n) size *= 2;
      const next = bytesToFill(size); // bytes past `length` are never read
      next.set(this.buffer.subarray(0, at));
      this.buffer = next;
      this.view = new DataView(next.buffer, next.byteOffset, next.length);
    }
    this.length = at + n;
    return at;
  }

  u8(value: number): this {
    const at = this.reserve(1);
    this.view.setUint8(at, value);
    return this;
  }
  u16(value: number): this {
    const at = this.reserve(2);
    this.view.setUint16(at, value);
    return this;
  }
  u32(value: number): this {
    const at = this.reserve(4);
    this.view.setUint32(at, value);
    return this;
  }
  /** A non-negative safe integer as u64. */
  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 out of range: ${value}`);
    const at = this.reserve(8);
    this.view.setUint32(at, Math.floor(value / 2 ** 32));
    this.view.setUint32(at + 4, value >>> 0);
    return this;
  }
  fixed(bytes: Uint8Array): this {
    const at = this.reserve(bytes.length); // may replace this.buffer: reserve first
    this.buffer.set(bytes, at);
    return this;
  }
  bytes(bytes: Uint8Array): this {
    this.u32(bytes.length);
    return this.fixed(bytes);
  }
  finish(): Uint8Array {
    return copyBytes(this.buffer.subarray(0, this.length));
  }
}

let sharedEncoder: Encoder | undefined;

export class Decoder {
  private readonly view: DataView;
  private at = 0;

  constructor(private readonly input: Uint8Array) {
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  }

  private need(n: number, field: string): number {
    if (this.at + n > this.input.length) throw new CodecError(field, `truncated at offset ${this.at}`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(field: string): number {
    return this.view.getUint8(this.need(1, field));
  }
  u16(field: string): number {
    return this.view.getUint16(this.need(2, field));
  }
  u32(field: string): number {
    return this.view.getUint32(this.need(4, field));
  }
  /** u64 that must be a safe integer no larger than `max`. */
  u64(max: number, field: string): number {
    const at = this.need(8, field);
    const high = this.view.getUint32(at);
    const low = this.view.getUint32(at + 4);
    if (high >= 2 ** 21) throw new CodecError(field, 'exceeds 2^53 - 1');
    const value = high * 2 ** 32 + low;
    if (value > max) throw new CodecError(field, `${value} exceeds ${max}`);
    return value;
  }
  /** A view into the input (no copy): callers that keep it must copy. */
  fixed(length: number, field: string): Uint8Array {
    const at = this.need(length, field);
    return this.input.subarray(at, at + length);
  }
  bytes(max: number, field: string): Uint8Array {
    const length = this.u32(field);
    if (length > max) throw new CodecError(field, `length ${length} exceeds ${max}`);
    return this.fixed(length, field);
  }
  /** A count of items each at least `minItemBytes` long, bounded by `max` and by what is left. */
  count(max: number, minItemBytes: number, field: string): number {
    const n = this.u32(field);
    if (n > max) throw new CodecError(field, `count ${n} exceeds ${max}`);
    if (n * minItemBytes > this.input.length - this.at) throw new CodecError(field, `count ${n} exceeds the bytes left`);
    return n;
  }
  end(): void {
    if (this.at !== this.input.length) throw new CodecError('message', `${this.input.length - this.at} trailing bytes`);
  }
}
