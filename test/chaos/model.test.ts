/** The chaos harness's pure checks (test/chaos/model.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeRefusal, modelWorkload, type Sent } from './model.js';

test('the model applies transfers in chain order and fails the one the balance does not cover', () => {
  const sent = new Map<string, Sent>([
    ['a', { type: 'transfer', from: 0, to: 1, amount: 60n }],
    ['b', { type: 'transfer', from: 0, to: 2, amount: 60n }], // 40 left: fails
    ['c', { type: 'transfer', from: 1, to: 1, amount: 160n }], // to oneself, covered: nets zero
    ['d', { type: 'transfer', from: 2, to: 1, amount: 101n }], // 100 held: fails
    ['e', { type: 'transfer', from: 2, to: 0, amount: 100n }],
  ]);
  const m = modelWorkload(['a', 'b', 'c', 'd', 'e', 'x'].map((id, k) => ({ id, height: k + 1 })), sent, 3, 100n);
  assert.deepEqual(m.balances, [140n, 160n, 0n]);
  assert.deepEqual([...m.failed].sort(), ['b', 'd']);
  // The order of the chain decides: b before a, and a fails instead.
  const swapped = modelWorkload(['b', 'a'].map((id, k) => ({ id, height: k + 1 })), sent, 3, 100n);
  assert.deepEqual([...swapped.failed], ['a']);
  assert.deepEqual(swapped.balances, [40n, 100n, 160n]);
  assert.throws(() => modelWorkload([{ id: 'z', height: 1 }], new Map([['z', { type: 'transfer', from: 0, to: 3, amount: 1n }]]), 3, 1n), RangeError);
});

test('the model keeps the last put of each key', () => {
  const sent = new Map<string, Sent>([
    ['p1', { type: 'put', owner: 0, key: 'c0/k1', data: '01' }],
    ['p2', { type: 'put', owner: 0, key: 'c0/k1', data: '02' }],
    ['p3', { type: 'put', owner: 1, key: 'c0/k1', data: '03' }],
  ]);
  const m = modelWorkload([{ id: 'p1', height: 4 }, { id: 'p2', height: 9 }, { id: 'p3', height: 9 }], sent, 2, 0n);
  assert.deepEqual(m.records.get('0/c0/k1'), { height: 9, data: '02', id: 'p2' });
  assert.deepEqual(m.records.get('1/c0/k1'), { height: 9, data: '03', id: 'p3' });
  assert.equal(m.records.size, 2);
  assert.equal(m.failed.size, 0);
});

test('a refusal without a place must be in no block; one with a place must be failed there', () => {
  const code = 'TX_INSUFFICIENT_BALANCE';
  assert.equal(judgeRefusal({ code }, undefined, undefined), 'final');
  // Refused at admission, yet in a block: as failed with the same code, or applied.
  assert.equal(judgeRefusal({ code }, { height: 3, index: 0 }, code), 'refused_but_in_chain');
  assert.equal(judgeRefusal({ code }, { height: 3, index: 0 }, undefined), 'refused_but_in_chain');
  assert.equal(judgeRefusal({ code, height: 3, index: 1 }, { height: 3, index: 1 }, code), 'at_place');
  assert.equal(judgeRefusal({ code, height: 3, index: 1 }, { height: 3, index: 2 }, code), 'refused_but_in_chain');
  assert.equal(judgeRefusal({ code, height: 3, index: 1 }, { height: 3, index: 1 }, 'TX_UNKNOWN_RECIPIENT'), 'refused_but_in_chain');
  assert.equal(judgeRefusal({ code, height: 3, index: 1 }, { height: 3, index: 1 }, undefined), 'refused_but_in_chain');
  assert.equal(judgeRefusal({ code, height: 3, index: 1 }, undefined, undefined), 'placed_but_absent');
});
