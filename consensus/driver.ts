/**
 * The replica driver: runs the pure core with real timers, a transport and a durable
 * acceptor log. It owns every side effect the core leaves out, in the order the core's
 * hand-off requires:
 *
 *   r = core.ready()
 *   send r.send at once (messages to itself are stepped on the next microtask), except
 *   COMMITs, which ride with the next other send or go after this turn (see sendLazy)
 *   hand r.commit to the learner, which applies hand-offs in order, off this path
 *   append r.persist to the acceptor log; once one group-commit persist makes them
 *   durable: core.advance()
 *   while that persist runs, core.flush() hands over sends and commits that do not wait
 *   for it (a quorum of other replicas commits without this replica's disk)
 *
 * Received COMMITs are stepped after the messages that arrived with them, and on an idle
 * replica up to COMMIT_HOLD_MS later (see stepHeld): at low load this keeps the certificate
 * check off the path of the next ACCEPT. Both holds are delays the network could make.
 *
 * The transport and the log are interfaces so the same driver runs over the native
 * transport and mapped log, or over in-memory fakes in tests.
 *
 * Every entry point (a received batch, a tick, a timer, a microtask, a fulfilled persist or
 * apply) runs inside `guarded`: whatever the core throws there (a broken invariant, a `sign`
 * that fails) stops this replica through `onFatal`, never the process through an uncaught
 * exception or an unhandled rejection (review of 2026-11-30: a throw in a batch escaped
 * through the native transport's callback).
 */
import { invariant } from '../ledger/assert.js';
import { encodeRecord, MessageType, type Vote } from './messages.js';
import { Replica, type Committed, type ReplicaConfig, type DurableState } from './replica.js';

/** Commit hand-offs the learner may lag behind before the driver pushes back. */
const APPLY_BATCHES_MAX = 64;
/** How long an idle replica holds a COMMIT for an ACCEPT to overtake it (see `receive`). */
const COMMIT_HOLD_MS = 1;
/** COMMIT messages held at most; beyond that they are stepped at once. */
const COMMIT_HOLD_MAX = 1024;

export interface PeerMessage {
  readonly from: number;
  readonly bytes: Uint8Array;
}

/** Moves authenticated messages between replicas. */
export interface Transport {
  /**
   * Queues `bytes` for replica `to`. True when it was queued (it may still be lost on the
   * way, as the network may lose anything); false when it was refused at once and dropped,
   * such as when the send queue to that peer is full (native/transport.ts). The driver's
   * own messages tolerate loss and ignore the answer; a validator's forwards of client
   * transactions use it to keep them in order (node/validator.ts).
   */
  send(to: number, bytes: Uint8Array): boolean;
  /**
   * Optional: false while no connection with replica `to` is open. The native transport
   * drops what is sent to a peer unreachable for 2 s (native/transport.ts,
   * unreachableDropMs), so a validator's forwards wait, in order, for a leader that is
   * not reachable instead (node/validator.ts). Absent: always reachable.
   */
  peerUp?(to: number): boolean;
  /**
   * Optional: a number that changes whenever an open connection carrying messages to
   * replica `to` closed, so that what was on its way may have been lost. A validator sends
   * its recent forwards again then, in order (node/validator.ts). Absent: never changes.
   */
  linkEpoch?(to: number): number;
  /**
   * Optional: hands what `send` staged to the wire now rather than at the end of the turn.
   * The driver calls it after each hand-off's sends, so its own messages to itself (stepped
   * next, on this thread) never hold the network's back.
   */
  flush?(): void;
  /** Registers the receiver of message batches (one handler). */
  receive(handler: (batch: readonly PeerMessage[]) => void): void;
}

/** The durable acceptor log: appends become durable together at the next `persist`. */
export interface AcceptorLog {
  append(record: Uint8Array): void;
  /**
   * `inline: false` asks for the write not to block this thread (a log may otherwise make a
   * small persist on the calling thread, native/mapped-log.ts).
   */
  persist(options?: { readonly inline?: boolean }): Promise<void>;
}

/** Where committed values go: applied in slot order, and read back to serve catch-up. */
export interface Learner {
  /**
   * Applies `entries` in slot order; resolves once they are durable, so that a restart
   * resumes above them (the acceptor's bound on what it holds depends on it: Replica.applied).
   */
  apply(entries: readonly Committed[]): Promise<void>;
  get(slot: number): { readonly value: Uint8Array; readonly certificate: readonly Vote[] } | undefined;
}

export interface DriverOptions {
  readonly tickMs: number;
  readonly config: Omit<ReplicaConfig, 'log'>;
  readonly durable: DurableState;
  readonly transport: Transport;
  readonly log: AcceptorLog;
  readonly learner: Learner;
  /**
   * Called once when the replica must stop: a hand-off failed (the disk or the learner), or
   * the core threw (a broken invariant). The driver has stopped by then.
   */
  readonly onFatal: (error: unknown) => void;
  /**
   * Whether a follower may make a small persist on this thread (default true): a replica
   * that does nothing but consensus saves two thread hand-offs per answer. A validator says
   * false, since its thread also serves clients, and an msync there (2-3 ms each, dozens a
   * second) holds every request back for as long.
   */
  readonly followerPersistInline?: boolean;
}

export class ReplicaDriver {
  readonly core: Replica;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = false;
  private held: PeerMessage[] = [];
  private holdTimer: NodeJS.Timeout | null = null;
  private lazy: Array<{ readonly to: number; readonly bytes: Uint8Array }> = [];
  private lazyScheduled = false;
  private applyBatches = 0;
  /** Commits handed over while the learner was busy, given to it together next. */
  private applyPending: Committed[] = [];
  private applyPendingBatches = 0;
  private applyRunning = false;
  private readonly options: DriverOptions;

  constructor(options: DriverOptions) {
    invariant(options.tickMs >= 1, 'tick of at least 1 ms');
    this.options = options;
    this.core = new Replica({ ...options.config, log: { get: (slot) => options.learner.get(slot) } }, options.durable);
    options.transport.receive((batch) =>
      this.guarded(() => {
        for (const m of batch) {
          // Byte 0 is the wire version, byte 1 the message type; anything else is the
          // core's to validate.
          if (m.bytes[1] === MessageType.Commit && this.held.length < COMMIT_HOLD_MAX) this.held.push(m);
          else this.core.step(m.from, m.bytes);
        }
        this.pump();
        this.stepHeld(false);
      }),
    );
  }

  /**
   * Runs one entry point unless stopped; a throw stops the replica through `onFatal`. The
   * core validates every peer message, so a throw here is a broken invariant (or a
   * failing injected function): the state can no longer be trusted.
   */
  private guarded(run: () => void): void {
    if (this.stopped) return;
    try {
      run();
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * A COMMIT costs a certificate check (signature verifications) and nothing waits for a
   * follower's commit, while an ACCEPT is on the leader's commit path: the follower must
   * persist and answer it. So COMMITs are held back: stepped while this replica's disk is
   * busy (the check overlaps the write), or after COMMIT_HOLD_MS when it is idle, so that
   * the next ACCEPT, which the leader sends right after a commit at low load, is persisted
   * first. Holding a message back is a network delay, which the core tolerates by design.
   */
  private stepHeld(now: boolean): void {
    if (this.held.length === 0 || this.stopped) return;
    if (!now && !this.busy) {
      this.holdTimer ??= setTimeout(() => {
        this.holdTimer = null;
        this.guarded(() => this.stepHeld(true));
      }, COMMIT_HOLD_MS);
      return;
    }
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    const held = this.held;
    this.held = [];
    for (const m of held) this.core.step(m.from, m.bytes);
    this.pump();
  }

  start(): void {
    invariant(this.timer === null && !this.stopped, 'start once');
    this.timer = setInterval(() => {
      this.guarded(() => {
        this.core.tick();
        this.pump();
      });
    }, this.options.tickMs);
  }

  /** Stops ticking and handling messages; a hand-off under way finishes on its own. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = null;
  }

  /**
   * Proposes on the leader; returns the slot or null (not leader, window full, or stopped).
   * @throws TypeError or RangeError for a value the core refuses (before any change). Any
   * other throw stops the replica through `onFatal`: from the core's propose it gives null,
   * from the hand-off after it the slot (the value was proposed).
   */
  propose(value: Uint8Array): number | null {
    if (this.stopped) return null;
    let slot: number | null = null;
    try {
      slot = this.core.propose(value);
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) throw error;
      this.fail(error);
      return null;
    }
    this.guarded(() => this.pump());
    return slot;
  }

  private pump(): void {
    if (this.busy && !this.stopped && this.applyBatches < APPLY_BATCHES_MAX && this.core.hasFlushable()) {
      // The disk is busy with the last ready()'s records: what does not wait for them
      // (sends, and commits a quorum of other replicas made) goes now.
      const r = this.core.flush();
      this.send(r.send);
      if (r.commit.length > 0) this.apply(r.commit);
    }
    while (!this.busy && !this.stopped && this.applyBatches < APPLY_BATCHES_MAX && this.core.hasReady()) {
      const r = this.core.ready();
      this.send(r.send);
      if (r.commit.length > 0) this.apply(r.commit);
      if (r.persist.length === 0) {
        this.core.advance();
        continue;
      }
      try {
        for (const record of r.persist) this.options.log.append(encodeRecord(record));
      } catch (error) {
        // A full disk or a failed mapping: nothing of this ready() was answered, so the
        // replica stops here (the node reports why) instead of throwing into the transport.
        this.fail(error);
        return;
      }
      this.busy = true;
      // A leader does not block on its own write: a quorum of followers may answer first,
      // and it must be free to count their votes (its own is just one of them). A follower
      // with nothing else to do saves two thread hand-offs with a small write on this thread
      // (unless the driver was told otherwise: followerPersistInline).
      const persisted = this.options.log.persist({ inline: !this.core.leading && this.options.followerPersistInline !== false });
      this.stepHeld(true);
      persisted.then(
        () => {
          this.busy = false;
          this.guarded(() => {
            this.core.advance();
            this.pump();
          });
        },
        (error: unknown) => this.fail(error),
      );
    }
  }

  private send(messages: ReadonlyArray<{ readonly to: number; readonly bytes: Uint8Array }>): void {
    const self = this.core.id;
    let sent = false;
    for (const o of messages) {
      // Nothing in `send` waits for this ready's records, so a message to itself is
      // stepped on the next microtask rather than after the disk.
      if (o.to === self) queueMicrotask(() => this.guarded(() => this.deliverToSelf(o.bytes)));
      else if (o.bytes[1] === MessageType.Commit) this.lazy.push(o);
      else {
        this.options.transport.send(o.to, o.bytes);
        sent = true;
      }
    }
    if (sent) this.sendLazy();
    else if (this.lazy.length > 0 && !this.lazyScheduled) {
      this.lazyScheduled = true;
      setImmediate(() => {
        this.lazyScheduled = false;
        this.guarded(() => this.sendLazy());
      });
    }
  }

  /**
   * Sends the COMMITs held back, with whatever `send` just staged, and hands it all to the
   * wire. A leader's COMMITs ride with its next other send, or go after this turn: nothing
   * waits for a follower's commit, and waking the I/O thread costs the main thread a
   * context switch on a loaded machine, which would sit between a commit and the answer
   * to its client. The hold is a network delay, which the core tolerates.
   */
  private sendLazy(): void {
    if (this.stopped) return;
    for (const o of this.lazy) this.options.transport.send(o.to, o.bytes);
    this.lazy = [];
    this.options.transport.flush?.();
  }

  private deliverToSelf(bytes: Uint8Array): void {
    this.core.step(this.core.id, bytes);
    this.pump();
  }

  /**
   * Commits are applied in order, off the consensus path: the core only waits for its own
   * records. Applying may lag by at most APPLY_BATCHES_MAX hand-offs; beyond that the
   * driver stops taking ready() until the learner catches up (back-pressure).
   */
  private apply(entries: readonly Committed[]): void {
    this.applyBatches++;
    for (const e of entries) this.applyPending.push(e);
    this.applyPendingBatches++;
    if (!this.applyRunning) this.applyNext();
  }

  /**
   * Gives the learner every commit handed over since its last call, in one call: commits
   * that piled up while it was storing the previous ones reach it together, so it can
   * store them as one group (node/validator.ts). One call at a time, in order.
   */
  private applyNext(): void {
    const entries = this.applyPending;
    const batches = this.applyPendingBatches;
    this.applyPending = [];
    this.applyPendingBatches = 0;
    this.applyRunning = true;
    const last = entries.length > 0 ? (entries[entries.length - 1] as Committed).slot : 0;
    this.options.learner.apply(entries).then(
      () => {
        this.applyRunning = false;
        this.applyBatches -= batches;
        this.guarded(() => {
          // Durable now: the acceptor may take new values in their place (Replica.applied).
          if (last > 0) this.core.applied(last);
          if (this.applyPending.length > 0) this.applyNext();
          this.pump();
        });
      },
      (error: unknown) => this.fail(error),
    );
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    this.stop();
    this.options.onFatal(error);
  }
}
