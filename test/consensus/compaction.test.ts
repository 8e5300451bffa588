/**
 * Acceptor-log compaction (consensus/replica.ts compactRecords): for any record sequence
 * and any applied height h, recovering from the compacted records gives exactly what
 * recovering from all of them gives, for every commit index a restart can start from
 * (>= h); and the compacted log holds one promise plus one accept per slot above h.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRecord, encodeRecord, type DurableRecord } from '../../consensus/messages.js';
import { compactRecords, recoverDurable, ZERO_DIGEST } from '../../consensus/replica.js';

const ballot = fc.record({ round: fc.integer({ min: 0, max: 6 }), leader: fc.integer({ min: 0, max: 2 }) });
const record: fc.Arbitrary<DurableRecord> = fc.oneof(
  ballot.map((b) => ({ kind: 'promise' as const, ballot: b })),
  fc.record({
    kind: fc.constant('accept' as const),
    slot: fc.integer({ min: 1, max: 30 }),
    ballot,
    prevDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    value: fc.uint8Array({ maxLength: 8 }),
  }),
);

test('compactRecords: recovery from the compacted log equals recovery from the whole log at every commit index >= the applied height', () => {
  fc.assert(
    fc.property(fc.array(record, { maxLength: 60 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 8 }), (generated, applied, above) => {
      // Records as a log gives them back (plain objects), before and after compaction.
      const reread = (rs: readonly DurableRecord[]) => rs.map((r) => decodeRecord(encodeRecord(r), { replicas: 3, valueBytesMax: 64 }));
      const records = reread(generated);
      const kept = compactRecords(records, applied);
      const commitIndex = applied + above;
      assert.deepEqual(recoverDurable(reread(kept), commitIndex, ZERO_DIGEST), recoverDurable(records, commitIndex, ZERO_DIGEST));
      const slots = new Set(records.flatMap((r) => (r.kind === 'accept' && r.slot > applied ? [r.slot] : [])));
      assert.equal(kept.filter((r) => r.kind === 'accept').length, slots.size);
      assert.ok(kept.filter((r) => r.kind === 'promise').length <= 1);
      // Compacting again changes nothing.
      assert.deepEqual(compactRecords(kept, applied), kept);
    }),
    { numRuns: 2_000, seed: 77 },
  );
});

test('compactRecords: the promise of the highest ballot survives even when only an accept carried it; accepts at or below the applied height go', () => {
  const b = (round: number, leader: number) => ({ round, leader });
  const accept = (slot: number, ballotOf: { round: number; leader: number }, v: number): DurableRecord => ({ kind: 'accept', slot, ballot: ballotOf, prevDigest: new Uint8Array(32), value: Uint8Array.of(v) });
  const records: DurableRecord[] = [{ kind: 'promise', ballot: b(1, 0) }, accept(1, b(1, 0), 1), accept(2, b(1, 0), 2), { kind: 'promise', ballot: b(2, 1) }, accept(3, b(3, 2), 3), accept(2, b(2, 1), 9)];
  assert.deepEqual(compactRecords(records, 2), [{ kind: 'promise', ballot: b(3, 2) }, accept(3, b(3, 2), 3)]);
  // Slot 2's latest accept is kept when slot 2 is not yet applied.
  assert.deepEqual(compactRecords(records, 1), [{ kind: 'promise', ballot: b(3, 2) }, accept(2, b(2, 1), 9), accept(3, b(3, 2), 3)]);
  assert.deepEqual(compactRecords([], 5), []);
  assert.throws(() => compactRecords(records, -1));
});
