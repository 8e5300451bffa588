/**
 * Every decoder: round trips both ways on random valid values, and fuzzing with random and
 * mutated bytes that may only ever produce a SteleError with an ENC_* code (never another
 * exception, never a crash or hang). Wrong-typed inputs produce TypeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTx, decodeTxBody, decodeTxs, encodeTx, encodeTxBody, type Payload } from '../../ledger/tx.js';
import { decodeBlock, decodeHeader, encodeBlock, encodeHeader, type Block } from '../../ledger/block.js';
import { Writer } from '../../ledger/encoding.js';
import { decodeWriteSet, encodeWriteSet, type Write } from '../../ledger/state.js';
import { isSteleError } from '../../ledger/errors.js';
import { Kind, STATE_KEY_BYTES_MAX, TX_BYTES_MAX } from '../../ledger/constants.js';
import { HOSTILE_VALUES, hostileBytes } from '../support/hostile.js';
import { alice, bob, carol, chain, makeChain, tx } from '../support/fixtures.js';

const key = fc.constantFrom(alice.publicKey, bob.publicKey, carol.publicKey);
const asset = fc.stringMatching(/^[A-Z][A-Z0-9]{0,11}$/);
const amount = fc.bigInt({ min: 1n, max: 2n ** 64n - 1n });
const payload: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({ type: fc.constant('register' as const), publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }), name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), roles: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ type: fc.constant('revoke' as const), publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
  fc.record({ type: fc.constant('issue' as const), asset, to: key, amount }),
  fc.record({ type: fc.constant('transfer' as const), from: key, asset, to: key, amount }),
  fc.record({
    type: fc.constant('put' as const),
    owner: key,
    key: fc.stringMatching(/^[\x21-\x7e]{1,60}$/),
    value: fc.oneof(
      fc.record({ kind: fc.constant('inline' as const), data: fc.uint8Array({ maxLength: 300 }) }),
      fc.record({ kind: fc.constant('sha256' as const), digest: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
    ),
  }),
);

/** Compares values across prototypes (fast-check records have none). */
function normalize(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

function onlyTyped(fn: () => unknown): void {
  decodedOrRefused(fn);
}

/** What `fn` decoded, or null when it refused the bytes with an ENC_* error; anything else is rethrown. */
function decodedOrRefused<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (error) {
    if (isSteleError(error) && error.code.startsWith('ENC_')) return null;
    throw error;
  }
}

/** A signed transaction's encoding rebuilt from its decoded parts (not from its `bytes`). */
function reencodedTx(t: { bodyBytes: Uint8Array; signatures: readonly Uint8Array[] }): Uint8Array {
  return encodeTx(t.bodyBytes, t.signatures);
}

/** A block's encoding rebuilt from its decoded parts (not from its `bytes`). */
function reencodedBlock(b: Block): Uint8Array {
  return encodeBlock(b.headerBytes, b.proposerSignature, b.txs, b.certificate);
}

function mutate(bytes: Uint8Array, how: number, at: number, value: number): Uint8Array {
  const i = bytes.length === 0 ? 0 : at % bytes.length;
  switch (how) {
    case 0: {
      const out = Uint8Array.from(bytes);
      out[i] = value;
      return out;
    }
    case 1:
      return bytes.subarray(0, i);
    case 2:
      return Uint8Array.from([...bytes, value]);
    case 3:
      return Uint8Array.from([...bytes.subarray(0, i), value, ...bytes.subarray(i)]);
    default:
      return Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + 1)]);
  }
}

test('transaction body and signed transaction: decode(encode(x)) = x and encode(decode(b)) = b', () => {
  fc.assert(
    fc.property(payload, fc.integer({ min: 0, max: 2 ** 40 }), (p, expiry) => {
      const t = tx(p, [alice, bob], expiry);
      const back = decodeTx(t.bytes);
      assert.deepEqual(reencodedTx(back), t.bytes);
      assert.deepEqual(back.id, t.id);
      assert.deepEqual(encodeTxBody(back.body), t.bodyBytes);
      assert.equal(normalize(decodeTxBody(t.bodyBytes).payload), normalize(p));
      assert.equal(normalize(back.body.payload), normalize(p));
      assert.deepEqual(encodeTxBody({ ...back.body, payload: p }), t.bodyBytes);
    }),
    { numRuns: 200 },
  );
});

test('transaction decoders: random and mutated bytes give only ENC_* errors', () => {
  const samples = [
    tx({ type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 5n }, [alice]).bytes,
    tx({ type: 'put', owner: alice.publicKey, key: 'x', value: { kind: 'inline', data: new Uint8Array(40) } }, [alice, bob]).bytes,
  ];
  fc.assert(
    fc.property(fc.constantFrom(...samples), fc.integer({ min: 0, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (b, how, at, v) => {
      const m = mutate(b, how, at, v);
      onlyTyped(() => decodeTx(m));
      onlyTyped(() => decodeTxBody(m));
      // A mutation that still decodes must re-encode to the very same bytes.
      const t = decodedOrRefused(() => decodeTx(m));
      if (t !== null) {
        assert.deepEqual(reencodedTx(t), m);
        assert.deepEqual(encodeTxBody(t.body), t.bodyBytes);
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
      onlyTyped(() => decodeTx(b));
      onlyTyped(() => decodeBlock(b));
      onlyTyped(() => decodeHeader(b));
      onlyTyped(() => decodeWriteSet(b));
    }),
    { numRuns: 1000 },
  );
  for (const b of hostileBytes()) {
    onlyTyped(() => decodeTx(b));
    onlyTyped(() => decodeBlock(b));
    onlyTyped(() => decodeWriteSet(b));
  }
});

test('decodeTxs: each item as decodeTx decodes it (same id, same error code), in place', () => {
  const samples = [
    tx({ type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 5n }, [alice]).bytes,
    tx({ type: 'put', owner: alice.publicKey, key: 'x', value: { kind: 'inline', data: new Uint8Array(40) } }, [alice, bob]).bytes,
  ];
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...samples), fc.integer({ min: 0, max: 5 }), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), (specs) => {
      // how 5: the sample unchanged; 0-4: a mutation, which may or may not still decode.
      const items = specs.map(([b, how, at, v]) => (how === 5 ? b : mutate(b, how, at, v)));
      const together = decodeTxs(items);
      assert.equal(together.length, items.length);
      items.forEach((bytes, i) => {
        const got = together[i];
        let alone: ReturnType<typeof decodeTx> | string;
        try {
          alone = decodeTx(bytes);
        } catch (error) {
          assert.ok(isSteleError(error));
          alone = error.code;
        }
        if (typeof alone === 'string') assert.ok(isSteleError(got) && got.code === alone, `item ${i}: ${alone}`);
        else {
          assert.ok(got !== undefined && !isSteleError(got));
          assert.deepEqual(got.id, alone.id);
          assert.equal(got.idHex, alone.idHex);
          assert.deepEqual(got.bytes, alone.bytes);
          assert.notEqual(got.bytes.buffer, bytes.buffer, 'a copy, not a view of the input');
        }
      });
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(decodeTxs([]), []);
  const huge = decodeTxs([new Uint8Array(TX_BYTES_MAX + 1), samples[0] as Uint8Array]);
  assert.ok(isSteleError(huge[0], 'ENC_TOO_LARGE'));
  assert.ok(!isSteleError(huge[1]));
});

test('oversize input is refused before any work', () => {
  const huge = new Uint8Array(TX_BYTES_MAX + 1);
  huge[0] = 1;
  huge[1] = 2;
  assert.throws(() => decodeTx(huge), (e: unknown) => isSteleError(e, 'ENC_TOO_LARGE'));
  const small = tx({ type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 5n }, [alice]).bytes;
  assert.throws(() => decodeTx(small, 10), (e: unknown) => isSteleError(e, 'ENC_TOO_LARGE'));
});

test('hostile values (wrong types, proxies, fake arrays) give TypeError or a typed error, never a crash', () => {
  for (const [i, value] of HOSTILE_VALUES.entries()) {
    for (const decode of [decodeTx, decodeTxBody, decodeBlock, decodeHeader, decodeWriteSet] as Array<(b: Uint8Array) => unknown>) {
      assert.throws(
        () => decode(value as Uint8Array),
        (error: unknown) => error instanceof TypeError || (isSteleError(error) && error.code.startsWith('ENC_')),
        `${decode.name}(HOSTILE_VALUES[${i}])`,
      );
    }
  }
});

test('non-canonical transactions are refused: unsorted signers, unknown types, zero amounts, bad roles', () => {
  const good = tx({ type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 5n }, [alice, bob]);
  // Swap the two signer keys in the body (signers start after version, kind, chain id, type, count).
  const body = Uint8Array.from(good.bodyBytes);
  const at = 2 + 4 + chain.genesis.chainId.length + 1 + 4;
  const first = body.slice(at, at + 32);
  body.set(body.slice(at + 32, at + 64), at);
  body.set(first, at + 32);
  assert.throws(() => decodeTxBody(body), (e: unknown) => isSteleError(e, 'ENC_NON_CANONICAL'));
  const unknown = Uint8Array.from(good.bodyBytes);
  unknown[2 + 4 + chain.genesis.chainId.length] = 9;
  assert.throws(() => decodeTxBody(unknown), (e: unknown) => isSteleError(e, 'ENC_BAD_TAG') && /unknown type 9/.test(e.message));
  // A transfer's payload read as a deploy (type 6) is refused precisely, not misread.
  const asDeploy = Uint8Array.from(good.bodyBytes);
  asDeploy[2 + 4 + chain.genesis.chainId.length] = 6;
  assert.throws(() => decodeTxBody(asDeploy), (e: unknown) => isSteleError(e) && e.code.startsWith('ENC_'));
  const zero = Uint8Array.from(good.bodyBytes);
  zero.fill(0, zero.length - 8);
  assert.throws(() => decodeTxBody(zero), (e: unknown) => isSteleError(e, 'ENC_OUT_OF_RANGE'));
  // Record keys are printable ASCII without the space, the alphabet of the state keys they
  // become part of (review, 2026-11-30: a space or a non-ASCII character was accepted).
  for (const bad of ['a b', '\uFFFD', '\u{1F600}', 'tab\there']) {
    assert.throws(() => tx({ type: 'put', owner: alice.publicKey, key: bad, value: { kind: 'inline', data: new Uint8Array(1) } }, [alice]), RangeError, bad);
  }
  const put = tx({ type: 'put', owner: alice.publicKey, key: 'a_b', value: { kind: 'inline', data: new Uint8Array(1) } }, [alice]);
  const spaced = Uint8Array.from(put.bodyBytes);
  const underscore = Buffer.from(spaced).indexOf('a_b') + 1;
  spaced[underscore] = 0x20;
  assert.throws(() => decodeTxBody(spaced), (e: unknown) => isSteleError(e, 'ENC_BAD_TEXT') && /payload\.key/.test(e.message));
  assert.equal(decodeTxBody(put.bodyBytes).payload.type, 'put');
  assert.throws(() => tx({ type: 'register', publicKey: carol.publicKey, name: 'x', roles: 4 }, [alice]), RangeError);
  assert.throws(() => tx({ type: 'transfer', from: alice.publicKey, asset: 'bad', to: bob.publicKey, amount: 1n }, [alice]), RangeError);
});

test('blocks: round trip, and mutated blocks give only ENC_* errors', () => {
  const { blocks } = makeChain(2, 5);
  for (const b of blocks) {
    const back = decodeBlock(b.bytes);
    assert.deepEqual(reencodedBlock(back), b.bytes);
    assert.deepEqual(encodeHeader(back.header), back.headerBytes);
    assert.deepEqual(back.hash, b.hash);
    assert.equal(back.txs.length, 5);
  }
  const sample = (blocks[1] as { bytes: Uint8Array }).bytes;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (how, at, v) => {
      const m = mutate(sample, how, at, v);
      const b = decodedOrRefused(() => decodeBlock(m));
      if (b !== null) {
        assert.deepEqual(reencodedBlock(b), m);
        assert.deepEqual(encodeHeader(b.header), b.headerBytes);
      }
    }),
    { numRuns: 1500 },
  );
});

test('write sets: round trip and canonical order enforced', () => {
  const ws: Write[] = [
    { key: 'a/1', value: Uint8Array.of(1) },
    { key: 'b', value: null },
    { key: 'c/x', value: new Uint8Array(0) },
  ];
  const bytes = encodeWriteSet(ws);
  assert.deepEqual(decodeWriteSet(bytes), ws);
  assert.deepEqual(encodeWriteSet(decodeWriteSet(bytes)), bytes);
  // Keys out of order, and a key twice: both refused, naming the second entry's key.
  const byHand = (keys: string[]) => {
    const w = new Writer(64).envelope(Kind.WRITE_SET).u32(keys.length);
    for (const k of keys) w.str(k, STATE_KEY_BYTES_MAX).bool(false);
    return w.finish();
  };
  assert.deepEqual(decodeWriteSet(byHand(['a', 'b'])), [{ key: 'a', value: null }, { key: 'b', value: null }]);
  for (const keys of [['b', 'a'], ['a', 'a']]) {
    assert.throws(() => decodeWriteSet(byHand(keys)), (e: unknown) => isSteleError(e, 'ENC_NON_CANONICAL') && /entries\[1\]\.key/.test(e.message), keys.join(','));
  }
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (how, at, v) => {
      onlyTyped(() => decodeWriteSet(mutate(bytes, how, at, v)));
    }),
    { numRuns: 500 },
  );
});

test('blocks and write sets are encoded into a buffer of exactly their size (no copy at finish), and decode back', () => {
  const { blocks } = makeChain(3, 5);
  for (const b of blocks) {
    for (const certificate of [[], b.certificate]) {
      const bytes = encodeBlock(b.headerBytes, b.proposerSignature, b.txs, certificate);
      assert.equal(bytes.buffer.byteLength, bytes.length, 'the Writer was given the exact size');
      assert.deepEqual(decodeBlock(bytes).certificate, certificate);
    }
  }
  const writes: Write[] = [
    { key: 'bal/aa/STL', value: new Uint8Array([1, 2, 3]) },
    { key: 'rec/x', value: null },
    { key: 'txid/ff', value: new Uint8Array(40) },
  ];
  const ws = encodeWriteSet(writes);
  assert.equal(ws.buffer.byteLength, ws.length);
  assert.deepEqual(decodeWriteSet(ws), writes);
  // A Writer is spent by finish(): writing to it again, or finishing it twice, is a broken
  // invariant (the result it handed over is never written again).
  const w = new Writer(4).u32(7);
  const first = w.finish();
  assert.throws(() => w.u32(9), /invariant broken: a Writer is not written after finish/);
  assert.throws(() => w.finish(), /invariant broken: a Writer is finished once/);
  assert.deepEqual([...first], [0, 0, 0, 7]);
});
