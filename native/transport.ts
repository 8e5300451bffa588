/**
 * The validator transport (docs/native.md, "Transport"): authenticated, integrity-protected,
 * flow-controlled message passing between the validators of one genesis.
 *
 * Threads: everything here runs on the main thread; the native backend's I/O thread moves
 * bytes and hands events over in batches. `onMessages` is called with a batch; the bytes
 * it received are credited back to their sender when it returns (or when the promise it
 * returns settles), so a slow handler pushes back on senders instead of letting memory
 * grow (credit-based flow control).
 */
import { invariant } from '../ledger/assert.js';
import { existsSync, readdirSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { SteleError } from '../ledger/errors.js';
import { limitedLines } from '../ledger/log-limit.js';
import { addon, call } from './addon.js';
import { AcceptorHandshake, DialerHandshake, networkTag, type TransportSigner } from './wire.js';

export type { TransportSigner } from './wire.js';

/** The message size limit: the block size bound (16 MiB) plus 1 KiB of framing slack. */
export const MESSAGE_BYTES_MAX_DEFAULT = 16 * 1024 * 1024 + 1024;

export interface TransportValidator {
  readonly publicKey: Uint8Array;
  /** "host:port" (IPv4 or a resolvable name for dialing). */
  readonly address: string;
}

export interface TransportMessage {
  readonly from: number;
  /** A view into the batch's buffer; stays valid as long as it is referenced. */
  readonly bytes: Uint8Array;
}

export type TransportLogEvent =
  | { readonly kind: 'open'; readonly peer: number; readonly outbound: boolean }
  /** `opened`: whether the connection had passed its handshake (a failed dial or a half-finished handshake had not). */
  | { readonly kind: 'closed'; readonly peer: number; readonly outbound: boolean; readonly opened: boolean; readonly reason: string }
  | { readonly kind: 'refused'; readonly peer: number; readonly reason: string }
  /** A dial could not start: the peer's host name did not resolve to an IPv4 address (retried with backoff). */
  | { readonly kind: 'unresolved'; readonly peer: number; readonly reason: string };

export interface TransportOptions {
  /** This node's index in `validators`. */
  readonly self: number;
  readonly signer: TransportSigner;
  /** The genesis validator list, in genesis order. */
  readonly validators: readonly TransportValidator[];
  /**
   * 32 bytes naming the chain (the node gives its genesis hash): bound into the handshake's
   * network tag with the validator keys, so a peer with another genesis is refused at HELLO.
   */
  readonly chain?: Uint8Array;
  /** Listen address "host:port"; default: this validator's address. Port 0 picks a free port. */
  readonly listen?: string;
  /** 'tcp' (default), 'fabric', or 'auto' (fabric with verbs when an RDMA device exists, else tcp). */
  readonly backend?: 'tcp' | 'fabric' | 'auto';
  /** libfabric provider for the fabric backend: 'tcp' (default) or 'verbs'. */
  readonly provider?: 'tcp' | 'verbs';
  readonly messageBytesMax?: number;
  /** Per-peer receive window in bytes (credit); at least one largest message. Default 2 x messageBytesMax. */
  readonly windowBytes?: number;
  /** Per-peer bound on bytes queued for sending; `send` returns false beyond it. Default 64 MiB. */
  readonly sendQueueBytesMax?: number;
  /**
   * A peer with no open connection either way (peerUp false) for this long has its send
   * queue emptied, and what is sent to it later is dropped within a turn of the I/O thread,
   * until a connection opens (counted in `unreachableDropped`); `send` still returns true
   * for those, as for anything the network may lose. Default 2,000 ms.
   */
  readonly unreachableDropMs?: number;
  /**
   * tcp: largest hand-over of packed messages the main thread frames and writes to the
   * socket itself when nothing is queued ahead (docs/native.md, Threads); 0 sends
   * everything through the I/O thread. Default 64 KiB, or STELE_TRANSPORT_DIRECT_BYTES_MAX
   * when set (for side-by-side measurements of whole clusters).
   */
  readonly directBytesMax?: number;
  /**
   * May return a promise (or any thenable): the batch's credit waits for it to settle. A
   * handler that throws, or whose promise rejects, is a bug: its error becomes an uncaught
   * exception on the main thread, after the credit is released.
   */
  readonly onMessages: (batch: TransportMessage[]) => void | PromiseLike<void>;
  /** Connection events and refusals; default: refusals to stderr. */
  readonly onLog?: (event: TransportLogEvent) => void;
}

export interface TransportCounters {
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly messagesSent: number;
  readonly messagesDelivered: number;
  readonly framesRejected: number;
  readonly handshakesRefused: number;
  /** Inbound connections admitted whose closed event has not been handled here yet (bounded: docs/native.md). */
  readonly inboundUnsettled: number;
  readonly connectionsOpened: number;
  readonly connectFailures: number;
  readonly sendRefused: number;
  readonly eventsParked: number;
  /** DATA frames the main thread framed and wrote itself (small sends with nothing queued ahead; tcp only). */
  readonly directFrames: number;
  /** Turns of the I/O thread's loop that ended by its poll timeout (about 10 a second when idle), not by an event. */
  readonly loopTimeouts: number;
  /** Turns in which a connection's input was left for the next turn at its per-turn bound (tcp: 8 reads; fabric: 128 receive completions). */
  readonly receivesCut: number;
  /** Lookups of peers' host names started (one per dial of a peer whose address is not dotted IPv4), and those that failed. */
  readonly lookups: number;
  readonly lookupFailures: number;
  /** Queued messages dropped because their peer had no open connection for `unreachableDropMs`. */
  readonly unreachableDropped: number;
  readonly sendQueueBytes: number[];
  readonly sendCredit: number[];
  readonly receiveCredit: number[];
  /** Batches handed to onMessages whose credit has not been returned yet. */
  readonly batchesInFlight: number;
}

interface NativeTransport {
  readonly port: number;
  send(peer: number, bytes: Uint8Array): boolean;
  sendPacked(peer: number, packed: Uint8Array): boolean;
  queued(peer: number): number;
  injectFault(peer: number, kind: number): void;
  handshakeSend(conn: number, bytes: Uint8Array): void;
  authorize(conn: number, peer: number, keys: Uint8Array): void;
  reject(conn: number, reason: string): void;
  credit(conn: number, bytes: number): void;
  counters(): Omit<TransportCounters, 'batchesInFlight'>;
  close(): Promise<void>;
}

/** Default and upper bound of `directBytesMax` (the main thread tags what it writes, so keep it small). */
const DIRECT_BYTES_MAX_DEFAULT = 64 * 1024;
const DIRECT_BYTES_MAX_LIMIT = 1024 * 1024;
/** TransportOptions.unreachableDropMs: longer than a quick reconnect, shorter than a restart. */
const UNREACHABLE_DROP_MS_DEFAULT = 2000;
/** Messages below this size are packed in JavaScript and handed over once per turn. */
const STAGE_DIRECT_BYTES = 64 * 1024;
/** A peer's packed messages are handed over at once when they reach this size. */
const STAGE_FLUSH_BYTES = 256 * 1024;

const EVENT = { connected: 1, accepted: 2, handshake: 3, open: 4, closed: 5, messages: 6, lookupFailed: 7 } as const;

function parseAddress(address: string, what: string): { host: string; port: number } {
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 0 && port <= 65535)) throw new SteleError('TRANSPORT_CONFIG', `${what}: expected host:port, got ${JSON.stringify(address)}`);
  return { host: m[1] as string, port };
}

/** The options checked, with their defaults: everything the transport needs that takes no I/O. */
interface Settings {
  readonly backend: 'tcp' | 'fabric';
  readonly provider: 'tcp' | 'verbs' | null;
  readonly messageBytesMax: number;
  readonly windowBytes: number;
  readonly sendQueueBytesMax: number;
  readonly unreachableDropMs: number;
  readonly directBytesMax: number;
  readonly listen: { host: string; port: number };
  readonly peers: { host: string; port: number }[];
}

/** @throws SteleError TRANSPORT_CONFIG, TRANSPORT_BACKEND, NATIVE_MISSING */
function checkOptions(options: TransportOptions): Settings {
  const { self, validators } = options;
  if (!Number.isInteger(self) || self < 0 || self >= validators.length) throw new SteleError('TRANSPORT_CONFIG', `self index ${self} outside the ${validators.length} validators`);
  if (options.signer.publicKey.length !== 32 || !Buffer.from(options.signer.publicKey).equals(validators[self]!.publicKey)) {
    throw new SteleError('TRANSPORT_CONFIG', `the signer's key is not validator ${self}'s key`);
  }
  const wanted = options.backend ?? 'tcp';
  if (!['tcp', 'fabric', 'auto'].includes(wanted)) throw new SteleError('TRANSPORT_CONFIG', `unknown backend ${String(wanted)}`);
  if (options.provider !== undefined && !['tcp', 'verbs'].includes(options.provider)) throw new SteleError('TRANSPORT_CONFIG', `unknown provider ${String(options.provider)}`);
  if (options.chain !== undefined && !(options.chain instanceof Uint8Array && options.chain.length === 32)) throw new SteleError('TRANSPORT_CONFIG', 'chain must be 32 bytes');
  if (wanted === 'fabric' && !addon().fabric) {
    throw new SteleError('TRANSPORT_BACKEND', "the addon was built without libfabric (install libfabric-dev and rebuild); use 'tcp' or 'auto'");
  }
  const verbs = addon().fabric && rdmaDevicePresent();
  const backend = wanted === 'fabric' || (wanted === 'auto' && verbs) ? 'fabric' : 'tcp';
  const provider = backend === 'fabric' ? (options.provider ?? (wanted === 'auto' ? 'verbs' : 'tcp')) : null;
  const messageBytesMax = options.messageBytesMax ?? MESSAGE_BYTES_MAX_DEFAULT;
  const windowBytes = options.windowBytes ?? 2 * messageBytesMax;
  const sendQueueBytesMax = options.sendQueueBytesMax ?? 64 * 1024 * 1024;
  const unreachableDropMs = options.unreachableDropMs ?? UNREACHABLE_DROP_MS_DEFAULT;
  for (const [name, v] of [['messageBytesMax', messageBytesMax], ['windowBytes', windowBytes], ['sendQueueBytesMax', sendQueueBytesMax], ['unreachableDropMs', unreachableDropMs]] as const) {
    if (!Number.isSafeInteger(v) || v < 1 || v > 2 ** 31) throw new SteleError('TRANSPORT_CONFIG', `${name} must be an integer in [1, 2^31]`);
  }
  const fromEnv = process.env.STELE_TRANSPORT_DIRECT_BYTES_MAX;
  const directBytesMax = options.directBytesMax ?? (fromEnv === undefined || fromEnv === '' ? DIRECT_BYTES_MAX_DEFAULT : Number(fromEnv));
  if (!Number.isSafeInteger(directBytesMax) || directBytesMax < 0 || directBytesMax > DIRECT_BYTES_MAX_LIMIT) {
    throw new SteleError('TRANSPORT_CONFIG', `directBytesMax (or STELE_TRANSPORT_DIRECT_BYTES_MAX) must be an integer in [0, ${DIRECT_BYTES_MAX_LIMIT}]`);
  }
  const listen = parseAddress(options.listen ?? validators[self]!.address, 'listen');
  const peers = validators.map((v, i) => parseAddress(v.address, `validator ${i} address`));
  return { backend, provider, messageBytesMax, windowBytes, sendQueueBytesMax, unreachableDropMs, directBytesMax, listen, peers };
}

/**
 * The IPv4 address to listen on for `host`. The addon takes dotted IPv4 only (inet_pton),
 * while the address grammar (genesis, node/config.ts, docs/operations.md) takes a host
 * name too, which before 2026-12-01 passed those checks and then failed at start. Peer
 * addresses need no such step: each dial looks a peer's host name up again, on a thread of
 * its own (native/src/transport.cc, Lookups), so a slow name server stalls only that dial.
 * @throws SteleError TRANSPORT_CONFIG (the name has no IPv4 address), TRANSPORT_IO (the lookup itself failed)
 * @example await resolveListenHost('localhost') // '127.0.0.1'
 */
async function resolveListenHost(host: string): Promise<string> {
  if (isIPv4(host)) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    const absent = code === 'ENOTFOUND' || code === 'ENODATA';
    throw new SteleError(absent ? 'TRANSPORT_CONFIG' : 'TRANSPORT_IO', `listen: host ${JSON.stringify(host)} does not resolve to an IPv4 address (${code})`);
  }
}

/**
 * The log of a transport opened without `onLog`: refusals and failed lookups to stderr, at
 * most 10 lines a minute each (anyone who can reach the peer port can cause refusals).
 */
function makeDefaultLog(): (event: TransportLogEvent) => void {
  const refusal = limitedLines((line) => process.stderr.write(line), 'stele transport: refusals');
  const lookup = limitedLines((line) => process.stderr.write(line), 'stele transport: failed lookups');
  return (event) => {
    if (event.kind === 'refused') refusal(`stele transport: refused ${event.peer >= 0 ? `validator ${event.peer}` : 'a connection'}: ${event.reason}\n`);
    else if (event.kind === 'unresolved') lookup(`stele transport: validator ${event.peer}'s address did not resolve: ${event.reason}\n`);
  };
}

/**
 * @example
 * const t = await Transport.open({ self: 0, signer, validators, onMessages: (b) => handle(b) });
 * t.send(1, bytes);
 * await t.close();
 */
/** True when this machine has an RDMA device (InfiniBand or RoCE) for the verbs provider. */
export function rdmaDevicePresent(): boolean {
  try {
    return existsSync('/sys/class/infiniband') && readdirSync('/sys/class/infiniband').length > 0;
  } catch {
    return false;
  }
}

export class Transport {
  readonly backend: 'tcp' | 'fabric';
  readonly provider: 'tcp' | 'verbs' | null;
  private readonly native: NativeTransport;
  private readonly handshakes = new Map<number, DialerHandshake | AcceptorHandshake>();
  private readonly network: Uint8Array;
  private readonly log: (event: TransportLogEvent) => void;
  private batchesInFlight = 0;
  /** Credit of consumed batches not yet returned, per connection (returnCredit). */
  private readonly creditDue = new Map<number, number>();
  /** Connections past their handshake, and the validator at the other end (peerUp). */
  private readonly opened = new Map<number, number>();
  /** Per peer: open outbound connections that closed (linkEpoch). */
  private readonly outboundCloses: number[];
  /** Consumed bytes a connection's credit waits for before it goes back (returnCredit). */
  private readonly creditReturnBytes: number;
  private creditScheduled = false;
  private closed = false;
  private readonly messageBytesMax: number;
  private readonly sendQueueBytesMax: number;
  /** Per peer: messages packed as [u32 length][bytes] and not yet handed to the native queue. */
  private readonly staged: { buffer: Buffer; used: number }[];
  /** Per peer: an upper bound of the native queue's bytes (the I/O thread only drains it). */
  private readonly queuedKnown: number[];
  private flushScheduled = false;
  private refusedHere = 0;

  private constructor(
    private readonly options: TransportOptions,
    settings: Settings,
    listenHost: string,
  ) {
    const { self, validators } = options;
    const { messageBytesMax, windowBytes, sendQueueBytesMax, unreachableDropMs, directBytesMax, listen, peers } = settings;
    this.backend = settings.backend;
    this.provider = settings.provider;
    this.messageBytesMax = messageBytesMax;
    this.sendQueueBytesMax = sendQueueBytesMax;
    // A quarter of the window, but never so much that the rest could not carry one message
    // of the largest size (its body: a u32 length and the bytes).
    this.creditReturnBytes = Math.max(0, Math.min(Math.floor(windowBytes / 4), windowBytes - (messageBytesMax + 4)));
    this.staged = validators.map(() => ({ buffer: Buffer.alloc(0), used: 0 }));
    this.queuedKnown = validators.map(() => 0);
    this.outboundCloses = validators.map(() => 0);
    this.network = networkTag(validators.map((v) => v.publicKey), options.chain);
    this.log = options.onLog ?? makeDefaultLog();
    // The addon's exports are untyped at the boundary; this is the constructor's shape (native/src/transport.cc).
    const { Transport: Native } = addon() as unknown as { Transport: new (o: object, f: (...a: never[]) => void) => NativeTransport };
    this.native = call(
      () =>
        new Native(
          {
            self,
            listenHost,
            listenPort: listen.port,
            peers,
            messageBytesMax,
            windowBytes,
            sendQueueBytesMax,
            unreachableDropMs,
            directBytesMax,
            backend: this.backend,
            provider: this.provider ?? 'tcp',
          },
          this.onEvent.bind(this) as (...a: never[]) => void,
        ),
    );
  }

  /**
   * Checks the options, resolves the listen host (a name becomes its IPv4 address), then
   * starts listening and dialing.
   * @throws SteleError TRANSPORT_CONFIG, TRANSPORT_BACKEND, TRANSPORT_IO, NATIVE_MISSING
   */
  static async open(options: TransportOptions): Promise<Transport> {
    const settings = checkOptions(options);
    const listenHost = await resolveListenHost(settings.listen.host);
    return new Transport(options, settings, listenHost);
  }

  /** The TCP port listened on (useful with port 0). */
  get port(): number {
    return this.native.port;
  }

  /**
   * Queues `bytes` (copied) for validator `peer`. False when that peer's send queue is
   * full: the message is dropped, as the network may drop it.
   * @throws SteleError TRANSPORT_UNKNOWN_PEER, TRANSPORT_TOO_LARGE, TRANSPORT_CLOSED
   */
  send(peer: number, bytes: Uint8Array): boolean {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    if (this.closed) throw new SteleError('TRANSPORT_CLOSED', 'the transport is closed');
    if (!Number.isInteger(peer) || peer < 0 || peer >= this.staged.length || peer === this.options.self) {
      throw new SteleError('TRANSPORT_UNKNOWN_PEER', `no peer ${String(peer)}`);
    }
    if (bytes.length > this.messageBytesMax) {
      throw new SteleError('TRANSPORT_TOO_LARGE', `message of ${bytes.length} bytes exceeds ${this.messageBytesMax}`);
    }
    const stage = this.staged[peer] as { buffer: Buffer; used: number };
    const need = 4 + bytes.length;
    if (stage.used + this.queuedKnown[peer]! + need > this.sendQueueBytesMax) {
      this.queuedKnown[peer] = this.native.queued(peer);
      if (stage.used + this.queuedKnown[peer]! + need > this.sendQueueBytesMax) {
        this.refusedHere++;
        return false;
      }
    }
    if (bytes.length >= STAGE_DIRECT_BYTES) {
      this.flushPeer(peer); // keep the order
      const accepted = call(() => this.native.send(peer, bytes));
      invariant(accepted, 'the native queue accepts what fits the known bound');
      this.queuedKnown[peer]! += need;
      return true;
    }
    if (stage.used + need > stage.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * stage.buffer.length, stage.used + need, 64 * 1024));
      stage.buffer.copy(grown, 0, 0, stage.used);
      stage.buffer = grown;
    }
    stage.buffer.writeUInt32LE(bytes.length, stage.used);
    stage.buffer.set(bytes, stage.used + 4);
    stage.used += need;
    if (stage.used >= STAGE_FLUSH_BYTES) this.flushPeer(peer);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushAll());
    }
    return true;
  }

  private flushPeer(peer: number): void {
    const stage = this.staged[peer] as { buffer: Buffer; used: number };
    if (stage.used === 0 || this.closed) return;
    const accepted = call(() => this.native.sendPacked(peer, stage.buffer.subarray(0, stage.used)));
    invariant(accepted, 'the native queue accepts what fits the known bound');
    this.queuedKnown[peer]! += stage.used;
    stage.used = 0;
  }

  private flushAll(): void {
    this.flushScheduled = false;
    this.flush();
  }

  /** Hands every staged message to the I/O thread now instead of at the end of this turn. */
  flush(): void {
    for (let p = 0; p < this.staged.length; p++) this.flushPeer(p);
  }

  /**
   * Tests only: damages the next DATA frame sent to `peer` as an attacker on the path
   * would ('flip' a body bit, 'replay' the frame, 'tag' flip a tag bit), so that the
   * receiver's checks can be exercised on every backend.
   */
  injectFault(peer: number, kind: 'flip' | 'replay' | 'tag'): void {
    this.flushPeer(peer);
    call(() => this.native.injectFault(peer, { flip: 1, replay: 2, tag: 3 }[kind]));
  }

  counters(): TransportCounters {
    const native = this.native.counters();
    return { ...native, sendRefused: native.sendRefused + this.refusedHere, batchesInFlight: this.batchesInFlight };
  }

  /**
   * Closes every connection and joins the I/O thread. No closed event is handled after
   * this, so the tables of open connections and of credit due are emptied here: peerUp is
   * then false for every peer (found in review, 2026-12-01: it stayed true for the peers
   * connected at close).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handshakes.clear();
    this.opened.clear();
    this.creditDue.clear();
    await this.native.close();
  }

  /**
   * Whether a connection to or from `peer` has passed its handshake and is open now. Only
   * such connections count: a failed redial or a stranger's half-finished handshake naming
   * the peer closes a connection that never opened, which must not mark a connected peer
   * down (found in review, 2026-11-30: node/run.ts counted every close).
   */
  peerUp(peer: number): boolean {
    for (const p of this.opened.values()) if (p === peer) return true;
    return false;
  }

  /**
   * How many open outbound connections to `peer` (those that carry what is sent to it) have
   * closed so far: what was on its way on one may have been lost (Transport.linkEpoch of
   * consensus/driver.ts).
   */
  linkEpoch(peer: number): number {
    return this.outboundCloses[peer] ?? 0;
  }

  private refuse(conn: number, peer: number, reason: string): void {
    this.handshakes.delete(conn);
    this.native.reject(conn, reason);
    this.log({ kind: 'refused', peer, reason });
  }

  private onEvent(kind: number, conn: number, peer: number, outbound: boolean, payload: unknown, meta: unknown): void {
    if (this.closed) return;
    const { validators, signer, self } = this.options;
    switch (kind) {
      case EVENT.connected: {
        const dial = new DialerHandshake(signer, self, peer, this.network, validators[peer]!.publicKey);
        this.handshakes.set(conn, dial);
        this.native.handshakeSend(conn, dial.hello);
        return;
      }
      case EVENT.accepted:
        this.handshakes.set(conn, new AcceptorHandshake(signer, self, this.network, validators.map((v) => v.publicKey)));
        return;
      case EVENT.handshake:
        this.onHandshake(conn, payload as Uint8Array);
        return;
      case EVENT.open:
        this.opened.set(conn, peer);
        this.log({ kind: 'open', peer, outbound });
        return;
      case EVENT.closed: {
        this.creditDue.delete(conn); // a new connection starts with a whole window
        const pending = this.handshakes.get(conn);
        this.handshakes.delete(conn);
        const who = pending instanceof AcceptorHandshake ? pending.from : peer;
        const wasOpen = this.opened.delete(conn);
        if (wasOpen && outbound && peer >= 0 && peer < this.outboundCloses.length) this.outboundCloses[peer]!++;
        this.log({ kind: 'closed', peer: who, outbound, opened: wasOpen, reason: String(payload ?? '') });
        return;
      }
      case EVENT.messages:
        this.onBatch(payload as ArrayBuffer, meta as Uint32Array);
        return;
      case EVENT.lookupFailed:
        this.log({ kind: 'unresolved', peer, reason: String(payload ?? '') });
        return;
    }
  }

  private onHandshake(conn: number, bytes: Uint8Array): void {
    const hs = this.handshakes.get(conn);
    if (hs === undefined) return this.refuse(conn, -1, 'handshake message on an unknown connection');
    if (hs instanceof DialerHandshake) {
      const result = hs.answer(bytes);
      if (typeof result === 'string') return this.refuse(conn, hs.to, result);
      this.handshakes.delete(conn);
      this.native.handshakeSend(conn, result.proof);
      this.native.authorize(conn, hs.to, result.keys);
      return;
    }
    if (hs.from < 0) {
      // The CHALLENGE costs a key pair and a signature: answer on the next turn, after the
      // events already queued, so a connection that sent its HELLO and closed (its closed
      // event is in the same drain) costs neither.
      setImmediate(() => {
        if (this.closed || this.handshakes.get(conn) !== hs) return;
        const challenge = hs.greet(bytes);
        if (typeof challenge === 'string') return this.refuse(conn, hs.from, challenge);
        this.native.handshakeSend(conn, challenge);
      });
      return;
    }
    const keys = hs.finish(bytes);
    if (typeof keys === 'string') return this.refuse(conn, hs.from, keys);
    this.handshakes.delete(conn);
    this.native.authorize(conn, hs.from, keys);
  }

  /**
   * Hands consumed credit back to the I/O thread, one command per connection, once a
   * connection's consumed bytes reach `creditReturnBytes` (a quarter of the window), in the
   * turn after the one that consumed them. Batches consumed in one turn (a busy validator
   * gets several) cost one wake-up of the I/O thread and one CREDIT frame per connection;
   * light traffic (a few small consensus messages per block) costs none: a CREDIT frame per
   * batch doubled the frames, thread wake-ups and system calls of every small message. What
   * is held back is less than a quarter window, so the sender always keeps room for a
   * message of the largest size once the receiver has consumed what it delivered.
   */
  private returnCredit(): void {
    this.creditScheduled = false;
    if (this.closed) return;
    for (const [conn, bytes] of this.creditDue) {
      if (bytes < this.creditReturnBytes) continue;
      this.native.credit(conn, bytes);
      this.creditDue.delete(conn);
    }
  }

  private onBatch(arena: ArrayBuffer, meta: Uint32Array): void {
    const batch: TransportMessage[] = [];
    const credit = new Map<number, number>();
    for (let i = 0; i + 3 < meta.length; i += 4) {
      const conn = meta[i + 1] as number;
      const length = meta[i + 3] as number;
      batch.push({ from: meta[i] as number, bytes: new Uint8Array(arena, meta[i + 2] as number, length) });
      credit.set(conn, (credit.get(conn) ?? 0) + length + 4);
    }
    const giveBack = () => {
      this.batchesInFlight--;
      if (this.closed) return;
      let due = false;
      for (const [conn, bytes] of credit) {
        // A connection closed meanwhile (its closed event came while an asynchronous handler
        // ran) needs no credit back: an entry for it would never be returned nor deleted.
        if (!this.opened.has(conn)) continue;
        const total = (this.creditDue.get(conn) ?? 0) + bytes;
        this.creditDue.set(conn, total);
        if (total >= this.creditReturnBytes) due = true;
      }
      if (due && !this.creditScheduled) {
        this.creditScheduled = true;
        setImmediate(() => this.returnCredit());
      }
    };
    this.batchesInFlight++;
    let result: void | PromiseLike<void>;
    try {
      result = this.options.onMessages(batch);
    } catch (error) {
      giveBack();
      throw error;
    }
    // Any thenable, not only a native Promise (whose credit went back at once before), and
    // a rejection is rethrown on a fresh tick as an uncaught exception, as a throw is (it
    // was swallowed before; review, 2026-12-01). Promise.resolve adopts the thenable, so
    // a `then` that throws or calls back twice releases the credit once.
    if (typeof (result as { then?: unknown } | undefined)?.then === 'function') {
      Promise.resolve(result).then(giveBack, (error: unknown) => {
        giveBack();
        process.nextTick(() => {
          throw error;
        });
      });
    } else {
      giveBack();
    }
  }
}
