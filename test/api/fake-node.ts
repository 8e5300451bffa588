/**
 * A fake node for the API tests: one process, the real ledger (pre-execution with the
 * state machine, real signed and certified blocks from ledger/devnet.ts, real Merkle
 * proofs), no consensus. Blocks are cut when a test calls `commit()`. Knobs let tests make
 * it refuse with MEMPOOL_FULL or NODE_UNAVAILABLE.
 */
import { toHex } from '../../ledger/assert.js';
import type { Block } from '../../ledger/block.js';
import { genesisTip, type ChainTip } from '../../ledger/chain.js';
import { produceBlock, type DevChain } from '../../ledger/devnet.js';
import { SteleError, type ErrorCode } from '../../ledger/errors.js';
import { BlockBuilder, balanceOf, executeBlock, genesisState, identityOf } from '../../ledger/machine.js';
import { leafHash, merkleProof } from '../../ledger/merkle.js';
import type { MemoryState } from '../../ledger/state.js';
import type { Tx } from '../../ledger/tx.js';
import type { AccountView, CommitLocation, IdentityView, LintOptions, LintReport, Metric, NodeStatus, NodeView, RecordView, TransactionStatus } from '../../api/node-view.js';

interface Waiter {
  resolve(at: CommitLocation): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

export class FakeNode implements NodeView {
  readonly chainId: string;
  readonly genesis: DevChain['genesis'];
  readonly blocksById = new Map<string, CommitLocation>();
  readonly committed: Block[] = [];
  readonly mempool = new Map<string, Tx>();
  readonly refused = new Map<string, { code: ErrorCode; reason: string }>();
  /** Committed transactions that their block holds as failed, with their code. */
  readonly failed = new Map<string, ErrorCode>();
  readonly records = new Map<string, RecordView[]>();
  private readonly state: MemoryState;
  private tip: ChainTip;
  private readonly listeners = new Set<(block: Block) => void>();
  private readonly waiters = new Map<string, Waiter[]>();
  private speculative: BlockBuilder | null = null;
  /** Test knobs. */
  mempoolMax = 10_000;
  unavailable = false;
  submitted = 0;
  /** Calls of block/blocks (decoded blocks) and of blocksBytes (encodings only). */
  blockReads = 0;
  bytesReads = 0;
  /** When set, blocksBytes waits for it (a replay held mid-way). */
  bytesGate: Promise<void> | null = null;
  /** When set, lint answers through this function. */
  lintImpl: ((files: readonly { file: string; source: string }[], options: LintOptions) => LintReport | Promise<LintReport>) | undefined;

  constructor(readonly chain: DevChain) {
    this.chainId = chain.genesis.chainId;
    this.genesis = chain.genesis;
    const initial = genesisState(chain.genesis);
    this.state = initial.state;
    this.tip = genesisTip(chain.genesis, initial.stateHash);
    // Only expose lint when a test sets an implementation.
    Object.defineProperty(this, 'lint', {
      get: () => (this.lintImpl === undefined ? undefined : (files: readonly { file: string; source: string }[], options: LintOptions) => (this.lintImpl as NonNullable<FakeNode['lintImpl']>)(files, options)),
    });
  }

  declare lint?: NodeView['lint'];

  status(): NodeStatus {
    return {
      chainId: this.chainId,
      validators: this.genesis.validators.map((v, index) => ({ index, id: v.id, publicKey: v.publicKey, address: v.address, health: index === 2 ? 'down' : 'up' })),
      leader: 0,
      ballot: { round: 1, leader: 0 },
      committedHeight: this.tip.height,
      mempoolSize: this.mempool.size,
    };
  }

  async submit(tx: Tx): Promise<{ id: Uint8Array }> {
    this.submitted++;
    if (this.unavailable) throw new SteleError('NODE_UNAVAILABLE', 'no leader is known', { retry_after_s: 2 });
    const key = toHex(tx.id);
    if (this.mempool.has(key)) return { id: tx.id };
    if (this.blocksById.has(key)) throw new SteleError('TX_DUPLICATE', 'already committed');
    if (this.mempool.size >= this.mempoolMax) throw new SteleError('MEMPOOL_FULL', 'the mempool is full', { retry_after_s: 3 });
    // Pre-execution over the committed state plus everything pending (a refused one leaves
    // no trace in the builder).
    this.speculative ??= new BlockBuilder(this.genesis, this.state, this.tip.height + 1);
    const refusal = this.speculative.admit(tx);
    if (refusal !== null) {
      this.refused.set(key, { code: refusal.code, reason: refusal.reason });
      throw refusal;
    }
    this.mempool.set(key, tx);
    return { id: tx.id };
  }

  waitForCommit(id: Uint8Array, timeoutMs: number): Promise<CommitLocation> {
    const key = toHex(id);
    const done = this.blocksById.get(key);
    const failure = this.failed.get(key);
    if (done !== undefined && failure !== undefined) return Promise.reject(new SteleError(failure, `failed in block ${done.height} at index ${done.index}`, { id: key, ...done }));
    if (done !== undefined) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.set(key, (this.waiters.get(key) ?? []).filter((w) => w.timer !== timer));
        reject(new SteleError('COMMIT_TIMEOUT', `not committed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, [...(this.waiters.get(key) ?? []), { resolve, reject, timer }]);
    });
  }

  /**
   * Appends a block whose encoding is `bytes` (any bytes: stream tests of large blocks) at
   * the next height, as a copy of the last real block otherwise, and delivers it to the
   * listeners as a commit would. The chain is no longer valid after it: commit() no more.
   */
  appendSynthetic(bytes: Uint8Array): Block {
    const last = this.committed[this.committed.length - 1];
    if (last === undefined) throw new Error('commit a real block first');
    const block: Block = { ...last, header: { ...last.header, height: this.tip.height + 1 }, bytes };
    this.committed.push(block);
    this.tip = { ...this.tip, height: block.header.height };
    this.emit(block);
    return block;
  }

  /**
   * Cuts one block of everything pending (the test plays the leader), after `first`: taken
   * without admission, as a leader takes forwarded transactions, so that a pending one can
   * fail at the cut.
   */
  commit(first: readonly Tx[] = []): Block {
    const txs = [...first, ...this.mempool.values()];
    this.mempool.clear();
    this.speculative = null;
    const { block, refused } = produceBlock(this.chain, this.tip, this.state, txs, { proposer: 0, timeMs: this.tip.timeMs + 1000 });
    for (const r of refused) this.refused.set(toHex(r.tx.id), { code: r.code as ErrorCode, reason: 'refused when the block was cut' });
    const result = executeBlock(this.genesis, this.state, block.txs, block.header.height, this.tip.stateHash, { signatures: 'verified' });
    this.state.apply(result.writeSet);
    this.tip = { height: block.header.height, hash: block.hash, stateHash: block.header.stateHash, timeMs: block.header.timeMs };
    this.committed.push(block);
    const failures = new Map(result.failed.map((f) => [f.index, f.code]));
    block.txs.forEach((tx, index) => {
      const key = toHex(tx.id);
      const at = { height: block.header.height, index };
      this.blocksById.set(key, at);
      const failure = failures.get(index);
      if (failure !== undefined) {
        this.failed.set(key, failure);
        for (const w of this.waiters.get(key) ?? []) {
          clearTimeout(w.timer);
          w.reject(new SteleError(failure, `failed in block ${at.height} at index ${index}`, { id: key, ...at }));
        }
        this.waiters.delete(key);
        return;
      }
      if (tx.body.payload.type === 'put') {
        const p = tx.body.payload;
        const owner = toHex(p.owner);
        const list = (this.records.get(owner) ?? []).filter((r) => r.key !== p.key);
        list.push({ key: p.key, value: p.value, height: block.header.height });
        list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        this.records.set(owner, list);
      }
      for (const w of this.waiters.get(key) ?? []) {
        clearTimeout(w.timer);
        w.resolve(at);
      }
      this.waiters.delete(key);
    });
    for (const r of refused) {
      const key = toHex(r.tx.id);
      for (const w of this.waiters.get(key) ?? []) {
        clearTimeout(w.timer);
        w.reject(new SteleError(r.code as ErrorCode, 'refused when the block was cut'));
      }
      this.waiters.delete(key);
    }
    for (const listener of this.listeners) listener(block);
    return block;
  }

  transaction(id: Uint8Array): TransactionStatus {
    const key = toHex(id);
    if (this.mempool.has(key)) return { status: 'pending' };
    const at = this.blocksById.get(key);
    if (at !== undefined) {
      const block = this.committed[at.height - 1] as Block;
      const proof = merkleProof(block.txs.map((t) => leafHash(t.bytes)), at.index);
      const failure = this.failed.get(key);
      if (failure !== undefined) return { status: 'failed', height: at.height, index: at.index, proof, code: failure, reason: `failed in block ${at.height} at index ${at.index}` };
      return { status: 'committed', height: at.height, index: at.index, proof };
    }
    const refused = this.refused.get(key);
    if (refused !== undefined) return { status: 'refused', code: refused.code, reason: refused.reason };
    return { status: 'unknown' };
  }

  blockFailures(height: number): Array<{ index: number; code: ErrorCode }> {
    const block = this.committed[height - 1];
    if (block === undefined) return [];
    return block.txs.flatMap((t, index) => {
      const code = this.failed.get(toHex(t.id));
      return code === undefined ? [] : [{ index, code }];
    });
  }

  async latestHeight(): Promise<number> {
    return this.tip.height;
  }

  async block(height: number): Promise<Block | null> {
    this.blockReads++;
    return this.committed[height - 1] ?? null;
  }

  /** Pages of blocks stop after this many, as a node's stop at a byte budget (NodeView.blocks). */
  pageMax = Number.MAX_SAFE_INTEGER;

  async blocks(from: number, count: number): Promise<readonly Block[]> {
    this.blockReads++;
    return this.committed.slice(from - 1, from - 1 + Math.min(count, this.pageMax));
  }

  async blocksBytes(from: number, count: number): Promise<readonly Uint8Array[]> {
    this.bytesReads++;
    if (this.bytesGate !== null) await this.bytesGate;
    return this.committed.slice(from - 1, from - 1 + Math.min(count, this.pageMax)).map((b) => b.bytes);
  }

  account(publicKey: Uint8Array): AccountView {
    const balances = new Map<string, bigint>();
    for (const asset of this.genesis.assets) {
      const amount = balanceOf(this.state, publicKey, asset.symbol);
      if (amount > 0n) balances.set(asset.symbol, amount);
    }
    return { balances, identity: this.identity(publicKey), records: this.records.get(toHex(publicKey)) ?? [], recordsTruncated: false };
  }

  identity(publicKey: Uint8Array): IdentityView | null {
    const x = identityOf(this.state, publicKey);
    return x === undefined ? null : { name: x.name, roles: x.roles, revoked: x.revoked };
  }

  onCommittedBlock(listener: (block: Block) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Delivers a block to the listeners without committing it (stream tests). */
  emit(block: Block): void {
    for (const listener of this.listeners) listener(block);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  metrics(): Metric[] {
    return [
      { name: 'stele_node_committed_height', help: 'height of the last committed block', type: 'gauge', samples: [{ value: this.tip.height }] },
      { name: 'stele_node_submitted_total', help: 'transactions offered to the node', type: 'counter', samples: [{ value: BigInt(this.submitted) }] },
    ];
  }
}
