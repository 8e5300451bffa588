/**
 * A small synchronous harness for scenario tests of the consensus core: a perfect network
 * (with per-link cuts), disks that persist at once unless told to hold, and real records.
 */
import { createHash } from 'node:crypto';
import type { DurableRecord, Vote } from '../../consensus/messages.js';
import { digestOf, recoverDurable, Replica, ZERO_DIGEST, type Committed, type PlantedBug, type ReplicaConfig } from '../../consensus/replica.js';

export function testSignature(replica: number, slot: number, value: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`key-${replica}/${slot}/`).update(digestOf(value)).digest());
}

export class Cluster {
  readonly replicas: Array<Replica | null> = [];
  readonly records: DurableRecord[][] = [];
  readonly committed: Array<Map<number, Committed>> = [];
  readonly cut = new Set<string>();
  /** Replicas whose disk holds writes (ready() is not advanced) until released. */
  readonly holding = new Set<number>();
  /**
   * Replicas whose learner lags: their commits stay in `unapplied` (lost at a crash) until
   * `applyAll`, rather than becoming durable at once.
   */
  readonly lagging = new Set<number>();
  readonly unapplied: Committed[][] = [];
  private readonly queue: Array<{ from: number; to: number; bytes: Uint8Array }> = [];
  private seed = 1;

  constructor(
    readonly n: number,
    private readonly bug?: PlantedBug,
    /** Replaces parts of replica i's configuration (e.g. `validValue` and a `sign` that throws as the validator's does). */
    private readonly overrides?: (i: number) => Partial<ReplicaConfig>,
  ) {
    for (let i = 0; i < n; i++) {
      this.records.push([]);
      this.committed.push(new Map());
      this.unapplied.push([]);
      this.replicas.push(null);
      this.start(i);
    }
  }

  start(i: number): Replica {
    const log = this.committed[i]!;
    let commitIndex = 0;
    while (log.has(commitIndex + 1)) commitIndex++;
    const last = log.get(commitIndex);
    let state = this.seed++ * 7919;
    const replica = new Replica(
      {
        id: i,
        replicas: this.n,
        window: 4,
        electionTicks: 10,
        heartbeatTicks: 2,
        valueBytesMax: 1024,
        random: () => {
          state = (state * 1103515245 + 12345) % 2 ** 31;
          return state / 2 ** 31;
        },
        sign: (slot, value) => testSignature(i, slot, value),
        verifyVote: (v, slot, value, signature) => Buffer.compare(testSignature(v, slot, value), signature) === 0,
        log: { get: (slot) => log.get(slot) },
        bug: this.bug,
        ...this.overrides?.(i),
      },
      recoverDurable(this.records[i]!, commitIndex, last === undefined ? ZERO_DIGEST : last.digest),
    );
    this.replicas[i] = replica;
    return replica;
  }

  crash(i: number): void {
    this.replicas[i] = null;
    this.unapplied[i] = [];
  }

  /** Makes replica i's lagging commits durable and tells its core (Replica.applied). */
  applyAll(i: number): void {
    for (const c of this.unapplied[i]!) this.committed[i]!.set(c.slot, c);
    this.unapplied[i] = [];
    this.reportApplied(i);
  }

  private reportApplied(i: number): void {
    const log = this.committed[i]!;
    let height = 0;
    while (log.has(height + 1)) height++;
    if (height > 0) this.replicas[i]?.applied(height);
  }

  inject(from: number, to: number, bytes: Uint8Array): void {
    this.queue.push({ from, to, bytes });
  }

  /** Hands out ready() of every live replica not holding its disk, and delivers everything. */
  settle(rounds = 10_000): void {
    for (let k = 0; k < rounds; k++) {
      let moved = false;
      for (let i = 0; i < this.n; i++) {
        const r = this.replicas[i];
        if (r === null || r === undefined || this.holding.has(i) || !r.hasReady()) continue;
        const ready = r.ready();
        this.records[i]!.push(...ready.persist);
        if (this.lagging.has(i)) this.unapplied[i]!.push(...ready.commit);
        else {
          for (const c of ready.commit) this.committed[i]!.set(c.slot, c);
          if (ready.commit.length > 0) this.reportApplied(i);
        }
        for (const o of ready.send) this.queue.push({ from: i, to: o.to, bytes: o.bytes });
        r.advance();
        moved = true;
      }
      const batch = this.queue.splice(0);
      for (const m of batch) {
        if (this.cut.has(`${m.from}>${m.to}`)) continue;
        this.replicas[m.to]?.step(m.from, m.bytes);
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error('cluster did not settle');
  }

  tick(times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const r of this.replicas) r?.tick();
      this.settle();
    }
  }

  leader(): number {
    return this.replicas.findIndex((r) => r !== null && r.status().role === 'leader');
  }

  /** Ticks until some replica leads; returns its index. */
  elect(limit = 500): number {
    for (let t = 0; t < limit; t++) {
      const at = this.leader();
      if (at >= 0 && this.replicas[at]!.proposableSlot() !== null) return at;
      this.tick();
    }
    throw new Error('no leader elected');
  }

  values(i: number): string[] {
    const log = this.committed[i]!;
    const out: string[] = [];
    for (let s = 1; log.has(s); s++) out.push(Buffer.from(log.get(s)!.value).toString());
    return out;
  }
}

export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export type { Vote };
