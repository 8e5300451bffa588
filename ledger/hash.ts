/**
 * SHA-256 on node:crypto (OpenSSL): the hot path. Known-answer tests check it against
 * @noble/hashes and the FIPS 180-2 vectors.
 */
import { createHash, hash as oneShot } from 'node:crypto';
import { HASH_BYTES } from './constants.js';

/**
 * SHA-256 of one byte string.
 * @example sha256(new Uint8Array()) // e3b0c442...
 */
export function sha256(data: Uint8Array): Uint8Array {
  const out = oneShot('sha256', data, 'buffer') as unknown as Buffer;
  return new Uint8Array(out.buffer, out.byteOffset, HASH_BYTES);
}

/** SHA-256 of the concatenation of `parts`, without copying them together. */
export function sha256Parts(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  const out = h.digest();
  return new Uint8Array(out.buffer, out.byteOffset, HASH_BYTES);
}
