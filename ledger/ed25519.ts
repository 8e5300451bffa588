/**
 * Ed25519 with one strict verification rule, everywhere (docs/encoding.md, "Signatures"):
 *
 * 1. The public key is 32 bytes and the signature 64 bytes.
 * 2. S (the last 32 bytes, little-endian) is canonical: S < L.
 * 3. A and R are canonical point encodings: y < p, and no "negative zero" x (x = 0 with
 *    the sign bit set). A must decode to a curve point; R is checked by step 5.
 * 4. A is not of small order (one of the eight torsion points): such keys let many
 *    messages verify under one signature.
 * 5. Cofactorless equation: encode([S]B - [k]A) equals R byte for byte, with
 *    k = SHA-512(R || A || M) mod L.
 *
 * Two implementations: `verify` (fast: the byte-level checks 1-4 here, then OpenSSL
 * through node:crypto, which computes step 5) and `verifyReference` (slow: @noble/curves
 * point arithmetic, decoding strictly and computing step 5 itself). Property tests show
 * they agree on random and adversarial inputs; a verdict that differed between nodes
 * would split the chain.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { abytes, bytesEqual, toHex } from './assert.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './constants.js';

/** The group order L, little-endian. */
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Canonical encodings of the eight points of small order. */
const SMALL_ORDER = new Set(ED25519_TORSION_SUBGROUP);

/** True when the 32 little-endian bytes at `offset` are below L. */
function scalarIsCanonical(bytes: Uint8Array, offset: number): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = bytes[offset + i] as number;
    const l = L_LE[i] as number;
    if (x !== l) return x < l;
  }
  return false; // equal to L
}

/**
 * True when 32 bytes at `offset` are a canonical point encoding as far as bytes tell:
 * y < p = 2^255 - 19, and not x = 0 with the sign bit (x = 0 exactly when y = 1 or y = p - 1).
 */
function pointEncodingIsCanonical(bytes: Uint8Array, offset: number): boolean {
  const top = (bytes[offset + 31] as number) & 0x7f;
  const sign = ((bytes[offset + 31] as number) & 0x80) !== 0;
  let middleAllOnes = top === 0x7f;
  let middleAllZero = top === 0;
  for (let i = 1; i < 31; i++) {
    const b = bytes[offset + i] as number;
    if (b !== 0xff) middleAllOnes = false;
    if (b !== 0) middleAllZero = false;
  }
  const low = bytes[offset] as number;
  if (middleAllOnes && low >= 0xed) return false; // y >= p
  if (sign && middleAllZero && low === 1) return false; // y = 1, x = 0, sign set
  if (sign && middleAllOnes && low === 0xec) return false; // y = p - 1, x = 0, sign set
  return true;
}

/** Checks 1-4 of the rule, on bytes only. */
export function strictEncodingOk(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  if (!scalarIsCanonical(signature, 32)) return false;
  if (!pointEncodingIsCanonical(publicKey, 0)) return false;
  if (!pointEncodingIsCanonical(signature, 0)) return false;
  return !SMALL_ORDER.has(toHex(publicKey));
}

/** Bounded cache of OpenSSL key objects: building one costs about as much as a verify. */
const KEY_CACHE_MAX = 8_192;
const keyCache = new Map<string, KeyObject | null>();

function publicKeyObject(publicKey: Uint8Array): KeyObject | null {
  const id = toHex(publicKey);
  const cached = keyCache.get(id);
  if (cached !== undefined) return cached;
  let key: KeyObject | null;
  try {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
  } catch {
    key = null; // not a point on the curve
  }
  if (keyCache.size >= KEY_CACHE_MAX) {
    const oldest = keyCache.keys().next().value;
    if (oldest !== undefined) keyCache.delete(oldest);
  }
  keyCache.set(id, key);
  return key;
}

/**
 * Strict verification, fast path (node:crypto). Never throws for bad input of the right
 * type: a wrong length or a bad encoding is simply `false`.
 * @throws TypeError when arguments are not Uint8Arrays.
 * @example verify(publicKey, message, signature) // true or false
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  abytes(publicKey, undefined, 'publicKey');
  abytes(message, undefined, 'message');
  abytes(signature, undefined, 'signature');
  if (!strictEncodingOk(publicKey, signature)) return false;
  const key = publicKeyObject(publicKey);
  if (key === null) return false;
  return nodeVerify(null, message, key, signature);
}

function numberLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

/**
 * Strict verification, reference path (@noble/curves arithmetic, independent of the
 * byte-level checks above). Slow; used by tests and `stele audit --reference`.
 * @throws TypeError when arguments are not Uint8Arrays.
 */
export function verifyReference(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  abytes(publicKey, undefined, 'publicKey');
  abytes(message, undefined, 'message');
  abytes(signature, undefined, 'signature');
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  const rBytes = signature.subarray(0, 32);
  const s = numberLE(signature.subarray(32, 64));
  if (s >= L) return false;
  let A;
  try {
    A = ed25519.Point.fromBytes(publicKey, false); // strict: y < p, no negative zero
    ed25519.Point.fromBytes(rBytes, false);
  } catch {
    return false;
  }
  if (A.isSmallOrder()) return false;
  const k = numberLE(sha512(Uint8Array.from([...rBytes, ...publicKey, ...message]))) % L;
  const check = ed25519.Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k));
  return bytesEqual(check.toBytes(), rBytes);
}

/** A signing key: a 32-byte seed and its public key. */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly seed: Uint8Array;
}

/** Makes a fresh key pair from the system's secure random source. */
export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return keyPairFromSeed(new Uint8Array(der.subarray(der.length - 32)));
}

/** The key pair of a 32-byte seed. */
export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  abytes(seed, 32, 'seed');
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return { publicKey: new Uint8Array(spki.subarray(spki.length - 32)), seed: Uint8Array.from(seed) };
}

/** Signs with a cached OpenSSL key object; deterministic (RFC 8032). */
export class Signer {
  readonly publicKey: Uint8Array;
  private readonly key: KeyObject;
  constructor(pair: KeyPair) {
    this.publicKey = pair.publicKey;
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, pair.seed]), format: 'der', type: 'pkcs8' });
  }
  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, message, this.key));
  }
}

/** True when `publicKey` could ever verify a signature under the strict rule. */
export function isStrictPublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES) return false;
  try {
    return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder();
  } catch {
    return false; // not a canonical encoding of a curve point
  }
}
