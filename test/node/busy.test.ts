/** node/busy.ts: the main thread's load as a leader sees it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventLoopBusy } from '../../node/busy.js';

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a task that holds the event loop, as a burst of work does
  }
}

test('eventLoopBusy: false after an idle window, true after one the loop spent running a task', async () => {
  const busy = eventLoopBusy(0.7, 100);
  assert.equal(busy(), false, 'no complete window yet: not busy');
  await sleep(150);
  assert.equal(busy(), false, 'an idle window');
  spin(150);
  assert.equal(busy(), true, 'a window held by one long task');
  assert.equal(busy(), true, 'the verdict holds until the next window completes');
  await sleep(150);
  assert.equal(busy(), false, 'idle again');
});
