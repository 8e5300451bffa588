import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoopDelayMonitor } from '../../node/loop-delay.js';

test('event-loop delay: a window in which the loop was held 150 ms reports it; a quiet one reports little', async () => {
  const monitor = new LoopDelayMonitor(400);
  monitor.start();
  try {
    assert.equal(monitor.last, null, 'nothing before the first window ends');
    await sleep(50);
    const until = performance.now() + 150;
    while (performance.now() < until) {
      // hold the loop, as a long task or a collection would
    }
    for (let t = 0; t < 100 && monitor.last === null; t++) await sleep(20);
    const held = monitor.last!;
    assert.ok(held.maxMs >= 100, `longest delay ${held.maxMs} ms after holding the loop 150 ms`);
    assert.ok(held.p50Ms <= held.p99Ms && held.p99Ms <= held.maxMs);
    await sleep(900); // two more windows, the loop free
    assert.ok(monitor.last!.maxMs < 100, `longest delay ${monitor.last!.maxMs} ms in a quiet window`);
  } finally {
    monitor.stop();
  }
});
