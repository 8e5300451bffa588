/**
 * World state as an ordered key-value map, and the write set that chains it.
 *
 * Keys are ASCII strings with a type prefix (see machine.ts); values are canonical bytes.
 * An absent key and a deleted key are the same thing. `Overlay` records writes on top of
 * any `StateReader` (the committed state, or another overlay: the leader's speculative
 * chain), and can be thrown away or folded into its base.
 *
 * state_hash(h) = SHA-256(version, kind STATE_LINK, state_hash(h-1), u64 h, SHA-256(write set h))
 * with state_hash(-1) = 32 zero bytes and height 0 the genesis write set.
 */
import { invariant } from './assert.js';
import { HASH_BYTES, Kind, STATE_KEY_BYTES_MAX, STATE_VALUE_BYTES_MAX, WRITE_SET_ENTRIES_MAX } from './constants.js';
import { Reader, Writer } from './encoding.js';
import { sha256 } from './hash.js';

export interface StateReader {
  get(key: string): Uint8Array | undefined;
}

/** One entry of a write set: a value, or null for a deletion. */
export interface Write {
  readonly key: string;
  readonly value: Uint8Array | null;
}

/** The state key prefix of committed transaction ids (machine.ts: `txid/<id hex>`). */
const TXID_PREFIX = 'txid/';
const TXID_KEY_LENGTH = TXID_PREFIX.length + 2 * HASH_BYTES;
const TXID_VALUE_BYTES = 8;

/** True for a `txid/` key with a 64-digit lowercase hex id (what machine.ts writes). */
function isTxIdKey(key: string): boolean {
  return key.length === TXID_KEY_LENGTH && key.startsWith(TXID_PREFIX) && /^[0-9a-f]{64}$/.test(key.slice(TXID_PREFIX.length));
}

/** The value of a lowercase hex digit's char code (the key was checked by isTxIdKey). */
function hexDigit(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

/**
 * The committed transaction ids of the expiry window (`txid/<hex>` -> u64 height), in one
 * open-addressing table of 40-byte slots (id, value) instead of a Map of 69-character
 * strings: about 65 bytes per id instead of about 190, and no object per id for the
 * garbage collector to trace. A million ids (a busy window) take ~65 MB rather than ~190.
 * Ids are SHA-256 outputs, so their first bytes are the hash. Linear probing with
 * tombstones; rebuilt at half load when live ids and tombstones pass three quarters.
 */
class TxIdTable {
  private static readonly SLOT = HASH_BYTES + TXID_VALUE_BYTES;
  private static readonly EMPTY = 0;
  private static readonly LIVE = 1;
  private static readonly DELETED = 2;
  private capacity = 0;
  private slots = new Uint8Array(0);
  private marks = new Uint8Array(0);
  private live = 0;
  private used = 0; // live + tombstones
  private readonly id = new Uint8Array(HASH_BYTES);

  get size(): number {
    return this.live;
  }

  get(key: string): Uint8Array | undefined {
    if (this.live === 0) return undefined;
    const at = this.find(key);
    if (at < 0) return undefined;
    const from = at * TxIdTable.SLOT + HASH_BYTES;
    return this.slots.slice(from, from + TXID_VALUE_BYTES);
  }

  set(key: string, value: Uint8Array): void {
    invariant(value.length === TXID_VALUE_BYTES, 'txid value is a u64');
    if (this.capacity === 0 || (this.used + 1) * 4 > this.capacity * 3) this.rebuild(Math.max(1024, (this.live + 1) * 2));
    const found = this.find(key);
    if (found >= 0) {
      this.slots.set(value, found * TxIdTable.SLOT + HASH_BYTES);
      return;
    }
    // find() left the id's bytes in this.id; take the first free or deleted slot.
    let at = this.home();
    while (this.marks[at] === TxIdTable.LIVE) at = at + 1 === this.capacity ? 0 : at + 1;
    if (this.marks[at] === TxIdTable.EMPTY) this.used++;
    this.marks[at] = TxIdTable.LIVE;
    this.slots.set(this.id, at * TxIdTable.SLOT);
    this.slots.set(value, at * TxIdTable.SLOT + HASH_BYTES);
    this.live++;
  }

  delete(key: string): void {
    if (this.live === 0) return;
    const at = this.find(key);
    if (at < 0) return;
    this.marks[at] = TxIdTable.DELETED;
    this.live--;
  }

  /** The slot holding the key's id, or -1; leaves the id's bytes in this.id. */
  private find(key: string): number {
    const id = this.id;
    for (let i = 0, c = TXID_PREFIX.length; i < HASH_BYTES; i++, c += 2) id[i] = (hexDigit(key.charCodeAt(c)) << 4) | hexDigit(key.charCodeAt(c + 1));
    let at = this.home();
    for (let probes = 0; probes < this.capacity; probes++) {
      const mark = this.marks[at];
      if (mark === TxIdTable.EMPTY) return -1;
      if (mark === TxIdTable.LIVE && this.sameId(at)) return at;
      at = at + 1 === this.capacity ? 0 : at + 1;
    }
    return -1;
  }

  private home(): number {
    const id = this.id;
    return (((id[0] as number) * 2 ** 24 + (id[1] as number) * 2 ** 16 + (id[2] as number) * 2 ** 8 + (id[3] as number)) % this.capacity);
  }

  private sameId(at: number): boolean {
    const slots = this.slots;
    const id = this.id;
    const from = at * TxIdTable.SLOT;
    for (let i = 0; i < HASH_BYTES; i++) if (slots[from + i] !== id[i]) return false;
    return true;
  }

  private rebuild(capacity: number): void {
    const { slots, marks, capacity: old } = this;
    this.capacity = capacity;
    this.slots = new Uint8Array(capacity * TxIdTable.SLOT);
    this.marks = new Uint8Array(capacity);
    this.used = this.live;
    for (let i = 0; i < old; i++) {
      if (marks[i] !== TxIdTable.LIVE) continue;
      this.id.set(slots.subarray(i * TxIdTable.SLOT, i * TxIdTable.SLOT + HASH_BYTES));
      let at = this.home();
      while (this.marks[at] !== TxIdTable.EMPTY) at = at + 1 === capacity ? 0 : at + 1;
      this.marks[at] = TxIdTable.LIVE;
      this.slots.set(slots.subarray(i * TxIdTable.SLOT, (i + 1) * TxIdTable.SLOT), at * TxIdTable.SLOT);
    }
  }
}

/** The committed state, in memory. */
export class MemoryState implements StateReader {
  private readonly map = new Map<string, Uint8Array>();
  private readonly txids = new TxIdTable();

  get(key: string): Uint8Array | undefined {
    if (key.length === TXID_KEY_LENGTH && isTxIdKey(key)) return this.txids.get(key);
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size + this.txids.size;
  }

  /** Applies a write set (deletions included). */
  apply(writes: readonly Write[]): void {
    for (const { key, value } of writes) {
      if (key.length === TXID_KEY_LENGTH && isTxIdKey(key)) {
        if (value === null) this.txids.delete(key);
        else this.txids.set(key, value);
        continue;
      }
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
  }
}

/** Writes on top of a base state; the base is never touched. */
export class Overlay implements StateReader {
  private readonly writes = new Map<string, Uint8Array | null>();
  private parent: StateReader;
  constructor(base: StateReader) {
    this.parent = base;
  }

  get base(): StateReader {
    return this.parent;
  }

  /**
   * Reads through `base` from now on. Only for a base that reads exactly as the old one:
   * the leader's speculative chain rebases the overlay of the next block onto the
   * committed state once the block below has been applied to it, so chains of overlays do
   * not grow (and stay in memory) for as long as the leader keeps proposing.
   */
  rebase(base: StateReader): void {
    this.parent = base;
  }

  get(key: string): Uint8Array | undefined {
    const own = this.writes.get(key);
    if (own !== undefined) return own === null ? undefined : own;
    return this.parent.get(key);
  }

  set(key: string, value: Uint8Array): void {
    if (key.length > STATE_KEY_BYTES_MAX) invariant(false, `state key too long: ${key.length}`);
    if (value.length > STATE_VALUE_BYTES_MAX) invariant(false, `state value too long: ${value.length}`);
    this.writes.set(key, value);
  }

  delete(key: string): void {
    this.writes.set(key, null);
  }

  get writeCount(): number {
    return this.writes.size;
  }

  /**
   * The canonical write set: sorted by key, and only entries that differ from the base
   * (a key set back to its old value, or deleted when absent, is no write at all).
   */
  writeSet(): Write[] {
    const out: Write[] = [];
    for (const [key, value] of this.writes) {
      const before = this.parent.get(key);
      if (value === null ? before === undefined : before !== undefined && Buffer.compare(before, value) === 0) continue;
      out.push({ key, value });
    }
    // Keys are ASCII, so the native string order is the byte order.
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Copies this overlay's writes into another overlay (used to fold a transaction in). */
  mergeInto(target: Overlay): void {
    for (const [key, value] of this.writes) {
      if (value === null) target.delete(key);
      else target.set(key, value);
    }
  }
}

/** Canonical encoding of a write set. */
export function encodeWriteSet(writes: readonly Write[]): Uint8Array {
  invariant(writes.length <= WRITE_SET_ENTRIES_MAX, 'write set too large');
  let size = 16;
  for (const x of writes) size += x.key.length + 9 + (x.value?.length ?? 0);
  const w = new Writer(size).envelope(Kind.WRITE_SET).u32(writes.length);
  let previous: string | null = null;
  for (const { key, value } of writes) {
    invariant(previous === null || previous < key, 'write set keys strictly ascending');
    previous = key;
    w.str(key, STATE_KEY_BYTES_MAX);
    if (value === null) w.bool(false);
    else w.bool(true).bytes(value, STATE_VALUE_BYTES_MAX);
  }
  return w.finish();
}

const ASCII_KEY_RE = /^[\x21-\x7e]{1,512}$/;

/** Decodes a write set (stored with each block in the index, and in test vectors). */
export function decodeWriteSet(bytes: Uint8Array): Write[] {
  const r = new Reader(bytes, 64 * 1024 * 1024, 'write_set');
  r.envelope(Kind.WRITE_SET);
  const n = r.count(WRITE_SET_ENTRIES_MAX, 6, 'entries');
  const out: Write[] = [];
  let previous: string | null = null;
  for (let i = 0; i < n; i++) {
    const key = r.str(STATE_KEY_BYTES_MAX, `entries[${i}].key`);
    if (!ASCII_KEY_RE.test(key)) r.fail('ENC_BAD_TEXT', `entries[${i}].key`, 'state keys are printable ASCII');
    if (previous !== null && previous >= key) r.fail('ENC_NON_CANONICAL', `entries[${i}].key`, 'keys must be strictly ascending');
    previous = key;
    const present = r.bool(`entries[${i}].present`);
    out.push({ key, value: present ? Uint8Array.from(r.bytesField(STATE_VALUE_BYTES_MAX, `entries[${i}].value`)) : null });
  }
  r.end();
  return out;
}

/** The next link of the state hash chain. */
export function chainStateHash(previous: Uint8Array, height: number, writeSetBytes: Uint8Array): Uint8Array {
  invariant(previous.length === HASH_BYTES, 'previous state hash is 32 bytes');
  return sha256(new Writer(96).envelope(Kind.STATE_LINK).fixed(previous, HASH_BYTES).u64(height).fixed(sha256(writeSetBytes), HASH_BYTES).finish());
}

export const ZERO_HASH = new Uint8Array(HASH_BYTES);
