/**
 * The ledger store: committed blocks in the append-only block log, and LevelDB for the
 * indexes (transaction id -> height and index, block hash -> height) and the world state.
 *
 * Commit order: check the block (as an auditor would), append it to the log and make it
 * durable, then write one LevelDB batch (state writes, indexes, tip). A crash between the
 * two leaves the log ahead of LevelDB; opening replays the missing blocks from the log.
 * The log is never behind LevelDB (that would mean durable data vanished): STORE_MISMATCH.
 */
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { bytesEqual, invariant, toHex } from './assert.js';
import { decodeBlock, type Block } from './block.js';
import { BlockChecker, genesisTip, type CheckerOptions, type CheckOptions } from './chain.js';
import { SteleError } from './errors.js';
import type { Genesis } from './genesis.js';
import { genesisState, type BlockResult } from './machine.js';
import { MemoryState } from './state.js';
import { FileBlockLog, type BlockLog } from './block-log.js';

const META_GENESIS = 'm:genesis';
const META_HEIGHT = 'm:height';
const META_STATE_HASH = 'm:state_hash';

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
}

export interface OpenOptions extends CheckerOptions {
  /** Block log to use (the native mapped log); default: a FileBlockLog in the directory. */
  readonly log?: BlockLog;
}

export class LedgerStore {
  private checker: BlockChecker;
  private closed = false;

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
   * @throws SteleError STORE_MISMATCH (another chain, or index ahead of the log), STORE_CORRUPT, STORE_IO.
   */
  static async open(dir: string, genesis: Genesis, options: OpenOptions = {}): Promise<LedgerStore> {
    const log = options.log ?? FileBlockLog.open(join(dir, 'blocks.log'));
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (error) {
      await log.close();
      throw new SteleError('STORE_IO', `open ${join(dir, 'index')}: ${(error as Error).message}`);
    }
    try {
      const initial = genesisState(genesis);
      const storedGenesis = await db.get(META_GENESIS);
      let state: MemoryState;
      let height = 0;
      if (storedGenesis === undefined) {
        state = initial.state;
        const batch = db.batch();
        batch.put(META_GENESIS, genesis.hash).put(META_HEIGHT, u64(0)).put(META_STATE_HASH, initial.stateHash);
        for (const w of initial.writeSet) if (w.value !== null) batch.put(`s:${w.key}`, w.value);
        await batch.write();
      } else {
        if (!bytesEqual(storedGenesis, genesis.hash)) {
          throw new SteleError('STORE_MISMATCH', `${dir} holds the chain of genesis ${toHex(storedGenesis)}, not ${toHex(genesis.hash)}`);
        }
        height = readU64((await db.get(META_HEIGHT)) as Uint8Array);
        state = new MemoryState();
        const entries: Array<{ key: string; value: Uint8Array }> = [];
        for await (const [key, value] of db.iterator({ gte: 's:', lt: 's;' })) entries.push({ key: key.slice(2), value });
        state.apply(entries);
      }
      if (height > log.length) {
        throw new SteleError('STORE_MISMATCH', `index at height ${height} but the block log holds ${log.length} blocks`);
      }
      let tip = genesisTip(genesis, initial.stateHash);
      if (height > 0) {
        const last = decodeBlock(log.read(height - 1));
        const storedStateHash = (await db.get(META_STATE_HASH)) as Uint8Array;
        if (!bytesEqual(last.header.stateHash, storedStateHash)) {
          throw new SteleError('STORE_MISMATCH', `index state hash differs from block ${height}'s header`);
        }
        tip = { height, hash: last.hash, stateHash: last.header.stateHash, timeMs: last.header.timeMs };
      }
      const checker = new BlockChecker(genesis, state, tip, options);
      const store = new LedgerStore(genesis, log, db, checker, log.length - height);
      for (let h = height + 1; h <= log.length; h++) await store.replay(decodeBlock(log.read(h - 1)));
      return store;
    } catch (error) {
      await db.close();
      await log.close();
      throw error;
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

  /**
   * Validates `block` as the next block, makes it durable and indexes it.
   * @throws SteleError BLOCK_* when the block is refused (nothing is written then).
   */
  async commit(block: Block, options: CheckOptions = {}): Promise<BlockResult> {
    this.checkOpen();
    const result = await this.checker.check(block, options);
    this.log.append(block.bytes);
    await this.log.sync();
    await this.writeIndex(block, result);
    this.checker.accept(block, result);
    return result;
  }

  /** Re-checks and indexes a block already durable in the log (recovery). */
  private async replay(block: Block): Promise<void> {
    const result = await this.checker.check(block);
    await this.writeIndex(block, result);
    this.checker.accept(block, result);
  }

  private async writeIndex(block: Block, result: BlockResult): Promise<void> {
    const batch = this.db.batch();
    for (const w of result.writeSet) {
      if (w.value === null) batch.del(`s:${w.key}`);
      else batch.put(`s:${w.key}`, w.value);
    }
    const height = block.header.height;
    block.txs.forEach((tx, i) => {
      const location = new Uint8Array(12);
      const view = new DataView(location.buffer);
      view.setBigUint64(0, BigInt(height));
      view.setUint32(8, i);
      batch.put(`t:${toHex(tx.id)}`, location);
    });
    batch.put(`b:${toHex(block.hash)}`, u64(height));
    batch.put(META_HEIGHT, u64(height)).put(META_STATE_HASH, block.header.stateHash);
    await batch.write();
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

  /** Where a committed transaction sits, if it does. */
  async txLocation(id: Uint8Array): Promise<TxLocation | undefined> {
    this.checkOpen();
    const raw = await this.db.get(`t:${toHex(id)}`);
    if (raw === undefined) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return { height: Number(view.getBigUint64(0)), index: view.getUint32(8) };
  }

  /**
   * Committed state entries whose key starts with `prefix`, in key order, at most `limit`
   * (keys are printable ASCII, so `prefix` + DEL bounds the range).
   */
  async scanState(prefix: string, limit: number): Promise<Array<{ key: string; value: Uint8Array }>> {
    this.checkOpen();
    const out: Array<{ key: string; value: Uint8Array }> = [];
    for await (const [key, value] of this.db.iterator({ gte: `s:${prefix}`, lt: `s:${prefix}\x7f`, limit })) out.push({ key: key.slice(2), value });
    return out;
  }

  /** Height of a committed block by hash. */
  async heightOf(hash: Uint8Array): Promise<number | undefined> {
    this.checkOpen();
    const raw = await this.db.get(`b:${toHex(hash)}`);
    return raw === undefined ? undefined : readU64(raw);
  }

  private checkOpen(): void {
    if (this.closed) throw new SteleError('STORE_CLOSED', 'the ledger store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
    await this.log.close();
  }
}
