/**
 * The nemesis's schedule comes from the seed alone (test/chaos/schedule.ts): the same
 * seed gives the same plans, each round of plans holds every kind, values stay in range.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DOWN_MS_MAX, DOWN_MS_MIN, FaultSchedule, GAP_MS_MAX, GAP_MS_MIN, HOLD_MS_MAX, HOLD_MS_MIN, TEAR_BYTES_MAX, type FaultKind } from './schedule.js';

const KINDS: FaultKind[] = ['kill', 'torn_write', 'pause', 'partition', 'full_disk'];
const plans = (seed: number, n: number, kinds = KINDS) => {
  const s = new FaultSchedule(seed, kinds);
  return Array.from({ length: n }, () => s.next());
};

test('a seed gives the same schedule every time', () => {
  for (const seed of [1, 7, 101, 2 ** 31]) assert.deepEqual(plans(seed, 60), plans(seed, 60));
});

test('plan n does not depend on how the plans before it were used', () => {
  // The harness reads some fields and not others (a leader known or not, a kill that tears
  // nothing); the generator has no input but the seed, so drawing plans one at a time with
  // other work between them gives the same plans.
  const s = new FaultSchedule(7, KINDS);
  const interleaved = [];
  for (let i = 0; i < 40; i++) {
    const plan = s.next();
    interleaved.push(plan);
    if (plan.onLeader) void plan.target; // nothing to draw: the harness uses the leader
  }
  assert.deepEqual(interleaved, plans(7, 40));
});

test('different seeds give different schedules', () => {
  assert.notDeepEqual(plans(1, 20), plans(2, 20));
});

test('every round of plans holds every kind once; values are in range', () => {
  for (const kinds of [KINDS, KINDS.slice(0, 4)]) {
    const all = plans(11, kinds.length * 30, kinds);
    for (let round = 0; round < 30; round++) {
      const got = all.slice(round * kinds.length, (round + 1) * kinds.length).map((p) => p.kind);
      assert.deepEqual([...got].sort(), [...kinds].sort());
    }
    for (const p of all) {
      assert.ok(Number.isInteger(p.target) && p.target >= 0 && p.target <= 2);
      assert.ok(p.holdMs >= HOLD_MS_MIN && p.holdMs <= HOLD_MS_MAX);
      assert.ok(p.downMs >= DOWN_MS_MIN && p.downMs <= DOWN_MS_MAX);
      assert.ok(p.gapMs >= GAP_MS_MIN && p.gapMs <= GAP_MS_MAX);
      assert.ok(p.tearBytes >= 1 && p.tearBytes <= TEAR_BYTES_MAX);
      assert.ok(p.otherOffset === 1 || p.otherOffset === 2);
      assert.ok(['isolate', 'pair', 'one-way'].includes(p.shape));
      assert.ok(p.tearLog === 'blocks' || p.tearLog === 'acceptor');
    }
    // Both halves of each coin come up.
    assert.ok(all.some((p) => p.onLeader) && all.some((p) => !p.onLeader));
  }
});

test('a schedule needs a kind', () => {
  assert.throws(() => new FaultSchedule(1, []), RangeError);
});
