import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSteleError, SteleError } from '../../ledger/errors.js';
import { devChain } from '../../ledger/devnet.js';
import { nodeView } from '../../node/view.js';
import type { Validator } from '../../node/validator.js';
import { makeChain } from '../support/fixtures.js';

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

test('blocks: a page of stored blocks decodes whole, each within the block bound (review, 2026-12-02: the page index was taken for the bound)', async () => {
  const { blocks } = makeChain(5, 3);
  const fake = {
    ledger: {
      genesis: devChain({ label: 'view' }).genesis,
      height: blocks.length,
      blockBytes: (h: number) => (blocks[h - 1] as (typeof blocks)[0]).bytes,
    },
  };
  const view = nodeView(fake as unknown as Validator, () => 'up'); // the fake has the members used here
  const page = await view.blocks(1, 100);
  assert.deepEqual(
    page.map((b) => b.header.height),
    [1, 2, 3, 4, 5],
  );
  for (const [i, b] of page.entries()) assert.deepEqual(b.hash, blocks[i]!.hash);
  assert.deepEqual((await view.blocks(4, 1)).map((b) => b.header.height), [4]);
  assert.deepEqual(await view.blocksBytes?.(2, 2), [blocks[1]!.bytes, blocks[2]!.bytes]);
});
