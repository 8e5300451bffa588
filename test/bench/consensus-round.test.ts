import { test } from 'node:test';
import assert from 'node:assert/strict';
import { steleRound } from '../../bench/consensus-round.js';

// bench:consensus's Stele round over three real peer processes, kept short: one that
// goes well is counted; one that loses a peer, follower or leader, is not.

test('a Stele round with every peer alive measures the load and its peers stop cleanly', { timeout: 90_000 }, async () => {
  // Ticks of 100 ms: the load saturates both cores, and a follower starved for an election
  // timeout of 10 ms ticks could depose the leader mid-round (review of 2026-12-02).
  const load = await steleRound(2, 0.5, { tickMs: 100 });
  assert.ok(load.perSecond > 0, `rate ${load.perSecond}`);
  assert.ok(load.p50 > 0 && load.p99 >= load.p50);
});

test('a Stele round fails when a follower dies during the measured load, though a majority is left', { timeout: 90_000 }, async () => {
  await assert.rejects(
    steleRound(2, 2, { onMeasuredLoad: ({ leader, children }) => children[(leader + 1) % 3]!.kill('SIGKILL') }),
    /peer \d exited during the round \(signal SIGKILL\)/,
  );
});

test('a Stele round fails at once when the leader dies during the measured load', { timeout: 90_000 }, async () => {
  const started = performance.now();
  let killed = -1;
  await assert.rejects(
    steleRound(2, 2, {
      onMeasuredLoad: ({ leader, children }) => {
        killed = leader;
        children[leader]!.kill('SIGKILL');
      },
    }),
    (error: Error) => error.message === `peer ${killed} exited during the round (signal SIGKILL)`,
  );
  // Well before the load's own deadline (its 2 s plus 30 s).
  assert.ok(performance.now() - started < 25_000);
});
