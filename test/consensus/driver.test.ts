import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReplicaDriver, type PeerMessage, type Transport } from '../../consensus/driver.js';
import { decodeRecord, encodeMessage, MessageType, type Vote } from '../../consensus/messages.js';
import { digestOf, recoverDurable, ZERO_DIGEST, type Committed } from '../../consensus/replica.js';
import { testSignature, text } from '../support/consensus-cluster.js';

const N = 3;
const limits = { replicas: N, valueBytesMax: 4096 };

/** In-memory replicas: a network delivering on the next turn, disks that persist after 1 ms. */
class Bench {
  readonly handlers: Array<((batch: readonly PeerMessage[]) => void) | null> = new Array(N).fill(null);
  readonly durable: Uint8Array[][] = Array.from({ length: N }, () => []);
  readonly committed: Array<Map<number, Committed>> = Array.from({ length: N }, () => new Map());
  readonly drivers: Array<ReplicaDriver | null> = new Array(N).fill(null);
  fatal: unknown = null;
  /** The `inline` option of every persist call, per replica. */
  readonly persistInline: Array<Array<boolean | undefined>> = Array.from({ length: N }, () => []);
  /** The drivers' followerPersistInline option (undefined: the default). */
  followerPersistInline: boolean | undefined = undefined;
  /** Called with each learner.apply call before it stores (tests of a slow learner). */
  onApply: ((i: number, entries: readonly Committed[]) => Promise<void>) | null = null;

  start(i: number): ReplicaDriver {
    const pending: Uint8Array[] = [];
    const transport: Transport = {
      send: (to, bytes) => {
        setImmediate(() => this.handlers[to]?.([{ from: i, bytes }]));
        return true;
      },
      receive: (handler) => {
        this.handlers[i] = handler;
      },
    };
    const log = this.committed[i]!;
    let commitIndex = 0;
    while (log.has(commitIndex + 1)) commitIndex++;
    let seed = 17 + i * 101 + this.durable[i]!.length;
    const driver = new ReplicaDriver({
      tickMs: 5,
      config: {
        id: i,
        replicas: N,
        window: 8,
        electionTicks: 20,
        heartbeatTicks: 4,
        valueBytesMax: limits.valueBytesMax,
        random: () => {
          seed = (seed * 1103515245 + 12345) % 2 ** 31;
          return seed / 2 ** 31;
        },
        sign: (slot, value) => testSignature(i, slot, value),
        verifyVote: (v, slot, value, sig) => Buffer.compare(testSignature(v, slot, value), sig) === 0,
      },
      durable: recoverDurable(
        this.durable[i]!.map((b) => decodeRecord(b, limits)),
        commitIndex,
        commitIndex === 0 ? ZERO_DIGEST : log.get(commitIndex)!.digest,
      ),
      transport,
      log: {
        append: (record) => pending.push(record),
        persist: async (options) => {
          this.persistInline[i]!.push(options?.inline);
          const batch = pending.splice(0);
          await sleep(1);
          if (this.drivers[i] === driver) this.durable[i]!.push(...batch); // a crashed replica's write is lost
        },
      },
      learner: {
        apply: async (entries) => {
          await this.onApply?.(i, entries);
          for (const e of entries) log.set(e.slot, e);
        },
        get: (slot): { value: Uint8Array; certificate: readonly Vote[] } | undefined => log.get(slot),
      },
      onFatal: (error) => {
        this.fatal = error;
      },
      ...(this.followerPersistInline === undefined ? {} : { followerPersistInline: this.followerPersistInline }),
    });
    this.drivers[i] = driver;
    driver.start();
    return driver;
  }

  crash(i: number): void {
    this.drivers[i]?.stop();
    this.drivers[i] = null;
    this.handlers[i] = null;
  }

  leader(): ReplicaDriver | null {
    return this.drivers.find((d) => d !== null && d.core.proposableSlot() !== null) ?? null;
  }

  values(i: number): string[] {
    const out: string[] = [];
    for (let s = 1; this.committed[i]!.has(s); s++) out.push(Buffer.from(this.committed[i]!.get(s)!.value).toString());
    return out;
  }

  /** Values offered again by commitAll because they had not committed within 500 ms. */
  reoffers = 0;

  /** Proposes every value through whichever replica leads, retrying until each commits. */
  async commitAll(values: string[], deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    const done = (): boolean => values.every((v) => this.drivers.some((d, i) => d !== null && this.values(i).includes(v)));
    const offered = new Map<string, number>();
    while (!done()) {
      assert.ok(Date.now() < end, 'values committed before the deadline');
      const leader = this.leader();
      if (leader !== null) {
        for (const v of values) {
          const committed = this.drivers.some((d, i) => d !== null && this.values(i).includes(v));
          if (committed || Date.now() - (offered.get(v) ?? 0) < 500) continue;
          if (leader.propose(text(v)) === null) break;
          if (offered.has(v)) this.reoffers++;
          offered.set(v, Date.now());
        }
      }
      await sleep(5);
    }
  }
}

test('three drivers with real timers: commit, lose the leader, restart it from its disk, converge', async () => {
  const bench = new Bench();
  for (let i = 0; i < N; i++) bench.start(i);
  try {
    const first = Array.from({ length: 60 }, (_, k) => `first-${k}`);
    await bench.commitAll(first, 20_000);
    const old = bench.drivers.findIndex((d) => d !== null && d.core.status().role === 'leader');
    assert.ok(old >= 0);
    bench.crash(old);
    const second = Array.from({ length: 60 }, (_, k) => `second-${k}`);
    await bench.commitAll(second, 20_000);
    bench.start(old);
    const end = Date.now() + 20_000;
    const top = (): number => Math.max(...[0, 1, 2].map((i) => bench.values(i).length));
    while ([0, 1, 2].some((i) => bench.values(i).length < top())) {
      assert.ok(Date.now() < end, 'the restarted replica caught up');
      await sleep(10);
    }
    const reference = bench.values(0);
    for (let i = 1; i < N; i++) assert.deepEqual(bench.values(i), reference, `replica ${i}`);
    // Every value is there; a value appears twice only if the test client retried it (each
    // retry counted: a loaded machine's stalls cause more of them; review of 2026-12-02).
    for (const v of [...first, ...second]) assert.ok(reference.includes(v), v);
    assert.equal(new Set(reference).size, 120, 'no value but the 120');
    assert.ok(reference.length - 120 <= bench.reoffers, `${reference.length} values, ${bench.reoffers} offered again`);
    assert.equal(bench.fatal, null);
  } finally {
    for (let i = 0; i < N; i++) bench.crash(i);
  }
});

test('commits that pile up while the learner is busy reach it in one call, in order, once each', async () => {
  const bench = new Bench();
  const calls: number[][][] = [[], [], []];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  bench.onApply = async (i, entries) => {
    calls[i]!.push(entries.map((e) => e.slot));
    if (calls[i]!.length === 1) await gate; // the first call of each replica waits
  };
  for (let i = 0; i < N; i++) bench.start(i);
  try {
    const start = Date.now();
    while (bench.leader() === null) {
      assert.ok(Date.now() - start < 10_000, 'a leader');
      await sleep(5);
    }
    const leader = bench.leader()!;
    // One value at a time, each committed (at the core) before the next is proposed: many
    // separate hand-offs to a learner still busy with the first.
    for (let k = 0; k < 13; k++) {
      const slot = leader.propose(text(`v${k}`));
      assert.notEqual(slot, null);
      while (leader.core.status().commitIndex < slot!) await sleep(2);
    }
    const top = leader.core.status().commitIndex;
    release();
    const end = Date.now() + 10_000;
    while ([0, 1, 2].some((i) => !bench.committed[i]!.has(top))) {
      assert.ok(Date.now() < end, 'every replica applied everything');
      await sleep(5);
    }
    const li = bench.drivers.indexOf(leader);
    const slots = calls[li]!.flat();
    assert.deepEqual(slots, Array.from({ length: top }, (_, k) => k + 1), 'every slot once, in order');
    assert.equal(calls[li]!.length, 2, `the leader's learner was called ${calls[li]!.length} times: ${JSON.stringify(calls[li])}`);
    // The leader never blocks on its own writes (a quorum of followers may answer first);
    // followers, with nothing else to do before answering, may write on their thread.
    assert.ok(bench.persistInline[li]!.filter((x) => x === false).length >= 13, `leader persists: ${JSON.stringify(bench.persistInline[li])}`);
    for (const i of [0, 1, 2].filter((k) => k !== li)) assert.ok(bench.persistInline[i]!.length > 0 && bench.persistInline[i]!.every((x) => x === true), `follower ${i} persists: ${JSON.stringify(bench.persistInline[i])}`);
    assert.equal(bench.fatal, null);
  } finally {
    for (let i = 0; i < N; i++) bench.crash(i);
  }
});

test('the driver tells the core what its learner made durable, so an acceptor\'s hold above the applied height empties (review of 2026-12-01)', async () => {
  const bench = new Bench();
  for (let i = 0; i < N; i++) bench.start(i);
  try {
    const values = Array.from({ length: 30 }, (_, k) => `held-${k}`);
    await bench.commitAll(values, 20_000);
    const end = Date.now() + 10_000;
    const top = (): number => Math.max(...bench.drivers.map((d) => d!.core.status().commitIndex));
    while (bench.drivers.some((d, i) => bench.values(i).length < top() || d!.core.heldAboveApplied().slots > 0)) {
      assert.ok(Date.now() < end, `held: ${JSON.stringify(bench.drivers.map((d) => d!.core.heldAboveApplied()))}`);
      await sleep(5);
    }
    for (const d of bench.drivers) assert.equal(d!.core.heldAboveApplied().bytes, 0);
    assert.equal(bench.fatal, null);
  } finally {
    for (let i = 0; i < N; i++) bench.crash(i);
  }
});

test('followerPersistInline: false keeps every persist off the calling thread, followers included', async () => {
  const bench = new Bench();
  bench.followerPersistInline = false;
  for (let i = 0; i < N; i++) bench.start(i);
  try {
    await bench.commitAll(['a', 'b', 'c', 'd'], 10_000);
    const leader = bench.leader()!;
    const li = bench.drivers.indexOf(leader);
    for (const i of [0, 1, 2].filter((k) => k !== li)) {
      assert.ok(bench.persistInline[i]!.length > 0, `follower ${i} persisted`);
      assert.ok(bench.persistInline[i]!.every((x) => x === false), `follower ${i} persists: ${JSON.stringify(bench.persistInline[i])}`);
    }
    assert.equal(bench.fatal, null);
  } finally {
    for (let i = 0; i < N; i++) bench.crash(i);
  }
});

test('a follower persists an ACCEPT before checking the COMMIT certificate that came with it; an idle one checks a COMMIT a moment later', async () => {
  const events: string[] = [];
  let deliver: ((batch: readonly PeerMessage[]) => void) | null = null;
  const sent: Array<{ to: number; type: number }> = [];
  const driver = new ReplicaDriver({
    tickMs: 1000, // no election during the test
    config: {
      id: 1,
      replicas: N,
      window: 8,
      electionTicks: 20,
      heartbeatTicks: 4,
      valueBytesMax: limits.valueBytesMax,
      random: () => 0.5,
      sign: (slot, value) => testSignature(1, slot, value),
      verifyVote: (v, slot, value, sig) => {
        events.push(`verify ${slot}`);
        return Buffer.compare(testSignature(v, slot, value), sig) === 0;
      },
    },
    durable: recoverDurable([], 0, ZERO_DIGEST),
    transport: { send: (to, bytes) => sent.push({ to, type: bytes[1]! }) > 0, receive: (h) => (deliver = h) },
    log: {
      append: () => undefined,
      persist: async () => {
        events.push('persist');
        await sleep(2);
      },
    },
    learner: { apply: async () => undefined, get: () => undefined },
    onFatal: (error) => assert.fail(String(error)),
  });
  driver.start();
  try {
    const ballot = { round: 1, leader: 0 };
    const v1 = text('one');
    const v2 = text('two');
    const accept = (slot: number, value: Uint8Array, prev: Uint8Array): PeerMessage => ({
      from: 0,
      bytes: Uint8Array.from(encodeMessage({ type: MessageType.Accept, ballot, slot, leaderCommit: slot - 1, prevDigest: prev, value })),
    });
    deliver!([accept(1, v1, ZERO_DIGEST)]);
    await sleep(10);
    assert.deepEqual(events, ['persist']);
    // The leader's COMMIT of slot 1 (votes of 0 and 1) arrives first, the ACCEPT of slot 2 with it.
    const certificate = [0, 1].map((validator) => ({ validator, signature: testSignature(validator, 1, v1) }));
    const commit = { from: 0, bytes: Uint8Array.from(encodeMessage({ type: MessageType.Commit, ballot, slot: 1, digest: digestOf(v1), certificate })) };
    deliver!([commit, accept(2, v2, digestOf(v1))]);
    await sleep(10);
    assert.deepEqual(events, ['persist', 'persist', 'verify 1', 'verify 1']);
    assert.equal(driver.core.status().commitIndex, 1);
    // Alone on an idle follower, a COMMIT is still checked, a moment later.
    events.length = 0;
    const certificate2 = [0, 1].map((validator) => ({ validator, signature: testSignature(validator, 2, v2) }));
    deliver!([{ from: 0, bytes: Uint8Array.from(encodeMessage({ type: MessageType.Commit, ballot, slot: 2, digest: digestOf(v2), certificate: certificate2 })) }]);
    assert.deepEqual(events, []);
    await sleep(10);
    assert.deepEqual(events, ['verify 2', 'verify 2']);
    assert.equal(driver.core.status().commitIndex, 2);
  } finally {
    driver.stop();
  }
});

/**
 * One driver whose core will throw: in a received batch, in a tick, or in a message to
 * itself (a microtask). Every throw must reach onFatal, once, with the driver stopped; none
 * may escape as an uncaught exception (review of 2026-11-30).
 */
async function fatalFrom(setup: { replicas: number; random?: () => number; sign?: (slot: number, value: Uint8Array) => Uint8Array; persist?: () => Promise<void> }, act: (driver: ReplicaDriver, deliver: (batch: readonly PeerMessage[]) => void) => void): Promise<unknown[]> {
  let deliver: ((batch: readonly PeerMessage[]) => void) | null = null;
  const fatal: unknown[] = [];
  const driver = new ReplicaDriver({
    tickMs: 1,
    config: {
      id: 0,
      replicas: setup.replicas,
      window: 8,
      electionTicks: 5,
      heartbeatTicks: 2,
      valueBytesMax: limits.valueBytesMax,
      random: setup.random ?? (() => 0.5),
      sign: setup.sign ?? ((slot, value) => testSignature(0, slot, value)),
      verifyVote: (v, slot, value, sig) => Buffer.compare(testSignature(v, slot, value), sig) === 0,
    },
    durable: recoverDurable([], 0, ZERO_DIGEST),
    transport: { send: () => true, receive: (h) => (deliver = h) },
    log: { append: () => undefined, persist: setup.persist ?? (async () => undefined) },
    learner: { apply: async () => undefined, get: () => undefined },
    onFatal: (error) => fatal.push(error),
  });
  driver.start();
  try {
    act(driver, deliver!);
    for (let t = 0; t < 200 && fatal.length === 0; t++) await sleep(2);
    await sleep(10); // nothing more after the first
    return fatal;
  } finally {
    driver.stop();
  }
}

const broken = new Error('sign: broken');
const throwingSign = (): Uint8Array => {
  throw broken;
};

test('a throw in a received batch stops the driver through onFatal, not out of the transport callback (review of 2026-11-30)', async () => {
  // A peer's ACCEPT reaches sign.
  const fatal = await fatalFrom({ replicas: 3, sign: throwingSign }, (_driver, deliver) => {
    const accept = encodeMessage({ type: MessageType.Accept, ballot: { round: 1, leader: 1 }, slot: 1, leaderCommit: 0, prevDigest: ZERO_DIGEST, value: text('v') });
    assert.doesNotThrow(() => deliver([{ from: 1, bytes: Uint8Array.from(accept) }]));
    assert.doesNotThrow(() => deliver([{ from: 1, bytes: Uint8Array.from(accept) }]), 'a stopped driver ignores batches');
  });
  assert.deepEqual(fatal, [broken]);
});

test('a throw in a tick stops the driver through onFatal, not as an uncaught exception in setInterval (review of 2026-11-30)', async () => {
  // random() breaks its contract when the election timeout is drawn again, at the campaign.
  let draws = 0;
  const fatal = await fatalFrom({ replicas: 3, random: () => (draws++ === 0 ? 0.5 : 1) }, () => undefined);
  assert.equal(fatal.length, 1);
  assert.match(String(fatal[0]), /random\(\) in \[0, 1\)/);
});

test('a throw in a message to itself stops the driver through onFatal, not as an uncaught exception in a microtask (review of 2026-11-30)', async () => {
  // A single replica leads, and its own ACCEPT reaches sign.
  const fatal = await fatalFrom({ replicas: 1, sign: throwingSign }, (driver) => {
    const proposeWhenLeader = (): void => {
      if (driver.core.proposableSlot() === null) {
        setTimeout(proposeWhenLeader, 1);
        return;
      }
      assert.equal(driver.propose(text('own')), 1);
    };
    proposeWhenLeader();
  });
  assert.deepEqual(fatal, [broken]);
});

test('a throw in the hand-off after propose stops the driver through onFatal, and propose still returns its slot (review of 2026-11-30)', async () => {
  let failing = false;
  let slot: number | null = null;
  // A single replica leads on its own; then its log's persist throws (not rejects) on the proposal's record.
  const fatal = await fatalFrom(
    {
      replicas: 1,
      persist: () => {
        if (failing) throw broken;
        return Promise.resolve();
      },
    },
    (driver) => {
      const proposeWhenLeader = (): void => {
        if (driver.core.proposableSlot() === null) {
          setTimeout(proposeWhenLeader, 1);
          return;
        }
        failing = true;
        slot = driver.propose(text('own'));
      };
      proposeWhenLeader();
    },
  );
  assert.deepEqual(fatal, [broken]);
  assert.equal(slot, 1);
});
