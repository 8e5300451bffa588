/**
 * SHA-256 on node:crypto (OpenSSL): the hot path. Known-answer tests check it against
 * @noble/hashes and the FIPS 180-2 vectors.
 */
import { hash as oneShot } from 'node:crypto';
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
