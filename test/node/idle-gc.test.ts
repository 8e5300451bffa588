import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { idleCollector } from '../../node/idle-gc.js';

test('idle collector: one collection per idle spell, none while progress moves, nothing without gc', async () => {
  let busy = true;
  let n = 0;
  let checks = 0;
  let collections = 0;
  // While busy, every check sees progress (a commit since the last check).
  const c = idleCollector(() => (checks++, busy ? ++n : n), () => collections++, 10);
  while (checks < 10) await sleep(10);
  assert.equal(collections, 0);
  // Idle for many checks: exactly one collection.
  busy = false;
  const idleFrom = checks;
  while (checks < idleFrom + 10) await sleep(10);
  assert.equal(collections, 1);
  // Busy again, then idle again: one more.
  n++;
  const again = checks;
  while (checks < again + 10) await sleep(10);
  assert.equal(collections, 2);
  c.stop();
  n++;
  await sleep(60);
  assert.equal(collections, 2, 'stopped');
  // Without an exposed collector it does nothing at all (and never calls progress again).
  const before = checks;
  idleCollector(() => checks++, undefined, 5);
  await sleep(30);
  assert.ok(checks <= before + 1);
});
