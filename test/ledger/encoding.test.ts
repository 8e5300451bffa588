import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ownCopy, Reader, Writer } from '../../ledger/encoding.js';
import { bytesToFill, copyBytes } from '../../ledger/assert.js';
import { Kind } from '../../ledger/constants.js';
import { isSteleError } from '../../ledger/errors.js';

test('primitive round trip: every field type, both ways', () => {
  fc.assert(
    fc.property(
      fc.record({
        a: fc.integer({ min: 0, max: 255 }),
        b: fc.integer({ min: 0, max: 65535 }),
        c: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        d: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        e: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        f: fc.boolean(),
        g: fc.uint8Array({ maxLength: 100 }),
        h: fc.string({ unit: 'grapheme', maxLength: 30 }),
      }),
      (v) => {
        const bytes = new Writer(4).envelope(Kind.TX).u8(v.a).u16(v.b).u32(v.c).u64(v.d).u64n(v.e).bool(v.f).bytes(v.g, 100).str(v.h, 200).finish();
        const r = new Reader(bytes, 10_000, 't');
        r.envelope(Kind.TX);
        const back = { a: r.u8('a'), b: r.u16('b'), c: r.u32('c'), d: r.u64('d'), e: r.u64n('e'), f: r.bool('f'), g: Uint8Array.from(r.bytesField(100, 'g')), h: r.str(200, 'h') };
        r.end();
        assert.deepEqual(back, { ...v });
      },
    ),
  );
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isSteleError(error), `expected SteleError, got ${String(error)}`);
    return error.code;
  }
  return 'none';
}

test('precise typed errors: truncation, trailing, bounds, version, kind, booleans, UTF-8', () => {
  const ok = new Writer().envelope(Kind.TX).u32(7).finish();
  assert.equal(code(() => new Reader(ok.subarray(0, 5), 100, 't').envelope(Kind.TX) as unknown as void), 'none');
  const trunc = new Reader(ok.subarray(0, 5), 100, 't');
  trunc.envelope(Kind.TX);
  assert.equal(code(() => trunc.u32('x')), 'ENC_TRUNCATED');
  const trailing = new Reader(Uint8Array.of(1, 2, 0), 100, 't');
  trailing.envelope(Kind.TX);
  assert.equal(code(() => trailing.end()), 'ENC_TRAILING');
  assert.equal(code(() => new Reader(new Uint8Array(101), 100, 't')), 'ENC_TOO_LARGE');
  assert.equal(code(() => new Reader(Uint8Array.of(2, 2), 100, 't').envelope(Kind.TX)), 'ENC_BAD_VERSION');
  assert.equal(code(() => new Reader(Uint8Array.of(1, 3), 100, 't').envelope(Kind.TX)), 'ENC_BAD_KIND');
  assert.equal(code(() => new Reader(Uint8Array.of(2), 100, 't').bool('b')), 'ENC_NON_CANONICAL');
  assert.equal(code(() => new Reader(Uint8Array.of(0, 0, 0, 2, 0xc3, 0x28), 100, 't').str(10, 's')), 'ENC_BAD_UTF8');
  assert.equal(code(() => new Reader(Uint8Array.of(0, 0, 0, 11), 100, 't').bytesField(10, 'b')), 'ENC_TOO_LARGE');
  assert.equal(code(() => new Reader(Uint8Array.of(0, 0x20, 0, 0, 0, 0, 0, 0), 100, 't').u64('h')), 'ENC_OUT_OF_RANGE');
  // A count that could not fit in what is left is refused before allocating.
  assert.equal(code(() => new Reader(Uint8Array.of(0, 0, 0x10, 0), 100, 't').count(1_000_000, 32, 'n')), 'ENC_TRUNCATED');
  assert.equal(code(() => new Reader(Uint8Array.of(0, 0x10, 0, 0), 100, 't').count(1_000, 32, 'n')), 'ENC_TOO_LARGE');
});

test('errors name the field path and the byte offset', () => {
  const r = new Reader(Uint8Array.of(1, 2, 0, 0), 100, 'tx');
  r.envelope(Kind.TX);
  try {
    r.u32('payload.amount');
    assert.fail('should throw');
  } catch (error) {
    assert.ok(isSteleError(error, 'ENC_TRUNCATED'));
    assert.equal(error.details.field, 'tx.payload.amount');
    assert.equal(error.details.offset, 2);
  }
});

test('the writer refuses values outside the schema (programmer errors are RangeErrors)', () => {
  assert.throws(() => new Writer().u8(256), RangeError);
  assert.throws(() => new Writer().u64(2 ** 53), RangeError);
  assert.throws(() => new Writer().u64n(2n ** 64n), RangeError);
  assert.throws(() => new Writer().bytes(new Uint8Array(11), 10), RangeError);
  assert.throws(() => new Writer().fixed(new Uint8Array(3), 4), RangeError);
});

test('ownCopy: refuses more than the bound without copying, and copies even a Buffer view (whose slice shares memory)', () => {
  const source = Buffer.from([1, 2, 3, 4]).subarray(1, 3);
  const copy = ownCopy(source, 2, 'x');
  assert.ok(!(copy instanceof Buffer));
  source[0] = 9;
  assert.deepEqual([...copy], [2, 3], 'the copy does not change with its source');
  assert.throws(() => ownCopy(source, 1, 'x'), (e: unknown) => isSteleError(e, 'ENC_TOO_LARGE'));
});

test('bytesToFill and copyBytes give plain Uint8Arrays over memory of their own, whatever the size; a Writer exposes only what it wrote', () => {
  for (const n of [0, 1, 4_095, 4_096, 70_000]) {
    const b = bytesToFill(n);
    assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype, `${n}: not a Buffer`);
    assert.deepEqual([b.length, b.byteOffset, b.buffer.byteLength], [n, 0, n]);
    const src = Uint8Array.from({ length: n }, (_, i) => i % 251);
    const copy = copyBytes(src);
    assert.notEqual(copy.buffer, src.buffer);
    assert.deepEqual(copy, src);
    assert.equal(Object.getPrototypeOf(copy), Uint8Array.prototype);
  }
  // A Writer whose buffer was not zeroed: growing and finishing show only the written bytes.
  const w = new Writer(8_192);
  for (let i = 0; i < 3_000; i++) w.u32(i);
  const out = w.finish();
  assert.equal(out.length, 12_000);
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < 3_000; i++) assert.equal(view.getUint32(i * 4), i);
});
