/**
 * SHA-256 on node:crypto (OpenSSL): the hot path; many small inputs at once through the
 * addon (the same OpenSSL). Known-answer tests check both against @noble/hashes and the
 * FIPS 180-2 vectors.
 */
import { hash as oneShot } from 'node:crypto';
import { addon, type NativeAddon } from '../native/addon.js';
import { HASH_BYTES } from './constants.js';

/**
 * SHA-256 of one byte string.
 * @example sha256(new Uint8Array()) // e3b0c442...
 */
export function sha256(data: Uint8Array): Uint8Array {
  // @types/node 20 types crypto.hash as returning a string; with 'buffer' it returns a Buffer.
  const out = oneShot('sha256', data, 'buffer') as unknown as Buffer;
  return new Uint8Array(out.buffer, out.byteOffset, HASH_BYTES);
}

/** Scratch for `sha256Tagged`: one copy into it is cheaper than an incremental hash object. */
let scratch = new Uint8Array(1024);

/**
 * SHA-256 of a one-byte tag followed by `parts` (Merkle leaves and nodes): the parts are
 * copied into a reused buffer and hashed in one call.
 */
export function sha256Tagged(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let size = 1;
  for (const p of parts) size += p.length;
  if (size > scratch.length) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
  scratch[0] = tag;
  let at = 1;
  for (const p of parts) {
    scratch.set(p, at);
    at += p.length;
  }
  return sha256(scratch.subarray(0, size));
}

/** The addon's batch hashing (native/src/hash.cc), or null where the addon is not built. */
let batchHasher: Pick<NativeAddon, 'sha256Many' | 'merkleRoot'> | null | undefined;
function native(): Pick<NativeAddon, 'sha256Many' | 'merkleRoot'> | null {
  if (batchHasher === undefined) {
    try {
      const a = addon();
      // An addon built before hash.cc existed has neither function: hash in JavaScript.
      batchHasher = typeof a.sha256Many === 'function' && typeof a.merkleRoot === 'function' ? a : null;
    } catch {
      batchHasher = null; // the ledger alone (no addon built) hashes in JavaScript
    }
  }
  return batchHasher;
}

/**
 * SHA-256 of each item, 32 bytes per item in one buffer (item i at 32i): in one native
 * call when the addon is built, which saves node:crypto's fixed cost per small input.
 * Known-answer and property tests hold it equal to `sha256` item by item.
 */
export function sha256Many(items: readonly Uint8Array[]): Uint8Array {
  const n = native();
  if (n !== null) return n.sha256Many(items, -1);
  const out = new Uint8Array(items.length * HASH_BYTES);
  items.forEach((item, i) => out.set(sha256(item), i * HASH_BYTES));
  return out;
}

/** The native Merkle root over leaves SHA-256(0x00 || item) (merkle.ts), or null without the addon. */
export function nativeMerkleRoot(items: readonly Uint8Array[]): Uint8Array | null {
  return native()?.merkleRoot(items) ?? null;
}
