/**
 * Small checked guards in the style of noble: each returns the checked value and throws
 * `TypeError` for a wrong type or `RangeError` for a wrong value. They guard programmer
 * boundaries (function arguments); input from outside goes through decoders, which throw
 * `SteleError` with a stable code.
 */
import assert from 'node:assert/strict';

/** Checks `value` is a real Uint8Array (optionally of exact `length`). */
export function abytes(value: unknown, length?: number, title = 'value'): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${title}: expected Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${title}: expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** Invariant check: a failure means our own state is corrupt, so the process stops. */
export function invariant(condition: unknown, message: string): asserts condition {
  // The message is built only on failure: invariants sit on hot paths.
  if (!condition) assert.fail(`invariant broken: ${message}`);
}

/** From this size up, `bytesToFill` leaves the memory as the allocator gives it. */
const UNZEROED_BYTES_MIN = 4_096;

/**
 * A plain Uint8Array of `n` bytes (not a Buffer: `slice` copies and equality works as for
 * any Uint8Array), for a caller that writes every byte before anything reads it. From
 * 4 KiB up its memory is not zeroed first (`Buffer.allocUnsafeSlow`: unpooled, malloc
 * instead of calloc). `new Uint8Array(n)` asks the allocator for zeroed memory, and
 * jemalloc zeroes a recycled extent with `madvise(MADV_DONTNEED)`: a system call, a page
 * fault per page touched again and, on some VMs, a TLB flush on every core
 * (docs/performance.md, nineteenth and twentieth sessions). Blocks, write sets and consensus
 * messages are copied through buffers of tens of KiB several times per block.
 */
export function bytesToFill(n: number): Uint8Array {
  if (n < UNZEROED_BYTES_MIN) return new Uint8Array(n);
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** A copy of `bytes` in memory of its own (`bytesToFill`). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = bytesToFill(bytes.length);
  out.set(bytes);
  return out;
}

/** Byte-wise equality of two arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  // Long inputs (whole blocks) by memcmp; short ones (hashes, keys) in a loop, cheaper
  // than making two Buffer views.
  if (a.length > 64) return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic comparison of byte strings (-1, 0, 1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Node's own hex encoder, called on the Uint8Array itself: `Buffer.prototype.hexSlice` is
 * what `buf.toString('hex')` calls, and it takes any Uint8Array as `this`. Not documented,
 * so it is looked up once and `Buffer.from(...).toString('hex')` stands in when it is
 * missing. It saves making a Buffer view per call: about half the time of a 32-byte key's
 * hex (75 against 155 ns here), and one object less for the garbage collector; the state
 * machine makes several per transaction (keys of signers, recipients, ids).
 */
const hexSlice = (Buffer.prototype as unknown as { hexSlice?: (this: Uint8Array, start: number, end: number) => string }).hexSlice;

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  if (hexSlice !== undefined) return hexSlice.call(bytes, 0, bytes.length);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
/** Parses lower-case hex (of exact byte `length` when given); RangeError otherwise. */
export function fromHex(hex: string, length?: number, title = 'hex'): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError(`${title}: expected a string`);
  if (!HEX_RE.test(hex)) throw new RangeError(`${title}: expected lower-case hex`);
  if (length !== undefined && hex.length !== length * 2) {
    throw new RangeError(`${title}: expected ${length} bytes of hex`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
