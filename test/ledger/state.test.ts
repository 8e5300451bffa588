import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toHex } from '../../ledger/assert.js';
import { MemoryState } from '../../ledger/state.js';

/** A txid key; `home` fixes the first four bytes (the table's hash) to force probe chains. */
function txidKey(rest: Uint8Array, home: number | null): string {
  const id = Uint8Array.from(rest);
  if (home !== null) new DataView(id.buffer).setUint32(0, home);
  return `txid/${toHex(id)}`;
}

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

test('MemoryState reads exactly as a plain map through sets, deletes and rebuilds of the txid table', () => {
  const op = fc.record({
    kind: fc.constantFrom('set', 'set', 'set', 'delete', 'get'),
    id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    // Few homes, so ids collide and probe past each other and past tombstones.
    home: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
    pick: fc.nat(),
    height: fc.integer({ min: 0, max: 2 ** 40 }),
    other: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(op, { minLength: 500, maxLength: 3000 }), (ops) => {
      const state = new MemoryState();
      const model = new Map<string, Uint8Array>();
      const keys: string[] = [];
      for (const o of ops) {
        // Reuse an earlier key half the time, so deletes and gets hit.
        const key = keys.length > 0 && o.pick % 2 === 0 ? (keys[o.pick % keys.length] as string) : o.other ? `acct/${toHex(o.id)}` : txidKey(o.id, o.home);
        if (o.kind === 'set') {
          keys.push(key);
          state.apply([{ key, value: u64(o.height) }]);
          model.set(key, u64(o.height));
        } else if (o.kind === 'delete') {
          state.apply([{ key, value: null }]);
          model.delete(key);
        } else {
          assert.deepEqual(state.get(key), model.get(key));
        }
      }
      assert.equal(state.size, model.size);
      for (const key of keys) assert.deepEqual(state.get(key), model.get(key));
    }),
    { numRuns: 60 },
  );
});

test('the txid table grows past many rebuilds and survives a window of deletes', () => {
  const state = new MemoryState();
  const ids: string[] = [];
  for (let i = 0; i < 50_000; i++) {
    const id = new Uint8Array(32);
    const view = new DataView(id.buffer);
    view.setUint32(0, Math.imul(i, 2654435761) >>> 0);
    view.setUint32(28, i);
    ids.push(`txid/${toHex(id)}`);
    state.apply([{ key: ids[i] as string, value: u64(i) }]);
    // A sliding window of 10,000, as expiry prunes ids.
    if (i >= 10_000) state.apply([{ key: ids[i - 10_000] as string, value: null }]);
  }
  assert.equal(state.size, 10_000);
  assert.equal(state.get(ids[39_999] as string), undefined);
  assert.deepEqual(state.get(ids[40_000] as string), u64(40_000));
  assert.deepEqual(state.get(ids[49_999] as string), u64(49_999));
  // Not a lowercase 64-digit id: an ordinary key, still read back.
  state.apply([{ key: 'txid/ABC', value: u64(1) }]);
  assert.deepEqual(state.get('txid/ABC'), u64(1));
});
