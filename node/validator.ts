/**
 * One validator: the ledger (store, state machine), the consensus driver, and a mempool.
 *
 * - Consensus orders blocks: each slot's value is a block encoded with an empty
 *   certificate; acceptors sign the ledger vote (chain id, height, block hash), so the
 *   consensus certificate is the block's quorum certificate.
 * - The leader builds blocks from its mempool on top of the committed state plus its
 *   in-flight blocks (speculative overlays), pre-executing every transaction. One that
 *   fails against that state goes in the block as failed (ledger/machine.ts), so its
 *   client learns the refusal from the committed chain, where it is final. It cuts a block as soon as none of its blocks awaits
 *   a commit (when its main thread is busy, no sooner than blockWaitMs after the last cut),
 *   and otherwise once the oldest transaction in no block has waited blockWaitMs or a
 *   block's worth is pending (maybePropose).
 * - Every replica, the leader included, commits a block through `LedgerStore.commit`:
 *   structure, signatures, certificate, re-execution and state hash. A block that fails
 *   there halts the replica loudly (`onFatal`): a committed block is final, so a mismatch
 *   means this replica diverged.
 * - Followers forward submissions to the leader over the validator transport.
 *
 * The transport and the acceptor log are injected (native in production, in-memory in
 * tests); messages are multiplexed on one transport by a leading channel byte.
 */
import { performance } from 'node:perf_hooks';
import { bytesEqual, bytesToFill, invariant } from '../ledger/assert.js';
import { blockHashOfEncoded, buildBlock, decodeBlock, encodeBlock, headerOfEncoded, voteMessage, withCertificate, type Block } from '../ledger/block.js';
import { verify, type Signer } from '../ledger/ed25519.js';
import { ERROR_CODES, isSteleError, SteleError, type ErrorCode } from '../ledger/errors.js';
import type { Genesis } from '../ledger/genesis.js';
import { BlockBuilder, executeBlock, keys, type BlockResult, type TxFailure } from '../ledger/machine.js';
import type { CheckOptions } from '../ledger/chain.js';
import type { StateReader } from '../ledger/state.js';
import type { LedgerStore, TxLocation } from '../ledger/store.js';
import type { VerifyPool } from '../ledger/verify-pool.js';
import type { VerifyItem } from '../ledger/verify-batch.js';
import { decodeTxs, type Tx } from '../ledger/tx.js';
import { ReplicaDriver, type AcceptorLog, type PeerMessage, type Transport } from '../consensus/driver.js';
import { decodeRecord, encodeRecord, type Vote } from '../consensus/messages.js';
import { compactRecords, digestOf, ZERO_DIGEST, type Committed, type DurableState } from '../consensus/replica.js';
import { rememberOwnVotes } from '../consensus/own-votes.js';
import { BLOCK_WAIT_MS_DEFAULT } from './config.js';
import { eventLoopBusy } from './busy.js';
import { Histogram, LATENCY_BUCKETS_S } from '../api/metrics.js';

const CHANNEL_CONSENSUS = 0;
const CHANNEL_FORWARD = 1;

export interface ValidatorOptions {
  readonly genesis: Genesis;
  readonly index: number;
  readonly signer: Signer;
  readonly store: LedgerStore;
  readonly transport: Transport;
  readonly acceptorLog: AcceptorLog;
  /** Acceptor state recovered from the acceptor log. */
  readonly durable: Omit<DurableState, 'commitIndex' | 'commitDigest'>;
  readonly tickMs?: number;
  /**
   * Monotonic milliseconds (default performance.now) for every interval: block waits,
   * reforward timing, holds, latency histograms. Injected for tests. A wall clock here made
   * an NTP step back of D stop the reforward safety net and a busy leader's cuts for about
   * D (found in review).
   */
  readonly clock?: () => number;
  /** Milliseconds since the epoch (default Date.now), for block times (header timeMs) only. */
  readonly wallClock?: () => number;
  readonly mempoolMax?: number;
  /** Encoded bytes of the pending transactions, at most (default MEMPOOL_BYTES_MAX_DEFAULT); a leader takes forwards up to the validators' count times it. */
  readonly mempoolBytesMax?: number;
  /** How long the leader waits to fill a block that is not full (default BLOCK_WAIT_MS_DEFAULT). */
  readonly blockWaitMs?: number;
  /**
   * Whether this process is busy (default: node/busy.ts eventLoopBusy, the main thread's
   * event-loop utilization); a busy leader spaces its blocks at least blockWaitMs apart.
   */
  readonly busy?: () => boolean;
  /**
   * A follower sends a pending transaction to the leader again when it has not committed
   * this many milliseconds after the last send, or sends it at all once a leader is known
   * if there was none when it was admitted. Default 10,000.
   */
  readonly reforwardMs?: number;
  readonly random?: () => number;
  /** Worker threads for admission batches (submitMany); without it they verify here. */
  readonly pool?: VerifyPool;
  /**
   * Re-verify every signature of each committed block, as an auditor would (default
   * false: the validator that admitted a transaction verified it, and validators are
   * trusted not to lie, as in the rest of the crash-fault model; the consensus core
   * verified each certificate's votes before committing; a proposer signature is verified
   * unless the block is this validator's own; state hashes are always checked, and blocks
   * re-executed except a leader's own (CheckOptions.executed); `stele audit` checks all).
   */
  readonly verifyCommitted?: boolean;
  readonly onFatal: (error: unknown) => void;
  /**
   * Acceptor-log compaction: every `everyBlocks` blocks applied to the store (each
   * validator at its own phase of that cycle), or once `everyBytes` bytes were appended,
   * the log is cut down to what recovery needs (consensus/replica.ts compactRecords). Without it the
   * log keeps every record. `log` is the same log as `acceptorLog` (native/mapped-log.ts
   * AcceptorLog in production).
   */
  readonly compaction?: { readonly log: CompactableLog; readonly everyBlocks: number; readonly everyBytes?: number };
}

/** An acceptor log that can be read back and replaced atomically (native/mapped-log.ts AcceptorLog). */
export interface CompactableLog {
  readonly length: number;
  /** Bytes appended since the log was opened or last began a compaction. */
  readonly bytesSinceCompaction?: number;
  replay(): Iterable<Uint8Array>;
  /** Replaces every record; appends and persists made meanwhile must not be lost. */
  compact(records: Iterable<Uint8Array>): Promise<void>;
}

export type TxStatus =
  | { readonly status: 'pending' }
  | { readonly status: 'committed'; readonly height: number; readonly index: number }
  /** In a committed block as failed (ledger/machine.ts): final. */
  | { readonly status: 'failed'; readonly height: number; readonly index: number; readonly code: ErrorCode; readonly reason: string }
  | { readonly status: 'refused'; readonly code: string; readonly reason: string }
  | { readonly status: 'unknown' };

interface Speculative {
  readonly slot: number;
  readonly digest: Uint8Array;
  readonly block: Block;
  readonly result: BlockResult;
  /** Built and signed by this process (maybePropose), not recovered from the core. */
  readonly own: boolean;
  /** When it was proposed (own blocks, on the monotonic clock; null for recovered ones). */
  readonly proposedAt: number | null;
}

/**
 * A pending transaction: when it was admitted, when it was last forwarded to the leader and
 * how often; on a leader, the slot of the last block it was cut into (0: none), for timing.
 */
interface MempoolEntry {
  readonly tx: Tx;
  readonly at: number;
  /** Admitted from a client of this node (not forwarded by a peer): its commit is timed (commitSeconds). */
  readonly local: boolean;
  sentAt: number | null;
  sends: number;
  slot: number;
}

const REFORWARD_MS_DEFAULT = 10_000;
/** How often a follower looks for pending transactions to forward again (reforward), and how much one look may send. */
const REFORWARD_CHECK_MS = 250;
/**
 * Forwards sent this recently are sent again when the link to the leader is lost or
 * replaced: longer than TCP keeps unacknowledged data before it gives up on a link (15 s,
 * native/src/transport.cc kTcpUserTimeoutMs), so whatever was lost with it is included.
 */
const RELINK_RESEND_MS = 20_000;
const REFORWARD_PER_CHECK_MAX = 1_000;
const REFORWARD_BYTES_PER_CHECK_MAX = 1024 * 1024;
/**
 * A leader holds back a peer's forwards after dropping one at its bound (admitForwarded)
 * for at most this many reforwardMs: a follower's longest reforward back-off is 8 of them.
 */
const HOLD_MS_FACTOR = 9;
/**
 * Pending bytes per validator by default: the count bound alone (50,000) let a mempool hold
 * 50,000 x tx_bytes_max, 400 MiB at the default limit and 3.2 GiB at the largest, and a
 * leader that many times the validators' count. Ordinary transfers (about 250 bytes) fill
 * the count long before this.
 */
const MEMPOOL_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Most committed blocks stored as one group (one persist, one index batch). */
const APPLY_GROUP_BLOCKS_MAX = 32;

/** Slots the leader may have in flight beyond its commit index (ReplicaConfig.window). */
export const CONSENSUS_WINDOW = 4;

/** The consensus value of a block: its encoding with an empty certificate. */
export function consensusValue(block: Block): Uint8Array {
  return encodeBlock(block.headerBytes, block.proposerSignature, block.txs, []);
}

export class Validator {
  readonly driver: ReplicaDriver;
  private readonly genesis: Genesis;
  private readonly store: LedgerStore;
  private readonly clock: () => number;
  private readonly wallClock: () => number;
  private readonly mempoolMax: number;
  private readonly mempoolBytesMax: number;
  /** Encoded bytes of the transactions in `mempool`. */
  private pendingBytes = 0;
  private readonly blockWaitMs: number;
  /**
   * Pending transactions by id hex, in admission order. Follower side: `sentAt`, when it last
   * forwarded the transaction (null: never); `sends`, how many times to this leader (reforward backs off).
   */
  private readonly mempool = new Map<string, MempoolEntry>();
  private readonly reforwardMs: number;
  private lastReforwardCheck = Number.NEGATIVE_INFINITY;
  /**
   * Refusals of pending transactions for status queries, the latest `refusedMax`: that is
   * mempoolMax x validators, the most a leader's mempool holds (forwards included), so one
   * pruning pass never forgets what it refused itself (it was 10,000, below the default
   * mempoolMax of 50,000: found in review). About 300 bytes each (measured on Node 20):
   * 45 MB at the defaults with three validators.
   */
  private readonly refused = new Map<string, { code: string; reason: string }>();
  private readonly refusedMax: number;
  private readonly waiters = new Map<string, Array<{ resolve: (location: { height: number; index: number }) => void; reject: (error: SteleError) => void }>>();
  private lastLeaderTerm = '';
  private readonly listeners = new Set<(block: Block) => void>();
  private speculative: Speculative[] = [];
  private applying: Promise<void> = Promise.resolve();
  /** The lone admissions' builder and the committed tip it was built on (admissionChecker); null after a commit. */
  private admission: { readonly builder: BlockBuilder; readonly height: number; readonly hash: Uint8Array } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private cutScheduled = false;
  /** When this leader last proposed a block, and the timer of a cut put off until blockWaitMs after it. */
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private cutDeferred: NodeJS.Timeout | null = null;
  private readonly busy: () => boolean;
  private stopped = false;
  /** Set once waits for commits are released for a stop: later waits end at once. */
  private releasing = false;
  /** The compaction under way, and the applied height the last one started from. */
  private compaction: Promise<void> | null = null;
  private compactedAt = 0;
  /** Admission to commit (stored here) of each transaction a client submitted to this node. */
  readonly commitSeconds = new Histogram(LATENCY_BUCKETS_S);
  /** Proposal to commit (stored here) of each block this node proposed as leader. */
  readonly blockSeconds = new Histogram(LATENCY_BUCKETS_S);
  /**
   * Follower: true while a pending transaction may still await its first forward (no leader
   * was known when it came, this validator was the leader, or the transport refused the
   * forward). A new admission is then not sent at once but left to reforward(), which sends
   * in admission order, so that it never reaches the leader ahead of an earlier one that a
   * later item of a batch may rely on (found in review: a refused registration, then its
   * payment sent and cut alone, failed for good).
   */
  private forwardBacklog = false;
  /**
   * Follower: the leader was unreachable (Transport.peerUp) at the last forward check.
   * Forwards then wait in the backlog (the native transport drops what waits for a peer
   * unreachable for 2 s); see leaderReachable (2026-12-02).
   */
  private leaderUnreachable = false;
  /** Follower: the leader and its link epoch (Transport.linkEpoch) at the last forward check. */
  private leaderLink: { readonly leader: number; readonly epoch: number } | null = null;
  /**
   * Leader: per peer, the forward dropped at this leader's bound for forwards, while that
   * peer's later forwards are held back (dropped too) until it comes again (admitForwarded).
   */
  private readonly heldBack = new Map<number, { readonly id: string; readonly expiry: number; readonly until: number }>();
  readonly counters = {
    committedBlocks: 0,
    committedTxs: 0,
    proposedBlocks: 0,
    forwarded: 0,
    reforwarded: 0,
    forwardedAdmitted: 0,
    /** Follower: forwards the transport refused (the send queue to the leader was full); each goes again, first, at the next reforward check. */
    forwardsUnsent: 0,
    /** Leader: forwards dropped because its mempool held its bound for forwards. */
    forwardsDroppedFull: 0,
    /** Leader: forwards dropped because an earlier forward of the same peer was dropped at the bound and has not come again. */
    forwardsHeldBack: 0,
    /** Forwards dropped on arrival: not a transaction of at most the genesis tx_bytes_max. */
    forwardsMalformed: 0,
    /** Forwards dropped on arrival: a transaction of another chain. */
    forwardsWrongChain: 0,
    refused: 0,
    failedTxs: 0,
    acceptorCompactions: 0,
    cutsDeferred: 0,
    caughtUpBlocks: 0,
  };

  constructor(private readonly options: ValidatorOptions) {
    const g = options.genesis;
    invariant(options.index >= 0 && options.index < g.validators.length, 'validator index in genesis');
    invariant(bytesEqual(g.validators[options.index]!.publicKey, options.signer.publicKey), 'the signer is this validator');
    this.genesis = g;
    this.store = options.store;
    this.clock = options.clock ?? (() => performance.now());
    this.wallClock = options.wallClock ?? Date.now;
    this.mempoolMax = options.mempoolMax ?? 50_000;
    this.mempoolBytesMax = options.mempoolBytesMax ?? MEMPOOL_BYTES_MAX_DEFAULT;
    invariant(Number.isSafeInteger(this.mempoolMax) && this.mempoolMax >= 1, 'mempoolMax of 1 or more');
    invariant(Number.isSafeInteger(this.mempoolBytesMax) && this.mempoolBytesMax >= g.limits.tx_bytes_max, 'mempoolBytesMax holds at least one transaction');
    this.refusedMax = this.mempoolMax * g.validators.length;
    this.blockWaitMs = options.blockWaitMs ?? BLOCK_WAIT_MS_DEFAULT;
    this.busy = options.busy ?? eventLoopBusy();
    this.reforwardMs = options.reforwardMs ?? REFORWARD_MS_DEFAULT;
    const chainId = g.chainId;
    const height = options.store.height;
    const transport = options.transport;
    // Split the transport: channel 0 for consensus, channel 1 for forwarded transactions.
    // The core sends one message's bytes to every peer in a row (a broadcast): they are
    // prefixed once, not once per peer (an ACCEPT carries a whole block).
    let lastSent: Uint8Array | null = null;
    let lastPrefixed: Uint8Array = new Uint8Array(0);
    const consensusTransport: Transport = {
      send: (to, bytes) => {
        if (bytes !== lastSent) {
          lastPrefixed = prefix(CHANNEL_CONSENSUS, bytes);
          lastSent = bytes;
        }
        return transport.send(to, lastPrefixed);
      },
      flush: () => transport.flush?.(),
      receive: (handler) => {
        transport.receive((batch) => {
          const consensus: PeerMessage[] = [];
          const forwarded: PeerMessage[] = [];
          for (const m of batch) {
            if (m.bytes[0] === CHANNEL_CONSENSUS) consensus.push({ from: m.from, bytes: m.bytes.subarray(1) });
            else if (m.bytes[0] === CHANNEL_FORWARD) forwarded.push({ from: m.from, bytes: m.bytes.subarray(1) });
          }
          // Forwards first, as before this batching (they precede the batch's consensus messages in handling).
          if (forwarded.length > 0) this.onForwarded(forwarded);
          if (consensus.length > 0) handler(consensus);
        });
      },
    };
    let random = options.random;
    if (random === undefined) random = Math.random;
    this.driver = new ReplicaDriver({
      tickMs: options.tickMs ?? 20,
      config: {
        id: options.index,
        replicas: g.validators.length,
        window: CONSENSUS_WINDOW,
        electionTicks: 10,
        heartbeatTicks: 2,
        valueBytesMax: g.limits.block_bytes_max,
        random,
        // A peer's value that `sign` could not sign is garbage to the core: a block of this
        // chain at the slot's height whose header decodes (the header only: the body is
        // checked when the block commits).
        validValue: (slot, value) => {
          try {
            const { header } = headerOfEncoded(value);
            return header.height === slot && header.chainId === chainId;
          } catch (error) {
            if (isSteleError(error)) return false;
            throw error;
          }
        },
        ...rememberOwnVotes(
          options.index,
          (slot, value) => options.signer.sign(voteMessage(chainId, slot, blockHashOfEncoded(value))),
          (validator, slot, value, signature) => {
            const v = g.validators[validator];
            if (v === undefined) return false;
            try {
              return verify(v.publicKey, voteMessage(chainId, slot, blockHashOfEncoded(value)), signature);
            } catch (error) {
              if (isSteleError(error)) return false;
              throw error;
            }
          },
        ),
      },
      durable: {
        ...options.durable,
        commitIndex: height,
        commitDigest: height === 0 ? ZERO_DIGEST : digestOf(consensusValue(options.store.block(height))),
      },
      transport: consensusTransport,
      log: options.acceptorLog,
      learner: {
        apply: (entries) => this.apply(entries),
        get: (slot) => {
          if (slot < 1 || slot > this.store.height) return undefined;
          const block = this.store.block(slot);
          return { value: consensusValue(block), certificate: block.certificate as readonly Vote[] };
        },
      },
      onFatal: (error) => this.fatal(error),
      // This thread also admits transactions and answers clients: an msync here would hold
      // them all back (measured: 2-3 ms per persist, about 14 % of a follower's thread at
      // 80 blocks a second), so every acceptor persist goes to the persist thread.
      followerPersistInline: false,
    });
  }

  start(): void {
    const c = this.options.compaction;
    invariant(c === undefined || (Number.isSafeInteger(c.everyBlocks) && c.everyBlocks >= 1), 'compaction every 1 or more blocks');
    this.driver.start();
    this.timer = setInterval(() => this.cutGuarded(), Math.max(1, Math.floor(this.blockWaitMs / 2)));
    // A restart may find a long log (a crash before the last compaction): cut it at once.
    this.maybeCompact();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.releaseWaiters();
    this.driver.stop();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.cutDeferred !== null) clearTimeout(this.cutDeferred);
    this.cutDeferred = null;
    // A commit that fails while the validator stops (a disk that filled, a block this
    // replica cannot apply) is the stop's error: the driver, stopped, no longer reports it,
    // and before 2026-12-02 it was dropped here and the node exited 0 (review).
    let failure: { error: unknown } | null = null;
    await this.applying.catch((error: unknown) => {
      failure = { error };
    });
    await this.compaction;
    if (failure !== null) throw (failure as { error: unknown }).error;
  }

  /**
   * Ends every wait for a commit now, and every later one at once, with COMMIT_TIMEOUT
   * (`details.stopping`): the transaction was admitted and may still commit, which is what
   * that code tells a client (the API answers `202 pending, wait_timed_out`). A stopping
   * node calls this before it closes its API, which waits for requests in progress: a
   * client waiting for a commit held the stop for up to its timeout, 60 s at most (found
   * in review, 2026-11-30).
   */
  releaseWaiters(): void {
    this.releasing = true;
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const [id, list] of waiting) for (const w of list) w.reject(stoppingWait(id));
  }

  /** Records in the acceptor log now (when compaction is configured), for metrics and tests. */
  get acceptorLogRecords(): number | null {
    return this.options.compaction?.log.length ?? null;
  }

  /**
   * Starts a compaction when `everyBlocks` blocks were applied since the last one (or the
   * validator's phase of the cycle came round), or `everyBytes` were appended. It runs
   * on its own, outside the apply chain: on a later turn of the event loop the records are
   * read and cut to what recovery needs for the height then durably applied, and the log
   * switches generations while consensus goes on (the log holds appends made meanwhile).
   */
  private maybeCompact(): void {
    const c = this.options.compaction;
    if (c === undefined || this.compaction !== null || this.stopped) return;
    // Each validator compacts at its own phase of the everyBlocks cycle: a compaction
    // delays this validator's acknowledgements, and validators that all compacted at the
    // same heights stalled every commit for it (10-40 ms every 64 blocks, measured).
    const phase = Math.round((this.options.index * c.everyBlocks) / this.genesis.validators.length);
    const cycle = (height: number): number => Math.floor((height + phase) / c.everyBlocks);
    const blocksDue = this.store.height - this.compactedAt >= c.everyBlocks || cycle(this.store.height) !== cycle(this.compactedAt);
    // By bytes, the first compaction after start waits the validator's share of a cycle more;
    // later ones come every everyBytes, so the phases stay apart.
    const firstBytes = this.counters.acceptorCompactions === 0 ? Math.round((this.options.index * (c.everyBytes ?? 0)) / this.genesis.validators.length) : 0;
    const bytesDue = c.everyBytes !== undefined && (c.log.bytesSinceCompaction ?? 0) >= c.everyBytes + firstBytes;
    if (!blocksDue && !bytesDue) return;
    this.compaction = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        if (this.stopped) return;
        // The records and the applied height are read in one synchronous step, so every
        // record appended so far is in the snapshot; the store's height only counts blocks
        // whose log write is durable (LedgerStore.commit syncs before it moves the tip).
        const applied = this.store.height;
        const limits = { replicas: this.genesis.validators.length, valueBytesMax: this.genesis.limits.block_bytes_max };
        const kept = compactRecords([...c.log.replay()].map((bytes) => decodeRecord(bytes, limits)), applied);
        this.compactedAt = applied;
        return c.log.compact(kept.map(encodeRecord)).then(() => {
          this.counters.acceptorCompactions++;
        });
      })
      .catch((error: unknown) => this.fatal(error))
      .finally(() => {
        this.compaction = null;
      });
  }

  private fatal(error: unknown): void {
    this.stopped = true;
    this.driver.stop();
    if (this.timer !== null) clearInterval(this.timer);
    if (this.cutDeferred !== null) clearTimeout(this.cutDeferred);
    this.options.onFatal(error);
  }

  get height(): number {
    return this.store.height;
  }

  get state(): LedgerStore['state'] {
    return this.store.state;
  }

  get ledger(): LedgerStore {
    return this.store;
  }

  get mempoolSize(): number {
    return this.mempool.size;
  }

  /** Encoded bytes of the pending transactions (bounded by mempoolBytesMax, times the validators' count on a leader). */
  get mempoolBytes(): number {
    return this.pendingBytes;
  }

  status(): { index: number; role: string; ballot: { round: number; leader: number }; height: number; leaderKnown: boolean; leader: number | null } {
    const s = this.driver.core.status();
    const leader = s.role === 'leader' ? this.options.index : s.leaderKnown ? s.leaderBallot.leader : null;
    return { index: this.options.index, role: s.role, ballot: s.role === 'leader' ? s.ballot : s.leaderBallot, height: this.store.height, leaderKnown: s.leaderKnown, leader };
  }

  onCommittedBlock(listener: (block: Block) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---------------------------------------------------------------- submissions

  /**
   * Admits a transaction: stateless checks and its signatures here, then a dry run
   * against the committed state for a precise refusal. On a follower it is forwarded to
   * the leader as well.
   * @throws SteleError TX_* (refused) or MEMPOOL_FULL.
   */
  submit(tx: Tx, signatures: 'verify' | 'verified' = 'verify', dryRun?: BlockBuilder, local = true): { id: string } {
    const id = tx.idHex;
    const pending = this.mempool.get(id);
    if (pending !== undefined) {
      // Already pending (a client retrying a whole batch while its first items wait): its
      // writes still go in the batch's dry run, or a later item relying on it (a payment to
      // the identity it registers) would be refused (found in review). The pending copy was
      // checked when it came; what the dry run says of it now changes nothing.
      dryRun?.admit(pending.tx, { signatures: 'verified' });
      return { id };
    }
    if (this.stopped) throw new SteleError('NODE_UNAVAILABLE', 'the node is shutting down');
    if (this.mempool.size >= this.mempoolMax || this.pendingBytes + tx.bytes.length > this.mempoolBytesMax) {
      throw new SteleError('MEMPOOL_FULL', `the mempool holds ${this.mempool.size} transactions (${this.pendingBytes} bytes); retry later`, { retry_after_s: 1 });
    }
    // A batch's builder keeps each admitted item's writes, so later items see them; a lone
    // submission is checked against the committed state alone.
    const refusal = dryRun !== undefined ? dryRun.admit(tx, { signatures }) : this.admissionChecker().check(tx, { signatures });
    if (refusal !== null) throw new SteleError(refusal.code, refusal.reason, refusal.details);
    const now = this.clock();
    const entry = this.enterMempool(tx, now, local);
    const leader = this.status().leader;
    // Forwards leave in admission order: behind one still unsent, this one waits its turn
    // in reforward() (at most REFORWARD_CHECK_MS).
    if (leader === null || leader === this.options.index || this.forwardBacklog) this.forwardBacklog = true;
    else this.forward(leader, entry, now);
    return { id };
  }

  /**
   * Sends `entry` to `leader`. False when the transport refused it (its send queue to the
   * leader is full, while a smaller later forward might still fit): the entry is then due
   * again at once and the backlog starts there, so nothing admitted after it goes first.
   */
  private forward(leader: number, entry: MempoolEntry, now: number): boolean {
    // Sent before, to this leader or to one before it (its back-off then starts again at 0 sends).
    const again = entry.sentAt !== null || entry.sends > 0;
    // Not sent while the leader is unreachable, nor when older forwards were just found
    // due again (a link lost or replaced): this one then waits behind them in the backlog.
    const link = this.leaderReachable(leader);
    if (!link.up || link.marked || !this.options.transport.send(leader, prefix(CHANNEL_FORWARD, entry.tx.bytes))) {
      entry.sentAt = null;
      this.forwardBacklog = true;
      this.counters.forwardsUnsent++;
      return false;
    }
    if (again) this.counters.reforwarded++;
    else this.counters.forwarded++;
    entry.sentAt = now;
    entry.sends++;
    return true;
  }

  /**
   * False while the transport has no connection with `leader`. When the link is seen to go
   * (peerUp turning false), or to have been replaced since the last check (linkEpoch: an
   * open connection to the leader closed, losing what was on its way), the forwards sent
   * in the last RELINK_RESEND_MS are due again: they go again, oldest first, before anything
   * admitted later (reforward), once the link is back (review of 2026-12-02).
   */
  private leaderReachable(leader: number): { readonly up: boolean; readonly marked: boolean } {
    const transport = this.options.transport;
    const up = transport.peerUp?.(leader) ?? true;
    const epoch = transport.linkEpoch?.(leader) ?? 0;
    const relinked = this.leaderLink !== null && this.leaderLink.leader === leader && this.leaderLink.epoch !== epoch;
    const marked = ((!up && !this.leaderUnreachable) || relinked) && this.resendRecent();
    this.leaderLink = { leader, epoch };
    this.leaderUnreachable = !up;
    return { up, marked };
  }

  /**
   * Marks the forwards sent in the last RELINK_RESEND_MS as not sent: they may have been
   * lost with a link. Not the older ones, which had time to arrive, so that a link going
   * up and down does not send the whole mempool again each time (review of 2026-12-02).
   * The send that may have been lost does not count towards the back-off.
   */
  private resendRecent(): boolean {
    const now = this.clock();
    let marked = false;
    for (const entry of this.mempool.values()) {
      if (entry.sentAt === null || now - entry.sentAt > RELINK_RESEND_MS) continue;
      entry.sentAt = null;
      entry.sends = Math.max(0, entry.sends - 1);
      this.forwardBacklog = true; // nothing admitted later goes before it
      marked = true;
    }
    return marked;
  }

  /** Puts an admitted transaction in the mempool, not yet forwarded. */
  private enterMempool(tx: Tx, now: number, local: boolean): MempoolEntry {
    const entry: MempoolEntry = { tx, at: now, local, sentAt: null, sends: 0, slot: 0 };
    invariant(!this.mempool.has(tx.idHex), 'a transaction enters the mempool once');
    this.mempool.set(tx.idHex, entry);
    this.pendingBytes += tx.bytes.length;
    // A leader with no block in flight cuts one for it at once (after this turn, so that
    // the rest of a batch arriving now joins it); a busy one leaves it to the timer.
    if (this.driver.core.leading && this.driver.core.proposalsInFlight === 0) this.scheduleCut();
    // Admitted again (a client's retry, or a follower's forward after the state changed):
    // a refusal recorded before is no longer its status.
    this.refused.delete(tx.idHex);
    return entry;
  }

  /** Takes `id` out of the mempool (committed, refused, or used up), if it is there. */
  private leaveMempool(id: string): void {
    const entry = this.mempool.get(id);
    if (entry === undefined) return;
    this.mempool.delete(id);
    this.pendingBytes -= entry.tx.bytes.length;
    invariant(this.pendingBytes >= 0 && (this.mempool.size > 0 || this.pendingBytes === 0), 'mempool bytes match its transactions');
  }

  /** A builder of the next block on the committed state, for admission dry runs (BlockBuilder.check). */
  private admissionBuilder(): BlockBuilder {
    return new BlockBuilder(this.genesis, this.store.state, this.store.height + 1, { signatures: 'verify' });
  }

  /**
   * The builder lone submissions are checked against: one per committed tip. Building one
   * runs the next height's deadline steps, which every lone submission paid again before
   * 2026-12-01 (review). Reusing it is safe because `check` runs each transaction on a
   * throwaway child overlay (nothing is ever offered or admitted to this builder), so its
   * state stays the committed state plus those deadline steps. The committed state changes
   * only when blocks commit (LedgerStore.commitMany, which moves the tip with it): the cache
   * is dropped in applyGroups, and a builder made on another tip (height and block hash) is
   * never reused, whoever committed.
   */
  private admissionChecker(): BlockBuilder {
    const tip = this.store.tip;
    const cached = this.admission;
    if (cached !== null && cached.height === tip.height && bytesEqual(cached.hash, tip.hash)) return cached.builder;
    const builder = this.admissionBuilder();
    this.admission = { builder, height: tip.height, hash: tip.hash };
    return builder;
  }

  /**
   * Admits transactions in order, as `submit` would one by one, with their signatures
   * verified together on the worker pool first (the expensive part of admission, on every
   * core instead of this thread). A transaction with a bad signature is then re-checked
   * alone, so its refusal code is exactly the one `submit` gives.
   */
  async submitMany(txs: readonly Tx[]): Promise<Array<{ id: string } | SteleError>> {
    const items: VerifyItem[] = [];
    const owner: number[] = [];
    txs.forEach((tx, k) => {
      tx.body.signers.forEach((publicKey, i) => {
        items.push({ publicKey, message: tx.bodyBytes, signature: tx.signatures[i] as Uint8Array });
        owner.push(k);
      });
    });
    const pool = this.options.pool;
    const verdicts = pool === undefined ? Uint8Array.from(items, (x) => (verify(x.publicKey, x.message, x.signature) ? 1 : 0)) : await pool.verifyBatch(items);
    const bad = new Set<number>();
    verdicts.forEach((ok, j) => {
      if (ok !== 1) bad.add(owner[j] as number);
    });
    // One dry-run builder for the whole batch, in order: the committed state cannot change
    // while this synchronous loop runs, and each admitted item's writes stay in the
    // builder, so a later item may rely on an earlier one (docs/api.md; before 2026-11-30
    // each was checked alone, contrary to the docs: found in review).
    const dryRun = this.admissionBuilder();
    return txs.map((tx, k) => {
      try {
        return this.submit(tx, bad.has(k) ? 'verify' : 'verified', dryRun);
      } catch (error) {
        if (isSteleError(error)) return error;
        throw error;
      }
    });
  }

  /**
   * A transaction forwarded by another validator, which verified its signatures and
   * dry-ran it when it admitted it. A leader admits it without running it again: cutting
   * the next block runs it anyway (and records it as failed, if the state changed), so a second
   * dry run here only doubled the leader's work per transaction. It still drops copies of
   * committed transactions (a follower's reforward after the commit), which the cut would
   * only drop again. A follower (a forward that
   * arrived just after a change of leader) admits it fully, as before.
   */
  private onForwarded(messages: readonly PeerMessage[]): void {
    if (this.stopped) return;
    // Called by the transport, outside the driver's guard: a throw here (a bug, not bad
    // input, which is dropped below) stops this validator as the driver would, never the
    // process (found in review).
    try {
      // Decoded together: their ids are hashed in one call (decodeTxs), each within this
      // chain's tx_bytes_max (not only the encoding's 64 KiB: a larger one at the head of the
      // leader's mempool could fit no block). A malformed one is dropped.
      const txs = decodeTxs(
        messages.map((m) => m.bytes),
        this.genesis.limits.tx_bytes_max,
      );
      txs.forEach((tx, k) => {
        if (isSteleError(tx)) this.counters.forwardsMalformed++;
        else if (tx.body.chainId !== this.genesis.chainId) this.counters.forwardsWrongChain++;
        else this.admitForwarded((messages[k] as PeerMessage).from, tx);
      });
    } catch (error) {
      this.fatal(error);
    }
  }

  private admitForwarded(from: number, tx: Tx): void {
    try {
      if (this.driver.core.status().role === 'leader') {
        const id = tx.idHex;
        if (this.mempool.has(id) || this.stopped) return;
        if (this.store.state.get(keys.txid(id)) !== undefined) return;
        // Expired: its submitter's node refuses it (pruneExpired). Admitting it here could
        // only record a refusal for what may be a committed transaction whose id left the
        // replay window (found in review).
        if (tx.body.expiry < this.store.height + 1) return;
        // A follower sends its forwards in the order it admitted them (forward, reforward).
        // Once one of a peer's forwards is dropped at the bound below, the peer's later ones
        // are dropped too until that one comes again (the follower's reforward sends the
        // oldest first): admitted meanwhile, a later item that relied on it (a payment to an
        // identity it registers) would be cut alone and fail for good (found in review).
        const hold = this.heldBack.get(from);
        if (hold !== undefined && hold.id !== id && !this.holdOver(hold)) {
          this.counters.forwardsHeldBack++;
          return; // the follower sends it again later
        }
        // Each follower forwards only what its own mempool holds (at most mempoolMax, and
        // mempoolBytesMax bytes), so
        // forwards are bounded by the validators' mempools together: a leader takes them
        // past its own bound (dropping them there put batches out of order, found in review,
        // 2026-11-30) up to this one, which only odd cases reach (a follower that restarted
        // with an empty mempool and filled it again while this leader still held its old
        // forwards).
        const validators = this.genesis.validators.length;
        if (this.mempool.size >= this.mempoolMax * validators || this.pendingBytes + tx.bytes.length > this.mempoolBytesMax * validators) {
          if (hold === undefined || hold.id !== id) this.heldBack.set(from, { id, expiry: tx.body.expiry, until: this.clock() + HOLD_MS_FACTOR * this.reforwardMs });
          this.counters.forwardsDroppedFull++;
          return; // the follower sends it again later
        }
        this.heldBack.delete(from);
        this.enterMempool(tx, this.clock(), false);
        this.counters.forwardedAdmitted++;
        return;
      }
      this.submit(tx, 'verified', undefined, false);
    } catch (error) {
      if (!isSteleError(error)) throw error; // a forwarded transaction refused here: the submitter's node reports it
    }
  }

  /**
   * Whether a hold on a peer's forwards (admitForwarded) has ended without the dropped
   * forward coming again: it is in the mempool or the chain after all (another validator
   * forwarded it, or its client resubmitted it here), it expired (its follower drops it
   * too), or the follower has had time for its longest reforward back-off (it restarted and
   * lost it).
   */
  private holdOver(hold: { readonly id: string; readonly expiry: number; readonly until: number }): boolean {
    return this.mempool.has(hold.id) || this.store.state.get(keys.txid(hold.id)) !== undefined || hold.expiry < this.store.height + 1 || this.clock() >= hold.until;
  }

  /**
   * Resolves when `id` (hex) commits; rejects with COMMIT_TIMEOUT after `timeoutMs`; with
   * its refusal code and `details.height` and `details.index` when a committed block holds
   * it as failed; with TX_EXPIRED once every height up to its expiry is committed without
   * it; or with another refusal code when the leader found it invalid at a cut.
   */
  waitForCommit(id: string, timeoutMs = 30_000): Promise<{ height: number; index: number }> {
    // Refused before the caller got here (between its submit and this call, a commit that
    // expired it ran in between): the refusal is final, and no later refuse() would come to
    // answer a waiter registered now (found in review, 2026-11-30: it waited out the timeout).
    const refused = this.mempool.has(id) ? undefined : this.refused.get(id);
    if (refused !== undefined) return Promise.reject(new SteleError(refused.code as ErrorCode, refused.reason, { id }));
    if (this.releasing) return Promise.reject(stoppingWait(id));
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      const timer = setTimeout(() => {
        const left = (this.waiters.get(id) ?? []).filter((w) => w !== waiter);
        if (left.length > 0) this.waiters.set(id, left);
        else this.waiters.delete(id);
        reject(new SteleError('COMMIT_TIMEOUT', `transaction ${id} did not commit within ${timeoutMs} ms`, { id, timeout_ms: timeoutMs }));
      }, timeoutMs);
      const waiter = {
        resolve: (location: { height: number; index: number }) => {
          clearTimeout(timer);
          resolve(location);
        },
        reject: (error: SteleError) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      list.push(waiter);
      this.waiters.set(id, list);
    });
  }

  /** Committed location of `id` (hex) if it is committed (applied or failed). */
  async location(idHex: string): Promise<TxLocation | undefined> {
    return this.store.txLocation(new Uint8Array(Buffer.from(idHex, 'hex')));
  }

  async transaction(idHex: string): Promise<TxStatus> {
    if (this.mempool.has(idHex)) return { status: 'pending' };
    // The chain first: a refusal recorded for a copy of a transaction never outranks the
    // transaction's own commit.
    const id = Buffer.from(idHex, 'hex');
    const at = await this.store.txLocation(new Uint8Array(id));
    if (at !== undefined) {
      if (at.failed === null) return { status: 'committed', height: at.height, index: at.index };
      return { status: 'failed', height: at.height, index: at.index, code: at.failed, reason: failedReason(at.failed, at.height, at.index) };
    }
    const refused = this.refused.get(idHex);
    return refused !== undefined ? { status: 'refused', ...refused } : { status: 'unknown' };
  }

  // ---------------------------------------------------------------- leader

  /**
   * Brings the speculative chain in line with the core: blocks committed but not yet
   * applied, then the in-flight values. `speculative` is always a contiguous chain from
   * the store's height + 1 (apply() drops its head as blocks are stored). Returns false
   * when the leader cannot build on it now.
   */
  private syncSpeculative(): boolean {
    const core = this.driver.core;
    const commitIndex = core.status().commitIndex;
    let keep = 0;
    if (commitIndex > this.store.height) {
      // Committed blocks still being applied: build on them only when they are this
      // leader's own speculative blocks. The committed value at the commit index pins every
      // committed block below it through the prev-hash chain, so one digest decides.
      const at = this.speculative.findIndex((s) => s.slot === commitIndex);
      if (at < 0 || !bytesEqual(this.speculative[at]!.digest, core.committedDigest())) {
        this.speculative = this.speculative.filter((s) => s.slot <= commitIndex);
        return false; // wait until the store has applied them
      }
      keep = at + 1;
    }
    const inFlight = core.inFlightValues();
    let matched = 0;
    while (keep + matched < this.speculative.length && matched < inFlight.length) {
      const s = this.speculative[keep + matched]!;
      const v = inFlight[matched]!;
      if (s.slot !== v.slot || !bytesEqual(s.digest, v.digest)) break;
      matched++;
    }
    this.speculative = this.speculative.slice(0, keep + matched);
    for (let k = matched; k < inFlight.length; k++) {
      const v = inFlight[k]!;
      const base = this.speculative.at(-1);
      const state: StateReader = base?.result.overlay ?? this.store.state;
      const previousStateHash = base?.block.header.stateHash ?? this.store.tip.stateHash;
      try {
        // The core checked only the header of a peer's value (validValue): the body is
        // decoded here, inside the try (it sat outside, and a throw left the timer: found in review).
        const block = decodeBlock(v.value);
        const result = executeBlock(this.genesis, state, block.txs, v.slot, previousStateHash, { signatures: 'verified' });
        this.speculative.push({ slot: v.slot, digest: v.digest, block, result, own: false, proposedAt: null });
      } catch (error) {
        if (!isSteleError(error)) throw error;
        return false; // a recovered value this replica cannot extend yet: wait for it to commit
      }
    }
    return true;
  }

  /** A follower hands its pending transactions to each new leader it learns of. */
  private forwardOnLeaderChange(): void {
    const status = this.status();
    const leader = status.leader;
    // Only a new leadership (another ballot): a follower that briefly loses sight of the
    // same leader (a late heartbeat under load) must not send it the whole mempool again,
    // but a leader elected again after a restart (a higher round) gets it.
    if (leader === null) return;
    const term = `${status.ballot.round}/${status.ballot.leader}`;
    if (term === this.lastLeaderTerm) return;
    this.lastLeaderTerm = term;
    if (leader === this.options.index) return;
    // Everything pending is due for the new leader at once, but goes out within
    // reforward()'s budget: sent in one loop, a full mempool (up to 64 MiB of forwards)
    // filled the transport's queue to the new leader, which then dropped this validator's
    // consensus messages to it, right when a new leadership needs them (found in review).
    // Each starts its back-off again: it was never sent to this leader. Kept, a transaction
    // sent 4 times to the old leader was next sent to the new one 8 x reforwardMs (80 s)
    // after the first try, while its expiry is counted in blocks (found in review).
    for (const entry of this.mempool.values()) {
      // Never sent (sends 0) waits its turn as it is; one marked unsent after sends (a
      // refusal, a link lost: review of 2026-12-02) starts its back-off again too.
      if (entry.sentAt === null && entry.sends === 0) continue;
      entry.sentAt = Number.NEGATIVE_INFINITY;
      entry.sends = 0;
    }
    this.lastReforwardCheck = Number.NEGATIVE_INFINITY;
    this.reforward();
  }

  /**
   * A follower's safety net, checked every REFORWARD_CHECK_MS: pending transactions it
   * never forwarded (no leader was known when they came) or forwarded reforwardMs ago
   * without seeing them commit go to the current leader (again). A forward can be lost:
   * the transport drops messages when a connection breaks, the leader may refuse it for a
   * moment (a full mempool), or a leader can be unknown for a moment (an election that
   * ends with the same leader, which forwardOnLeaderChange does not count as a change).
   * Without this, such a transaction would wait in this mempool until it expired. The
   * leader ignores copies it holds, and refuses (silently) ones already committed.
   * Bounded so that a slow leader is not flooded: the wait doubles with each send of a
   * transaction (reforwardMs, 2x, 4x, ... up to 8x), and one check sends at most
   * REFORWARD_PER_CHECK_MAX transactions or REFORWARD_BYTES_PER_CHECK_MAX bytes (the
   * oldest first; the rest wait for the next check).
   */
  private reforward(): void {
    const now = this.clock();
    if (now - this.lastReforwardCheck < REFORWARD_CHECK_MS) return;
    this.lastReforwardCheck = now;
    const leader = this.status().leader;
    if (leader === null || leader === this.options.index) return;
    // Checked here too, so that forwards sent just before the link went are due again when
    // it comes back, even with no forward due meanwhile.
    // (Forwards it marks due again come first in this pass: the mempool is in admission order.)
    if (!this.leaderReachable(leader).up) return;
    let count = 0;
    let bytes = 0;
    // No check against this replica's committed state before a resend: that state may lag
    // the leader's, and a refusal told from it was not final (the leader could still commit
    // the transaction). A transaction that fails at the leader's cut is in the chain as
    // failed, and this replica learns that when it applies the block (2026-11-30).
    // A forward the transport refuses ends the pass: nothing after it may go first.
    for (const entry of this.mempool.values()) {
      if (entry.sentAt !== null && now - entry.sentAt < this.reforwardMs * 2 ** Math.min(3, Math.max(0, entry.sends - 1))) continue;
      if (count >= REFORWARD_PER_CHECK_MAX || bytes + entry.tx.bytes.length > REFORWARD_BYTES_PER_CHECK_MAX) return;
      count++;
      bytes += entry.tx.bytes.length;
      if (!this.forward(leader, entry, now)) return;
    }
    // The whole mempool was looked at: every entry has been sent at least once.
    this.forwardBacklog = false;
  }

  private maybePropose(): void {
    if (this.stopped) return;
    this.forwardOnLeaderChange();
    this.reforward();
    if (this.mempool.size === 0) return;
    const slot = this.driver.core.proposableSlot();
    if (slot === null) return;
    // When to cut: at once when no block of this leader awaits its commit (an idle pipeline:
    // waiting would only add latency), else once the oldest transaction in no block has
    // waited blockWaitMs or a full block is pending (a busy pipeline: bigger blocks, each of
    // which costs the cluster about 9 ms of CPU whatever it holds). A leader whose main
    // thread is busy (node/busy.ts) spaces even an idle pipeline's blocks blockWaitMs apart:
    // at moderate load, cutting per commit round made so many small blocks that they
    // alone kept the machine busy (docs/performance.md, ninth session).
    const limits = this.genesis.limits;
    const blockFull = (): boolean => this.mempool.size - this.inBlocksCount() >= limits.block_txs_max;
    if (this.driver.core.proposalsInFlight > 0) {
      const oldest = this.oldestUnproposed();
      if (oldest === undefined) return;
      if (!blockFull() && this.clock() - oldest.at < this.blockWaitMs) return;
    } else if (this.busy() && !blockFull()) {
      // An idle pipeline on a busy leader: blocks at least blockWaitMs apart, so that under
      // moderate load each carries more and the cluster spends less on blocks.
      const wait = this.lastCutAt + this.blockWaitMs - this.clock();
      if (wait > 0) {
        // Counted once per deferral, when its timer is set (found in review: every check
        // while it waited, each submission and tick, counted another). None is set while
        // nothing waits outside a block: right after a commit the mempool still holds the
        // committed transactions until they are stored, and a timer set for them put off
        // no block, yet was counted, and the block it did put off next was not.
        if (this.cutDeferred === null && this.oldestUnproposed() !== undefined) {
          this.cutDeferred = setTimeout(() => {
            this.cutDeferred = null;
            this.cutGuarded();
          }, wait);
          this.counters.cutsDeferred++;
        }
        return;
      }
    }
    if (!this.syncSpeculative()) return;
    const base = this.speculative.at(-1);
    invariant((base?.slot ?? this.store.height) === slot - 1, 'the new block extends the last in-flight one');
    const inBlocks = new Set<string>();
    for (const s of this.speculative) for (const t of s.block.txs) inBlocks.add(t.idHex);
    const state: StateReader = base?.result.overlay ?? this.store.state;
    const builder = new BlockBuilder(this.genesis, state, slot, { signatures: 'verified' });
    for (const [id, entry] of this.mempool) {
      if (inBlocks.has(id)) continue;
      if (builder.full(entry.tx.bytes.length)) {
        if (builder.txs.length > 0) break;
        // It fits no block, even an empty one: refused for good, or no block would ever be
        // cut again (admission refuses such a transaction, and forwards are decoded within
        // tx_bytes_max, which genesis keeps below an empty block's room; this is the last
        // line, found in review).
        this.refuse(id, 'TX_TOO_LARGE', `${entry.tx.bytes.length} bytes fit no block of at most ${limits.block_bytes_max} bytes`);
        continue;
      }
      const offered = builder.offer(entry.tx);
      // Applied or failed, it is in the block; its client hears either outcome when the
      // block commits (applyGroups), when it is final.
      if (offered.kind !== 'refused') {
        entry.slot = slot;
        continue;
      }
      const { code, reason } = offered.refusal;
      // Full block: the next one. Expired at this height: it may still be in an undecided
      // block at a lower height (another leader's, recovered by a later leader), so it is
      // left to pruneExpired, which refuses it once every height up to its expiry is
      // committed (found in review: refused here, it could commit after its client was told
      // TX_EXPIRED). Expiry too far: this leader's height is behind its admission's.
      if (code === 'BLOCK_TOO_LARGE' || code === 'TX_EXPIRED' || code === 'TX_EXPIRY_TOO_FAR') continue;
      // Its id is used (committed or failed): the chain answers for it.
      if (code === 'TX_DUPLICATE') {
        this.leaveMempool(id);
        continue;
      }
      // Invalid in any block (INVALID_IN_BLOCK), whatever the state: final.
      this.refuse(id, code, reason);
    }
    if (builder.txs.length === 0) return;
    const previous = base?.block.header ?? null;
    const tip = this.store.tip;
    const sealed = builder.seal(previous?.stateHash ?? tip.stateHash);
    const ballot = this.driver.core.status().ballot;
    const block = buildBlock(
      {
        chainId: this.genesis.chainId,
        height: slot,
        prevHash: base?.block.hash ?? tip.hash,
        stateHash: sealed.stateHash,
        // Wall time, never before the previous block's (a clock stepped back).
        timeMs: Math.max(previous?.timeMs ?? tip.timeMs, this.wallClock()),
        proposer: this.options.index,
        ballot,
      },
      builder.txs,
      this.options.signer,
    );
    const value = block.bytes;
    const proposed = this.driver.propose(value);
    if (this.stopped) return; // the driver stopped this replica (onFatal) while proposing
    invariant(proposed === slot, 'proposed in the slot that was free');
    this.speculative.push({ slot, digest: digestOf(value), block, result: sealed, own: true, proposedAt: this.clock() });
    this.counters.proposedBlocks++;
    this.lastCutAt = this.clock();
  }

  /**
   * The oldest pending transaction not in a block of this leader that is still to be
   * stored, for the cut's timing only (the cut itself checks the speculative blocks).
   * In-flight ones are mostly at the front of the mempool, so this skips few.
   */
  private oldestUnproposed(): MempoolEntry | undefined {
    const height = this.store.height;
    for (const entry of this.mempool.values()) if (entry.slot <= height) return entry;
    return undefined;
  }

  /** Transactions in this leader's speculative blocks. */
  private inBlocksCount(): number {
    let n = 0;
    for (const s of this.speculative) n += s.block.txs.length;
    return n;
  }

  /**
   * Runs maybePropose after this turn (once however often asked): a transaction that finds
   * the pipeline idle, and a commit that empties it, need not wait for the timer.
   */
  private scheduleCut(): void {
    if (this.cutScheduled || this.stopped) return;
    this.cutScheduled = true;
    setImmediate(() => {
      this.cutScheduled = false;
      this.cutGuarded();
    });
  }

  /**
   * maybePropose from a timer: a throw there is a bug (bad input is refused before), and
   * stops this validator through onFatal as the driver's guard would, instead of leaving the
   * timer as an uncaught exception that ends the process.
   */
  private cutGuarded(): void {
    try {
      this.maybePropose();
    } catch (error) {
      this.fatal(error);
    }
  }

  /** Drops pending transactions that can only be refused as expired from `height` on. */
  private pruneExpired(height: number): void {
    for (const [id, entry] of this.mempool) {
      if (entry.tx.body.expiry < height) this.refuse(id, 'TX_EXPIRED', `expiry ${entry.tx.body.expiry} is before height ${height}`);
    }
  }

  private refuse(id: string, code: string, reason: string): void {
    this.leaveMempool(id);
    this.counters.refused++;
    this.refused.set(id, { code, reason });
    const waiting = this.waiters.get(id);
    this.waiters.delete(id);
    for (const w of waiting ?? []) w.reject(new SteleError(code as ErrorCode, reason, { id }));
    if (this.refused.size > this.refusedMax) this.refused.delete(this.refused.keys().next().value as string);
  }

  // ---------------------------------------------------------------- learner

  /**
   * Commits blocks in order: full validation, durable write, index, notify. The driver
   * hands over every commit that piled up while the previous call ran; they are stored in
   * groups of at most APPLY_GROUP_BLOCKS_MAX blocks, so a backlog costs one persist and one
   * index write per group instead of per block (LedgerStore.commitMany).
   */
  private apply(entries: readonly Committed[]): Promise<void> {
    if (this.driver.core.leading && this.mempool.size > 0) this.scheduleCut();
    this.applying = this.applying.then(() => this.applyGroups(entries));
    return this.applying;
  }

  private async applyGroups(entries: readonly Committed[]): Promise<void> {
    const paranoid = this.options.verifyCommitted === true;
    for (let next = 0; next < entries.length; ) {
      const group: { entry: Committed; block: Block; checks: CheckOptions; proposedAt: number | null }[] = [];
      for (; next < entries.length && group.length < APPLY_GROUP_BLOCKS_MAX; next++) {
        const e = entries[next] as Committed;
        if (e.slot <= this.store.height + group.length) continue; // already stored (restart)
        invariant(e.slot === this.store.height + group.length + 1, 'blocks commit in height order');
        // The leader's own block is already decoded and executed (the store re-executes it
        // unless that execution read exactly the state the store would), and its proposer
        // signature is its own.
        const own = this.speculative.find((s) => s.slot === e.slot && s.own && bytesEqual(s.digest, e.digest));
        const block = own?.block ?? decodeBlock(e.value);
        invariant(block.certificate.length === 0, 'consensus values carry no certificate');
        // A block learned from a peer's committed log (catch-up) was never admitted or
        // accepted here: it is verified as an auditor would (DESIGN.md, ordering), every
        // transaction signature included. Before 2026-11-30 it was trusted like a block this
        // replica had accepted (found in review).
        const audited = paranoid || e.caughtUp;
        if (e.caughtUp) this.counters.caughtUpBlocks++;
        group.push({
          entry: e,
          block: withCertificate(block, e.certificate),
          proposedAt: own?.proposedAt ?? null,
          // Every vote of a committed certificate was verified by the consensus core (as it
          // arrived on the leader, in the COMMIT or catch-up reply on the others) against
          // this very value: verifying them again here would double the cost of each block.
          checks: {
            txSignatures: audited ? 'verify' : 'trusted',
            certificateSignatures: paranoid ? 'verify' : 'trusted',
            proposerSignature: own !== undefined && !paranoid ? 'trusted' : 'verify',
            ...(own !== undefined && !paranoid ? { executed: own.result } : {}),
          },
        });
      }
      if (group.length === 0) continue;
      // A block that fails here was committed by a quorum: this replica has diverged.
      const results = await this.store.commitMany(
        group.map((g) => g.block),
        group.map((g) => g.checks),
      );
      this.admission = null; // built on the state before these blocks
      // Its index write goes on behind the commit (LedgerStore.commitMany); a failure there
      // (a full disk) stops the node as a failed commit would.
      this.store.indexed().catch((error: unknown) => {
        if (!this.stopped) this.fatal(error);
      });
      // Synchronous from here to the end of the group: nothing else sees the steps between.
      const storedAt = this.clock();
      for (const [k, { entry: e, block: certified, proposedAt }] of group.entries()) {
        const result = results[k] as BlockResult;
        if (proposedAt !== null) this.blockSeconds.observe((storedAt - proposedAt) / 1000);
        this.counters.committedBlocks++;
        this.counters.committedTxs += certified.txs.length;
        let f = 0;
        certified.txs.forEach((tx, index) => {
          const id = tx.idHex;
          const pending = this.mempool.get(id);
          if (pending?.local === true) this.commitSeconds.observe((storedAt - pending.at) / 1000);
          this.leaveMempool(id);
          this.refused.delete(id); // refused once by a leader, then committed after all
          const waiting = this.waiters.get(id);
          this.waiters.delete(id);
          const failure = result.failed[f]?.index === index ? (result.failed[f++] as TxFailure) : undefined;
          if (failure === undefined) {
            for (const w of waiting ?? []) w.resolve({ height: certified.header.height, index });
            return;
          }
          this.counters.failedTxs++;
          const error = new SteleError(failure.code, failedReason(failure.code, certified.header.height, index, failure.reason), { ...failure.details, id, height: certified.header.height, index });
          for (const w of waiting ?? []) w.reject(error);
        });
        invariant(f === result.failed.length, 'every failed transaction is reported');
        const head = this.speculative[0];
        if (head !== undefined && head.slot <= e.slot) {
          // Another value won this slot: everything built on the speculative one is void.
          if (head.slot === e.slot && !bytesEqual(head.digest, e.digest)) this.speculative = [];
          else {
            // The applied block's writes are in the store now: the next speculative block
            // reads through the store directly instead of through the applied overlay. (In a
            // group the store is already past later blocks of the group too; the speculative
            // blocks of those slots are dropped or rebased again below, before anything reads
            // them, so only the first one past the group keeps this rebase.)
            const next = this.speculative[1];
            if (head.slot === e.slot && next !== undefined && next.result.overlay.base === head.result.overlay) next.result.overlay.rebase(this.store.state);
            this.speculative = this.speculative.filter((s) => s.slot > e.slot);
          }
        }
        for (const l of this.listeners) l(certified);
      }
      this.pruneExpired(this.store.height + 1);
    }
    this.maybeCompact();
  }
}

function prefix(channel: number, bytes: Uint8Array): Uint8Array {
  const out = bytesToFill(bytes.length + 1);
  out[0] = channel;
  out.set(bytes, 1);
  return out;
}

/** The reason given for a transaction a committed block holds as failed. */
export function failedReason(code: ErrorCode, height: number, index: number, detail: string = ERROR_CODES[code]): string {
  return `failed in block ${height} at index ${index}: ${detail}`;
}

/** The end of a wait for a commit cut short by a stopping node (Validator.releaseWaiters). */
function stoppingWait(id: string): SteleError {
  return new SteleError('COMMIT_TIMEOUT', `the node is stopping: transaction ${id} was admitted and may still commit; look it up later`, { id, stopping: true });
}
