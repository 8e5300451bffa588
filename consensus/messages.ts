/**
 * Consensus messages and durable records, their encoding and their validation.
 *
 * Every message from a peer goes through `decodeMessage`, which checks bounds, ballots and
 * indices against the cluster size; anything else is a `CodecError` and the core drops it.
 * The sender's index is not in the message: the transport authenticates it.
 */
import { CodecError, Decoder, Encoder } from './codec.js';
import { copyBytes } from '../ledger/assert.js';

export const WIRE_VERSION = 1;
export const DIGEST_BYTES = 32;
export const SIGNATURE_BYTES_MAX = 128;
export const REPLICAS_MAX = 7;
export const ROUND_MAX = 0xffff_ffff;
export const SLOT_MAX = Number.MAX_SAFE_INTEGER;
/** Entries in one promise chunk or catch-up reply. */
export const ENTRIES_PER_MESSAGE_MAX = 256;

/** A ballot: (round, leader index), ordered by round then leader. */
export interface Ballot {
  readonly round: number;
  readonly leader: number;
}
export const BALLOT_ZERO: Ballot = { round: 0, leader: 0 };

/** -1, 0 or 1. */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  if (a.leader !== b.leader) return a.leader < b.leader ? -1 : 1;
  return 0;
}

export function ballotText(b: Ballot): string {
  return `${b.round}.${b.leader}`;
}

export interface Vote {
  readonly validator: number;
  readonly signature: Uint8Array;
}

/** An accepted entry as reported in a promise. */
export interface PromiseEntry {
  readonly slot: number;
  readonly ballot: Ballot;
  readonly prevDigest: Uint8Array;
  readonly value: Uint8Array;
}

/** A committed value with its quorum certificate. */
export interface CertifiedEntry {
  readonly slot: number;
  readonly value: Uint8Array;
  readonly certificate: readonly Vote[];
}

export const enum MessageType {
  Prepare = 1,
  Promise = 2,
  Accept = 3,
  Accepted = 4,
  Nack = 5,
  Commit = 6,
  Heartbeat = 7,
  HeartbeatAck = 8,
  CatchupRequest = 9,
  CatchupReply = 10,
}

export type Message =
  | { readonly type: MessageType.Prepare; readonly ballot: Ballot; readonly fromSlot: number }
  | {
      readonly type: MessageType.Promise;
      readonly ballot: Ballot;
      readonly fromSlot: number;
      readonly commitIndex: number;
      /** This chunk covers slots first..last (inclusive); the whole promise covers fromSlot..lastSlot. */
      readonly first: number;
      readonly last: number;
      readonly lastSlot: number;
      readonly entries: readonly PromiseEntry[];
    }
  | {
      readonly type: MessageType.Accept;
      readonly ballot: Ballot;
      readonly slot: number;
      readonly leaderCommit: number;
      readonly prevDigest: Uint8Array;
      readonly value: Uint8Array;
    }
  | { readonly type: MessageType.Accepted; readonly ballot: Ballot; readonly slot: number; readonly digest: Uint8Array; readonly signature: Uint8Array }
  | { readonly type: MessageType.Nack; readonly ballot: Ballot; readonly promised: Ballot }
  | { readonly type: MessageType.Commit; readonly ballot: Ballot; readonly slot: number; readonly digest: Uint8Array; readonly certificate: readonly Vote[] }
  | { readonly type: MessageType.Heartbeat; readonly ballot: Ballot; readonly commitIndex: number }
  | { readonly type: MessageType.HeartbeatAck; readonly ballot: Ballot; readonly promised: Ballot; readonly commitIndex: number }
  | { readonly type: MessageType.CatchupRequest; readonly fromSlot: number; readonly countMax: number }
  | { readonly type: MessageType.CatchupReply; readonly entries: readonly CertifiedEntry[] };

/** Limits the decoder enforces, from the cluster configuration. */
export interface WireLimits {
  readonly replicas: number;
  readonly valueBytesMax: number;
}

function putBallot(e: Encoder, b: Ballot): Encoder {
  return e.u32(b.round).u16(b.leader);
}

function putVotes(e: Encoder, votes: readonly Vote[]): Encoder {
  e.u32(votes.length);
  for (const v of votes) e.u16(v.validator).bytes(v.signature);
  return e;
}

export function encodeMessage(m: Message): Uint8Array {
  const e = Encoder.shared().u8(WIRE_VERSION).u8(m.type);
  switch (m.type) {
    case MessageType.Prepare:
      return putBallot(e, m.ballot).u64(m.fromSlot).finish();
    case MessageType.Promise:
      putBallot(e, m.ballot).u64(m.fromSlot).u64(m.commitIndex).u64(m.first).u64(m.last).u64(m.lastSlot).u32(m.entries.length);
      for (const x of m.entries) putBallot(e.u64(x.slot), x.ballot).fixed(x.prevDigest).bytes(x.value);
      return e.finish();
    case MessageType.Accept:
      return putBallot(e, m.ballot).u64(m.slot).u64(m.leaderCommit).fixed(m.prevDigest).bytes(m.value).finish();
    case MessageType.Accepted:
      return putBallot(e, m.ballot).u64(m.slot).fixed(m.digest).bytes(m.signature).finish();
    case MessageType.Nack:
      return putBallot(putBallot(e, m.ballot), m.promised).finish();
    case MessageType.Commit:
      return putVotes(putBallot(e, m.ballot).u64(m.slot).fixed(m.digest), m.certificate).finish();
    case MessageType.Heartbeat:
      return putBallot(e, m.ballot).u64(m.commitIndex).finish();
    case MessageType.HeartbeatAck:
      return putBallot(putBallot(e, m.ballot), m.promised).u64(m.commitIndex).finish();
    case MessageType.CatchupRequest:
      return e.u64(m.fromSlot).u32(m.countMax).finish();
    case MessageType.CatchupReply:
      e.u32(m.entries.length);
      for (const x of m.entries) putVotes(e.u64(x.slot).bytes(x.value), x.certificate);
      return e.finish();
  }
}

class MessageDecoder extends Decoder {
  constructor(
    bytes: Uint8Array,
    private readonly limits: WireLimits,
  ) {
    super(bytes);
  }
  ballot(field: string): Ballot {
    const round = this.u32(`${field}.round`);
    const leader = this.u16(`${field}.leader`);
    if (leader >= this.limits.replicas) throw new CodecError(`${field}.leader`, `index ${leader} of ${this.limits.replicas} replicas`);
    return { round, leader };
  }
  slot(field: string, allowZero = false): number {
    const slot = this.u64(SLOT_MAX, field);
    if (slot === 0 && !allowZero) throw new CodecError(field, 'slots start at 1');
    return slot;
  }
  digest(field: string): Uint8Array {
    return Uint8Array.from(this.fixed(DIGEST_BYTES, field));
  }
  value(field: string): Uint8Array {
    return copyBytes(this.bytes(this.limits.valueBytesMax, field));
  }
  votes(field: string): Vote[] {
    const n = this.count(this.limits.replicas, 6, field);
    const votes: Vote[] = [];
    for (let i = 0; i < n; i++) {
      const validator = this.u16(`${field}[${i}].validator`);
      if (validator >= this.limits.replicas) throw new CodecError(`${field}[${i}].validator`, `index ${validator} of ${this.limits.replicas}`);
      const signature = Uint8Array.from(this.bytes(SIGNATURE_BYTES_MAX, `${field}[${i}].signature`));
      if (votes.some((v) => v.validator === validator)) throw new CodecError(`${field}[${i}].validator`, 'duplicate vote');
      votes.push({ validator, signature });
    }
    return votes;
  }
}

/** Decodes and validates one message. @throws CodecError */
export function decodeMessage(bytes: Uint8Array, limits: WireLimits): Message {
  if (bytes.length > limits.valueBytesMax * 2 + 1024 * 1024) throw new CodecError('message', `${bytes.length} bytes is too large`);
  const d = new MessageDecoder(bytes, limits);
  const version = d.u8('version');
  if (version !== WIRE_VERSION) throw new CodecError('version', `unknown version ${version}`);
  const type = d.u8('type');
  let m: Message;
  switch (type) {
    case MessageType.Prepare:
      m = { type, ballot: d.ballot('ballot'), fromSlot: d.slot('fromSlot') };
      break;
    case MessageType.Promise: {
      const ballot = d.ballot('ballot');
      const fromSlot = d.slot('fromSlot');
      const commitIndex = d.slot('commitIndex', true);
      const first = d.slot('first');
      const last = d.slot('last', true);
      const lastSlot = d.slot('lastSlot', true);
      if (first < fromSlot || last < first - 1 || last > lastSlot) throw new CodecError('first', 'chunk range outside the promise');
      const n = d.count(ENTRIES_PER_MESSAGE_MAX, 50, 'entries');
      const entries: PromiseEntry[] = [];
      for (let i = 0; i < n; i++) {
        const slot = d.slot(`entries[${i}].slot`);
        if (slot < first || slot > last || (i > 0 && slot <= (entries[i - 1] as PromiseEntry).slot)) {
          throw new CodecError(`entries[${i}].slot`, 'outside the chunk or not ascending');
        }
        entries.push({ slot, ballot: d.ballot(`entries[${i}].ballot`), prevDigest: d.digest(`entries[${i}].prevDigest`), value: d.value(`entries[${i}].value`) });
      }
      m = { type, ballot, fromSlot, commitIndex, first, last, lastSlot, entries };
      break;
    }
    case MessageType.Accept: {
      const ballot = d.ballot('ballot');
      const slot = d.slot('slot');
      const leaderCommit = d.slot('leaderCommit', true);
      // A leader proposes only above its commit index; an ACCEPT that says its own slot is
      // committed would let the no-gap rule take its word for the slots below (review of 2026-11-30).
      if (leaderCommit >= slot) throw new CodecError('leaderCommit', `${leaderCommit} is not below slot ${slot}`);
      m = { type, ballot, slot, leaderCommit, prevDigest: d.digest('prevDigest'), value: d.value('value') };
      break;
    }
    case MessageType.Accepted:
      m = { type, ballot: d.ballot('ballot'), slot: d.slot('slot'), digest: d.digest('digest'), signature: Uint8Array.from(d.bytes(SIGNATURE_BYTES_MAX, 'signature')) };
      break;
    case MessageType.Nack:
      m = { type, ballot: d.ballot('ballot'), promised: d.ballot('promised') };
      break;
    case MessageType.Commit:
      m = { type, ballot: d.ballot('ballot'), slot: d.slot('slot'), digest: d.digest('digest'), certificate: d.votes('certificate') };
      break;
    case MessageType.Heartbeat:
      m = { type, ballot: d.ballot('ballot'), commitIndex: d.slot('commitIndex', true) };
      break;
    case MessageType.HeartbeatAck:
      m = { type, ballot: d.ballot('ballot'), promised: d.ballot('promised'), commitIndex: d.slot('commitIndex', true) };
      break;
    case MessageType.CatchupRequest: {
      const fromSlot = d.slot('fromSlot');
      const countMax = d.u32('countMax');
      if (countMax < 1 || countMax > ENTRIES_PER_MESSAGE_MAX) throw new CodecError('countMax', `must be 1..${ENTRIES_PER_MESSAGE_MAX}`);
      m = { type, fromSlot, countMax };
      break;
    }
    case MessageType.CatchupReply: {
      const n = d.count(ENTRIES_PER_MESSAGE_MAX, 16, 'entries');
      const entries: CertifiedEntry[] = [];
      for (let i = 0; i < n; i++) {
        const slot = d.slot(`entries[${i}].slot`);
        if (i > 0 && slot !== (entries[i - 1] as CertifiedEntry).slot + 1) throw new CodecError(`entries[${i}].slot`, 'slots must be consecutive');
        entries.push({ slot, value: d.value(`entries[${i}].value`), certificate: d.votes(`entries[${i}].certificate`) });
      }
      m = { type, entries };
      break;
    }
    default:
      throw new CodecError('type', `unknown message type ${type}`);
  }
  d.end();
  return m;
}

/** Durable acceptor records, appended by the driver before replies are released. */
export type DurableRecord =
  | { readonly kind: 'promise'; readonly ballot: Ballot }
  | { readonly kind: 'accept'; readonly slot: number; readonly ballot: Ballot; readonly prevDigest: Uint8Array; readonly value: Uint8Array };

/**
 * An accept record's bytes besides its value: version and kind (1 each), slot (8), ballot
 * (6), the previous digest (32) and the value's length (4). The acceptor log must take
 * records of the largest value plus this.
 */
export const ACCEPT_RECORD_OVERHEAD_BYTES = 1 + 1 + 8 + 6 + 32 + 4;

export function encodeRecord(r: DurableRecord): Uint8Array {
  const e = Encoder.shared().u8(WIRE_VERSION);
  if (r.kind === 'promise') return putBallot(e.u8(1), r.ballot).finish();
  return putBallot(e.u8(2).u64(r.slot), r.ballot).fixed(r.prevDigest).bytes(r.value).finish();
}

/** @throws CodecError for bytes that are not one whole record. */
export function decodeRecord(bytes: Uint8Array, limits: WireLimits): DurableRecord {
  const d = new MessageDecoder(bytes, limits);
  if (d.u8('version') !== WIRE_VERSION) throw new CodecError('version', 'unknown record version');
  const kind = d.u8('kind');
  let r: DurableRecord;
  if (kind === 1) r = { kind: 'promise', ballot: d.ballot('ballot') };
  else if (kind === 2) r = { kind: 'accept', slot: d.slot('slot'), ballot: d.ballot('ballot'), prevDigest: d.digest('prevDigest'), value: d.value('value') };
  else throw new CodecError('kind', `unknown record kind ${kind}`);
  d.end();
  return r;
}
