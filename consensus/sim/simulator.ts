/**
 * The deterministic simulator: N replicas of the real core on a simulated network and
 * disk, with faults drawn from one seed, and a checker that watches every commit.
 *
 * A run has a chaos phase (message loss, duplication, delay and reordering, partitions,
 * crashes that lose unpersisted writes and may tear the last one, timer skew, learners that
 * stall so committed values pile up undurable, power losses that crash every replica at
 * once) and then a
 * heal phase (every replica up but one gone for good on some seeds, no partitions, no loss) in which fresh requests must commit
 * within a bound. The same seed always gives the same run.
 */
import { createHash } from 'node:crypto';
import { CodecError } from '../codec.js';
import { decodeRecord, encodeRecord, type DurableRecord, type Vote, type WireLimits } from '../messages.js';
import { digestOf, PLANTED_BUGS, recoverDurable, Replica, ZERO_DIGEST, type Committed, type PlantedBug, type ReplicaConfig } from '../replica.js';

/** Small fast seeded generator (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

export interface SimOptions {
  readonly seed: number;
  /** Ticks of the chaos phase; the heal phase adds `healTicks`. */
  readonly steps: number;
  readonly replicas?: number | undefined;
  readonly bug?: PlantedBug | undefined;
}

export interface SimResult {
  readonly seed: number;
  readonly replicas: number;
  readonly violations: string[];
  readonly livenessFailures: string[];
  readonly committed: number;
  readonly faults: Record<string, number>;
  readonly ticks: number;
  /** Accept records handed to the disks (a measure of the acceptors' write load). */
  readonly acceptRecords: number;
  /** Each replica at the end (null: down), for diagnosing a failing seed. */
  readonly final: ReadonlyArray<ReturnType<Replica['status']> & { counters: Replica['counters'] } | null>;
}

/** Ticks after the heal within which every fresh request must commit. */
export const LIVENESS_BOUND_TICKS = 400;
const HEAL_TICKS = LIVENESS_BOUND_TICKS + 200;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
const WINDOW = 8;
const VALUE_BYTES_MAX = 4096;

interface InFlight {
  readonly at: number;
  readonly from: number;
  readonly to: number;
  readonly bytes: Uint8Array;
}

interface Disk {
  /** Durable acceptor records, encoded. */
  readonly records: Uint8Array[];
  /** Durable committed log. */
  readonly committed: Map<number, { value: Uint8Array; certificate: readonly Vote[] }>;
}

interface Node {
  replica: Replica | null;
  readonly disk: Disk;
  /** Committed entries written but not yet durable (lost at a crash). */
  volatileCommitted: Map<number, { value: Uint8Array; certificate: readonly Vote[] }>;
  /** Until this tick the learner stalls: commits stay in volatileCommitted (a slow store). */
  learnerStalledUntil: number;
  /** The durable committed height the core was last told of. */
  appliedHeight: number;
  /** A persist in progress: its records become durable at `doneAt`. */
  pending: { records: Uint8Array[]; doneAt: number } | null;
  skew: number;
  tickDebt: number;
  downUntil: number;
}

function voteSecret(replica: number): Uint8Array {
  return createHash('sha256').update(`stele-sim-key-${replica}`).digest();
}

/**
 * A stand-in signature, cheap enough for millions of votes: the value's digest mixed with
 * the replica's secret and the slot. Forging one needs the secret, as with a real key.
 */
function simSignature(secret: Uint8Array, slot: number, value: Uint8Array): Uint8Array {
  const digest = digestOf(value);
  const out = new Uint8Array(16);
  let h = (slot * 0x9e3779b1) >>> 0;
  for (let i = 0; i < 32; i++) {
    h = Math.imul(h ^ ((digest[i] as number) + (secret[i] as number)), 0x01000193) >>> 0;
    out[i & 15] = ((out[i & 15] as number) ^ h ^ (h >>> 13)) & 0xff;
  }
  return out;
}

const REPLICA_CHOICES = [3, 3, 3, 3, 5, 5, 7, 1];

export function simulate(options: SimOptions): SimResult {
  const rng = new Rng(options.seed);
  const n = options.replicas ?? rng.pick(REPLICA_CHOICES);
  const quorum = Math.floor(n / 2) + 1;
  const limits: WireLimits = { replicas: n, valueBytesMax: VALUE_BYTES_MAX };
  const secrets = Array.from({ length: n }, (_, i) => voteSecret(i));
  const verifyVote = (validator: number, slot: number, value: Uint8Array, signature: Uint8Array): boolean =>
    validator < n && Buffer.compare(simSignature(secrets[validator] as Uint8Array, slot, value), signature) === 0;

  // Faults of this seed.
  const loss = rng.next() * 0.3;
  const duplication = rng.next() * 0.5;
  const delayMax = rng.int(1, 12);
  const crashRate = rng.next() * 0.02;
  const diskDelayMax = rng.int(0, 4);
  const partitionRate = rng.next() * 0.01;
  const garbageRate = rng.next() * 0.002;
  // Faults added on 2026-12-01 draw from a second generator, so that the faults above
  // (and the runs of seeds tried before) keep their stream until one of these intervenes.
  const rng2 = new Rng(options.seed ^ 0x5bd1e995);
  const stallRate = rng2.next() * 0.004;
  const powerLossRate = rng2.next() * 0.002;
  const largeValues = rng2.next() * 0.5;
  // On some seeds one replica (never more than a minority) stays down through the heal.
  // On half of those it goes at a power loss (it never comes back from it) rather than at
  // the heal: the others must then commit again, with their own votes, any slot that only it
  // held durably (the case a review found by hand in the first version of the held bound).
  const goneForGood = n >= 3 && rng2.chance(0.3) ? rng2.int(0, n - 1) : -1;
  const goneAtPowerLoss = goneForGood >= 0 && rng2.chance(0.5);
  let acceptRecords = 0;
  const faults: Record<string, number> = { lost: 0, duplicated: 0, crashes: 0, torn_writes: 0, partitions: 0, garbage: 0, learner_stalls: 0, power_losses: 0, gone_for_good: 0, gone_at_power_loss: 0 };

  const violations: string[] = [];
  const livenessFailures: string[] = [];
  const chosen = new Map<number, string>(); // slot -> value digest hex
  const valueSlot = new Map<string, number>(); // value text -> slot
  const proposed = new Set<string>();

  const nodes: Node[] = Array.from({ length: n }, () => ({
    replica: null,
    disk: { records: [], committed: new Map() },
    volatileCommitted: new Map(),
    learnerStalledUntil: 0,
    appliedHeight: 0,
    pending: null,
    skew: 0.6 + rng.next() * 0.8,
    tickDebt: 0,
    downUntil: 0,
  }));
  let blocked: boolean[][] = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  let partitionUntil = 0;
  const network = new Map<number, InFlight[]>(); // delivery tick -> messages
  let now = 0;
  const chaosEnd = options.steps;
  const end = options.steps + HEAL_TICKS;

  const violate = (text: string): void => {
    if (violations.length < 20) violations.push(`tick ${now}: ${text}`);
  };
  // One value per (slot, ballot), across every acceptor and incarnation: a ballot is one
  // leader's, once. Checked at every accept an acceptor records, durable or not.
  const acceptedAt = new Map<string, string>();
  const checkAccepts = (records: readonly DurableRecord[]): void => {
    for (const rec of records) {
      if (rec.kind !== 'accept') continue;
      const key = `${rec.slot}/${rec.ballot.round}/${rec.ballot.leader}`;
      const digest = createHash('sha256').update(rec.value).digest('hex');
      const seen = acceptedAt.get(key);
      if (seen === undefined) acceptedAt.set(key, digest);
      else if (seen !== digest) violate(`slot ${rec.slot}: two values accepted at ballot (${rec.ballot.round}, ${rec.ballot.leader})`);
    }
  };

  function committedLog(i: number): ReplicaConfig['log'] {
    return { get: (slot) => nodes[i]?.volatileCommitted.get(slot) ?? nodes[i]?.disk.committed.get(slot) };
  }

  function start(i: number): void {
    const node = nodes[i] as Node;
    // Recovery: decode records up to the first torn or corrupt one and cut the tail there.
    const records = [];
    let whole = 0;
    for (const bytes of node.disk.records) {
      try {
        records.push(decodeRecord(bytes, limits));
        whole++;
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
        break;
      }
    }
    node.disk.records.length = whole;
    let commitIndex = 0;
    while (node.disk.committed.has(commitIndex + 1)) commitIndex++;
    for (const slot of [...node.disk.committed.keys()]) if (slot > commitIndex) node.disk.committed.delete(slot);
    const last = node.disk.committed.get(commitIndex);
    const durable = recoverDurable(records, commitIndex, last === undefined ? ZERO_DIGEST : digestOf(last.value));
    const random = new Rng(options.seed * 31 + i * 7919 + now);
    node.replica = new Replica(
      {
        id: i,
        replicas: n,
        window: WINDOW,
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: HEARTBEAT_TICKS,
        valueBytesMax: VALUE_BYTES_MAX,
        random: () => random.next(),
        sign: (slot, value) => simSignature(secrets[i] as Uint8Array, slot, value),
        verifyVote,
        log: committedLog(i),
        bug: options.bug,
      },
      durable,
    );
    node.volatileCommitted = new Map();
    node.appliedHeight = commitIndex;
    node.pending = null;
  }

  function crash(i: number, counted = true): void {
    const node = nodes[i] as Node;
    if (node.pending !== null && node.pending.records.length > 0 && rng.chance(0.5)) {
      // Tear the first record of the write in progress.
      const first = node.pending.records[0] as Uint8Array;
      node.disk.records.push(first.subarray(0, rng.int(0, first.length - 1)));
      faults.torn_writes = (faults.torn_writes ?? 0) + 1;
    }
    node.replica = null;
    node.pending = null;
    node.volatileCommitted = new Map();
    if (counted) faults.crashes = (faults.crashes ?? 0) + 1;
  }

  function onCommitted(i: number, c: Committed): void {
    const hex = Buffer.from(c.digest).toString('hex');
    const known = chosen.get(c.slot);
    if (known === undefined) chosen.set(c.slot, hex);
    else if (known !== hex) violate(`agreement: replica ${i} committed a different value at slot ${c.slot}`);
    const text = Buffer.from(c.value).toString('utf8');
    if (!proposed.has(text)) violate(`validity: replica ${i} committed a value never proposed at slot ${c.slot}`);
    const at = valueSlot.get(text);
    if (at === undefined) valueSlot.set(text, c.slot);
    else if (at !== c.slot) violate(`validity: value ${text} committed at slots ${at} and ${c.slot}`);
    const signers = new Set<number>();
    for (const v of c.certificate) if (verifyVote(v.validator, c.slot, c.value, v.signature)) signers.add(v.validator);
    if (signers.size < quorum) violate(`certificate: slot ${c.slot} at replica ${i} has ${signers.size} valid votes of ${quorum}`);
    const node = nodes[i] as Node;
    node.volatileCommitted.set(c.slot, { value: c.value, certificate: c.certificate });
  }

  function send(from: number, to: number, bytes: Uint8Array): void {
    if (now < chaosEnd && (blocked[from]?.[to] === true || rng.chance(loss))) {
      faults.lost = (faults.lost ?? 0) + 1;
      return;
    }
    const delay = now < chaosEnd ? rng.int(1, delayMax) : 1;
    deliverAt(now + delay, { at: now + delay, from, to, bytes });
    if (now < chaosEnd && rng.chance(duplication)) {
      const at = now + rng.int(1, delayMax * 2);
      deliverAt(at, { at, from, to, bytes });
      faults.duplicated = (faults.duplicated ?? 0) + 1;
    }
  }

  function deliverAt(at: number, m: InFlight): void {
    const list = network.get(at);
    if (list === undefined) network.set(at, [m]);
    else list.push(m);
  }

  /** Runs a replica's ready loop until it waits on its disk or has nothing to do. */
  function pump(i: number): void {
    const node = nodes[i] as Node;
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const replica = node.replica;
      if (replica === null) return;
      if (node.pending !== null) {
        // The disk is busy: like the driver, hand over sends and commits that do not wait
        // for it (most of the time; sometimes they wait for the disk, as before flush()).
        if (!replica.hasFlushable() || !rng.chance(0.8)) return;
        const f = replica.flush();
        handOver(i, f.send, f.commit);
        continue;
      }
      if (!replica.hasReady()) return;
      const r = replica.ready();
      const local = handOver(i, r.send, r.commit, true);
      // Committed values reach the disk with the next persist (or now, when there is none).
      if (r.persist.length === 0) {
        learnerWrites(i);
        replica.advance();
      } else {
        checkAccepts(r.persist);
        for (const rec of r.persist) if (rec.kind === 'accept') acceptRecords++;
        node.pending = { records: r.persist.map(encodeRecord), doneAt: now + rng.int(0, diskDelayMax) };
        if (node.pending.doneAt === now) finishPersist(i);
      }
      for (const bytes of local) node.replica?.step(i, bytes);
    }
    violate(`replica ${i}: ready loop did not settle`);
  }

  /** Sends and commits of one hand-off; messages to itself are stepped now or returned. */
  function handOver(i: number, out: readonly { to: number; bytes: Uint8Array }[], commits: readonly Committed[], deferLocal = false): Uint8Array[] {
    const local: Uint8Array[] = [];
    for (const o of out) {
      if (o.to === i) local.push(o.bytes);
      else send(i, o.to, o.bytes);
    }
    for (const c of commits) onCommitted(i, c);
    if (deferLocal) return local;
    for (const bytes of local) nodes[i]?.replica?.step(i, bytes);
    return [];
  }

  /**
   * Committed values reach the disk with each persist, unless the learner stalls; then the
   * core hears how far they are durable (Replica.applied).
   */
  function learnerWrites(i: number): void {
    const node = nodes[i] as Node;
    if (now < node.learnerStalledUntil || node.replica === null) return;
    for (const [slot, e] of node.volatileCommitted) node.disk.committed.set(slot, e);
    node.volatileCommitted.clear();
    let height = node.appliedHeight;
    while (node.disk.committed.has(height + 1)) height++;
    node.appliedHeight = height;
    if (height > 0) node.replica.applied(height);
  }

  function finishPersist(i: number): void {
    const node = nodes[i] as Node;
    if (node.pending === null || node.replica === null) return;
    for (const bytes of node.pending.records) node.disk.records.push(bytes);
    learnerWrites(i);
    node.pending = null;
    node.replica.advance();
  }

  // The client: numbered requests, each retried as a new attempt when it is slow.
  interface Request {
    readonly id: number;
    readonly submittedAt: number;
    attempts: string[];
    lastAttemptAt: number;
    committedAt: number | null;
  }
  const requests: Request[] = [];
  let nextRequest = 0;
  const RETRY_TICKS = ELECTION_TICKS * 6;

  /** Gives a new attempt of `request` to a leader; returns which, or -1 when none can take it. */
  function offer(request: Request): number {
    const leaders = nodes.map((x, i) => ({ x, i })).filter(({ x }) => x.replica !== null && x.replica.proposableSlot() !== null);
    if (leaders.length === 0) return -1;
    const { x, i } = rng.pick(leaders);
    // Some seeds make some values large, so that a stalled learner's backlog reaches what an
    // acceptor may hold (Replica heldBytesMax) within a stall.
    const pad = rng.int(0, 64) + (rng2.chance(largeValues) ? rng2.int(VALUE_BYTES_MAX / 2, VALUE_BYTES_MAX - 200) : 0);
    const text = `r${request.id}a${request.attempts.length}-${'x'.repeat(pad)}`;
    proposed.add(text);
    request.attempts.push(text);
    request.lastAttemptAt = now;
    x.replica?.propose(new TextEncoder().encode(text));
    return i;
  }

  for (let i = 0; i < n; i++) start(i);
  for (now = 1; now <= end; now++) {
    const chaos = now < chaosEnd;
    if (now === chaosEnd) {
      // Heal: everyone up, no partitions; the network stops losing and duplicating.
      blocked = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
      for (const node of nodes) node.learnerStalledUntil = 0;
      for (let i = 0; i < n; i++) if ((nodes[i] as Node).replica === null && i !== goneForGood) start(i);
      if (goneForGood >= 0) {
        if ((nodes[goneForGood] as Node).replica !== null) crash(goneForGood, false);
        (nodes[goneForGood] as Node).downUntil = Number.POSITIVE_INFINITY;
        faults.gone_for_good = 1;
      }
    }
    // Faults.
    if (chaos) {
      if (rng2.chance(stallRate)) {
        const until = now + rng2.int(50, 600);
        for (const node of nodes) if (rng2.chance(0.7)) node.learnerStalledUntil = Math.max(node.learnerStalledUntil, until);
        faults.learner_stalls = (faults.learner_stalls ?? 0) + 1;
      }
      if (rng2.chance(powerLossRate)) {
        for (let i = 0; i < n; i++) {
          const node = nodes[i] as Node;
          if (node.replica === null) continue;
          crash(i, false);
          node.downUntil = now + rng2.int(1, ELECTION_TICKS * 4);
        }
        faults.power_losses = (faults.power_losses ?? 0) + 1;
        if (goneAtPowerLoss && faults.gone_for_good === 0) {
          (nodes[goneForGood] as Node).downUntil = Number.POSITIVE_INFINITY;
          faults.gone_for_good = 1;
          faults.gone_at_power_loss = 1;
        }
      }
      if (rng.chance(crashRate)) {
        const i = rng.int(0, n - 1);
        const node = nodes[i] as Node;
        if (node.replica !== null) {
          crash(i);
          node.downUntil = now + rng.int(1, ELECTION_TICKS * 8);
        }
      }
      if (now >= partitionUntil && rng.chance(partitionRate)) {
        blocked = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
        const kind = rng.int(0, 2);
        if (kind === 0) {
          const side = Array.from({ length: n }, () => rng.chance(0.5));
          for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (side[a] !== side[b]) (blocked[a] as boolean[])[b] = true;
        } else if (kind === 1) {
          const lone = rng.int(0, n - 1);
          for (let b = 0; b < n; b++) if (b !== lone) (blocked[lone] as boolean[])[b] = (blocked[b] as boolean[])[lone] = true;
        } else {
          for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (a !== b && rng.chance(0.3)) (blocked[a] as boolean[])[b] = true;
        }
        partitionUntil = now + rng.int(ELECTION_TICKS, ELECTION_TICKS * 20);
        faults.partitions = (faults.partitions ?? 0) + 1;
      } else if (now === partitionUntil) {
        blocked = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
      }
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as Node;
        if (node.replica === null && now >= node.downUntil) start(i);
      }
    }
    // Deliver what is due (the network is shuffled by the random delays).
    const due = network.get(now) ?? [];
    network.delete(now);
    for (const m of due) {
      const target = nodes[m.to] as Node;
      if (target.replica === null) continue;
      let bytes = m.bytes;
      if (chaos && rng.chance(garbageRate)) {
        // Garbage in place of the message: a truncated copy or random bytes. (A bit flip
        // that still decodes is a tampered frame, which the transport's integrity check
        // refuses before the core sees it; the core is not asked to detect it.)
        bytes = rng.chance(0.5) ? bytes.subarray(0, rng.int(0, bytes.length - 1)) : Uint8Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255));
        faults.garbage = (faults.garbage ?? 0) + 1;
      }
      target.replica.step(m.from, bytes);
      pump(m.to);
    }
    // Disks and timers.
    for (let i = 0; i < n; i++) {
      const node = nodes[i] as Node;
      if (node.pending !== null && node.pending.doneAt <= now) finishPersist(i);
      if (node.replica === null) continue;
      // The learner writes on its own too (the driver's does), not only with a persist.
      learnerWrites(i);
      node.tickDebt += chaos ? node.skew : 1;
      while (node.tickDebt >= 1) {
        node.tickDebt -= 1;
        node.replica.tick();
      }
      pump(i);
    }
    // Client requests: a trickle during chaos, a batch right after the heal.
    if ((chaos && rng.chance(0.2)) || now === chaosEnd + 1) {
      const count = now === chaosEnd + 1 ? 10 : 1;
      for (let k = 0; k < count; k++) requests.push({ id: nextRequest++, submittedAt: now, attempts: [], lastAttemptAt: -Infinity, committedAt: null });
    }
    for (const r of requests) {
      if (r.committedAt !== null) continue;
      if (r.attempts.some((a) => valueSlot.has(a))) {
        r.committedAt = now;
        continue;
      }
      if (now - r.lastAttemptAt >= RETRY_TICKS) {
        const leader = offer(r);
        if (leader >= 0) pump(leader);
      }
    }
  }
  // Liveness: requests made after the heal committed within the bound, and every replica
  // holds every committed slot.
  for (const r of requests) {
    if (r.submittedAt <= chaosEnd) continue;
    if (r.committedAt === null) livenessFailures.push(`request ${r.id} submitted at ${r.submittedAt} never committed`);
    else if (r.committedAt - r.submittedAt > LIVENESS_BOUND_TICKS) livenessFailures.push(`request ${r.id} took ${r.committedAt - r.submittedAt} ticks`);
  }
  const top = Math.max(0, ...chosen.keys());
  for (let i = 0; i < n; i++) {
    if (i === goneForGood) continue;
    const status = (nodes[i] as Node).replica?.status();
    if (status === undefined || status.commitIndex < top) livenessFailures.push(`replica ${i} ends at commit ${status?.commitIndex ?? 'down'} of ${top}`);
  }
  const final = nodes.map((x) => (x.replica === null ? null : { ...x.replica.status(), counters: { ...x.replica.counters } }));
  return { seed: options.seed, replicas: n, violations, livenessFailures, committed: top, faults, ticks: end, acceptRecords, final };
}

export function plantedBug(name: string | undefined): PlantedBug | undefined {
  if (name === undefined || name === '') return undefined;
  if (!(PLANTED_BUGS as readonly string[]).includes(name)) throw new RangeError(`unknown STELE_SIM_BUG ${name}; one of ${PLANTED_BUGS.join(', ')}`);
  return name as PlantedBug;
}
