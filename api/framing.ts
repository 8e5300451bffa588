/**
 * Length framing for binary lists on the HTTP API: each item is its length as a u32
 * big-endian, then its bytes. Used by `GET /v1/blocks` (block encodings) and
 * `POST /v1/transactions/batch` (transaction encodings) with application/octet-stream.
 */

/** Concatenates `items`, each after its length. */
export function frameAll(items: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(items.reduce((n, b) => n + 4 + b.length, 0));
  const view = new DataView(out.buffer);
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
