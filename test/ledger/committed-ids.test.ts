import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { toHex } from '../../ledger/assert.js';
import { CommittedIds } from '../../ledger/committed-ids.js';

const IDS = 20_000;

/** `count` random ids with bytes [from, from + fixed.length) set to `fixed`, as one block's list. */
function idsSharing(count: number, from: number, fixed: Uint8Array): Uint8Array {
  const ids = randomBytes(count * 32);
  for (let i = 0; i < count; i++) ids.set(fixed, i * 32 + from);
  return new Uint8Array(ids.buffer, ids.byteOffset, ids.length);
}

function heightValue(height: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(height));
  return out;
}

/** Commits `ids` as block `height` the way MemoryState applies machine.ts's writes, then reads each back. */
function commitAndRead(table: CommittedIds, height: number, ids: Uint8Array): { write: number; read: number } {
  const key = (i: number) => `txid/${toHex(ids.subarray(i * 32, (i + 1) * 32))}`;
  const count = ids.length / 32;
  const before = table.probeStats;
  const from = table.blockCount;
  table.appendBlock(height, ids);
  for (let i = 0; i < count; i++) {
    assert.equal(table.loadKey(key(i)), true);
    assert.equal(table.setLoaded(heightValue(height)), true);
  }
  table.endApply(from);
  const written = table.probeStats;
  for (let i = 0; i < count; i++) {
    assert.equal(table.loadKey(key(i)), true);
    assert.deepEqual(table.getLoaded(), heightValue(height));
  }
  const read = table.probeStats;
  return {
    write: (written.probes - before.probes) / (written.finds - before.finds),
    read: (read.probes - written.probes) / (read.finds - written.finds),
  };
}

test('ids ground to share bytes do not share a probe run: a few slots per find, whatever bytes they share', () => {
  // A client can make thousands of ids agree on any 4 bytes (2^32 hashes each). With the
  // first 4 bytes as the home slot (until 2026-12-01), the first shape below cost about
  // 10,000 probes per find.
  const shapes = [
    { name: 'the first 8 bytes', from: 0, fixed: Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4) },
    { name: 'bytes 8 to 11', from: 8, fixed: Uint8Array.of(9, 9, 9, 9) },
    { name: 'bytes 12 to 15', from: 12, fixed: Uint8Array.of(7, 7, 7, 7) },
    { name: 'bytes 4 to 11', from: 4, fixed: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1) },
  ];
  for (const { name, from, fixed } of shapes) {
    const table = new CommittedIds();
    const first = commitAndRead(table, 1, idsSharing(IDS, from, fixed));
    // A second block of the same shape: the table rebuilds past its first capacity.
    const second = commitAndRead(table, 2, idsSharing(IDS, from, fixed));
    for (const [phase, mean] of Object.entries({ 'first write': first.write, 'first read': first.read, 'second write': second.write, 'second read': second.read })) {
      assert.ok(mean < 4, `${IDS} ids sharing ${name}: ${mean.toFixed(1)} probes per find (${phase})`);
    }
  }
});

test('two tables place the same ids differently (the home slot is keyed per table)', () => {
  // Through probe counts only: with one shared key, the same ids in the same order would
  // probe exactly alike in both tables.
  const ids = idsSharing(IDS, 0, Uint8Array.of(0, 0, 0, 0));
  const runs = [new CommittedIds(), new CommittedIds(), new CommittedIds()].map((t) => commitAndRead(t, 1, ids).write);
  assert.ok(new Set(runs).size > 1, `probe means ${runs.join(', ')}`);
});
