import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import {
  generateKeyPair,
  isStrictPublicKey,
  keyPairFromSeed,
  Signer,
  strictEncodingOk,
  verify,
  verifyReference,
} from '../../ledger/ed25519.js';
import { fromHex } from '../../ledger/assert.js';
import { sha512 } from '@noble/hashes/sha2.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;

function le(n: bigint, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
function numberLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}

function bothAgree(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const fast = verify(pub, msg, sig);
  const reference = verifyReference(pub, msg, sig);
  assert.equal(fast, reference, `verdicts differ: pub=${Buffer.from(pub).toString('hex')} sig=${Buffer.from(sig).toString('hex')}`);
  return fast;
}

const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(7)));
const msg = new TextEncoder().encode('stele');
const goodSig = signer.sign(msg);

test('RFC 8032 test vector 1 (empty message) verifies on both paths', () => {
  const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const pair = keyPairFromSeed(seed);
  assert.equal(Buffer.from(pair.publicKey).toString('hex'), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = new Signer(pair).sign(new Uint8Array());
  assert.equal(
    Buffer.from(sig).toString('hex'),
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  assert.equal(bothAgree(pair.publicKey, new Uint8Array(), sig), true);
});

test('honest signatures verify on both paths (random keys and messages)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), (seed, m) => {
      const pair = keyPairFromSeed(seed);
      const sig = new Signer(pair).sign(m);
      assert.equal(bothAgree(pair.publicKey, m, sig), true);
      assert.deepEqual(sig, ed25519.sign(m, seed)); // noble signs the same bytes
    }),
    { numRuns: 60 },
  );
});

test('flipped bits anywhere are refused by both', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 64 * 8 + 32 * 8 + msg.length * 8 - 1 }), (bit) => {
      const sig = Uint8Array.from(goodSig);
      const pub = Uint8Array.from(signer.publicKey);
      const m = Uint8Array.from(msg);
      const target = bit < 512 ? sig : bit < 768 ? pub : m;
      const at = bit < 512 ? bit : bit < 768 ? bit - 512 : bit - 768;
      target[at >> 3] = (target[at >> 3] as number) ^ (1 << (at & 7));
      assert.equal(bothAgree(pub, m, sig), false);
    }),
    { numRuns: 300 },
  );
});

test('malleated S (S + L, S + kL) is refused by both; S >= L refused', () => {
  const s = numberLE(goodSig.subarray(32));
  for (const k of [1n, 2n, 3n, 15n]) {
    const big = s + k * L;
    if (big >= 2n ** 256n) continue;
    const sig = Uint8Array.from([...goodSig.subarray(0, 32), ...le(big)]);
    assert.equal(bothAgree(signer.publicKey, msg, sig), false);
  }
  const atL = Uint8Array.from([...goodSig.subarray(0, 32), ...le(L)]);
  assert.equal(bothAgree(signer.publicKey, msg, atL), false);
  fc.assert(
    fc.property(fc.bigInt({ min: L, max: 2n ** 256n - 1n }), (x) => {
      const sig = Uint8Array.from([...goodSig.subarray(0, 32), ...le(x)]);
      assert.equal(bothAgree(signer.publicKey, msg, sig), false);
    }),
    { numRuns: 100 },
  );
});

test('non-canonical encodings of A and R (y >= p, negative zero) are refused by both', () => {
  // Every y in p..2^255-1 (19 values) and both sign bits, as A and as R.
  for (let d = 0n; d < 19n; d++) {
    for (const sign of [0n, 1n]) {
      const enc = le(P + d + (sign << 255n));
      assert.equal(bothAgree(enc, msg, goodSig), false);
      const sig = Uint8Array.from([...enc, ...goodSig.subarray(32)]);
      assert.equal(bothAgree(signer.publicKey, msg, sig), false);
      // The verdicts above would be false for a wrong key or R alone; the encoding rule
      // itself is what refuses these (checked without the equation).
      assert.equal(strictEncodingOk(enc, goodSig), false, `A = y ${d} past p, sign ${sign}`);
      assert.equal(strictEncodingOk(signer.publicKey, sig), false, `R = y ${d} past p, sign ${sign}`);
    }
  }
  assert.equal(strictEncodingOk(signer.publicKey, goodSig), true);
  // A non-canonical R whose canonical form is the real R: y + p (only possible if y < 19).
  // And "negative zero" encodings of y = 1 and y = p - 1.
  for (const y of [1n, P - 1n]) {
    const enc = le(y + (1n << 255n));
    assert.equal(bothAgree(enc, msg, goodSig), false);
    assert.equal(strictEncodingOk(enc, goodSig), false);
  }
});

test('small-order public keys are refused, even with signatures that pass the equation', () => {
  assert.equal(ED25519_TORSION_SUBGROUP.length, 8);
  let passing = 0;
  for (const hex of ED25519_TORSION_SUBGROUP) {
    const A = fromHex(hex);
    assert.equal(isStrictPublicKey(A), false);
    // With A of small order and S = 0 the equation reads R = -[k]A, k = H(R || A || M) mod L,
    // and -[k]A is again a torsion point: try the eight torsion points as R and count those
    // that satisfy it. Every one of them must still be refused, for the key alone.
    const Apoint = ed25519.Point.fromBytes(A, false);
    for (const m of [msg, new Uint8Array(), new Uint8Array([1, 2, 3])]) {
      for (const rHex of ED25519_TORSION_SUBGROUP) {
        const R = fromHex(rHex);
        const sig = Uint8Array.from([...R, ...new Uint8Array(32)]);
        const k = numberLE(sha512(Uint8Array.from([...R, ...A, ...m]))) % L;
        if (Buffer.from(Apoint.multiplyUnsafe(k).negate().toBytes()).toString('hex') === rHex) passing++;
        assert.equal(bothAgree(A, m, sig), false);
      }
    }
  }
  // The identity key alone gives R = identity for every message: at least three signatures
  // that satisfy the equation were refused.
  assert.ok(passing >= 3, `only ${passing} crafted signatures satisfy the equation`);
});

test('torsion in R and mixed-order keys: both use the cofactorless equation', () => {
  const T = ed25519.Point.fromBytes(fromHex(ED25519_TORSION_SUBGROUP[1] as string), false); // order 8
  const a = 0x1234567890abcdefn;
  const A = ed25519.Point.BASE.multiply(a);
  // 1. R' = [r]B + T and S = r + k*a with k = H(R'||A||M): then [S]B - [k]A = R' - T.
  //    The cofactored equation (noble's verify) accepts it; the cofactorless rule refuses
  //    it on both paths.
  const Ab = A.toBytes();
  const Rt = ed25519.Point.BASE.multiply(777n).add(T).toBytes();
  const kt = numberLE(sha512(Uint8Array.from([...Rt, ...Ab, ...msg]))) % L;
  const tampered = Uint8Array.from([...Rt, ...le((777n + kt * a) % L)]);
  assert.equal(ed25519.verify(tampered, msg, Ab, { zip215: false }), true);
  assert.equal(bothAgree(Ab, msg, tampered), false);
  // 2. A mixed-order key A' = aB + T, and a signature with S = r + k*a: the cofactorless
  //    equation gives R - kT, which equals R exactly when k = 0 mod 8. Search r until it
  //    does: both paths must accept that one, and refuse the ones where k != 0 mod 8.
  const A2 = A.add(T).toBytes();
  let accepted = 0;
  let refused = 0;
  for (let r = 1n; r < 200n && (accepted === 0 || refused === 0); r++) {
    const Rb = ed25519.Point.BASE.multiply(r).toBytes();
    const k = numberLE(sha512(Uint8Array.from([...Rb, ...A2, ...msg]))) % L;
    const S = (r + k * a) % L;
    const forged = Uint8Array.from([...Rb, ...le(S)]);
    const verdict = bothAgree(A2, msg, forged);
    assert.equal(verdict, k % 8n === 0n);
    if (verdict) accepted++;
    else refused++;
  }
  assert.ok(accepted > 0 && refused > 0, 'both branches exercised');
});

test('wrong lengths are refused by both without throwing', () => {
  for (const [pubLen, sigLen] of [[31, 64], [33, 64], [32, 63], [32, 65], [0, 0]] as const) {
    const pub = new Uint8Array(pubLen).fill(1);
    const sig = new Uint8Array(sigLen).fill(1);
    assert.equal(verify(pub, msg, sig), false);
    assert.equal(verifyReference(pub, msg, sig), false);
  }
  assert.throws(() => verify('x' as unknown as Uint8Array, msg, goodSig), TypeError);
});

test('random bytes as key and signature: verdicts agree', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      fc.uint8Array({ maxLength: 64 }),
      (pub, sig, m) => {
        bothAgree(pub, m, sig);
      },
    ),
    { numRuns: 300 },
  );
});

test('random R with an honest key: verdicts agree; random points as keys agree', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: L - 1n }), fc.bigInt({ min: 0n, max: L - 1n }), (a, s) => {
      const A = ed25519.Point.BASE.multiply(a).toBytes();
      const sig = Uint8Array.from([...ed25519.Point.BASE.multiply(((a ^ 5n) % (L - 1n)) + 1n).toBytes(), ...le(s)]);
      bothAgree(A, msg, sig);
    }),
    { numRuns: 100 },
  );
});

test('generated keys are strict keys and sign verifiably', () => {
  const pair = generateKeyPair();
  assert.equal(isStrictPublicKey(pair.publicKey), true);
  assert.equal(bothAgree(pair.publicKey, msg, new Signer(pair).sign(msg)), true);
  assert.equal(isStrictPublicKey(new Uint8Array(32).fill(0xff)), false);
});
