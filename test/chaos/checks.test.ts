/** The chaos harness's checks over what it recorded during a run (test/chaos/checks.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkObserved, type Observation } from './checks.js';

const chains = [
  ['h1', 'h2', 'h3', 'h4'],
  ['h1', 'h2', 'h3', 'h4'],
  ['h1', 'h2', 'h3', 'h4'],
];

test('observed blocks: every block a validator reported as committed is in its final chain there', () => {
  const observed: Observation[] = [
    { node: 0, height: 1, hash: 'h1', at: 1 },
    { node: 1, height: 3, hash: 'h3', at: 2 },
    { node: 2, height: 4, hash: 'h4', at: 3 },
    { node: 1, height: 4, hash: 'h4', at: 4 },
  ];
  assert.deepEqual(checkObserved(observed, chains), []);
  assert.deepEqual(checkObserved([], chains), []);
});

test('observed blocks: a committed block replaced, or lost and not caught up, is a mismatch', () => {
  // v2 reported x3 at height 3, lost it (a recovery that cut too much) and caught up h3
  // from its peers: its final chain agrees with the others, yet it replaced a committed block.
  const replaced: Observation = { node: 1, height: 3, hash: 'x3', at: 5 };
  assert.deepEqual(checkObserved([{ node: 0, height: 2, hash: 'h2', at: 4 }, replaced], chains), [{ ...replaced, final: 'h3' }]);
  // v3 reported height 5 committed; its final chain ends at 4.
  const beyond: Observation = { node: 2, height: 5, hash: 'h5', at: 6 };
  assert.deepEqual(checkObserved([beyond], chains), [{ ...beyond, final: null }]);
  // Compared with that validator's own chain, not another's.
  const own = [['h1'], ['h1', 'y2'], ['h1']];
  assert.deepEqual(checkObserved([{ node: 1, height: 2, hash: 'y2', at: 7 }], own), []);
  assert.equal(checkObserved([{ node: 0, height: 2, hash: 'y2', at: 7 }], own).length, 1);
});
