/**
 * Length framing for binary lists on the HTTP API: each item is its length as a u32
 * big-endian, then its bytes. Used by `GET /v1/blocks` (block encodings) and
 * `POST /v1/transactions/batch` (transaction encodings) with application/octet-stream.
 */

import { bytesToFill } from '../ledger/assert.js';

/** Concatenates `items`, each after its length. */
export function frameAll(items: readonly Uint8Array[]): Uint8Array {
  const out = bytesToFill(items.reduce((n, b) => n + 4 + b.length, 0)); // every byte written below
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  let at = 0;
  for (const b of items) {
    view.setUint32(at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

/** Why a framed body could not be split. */
export type UnframeFault = 'cut_length' | 'cut_item' | 'too_many';

/**
 * Splits a framed body into views of `bytes` (no copies), or names the first fault: a
 * length cut short, an item running past the end, or more than `itemsMax` items (found
 * before reading further). An empty body is zero items.
 */
export function unframeAll(bytes: Uint8Array, itemsMax: number): { items: Uint8Array[]; fault: null } | { items: null; fault: UnframeFault; at: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const items: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (items.length === itemsMax) return { items: null, fault: 'too_many', at };
    if (at + 4 > bytes.length) return { items: null, fault: 'cut_length', at };
    const n = view.getUint32(at);
    if (n > bytes.length - at - 4) return { items: null, fault: 'cut_item', at };
    items.push(bytes.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return { items, fault: null };
}

/**
 * Splits a length-framed byte stream that arrives in chunks of any size (the binary block
 * stream): `push` returns the items each chunk completes, as views. Chunks are held until
 * the next frame is whole and then joined once, so a large item arriving in many small
 * chunks costs one copy, not one per chunk. An item longer than `itemBytesMax` is refused
 * as soon as its length arrives.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private held = 0;
  /** Bytes the next frame needs in all (4 while its length is not known). */
  private need = 4;

  constructor(private readonly itemBytesMax: number) {}

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.held;
  }

  /** @throws RangeError when a frame announces more than `itemBytesMax` bytes. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.held += chunk.length;
    if (this.held < this.need) return [];
    const bytes = this.chunks.length === 1 ? chunk : joined(this.chunks, this.held);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const items: Uint8Array[] = [];
    let at = 0;
    this.need = 4;
    while (bytes.length - at >= 4) {
      const n = view.getUint32(at);
      if (n > this.itemBytesMax) throw new RangeError(`a frame of ${n} bytes exceeds ${this.itemBytesMax}`);
      if (bytes.length - at - 4 < n) {
        this.need = 4 + n;
        break;
      }
      items.push(bytes.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
    // The unfinished rest is copied out (a Buffer's slice would be a view of the caller's
    // chunk, which the caller may reuse): small, or about to be joined with what follows.
    const rest = new Uint8Array(bytes.subarray(at));
    this.chunks = rest.length === 0 ? [] : [rest];
    this.held = rest.length;
    return items;
  }
}

function joined(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
