/**
 * The committed transaction ids of the expiry window, held once.
 *
 * machine.ts writes two kinds of state for replay protection: `txat/<height>` (the ids
 * committed at that height, 32 bytes each, in block order) and `txid/<id hex>` (u64: the
 * height it committed at). Held as a map, every id is in memory twice (once in its
 * block's list, once as a key) plus the previous id table's own overhead: about 94 bytes per id (`npm run bench:ids`).
 *
 * Here the block lists are one ring of ids in commit order (blocks enter at the tail and
 * are pruned from the head, oldest first, exactly as machine.ts prunes them), and the
 * `txid/` keys are an open-addressing table of 6-byte slots (a 4-byte reference into that
 * ring, a mark and a tag). A `txid/` key that is in the table reads as the u64 height of
 * the block its id is in. About 44 bytes per id held instead of about 94. An id's home slot
 * is 8 of its bytes mixed with a key drawn at random for each table (`home`), so ids that a
 * client ground to share a few bytes do not share a probe run.
 *
 * Everything that does not fit that shape is not handled here: MemoryState keeps it in its
 * plain map (a `txid/` value other than its block's height, an id that is in no block),
 * or gives up on this structure altogether and moves everything into the map (a block
 * list rewritten, pruned out of order, or empty). The state therefore always reads
 * exactly as a plain map would; test/ledger/state.test.ts checks that against a model.
 */
import { randomBytes } from 'node:crypto';
import { bytesEqual, invariant, toHex } from './assert.js';
import { HASH_BYTES } from './constants.js';
import { Writer } from './encoding.js';
import type { Write } from './state.js';

const TXID_PREFIX = 'txid/';
const TXAT_PREFIX = 'txat/';
export const TXID_KEY_LENGTH = TXID_PREFIX.length + 2 * HASH_BYTES;
const TXAT_DIGITS = 16;
export const TXAT_KEY_LENGTH = TXAT_PREFIX.length + TXAT_DIGITS;

/** The key of the ids committed at `height` (machine.ts's keys.txat). */
export function txatKey(height: number): string {
  return `${TXAT_PREFIX}${height.toString().padStart(TXAT_DIGITS, '0')}`;
}


/** The height of a `txat/` key as machine.ts writes it (16 decimal digits), else null. */
export function txatKeyHeight(key: string): number | null {
  if (key.length !== TXAT_KEY_LENGTH || !key.startsWith(TXAT_PREFIX)) return null;
  const digits = key.slice(TXAT_PREFIX.length);
  if (!/^[0-9]{16}$/.test(digits)) return null;
  const height = Number(digits);
  return Number.isSafeInteger(height) ? height : null;
}

/** Lowercase hex digits' values by char code; -1 for every other code below 128. */
const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) HEX['0123456789abcdef'.charCodeAt(d)] = d;

const TWO_32 = 2 ** 32;

/** Ids per ring chunk (256 KiB): the ring grows and shrinks a chunk at a time, never copied whole. */
const CHUNK_SHIFT = 13;
const CHUNK_IDS = 1 << CHUNK_SHIFT;
/** The ring's span must stay below 2^32 ids so a table entry's 32-bit sequence is unambiguous. */
const RING_IDS_MAX = 2 ** 31;

interface Block {
  readonly height: number;
  /** Sequence number of the block's first id in the ring. */
  readonly start: number;
  readonly count: number;
  /** The u64 height, as a `txid/` value of this block reads (Writer.u64). */
  readonly value: Uint8Array;
  /** Ids of this block whose `txid/` key is in the table. */
  live: number;
}

const EMPTY = 0;
const LIVE = 1;
/** Indexed while a write set is applied, waiting for its `txid/` set; cleared at the end. */
const PENDING = 2;
const DELETED = 3;

export class CommittedIds {
  // The ring: ids with sequence numbers [head, tail), in chunks of CHUNK_IDS.
  private chunks: Uint8Array[] = [];
  private firstChunk = 0;
  private head = 0;
  private headLow = 0; // head mod 2^32
  private tail = 0;
  private blocks: Block[] = [];
  private firstBlock = 0;
  private readonly byHeight = new Map<number, Block>();
  // The table: for each slot, an id's ring sequence number mod 2^32, and a mark.
  private capacity = 0;
  private seqs = new Uint32Array(0);
  /**
   * Per slot, a mark (low 2 bits) and 14 bits of the id's fifth and sixth bytes (not among
   * those `home` reads): most probes past other ids stop at this one array.
   */
  private meta = new Uint16Array(0);
  private live = 0;
  private pending = 0;
  private used = 0; // live + pending + tombstones
  private readonly id = new Uint8Array(HASH_BYTES);
  /**
   * The key of `home`, drawn per table. Randomness in the state machine, and harmless
   * there: it decides only which slot an id sits in, which nothing reads (gets answer
   * exactly as a plain map, `entries()` feeds a map nobody iterates, and state hashes come
   * from write sets, not from this structure).
   */
  private readonly homeKeyHigh: number;
  private readonly homeKeyLow: number;
  /** Finds made and the slots they examined: probe runs stay short (`probeStats`). */
  private finds = 0;
  private probes = 0;

  constructor() {
    const key = randomBytes(8);
    this.homeKeyHigh = key.readInt32BE(0);
    this.homeKeyLow = key.readInt32BE(4);
  }

  /** Finds made so far and the table slots they examined in all (for tests and metrics). */
  get probeStats(): { readonly finds: number; readonly probes: number } {
    return { finds: this.finds, probes: this.probes };
  }

  /** `txid/` keys present plus `txat/` keys present. */
  get size(): number {
    return this.live + this.byHeight.size;
  }

  /**
   * Loads a `txid/` key's id for getLoaded, setLoaded and deleteLoaded. False when the key
   * is not one machine.ts writes (64 lowercase hex digits): the caller's map holds it.
   */
  loadKey(key: string): boolean {
    if (key.length !== TXID_KEY_LENGTH || !key.startsWith(TXID_PREFIX)) return false;
    const id = this.id;
    for (let i = 0, c = TXID_PREFIX.length; i < HASH_BYTES; i++, c += 2) {
      const hi = HEX[key.charCodeAt(c)] ?? -1;
      const lo = HEX[key.charCodeAt(c + 1)] ?? -1;
      if (hi < 0 || lo < 0) return false;
      id[i] = (hi << 4) | lo;
    }
    return true;
  }

  /** The value of the loaded `txid/` key, if the table holds it. */
  getLoaded(): Uint8Array | undefined {
    if (this.live === 0) return undefined;
    const at = this.find();
    if (at < 0 || ((this.meta[at] as number) & 3) !== LIVE) return undefined;
    return this.blockOf(this.seqAt(at)).value.slice();
  }

  /** The value of `txat/<height>`: a copy of the block's ids. */
  getTxat(height: number): Uint8Array | undefined {
    const block = this.byHeight.get(height);
    return block === undefined ? undefined : this.copyIds(block.start, block.count);
  }

  /**
   * Whether `apply` can take this write set: every `txat/` set is a new block above the
   * newest, in ascending order, with a whole number of ids (at least one); every `txat/`
   * deletion of a present block removes the oldest blocks, none of them set here.
   */
  accepts(writes: readonly Write[]): boolean {
    let newest = this.blocks.length > this.firstBlock ? (this.blocks[this.blocks.length - 1] as Block).height : -1;
    let added = 0;
    const deleted: number[] = [];
    const seen = new Set<number>();
    for (const { key, value } of writes) {
      const height = txatKeyHeight(key);
      if (height === null) continue;
      // The same block written twice in one write set: order matters, so take the map's path.
      if (seen.has(height)) return false;
      seen.add(height);
      if (value === null) {
        if (this.byHeight.has(height)) deleted.push(height);
        continue;
      }
      if (height <= newest || value.length === 0 || value.length % HASH_BYTES !== 0) return false;
      newest = height;
      added += value.length / HASH_BYTES;
    }
    if (this.tail - this.head + added >= RING_IDS_MAX) return false;
    deleted.sort((a, b) => a - b);
    for (let i = 0; i < deleted.length; i++) if ((this.blocks[this.firstBlock + i] as Block).height !== deleted[i]) return false;
    return true;
  }

  /** Appends a block's ids (accepts() said yes); each id not yet in the table waits for its `txid/` set. */
  appendBlock(height: number, ids: Uint8Array): void {
    const count = ids.length / HASH_BYTES;
    invariant(Number.isInteger(count) && count > 0, 'a txat value is a non-empty list of ids');
    const block: Block = { height, start: this.tail, count, value: new Writer(8).u64(height).finish(), live: 0 };
    this.blocks.push(block);
    this.byHeight.set(height, block);
    if (this.capacity === 0 || (this.used + count) * 4 > this.capacity * 3) this.rebuild(Math.max(1024, (this.live + this.pending + count) * 2));
    for (let i = 0; i < count; i++) {
      const seq = this.tail++;
      const rel = seq - this.firstChunk * CHUNK_IDS;
      if (rel >>> CHUNK_SHIFT === this.chunks.length) this.chunks.push(new Uint8Array(CHUNK_IDS * HASH_BYTES));
      const chunk = this.chunks[rel >>> CHUNK_SHIFT] as Uint8Array;
      const from = (rel & (CHUNK_IDS - 1)) * HASH_BYTES;
      // Byte loops instead of subarray + set: two view objects per id were a tenth of a
      // busy validator's allocations (docs/performance.md, thirteenth session).
      const id = this.id;
      for (let j = 0, src = i * HASH_BYTES; j < HASH_BYTES; j++) {
        const b = ids[src + j] as number;
        chunk[from + j] = b;
        id[j] = b;
      }
      // An id already in the table (a repeat) stays with its first block.
      if (this.find() >= 0) continue;
      this.insert(seq, PENDING);
      this.pending++;
    }
  }

  /**
   * Applies `<loaded txid key> = value`. Returns false when the table cannot hold it (the
   * id is in no block, or the value is not its block's height): the caller's map keeps it.
   */
  setLoaded(value: Uint8Array): boolean {
    const at = this.find();
    if (at < 0) return false;
    const block = this.blockOf(this.seqAt(at));
    if (!bytesEqual(value, block.value)) {
      this.drop(at, block);
      return false;
    }
    if (((this.meta[at] as number) & 3) === PENDING) {
      this.setMark(at, LIVE);
      this.pending--;
      this.live++;
      block.live++;
    }
    return true;
  }

  /** Removes the loaded `txid/` key from the table, if there. */
  deleteLoaded(): void {
    const at = this.find();
    if (at >= 0) this.drop(at, this.blockOf(this.seqAt(at)));
  }

  /** Ends a write set: ids that got no `txid/` set leave the table (`from` = blocks.length before it). */
  endApply(from: number): void {
    for (let b = from; this.pending > 0 && b < this.blocks.length; b++) {
      const block = this.blocks[b] as Block;
      for (let seq = block.start; seq < block.start + block.count; seq++) {
        this.loadId(seq);
        const at = this.find();
        if (at >= 0 && ((this.meta[at] as number) & 3) === PENDING && this.seqAt(at) === seq) this.drop(at, block);
      }
    }
    invariant(this.pending === 0, 'every pending id is resolved by the end of a write set');
  }

  /** The number of blocks held (endApply's `from`). */
  get blockCount(): number {
    return this.blocks.length;
  }

  /**
   * Deletes `txat/<height>`, which accepts() checked is the oldest block. Ids of it still in
   * the table move to the caller's map (`keep`), with their values.
   */
  popBlock(height: number, keep: (key: string, value: Uint8Array) => void): void {
    const block = this.byHeight.get(height);
    if (block === undefined) return;
    invariant(this.blocks[this.firstBlock] === block && block.start === this.head, 'txat blocks are pruned oldest first');
    if (block.live > 0) {
      for (let seq = block.start; seq < block.start + block.count; seq++) {
        this.loadId(seq);
        const at = this.find();
        if (at < 0 || ((this.meta[at] as number) & 3) !== LIVE || this.seqAt(at) !== seq) continue;
        keep(`${TXID_PREFIX}${toHex(this.id)}`, block.value.slice());
        this.drop(at, block);
      }
    }
    invariant(block.live === 0, 'a pruned block has no ids left in the table');
    this.byHeight.delete(height);
    this.firstBlock++;
    this.head = block.start + block.count;
    this.headLow = this.head % TWO_32;
    while ((this.firstChunk + 1) * CHUNK_IDS <= this.head) {
      this.chunks.shift();
      this.firstChunk++;
    }
    if (this.firstBlock >= 1024 && this.firstBlock * 2 >= this.blocks.length) {
      this.blocks = this.blocks.slice(this.firstBlock);
      this.firstBlock = 0;
    }
  }

  /** Everything held, as plain state entries (for a MemoryState giving this structure up). */
  entries(): Write[] {
    const out: Write[] = [];
    for (let b = this.firstBlock; b < this.blocks.length; b++) {
      const block = this.blocks[b] as Block;
      out.push({ key: txatKey(block.height), value: this.copyIds(block.start, block.count) });
    }
    for (let at = 0; at < this.capacity; at++) {
      if (((this.meta[at] as number) & 3) !== LIVE) continue;
      const seq = this.seqAt(at);
      this.loadId(seq);
      out.push({ key: `${TXID_PREFIX}${toHex(this.id)}`, value: this.blockOf(seq).value.slice() });
    }
    return out;
  }

  private drop(at: number, block: Block): void {
    const mark = (this.meta[at] as number) & 3;
    if (mark === LIVE) {
      this.live--;
      block.live--;
    } else if (mark === PENDING) {
      this.pending--;
    } else {
      return;
    }
    this.setMark(at, DELETED);
  }

  private setMark(at: number, mark: number): void {
    this.meta[at] = ((this.meta[at] as number) & ~3) | mark;
  }

  /** The 14-bit tag of this.id, shifted into place above a mark. */
  private tag(): number {
    return (((this.id[4] as number) << 8) | (this.id[5] as number)) & ~3;
  }

  /** The full sequence number of a table slot (the ring spans less than 2^32 ids). */
  private seqAt(at: number): number {
    return this.fullSeq(this.seqs[at] as number);
  }

  private fullSeq(low: number): number {
    return this.head + ((low - this.headLow) >>> 0);
  }

  private blockOf(seq: number): Block {
    let lo = this.firstBlock;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.blocks[mid] as Block).start <= seq) lo = mid;
      else hi = mid - 1;
    }
    const block = this.blocks[lo];
    invariant(block !== undefined && seq >= block.start && seq < block.start + block.count, 'a table entry points into a held block');
    return block;
  }

  private loadId(seq: number): void {
    const rel = seq - this.firstChunk * CHUNK_IDS;
    const chunk = this.chunks[rel >>> CHUNK_SHIFT] as Uint8Array;
    const from = (rel & (CHUNK_IDS - 1)) * HASH_BYTES;
    const id = this.id;
    for (let j = 0; j < HASH_BYTES; j++) id[j] = chunk[from + j] as number;
  }

  private copyIds(start: number, count: number): Uint8Array {
    const out = new Uint8Array(count * HASH_BYTES);
    for (let done = 0; done < count; ) {
      const rel = start + done - this.firstChunk * CHUNK_IDS;
      const chunk = this.chunks[rel >>> CHUNK_SHIFT] as Uint8Array;
      const offset = rel & (CHUNK_IDS - 1);
      const n = Math.min(count - done, CHUNK_IDS - offset);
      out.set(chunk.subarray(offset * HASH_BYTES, (offset + n) * HASH_BYTES), done * HASH_BYTES);
      done += n;
    }
    return out;
  }

  /** The live or pending slot holding this.id, or -1. */
  private find(): number {
    if (this.capacity === 0) return -1;
    this.finds++;
    let at = this.home();
    const meta = this.meta;
    const live = this.tag() | LIVE;
    const pending = this.tag() | PENDING;
    for (let probes = 1; probes <= this.capacity; probes++) {
      const m = meta[at] as number;
      if (m === EMPTY) {
        this.probes += probes;
        return -1;
      }
      if ((m === live || m === pending) && this.holdsId(this.seqAt(at))) {
        this.probes += probes;
        return at;
      }
      at = at + 1 === this.capacity ? 0 : at + 1;
    }
    this.probes += this.capacity;
    return -1;
  }

  private insert(seq: number, mark: number): void {
    let at = this.home();
    for (let m = (this.meta[at] as number) & 3; m === LIVE || m === PENDING; m = (this.meta[at] as number) & 3) at = at + 1 === this.capacity ? 0 : at + 1;
    if (this.meta[at] === EMPTY) this.used++;
    this.meta[at] = this.tag() | mark;
    this.seqs[at] = seq % TWO_32;
  }

  /**
   * this.id's home slot: its bytes 8 to 15, mixed with the table's random key (multiply and
   * xor-shift rounds, each a bijection of 32 bits). Ids are SHA-256 of bodies that a client
   * writes, so it can grind thousands of ids that agree on any 4 chosen bytes, offline, at
   * about 2^32 hashes each. Until 2026-12-01 the home was the first 4 bytes: such ids all
   * had one home, and every insert and find in their run examined thousands of slots, at
   * every capacity. Now ids that agree on bytes 8 to 11, or on 12 to 15, or on the first 8
   * still spread over the table; to share a home whatever the key they must agree on all
   * 8 bytes read here (about 2^64 hashes per id). Not a MAC: a cheap mix, as this runs for
   * every id read, written and moved by a rebuild.
   */
  private home(): number {
    const id = this.id;
    const high = ((id[8] as number) << 24) | ((id[9] as number) << 16) | ((id[10] as number) << 8) | (id[11] as number);
    const low = ((id[12] as number) << 24) | ((id[13] as number) << 16) | ((id[14] as number) << 8) | (id[15] as number);
    let h = Math.imul(high ^ this.homeKeyHigh, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16) ^ low ^ this.homeKeyLow, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) % this.capacity;
  }

  private holdsId(seq: number): boolean {
    const rel = seq - this.firstChunk * CHUNK_IDS;
    const chunk = this.chunks[rel >>> CHUNK_SHIFT] as Uint8Array;
    const from = (rel & (CHUNK_IDS - 1)) * HASH_BYTES;
    const id = this.id;
    for (let i = 0; i < HASH_BYTES; i++) if (chunk[from + i] !== id[i]) return false;
    return true;
  }

  /** Rehashes live and pending slots into `capacity` slots; overwrites this.id (appendBlock calls it before loading ids). */
  private rebuild(capacity: number): void {
    const { seqs, meta, capacity: old } = this;
    this.capacity = capacity;
    this.seqs = new Uint32Array(capacity);
    this.meta = new Uint16Array(capacity);
    this.used = 0;
    for (let i = 0; i < old; i++) {
      const m = meta[i] as number;
      if ((m & 3) !== LIVE && (m & 3) !== PENDING) continue;
      const low = seqs[i] as number;
      this.loadId(this.fullSeq(low));
      let at = this.home();
      while (this.meta[at] !== EMPTY) at = at + 1 === capacity ? 0 : at + 1;
      this.meta[at] = m;
      this.seqs[at] = low;
      this.used++;
    }
  }
}
