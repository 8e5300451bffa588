/**
 * Chain verification, the heart of `stele audit`: from genesis alone, check each block's
 * encoding, hash chain, time, limits, Merkle root, proposer signature, quorum certificate,
 * every transaction signature, and re-execution against the header's state hash. Stops at
 * the first failure with its height, a stable code and a precise reason.
 *
 * The ledger uses the same `BlockChecker` to accept blocks, so what the node stores is
 * exactly what the auditor accepts.
 */
import { bytesEqual, invariant, toHex } from './assert.js';
import { decodeBlock, proposalMessage, txRootOf, voteMessage, type Block } from './block.js';
import { verify, verifyReference } from './ed25519.js';
import { isSteleError, SteleError, type ErrorCode } from './errors.js';
import { quorumSize, type Genesis } from './genesis.js';
import { executeBlock, genesisState, type BlockResult } from './machine.js';
import type { MemoryState, StateReader } from './state.js';
import type { VerifyItem, VerifyJob, VerifyPool } from './verify-pool.js';
import type { Tx } from './tx.js';

/** The last accepted block, as the next one must extend it. */
export interface ChainTip {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stateHash: Uint8Array;
  readonly timeMs: number;
}

export function genesisTip(g: Genesis, stateHash: Uint8Array): ChainTip {
  return { height: 0, hash: g.hash, stateHash, timeMs: g.timeMs };
}

function fail(code: ErrorCode, height: number, message: string, details: Record<string, unknown> = {}): never {
  throw new SteleError(code, `block ${height}: ${message}`, { height, ...details });
}

/**
 * Checks that need no signatures and no state: header fields against the tip and genesis,
 * then the Merkle root (unless `merkle` is false: the caller checks it with `checkTxRoot`).
 */
export function checkStructure(g: Genesis, tip: ChainTip, block: Block, merkle = true): void {
  const h = block.header;
  const height = tip.height + 1;
  if (h.chainId !== g.chainId) fail('BLOCK_WRONG_CHAIN', height, `chain ${h.chainId}, expected ${g.chainId}`);
  if (h.height !== height) fail('BLOCK_BAD_HEIGHT', height, `header height ${h.height}, expected ${height}`);
  if (!bytesEqual(h.prevHash, tip.hash)) {
    fail('BLOCK_BAD_PARENT', height, `previous hash ${toHex(h.prevHash)}, expected ${toHex(tip.hash)}`);
  }
  if (h.timeMs < tip.timeMs) fail('BLOCK_BAD_TIME', height, `time ${h.timeMs} is before the parent's ${tip.timeMs}`);
  if (block.txs.length > g.limits.block_txs_max) fail('BLOCK_TOO_LARGE', height, `${block.txs.length} transactions exceed ${g.limits.block_txs_max}`);
  if (block.bytes.length > g.limits.block_bytes_max) fail('BLOCK_TOO_LARGE', height, `${block.bytes.length} bytes exceed ${g.limits.block_bytes_max}`);
  if (h.proposer >= g.validators.length) fail('BLOCK_BAD_PROPOSER', height, `proposer index ${h.proposer} of ${g.validators.length} validators`);
  if (h.ballot.leader !== h.proposer) fail('BLOCK_BAD_PROPOSER', height, `proposer ${h.proposer} is not the ballot's leader ${h.ballot.leader}`);
  const quorum = quorumSize(g);
  // Distinct voters, checked here too: the decoder refuses repeated or unordered indices,
  // but a block built in memory never went through it, and a vote counted twice would
  // make a quorum of one.
  let previous = -1;
  for (const vote of block.certificate) {
    if (vote.validator >= g.validators.length) fail('BLOCK_BAD_CERTIFICATE', height, `vote from unknown validator index ${vote.validator}`);
    if (vote.validator <= previous) fail('BLOCK_BAD_CERTIFICATE', height, `votes must come from distinct validators in ascending order: index ${vote.validator} after ${previous}`);
    previous = vote.validator;
  }
  if (block.certificate.length < quorum) {
    fail('BLOCK_BAD_CERTIFICATE', height, `${block.certificate.length} votes, a quorum needs ${quorum} of ${g.validators.length}`);
  }
  if (merkle) checkTxRoot(block);
}

/** The header's Merkle root against the block's transactions. */
export function checkTxRoot(block: Block): void {
  if (!bytesEqual(block.header.txRoot, txRootOf(block.txs))) {
    fail('BLOCK_BAD_MERKLE_ROOT', block.header.height, 'the Merkle root does not match the transactions');
  }
}

/** A signature a block carries, with what names it in an error (signatureLabel). */
export interface SignatureItem extends VerifyItem {
  readonly code: ErrorCode;
  /** The transaction's index and its signer's, for a transaction's signature. */
  readonly tx?: number;
  readonly signer?: number;
  /** The voting validator's index, for a vote of the certificate. */
  readonly validator?: number;
}

/** Which of a block's signatures signatureItems lists (all by default). */
export interface SignatureKinds {
  readonly proposer?: boolean;
  readonly certificate?: boolean;
  readonly txs?: boolean;
}

/**
 * The signatures the block carries, of the kinds asked for. Their labels are made only
 * for an error (signatureLabel): making one per transaction signature of every block, as
 * before 2026-12-02, allocated a string per signature, also for those a caller drops.
 */
export function signatureItems(g: Genesis, block: Block, kinds: SignatureKinds = {}): SignatureItem[] {
  const h = block.header;
  const items: SignatureItem[] = [];
  const proposer = g.validators[h.proposer];
  if (proposer !== undefined && kinds.proposer !== false) {
    items.push({ publicKey: proposer.publicKey, message: proposalMessage(h.chainId, h.height, block.hash), signature: block.proposerSignature, code: 'BLOCK_BAD_PROPOSER' });
  }
  if (kinds.certificate !== false) {
    const vote = voteMessage(h.chainId, h.height, block.hash);
    for (const v of block.certificate) {
      const validator = g.validators[v.validator];
      if (validator === undefined) continue;
      items.push({ publicKey: validator.publicKey, message: vote, signature: v.signature, code: 'BLOCK_BAD_CERTIFICATE', validator: v.validator });
    }
  }
  if (kinds.txs !== false) {
    const txs = block.txs;
    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i] as Tx;
      const signers = tx.body.signers;
      for (let j = 0; j < signers.length; j++) {
        items.push({ publicKey: signers[j] as Uint8Array, message: tx.bodyBytes, signature: tx.signatures[j] as Uint8Array, code: 'BLOCK_BAD_TRANSACTION', tx: i, signer: j });
      }
    }
  }
  return items;
}

/** What names a signature of signatureItems in an error message. */
export function signatureLabel(g: Genesis, item: SignatureItem): string {
  if (item.tx !== undefined) return `transaction ${item.tx} signature ${item.signer ?? 0}`;
  if (item.validator !== undefined) return `vote of validator ${item.validator} (${g.validators[item.validator]?.id ?? '?'})`;
  return 'proposer signature';
}

/** A block's signatures under way (BlockChecker.prepare). */
export interface PreparedSignatures {
  readonly items: readonly SignatureItem[];
  readonly job: VerifyJob;
}

export interface CheckOptions {
  /** 'verify' (default): every signature; 'trusted': all but the transactions'. */
  readonly txSignatures?: 'verify' | 'trusted';
  /**
   * 'verify' (default): the certificate's votes are verified here. 'trusted': the caller
   * has verified every vote of this certificate against this block's hash already (the
   * consensus core does, before it commits a value), so only its shape is checked here.
   */
  readonly certificateSignatures?: 'verify' | 'trusted';
  /** 'verify' (default), or 'trusted' when the caller made the proposer signature itself. */
  readonly proposerSignature?: 'verify' | 'trusted';
  /**
   * The result of executing this block that the caller already has: a leader's own block,
   * which it built and executed when it proposed it. It is used instead of executing the
   * block again (and the Merkle root, which the leader computed from these very
   * transactions, is not recomputed) only when it was computed on top of the very state
   * object this check reads (its overlay's base), which proves it read the same state;
   * otherwise the block is executed as usual. Its state hash is still compared.
   */
  readonly executed?: BlockResult;
}

export interface CheckerOptions {
  /** Worker pool for signatures; without one they are verified on this thread. */
  readonly pool?: VerifyPool | undefined;
  /** Use the @noble/curves reference verifier (slow) instead of node:crypto. */
  readonly reference?: boolean;
}

/**
 * Accepts blocks one at a time on top of a tip and a committed state. `check` validates
 * and executes without changing anything; `accept` then moves the tip and applies the
 * write set to the state.
 */
export class BlockChecker {
  /** Blocks whose caller-supplied execution was used (CheckOptions.executed). */
  executionsReused = 0;

  constructor(
    readonly genesis: Genesis,
    readonly state: MemoryState,
    public tip: ChainTip,
    private readonly options: CheckerOptions = {},
  ) {}

  /**
   * Full validation of `block` as the next block. With `txSignatures: 'trusted'` the
   * transactions' signatures are taken as verified (a validator that admitted them did);
   * `certificateSignatures` and `proposerSignature` likewise skip what the caller has
   * verified or made itself. The certificate's shape (a quorum of distinct validators) is
   * always checked.
   * @throws SteleError BLOCK_*.
   */
  async check(block: Block, options: CheckOptions = {}, prepared?: PreparedSignatures): Promise<BlockResult> {
    return this.checkOn(this.state, this.tip, block, options, prepared);
  }

  /**
   * `check` on top of another state and tip: the result of checking the blocks before it
   * (`result.overlay` and that block's tip), so that several blocks can be checked before
   * any is accepted (LedgerStore.commitMany).
   */
  async checkOn(state: StateReader, tip: ChainTip, block: Block, options: CheckOptions = {}, prepared?: PreparedSignatures): Promise<BlockResult> {
    const g = this.genesis;
    const height = tip.height + 1;
    try {
      checkStructure(g, tip, block, false);
    } catch (error) {
      prepared?.job.done.catch(() => {}); // abandoned: the workers finish it, nobody reads it
      throw error;
    }
    // Signatures verify on the worker threads while this thread checks the Merkle root and
    // re-executes the block, then joins them; a bad signature is reported before any
    // execution failure, whatever finishes first.
    const { items, job } = prepared ?? this.prepare(block, options);
    const reuse = options.executed !== undefined && options.executed.overlay.base === state ? options.executed : undefined;
    if (reuse !== undefined) this.executionsReused++;
    try {
      if (reuse === undefined) checkTxRoot(block);
    } catch (error) {
      job.done.catch(() => {}); // abandoned: the workers finish it, nobody reads it
      throw error;
    }
    let result: BlockResult | undefined = reuse;
    let executionError: unknown;
    try {
      result ??= executeBlock(g, state, block.txs, height, tip.stateHash, { signatures: 'verified' });
    } catch (error) {
      executionError = error;
    }
    job.help(); // this thread joins the workers for what is left
    const verdicts = await job.done;
    const bad = verdicts.indexOf(0);
    if (bad >= 0) {
      const item = items[bad] as SignatureItem;
      const details = item.tx === undefined ? {} : { index: item.tx, tx_code: 'TX_BAD_SIGNATURE' };
      fail(item.code, height, `${signatureLabel(g, item)} does not verify`, details);
    }
    if (result === undefined) {
      if (isSteleError(executionError, 'BLOCK_BAD_TRANSACTION')) fail('BLOCK_BAD_TRANSACTION', height, executionError.reason, executionError.details);
      throw executionError;
    }
    if (!bytesEqual(result.stateHash, block.header.stateHash)) {
      fail('BLOCK_BAD_STATE_HASH', height, `state hash ${toHex(block.header.stateHash)}, re-execution gives ${toHex(result.stateHash)}`);
    }
    return result;
  }

  /**
   * Starts verifying `block`'s signatures now; `check(block, options, prepared)` uses the
   * result. The items depend only on the block and the genesis, so an auditor can start
   * the next block's signatures while this thread still executes the current one.
   */
  prepare(block: Block, options: CheckOptions = {}): PreparedSignatures {
    const items = signatureItems(this.genesis, block, {
      proposer: options.proposerSignature !== 'trusted',
      certificate: options.certificateSignatures !== 'trusted',
      txs: options.txSignatures !== 'trusted',
    });
    return { items, job: this.verdicts(items) };
  }

  private verdicts(items: readonly VerifyItem[]): VerifyJob {
    if (this.options.pool !== undefined && this.options.reference !== true) return this.options.pool.start(items);
    // Without workers the signatures are checked after execution, on this thread.
    const check = this.options.reference === true ? verifyReference : verify;
    let verdicts: Uint8Array | undefined;
    return {
      help: () => {
        verdicts = Uint8Array.from(items, (x) => (check(x.publicKey, x.message, x.signature) ? 1 : 0));
      },
      get done() {
        return verdicts === undefined ? Promise.reject(new Error('verdicts read before help()')) : Promise.resolve(verdicts);
      },
    };
  }

  /** Moves the tip past a checked block and applies its write set. */
  accept(block: Block, result: BlockResult): void {
    invariant(block.header.height === this.tip.height + 1, 'blocks are accepted in height order');
    this.state.apply(result.writeSet);
    this.tip = tipOf(block);
  }
}

/** The tip a block makes. */
export function tipOf(block: Block): ChainTip {
  return { height: block.header.height, hash: block.hash, stateHash: block.header.stateHash, timeMs: block.header.timeMs };
}

export interface AuditFailure {
  readonly height: number;
  readonly code: ErrorCode;
  readonly message: string;
}
export interface AuditReport {
  readonly ok: boolean;
  readonly chain_id: string;
  readonly genesis_hash: string;
  /** Height of the last block that passed every check (0: none). */
  readonly height: number;
  readonly transactions: number;
  /** Of `transactions`, those the chain holds as failed (ledger/machine.ts). */
  readonly failed_transactions: number;
  readonly state_hash: string;
  readonly failure: AuditFailure | null;
}

/**
 * Verifies a sequence of encoded blocks from genesis. Never throws for bad blocks: the
 * report names the first failure.
 */
export interface AuditOptions extends CheckerOptions {
  /** Called with each block that passed every check, in order (the audit keeps hashes). */
  readonly onBlock?: (block: Block) => void;
}

export async function verifyChain(g: Genesis, blocks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: AuditOptions = {}): Promise<AuditReport> {
  const initial = genesisState(g);
  const checker = new BlockChecker(g, initial.state, genesisTip(g, initial.stateHash), options);
  let transactions = 0;
  let failedTransactions = 0;
  let failure: AuditFailure | null = null;
  // One block of lookahead: block h+1 is decoded and its signatures handed to the workers
  // before block h is executed, so the workers never wait for this thread's decoding.
  // A failure is still reported at the first failing height: a decode failure of h+1
  // waits until h has passed.
  let ahead: { block: Block; prepared: PreparedSignatures | undefined } | { error: unknown } | null = null;
  const limits = g.limits;
  const decodeAhead = (bytes: Uint8Array): typeof ahead => {
    try {
      const block = decodeBlock(bytes);
      // Signatures of a block over the size limits are never started: check() refuses it.
      const fits = block.txs.length <= limits.block_txs_max && block.bytes.length <= limits.block_bytes_max;
      return { block, prepared: fits ? checker.prepare(block) : undefined };
    } catch (error) {
      return { error };
    }
  };
  const finish = async (item: NonNullable<typeof ahead>, next: NonNullable<typeof ahead> | null): Promise<boolean> => {
    const height = checker.tip.height + 1;
    try {
      if ('error' in item) {
        if (isSteleError(item.error)) fail('BLOCK_MALFORMED', height, item.error.message, { encoding_code: item.error.code });
        throw item.error;
      }
      const result = await checker.check(item.block, {}, item.prepared);
      checker.accept(item.block, result);
      transactions += item.block.txs.length;
      failedTransactions += result.failed.length;
      options.onBlock?.(item.block);
      return true;
    } catch (error) {
      if (next !== null && 'block' in next) next.prepared?.job.done.catch(() => {}); // abandoned
      if (!isSteleError(error)) throw error;
      failure = { height, code: error.code, message: error.reason };
      return false;
    }
  };
  try {
    for await (const bytes of blocks) {
      const next = decodeAhead(bytes);
      if (ahead !== null && !(await finish(ahead, next))) {
        ahead = null;
        break;
      }
      ahead = next;
    }
  } catch (error) {
    // The block source failed (a connection reset under `--url`): the block verified ahead
    // is abandoned, and its job's rejection when the pool closes must not be an unhandled
    // one, which ended the process with "verify pool closed" instead of this error (found
    // in review, 2026-11-30).
    const pending = ahead as typeof ahead;
    if (pending !== null && 'block' in pending) pending.prepared?.job.done.catch(() => {});
    throw error;
  }
  if (ahead !== null) await finish(ahead, null);
  return {
    ok: failure === null,
    chain_id: g.chainId,
    genesis_hash: toHex(g.hash),
    height: checker.tip.height,
    transactions,
    failed_transactions: failedTransactions,
    state_hash: toHex(checker.tip.stateHash),
    failure,
  };
}
