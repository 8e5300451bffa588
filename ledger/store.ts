/**
 * The ledger store: committed blocks in the append-only block log, and LevelDB for the
 * indexes (transaction id -> height and index, block hash -> height) and the world state.
 *
 * Commit order: check the block (as an auditor would), append it to the log and make it
 * durable, move the in-memory tip and state, and write one LevelDB batch (state writes,
 * indexes, tip) behind them (docs/storage.md). A crash before the batch is written leaves
 * the log ahead of LevelDB; opening replays the missing blocks from the log.
 * The log is never behind LevelDB (that would mean durable data vanished): STORE_MISMATCH.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ClassicLevel } from 'classic-level';
import { bytesEqual, bytesToFill, invariant, toHex } from './assert.js';
import { HASH_BYTES } from './constants.js';
import { Reader, Writer } from './encoding.js';
import { decodeBlock, headerOfEncoded, type Block, type BlockHeader } from './block.js';
import { BlockChecker, genesisTip, tipOf, type CheckerOptions, type CheckOptions } from './chain.js';
import { ERROR_CODES, isNoSpaceError, isSteleError, SteleError, type ErrorCode } from './errors.js';
import type { Genesis } from './genesis.js';
import { genesisState, type BlockResult, type TxFailure } from './machine.js';
import { MemoryState, type StateReader } from './state.js';
import { FileBlockLog, type BlockLog } from './block-log.js';
import { contractKeys, decodeInstance, decodeTemplate, dueRulesViolation } from './contract-state.js';

const META_GENESIS = 'm:genesis';
const META_HEIGHT = 'm:height';
const META_STATE_HASH = 'm:state_hash';
/** Version of the account index (`x:` keys) this store keeps; absent: rebuild it at open. */
const META_ACCOUNT_INDEX = 'm:account_index';
const ACCOUNT_INDEX_VERSION = 1;

/**
 * The account index: which contracts a key deployed and which instances it is a party
 * to, for GET /v1/accounts. Derived from the state (never hashed, never part of consensus),
 * kept in the same LevelDB batch as the state writes so it cannot drift from them:
 *
 *   x:<key hex>/ctpl/<contract name>               (deployer)
 *   x:<key hex>/cins/<instance id, 16 digits>/<party name>
 */
const TEMPLATE_PREFIX = contractKeys.template('');
const INSTANCE_PREFIX = 'cins/';

function hasAccountIndex(stateKey: string): boolean {
  return stateKey.startsWith(TEMPLATE_PREFIX) || stateKey.startsWith(INSTANCE_PREFIX);
}

function accountIndexKeys(stateKey: string, value: Uint8Array | undefined): string[] {
  if (value === undefined) return [];
  if (stateKey.startsWith(TEMPLATE_PREFIX)) {
    const t = decodeTemplate(value);
    return [`x:${toHex(t.deployer)}/ctpl/${t.name}`];
  }
  if (stateKey.startsWith(INSTANCE_PREFIX)) {
    const digits = stateKey.slice(INSTANCE_PREFIX.length);
    const x = decodeInstance(Number(digits), value);
    return [...x.parties].map(([party, key]) => `x:${key}/cins/${digits}/${party}`);
  }
  return [];
}

/** What an account has to do with contracts, from the account index. */
export interface AccountContracts {
  readonly templates: readonly string[];
  readonly instances: ReadonlyArray<{ readonly id: number; readonly party: string }>;
  /** True when a list was cut at the limit. */
  readonly templatesTruncated: boolean;
  readonly instancesTruncated: boolean;
}

/**
 * State values in LevelDB (`s:<key>`) carry a checksum: CRC-32 of the key then the value,
 * big-endian, before the value. Absent on directories written before 2026-11-30, which get
 * it at their next open.
 *
 * The version also names the state's rules. Version 2 (since the twentieth session, 2026-12-01) stores values as
 * version 1 did, and says the due lists hold an entry at every height of each instance's
 * after chain (docs/contracts.md, "Due entries"). A directory of version 1 or none opens
 * only if its state already follows that (checked once, dueRulesViolation: every instance
 * whose after chains have one step does), and is version 2 from then on. Builds before
 * it accept only version 1, so they refuse a directory this build wrote instead of
 * writing due lists it would then trust.
 */
const META_STATE_CHECKSUMS = 'm:state_checksums';
const STATE_CHECKSUMS_VERSION = 2;

function stateChecksum(key: string, value: Uint8Array): number {
  return crc32(value, crc32(key));
}

function sealStateValue(key: string, value: Uint8Array): Uint8Array {
  const out = bytesToFill(4 + value.length);
  new DataView(out.buffer, out.byteOffset, out.length).setUint32(0, stateChecksum(key, value));
  out.set(value, 4);
  return out;
}

/** The value of a stored state entry, checked. @throws SteleError STORE_CORRUPT */
function openStateValue(key: string, stored: Uint8Array): Uint8Array {
  if (stored.length < 4) throw new SteleError('STORE_CORRUPT', `state entry ${key}: ${stored.length} bytes, shorter than its checksum`, { key });
  const value = stored.subarray(4);
  const expected = new DataView(stored.buffer, stored.byteOffset, 4).getUint32(0);
  if (stateChecksum(key, value) !== expected) {
    throw new SteleError('STORE_CORRUPT', `state entry ${key} fails its checksum (rebuild the index from the block log: see docs/operations.md)`, { key });
  }
  return value;
}

/**
 * Refuses a block log whose first block is of another chain than `genesis` (its chain id,
 * or its previous hash, which for block 1 is the genesis hash). Called at every open
 * before a new index is written: a new or deleted index next to another chain's log was
 * written for this genesis, then the log replayed into it and refused as a diverged block
 * (BLOCK_WRONG_CHAIN or BLOCK_BAD_PARENT: `stele node` exit 3), and the directory then
 * named this genesis in its index (found in review, 2026-12-01). A first record that does
 * not decode is left to the replay, which names it.
 * @throws SteleError STORE_MISMATCH
 */
function checkLogChain(dir: string, log: BlockLog, genesis: Genesis, freshIndex: boolean): void {
  if (log.length === 0) return;
  let header: BlockHeader;
  try {
    header = headerOfEncoded(log.read(0)).header;
  } catch (error) {
    if (isSteleError(error) && error.code.startsWith('ENC_')) return;
    throw error;
  }
  if (header.chainId === genesis.chainId && (header.height !== 1 || bytesEqual(header.prevHash, genesis.hash))) return;
  const theirs = header.height === 1 ? `chain ${header.chainId} of genesis ${toHex(header.prevHash)}` : `chain ${header.chainId}`;
  const index = freshIndex ? 'the index is new (created now, or deleted), so nothing was written to it' : 'the index is of this genesis';
  throw new SteleError('STORE_MISMATCH', `the block log in ${dir} holds ${theirs}, not chain ${genesis.chainId} of genesis ${toHex(genesis.hash)}; ${index}`);
}

/** A stored `m:` value of `bytes` bytes, present. @throws SteleError STORE_CORRUPT */
/**
 * LevelDB's failure on the index, coded: a full disk STORE_FULL (the node says so, exit
 * 75); LevelDB's "Corruption" STORE_CORRUPT (the node halts, exit 3), with the remedy,
 * since the index is derived from the block log (before 2026-12-02 it was STORE_IO, exit 2,
 * which a supervisor restarts in a loop; review); anything else STORE_IO. classic-level
 * puts LevelDB's own words ("IO error: ...: No space left on device") in the error's cause.
 */
function indexError(dir: string, doing: 'open' | 'read', error: unknown): SteleError {
  const path = join(dir, 'index');
  const cause = (error as Error & { cause?: unknown }).cause;
  const detail = `${(error as Error).message}${cause instanceof Error ? `: ${cause.message}` : ''}`;
  if (isNoSpaceError(error)) return new SteleError('STORE_FULL', `${doing} ${path}: ${detail}`, { path });
  const corrupt = [error, cause].some((e) => (e as { code?: unknown } | undefined)?.code === 'LEVEL_CORRUPTION') || /Corruption:/.test(detail);
  if (corrupt) {
    return new SteleError('STORE_CORRUPT', `${doing} ${path}: ${detail}; the index is rebuilt from the block log when it is moved aside (docs/operations.md)`, { path });
  }
  return new SteleError('STORE_IO', `${doing} ${path}: ${detail}`, { path });
}

function metaValue(dir: string, key: string, value: Uint8Array | undefined, bytes: number): Uint8Array {
  if (value !== undefined && value.length === bytes) return value;
  const found = value === undefined ? 'missing' : `${value.length} bytes, not ${bytes}`;
  throw new SteleError('STORE_CORRUPT', `${join(dir, 'index')}: ${key} is ${found} though m:genesis is there (move the index aside to rebuild it from the block log: see docs/operations.md)`, { key });
}

function failuresKey(height: number): string {
  return `f:${height.toString().padStart(16, '0')}`;
}

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}
function readU64(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));
}

export interface TxLocation {
  readonly height: number;
  readonly index: number;
  /** The refusal code when the block holds the transaction as failed (machine.ts), else null. */
  readonly failed: ErrorCode | null;
}

export interface OpenOptions extends CheckerOptions {
  /**
   * Block log to use (the native mapped log), or a function that opens it; default: a
   * FileBlockLog in the directory. A function is called only once the index is open, so
   * LevelDB's lock on the directory is held before the log's recovery may touch its files.
   */
  readonly log?: BlockLog | (() => BlockLog);
}

/**
 * Index writes (LevelDB batches of committed groups) that may wait or run at once behind
 * the committed state; a commit that finds this many waits for the oldest to finish. Each
 * holds its group's batch in memory until written.
 */
export const INDEX_WRITES_IN_FLIGHT_MAX = 4;

/**
 * Every index batch is written synchronously (LevelDB fsyncs its write-ahead log before the
 * write settles). Unsynced, a power failure could keep a later batch and lose an earlier
 * one: the kernel writes a file's dirty pages back in any order, and LevelDB's recovery
 * (paranoid checks off, as classic-level opens it) skips a zeroed or damaged record of its
 * log and applies the records after it. The index would then open at the later height with
 * the earlier group's writes missing (balances, committed ids: a transaction of that group
 * accepted again), and nothing at open could tell (review of 2026-12-01). The writes run
 * behind the commit, so the fsync delays no answer; it costs one fdatasync per group.
 */
const INDEX_WRITE = { sync: true } as const;

export class LedgerStore {
  private checker: BlockChecker;
  private closed = false;
  /**
   * The index writes handed to LevelDB and not yet finished, chained in commit order (each
   * starts once the one before it has finished, so the index never holds a later block
   * without an earlier one). Never rejects: a failure is kept in `indexFailure`.
   */
  private indexWrites: Promise<void> = Promise.resolve();
  /** One promise per index write not yet finished, oldest first (they finish in order). */
  private readonly indexWritesPending: Promise<void>[] = [];
  /**
   * The first index write that failed. Every index write after it is dropped, every commit
   * that starts after it refuses with it, and every index read fails (STORE_IO/STORE_FULL).
   */
  private indexFailure: Error | null = null;
  /** A commitMany is under way (they never overlap). */
  private committing = false;

  private constructor(
    readonly genesis: Genesis,
    readonly log: BlockLog,
    private readonly db: ClassicLevel<string, Uint8Array>,
    checker: BlockChecker,
    /** Blocks replayed from the log at open (a crash had cut the index short). */
    readonly replayed: number,
  ) {
    this.checker = checker;
  }

  /**
   * Opens (or creates) the store in `dir` for `genesis`, recovering after a crash.
   * @throws SteleError STORE_MISMATCH (an index or a block log of another chain, or an index
   * ahead of the log), STORE_CORRUPT (also an index missing its tip), STORE_IO.
   */
  static async open(dir: string, genesis: Genesis, options: OpenOptions = {}): Promise<LedgerStore> {
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (error) {
      if (options.log !== undefined && typeof options.log !== 'function') await options.log.close();
      throw indexError(dir, 'open', error);
    }
    // Opened after the index: LevelDB's LOCK keeps a second process on this directory from
    // getting here, where a log's recovery may cut a tail or delete unfinished segments that
    // the running process is writing (found in review, 2026-11-30).
    let log: BlockLog;
    try {
      log = typeof options.log === 'function' ? options.log() : (options.log ?? FileBlockLog.open(join(dir, 'blocks.log')));
    } catch (error) {
      await db.close();
      throw error;
    }
    try {
      const initial = genesisState(genesis);
      const storedGenesis = await db.get(META_GENESIS);
      if (storedGenesis !== undefined && !bytesEqual(storedGenesis, genesis.hash)) {
        throw new SteleError('STORE_MISMATCH', `${dir} holds the chain of genesis ${toHex(storedGenesis)}, not ${toHex(genesis.hash)}`);
      }
      checkLogChain(dir, log, genesis, storedGenesis === undefined);
      let state: MemoryState;
      let height = 0;
      if (storedGenesis === undefined) {
        state = initial.state;
        const batch = db.batch();
        batch.put(META_GENESIS, genesis.hash).put(META_HEIGHT, u64(0)).put(META_STATE_HASH, initial.stateHash);
        batch.put(META_ACCOUNT_INDEX, u64(ACCOUNT_INDEX_VERSION));
        batch.put(META_STATE_CHECKSUMS, u64(STATE_CHECKSUMS_VERSION));
        for (const w of initial.writeSet) if (w.value !== null) batch.put(`s:${w.key}`, sealStateValue(w.key, w.value));
        for (const w of initial.writeSet) for (const k of accountIndexKeys(w.key, w.value ?? undefined)) batch.put(k, new Uint8Array(0));
        await batch.write(INDEX_WRITE);
      } else {
        height = readU64(metaValue(dir, META_HEIGHT, await db.get(META_HEIGHT), 8));
        state = new MemoryState();
        const entries: Array<{ key: string; value: Uint8Array }> = [];
        const checksums = await db.get(META_STATE_CHECKSUMS);
        const checksumsVersion = checksums === undefined ? 0 : readU64(checksums);
        if (checksums !== undefined && checksumsVersion !== 1 && checksumsVersion !== STATE_CHECKSUMS_VERSION) {
          throw new SteleError('STORE_MISMATCH', `state checksums of version ${readU64(checksums)}; this build knows ${STATE_CHECKSUMS_VERSION}`);
        }
        if (checksums === undefined) {
          // A directory written before state values carried checksums: add them once, as read.
          const batch = db.batch();
          for await (const [key, value] of db.iterator({ gte: 's:', lt: 's;' })) {
            entries.push({ key: key.slice(2), value });
            batch.put(key, sealStateValue(key.slice(2), value));
          }
          // Version 1 with the values it seals: the due rules are checked below, on their own.
          batch.put(META_STATE_CHECKSUMS, u64(1));
          await batch.write(INDEX_WRITE);
        } else {
          // Every value is checked against its checksum as it is loaded: a flipped bit in
          // LevelDB's files is STORE_CORRUPT here, not a wrong balance served, or a replica
          // that halts as diverged when a block first touches the key (LevelDB itself does
          // not verify its block checksums on reads by default).
          for await (const [key, value] of db.iterator({ gte: 's:', lt: 's;' })) entries.push({ key: key.slice(2), value: openStateValue(key.slice(2), value) });
        }
        state.apply(entries);
        if (checksumsVersion < STATE_CHECKSUMS_VERSION) {
          let violation: string | null;
          try {
            violation = dueRulesViolation(state, entries.map((e) => e.key));
          } catch (error) {
            throw new SteleError('STORE_CORRUPT', `${dir}: contract state that cannot be read: ${error instanceof Error ? error.message : String(error)}`);
          }
          if (violation !== null) {
            throw new SteleError('STORE_MISMATCH', `${dir} was written by a build whose due lists held current deadlines only (store version 1), and this build cannot continue them: ${violation} (docs/contracts.md, "Due entries")`);
          }
          await db.put(META_STATE_CHECKSUMS, u64(STATE_CHECKSUMS_VERSION), INDEX_WRITE);
        }
        const indexVersion = await db.get(META_ACCOUNT_INDEX);
        if (indexVersion === undefined || readU64(indexVersion) !== ACCOUNT_INDEX_VERSION) {
          // A directory written before the index existed: build it once from the state.
          const batch = db.batch();
          for await (const key of db.keys({ gte: 'x:', lt: 'x;' })) batch.del(key);
          for (const e of entries) for (const k of accountIndexKeys(e.key, e.value)) batch.put(k, new Uint8Array(0));
          batch.put(META_ACCOUNT_INDEX, u64(ACCOUNT_INDEX_VERSION));
          await batch.write(INDEX_WRITE);
        }
      }
      if (height > log.length) {
        throw new SteleError('STORE_MISMATCH', `index at height ${height} but the block log holds ${log.length} blocks`);
      }
      let tip = genesisTip(genesis, initial.stateHash);
      if (height > 0) {
        const last = decodeBlock(log.read(height - 1));
        const storedStateHash = metaValue(dir, META_STATE_HASH, await db.get(META_STATE_HASH), HASH_BYTES);
        if (!bytesEqual(last.header.stateHash, storedStateHash)) {
          throw new SteleError('STORE_MISMATCH', `index state hash differs from block ${height}'s header`);
        }
        tip = { height, hash: last.hash, stateHash: last.header.stateHash, timeMs: last.header.timeMs };
      }
      const checker = new BlockChecker(genesis, state, tip, options);
      const store = new LedgerStore(genesis, log, db, checker, log.length - height);
      for (let h = height + 1; h <= log.length; h++) {
        try {
          await store.replay(decodeBlock(log.read(h - 1)));
        } catch (error) {
          // A block durable in the log that fails its checks now: this replica stored it
          // before a crash and cannot apply it (docs/operations.md: `stele node` halts, exit 3).
          if (isSteleError(error) && (error.code.startsWith('BLOCK_') || error.code.startsWith('ENC_') || error.code === 'STORE_CORRUPT')) {
            throw new SteleError(error.code, `replaying block ${h} of the block log in ${dir}: ${error.reason}`, { ...error.details, height: h, replay: true });
          }
          throw error;
        }
      }
      return store;
    } catch (error) {
      await db.close();
      await log.close();
      // LevelDB's own failures while reading the index back (a damaged table file): coded,
      // not an internal error (review, 2026-12-02: a truncated table file exited 70).
      throw String((error as { code?: unknown }).code ?? '').startsWith('LEVEL_') ? indexError(dir, 'read', error) : error;
    }
  }

  get height(): number {
    return this.checker.tip.height;
  }
  get tip() {
    return this.checker.tip;
  }
  get state(): MemoryState {
    return this.checker.state;
  }
  /** Blocks committed with the caller's execution instead of a new one (CheckOptions.executed). */
  get executionsReused(): number {
    return this.checker.executionsReused;
  }

  /**
   * Validates `block` as the next block, makes it durable and indexes it.
   * @throws SteleError BLOCK_* when the block is refused (nothing is written then).
   */
  async commit(block: Block, options: CheckOptions = {}): Promise<BlockResult> {
    return (await this.commitMany([block], options))[0] as BlockResult;
  }

  /**
   * `commit` for consecutive blocks at once (group commit): each is validated on top of
   * the ones before it, then all are appended with one persist, the committed state moves
   * past them in order, and one LevelDB batch indexes them behind it (`writeIndex`). A
   * validator applying a backlog pays the persist and the index write once per group
   * instead of once per block. A refused block anywhere in the group refuses the whole
   * group before anything is appended.
   * `options` applies to every block, or is given per block (an array as long as `blocks`).
   * One at a time: the caller waits for a commit to end before it starts the next (the
   * validator chains them); a second one entered meanwhile is a broken invariant.
   * @throws SteleError BLOCK_* naming the first block refused (nothing is written then); or
   * the error of an earlier index write that failed (see `indexed()`), before anything is written.
   */
  async commitMany(blocks: readonly Block[], options: CheckOptions | readonly CheckOptions[] = {}): Promise<BlockResult[]> {
    this.checkOpen();
    // Two at once would check both groups against the same tip and append both to the
    // log, two records at one height (found in review, 2026-12-01: nothing checked it).
    invariant(!this.committing, 'one commit at a time: commitMany entered while another is under way');
    this.committing = true;
    try {
      return await this.commitGroup(blocks, options);
    } finally {
      this.committing = false;
    }
  }

  private async commitGroup(blocks: readonly Block[], options: CheckOptions | readonly CheckOptions[]): Promise<BlockResult[]> {
    if (this.indexFailure !== null) throw this.indexFailure;
    if (blocks.length === 0) return [];
    invariant(!Array.isArray(options) || options.length === blocks.length, 'one set of check options per block');
    const optionsOf = (k: number): CheckOptions => (Array.isArray(options) ? (options[k] as CheckOptions) : (options as CheckOptions));
    // Signatures of every block start on the workers at once; execution goes block by block.
    const prepared = blocks.map((b, k) => this.checker.prepare(b, optionsOf(k)));
    const results: BlockResult[] = [];
    let state: StateReader = this.checker.state;
    let tip = this.checker.tip;
    try {
      for (const [k, block] of blocks.entries()) {
        const result = await this.checker.checkOn(state, tip, block, optionsOf(k), prepared[k]);
        results.push(result);
        state = result.overlay;
        tip = tipOf(block);
      }
    } catch (error) {
      for (const p of prepared.slice(results.length + 1)) p.job.done.catch(() => {}); // abandoned: nobody reads them
      throw error;
    }
    while (this.indexWritesPending.length >= INDEX_WRITES_IN_FLIGHT_MAX) await this.indexWritesPending[0];
    if (this.indexFailure !== null) throw this.indexFailure;
    for (const block of blocks) this.log.append(block.bytes);
    await this.log.sync();
    const batch = this.db.batch();
    blocks.forEach((block, k) => this.index(batch, block, results[k] as BlockResult, k === 0 ? this.checker.state : (results[k - 1] as BlockResult).overlay));
    // The blocks are durable in the log now, and that is what committed means for the store:
    // the committed state moves past them at once and their index entries are written
    // behind it. A crash before the write ends leaves the index short of the log, which
    // open() repairs by replaying the log (as after any crash between the two). The
    // index's own readers wait for the writes handed over before them (read your writes),
    // and the write's wait no longer delays the commit's answers (docs/storage.md).
    this.writeIndex(batch);
    blocks.forEach((block, k) => this.checker.accept(block, results[k] as BlockResult));
    return results;
  }

  /** Chains `batch` after the index writes under way (see `indexWrites`). */
  private writeIndex(batch: ReturnType<ClassicLevel<string, Uint8Array>['batch']>): void {
    const done = this.indexWrites
      .then(async () => {
        if (this.indexFailure !== null) {
          // Never a later block without an earlier one: the log replays both at open.
          await batch.close();
          return;
        }
        await batch.write(INDEX_WRITE);
      })
      .catch((error: unknown) => {
        this.indexFailure ??= error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => {
        invariant(this.indexWritesPending[0] === done, 'index writes finish in commit order');
        this.indexWritesPending.shift();
      });
    this.indexWritesPending.push(done);
    this.indexWrites = done;
  }

  /** Index writes not finished yet (for tests and metrics). */
  get indexWritesWaiting(): number {
    return this.indexWritesPending.length;
  }

  /** Waits for the index writes handed over so far; a reader then sees every commit made before it. */
  private async indexCaughtUp(): Promise<void> {
    await this.indexWrites;
    const failure = this.indexFailure;
    if (failure !== null) {
      throw new SteleError(isNoSpaceError(failure) ? 'STORE_FULL' : 'STORE_IO', `the index lost a committed block's write (the node stops; a restart replays it from the block log): ${failure.message}`);
    }
  }

  /**
   * Settles once every index write handed over so far has finished: rejects with the first
   * failure (the node must stop: later commits refuse with it too). A validator watches it
   * after each commit, so a failed write written behind still stops the process.
   */
  async indexed(): Promise<void> {
    await this.indexWrites;
    if (this.indexFailure !== null) throw this.indexFailure;
  }

  /** Re-checks and indexes a block already durable in the log (recovery). */
  private async replay(block: Block): Promise<void> {
    const result = await this.checker.check(block);
    const batch = this.db.batch();
    this.index(batch, block, result, this.checker.state);
    await batch.write(INDEX_WRITE);
    this.checker.accept(block, result);
  }

  /** Adds `block`'s index entries to `batch`; `before` reads the state as it was before the block. */
  private index(batch: ReturnType<ClassicLevel<string, Uint8Array>['batch']>, block: Block, result: BlockResult, before: StateReader): void {
    for (const w of result.writeSet) {
      if (w.value === null) batch.del(`s:${w.key}`);
      else batch.put(`s:${w.key}`, sealStateValue(w.key, w.value));
      // Only contract keys have account index entries: other writes skip the read of the
      // old value. Deletes first, so a key kept by both the old and the new value stays.
      if (!hasAccountIndex(w.key)) continue;
      for (const k of accountIndexKeys(w.key, before.get(w.key))) batch.del(k);
      for (const k of accountIndexKeys(w.key, w.value ?? undefined)) batch.put(k, new Uint8Array(0));
    }
    const height = block.header.height;
    // `t:<id>`: u64 height, u32 index, and for a failed transaction the ASCII of its code.
    // The height's 8 bytes are made once per block: a DataView and a BigInt per transaction
    // were a visible share of a follower's allocations (docs/performance.md, thirteenth session).
    const heightBytes = u64(height);
    let f = 0;
    block.txs.forEach((tx, i) => {
      const failure = result.failed[f]?.index === i ? (result.failed[f++] as TxFailure) : undefined;
      const location = new Uint8Array(12 + (failure?.code.length ?? 0));
      location.set(heightBytes, 0);
      location[8] = i >>> 24;
      location[9] = (i >>> 16) & 0xff;
      location[10] = (i >>> 8) & 0xff;
      location[11] = i & 0xff;
      if (failure !== undefined) for (let c = 0; c < failure.code.length; c++) location[12 + c] = failure.code.charCodeAt(c);
      batch.put(`t:${tx.idHex}`, location);
    });
    invariant(f === result.failed.length, 'every failed transaction is indexed');
    // `f:<height>`: the block's failed transactions (u32 count, then u32 index and code each),
    // for block answers that say which failed; absent when none did.
    if (result.failed.length > 0) {
      const w = new Writer(8 + 48 * result.failed.length).u32(result.failed.length);
      for (const x of result.failed) w.u32(x.index).str(x.code, 64);
      batch.put(failuresKey(height), w.finish());
    }
    batch.put(`b:${toHex(block.hash)}`, u64(height));
    batch.put(META_HEIGHT, u64(height)).put(META_STATE_HASH, block.header.stateHash);
  }

  /** The encoded block at `height` (1-based). */
  blockBytes(height: number): Uint8Array {
    this.checkOpen();
    if (!Number.isInteger(height) || height < 1 || height > this.height) throw new RangeError(`no block at height ${height}`);
    return this.log.read(height - 1);
  }

  block(height: number): Block {
    return decodeBlock(this.blockBytes(height));
  }

  /** Every committed block's bytes from `from`, in order. */
  *blocks(from = 1): Generator<Uint8Array> {
    for (let h = from; h <= this.height; h++) yield this.blockBytes(h);
  }

  /** The transactions the committed block at `height` holds as failed, by ascending index. */
  async failuresAt(height: number): Promise<Array<{ index: number; code: ErrorCode }>> {
    this.checkOpen();
    await this.indexCaughtUp();
    const raw = await this.db.get(failuresKey(height));
    if (raw === undefined) return [];
    try {
      const r = new Reader(raw, raw.length, 'failures');
      const count = r.u32('count');
      const out: Array<{ index: number; code: ErrorCode }> = [];
      for (let k = 0; k < count; k++) {
        const index = r.u32('index');
        const code = r.str(64, 'code');
        if (!Object.hasOwn(ERROR_CODES, code)) throw new Error(`unknown code ${code}`);
        out.push({ index, code: code as ErrorCode });
      }
      r.end();
      return out;
    } catch (error) {
      throw new SteleError('STORE_CORRUPT', `index entry ${failuresKey(height)}: ${(error as Error).message}`);
    }
  }

  /** Where a committed transaction sits, if it does. */
  async txLocation(id: Uint8Array): Promise<TxLocation | undefined> {
    this.checkOpen();
    await this.indexCaughtUp();
    const raw = await this.db.get(`t:${toHex(id)}`);
    if (raw === undefined) return undefined;
    if (raw.length < 12) throw new SteleError('STORE_CORRUPT', `index entry t:${toHex(id)} has ${raw.length} bytes`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const code = raw.length === 12 ? null : Buffer.from(raw.subarray(12)).toString('ascii');
    if (code !== null && !Object.hasOwn(ERROR_CODES, code)) throw new SteleError('STORE_CORRUPT', `index entry t:${toHex(id)} names no known code`);
    return { height: Number(view.getBigUint64(0)), index: view.getUint32(8), failed: code as ErrorCode | null };
  }

  /**
   * Committed state entries whose key starts with `prefix`, in key order, at most `limit`
   * (keys are printable ASCII, so `prefix` + DEL bounds the range).
   */
  async scanState(prefix: string, limit: number): Promise<Array<{ key: string; value: Uint8Array }>> {
    this.checkOpen();
    await this.indexCaughtUp();
    const out: Array<{ key: string; value: Uint8Array }> = [];
    for await (const [key, value] of this.db.iterator({ gte: `s:${prefix}`, lt: `s:${prefix}\x7f`, limit })) out.push({ key: key.slice(2), value: openStateValue(key.slice(2), value) });
    return out;
  }

  /**
   * Contracts `publicKey` (hex) deployed and instances it is a party to, committed state,
   * at most `limit` of each (names in order; instances by id, then party name).
   */
  async accountContracts(publicKeyHex: string, limit: number): Promise<AccountContracts> {
    this.checkOpen();
    await this.indexCaughtUp();
    // Both lists from one snapshot (taken after the writes waited for above): a group's
    // index batch written between the two scans made them answer from two heights (found
    // in review, 2026-12-01).
    const snapshot = this.db.snapshot();
    const scan = async (prefix: string): Promise<string[]> => {
      const out: string[] = [];
      for await (const key of this.db.keys({ gte: prefix, lt: `${prefix}\x7f`, limit: limit + 1, snapshot })) out.push(key.slice(prefix.length));
      return out;
    };
    let templates: string[];
    let instanceKeys: string[];
    try {
      templates = await scan(`x:${publicKeyHex}/ctpl/`);
      instanceKeys = await scan(`x:${publicKeyHex}/cins/`);
    } finally {
      await snapshot.close();
    }
    const instances = instanceKeys.map((rest) => {
      const slash = rest.indexOf('/');
      return { id: Number(rest.slice(0, slash)), party: rest.slice(slash + 1) };
    });
    return {
      templates: templates.slice(0, limit),
      instances: instances.slice(0, limit),
      templatesTruncated: templates.length > limit,
      instancesTruncated: instances.length > limit,
    };
  }

  /** Height of a committed block by hash. */
  async heightOf(hash: Uint8Array): Promise<number | undefined> {
    this.checkOpen();
    await this.indexCaughtUp();
    const raw = await this.db.get(`b:${toHex(hash)}`);
    return raw === undefined ? undefined : readU64(raw);
  }

  private checkOpen(): void {
    if (this.closed) throw new SteleError('STORE_CLOSED', 'the ledger store is closed');
  }

  /**
   * Waits for the index writes under way, then closes. A write that failed is not thrown
   * here (indexed() reports it): the block log holds its blocks and the next open replays them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.indexWrites;
    await this.db.close();
    await this.log.close();
  }
}
