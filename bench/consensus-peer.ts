/**
 * A consensus replica as its own process, for the three-process crash test and
 * `bench:consensus`: the real core and driver over the native transport, the acceptor log
 * and a committed log on the mapped log, and real timers. Values are opaque; a slot holds
 * a batch of client values (u32 count, then u32-length-prefixed values).
 *
 * Run: node consensus-peer.js DIR INDEX CLUSTER_JSON
 * Talks to its parent over IPC (process.send):
 *   parent -> child  {type: 'submit', values: string[] (base64)}   leader batches them
 *                    {type: 'load', concurrency, valueBytes, seconds} closed-loop load on the leader
 *                    {type: 'status'}
 *   child -> parent  {type: 'ready'} | {type: 'status', role, commitIndex, leader}
 *                    {type: 'committed', slot, count}            after the slot is durable here
 *                    {type: 'load-done', committed, seconds, latencies_ms: number[]}
 *                    {type: 'load-failed', error}   a batch of the load lost its slot to another value
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual } from '../ledger/assert.js';
import { keyPairFromSeed, Signer, verify } from '../ledger/ed25519.js';
import { AcceptorLog, MappedLog } from '../native/mapped-log.js';
import { Transport } from '../native/transport.js';
import { ReplicaDriver, type PeerMessage } from '../consensus/driver.js';
import { decodeRecord } from '../consensus/messages.js';
import { digestOf, recoverDurable, ZERO_DIGEST, type Committed } from '../consensus/replica.js';
import { rememberOwnVotes } from '../consensus/own-votes.js';
import { committedRecord, decodeBatch, encodeBatch, parseCommittedRecord, type ClusterSpec } from './consensus-lib.js';

function voteMessage(slot: number, value: Uint8Array): Uint8Array {
  return createHash('sha256').update('stele-bench-vote').update(String(slot)).update(digestOf(value)).digest();
}

async function main(): Promise<void> {
  const [dir, indexText, specText] = process.argv.slice(2);
  if (dir === undefined || indexText === undefined || specText === undefined) throw new Error('usage: peer-process DIR INDEX CLUSTER_JSON');
  const spec = JSON.parse(specText) as ClusterSpec;
  const index = Number(indexText);
  const signers = spec.seeds.map((s) => new Signer(keyPairFromSeed(Uint8Array.from(Buffer.from(s, 'hex')))));
  const self = signers[index] as Signer;
  mkdirSync(dir, { recursive: true });
  const committedLog = MappedLog.open(join(dir, 'committed'));
  let commitIndex = 0;
  let commitDigest: Uint8Array = ZERO_DIGEST;
  for (let i = 0; i < committedLog.length; i++) {
    const { slot, value, certificate } = parseCommittedRecord(committedLog.read(i));
    if (slot !== commitIndex + 1) throw new Error(`committed log out of order at record ${i}`);
    commitIndex = slot;
    commitDigest = digestOf(value);
  }
  let persistTimer: NodeJS.Timeout | null = null;
  const acceptor = AcceptorLog.open(join(dir, 'acceptor'));
  const limits = { replicas: signers.length, valueBytesMax: 16 * 1024 * 1024 };
  const records = [...acceptor.replay()].map((b) => decodeRecord(b, limits));
  let deliver: ((batch: readonly PeerMessage[]) => void) | null = null;
  const transport = await Transport.open({
    self: index,
    signer: self,
    validators: signers.map((s, i) => ({ publicKey: s.publicKey, address: `127.0.0.1:${spec.ports[i]}` })),
    onMessages: (batch) => deliver?.(batch),
    onLog: () => {},
  });
  interface Waiter {
    readonly value: Uint8Array;
    readonly resolve: () => void;
    readonly reject: (error: Error) => void;
  }
  const waiting: Waiter[] = [];
  /**
   * What this replica proposed at each slot and who waits for it. After a leader change
   * another replica's value can be committed at that slot instead; the waiters are answered
   * only when the committed value is the very batch proposed, and refused otherwise.
   */
  const inFlight = new Map<number, { readonly batch: Uint8Array; readonly waiters: readonly Waiter[] }>();
  const driver: ReplicaDriver = new ReplicaDriver({
    tickMs: spec.tickMs,
    config: {
      id: index,
      replicas: signers.length,
      window: 8,
      electionTicks: 10,
      heartbeatTicks: 2,
      valueBytesMax: limits.valueBytesMax,
      random: Math.random,
      ...rememberOwnVotes(
        index,
        (slot, value) => self.sign(voteMessage(slot, value)),
        (v, slot, value, signature) => signers[v] !== undefined && verify((signers[v] as Signer).publicKey, voteMessage(slot, value), signature),
      ),
    },
    durable: recoverDurable(records, commitIndex, commitDigest),
    transport: { send: (to, bytes) => transport.send(to, bytes), flush: () => transport.flush(), receive: (h) => (deliver = h) },
    log: acceptor,
    learner: {
      // Slot s is record s - 1: the committed log is contiguous from slot 1.
      get: (slot) => (slot >= 1 && slot <= committedLog.length ? parseCommittedRecord(committedLog.read(slot - 1)) : undefined),
      apply: async (entries: readonly Committed[]) => {
        // A committed value is already durable on a majority of acceptor logs, so clients
        // are answered now; this replica's own copy of the committed log follows.
        for (const e of entries) {
          committedLog.append(committedRecord(e.slot, e.value, e.certificate));
          const values = decodeBatch(e.value);
          process.send?.({ type: 'committed', slot: e.slot, count: values.length, ...(spec.reportValues === true ? { values: values.map((v) => Buffer.from(v).toString('utf8')) } : {}) });
          const proposed = inFlight.get(e.slot);
          if (proposed !== undefined) {
            inFlight.delete(e.slot);
            if (bytesEqual(proposed.batch, e.value)) for (const w of proposed.waiters) w.resolve();
            else {
              const error = new Error(`slot ${e.slot} committed another replica's value; the ${proposed.waiters.length} values this replica proposed there were not committed`);
              for (const w of proposed.waiters) w.reject(error);
            }
          }
        }
        // This replica's own copy of committed values is a convenience (a majority of
        // acceptor logs already holds them): it is made durable at most every 20 ms, so it
        // does not compete for the disk with the acceptor log on the commit path.
        if (persistTimer === null) {
          persistTimer = setTimeout(() => {
            persistTimer = null;
            void committedLog.persist();
          }, 20);
        }
      },
    },
    onFatal: (error) => {
      process.stderr.write(`peer ${index}: fatal ${String(error)}\n`);
      process.exit(3);
    },
  });
  // The leader batches whatever is waiting into the next free slot.
  const propose = (): void => {
    while (waiting.length > 0) {
      const slot = driver.core.proposableSlot();
      if (slot === null) return;
      const waiters = waiting.splice(0, 4096);
      const batch = encodeBatch(waiters.map((w) => w.value));
      const proposedAt = driver.propose(batch);
      if (proposedAt === null) {
        waiting.unshift(...waiters);
        return;
      }
      if (proposedAt !== slot) throw new Error(`proposed at slot ${proposedAt}, expected ${slot}`);
      inFlight.set(slot, { batch, waiters });
    }
  };
  setInterval(propose, 1).unref();
  driver.start();
  /** Resolves once `value` is committed in a batch this replica proposed; rejects if that batch lost its slot. */
  const submit = (value: Uint8Array): Promise<void> =>
    new Promise((resolve, reject) => {
      waiting.push({ value, resolve, reject });
      queueMicrotask(propose);
    });
  process.on('message', (m: { type: string; values?: string[]; concurrency?: number; valueBytes?: number; seconds?: number }) => {
    if (m.type === 'status') {
      const s = driver.core.status();
      process.send?.({ type: 'status', role: s.role, commitIndex: s.commitIndex, leader: s.role === 'leader' ? index : s.leaderKnown ? s.leaderBallot.leader : null });
    } else if (m.type === 'submit') {
      // The parent learns what was committed from the 'committed' messages; a batch that
      // lost its slot to another leader's value is simply not among them.
      for (const v of m.values ?? []) submit(Uint8Array.from(Buffer.from(v, 'base64'))).catch(() => {});
    } else if (m.type === 'load') {
      const concurrency = m.concurrency ?? 64;
      const value = new Uint8Array(m.valueBytes ?? 256).fill(0x62);
      const end = performance.now() + (m.seconds ?? 5) * 1000;
      const latencies: number[] = [];
      let count = 0;
      const started = performance.now();
      Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < end) {
            const t = performance.now();
            await submit(value);
            latencies.push(performance.now() - t);
            count++;
          }
        }),
      ).then(
        () => process.send?.({ type: 'load-done', committed: count, seconds: (performance.now() - started) / 1000, latencies_ms: latencies }),
        (error: unknown) => process.send?.({ type: 'load-failed', error: error instanceof Error ? error.message : String(error) }),
      );
    }
  });
  const stop = async (): Promise<void> => {
    driver.stop();
    if (persistTimer !== null) clearTimeout(persistTimer);
    await committedLog.persist();
    await transport.close();
    await acceptor.close();
    await committedLog.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.send?.({ type: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`consensus-peer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
