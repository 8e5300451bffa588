import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSteleError, SteleError } from '../../ledger/errors.js';
import { devChain } from '../../ledger/devnet.js';
import { nodeView } from '../../node/view.js';
import type { Validator } from '../../node/validator.js';

test('waitForCommit: a timeout while the committed-location lookup is slow reaches the caller, never as an unhandled rejection', async () => {
  let unhandled = 0;
  const count = (): void => {
    unhandled++;
  };
  process.on('unhandledRejection', count);
  try {
    // Only what nodeView and waitForCommit touch (the lookup outlasts the wait, as on a stalled disk).
    const fake = {
      ledger: { genesis: devChain({ label: 'view' }).genesis },
      waitForCommit: (_id: string, ms: number) => new Promise((_, reject) => setTimeout(() => reject(new SteleError('COMMIT_TIMEOUT', 'did not commit')), ms)),
      location: () => sleep(60, undefined),
    };
    const view = nodeView(fake as unknown as Validator, () => 'up'); // the fake has the members used here
    await assert.rejects(view.waitForCommit(new Uint8Array(32), 10), (e: unknown) => isSteleError(e, 'COMMIT_TIMEOUT'));
    await sleep(20);
    assert.equal(unhandled, 0);
  } finally {
    process.off('unhandledRejection', count);
  }
});

test('a transaction indexed at a height the tip has not reached yet reads as pending, not as a failed block read', async () => {
  let height = 4;
  const fake = {
    ledger: {
      genesis: devChain({ label: 'view' }).genesis,
      get height() {
        return height;
      },
      block: (h: number) => {
        throw new RangeError(`block ${h} is past the height ${height}`);
      },
    },
    transaction: async () => ({ status: 'committed', height: 5, index: 0 }),
    location: async () => ({ height: 5, index: 0, failed: null }),
    waitForCommit: () => new Promise((resolve) => setTimeout(() => resolve({ height: 5, index: 0 }), 20)),
  };
  const view = nodeView(fake as unknown as Validator, () => 'up'); // the fake has the members used here
  assert.deepEqual(await view.transaction(new Uint8Array(32)), { status: 'pending' });
  // waitForCommit does not answer from the index alone while the tip is behind it: it waits.
  const started = performance.now();
  assert.deepEqual(await view.waitForCommit(new Uint8Array(32), 1000), { height: 5, index: 0 });
  assert.ok(performance.now() - started >= 15, 'answered by the commit, not by the early index entry');
  height = 5;
  await assert.rejects(async () => view.transaction(new Uint8Array(32)), RangeError); // now it reads the block (the fake has none)
});
