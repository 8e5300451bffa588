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
import { CommittedIds, TXAT_KEY_LENGTH, TXID_KEY_LENGTH, txatKeyHeight } from './committed-ids.js';

export interface StateReader {
  get(key: string): Uint8Array | undefined;
}

/** One entry of a write set: a value, or null for a deletion. */
export interface Write {
  readonly key: string;
  readonly value: Uint8Array | null;
}

/** The committed state, in memory. */
export class MemoryState implements StateReader {
  private readonly map = new Map<string, Uint8Array>();
  /** Replay protection's ids (committed-ids.ts); null once a write set did not fit its shape. */
  private ids: CommittedIds | null = new CommittedIds();
  /** `txid/` keys of machine.ts's shape (CommittedIds.loadKey) in `map` while `ids` is in use: when none, a miss skips the map. */
  private txidsInMap = 0;

  get(key: string): Uint8Array | undefined {
    const ids = this.ids;
    if (ids !== null) {
      if (key.length === TXID_KEY_LENGTH && ids.loadKey(key)) return ids.getLoaded() ?? (this.txidsInMap > 0 ? this.map.get(key) : undefined);
      if (key.length === TXAT_KEY_LENGTH) {
        const height = txatKeyHeight(key);
        if (height !== null) return ids.getTxat(height);
      }
    }
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size + (this.ids?.size ?? 0);
  }

  /** Whether replay protection's ids are still held compactly (committed-ids.ts); for tests and metrics. */
  get compactIds(): boolean {
    return this.ids !== null;
  }

  /** Applies a write set (deletions included). */
  apply(writes: readonly Write[]): void {
    let ids = this.ids;
    if (ids !== null && !ids.accepts(writes)) {
      for (const { key, value } of ids.entries()) this.map.set(key, value as Uint8Array);
      this.ids = ids = null;
    }
    if (ids === null) {
      for (const { key, value } of writes) {
        if (value === null) this.map.delete(key);
        else this.map.set(key, value);
      }
      return;
    }
    // Blocks of ids first, so their ids' txid/ sets find them; pruned blocks last, so
    // their ids' txid/ deletions have left the table (a write set's keys are distinct, so
    // the order of different keys does not change what it means).
    const before = ids.blockCount;
    const pruned: number[] = [];
    for (const { key, value } of writes) {
      if (key.length !== TXAT_KEY_LENGTH) continue;
      const height = txatKeyHeight(key);
      if (height === null) continue;
      if (value === null) pruned.push(height);
      else ids.appendBlock(height, value);
    }
    for (const { key, value } of writes) {
      if (key.length === TXAT_KEY_LENGTH && txatKeyHeight(key) !== null) continue;
      if (key.length === TXID_KEY_LENGTH && ids.loadKey(key)) {
        if (value === null) ids.deleteLoaded();
        if (value === null || ids.setLoaded(value)) {
          if (this.txidsInMap > 0 && this.map.delete(key)) this.txidsInMap--;
        } else {
          this.setTxidInMap(key, value);
        }
        continue;
      }
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
    ids.endApply(before);
    pruned.sort((a, b) => a - b);
    for (const height of pruned) ids.popBlock(height, (key, value) => this.setTxidInMap(key, value));
  }

  private setTxidInMap(key: string, value: Uint8Array): void {
    if (!this.map.has(key)) this.txidsInMap++;
    this.map.set(key, value);
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
  // Exact for ASCII keys (state keys are), so finish() hands over the buffer without a
  // copy: envelope and count, then per entry the key (u32 length, bytes), a presence byte
  // and the value (u32 length, bytes).
  let size = 2 + 4;
  for (const x of writes) size += 4 + x.key.length + 1 + (x.value === null ? 0 : 4 + x.value.length);
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
