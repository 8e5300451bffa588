/**
 * The contract between the REST API and the validator node: everything `api/` needs from
 * a running node, and nothing more. The API never reaches into the node's internals; the
 * node implements this interface (the tests implement it with a fake, test/api/fake-node.ts).
 *
 * Rules both sides keep:
 * - Byte values are `Uint8Array`s (public keys 32 bytes, ids and hashes 32 bytes); amounts
 *   are `bigint`; heights and indexes are safe integers.
 * - Methods may answer synchronously or with a Promise (`Awaitable`); the API awaits both.
 * - Expected refusals reject with a `SteleError` (ledger/errors.ts) whose code the API maps
 *   to an HTTP status (api/errors.ts). Anything else thrown is a bug: the API answers
 *   500 API_INTERNAL without details and logs it.
 * - Blocks are ledger `Block`s (ledger/block.ts): decoded fields plus `bytes`, the exact
 *   canonical encoding, which the API serves unchanged to binary readers (audit, export).
 */
import type { Block } from '../ledger/block.js';
import type { ErrorCode, SteleError } from '../ledger/errors.js';
import type { Genesis } from '../ledger/genesis.js';
import type { MerkleProof } from '../ledger/merkle.js';
import type { RecordValue, Tx } from '../ledger/tx.js';

export type Awaitable<T> = T | Promise<T>;

/** What the node knows of a validator's reachability. */
export type ValidatorHealth = 'up' | 'down' | 'unknown';

export interface ValidatorStatus {
  /** Position in genesis `validators` (the index used in ballots and certificates). */
  readonly index: number;
  readonly id: string;
  readonly publicKey: Uint8Array;
  /** host:port of its peer transport, as in genesis. */
  readonly address: string;
  readonly health: ValidatorHealth;
}

export interface NodeStatus {
  readonly chainId: string;
  readonly validators: readonly ValidatorStatus[];
  /** Index of the validator this node believes leads, or null when none is known. */
  readonly leader: number | null;
  /** The highest ballot this node has seen. */
  readonly ballot: { readonly round: number; readonly leader: number };
  /** Height of the last committed block (0 before the first). */
  readonly committedHeight: number;
  /** Transactions waiting in this node's mempool (on a follower: those not yet forwarded). */
  readonly mempoolSize: number;
  /** TEST ONLY: true when this node drops peer messages as its config's test_faults_file says (node/faults.ts); absent otherwise. */
  readonly testFaultsEnabled?: true;
}

/** Where a committed transaction sits. */
export interface CommitLocation {
  readonly height: number;
  /** Position in the block's transaction list (the Merkle leaf index). */
  readonly index: number;
}

export type TransactionStatus =
  | { readonly status: 'pending' }
  | { readonly status: 'committed'; readonly height: number; readonly index: number; readonly proof: MerkleProof }
  /** In a committed block as failed (ledger/machine.ts): final, with its inclusion proof. */
  | { readonly status: 'failed'; readonly height: number; readonly index: number; readonly proof: MerkleProof; readonly code: ErrorCode; readonly reason: string }
  | { readonly status: 'refused'; readonly code: ErrorCode; readonly reason: string }
  | { readonly status: 'unknown' };

export interface IdentityView {
  readonly name: string;
  /** Role bits (ledger/tx.ts Role). */
  readonly roles: number;
  readonly revoked: boolean;
}

export interface RecordView {
  readonly key: string;
  readonly value: RecordValue;
  /** Height of the block that wrote it. */
  readonly height: number;
}

/** A contract template this account deployed (ledger/contract-state.ts). */
export interface ContractView {
  readonly name: string;
  /** Height of the deploy transaction. */
  readonly height: number;
}

/** A contract instance the account is a party to: one entry per party it is bound to. */
export interface InstanceView {
  readonly id: number;
  readonly contract: string;
  /** Current state name. */
  readonly state: string;
  /** The party name this account is bound to. */
  readonly party: string;
}

/** Bound on the records one account answer carries (the node stops there and says so). */
export const ACCOUNT_RECORDS_MAX = 1_000;

export interface AccountView {
  /** Nonzero balances by asset symbol. */
  readonly balances: ReadonlyMap<string, bigint>;
  /** The registered identity of this key, or null when it never was registered. */
  readonly identity: IdentityView | null;
  /** Records it owns, in key order, at most ACCOUNT_RECORDS_MAX. */
  readonly records: readonly RecordView[];
  /** True when the account owns more records than `records` holds. */
  readonly recordsTruncated: boolean;
  /** True when the account holds more assets than `balances` lists (the node's bound; absent: false). */
  readonly balancesTruncated?: boolean;
  /** Contracts this key deployed, by name, at most ACCOUNT_RECORDS_MAX. Optional: a node that does not read contract state omits it. */
  readonly contracts?: readonly ContractView[];
  /** Instances this key is a party to, by id, at most ACCOUNT_RECORDS_MAX. Optional, as above. */
  readonly instances?: readonly InstanceView[];
  /** True when the account has more contracts (instances) than the list holds. */
  readonly contractsTruncated?: boolean;
  readonly instancesTruncated?: boolean;
}

/** One Prometheus metric family. */
export interface Metric {
  /** [a-zA-Z_:][a-zA-Z0-9_:]* (checked when rendered). */
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** A histogram's samples carry `suffix` (`_bucket` with an `le` label, `_sum`, `_count`): see api/metrics.ts Histogram. */
  readonly samples: readonly { readonly suffix?: '_bucket' | '_sum' | '_count'; readonly labels?: Readonly<Record<string, string>>; readonly value: number | bigint }[];
}

/** Limit flags of the contract checker (SCL.md section 6); absent ones take the checker defaults. */
export interface LintOptions {
  readonly maxPaths?: number;
  readonly maxDepth?: number;
  readonly maxHorizon?: number;
}

/** One diagnostic of `stele lint --json` (SCL.md section 6). */
export interface LintDiagnostic {
  readonly ruleId: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly contract?: string;
  readonly state?: string;
  readonly trace?: readonly string[];
  readonly figure?: { readonly value: number | string; readonly limit: number | string };
}

/** The `stele lint --json` document. */
export interface LintReport {
  readonly diagnostics: readonly LintDiagnostic[];
  readonly summary: { readonly files: number; readonly contracts: number; readonly errors: number; readonly warnings: number };
}

export interface NodeView {
  readonly chainId: string;
  readonly genesis: Genesis;

  /** A snapshot of the node's view of the cluster. Cheap: called on every GET /v1/status. */
  status(): Awaitable<NodeStatus>;

  /**
   * Admits a decoded, canonically encoded transaction to the mempool (a follower forwards it
   * to the leader and resolves once the leader admitted it; NOT_LEADER never reaches the API).
   * Resolves with the transaction id once admitted. Submitting an id already pending resolves
   * again with the same id.
   * @throws SteleError TX_* when pre-execution refuses it (signature, identity, role,
   *   balance, expiry, duplicate of a committed id, ...), MEMPOOL_FULL when the mempool is
   *   at its bound (optionally `details.retry_after_s`, sent as Retry-After), NODE_UNAVAILABLE when no leader
   *   can take it now.
   */
  submit(tx: Tx): Promise<{ readonly id: Uint8Array }>;

  /**
   * Optional: admits many transactions in order with the same outcome per item as `submit`
   * one at a time (a later item may depend on an earlier one), but faster (signatures
   * verified together). Each item resolves to its id or to the SteleError `submit` throws.
   */
  submitMany?(txs: readonly Tx[]): Promise<ReadonlyArray<{ readonly id: Uint8Array } | SteleError>>;

  /**
   * Resolves when transaction `id` (already admitted) commits; at once when it already has
   * (it may commit between `submit` resolving and this call).
   * @throws SteleError COMMIT_TIMEOUT after `timeoutMs`; TX_* or CONTRACT_* with
   *   `details.height` and `details.index` when a committed block holds it as failed (the
   *   state changed since admission); TX_EXPIRED once it can no longer commit.
   */
  waitForCommit(id: Uint8Array, timeoutMs: number): Promise<CommitLocation>;

  /** What the node knows of transaction `id`. The latest refusals are remembered, a bounded number of them. */
  transaction(id: Uint8Array): Awaitable<TransactionStatus>;

  /** Height of the last committed block (0 before the first). */
  latestHeight(): Awaitable<number>;

  /** The committed block at `height` (1-based), or null above the committed height. */
  block(height: number): Awaitable<Block | null>;

  /**
   * Up to `count` consecutive committed blocks starting at `from` (fewer at the tip, none
   * above it). The API bounds `count` (api/limits.ts BLOCKS_PAGE_MAX). A node may stop
   * early, before reading a block that would take the page's encodings past
   * BLOCKS_PAGE_BYTES_MAX (never before the first); callers go on from where it stopped.
   */
  blocks(from: number, count: number): Awaitable<readonly Block[]>;

  /**
   * The canonical encodings of the blocks `blocks(from, count)` would give, not decoded:
   * what the binary answers of the block routes send (decoding a block only to send its
   * bytes again cost a leader about 10 us per transaction, docs/performance.md).
   */
  blocksBytes(from: number, count: number): Awaitable<readonly Uint8Array[]>;

  /**
   * The transactions the committed block at `height` holds as failed (ledger/machine.ts),
   * by ascending index: the JSON block answers list them. Optional: without it they say
   * none failed.
   */
  blockFailures?(height: number): Awaitable<ReadonlyArray<{ readonly index: number; readonly code: ErrorCode }>>;

  /** Committed state of one public key. */
  account(publicKey: Uint8Array): Awaitable<AccountView>;

  /** The identity of a public key, or null (members mode calls it on every signed request). */
  identity(publicKey: Uint8Array): Awaitable<IdentityView | null>;

  /**
   * Calls `listener` once per committed block, in height order, after the block is applied
   * and indexed (so `block(height)` already answers it). Returns the unsubscribe function.
   * The listener must not throw and must return quickly (the API only queues a write).
   */
  onCommittedBlock(listener: (block: Block) => void): () => void;

  /** Node counters and gauges, rendered by GET /metrics after the API's own. */
  metrics(): Awaitable<readonly Metric[]>;

  /**
   * Optional: the contract checker (`stele lint --json` on the branch `contracts`). When
   * the node has none, POST /v1/lint answers 501 API_LINT_UNAVAILABLE.
   */
  lint?(files: readonly { readonly file: string; readonly source: string }[], options: LintOptions): Awaitable<LintReport>;
}
