import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toHex } from '../../ledger/assert.js';
import { MemoryState } from '../../ledger/state.js';

/**
 * A txid key; `home` fixes bytes 8 to 15 (all that the table's keyed home reads), so ids of
 * one `home` share a slot whatever the key, to force probe chains.
 */
function txidKey(rest: Uint8Array, home: number | null): string {
  const id = Uint8Array.from(rest);
  if (home !== null) new DataView(id.buffer).setBigUint64(8, BigInt(home));
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

/** A txat key as machine.ts writes it. */
function txatKey(height: number): string {
  return `txat/${height.toString().padStart(16, '0')}`;
}

test('MemoryState holds blocks of committed ids compactly and still reads exactly as a plain map', () => {
  // Ids from a small pool (so ids repeat across blocks), a third of them sharing a home.
  const pool = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 8, maxLength: 40 });
  const step = fc.record({
    // 'both': a prune and a new block in one write set, as every sealBlock of a full window
    // makes (review of 2026-12-02: no step did both).
    kind: fc.constantFrom('block', 'block', 'block', 'block', 'prune', 'prune', 'both', 'both', 'odd'),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
    // Per id of a block: 0-7 canonical txid set, 8 no txid set, 9 another value.
    shapes: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 6, maxLength: 6 }),
    gap: fc.integer({ min: 1, max: 3 }),
    keepSome: fc.boolean(),
    odd: fc.integer({ min: 0, max: 9 }),
    n: fc.nat(),
  });
  fc.assert(
    fc.property(pool, fc.array(step, { minLength: 20, maxLength: 120 }), fc.boolean(), (rawPool, steps, strict) => {
      const ids = rawPool.map((id, i) => {
        const out = Uint8Array.from(id);
        if (i % 3 === 0) out.set([0, 0, 0, 7]);
        return out;
      });
      const state = new MemoryState();
      const model = new Map<string, Uint8Array>();
      const touched = new Set<string>();
      let newest = 0;
      let everOdd = false;
      const heights: number[] = []; // txat heights written, oldest first (model's view may differ)
      for (const s of steps) {
        const writes = new Map<string, Uint8Array | null>();
        const addBlock = (): void => {
          newest += s.gap;
          const list = s.picks.map((p) => ids[p % ids.length] as Uint8Array);
          const bytes = new Uint8Array(list.length * 32);
          list.forEach((id, i) => bytes.set(id, i * 32));
          writes.set(txatKey(newest), bytes);
          heights.push(newest);
          list.forEach((id, i) => {
            const shape = s.shapes[i] as number;
            if (shape === 8) return;
            writes.set(`txid/${toHex(id)}`, shape === 9 ? u64(s.n % 1000) : u64(newest));
          });
        };
        const addPrune = (): void => {
          // The oldest one or two blocks (a block of a write set may prune what an empty one did not).
          for (let k = 0; k < 1 + (s.n % 2); k++) {
            const old = heights.shift();
            if (old === undefined) break;
            const raw = model.get(txatKey(old));
            writes.set(txatKey(old), null);
            if (raw === undefined) continue;
            for (let at = 0; at < raw.length; at += 32) {
              // Sometimes an id of the pruned block stays: it must still read back after the prune.
              if (s.keepSome && at === 0) continue;
              writes.set(`txid/${toHex(raw.subarray(at, at + 32))}`, null);
            }
          }
        };
        if (s.kind === 'block') addBlock();
        else if (s.kind === 'prune') addPrune();
        else if (s.kind === 'both') {
          // Pruned first, as sealBlock does; an id of the new block may be one the prune
          // deletes: the new block's set of it wins (a write set holds each key once).
          addPrune();
          addBlock();
        } else {
          // Odd write sets machine.ts never makes; in strict runs only those that keep the
          // compact structure, otherwise also those that make it give up.
          const id = ids[s.n % ids.length] as Uint8Array;
          const odd = strict ? s.odd % 4 : s.odd;
          if (odd === 0) writes.set(`txid/${toHex(id)}`, u64(s.n));
          else if (odd === 1) writes.set(`txid/${toHex(id)}`, null);
          else if (odd === 2) writes.set('txid/ABC', u64(s.n));
          else if (odd === 3) writes.set(`txat/${s.n}`, u64(s.n));
          else if (odd === 4 && heights.length > 2) {
            // Out of order: the oldest and the third oldest in one write set, or the second alone.
            if (s.n % 2 === 0) writes.set(txatKey(heights.shift() as number), null);
            writes.set(txatKey(heights.splice(1, 1)[0] as number), null);
          }
          else if (odd === 5) writes.set(txatKey(Math.max(1, newest - (s.n % 3))), id);
          else if (odd === 6) writes.set(txatKey(++newest), new Uint8Array(0));
          else if (odd === 7) writes.set(txatKey(++newest), new Uint8Array(33));
          else writes.set(`acct/${s.n % 5}`, u64(s.n));
          everOdd ||= odd >= 4;
        }
        const list = [...writes].map(([key, value]) => ({ key, value }));
        // Write sets arrive sorted from machine.ts and from the store; shuffled ones must mean the same.
        if (s.n % 2 === 0) list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        else list.reverse();
        state.apply(list);
        for (const { key, value } of list) {
          touched.add(key);
          if (value === null) model.delete(key);
          else model.set(key, value);
        }
        for (const key of touched) assert.deepEqual(state.get(key), model.get(key), key);
        assert.equal(state.size, model.size);
      }
      if (strict && !everOdd) assert.equal(state.compactIds, true, 'machine-shaped write sets keep the compact structure');
      // A restart reads the whole state back in one sorted write set (store.ts).
      const restored = new MemoryState();
      restored.apply([...model].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => ({ key, value })));
      for (const key of touched) assert.deepEqual(restored.get(key), model.get(key), key);
      assert.equal(restored.size, model.size);
    }),
    { numRuns: 300 },
  );
});

test('a block pruned out of order makes MemoryState give up the compact ids, losing nothing', () => {
  const state = new MemoryState();
  const id = (n: number) => {
    const out = new Uint8Array(32);
    out[31] = n;
    return out;
  };
  for (let h = 1; h <= 3; h++) state.apply([{ key: txatKey(h), value: id(h) }, { key: `txid/${toHex(id(h))}`, value: u64(h) }]);
  assert.equal(state.compactIds, true);
  assert.deepEqual(state.get(`txid/${toHex(id(2))}`), u64(2));
  assert.deepEqual(state.get(txatKey(3)), id(3));
  state.apply([{ key: txatKey(2), value: null }]);
  assert.equal(state.compactIds, false);
  assert.equal(state.get(txatKey(2)), undefined);
  assert.deepEqual(state.get(txatKey(1)), id(1));
  for (let h = 1; h <= 3; h++) assert.deepEqual(state.get(`txid/${toHex(id(h))}`), u64(h));
  assert.equal(state.size, 5);
});
