/**
 * Length framing: FrameReader gives back exactly the framed items however the stream is
 * cut into chunks, refuses an oversized frame as soon as its length arrives, hands back
 * views of a chunk that completes items, and holds a large item's chunks until it is whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameReader, frameAll, unframeAll } from '../../api/framing.js';

test('FrameReader: any cut of a framed stream gives the items back, in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
      (items, cuts) => {
        const stream = frameAll(items);
        const reader = new FrameReader(300);
        const got: Uint8Array[] = [];
        for (let at = 0, i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length] as number;
          got.push(...reader.push(stream.subarray(at, at + size)).map((b) => b.slice()));
          at += size;
        }
        assert.deepEqual(got, items);
        assert.equal(reader.buffered, 0);
        // The same bytes in one piece, as unframeAll reads a whole body.
        const whole = unframeAll(stream, 100);
        assert.equal(whole.fault, null);
        assert.deepEqual(whole.items, items);
      },
    ),
    { numRuns: 300, seed: 20261130 },
  );
});

test('FrameReader: a frame over the bound is refused once its length is in, before its bytes', () => {
  const reader = new FrameReader(1_000);
  assert.deepEqual(reader.push(Uint8Array.of(0, 0)), []);
  assert.throws(() => reader.push(Uint8Array.of(0x03, 0xe9)), /a frame of 1001 bytes exceeds 1000/);
  // Exactly at the bound is fine; a zero-length frame (the block stream's keep-alive) is an empty item.
  const ok = new FrameReader(3);
  assert.deepEqual(ok.push(frameAll([Uint8Array.of(1, 2, 3), new Uint8Array(0)])), [Uint8Array.of(1, 2, 3), new Uint8Array(0)]);
});

test('FrameReader: items of one chunk are views of it; a large item in small chunks is held until whole', () => {
  const chunk = frameAll([Uint8Array.of(1, 2), Uint8Array.of(3)]);
  const views = new FrameReader(10).push(chunk);
  assert.ok(views.every((v) => v.buffer === chunk.buffer), 'no copy for what one chunk completes');

  const item = Uint8Array.from({ length: 1 << 20 }, (_, i) => i & 0xff);
  const stream = frameAll([item, Uint8Array.of(7)]);
  const reader = new FrameReader(1 << 20);
  let got: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += 4096) {
    got = got.concat(reader.push(stream.subarray(at, at + 4096)));
    // Until the item is whole, nothing comes out and everything sent is held.
    if (got.length === 0) assert.equal(reader.buffered, Math.min(stream.length, at + 4096));
  }
  assert.equal(got.length, 2);
  assert.deepEqual(got[0], item);
  assert.deepEqual(got[1], Uint8Array.of(7));
});

test('FrameReader: a partial frame it holds is its own copy, whatever the caller does with its buffer next', () => {
  const reader = new FrameReader(100);
  const wire = Buffer.from(frameAll([Uint8Array.of(1, 2, 3, 4, 5, 6)]));
  const chunk = Buffer.alloc(7);
  wire.copy(chunk, 0, 0, 7); // the length and three bytes of the item
  assert.deepEqual(reader.push(chunk), []);
  chunk.fill(0xee); // the caller reads into the same buffer again
  assert.deepEqual(reader.push(Buffer.from(wire.subarray(7))), [Uint8Array.of(1, 2, 3, 4, 5, 6)]);
});
