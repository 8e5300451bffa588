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
