import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../ledger/assert.js';
import { sha256, sha256Many, sha256Tagged } from '../../ledger/hash.js';
import { leafHash, merkleRoot, merkleRootOfData } from '../../ledger/merkle.js';
import { addon } from '../../native/addon.js';

const native = addon();
const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 });

test('native sha256Many: known answers, and equal to one sha256 per item (with and without a tag byte)', () => {
  const abc = new TextEncoder().encode('abc');
  assert.equal(toHex(native.sha256Many([abc], -1)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(toHex(native.sha256Many([new Uint8Array(0)], -1)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(native.sha256Many([], -1).length, 0);
  fc.assert(
    fc.property(fc.array(bytes, { maxLength: 40 }), fc.integer({ min: -1, max: 255 }), (items, tag) => {
      const all = native.sha256Many(items, tag);
      assert.equal(all.length, 32 * items.length);
      items.forEach((item, i) => {
        const expected = tag < 0 ? nobleSha256(item) : sha256Tagged(tag, item);
        assert.deepEqual(all.subarray(32 * i, 32 * i + 32), expected);
      });
      assert.deepEqual(sha256Many(items), Uint8Array.from(items.flatMap((item) => [...sha256(item)])));
    }),
    { numRuns: 200 },
  );
});

test('native merkleRoot equals merkle.ts over every tree size from 0 to 70 leaves and random data', () => {
  for (let n = 0; n <= 70; n++) {
    const items = Array.from({ length: n }, (_, i) => Uint8Array.from({ length: (i * 37) % 250 }, (_, j) => (i * 31 + j) & 0xff));
    assert.deepEqual(native.merkleRoot(items), merkleRoot(items.map(leafHash)), `${n} leaves`);
    assert.deepEqual(merkleRootOfData(items), merkleRoot(items.map(leafHash)));
  }
  fc.assert(
    fc.property(fc.array(bytes, { maxLength: 300 }), (items) => {
      assert.deepEqual(native.merkleRoot(items), merkleRoot(items.map(leafHash)));
    }),
    { numRuns: 100 },
  );
});

test('native hashing refuses bad arguments with TypeError or RangeError, never a crash', () => {
  const n = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  assert.throws(() => n.sha256Many!('x', -1), TypeError);
  assert.throws(() => n.sha256Many!([new Uint16Array(2)], -1), TypeError);
  assert.throws(() => n.sha256Many!([new Uint8Array(1), 'x'], -1), TypeError);
  assert.throws(() => n.sha256Many!([new Uint8Array(1)]), TypeError);
  assert.throws(() => n.sha256Many!([new Uint8Array(1)], 256), RangeError);
  assert.throws(() => n.sha256Many!([new Uint8Array(1)], -2), RangeError);
  assert.throws(() => n.sha256Many!([new Uint8Array(1)], 0.5), RangeError);
  assert.throws(() => n.merkleRoot!({ length: 1 }), TypeError);
  assert.throws(() => n.merkleRoot!([new DataView(new ArrayBuffer(4))]), TypeError);
  // A Buffer is a Uint8Array: accepted, and hashed over its own bytes only.
  const pooled = Buffer.from('abc');
  assert.equal(toHex(native.sha256Many([pooled], -1)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
