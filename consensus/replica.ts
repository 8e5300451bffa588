/**
 * The Multi-Paxos core: one replica's proposer, acceptor and learner, pure and synchronous.
 *
 * Inputs: `step(from, bytes)` for a peer message (the transport authenticated `from`),
 * `tick()` for time, `propose(value)` on the leader. Output: `ready()` hands over
 * { persist, send, commit }; the driver appends `persist` durably, sends `send` (at once:
 * nothing in it depends on this ready's records), applies `commit` in order, and calls
 * `advance()` once the records are durable. Replies that promise something on disk
 * (PROMISE, ACCEPTED) wait in an after-persist outbox and are released by that `advance()`.
 * While the disk is busy, `flush()` hands over sends and commits queued since (not records).
 * No clock, timer, socket, disk or randomness inside: `random`, `sign`, `verifyVote` and
 * the committed log are injected.
 *
 * Protocol (docs/consensus.md has the argument):
 * - Slots are heights from 1. Ballots are (round, leader index). A candidate runs phase 1
 *   for every slot above its commit index; acceptors answer with everything they accepted
 *   there, in chunks.
 * - Values form a chain: each accept carries the digest of the value at the previous
 *   slot. An acceptor accepts slot s at ballot b only if it holds slot s-1 at ballot b with
 *   that digest, or s-1 is known committed. So a value chosen at s implies the value at
 *   s-1 it was built on is chosen too, and the new leader re-proposes recovered values
 *   while their digests link, dropping the rest (which cannot have been chosen).
 * - Acceptors sign what they accept; a quorum of signatures is the certificate that
 *   commits a value, checked by every learner before use.
 * - Followers ignore PREPAREs while they hear from a live leader (no disruption by a node
 *   returning from a partition); a leader steps down when a quorum stops answering.
 */
import { hash } from 'node:crypto';
import { copyBytes, invariant } from '../ledger/assert.js';
import { CodecError } from './codec.js';
import {
  BALLOT_ZERO,
  compareBallots,
  decodeMessage,
  DIGEST_BYTES,
  encodeMessage,
  ENTRIES_PER_MESSAGE_MAX,
  MessageType,
  ROUND_MAX,
  type Ballot,
  type CertifiedEntry,
  type DurableRecord,
  type Message,
  type PromiseEntry,
  type Vote,
  type WireLimits,
} from './messages.js';

/** Misbehaviours planted on purpose so tests can show the simulator catches them. */
export type PlantedBug = 'ack-before-persist' | 'skip-link-check' | 'forget-promised-values' | 'commit-without-quorum' | 'ignore-held-bound' | 'one-held-bound';
export const PLANTED_BUGS: readonly PlantedBug[] = ['ack-before-persist', 'skip-link-check', 'forget-promised-values', 'commit-without-quorum', 'ignore-held-bound', 'one-held-bound'];

/** Committed values the driver has stored (for serving catch-up). */
export interface CommittedLog {
  get(slot: number): { readonly value: Uint8Array; readonly certificate: readonly Vote[] } | undefined;
}

export interface ReplicaConfig {
  readonly id: number;
  readonly replicas: number;
  /** Slots a leader may have in flight beyond its commit index. */
  readonly window: number;
  /** Base election timeout in ticks; each timeout is drawn from [base, 2 base). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly valueBytesMax: number;
  /** Uniform in [0, 1): the only source of randomness. */
  readonly random: () => number;
  /**
   * Whether `value` may be the value of `slot` at all (default: any value is). A peer's
   * ACCEPT, PROMISE or CATCHUP_REPLY carrying a value that fails it is garbage, dropped
   * before it changes any state; `propose` refuses one with a RangeError. It must accept
   * every value `sign` can sign: the validator checks that the value is a block of this
   * chain at that height whose header decodes, which is what its `sign` reads (review of
   * 2026-11-30: a peer's ACCEPT of one byte made `sign` throw on every follower).
   */
  readonly validValue?: ((slot: number, value: Uint8Array) => boolean) | undefined;
  /** This replica's signature over (slot, value), sent with ACCEPTED. A throw is a broken invariant: `validValue` let the value through. */
  readonly sign: (slot: number, value: Uint8Array) => Uint8Array;
  readonly verifyVote: (validator: number, slot: number, value: Uint8Array, signature: Uint8Array) => boolean;
  readonly log: CommittedLog;
  readonly bug?: PlantedBug | undefined;
}

/** What a restarted replica recovers: its acceptor records and its committed prefix. */
export interface DurableState {
  readonly promised: Ballot;
  readonly entries: readonly PromiseEntry[];
  readonly commitIndex: number;
  /** Digest of the value at `commitIndex` (32 zero bytes at 0). */
  readonly commitDigest: Uint8Array;
}

export interface Outgoing {
  readonly to: number;
  readonly bytes: Uint8Array;
}

export interface Committed extends CertifiedEntry {
  readonly digest: Uint8Array;
  /**
   * True when the value came in a catch-up reply (a peer's committed log), not accepted
   * here: DESIGN.md has a replica verify such blocks as an auditor would, so the learner
   * checks every signature of them (node/validator.ts).
   */
  readonly caughtUp: boolean;
}

/** A certified value waiting for its slot, and whether it came by catch-up. */
type Pending = CertifiedEntry & { readonly caughtUp: boolean };

export interface Ready {
  readonly persist: readonly DurableRecord[];
  readonly send: readonly Outgoing[];
  readonly commit: readonly Committed[];
}

export type Role = 'follower' | 'candidate' | 'leader';

export interface ReplicaCounters {
  /** Messages that failed to decode or validate. */
  garbage: number;
  /** Well-formed messages that were stale or out of place and were dropped. */
  dropped: number;
  /** PREPAREs ignored because a live leader is known. */
  preparesIgnored: number;
  /** Votes or certificates whose signatures failed. */
  badSignatures: number;
  elections: number;
  /** Elections a leader started because an acceptor had promised above its ballot (`outranked`); counted in `elections` too. */
  reelections: number;
  /**
   * Elections not started because the next round would pass ROUND_MAX: a peer claimed a
   * round near 2^32, which no honest cluster reaches (see `campaign`).
   */
  roundsExhausted: number;
  /**
   * ACCEPTs refused because this acceptor already holds heldBytesMax above its learner's
   * applied height (its learner lags): the leader sends them again, or this replica learns
   * the commits by catch-up.
   */
  learnerBehind: number;
  /**
   * ACCEPTs for a value this acceptor already holds at the same slot and ballot (a resend
   * or a duplicate): answered again, with nothing appended to its log.
   */
  acceptsRepeated: number;
}

export const ZERO_DIGEST = new Uint8Array(DIGEST_BYTES);
/** The most replicas the core runs with (a genesis may name up to 16 validators; a node refuses more than this). */
export const REPLICAS_MAX = 7;

/** SHA-256 of a value: what the chain of accepted values links by. */
export function digestOf(value: Uint8Array): Uint8Array {
  // @types/node 20 types crypto.hash as returning a string; with 'buffer' it returns a Buffer.
  const out = hash('sha256', value, 'buffer') as unknown as Buffer;
  return new Uint8Array(out.buffer, out.byteOffset, DIGEST_BYTES);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Folds acceptor records (in append order) into the state a restart begins from. */
export function recoverDurable(records: readonly DurableRecord[], commitIndex: number, commitDigest: Uint8Array): DurableState {
  let promised = BALLOT_ZERO;
  const entries = new Map<number, PromiseEntry>();
  for (const r of records) {
    if (compareBallots(r.ballot, promised) > 0) promised = r.ballot;
    if (r.kind === 'accept' && r.slot > commitIndex) entries.set(r.slot, { slot: r.slot, ballot: r.ballot, prevDigest: r.prevDigest, value: r.value });
  }
  return { promised, entries: [...entries.values()].sort((a, b) => a.slot - b.slot), commitIndex, commitDigest };
}

/**
 * The records an acceptor log may be cut down to once the learner has durably applied
 * slots 1..appliedIndex: one promise of the highest ballot any record carries, then the
 * last accept of each slot above appliedIndex, in slot order.
 *
 * Why this is safe (docs/consensus.md, "Compaction"): an acceptor must never forget a
 * promise, nor an accepted value that might still be chosen. The promise kept is the
 * highest ballot of all records, exactly what `recoverDurable` folds them into. Accepted
 * values at or below appliedIndex are committed and durably applied: their chosen values
 * live in the block store (with certificates, served by catch-up), and a restart begins
 * with commitIndex = the applied height >= appliedIndex, where `recoverDurable` and the
 * Replica constructor drop them anyway. Above appliedIndex nothing changes. So for every
 * commitIndex >= appliedIndex, `recoverDurable` of the result equals `recoverDurable` of
 * the input (a property test checks it).
 */
export function compactRecords(records: readonly DurableRecord[], appliedIndex: number): DurableRecord[] {
  invariant(Number.isSafeInteger(appliedIndex) && appliedIndex >= 0, 'applied index is a height');
  let promised = BALLOT_ZERO;
  const accepts = new Map<number, DurableRecord & { kind: 'accept' }>();
  for (const r of records) {
    if (compareBallots(r.ballot, promised) > 0) promised = r.ballot;
    if (r.kind === 'accept' && r.slot > appliedIndex) accepts.set(r.slot, r);
  }
  const out: DurableRecord[] = [];
  if (compareBallots(promised, BALLOT_ZERO) > 0) out.push({ kind: 'promise', ballot: promised });
  return out.concat([...accepts.values()].sort((a, b) => a.slot - b.slot));
}

interface Accepted {
  readonly ballot: Ballot;
  readonly prevDigest: Uint8Array;
  readonly value: Uint8Array;
  readonly digest: Uint8Array;
}

interface Proposal {
  readonly slot: number;
  readonly value: Uint8Array;
  readonly digest: Uint8Array;
  readonly prevDigest: Uint8Array;
  readonly votes: Map<number, Uint8Array>;
  chosen: boolean;
  sentAt: number;
}

interface PromiseState {
  commitIndex: number;
  lastSlot: number;
  /** The first slot no chunk received covers yet: the next chunk must start here. */
  next: number;
  /** Its entries above this replica's commit index (lead() uses no others). */
  readonly entries: PromiseEntry[];
  /** What `entries` costs, as `entryBytes` counts it. */
  bytes: number;
  complete: boolean;
}

/** Accepted entries an acceptor holds beyond its commit index, at most. */
function aheadMax(config: Pick<ReplicaConfig, 'window'>): number {
  return config.window * 4;
}

/** An entry's memory besides its value's bytes (slot, ballot, digest, objects), generously. */
const ENTRY_OVERHEAD_BYTES = 1024;

function entryBytes(e: PromiseEntry): number {
  return e.value.length + ENTRY_OVERHEAD_BYTES;
}

/**
 * What an acceptor may hold above its learner's applied height, as entryBytes counts it:
 * aheadMax entries of the largest value. It is also what one peer's promise may hold (see
 * onPromise), and an acceptor never holds more (see hasRoom), so what it lists in a promise
 * stays under it even after a restart, when everything it accepted above its applied height
 * comes back (committed or not: the commit index restarts at the applied height). Before
 * 2026-12-01 only the commit index bounded accepts: a learner lagging by more than this at a
 * power loss left promises that every candidate refused, so no leader could be elected
 * (docs/consensus.md, "What an acceptor holds").
 */
function heldBytesMax(config: Pick<ReplicaConfig, 'window' | 'valueBytesMax'>): number {
  return aheadMax(config) * (config.valueBytesMax + ENTRY_OVERHEAD_BYTES);
}

/**
 * The most bytes of encoded PROMISE messages one acceptor sends in answer to one PREPARE:
 * its entries above its commit index, which weigh at most heldBytesMax as entryBytes counts
 * them (an entry's encoding adds far less than ENTRY_OVERHEAD_BYTES to its value, and that
 * allowance also covers the header of the chunk it starts), plus one chunk header for an
 * answer of no entries. The chunks go out in one burst and a candidate takes them only in
 * order, so a transport must be able to queue this much to one peer at once: a chunk it
 * drops costs the whole promise, and the next election sends the same burst again. Before
 * 2026-12-02 the node's send queue (64 MiB) was smaller than this for blocks over about
 * 4 MiB, and after a whole-cluster restart with lagging learners no leader could be
 * elected (review of 2026-12-02; test/consensus/promise-burst.test.ts).
 */
export function promiseBytesMax(config: Pick<ReplicaConfig, 'window' | 'valueBytesMax'>): number {
  return heldBytesMax(config) + ENTRY_OVERHEAD_BYTES;
}

/**
 * The part of heldBytesMax that accepts above the first `window` slots past the applied
 * height may fill (see hasRoom): the rest is kept for those first slots, which are always
 * accepted.
 */
function gatedBytesMax(config: ReplicaConfig): number {
  return heldBytesMax(config) - config.window * (config.valueBytesMax + ENTRY_OVERHEAD_BYTES);
}

export class Replica {
  readonly id: number;
  readonly quorum: number;
  private readonly limits: WireLimits;
  readonly counters: ReplicaCounters = { garbage: 0, dropped: 0, preparesIgnored: 0, badSignatures: 0, elections: 0, reelections: 0, roundsExhausted: 0, learnerBehind: 0, acceptsRepeated: 0 };

  // Durable acceptor state (mirrored by the records handed out in ready()).
  private promised: Ballot;
  private readonly entries = new Map<number, Accepted>();
  // Learner state: the committed prefix is 1..commitIndex.
  private commitIndex: number;
  private commitDigest: Uint8Array;
  /** Certified values above the commit index waiting for the slots below them. */
  private readonly certified = new Map<number, Pending>();
  /** The learner's applied height: commits up to here are durable outside this core (`applied`). */
  private appliedIndex: number;
  /**
   * Every slot accepted here above appliedIndex (committed or not), with entryBytes of its
   * value, and their sum: what a restart would bring back (see heldBytesMax).
   */
  private readonly held = new Map<number, number>();
  private heldBytes = 0;
  /**
   * 0, or the highest slot of a recovered state heavier than this build admits (an older
   * build's directory): the bound is asserted once the applied height reaches it.
   */
  private readonly heldUncheckedBelow: number;

  private role: Role = 'follower';
  private ballot: Ballot = BALLOT_ZERO;
  private roundSeen = 0;
  private now = 0;
  private electionElapsed = 0;
  private electionTimeout: number;
  private heartbeatElapsed = 0;
  /** Highest ballot seen acting as leader (ACCEPT, HEARTBEAT, COMMIT), and who. */
  private leaderBallot: Ballot = BALLOT_ZERO;
  private leaderKnown = false;
  private catchupSentAt = -Infinity;
  /** The promiser a candidate last asked for catch-up (requestCatchupFromPromisers). */
  private catchupPeer = 0;
  /** Out-of-order ACCEPTs of the current ballot, waiting for the slot below. */
  private readonly acceptBuffer = new Map<number, Extract<Message, { type: MessageType.Accept }> & { from: number }>();

  // Candidate state. PREPARE carried campaignFromSlot (the commit index then, plus one).
  private campaignFromSlot = 1;
  private readonly promises = new Map<number, PromiseState>();
  private syncTarget = 0;
  // Leader state.
  private readonly proposals = new Map<number, Proposal>();
  private nextSlot = 0;
  private chainDigest: Uint8Array = ZERO_DIGEST;
  private readonly lastAck = new Map<number, number>();
  private quorumCheckElapsed = 0;

  // Hand-off to the driver.
  private persistQueue: DurableRecord[] = [];
  private sendQueue: Outgoing[] = [];
  private afterPersist: Outgoing[] = [];
  private commitQueue: Committed[] = [];
  private inFlight: Outgoing[] | null = null;

  constructor(
    private readonly config: ReplicaConfig,
    durable: DurableState,
  ) {
    invariant(Number.isInteger(config.replicas) && config.replicas >= 1 && config.replicas <= REPLICAS_MAX, `replicas 1..${REPLICAS_MAX}`);
    invariant(Number.isInteger(config.id) && config.id >= 0 && config.id < config.replicas, 'replica id in range');
    invariant(config.window >= 1 && config.window <= 1024, 'window 1..1024');
    invariant(config.heartbeatTicks >= 1 && config.electionTicks > config.heartbeatTicks * 2, 'election timeout well above the heartbeat');
    this.id = config.id;
    this.quorum = Math.floor(config.replicas / 2) + 1;
    this.limits = { replicas: config.replicas, valueBytesMax: config.valueBytesMax };
    this.promised = durable.promised;
    this.roundSeen = durable.promised.round;
    this.commitIndex = durable.commitIndex;
    this.commitDigest = durable.commitDigest;
    invariant(this.commitDigest.length === DIGEST_BYTES, 'commit digest is 32 bytes');
    this.appliedIndex = durable.commitIndex;
    for (const e of durable.entries) {
      if (e.slot <= this.commitIndex) continue;
      this.entries.set(e.slot, { ballot: e.ballot, prevDigest: e.prevDigest, value: e.value, digest: digestOf(e.value) });
      this.hold(e.slot, e.value);
    }
    // What this build admits keeps the slots above the first `window` within gatedBytesMax
    // (see hasRoom), and a restart brings back a subset of that. A directory an older build
    // wrote may hold more there (review of 2026-12-01: the first check, on the total only,
    // let such a state throw at the next accept of the first slots): then the bound is not
    // asserted until the applied height has passed every slot recovered.
    let upper = 0;
    let top = 0;
    for (const [slot, bytes] of this.held) {
      top = Math.max(top, slot);
      if (slot > this.appliedIndex + config.window) upper += bytes;
    }
    this.heldUncheckedBelow = upper <= gatedBytesMax(config) ? 0 : top;
    this.electionTimeout = this.drawTimeout();
  }

  // ---------------------------------------------------------------- inspection

  /** True while this replica leads (status().role without building the whole status). */
  get leading(): boolean {
    return this.role === 'leader';
  }

  /** Proposals of this leader not yet committed (status().inFlight without building the whole status). */
  get proposalsInFlight(): number {
    return this.proposals.size;
  }

  status(): { id: number; role: Role; ballot: Ballot; promised: Ballot; commitIndex: number; leaderKnown: boolean; leaderBallot: Ballot; inFlight: number } {
    return {
      id: this.id,
      role: this.role,
      ballot: this.ballot,
      promised: this.promised,
      commitIndex: this.commitIndex,
      leaderKnown: this.leaderKnown,
      leaderBallot: this.leaderBallot,
      inFlight: this.proposals.size,
    };
  }

  /** Digest of the value committed at the commit index (ZERO_DIGEST before any). */
  committedDigest(): Uint8Array {
    return this.commitDigest;
  }

  /** The leader's values beyond the commit index, in slot order (what a new value extends), each with its digest (computed once, when proposed). */
  inFlightValues(): Array<{ slot: number; value: Uint8Array; digest: Uint8Array }> {
    return [...this.proposals.values()].sort((a, b) => a.slot - b.slot).map((p) => ({ slot: p.slot, value: p.value, digest: p.digest }));
  }

  /**
   * The slot the next `propose` would fill, or null when this replica cannot propose now:
   * not leading, the window is full, or its own acceptor has no room for a value of the
   * largest size (its learner lags: see heldBytesMax).
   */
  proposableSlot(): number | null {
    if (this.role !== 'leader') return null;
    if (this.nextSlot > this.commitIndex + this.config.window) return null;
    if (!this.hasRoom(this.nextSlot, this.config.valueBytesMax)) return null;
    return this.nextSlot;
  }

  /** Accepted slots above the learner's applied height, and their weight (see heldBytesMax). */
  heldAboveApplied(): { slots: number; bytes: number; bytesMax: number } {
    return { slots: this.held.size, bytes: this.heldBytes, bytesMax: heldBytesMax(this.config) };
  }

  // ---------------------------------------------------------------- inputs

  /** Proposes a value on the leader. @returns its slot, or null when not possible now. */
  propose(value: Uint8Array): number | null {
    if (!(value instanceof Uint8Array)) throw new TypeError('value: expected Uint8Array');
    if (value.length > this.config.valueBytesMax) throw new RangeError(`value of ${value.length} bytes exceeds ${this.config.valueBytesMax}`);
    const slot = this.proposableSlot();
    if (slot === null) return null;
    if (this.config.validValue?.(slot, value) === false) throw new RangeError(`value: not a valid value for slot ${slot} (validValue)`);
    this.addProposal(slot, copyBytes(value));
    return slot;
  }

  /**
   * The learner has made every commit up to `height` durable, so a restart resumes above
   * it: accepts at or below it no longer count against heldBytesMax. Heights only rise;
   * a lower one is ignored.
   */
  applied(height: number): void {
    invariant(Number.isSafeInteger(height) && height <= this.commitIndex, 'only committed slots are applied');
    if (height <= this.appliedIndex) return;
    // Every held slot is above the old applied height: visit the newly applied slots or the
    // held ones, whichever are fewer (a backlog applied at once can be thousands of slots).
    if (height - this.appliedIndex <= this.held.size) {
      for (let slot = this.appliedIndex + 1; slot <= height; slot++) this.release(slot);
    } else {
      for (const slot of this.held.keys()) if (slot <= height) this.release(slot);
    }
    this.appliedIndex = height;
  }

  private release(slot: number): void {
    const bytes = this.held.get(slot);
    if (bytes === undefined) return;
    this.held.delete(slot);
    this.heldBytes -= bytes;
  }

  tick(): void {
    this.now++;
    if (this.role === 'leader') {
      this.heartbeatElapsed++;
      this.quorumCheckElapsed++;
      if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
        this.heartbeatElapsed = 0;
        this.broadcast({ type: MessageType.Heartbeat, ballot: this.ballot, commitIndex: this.commitIndex });
        this.resendAccepts();
      }
      if (this.quorumCheckElapsed >= this.config.electionTicks) {
        this.quorumCheckElapsed = 0;
        let live = 1;
        for (const [peer, at] of this.lastAck) if (peer !== this.id && this.now - at <= this.config.electionTicks) live++;
        if (live < this.quorum) this.becomeFollower();
      }
      return;
    }
    this.electionElapsed++;
    if (this.role === 'candidate' && this.syncTarget > 0 && this.now - this.catchupSentAt >= this.config.heartbeatTicks * 2) {
      this.requestCatchupFromPromisers(true);
    }
    if (this.electionElapsed >= this.electionTimeout) this.campaign();
  }

  /** Handles one message from peer `from` (possibly this replica itself). */
  step(from: number, bytes: Uint8Array): void {
    invariant(Number.isInteger(from) && from >= 0 && from < this.config.replicas, 'sender index from the transport');
    let m: Message;
    try {
      m = decodeMessage(bytes, this.limits);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.counters.garbage++;
      return;
    }
    if (!this.valuesValid(m)) {
      this.counters.garbage++;
      return;
    }
    if ('ballot' in m) this.seeRound(m.ballot.round);
    switch (m.type) {
      case MessageType.Prepare:
        return this.onPrepare(from, m);
      case MessageType.Promise:
        return this.onPromise(from, m);
      case MessageType.Accept:
        return this.onAccept(from, m);
      case MessageType.Accepted:
        return this.onAccepted(from, m);
      case MessageType.Nack:
        this.seeRound(m.promised.round);
        if (this.role === 'leader' && compareBallots(m.promised, this.ballot) > 0) this.outranked(from);
        return;
      case MessageType.Commit:
        return this.onCommit(from, m);
      case MessageType.Heartbeat:
        return this.onHeartbeat(from, m);
      case MessageType.HeartbeatAck:
        this.seeRound(m.promised.round);
        if (this.role === 'leader' && compareBallots(m.ballot, this.ballot) === 0) {
          if (compareBallots(m.promised, this.ballot) <= 0) this.lastAck.set(from, this.now);
          else this.outranked(from);
          // A follower may have learned commits this leader missed (from an older leader).
          if (m.commitIndex > this.commitIndex) this.maybeCatchup(from);
        }
        return;
      case MessageType.CatchupRequest:
        return this.onCatchupRequest(from, m);
      case MessageType.CatchupReply:
        return this.onCatchupReply(from, m);
    }
  }

  /** Every value `m` carries passes `config.validValue` (checked before `m` changes anything). */
  private valuesValid(m: Message): boolean {
    const valid = this.config.validValue;
    if (valid === undefined) return true;
    switch (m.type) {
      case MessageType.Accept:
        return valid(m.slot, m.value);
      case MessageType.Promise:
      case MessageType.CatchupReply:
        return m.entries.every((e) => valid(e.slot, e.value));
      default:
        return true;
    }
  }

  // ---------------------------------------------------------------- hand-off

  hasReady(): boolean {
    return this.inFlight === null && (this.persistQueue.length > 0 || this.sendQueue.length > 0 || this.commitQueue.length > 0 || this.afterPersist.length > 0);
  }

  /** Everything to persist, send and apply since the last ready. Call advance() before the next. */
  ready(): Ready {
    invariant(this.inFlight === null, 'ready() again before advance()');
    const out: Ready = { persist: this.persistQueue, send: this.sendQueue, commit: this.commitQueue };
    this.inFlight = this.afterPersist;
    this.persistQueue = [];
    this.sendQueue = [];
    this.commitQueue = [];
    this.afterPersist = [];
    return out;
  }

  /** True when sends or commits wait that `flush()` would hand over. */
  hasFlushable(): boolean {
    return this.sendQueue.length > 0 || this.commitQueue.length > 0;
  }

  /**
   * The sends and commits queued so far, without the records to persist or the replies
   * that wait for them: callable while a ready() is in flight, so a quorum reached while
   * this replica's own disk is busy commits at once (the leader's own msync is then off
   * the commit path whenever two followers answer first). Nothing in `send` depends on
   * unpersisted records, and commits are facts learned from a quorum of durable votes.
   */
  flush(): { send: readonly Outgoing[]; commit: readonly Committed[] } {
    const out = { send: this.sendQueue, commit: this.commitQueue };
    this.sendQueue = [];
    this.commitQueue = [];
    return out;
  }

  /** The records of the last ready() are durable and its commits applied. */
  advance(): void {
    invariant(this.inFlight !== null, 'advance() without ready()');
    for (const o of this.inFlight) this.sendQueue.push(o);
    this.inFlight = null;
  }

  // ---------------------------------------------------------------- roles

  private drawTimeout(): number {
    const r = this.config.random();
    invariant(r >= 0 && r < 1, 'random() in [0, 1)');
    return this.config.electionTicks + Math.floor(r * this.config.electionTicks);
  }

  private seeRound(round: number): void {
    if (round > this.roundSeen) this.roundSeen = round;
  }

  private becomeFollower(): void {
    this.role = 'follower';
    this.ballot = BALLOT_ZERO;
    this.promises.clear();
    this.proposals.clear();
    this.lastAck.clear();
    this.syncTarget = 0;
    this.leaderKnown = false;
    this.electionElapsed = 0;
    this.electionTimeout = this.drawTimeout();
  }

  private campaign(): void {
    const round = Math.max(this.roundSeen, this.promised.round) + 1;
    if (round > ROUND_MAX) {
      // Rounds go up by one an election: only a peer's claim (a NACK, a heartbeat answer,
      // any ballot, possibly made durable by a promise) brings them near 2^32. That is bad
      // input, so the replica does not stop (it did, on an invariant in a timer, until the
      // review of 2026-11-30, and after each restart again): it starts no election, stays
      // an acceptor and learner (a leader stays leader), and counts it. Not campaigning is
      // always safe.
      this.counters.roundsExhausted++;
      if (this.role !== 'leader') this.becomeFollower();
      return;
    }
    this.becomeFollower();
    this.role = 'candidate';
    this.ballot = { round, leader: this.id };
    this.seeRound(round);
    this.counters.elections++;
    // The round must be durable before any PREPARE carries it: a candidate that crashed
    // with its PREPAREs out but its own promise unwritten came back with a lower promise
    // and could campaign at the same ballot again, proposing a second value at a slot
    // where a peer still held the first at that ballot (found in review, 2026-11-30).
    this.promise(this.ballot);
    this.broadcast({ type: MessageType.Prepare, ballot: this.ballot, fromSlot: this.commitIndex + 1 }, true, true);
  }

  /**
   * A leader learns that `from` promised a ballot above its own, so that acceptor can never
   * vote at this ballot again: a follower whose campaign failed while this leader lived
   * (its PREPARE ignored by sticky peers) heard the leader again and followed it, but its
   * durable promise stays above the leader's ballot. Before 2026-11-30 the leader only
   * stopped counting it, and it stayed a non-voter for as long as this leader lasted (found
   * in review): one more failure then stalled every commit. The leader now runs phase 1 again
   * at a higher round; its followers take a PREPARE from their own leader (sticky) and what
   * any acceptor accepted is carried over by phase 1 as always.
   */
  private outranked(from: number): void {
    this.lastAck.delete(from);
    this.counters.reelections++;
    this.campaign();
  }

  /**
   * A follower hearing from a leader recently ignores PREPAREs, except its own leader's (a
   * leader moving to a higher ballot, `outranked`); so does a healthy leader.
   */
  private sticky(from: number): boolean {
    if (from === this.id) return false;
    if (this.role === 'leader') {
      let live = 1;
      for (const [peer, at] of this.lastAck) if (peer !== this.id && this.now - at <= this.config.electionTicks) live++;
      return live >= this.quorum;
    }
    if (this.role === 'follower' && this.leaderKnown && from === this.leaderBallot.leader) return false;
    return this.role === 'follower' && this.leaderKnown && this.electionElapsed < this.config.electionTicks;
  }

  /** ACCEPT, COMMIT and HEARTBEAT come only from their ballot's leader; others are dropped. */
  private fromLeader(from: number, ballot: Ballot): boolean {
    if (ballot.leader !== from) {
      this.counters.dropped++;
      return false;
    }
    this.leaderContact(from, ballot);
    return true;
  }

  /** Someone acts as leader at `ballot`: follow it when it is the newest leader seen. */
  private leaderContact(from: number, ballot: Ballot): void {
    if (compareBallots(ballot, this.leaderBallot) < 0) return;
    this.leaderBallot = ballot;
    if (from === this.id) return;
    if (this.role !== 'follower' && compareBallots(ballot, this.ballot) > 0) this.becomeFollower();
    if (this.role === 'candidate' && compareBallots(ballot, this.ballot) < 0 && this.syncTarget === 0) this.becomeFollower();
    if (this.role === 'follower') {
      this.leaderKnown = true;
      this.electionElapsed = 0;
    }
  }

  // ---------------------------------------------------------------- acceptor

  private promise(ballot: Ballot): void {
    if (compareBallots(ballot, this.promised) > 0) this.promised = ballot;
    this.persistQueue.push({ kind: 'promise', ballot });
  }

  private onPrepare(from: number, m: Extract<Message, { type: MessageType.Prepare }>): void {
    if (compareBallots(m.ballot, this.promised) < 0) {
      this.sendNow(from, { type: MessageType.Nack, ballot: m.ballot, promised: this.promised });
      return;
    }
    if (compareBallots(m.ballot, this.promised) > 0 && this.sticky(from)) {
      this.counters.preparesIgnored++;
      return;
    }
    if (this.role !== 'follower' && compareBallots(m.ballot, this.ballot) > 0) this.becomeFollower();
    this.promise(m.ballot);
    if (from !== this.id) this.electionElapsed = 0;
    // Everything accepted from fromSlot on, in chunks bounded by count and bytes.
    const start = Math.max(m.fromSlot, this.commitIndex + 1);
    const slots = [...this.entries.keys()].filter((s) => s >= start).sort((a, b) => a - b);
    const lastSlot = slots.length > 0 ? (slots[slots.length - 1] as number) : m.fromSlot - 1;
    const budget = this.config.valueBytesMax + 64 * 1024;
    let first = m.fromSlot;
    let chunk: PromiseEntry[] = [];
    let bytes = 0;
    const flush = (last: number): void => {
      this.reply(from, { type: MessageType.Promise, ballot: m.ballot, fromSlot: m.fromSlot, commitIndex: this.commitIndex, first, last, lastSlot, entries: chunk });
      first = last + 1;
      chunk = [];
      bytes = 0;
    };
    for (const slot of slots) {
      const e = this.entries.get(slot) as Accepted;
      if (chunk.length > 0 && (chunk.length >= ENTRIES_PER_MESSAGE_MAX || bytes + e.value.length > budget)) flush(slot - 1);
      chunk.push({ slot, ballot: e.ballot, prevDigest: e.prevDigest, value: e.value });
      bytes += e.value.length + 64;
    }
    flush(lastSlot);
  }

  private onAccept(from: number, m: Extract<Message, { type: MessageType.Accept }>): void {
    if (compareBallots(m.ballot, this.promised) < 0) {
      this.sendNow(from, { type: MessageType.Nack, ballot: m.ballot, promised: this.promised });
      return;
    }
    if (!this.fromLeader(from, m.ballot)) return;
    if (m.slot <= this.commitIndex) return;
    if (m.slot > this.commitIndex + aheadMax(this.config)) {
      this.counters.dropped++;
      this.maybeCatchup(from);
      return;
    }
    if (!this.hasRoom(m.slot, m.value.length)) {
      // The learner lags: taking more would let a restart bring back a promise larger than
      // any candidate takes. The leader sends it again; meanwhile commits come by catch-up.
      this.counters.learnerBehind++;
      return;
    }
    if (!this.linksBelow(m)) {
      // The slot below has not arrived yet (reordering): keep this one for a while.
      if (this.acceptBuffer.size < this.config.window * 2) this.acceptBuffer.set(m.slot, { ...m, from });
      else this.counters.dropped++;
      if (m.leaderCommit > this.commitIndex) this.maybeCatchup(from);
      return;
    }
    this.acceptValue(from, m);
    // Accept buffered successors that now link.
    for (let next = this.acceptBuffer.get(m.slot + 1); next !== undefined; next = this.acceptBuffer.get(next.slot + 1)) {
      this.acceptBuffer.delete(next.slot);
      if (compareBallots(next.ballot, this.promised) < 0 || !this.linksBelow(next) || !this.hasRoom(next.slot, next.value.length)) break;
      this.acceptValue(next.from, next);
    }
  }

  /**
   * Whether this acceptor may accept `valueBytes` at `slot` and stay within heldBytesMax:
   * - the first `window` slots above the applied height, always. They are what lets the
   *   applied height move: after a restart the next slot to commit may be one this replica
   *   learned by catch-up before (so its log lacks it) while it holds later ones. Refusing
   *   it there could stall a cluster with a replica gone for good (review of 2026-12-01).
   *   They hold at most window x (valueBytesMax + 1 KiB);
   * - a value no heavier than the one already held at `slot` (it only replaces it);
   * - otherwise, while everything held stays within gatedBytesMax (heldBytesMax less what
   *   the first slots may take). Everything held above the first `window` slots was
   *   admitted this way, so it never weighs more than gatedBytesMax: applied heights only
   *   rise, and a slot is above them at every later time if it is above them now.
   */
  private hasRoom(slot: number, valueBytes: number): boolean {
    if (this.config.bug === 'ignore-held-bound') return true; // the rule before 2026-12-01
    // The first version of the rule (4aca0fb): one bound for every slot, the first ones too.
    if (this.config.bug === 'one-held-bound') return this.heldBytes - (this.held.get(slot) ?? 0) + valueBytes + ENTRY_OVERHEAD_BYTES <= heldBytesMax(this.config);
    if (slot <= this.appliedIndex + this.config.window) return true;
    const bytes = valueBytes + ENTRY_OVERHEAD_BYTES;
    const old = this.held.get(slot) ?? 0;
    return bytes <= old || this.heldBytes - old + bytes <= gatedBytesMax(this.config);
  }

  /** Counts an accepted value at `slot` (replacing one accepted there before). */
  private hold(slot: number, value: Uint8Array): void {
    const bytes = value.length + ENTRY_OVERHEAD_BYTES;
    this.heldBytes += bytes - (this.held.get(slot) ?? 0);
    this.held.set(slot, bytes);
  }

  /** The no-gap rule: slot s joins only a chain this acceptor holds, or a committed prefix. */
  private linksBelow(m: Extract<Message, { type: MessageType.Accept }>): boolean {
    if (this.config.bug === 'skip-link-check') return true;
    const below = m.slot - 1;
    if (below === this.commitIndex) return sameBytes(m.prevDigest, this.commitDigest);
    if (below <= m.leaderCommit) return true;
    const held = this.entries.get(below);
    return held !== undefined && compareBallots(held.ballot, m.ballot) === 0 && sameBytes(held.digest, m.prevDigest);
  }

  private acceptValue(from: number, m: Extract<Message, { type: MessageType.Accept }>): void {
    const digest = digestOf(m.value);
    const held = this.entries.get(m.slot);
    if (held !== undefined && compareBallots(held.ballot, m.ballot) === 0 && sameBytes(held.digest, digest) && sameBytes(held.prevDigest, m.prevDigest)) {
      // A resend (the leader lacks this vote) or a duplicate of a value already accepted
      // here at this ballot. Its record is durable or queued ahead of this reply, and a
      // reply leaves only after the next advance(), which follows every earlier record's
      // persist: answering again is safe, appending again is only cost. Before 2026-12-01
      // each resend appended the whole value again, so a slow disk, whose votes arrive late
      // and draw resends every heartbeat, got more to write each time (second review of
      // 2026-11-30, "Re-sent ACCEPTs are accepted again in full"). The vote is signed over
      // the array held (Ed25519 signing is deterministic: the same signature), which is the
      // one a certificate is later checked against (own-votes.ts).
      const signature = this.config.sign(m.slot, held.value);
      this.counters.acceptsRepeated++;
      this.reply(from, { type: MessageType.Accepted, ballot: m.ballot, slot: m.slot, digest, signature });
      return;
    }
    // Signed before anything changes: should `sign` throw (a broken invariant, since
    // validValue passed), no entry is left accepted and queued for the disk but unanswered.
    const signature = this.config.sign(m.slot, m.value);
    if (compareBallots(m.ballot, this.promised) > 0) this.promised = m.ballot;
    this.entries.set(m.slot, { ballot: m.ballot, prevDigest: m.prevDigest, value: m.value, digest });
    this.hold(m.slot, m.value);
    invariant(this.appliedIndex < this.heldUncheckedBelow || this.heldBytes <= heldBytesMax(this.config) || this.config.bug === 'ignore-held-bound', 'an acceptor holds at most heldBytesMax above its applied height');
    this.persistQueue.push({ kind: 'accept', slot: m.slot, ballot: m.ballot, prevDigest: m.prevDigest, value: m.value });
    this.reply(from, { type: MessageType.Accepted, ballot: m.ballot, slot: m.slot, digest, signature });
  }

  private onHeartbeat(from: number, m: Extract<Message, { type: MessageType.Heartbeat }>): void {
    if (!this.fromLeader(from, m.ballot)) return;
    this.sendNow(from, { type: MessageType.HeartbeatAck, ballot: m.ballot, promised: this.promised, commitIndex: this.commitIndex });
    if (m.commitIndex > this.commitIndex) this.maybeCatchup(from);
  }

  // ---------------------------------------------------------------- candidate

  private onPromise(from: number, m: Extract<Message, { type: MessageType.Promise }>): void {
    if (this.role !== 'candidate' || compareBallots(m.ballot, this.ballot) !== 0 || m.fromSlot !== this.campaignFromSlot) {
      this.counters.dropped++;
      return;
    }
    let state = this.promises.get(from);
    // A later reply (a duplicated PREPARE answered after the promiser moved on) may start
    // over an incomplete state, never replace a complete one: phase 1 and the catch-up
    // target were computed from it (found in review: a late duplicate overtaking the
    // catch-up could hide a chosen value from lead()).
    if (state === undefined || (!state.complete && (state.lastSlot !== m.lastSlot || state.commitIndex !== m.commitIndex))) {
      state = { commitIndex: m.commitIndex, lastSlot: m.lastSlot, next: m.fromSlot, entries: [], bytes: 0, complete: false };
      this.promises.set(from, state);
    }
    if (state.complete) return;
    // Chunks are taken in order only: an acceptor sends them in order and a link keeps it
    // (docs/native.md), so a chunk that does not start where the last one ended is a
    // duplicate, or follows a lost one (this promise then stays incomplete, as when a
    // whole PROMISE is lost). Before the review of 2026-11-30 any new `first` was added,
    // so a peer could grow this state without limit until the election timed out.
    if (m.first !== state.next) {
      this.counters.dropped++;
      return;
    }
    // An honest acceptor never holds more than heldBytesMax above its applied height, so
    // its promise (which lists a subset of that) never weighs more. A heavier promise is
    // refused, never cut (a cut could hide a chosen value). It can come only from a
    // directory an older build wrote (before 2026-12-01 accepts were bounded by the commit
    // index alone) or from a faulty peer. A replica's own promise is not capped (its
    // entries are in its memory anyway), so such a replica can still lead.
    const useful = m.entries.filter((e) => e.slot > this.commitIndex);
    let bytes = state.bytes;
    for (const e of useful) bytes += entryBytes(e);
    if (from !== this.id && bytes > heldBytesMax(this.config)) {
      this.counters.dropped++;
      return;
    }
    state.entries.push(...useful);
    state.bytes = bytes;
    // An empty promise is one chunk [fromSlot, fromSlot - 1].
    state.next = m.last + 1;
    // A peer's promise making progress: the election is not timed out while its chunks
    // arrive. A promise goes out in one burst and is taken only in order, so with large
    // values it can take longer than an election timeout to move (the review of 2026-12-02
    // measured 1.3-2 s for 16 values of 8 MiB over loopback against 200-380 ms timeouts):
    // the candidate campaigned again mid-promise, the chunks of the old ballot were dropped,
    // and each new PREPARE brought the same burst again (no leader for a minute at 8 MiB
    // blocks, none at 16 MiB). Waiting is always safe, and it is bounded: at most once per
    // chunk, and a promise has a bounded number of them. Each chunk (about one value) must
    // still move within one timeout (docs/operations.md, `tick_ms`). An acceptor-side grace
    // tried with it was dropped: a candidate that died or kept restarting stalled the others
    // for it (second review of 2026-12-02).
    if (from !== this.id) this.electionElapsed = 0;
    state.complete = state.next > state.lastSlot;
    if (!state.complete) return;
    if (this.syncTarget > 0) {
      // Already learning commits: a promise completing now joins the ones lead() reads, so
      // what it knows to be committed must be learned first too. Its entries start above
      // its own commit index, so without this a value it committed (and no longer lists)
      // could be missing from lead()'s view (found in review; the simulator found it at
      // once through lead()'s invariant).
      if (state.commitIndex > this.syncTarget) {
        this.syncTarget = state.commitIndex;
        this.requestCatchupFromPromisers();
      }
      return;
    }
    let complete = 0;
    for (const s of this.promises.values()) if (s.complete) complete++;
    if (complete < this.quorum) return;
    // Phase 1 is done. First learn whatever a promiser knows to be committed.
    let target = this.commitIndex;
    for (const s of this.promises.values()) if (s.complete) target = Math.max(target, s.commitIndex);
    if (target > this.commitIndex) {
      this.syncTarget = target;
      this.requestCatchupFromPromisers();
      return;
    }
    this.lead();
  }

  /**
   * Asks a promiser that knows commits this candidate lacks: the one asked last while it
   * still qualifies, and on a `retry` (nothing came back) the next one in index order, so a
   * promiser that is gone stalls nothing (before the review of 2026-11-30 it was always
   * the first, and the candidate waited for its election timeout).
   */
  private requestCatchupFromPromisers(retry = false): void {
    const n = this.config.replicas;
    for (let k = retry ? 1 : 0; k <= n; k++) {
      const peer = (this.catchupPeer + k) % n;
      const s = this.promises.get(peer);
      if (s === undefined || !s.complete || s.commitIndex <= this.commitIndex || peer === this.id) continue;
      this.catchupPeer = peer;
      this.catchupSentAt = this.now;
      this.sendNow(peer, { type: MessageType.CatchupRequest, fromSlot: this.commitIndex + 1, countMax: 64 });
      return;
    }
  }

  /** Becomes leader: re-propose recovered values while they link, then accept new ones. */
  private lead(): void {
    invariant(this.role === 'candidate', 'only a candidate becomes leader');
    let complete = 0;
    for (const s of this.promises.values()) {
      if (!s.complete) continue;
      complete++;
      invariant(s.commitIndex <= this.commitIndex, 'a new leader knows every commit its promisers reported');
    }
    invariant(complete >= this.quorum, 'a new leader has a quorum of complete promises');
    const best = new Map<number, PromiseEntry>();
    if (this.config.bug !== 'forget-promised-values') {
      for (const s of this.promises.values()) {
        if (!s.complete) continue;
        for (const e of s.entries) {
          if (e.slot <= this.commitIndex) continue;
          const held = best.get(e.slot);
          if (held === undefined || compareBallots(e.ballot, held.ballot) > 0) best.set(e.slot, e);
        }
      }
    }
    this.promises.clear();
    this.role = 'leader';
    this.syncTarget = 0;
    this.leaderKnown = true;
    this.leaderBallot = this.ballot;
    this.heartbeatElapsed = 0;
    this.quorumCheckElapsed = 0;
    this.lastAck.clear();
    for (let p = 0; p < this.config.replicas; p++) this.lastAck.set(p, this.now);
    this.nextSlot = this.commitIndex + 1;
    this.chainDigest = this.commitDigest;
    for (let e = best.get(this.nextSlot); e !== undefined; e = best.get(this.nextSlot)) {
      // A recovered value that does not extend the chain cannot have been chosen (see top).
      if (!sameBytes(e.prevDigest, this.chainDigest)) break;
      this.addProposal(e.slot, e.value);
    }
    this.broadcast({ type: MessageType.Heartbeat, ballot: this.ballot, commitIndex: this.commitIndex });
  }

  // ---------------------------------------------------------------- leader

  private addProposal(slot: number, value: Uint8Array): void {
    invariant(slot === this.nextSlot, 'proposals fill consecutive slots');
    const digest = digestOf(value);
    const p: Proposal = { slot, value, digest, prevDigest: this.chainDigest, votes: new Map(), chosen: false, sentAt: this.now };
    this.proposals.set(slot, p);
    this.chainDigest = digest;
    this.nextSlot = slot + 1;
    this.broadcast({ type: MessageType.Accept, ballot: this.ballot, slot, leaderCommit: this.commitIndex, prevDigest: p.prevDigest, value }, true);
  }

  private resendAccepts(): void {
    for (const p of this.proposals.values()) {
      if (p.chosen || this.now - p.sentAt < this.config.heartbeatTicks) continue;
      p.sentAt = this.now;
      for (let to = 0; to < this.config.replicas; to++) {
        if (p.votes.has(to)) continue;
        this.sendNow(to, { type: MessageType.Accept, ballot: this.ballot, slot: p.slot, leaderCommit: this.commitIndex, prevDigest: p.prevDigest, value: p.value });
      }
    }
  }

  private onAccepted(from: number, m: Extract<Message, { type: MessageType.Accepted }>): void {
    if (this.role !== 'leader' || compareBallots(m.ballot, this.ballot) !== 0) return;
    const p = this.proposals.get(m.slot);
    if (p === undefined || !sameBytes(p.digest, m.digest) || p.votes.has(from)) return;
    if (!this.config.verifyVote(from, m.slot, p.value, m.signature)) {
      this.counters.badSignatures++;
      return;
    }
    this.lastAck.set(from, this.now);
    p.votes.set(from, m.signature);
    const needed = this.config.bug === 'commit-without-quorum' ? Math.max(1, this.quorum - 1) : this.quorum;
    if (!p.chosen && p.votes.size >= needed) p.chosen = true;
    this.commitChosen();
  }

  /** Commits the leader's chosen proposals that are next in slot order. */
  private commitChosen(): void {
    if (this.role !== 'leader') return;
    for (let next = this.proposals.get(this.commitIndex + 1); next?.chosen === true; next = this.proposals.get(this.commitIndex + 1)) {
      const certificate = [...next.votes].map(([validator, signature]) => ({ validator, signature })).sort((a, b) => a.validator - b.validator);
      this.proposals.delete(next.slot);
      this.commitEntry({ slot: next.slot, value: next.value, certificate, caughtUp: false }, next.digest, next.prevDigest);
      this.broadcast({ type: MessageType.Commit, ballot: this.ballot, slot: next.slot, digest: next.digest, certificate });
    }
  }

  // ---------------------------------------------------------------- learner

  private certificateValid(slot: number, value: Uint8Array, certificate: readonly Vote[]): boolean {
    const seen = new Set<number>();
    for (const v of certificate) {
      if (seen.has(v.validator)) return false;
      seen.add(v.validator);
      if (!this.config.verifyVote(v.validator, slot, value, v.signature)) {
        this.counters.badSignatures++;
        return false;
      }
    }
    return seen.size >= this.quorum;
  }

  private onCommit(from: number, m: Extract<Message, { type: MessageType.Commit }>): void {
    if (!this.fromLeader(from, m.ballot)) return;
    if (m.slot <= this.commitIndex) return;
    if (m.slot > this.commitIndex + aheadMax(this.config)) {
      this.maybeCatchup(from);
      return;
    }
    const held = this.entries.get(m.slot);
    if (held === undefined || !sameBytes(held.digest, m.digest)) {
      this.maybeCatchup(from);
      return;
    }
    if (!this.certificateValid(m.slot, held.value, m.certificate)) {
      this.counters.dropped++;
      return;
    }
    this.certified.set(m.slot, { slot: m.slot, value: held.value, certificate: m.certificate, caughtUp: false });
    this.drainCertified();
    if (this.certified.size > 0) this.maybeCatchup(from);
  }

  private maybeCatchup(peer: number): void {
    if (peer === this.id || this.now - this.catchupSentAt < this.config.heartbeatTicks) return;
    this.catchupSentAt = this.now;
    this.sendNow(peer, { type: MessageType.CatchupRequest, fromSlot: this.commitIndex + 1, countMax: 64 });
  }

  private onCatchupRequest(from: number, m: Extract<Message, { type: MessageType.CatchupRequest }>): void {
    const entries: CertifiedEntry[] = [];
    let bytes = 0;
    for (let slot = m.fromSlot; slot <= this.commitIndex && entries.length < m.countMax; slot++) {
      const stored = this.config.log.get(slot);
      if (stored === undefined) break;
      if (entries.length > 0 && bytes + stored.value.length > this.config.valueBytesMax) break;
      entries.push({ slot, value: stored.value, certificate: stored.certificate });
      bytes += stored.value.length;
    }
    if (entries.length > 0) this.sendNow(from, { type: MessageType.CatchupReply, entries });
  }

  private onCatchupReply(from: number, m: Extract<Message, { type: MessageType.CatchupReply }>): void {
    for (const e of m.entries) {
      if (e.slot <= this.commitIndex) continue;
      if (e.slot > this.commitIndex + aheadMax(this.config) + ENTRIES_PER_MESSAGE_MAX) break;
      if (!this.certificateValid(e.slot, e.value, e.certificate)) {
        this.counters.dropped++;
        break;
      }
      this.certified.set(e.slot, { ...e, caughtUp: true });
    }
    const before = this.commitIndex;
    this.drainCertified();
    if (this.commitIndex > before) {
      this.catchupSentAt = -Infinity;
      if (this.role === 'candidate' && this.syncTarget > 0) this.requestCatchupFromPromisers();
      else this.maybeCatchup(from); // there may be more
    }
  }

  /** Commits certified values in slot order. */
  private drainCertified(): void {
    for (let e = this.certified.get(this.commitIndex + 1); e !== undefined; e = this.certified.get(this.commitIndex + 1)) {
      this.certified.delete(e.slot);
      this.commitEntry(e, digestOf(e.value), null);
    }
    for (const slot of this.certified.keys()) if (slot <= this.commitIndex) this.certified.delete(slot);
    // A candidate that was learning its promisers' commits leads once it has them; a
    // leader that learned commits may now commit the chosen proposals above them.
    if (this.role === 'candidate' && this.syncTarget > 0 && this.commitIndex >= this.syncTarget) this.lead();
    else this.commitChosen();
  }

  private commitEntry(e: Pending, digest: Uint8Array, prevDigest: Uint8Array | null): void {
    invariant(e.slot === this.commitIndex + 1, 'commits in slot order');
    if (prevDigest !== null) invariant(sameBytes(prevDigest, this.commitDigest), 'a committed value extends the committed chain');
    // A leader whose own value at this slot lost is stale: its later values build on it.
    const own = this.proposals.get(e.slot);
    if (this.role === 'leader' && own !== undefined && !sameBytes(own.digest, digest)) this.becomeFollower();
    // So is a leader that learns a commit at a slot it has not reached (a newer leader's,
    // through a follower's catch-up): it would propose at committed slots (found in review).
    if (this.role === 'leader' && own === undefined && e.slot >= this.nextSlot) this.becomeFollower();
    this.proposals.delete(e.slot);
    this.commitIndex = e.slot;
    this.commitDigest = digest;
    this.entries.delete(e.slot);
    this.acceptBuffer.delete(e.slot);
    this.commitQueue.push({ slot: e.slot, value: e.value, certificate: e.certificate, digest, caughtUp: e.caughtUp });
  }

  // ---------------------------------------------------------------- sending

  private encode(m: Message): Uint8Array {
    return encodeMessage(m);
  }

  private sendNow(to: number, m: Message): void {
    this.sendQueue.push({ to, bytes: this.encode(m) });
  }

  /** A reply that vouches for durable state: released only after the next advance(). */
  private reply(to: number, m: Message): void {
    if (this.config.bug === 'ack-before-persist') this.sendNow(to, m);
    else this.afterPersist.push({ to, bytes: this.encode(m) });
  }

  /** To every replica; `afterPersist`: released only after the next advance(), as replies are. */
  private broadcast(m: Message, includeSelf = false, afterPersist = false): void {
    if (m.type === MessageType.Prepare) this.campaignFromSlot = m.fromSlot;
    const bytes = this.encode(m);
    const queue = afterPersist ? this.afterPersist : this.sendQueue;
    for (let to = 0; to < this.config.replicas; to++) {
      if (to !== this.id || includeSelf) queue.push({ to, bytes });
    }
  }
}
