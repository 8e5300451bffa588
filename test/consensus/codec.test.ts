import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CodecError } from '../../consensus/codec.js';
import { ACCEPT_RECORD_OVERHEAD_BYTES, decodeMessage, decodeRecord, encodeMessage, encodeRecord, MessageType, type Ballot, type Message, type WireLimits } from '../../consensus/messages.js';

const limits: WireLimits = { replicas: 5, valueBytesMax: 1024 };
const ballot = fc.record({ round: fc.integer({ min: 0, max: 0xffff_ffff }), leader: fc.integer({ min: 0, max: 4 }) }) as fc.Arbitrary<Ballot>;
const slot = fc.integer({ min: 1, max: 2 ** 40 });
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });
const value = fc.uint8Array({ maxLength: 200 });
const votes = fc.uniqueArray(fc.record({ validator: fc.integer({ min: 0, max: 4 }), signature: fc.uint8Array({ maxLength: 64 }) }), { selector: (v) => v.validator, maxLength: 5 });

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant(MessageType.Prepare as const), ballot, fromSlot: slot }),
  slot.chain((s) => fc.record({ type: fc.constant(MessageType.Accept as const), ballot, slot: fc.constant(s), leaderCommit: fc.integer({ min: 0, max: s - 1 }), prevDigest: digest, value })),
  fc.record({ type: fc.constant(MessageType.Accepted as const), ballot, slot, digest, signature: fc.uint8Array({ maxLength: 128 }) }),
  fc.record({ type: fc.constant(MessageType.Nack as const), ballot, promised: ballot }),
  fc.record({ type: fc.constant(MessageType.Commit as const), ballot, slot, digest, certificate: votes }),
  fc.record({ type: fc.constant(MessageType.Heartbeat as const), ballot, commitIndex: fc.integer({ min: 0, max: 2 ** 40 }) }),
  fc.record({ type: fc.constant(MessageType.HeartbeatAck as const), ballot, promised: ballot, commitIndex: fc.integer({ min: 0, max: 2 ** 40 }) }),
  fc.record({ type: fc.constant(MessageType.CatchupRequest as const), fromSlot: slot, countMax: fc.integer({ min: 1, max: 256 }) }),
  fc.integer({ min: 1, max: 1000 }).chain((start) =>
    fc.array(fc.record({ value, certificate: votes }), { maxLength: 4 }).map((xs) => ({ type: MessageType.CatchupReply as const, entries: xs.map((x, i) => ({ slot: start + i, ...x })) })),
  ),
  fc.tuple(ballot, fc.integer({ min: 1, max: 100 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), ballot, digest, value), { maxLength: 4 })).map(([b, fromSlot, xs]) => {
    const entries = xs.map(([gap, eb, pd, v], i) => ({ slot: fromSlot + i * 4 + gap, ballot: eb, prevDigest: pd, value: v }));
    const lastSlot = entries.length > 0 ? entries[entries.length - 1]!.slot : fromSlot - 1;
    return { type: MessageType.Promise as const, ballot: b, fromSlot, commitIndex: fromSlot - 1, first: fromSlot, last: lastSlot, lastSlot, entries };
  }),
);

test('every message round trips, and re-encoding the decoded message gives the same bytes', () => {
  fc.assert(
    fc.property(message, (m) => {
      const bytes = encodeMessage(m);
      const back = decodeMessage(bytes, limits);
      assert.deepEqual(back, structuredClone(m)); // fast-check records have no prototype
      assert.deepEqual(encodeMessage(back), bytes);
    }),
    { numRuns: 2000 },
  );
});

test('random and mutated bytes only ever give a CodecError', () => {
  const onlyCodecErrors = (bytes: Uint8Array): void => {
    try {
      decodeMessage(bytes, limits);
    } catch (error) {
      assert.ok(error instanceof CodecError, `unexpected ${String(error)}`);
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), onlyCodecErrors), { numRuns: 3000 });
  fc.assert(
    fc.property(message, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.nat(), (m, at, bit, cut) => {
      const bytes = encodeMessage(m);
      const flipped = Uint8Array.from(bytes);
      flipped[at % flipped.length] = (flipped[at % flipped.length] as number) ^ (1 << bit);
      onlyCodecErrors(flipped);
      onlyCodecErrors(bytes.subarray(0, cut % bytes.length));
    }),
    { numRuns: 3000 },
  );
});

test('messages are validated against the cluster: indices, bounds, duplicates, slot zero', () => {
  const bad: Array<[Message, string]> = [
    [{ type: MessageType.Prepare, ballot: { round: 1, leader: 5 }, fromSlot: 1 }, 'ballot.leader'],
    [{ type: MessageType.Prepare, ballot: { round: 1, leader: 0 }, fromSlot: 0 }, 'fromSlot'],
    [{ type: MessageType.Accept, ballot: { round: 1, leader: 0 }, slot: 1, leaderCommit: 0, prevDigest: new Uint8Array(32), value: new Uint8Array(1025) }, 'value'],
    // A leader's commit index is below every slot it proposes (review of 2026-11-30).
    [{ type: MessageType.Accept, ballot: { round: 1, leader: 0 }, slot: 7, leaderCommit: 7, prevDigest: new Uint8Array(32), value: new Uint8Array(1) }, 'leaderCommit'],
    [{ type: MessageType.Accept, ballot: { round: 1, leader: 0 }, slot: 7, leaderCommit: 2 ** 40, prevDigest: new Uint8Array(32), value: new Uint8Array(1) }, 'leaderCommit'],
    [{ type: MessageType.Commit, ballot: { round: 1, leader: 0 }, slot: 1, digest: new Uint8Array(32), certificate: [{ validator: 1, signature: new Uint8Array(2) }, { validator: 1, signature: new Uint8Array(2) }] }, 'certificate[1].validator'],
    [{ type: MessageType.CatchupRequest, fromSlot: 1, countMax: 0 }, 'countMax'],
    [{ type: MessageType.CatchupReply, entries: [{ slot: 2, value: new Uint8Array(), certificate: [] }, { slot: 4, value: new Uint8Array(), certificate: [] }] }, 'entries[1].slot'],
  ];
  for (const [m, field] of bad) {
    assert.throws(() => decodeMessage(encodeMessage(m), limits), (e: unknown) => e instanceof CodecError && e.field === field, field);
  }
  const ok = encodeMessage({ type: MessageType.Prepare, ballot: { round: 1, leader: 0 }, fromSlot: 1 });
  assert.throws(() => decodeMessage(Uint8Array.of(...ok, 0), limits), /trailing/);
  assert.throws(() => decodeMessage(Uint8Array.of(2, ...ok.subarray(1)), limits), /version/);
});

test('durable records round trip; a torn record is refused', () => {
  fc.assert(
    fc.property(ballot, slot, digest, value, fc.boolean(), (b, s, d, v, promise) => {
      const r = promise ? ({ kind: 'promise', ballot: b } as const) : ({ kind: 'accept', slot: s, ballot: b, prevDigest: d, value: v } as const);
      const bytes = encodeRecord(r);
      // The acceptor log is sized by this (node/run.ts): an accept is its value plus the overhead.
      if (r.kind === 'accept') assert.equal(bytes.length, r.value.length + ACCEPT_RECORD_OVERHEAD_BYTES);
      assert.deepEqual(decodeRecord(bytes, limits), structuredClone(r));
      for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => decodeRecord(bytes.subarray(0, cut), limits), CodecError);
    }),
    { numRuns: 300 },
  );
});
