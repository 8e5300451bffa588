/**
 * The canonical binary encoding: the only bytes Stele ever hashes or signs.
 *
 * Rules (docs/encoding.md has the full table):
 * - A top-level value starts with the encoding version byte (1) and a kind byte.
 * - Integers are fixed-width big-endian: u8, u16, u32, u64. There is exactly one encoding
 *   of each value, so no varint minimality rules are needed.
 * - Variable byte strings and UTF-8 strings are a u32 length then the bytes; lists are a
 *   u32 count then the items. Every length and count has a bound, checked before any
 *   allocation.
 * - Booleans are 0 or 1; any other byte is refused.
 * - Nothing may follow the value.
 *
 * Decoders throw only `SteleError` with an `ENC_*` code, the field path and the offset.
 */
import { ENCODING_VERSION, HEIGHT_MAX, type Kind } from './constants.js';
import { SteleError, type ErrorCode } from './errors.js';
import { bytesToFill, copyBytes, invariant } from './assert.js';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** A finished Writer's buffer: writing to a spent Writer is a broken invariant. */
const SPENT = new Uint8Array(0);
const SPENT_VIEW = new DataView(SPENT.buffer);

/** Appends canonical fields to a growable buffer. */
export class Writer {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(capacityBytes = 256) {
    // Bytes past `length` are never read: finish() copies out the written ones.
    this.buffer = bytesToFill(capacityBytes);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  }

  private reserve(n: number): number {
    const at = this.length;
    const need = at + n;
    if (need > this.buffer.length) {
      invariant(this.buffer !== SPENT, 'a Writer is not written after finish()');
      let size = Math.max(this.buffer.length * 2, 64);
      while (size < need) size *= 2;
      const next = bytesToFill(size);
      next.set(this.buffer.subarray(0, at));
      this.buffer = next;
      this.view = new DataView(next.buffer, next.byteOffset, next.length);
    }
    this.length = need;
    return at;
  }

  /** Version byte and kind byte: the start of every top-level value. */
  envelope(kind: Kind): this {
    return this.u8(ENCODING_VERSION).u8(kind);
  }

  u8(value: number): this {
    checkUint(value, 0xff);
    const at = this.reserve(1);
    this.buffer[at] = value;
    return this;
  }

  u16(value: number): this {
    checkUint(value, 0xffff);
    const at = this.reserve(2);
    this.view.setUint16(at, value);
    return this;
  }

  u32(value: number): this {
    checkUint(value, 0xffff_ffff);
    const at = this.reserve(4);
    this.view.setUint32(at, value);
    return this;
  }

  /** u64 from a JS number (heights, times): at most 2^53 - 1. */
  u64(value: number): this {
    checkUint(value, HEIGHT_MAX);
    return this.u64n(BigInt(value));
  }

  /** u64 from a bigint (amounts). */
  u64n(value: bigint): this {
    if (typeof value !== 'bigint' || value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new RangeError(`u64 out of range: ${String(value)}`);
    }
    const at = this.reserve(8);
    this.view.setBigUint64(at, value);
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  /** Bytes of a length fixed by the schema: no prefix. */
  fixed(bytes: Uint8Array, length: number): this {
    if (bytes.length !== length) throw new RangeError(`expected ${length} bytes, got ${bytes.length}`);
    const at = this.reserve(length);
    this.buffer.set(bytes, at);
    return this;
  }

  /** u32 length, then the bytes. */
  bytes(bytes: Uint8Array, max: number): this {
    if (bytes.length > max) throw new RangeError(`byte string of ${bytes.length} exceeds ${max}`);
    this.u32(bytes.length);
    const at = this.reserve(bytes.length);
    this.buffer.set(bytes, at);
    return this;
  }

  /** u32 length, then UTF-8. */
  str(text: string, maxBytes: number): this {
    // Hot path (state keys, asset symbols): short ASCII is written without an encoder copy.
    if (text.length <= 128 && text.length <= maxBytes) {
      const at = this.reserve(4 + text.length);
      let ascii = true;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        this.buffer[at + 4 + i] = c;
      }
      if (ascii) {
        this.view.setUint32(at, text.length);
        return this;
      }
      this.length = at;
    }
    return this.bytes(utf8Encoder.encode(text), maxBytes);
  }

  /**
   * The encoded bytes, sized exactly: the buffer itself when the capacity given was exact
   * (no copy: the hot encoders compute their size), else a copy. The Writer is spent.
   */
  finish(): Uint8Array {
    invariant(this.buffer !== SPENT, 'a Writer is finished once');
    const out = this.length === this.buffer.length ? this.buffer : copyBytes(this.buffer.subarray(0, this.length));
    this.buffer = SPENT;
    this.view = SPENT_VIEW;
    this.length = 0;
    return out;
  }
}

function checkUint(value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`integer out of range 0..${max}: ${value}`);
  }
}

/**
 * A private copy of `bytes`, after refusing more than `maxBytes` without copying
 * (ENC_TOO_LARGE). A copy even of a Buffer, whose `slice` would share its memory.
 */
export function ownCopy(bytes: Uint8Array, maxBytes: number, what: string): Uint8Array {
  void new Reader(bytes, maxBytes, what); // throws before any copy
  return copyBytes(bytes);
}

/** Reads canonical fields; every failure is a `SteleError` with an ENC_* code. */
export class Reader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;
  private readonly what: string;

  /** Refuses inputs longer than `maxBytes` before reading anything. */
  constructor(bytes: Uint8Array, maxBytes: number, what: string) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: expected a Uint8Array`);
    if (bytes.length > maxBytes) {
      throw new SteleError('ENC_TOO_LARGE', `${what}: ${bytes.length} bytes exceeds ${maxBytes}`, {
        field: what,
        offset: 0,
      });
    }
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.what = what;
  }

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  fail(code: ErrorCode, field: string, message: string): never {
    throw new SteleError(code, `${this.what}.${field} at byte ${this.at}: ${message}`, {
      field: `${this.what}.${field}`,
      offset: this.at,
    });
  }

  private take(n: number, field: string): number {
    if (n > this.remaining) this.fail('ENC_TRUNCATED', field, `needs ${n} bytes, ${this.remaining} left`);
    const at = this.at;
    this.at += n;
    return at;
  }

  /** Reads and checks the version and kind bytes. */
  envelope(kind: Kind): void {
    const version = this.bytes[this.take(1, 'version')] as number;
    if (version !== ENCODING_VERSION) {
      this.at -= 1;
      this.fail('ENC_BAD_VERSION', 'version', `version ${version}, expected ${ENCODING_VERSION}`);
    }
    const got = this.bytes[this.take(1, 'kind')] as number;
    if (got !== kind) {
      this.at -= 1;
      this.fail('ENC_BAD_KIND', 'kind', `kind ${got}, expected ${kind}`);
    }
  }

  u8(field: string): number {
    return this.bytes[this.take(1, field)] as number;
  }

  u16(field: string): number {
    return this.view.getUint16(this.take(2, field));
  }

  u32(field: string): number {
    return this.view.getUint32(this.take(4, field));
  }

  /** u64 into a JS number; refuses values above 2^53 - 1. */
  u64(field: string): number {
    const value = this.view.getBigUint64(this.take(8, field));
    if (value > BigInt(HEIGHT_MAX)) {
      this.at -= 8;
      this.fail('ENC_OUT_OF_RANGE', field, `${value} exceeds ${HEIGHT_MAX}`);
    }
    return Number(value);
  }

  u64n(field: string): bigint {
    return this.view.getBigUint64(this.take(8, field));
  }

  bool(field: string): boolean {
    const value = this.u8(field);
    if (value > 1) {
      this.at -= 1;
      this.fail('ENC_NON_CANONICAL', field, `boolean byte ${value}`);
    }
    return value === 1;
  }

  /** An integer tag that must lie in `min..max`. */
  tag(field: string, min: number, max: number): number {
    const value = this.u8(field);
    if (value < min || value > max) {
      this.at -= 1;
      this.fail('ENC_BAD_TAG', field, `tag ${value} outside ${min}..${max}`);
    }
    return value;
  }

  /** Fixed-length bytes; returns a view (zero-copy) into the input. */
  fixed(length: number, field: string): Uint8Array {
    const at = this.take(length, field);
    return this.bytes.subarray(at, at + length);
  }

  /** u32 length and bytes, length at most `max`; returns a view into the input. */
  bytesField(max: number, field: string): Uint8Array {
    const length = this.u32(field);
    if (length > max) {
      this.at -= 4;
      this.fail('ENC_TOO_LARGE', field, `length ${length} exceeds ${max}`);
    }
    return this.fixed(length, field);
  }

  /** u32 length and strict UTF-8, at most `maxBytes`. */
  str(maxBytes: number, field: string): string {
    const start = this.at;
    const raw = this.bytesField(maxBytes, field);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      this.at = start;
      return this.fail('ENC_BAD_UTF8', field, 'invalid UTF-8');
    }
  }

  /**
   * A list count at most `max`; also refuses counts that cannot fit in the remaining
   * input given each item's minimum size, before anything is allocated.
   */
  count(max: number, itemBytesMin: number, field: string): number {
    const n = this.u32(field);
    if (n > max) {
      this.at -= 4;
      this.fail('ENC_TOO_LARGE', field, `count ${n} exceeds ${max}`);
    }
    if (n * itemBytesMin > this.remaining) {
      this.fail('ENC_TRUNCATED', field, `${n} items need at least ${n * itemBytesMin} bytes`);
    }
    return n;
  }

  /** Refuses trailing bytes. */
  end(): void {
    if (this.remaining !== 0) this.fail('ENC_TRAILING', 'end', `${this.remaining} bytes left over`);
  }
}

/** Checks a decoded string against a pattern; ENC_BAD_TEXT otherwise. */
export function checkText(reader: Reader, value: string, pattern: RegExp, field: string): string {
  if (!pattern.test(value)) reader.fail('ENC_BAD_TEXT', field, `${JSON.stringify(value.slice(0, 80))} does not match ${pattern}`);
  return value;
}
