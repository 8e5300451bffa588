import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loopbackRoundTripP50Ms } from '../../bench/loopback.js';

test('a loopback round trip to a child process takes a positive time under a second', async () => {
  const p50 = await loopbackRoundTripP50Ms(256, 50, 10);
  assert.ok(p50 > 0 && p50 < 1000, `p50 ${p50} ms`);
});
