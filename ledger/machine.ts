/**
 * The state machine: deterministic application of transactions and blocks to world state.
 * No clock, no randomness, no I/O: the same chain gives the same state hash everywhere.
 *
 * State keys (printable ASCII, `<k>` = 64 hex chars of a public key):
 *   id/<k>            identity: u8 roles, bool revoked, str name
 *   name/<name>       public key that owns the name
 *   meta/admins       u32 count of unrevoked admins (the last one cannot be revoked)
 *   asset/<SYM>       asset: issuer key, u64 supply
 *   bal/<k>/<SYM>     u64 balance (absent = 0; a zero balance is deleted)
 *   rec/<k>/<key>     record: u64 height written, u8 kind, data or digest
 *   txid/<id hex>     u64 height where the transaction committed; for a failed one
 *                     (below) followed by its refusal code (Writer.str)
 *   txat/<height>     ids committed at that height (32 bytes each), for pruning
 *   ctpl/, cins/, cdue/, meta/cins_next   contracts (see contract-state.ts)
 *
 * A transaction committed at height c has expiry <= c + window, so from height
 * c + window + 1 on it would be refused as expired anyway: its id is pruned then. The
 * window of committed ids therefore holds at most (window + 1) blocks of ids.
 *
 * Every transaction is applied check-then-write: all checks run before the first write,
 * so a refused transaction leaves no trace in the overlay.
 *
 * Invalid and failed (docs/data-model.md, "Failed transactions"). A transaction refused with
 * a code of INVALID_IN_BLOCK (its encoding, size, chain, expiry window, id already used,
 * signatures, or a payload that names a non-signer or a bad key: all decided by the
 * transaction and the height alone) can never be in a block: a block holding one is
 * invalid. Any other refusal depends on the state (balances, identities, roles, contracts),
 * which can change between admission and the cut. Such a transaction stays in the block as
 * *failed*: it changes nothing but its `txid/` key, which records its code, so its id is
 * used up and the outcome is as final as a commit. Before this rule (2026-11-30) the leader
 * dropped it at the cut and told its client "refused"; but another leader's block, or
 * another validator's mempool, could still commit it later.
 */
import { invariant, toHex } from './assert.js';
import { AMOUNT_MAX, BLOCK_RESERVED_BYTES, HASH_BYTES, PUBLIC_KEY_BYTES, RECORD_VALUE_BYTES_MAX } from './constants.js';
import { isStrictPublicKey, verify } from './ed25519.js';
import { Reader, Writer } from './encoding.js';
import { SteleError, type ErrorCode } from './errors.js';
import type { Genesis } from './genesis.js';
import { txatKey } from './committed-ids.js';
import { chainStateHash, encodeWriteSet, MemoryState, Overlay, ZERO_HASH, type StateReader, type Write } from './state.js';
import { Role, type Tx } from './tx.js';
import { applyContractPayload, runDeadlines } from './contract-state.js';

/** What the machine needs from genesis. */
export type ChainParams = Pick<Genesis, 'chainId' | 'limits' | 'validators'>;

export const keys = {
  identity: (k: Uint8Array | string) => `id/${typeof k === 'string' ? k : toHex(k)}`,
  name: (name: string) => `name/${name}`,
  admins: 'meta/admins',
  asset: (symbol: string) => `asset/${symbol}`,
  balance: (k: Uint8Array | string, symbol: string) => `bal/${typeof k === 'string' ? k : toHex(k)}/${symbol}`,
  record: (k: Uint8Array, key: string) => `rec/${toHex(k)}/${key}`,
  txid: (id: Uint8Array | string) => `txid/${typeof id === 'string' ? id : toHex(id)}`,
  txat: txatKey,
} as const;

export interface IdentityValue {
  readonly roles: number;
  readonly revoked: boolean;
  readonly name: string;
}
export interface AssetValue {
  readonly issuer: Uint8Array;
  readonly supply: bigint;
}

export function encodeIdentity(v: IdentityValue): Uint8Array {
  return new Writer(80).u8(v.roles).bool(v.revoked).str(v.name, 64).finish();
}
export function decodeIdentity(bytes: Uint8Array): IdentityValue {
  const r = new Reader(bytes, 128, 'identity');
  const value = { roles: r.u8('roles'), revoked: r.bool('revoked'), name: r.str(64, 'name') };
  r.end();
  return value;
}
export function encodeAsset(v: AssetValue): Uint8Array {
  return new Writer(40).fixed(v.issuer, PUBLIC_KEY_BYTES).u64n(v.supply).finish();
}
export function decodeAsset(bytes: Uint8Array): AssetValue {
  const r = new Reader(bytes, 40, 'asset');
  const value = { issuer: Uint8Array.from(r.fixed(PUBLIC_KEY_BYTES, 'issuer')), supply: r.u64n('supply') };
  r.end();
  return value;
}
// Hot path: one scratch view instead of a DataView per balance read or write.
const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);
function encodeU64(n: bigint): Uint8Array {
  scratchView.setBigUint64(0, n);
  return scratch.slice();
}
function decodeU64(bytes: Uint8Array): bigint {
  invariant(bytes.length === 8, 'u64 state value is 8 bytes');
  scratch.set(bytes);
  return scratchView.getBigUint64(0);
}
/** The txid value (the commit height), shared by every id of a block: values are never mutated. */
let heightValue: { height: number; bytes: Uint8Array } = { height: -1, bytes: new Uint8Array(8) };
function committedAt(height: number): Uint8Array {
  if (heightValue.height !== height) heightValue = { height, bytes: encodeU64(BigInt(height)) };
  return heightValue.bytes;
}
function encodeU32(n: number): Uint8Array {
  return new Writer(4).u32(n).finish();
}
function decodeU32(bytes: Uint8Array): number {
  invariant(bytes.length === 4, 'u32 state value is 4 bytes');
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

/**
 * Refusal codes decided by the transaction and the height alone: a block holding a
 * transaction refused with one of these is invalid. Every other refusal code is a failure
 * that a block records (see the top of this file).
 */
export const INVALID_IN_BLOCK: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TX_MALFORMED',
  'TX_TOO_LARGE',
  'TX_WRONG_CHAIN',
  'TX_EXPIRED',
  'TX_EXPIRY_TOO_FAR',
  'TX_DUPLICATE',
  'TX_BAD_SIGNATURE',
  'TX_NOT_SIGNER',
  'TX_BAD_KEY',
  'TX_UNSUPPORTED_TYPE',
  'BLOCK_TOO_LARGE',
]);

/** A refused transaction: the stable code and a human reason. */
export class TxRefusal extends SteleError {
  /** True when a block records this refusal as a failed transaction instead of being invalid. */
  get failsInBlock(): boolean {
    return !INVALID_IN_BLOCK.has(this.code);
  }
}

/** A transaction a block holds as failed: its position and refusal. */
export interface TxFailure {
  readonly index: number;
  readonly code: ErrorCode;
  readonly reason: string;
  /** The refusal's details (CONTRACT_REJECTED's diagnostics, ...): told to waiters, not in the state. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** The `txid/` value of a transaction that failed at `height` with `code`. */
export function failedTxidValue(height: number, code: ErrorCode): Uint8Array {
  return new Writer(16 + code.length).u64(height).str(code, 64).finish();
}

/** A `txid/` value: the height, and the refusal code when the transaction failed. */
export function decodeTxidValue(bytes: Uint8Array): { height: number; failed: ErrorCode | null } {
  const r = new Reader(bytes, 80, 'txid');
  const height = r.u64('height');
  const failed = r.remaining === 0 ? null : (r.str(64, 'code') as ErrorCode);
  r.end();
  return { height, failed };
}

function refuse(code: ErrorCode, message: string): never {
  throw new TxRefusal(code, message);
}

/** Balance of `key` in `symbol` (0 when absent). */
export function balanceOf(state: StateReader, key: Uint8Array | string, symbol: string): bigint {
  return readBalance(state, keys.balance(key, symbol));
}

export function identityOf(state: StateReader, key: Uint8Array | string): IdentityValue | undefined {
  const raw = state.get(keys.identity(key));
  return raw === undefined ? undefined : decodeIdentity(raw);
}

/** Writes a balance under its full state key (a zero balance is deleted). */
export function putBalance(state: Overlay, balanceKey: string, amount: bigint): void {
  invariant(amount >= 0n && amount <= AMOUNT_MAX, 'balance within u64');
  if (amount === 0n) state.delete(balanceKey);
  else state.set(balanceKey, encodeU64(amount));
}

function readBalance(state: StateReader, balanceKey: string): bigint {
  const raw = state.get(balanceKey);
  return raw === undefined ? 0n : decodeU64(raw);
}

/**
 * The roles of an active identity. Hot path (every signer and recipient of every
 * transaction): reads the two leading bytes of the identity value instead of decoding it.
 */
function activeRoles(state: StateReader, key: Uint8Array | string, missing: ErrorCode, revokedCode: ErrorCode, what: string): number {
  const hex = typeof key === 'string' ? key : toHex(key);
  const raw = state.get(keys.identity(hex));
  if (raw === undefined) refuse(missing, `${what} ${hex} is not a registered identity`);
  invariant(raw.length >= 2 && (raw[1] as number) <= 1, 'identity value starts with roles and revoked');
  if (raw[1] === 1) refuse(revokedCode, `${what} ${hex} is revoked`);
  return raw[0] as number;
}

/** Index of `key` among the transaction's signers, or -1. */
function signerIndex(tx: Tx, key: Uint8Array): number {
  return tx.body.signers.findIndex((s) => Buffer.compare(s, key) === 0);
}

function isSigner(tx: Tx, key: Uint8Array): boolean {
  return signerIndex(tx, key) >= 0;
}

export interface ApplyOptions {
  /** 'verify': check every signature here; 'verified': the caller already did (verify pool). */
  readonly signatures: 'verify' | 'verified';
}

/**
 * Checks and applies one transaction at `height` onto `state`.
 * @throws TxRefusal with a stable code; the overlay is then unchanged.
 */
export function applyTx(params: ChainParams, state: Overlay, tx: Tx, height: number, options: ApplyOptions): void {
  checkIntrinsic(params, state, tx, height, options);
  applyStateful(state, tx, height);
}

/**
 * Applies `tx` as a block does: null when applied; the refusal when the transaction fails
 * (a code outside INVALID_IN_BLOCK), after recording it as failed (its `txid/` key and
 * nothing else).
 * @throws TxRefusal with a code of INVALID_IN_BLOCK; the overlay is then unchanged.
 */
export function applyInBlock(params: ChainParams, state: Overlay, tx: Tx, height: number, options: ApplyOptions): TxRefusal | null {
  checkIntrinsic(params, state, tx, height, options);
  try {
    applyStateful(state, tx, height);
    return null;
  } catch (error) {
    if (!(error instanceof TxRefusal)) throw error;
    invariant(error.failsInBlock, 'checks decided by the transaction alone come first');
    state.set(keys.txid(tx.idHex), failedTxidValue(height, error.code));
    return error;
  }
}

/**
 * The checks decided by the transaction and the height alone (INVALID_IN_BLOCK), and the
 * id not used before. They all run before any state-dependent check, so a transaction that
 * fails them is refused with one of those codes whatever the state.
 */
function checkIntrinsic(params: ChainParams, state: StateReader, tx: Tx, height: number, options: ApplyOptions): void {
  const { body } = tx;
  if (tx.bytes.length > params.limits.tx_bytes_max) refuse('TX_TOO_LARGE', `${tx.bytes.length} bytes exceeds ${params.limits.tx_bytes_max}`);
  if (body.chainId !== params.chainId) refuse('TX_WRONG_CHAIN', `chain ${body.chainId}, expected ${params.chainId}`);
  if (body.expiry < height) refuse('TX_EXPIRED', `expiry ${body.expiry} is before height ${height}`);
  const window = params.limits.expiry_window_blocks;
  if (body.expiry > height + window) refuse('TX_EXPIRY_TOO_FAR', `expiry ${body.expiry} beyond height ${height} + window ${window}`);
  const p = body.payload;
  if (p.type === 'transfer' && !isSigner(tx, p.from)) refuse('TX_NOT_SIGNER', `the sender ${toHex(p.from)} did not sign`);
  if (p.type === 'put' && !isSigner(tx, p.owner)) refuse('TX_NOT_SIGNER', `the owner ${toHex(p.owner)} did not sign`);
  if (p.type === 'register' && !isStrictPublicKey(p.publicKey)) refuse('TX_BAD_KEY', `${toHex(p.publicKey)} is not a valid strict Ed25519 key`);
  if (state.get(keys.txid(tx.idHex)) !== undefined) refuse('TX_DUPLICATE', `transaction ${tx.idHex} is already committed`);
  if (options.signatures === 'verify') {
    for (let i = 0; i < body.signers.length; i++) {
      if (!verify(body.signers[i] as Uint8Array, tx.bodyBytes, tx.signatures[i] as Uint8Array)) {
        refuse('TX_BAD_SIGNATURE', `signature ${i} does not verify`);
      }
    }
  }
}

/** The state-dependent checks and the writes of an intrinsically valid `tx`. */
function applyStateful(state: Overlay, tx: Tx, height: number): void {
  // Hex of each signer, computed once: identity and balance keys of signers reuse it.
  const signerHex = tx.body.signers.map(toHex);
  let roles = 0;
  for (const hex of signerHex) roles |= activeRoles(state, hex, 'TX_UNKNOWN_SIGNER', 'TX_REVOKED_SIGNER', 'signer');
  applyPayload(state, tx, height, roles, signerHex);
  state.set(keys.txid(tx.idHex), committedAt(height));
}

function lowestSignerWith(state: StateReader, tx: Tx, role: number): Uint8Array {
  const key = tx.body.signers.find((s) => ((identityOf(state, s)?.roles ?? 0) & role) !== 0);
  invariant(key !== undefined, 'a signer holds the role (checked before)');
  return key;
}

function applyPayload(state: Overlay, tx: Tx, height: number, roles: number, signerHex: readonly string[]): void {
  const p = tx.body.payload;
  switch (p.type) {
    case 'register': {
      if ((roles & Role.admin) === 0) refuse('TX_MISSING_ROLE', 'register needs an admin signer');
      if (state.get(keys.identity(p.publicKey)) !== undefined) refuse('TX_IDENTITY_EXISTS', `${toHex(p.publicKey)} is already registered`);
      if (state.get(keys.name(p.name)) !== undefined) refuse('TX_IDENTITY_EXISTS', `the name ${p.name} is taken`);
      state.set(keys.identity(p.publicKey), encodeIdentity({ roles: p.roles, revoked: false, name: p.name }));
      state.set(keys.name(p.name), Uint8Array.from(p.publicKey));
      if ((p.roles & Role.admin) !== 0) state.set(keys.admins, encodeU32(adminCount(state) + 1));
      return;
    }
    case 'revoke': {
      if ((roles & Role.admin) === 0) refuse('TX_MISSING_ROLE', 'revoke needs an admin signer');
      const target = identityOf(state, p.publicKey);
      if (target === undefined) refuse('TX_UNKNOWN_IDENTITY', `${toHex(p.publicKey)} is not registered`);
      if (target.revoked) refuse('TX_ALREADY_REVOKED', `${toHex(p.publicKey)} is already revoked`);
      const isAdmin = (target.roles & Role.admin) !== 0;
      if (isAdmin && adminCount(state) <= 1) refuse('TX_SELF_REVOKE', 'the last admin cannot be revoked');
      state.set(keys.identity(p.publicKey), encodeIdentity({ ...target, revoked: true }));
      if (isAdmin) state.set(keys.admins, encodeU32(adminCount(state) - 1));
      return;
    }
    case 'issue': {
      if ((roles & Role.issuer) === 0) refuse('TX_MISSING_ROLE', 'issue needs an issuer signer');
      const raw = state.get(keys.asset(p.asset));
      const existing = raw === undefined ? undefined : decodeAsset(raw);
      if (existing !== undefined && !isSigner(tx, existing.issuer)) {
        refuse('TX_NOT_ASSET_ISSUER', `${p.asset} is issued by ${toHex(existing.issuer)}, who did not sign`);
      }
      activeRoles(state, p.to, 'TX_UNKNOWN_RECIPIENT', 'TX_UNKNOWN_RECIPIENT', 'recipient');
      const supply = (existing?.supply ?? 0n) + p.amount;
      if (supply > AMOUNT_MAX) refuse('TX_SUPPLY_OVERFLOW', `supply of ${p.asset} would exceed 2^64-1`);
      const issuer = existing?.issuer ?? lowestSignerWith(state, tx, Role.issuer);
      const balance = balanceOf(state, p.to, p.asset) + p.amount; // <= supply <= AMOUNT_MAX
      state.set(keys.asset(p.asset), encodeAsset({ issuer, supply }));
      putBalance(state, keys.balance(p.to, p.asset), balance);
      return;
    }
    case 'transfer': {
      const sender = signerIndex(tx, p.from);
      invariant(sender >= 0, 'the sender signed (checkIntrinsic)');
      if (state.get(keys.asset(p.asset)) === undefined) refuse('TX_UNKNOWN_ASSET', `asset ${p.asset} does not exist`);
      const toHexKey = toHex(p.to);
      activeRoles(state, toHexKey, 'TX_UNKNOWN_RECIPIENT', 'TX_UNKNOWN_RECIPIENT', 'recipient');
      const fromKey = keys.balance(signerHex[sender] as string, p.asset);
      const from = readBalance(state, fromKey);
      if (from < p.amount) refuse('TX_INSUFFICIENT_BALANCE', `balance ${from} ${p.asset} is below ${p.amount}`);
      putBalance(state, fromKey, from - p.amount);
      // Read the recipient after the debit so a transfer to oneself nets to zero.
      const toKey = keys.balance(toHexKey, p.asset);
      putBalance(state, toKey, readBalance(state, toKey) + p.amount);
      return;
    }
    case 'put': {
      const w = new Writer(64 + (p.value.kind === 'inline' ? p.value.data.length : HASH_BYTES)).u64(height);
      if (p.value.kind === 'inline') w.u8(0).bytes(p.value.data, RECORD_VALUE_BYTES_MAX);
      else w.u8(1).fixed(p.value.digest, HASH_BYTES);
      state.set(keys.record(p.owner, p.key), w.finish());
      return;
    }
    case 'deploy':
    case 'create':
    case 'act':
      applyContractPayload(state, tx, height);
      return;
  }
}

function adminCount(state: StateReader): number {
  const raw = state.get(keys.admins);
  return raw === undefined ? 0 : decodeU32(raw);
}

/** Removes the ids committed at height - window - 1 (they can only be refused as expired now). */
function pruneCommittedIds(params: ChainParams, state: Overlay, height: number): void {
  const old = height - params.limits.expiry_window_blocks - 1;
  if (old < 1) return;
  const raw = state.get(keys.txat(old));
  if (raw === undefined) return;
  invariant(raw.length % HASH_BYTES === 0, 'txat value is a list of ids');
  for (let at = 0; at < raw.length; at += HASH_BYTES) state.delete(keys.txid(raw.subarray(at, at + HASH_BYTES)));
  state.delete(keys.txat(old));
}

export interface BlockResult {
  readonly overlay: Overlay;
  readonly writeSet: Write[];
  readonly writeSetBytes: Uint8Array;
  readonly stateHash: Uint8Array;
  /** The block's failed transactions, by ascending index (usually none). */
  readonly failed: readonly TxFailure[];
}

/** Seals an overlay holding a block's transactions: prune, record ids, hash. */
export function sealBlock(
  params: ChainParams,
  overlay: Overlay,
  txs: readonly Tx[],
  height: number,
  previousStateHash: Uint8Array,
  failed: readonly TxFailure[] = [],
): BlockResult {
  pruneCommittedIds(params, overlay, height);
  if (txs.length > 0) {
    const ids = new Uint8Array(txs.length * HASH_BYTES);
    txs.forEach((t, i) => ids.set(t.id, i * HASH_BYTES));
    overlay.set(keys.txat(height), ids);
  }
  const writeSet = overlay.writeSet();
  const writeSetBytes = encodeWriteSet(writeSet);
  return { overlay, writeSet, writeSetBytes, stateHash: chainStateHash(previousStateHash, height, writeSetBytes), failed };
}

/**
 * Applies a block's transactions in order at `height` over `base`. A transaction refused
 * with a code of INVALID_IN_BLOCK makes the block invalid; any other refusal is recorded
 * as the transaction's failure (applyInBlock) and listed in the result.
 * @throws SteleError BLOCK_BAD_TRANSACTION with `details.index` and `details.tx_code`.
 */
export function executeBlock(
  params: ChainParams,
  base: StateReader,
  txs: readonly Tx[],
  height: number,
  previousStateHash: Uint8Array,
  options: ApplyOptions,
): BlockResult {
  const overlay = new Overlay(base);
  runDeadlines(overlay, height);
  const failed: TxFailure[] = [];
  for (let i = 0; i < txs.length; i++) {
    let failure: TxRefusal | null;
    try {
      failure = applyInBlock(params, overlay, txs[i] as Tx, height, options);
    } catch (error) {
      if (!(error instanceof TxRefusal)) throw error;
      throw new SteleError('BLOCK_BAD_TRANSACTION', `transaction ${i} refused: ${error.message}`, { index: i, tx_code: error.code });
    }
    if (failure !== null) failed.push({ index: i, code: failure.code, reason: failure.reason, details: failure.details });
  }
  return sealBlock(params, overlay, txs, height, previousStateHash, failed);
}

/** What `BlockBuilder.offer` did with a transaction. */
export type Offered =
  | { readonly kind: 'applied' }
  /** In the block as a failed transaction (a state-dependent refusal): as final as a commit once the block commits. */
  | { readonly kind: 'failed'; readonly refusal: TxRefusal }
  /** Not in the block: INVALID_IN_BLOCK (BLOCK_TOO_LARGE when the block is full). */
  | { readonly kind: 'refused'; readonly refusal: TxRefusal };

const APPLIED: Offered = { kind: 'applied' };

/**
 * The leader's speculative block builder: offers transactions one by one over a base that
 * may itself be speculative; refused ones are reported and leave no trace. Throwing the
 * builder away discards everything.
 */
export class BlockBuilder {
  private readonly overlay: Overlay;
  private readonly accepted: Tx[] = [];
  private readonly failed: TxFailure[] = [];
  private bytes = 0;

  constructor(
    private readonly params: ChainParams,
    base: StateReader,
    readonly height: number,
    private readonly options: ApplyOptions = { signatures: 'verify' },
  ) {
    this.overlay = new Overlay(base);
    // Deadlines come before the block's transactions (SCL.md section 4).
    runDeadlines(this.overlay, height);
  }

  /** The block's transactions so far, failed ones included. */
  get txs(): readonly Tx[] {
    return this.accepted;
  }

  /** True when another transaction of `size` bytes would exceed the block limits. */
  full(size = 0): boolean {
    const { limits } = this.params;
    return this.accepted.length >= limits.block_txs_max || this.bytes + size + 4 > limits.block_bytes_max - BLOCK_RESERVED_BYTES;
  }

  /**
   * Puts `tx` in the block, applied or failed (applyInBlock), or refuses it (a code of
   * INVALID_IN_BLOCK, or BLOCK_TOO_LARGE when the block is full), leaving no trace then.
   */
  offer(tx: Tx): Offered {
    if (this.full(tx.bytes.length)) return { kind: 'refused', refusal: new TxRefusal('BLOCK_TOO_LARGE', 'the block is full') };
    let failure: TxRefusal | null;
    try {
      failure = applyInBlock(this.params, this.overlay, tx, this.height, this.options);
    } catch (error) {
      if (error instanceof TxRefusal) return { kind: 'refused', refusal: error };
      throw error;
    }
    if (failure !== null) this.failed.push({ index: this.accepted.length, code: failure.code, reason: failure.reason, details: failure.details });
    this.accepted.push(tx);
    this.bytes += tx.bytes.length + 4;
    return failure === null ? APPLIED : { kind: 'failed', refusal: failure };
  }

  /**
   * Dry-runs `tx` alone on this builder's state (its base and the block's deadlines, not the
   * transactions offered so far), recording nothing: null when it would be applied, otherwise
   * the refusal (admission refuses a transaction that would fail). Admission checks many
   * transactions against one builder this way instead of building one (and running the
   * deadlines again) per transaction.
   */
  check(tx: Tx, options: ApplyOptions = this.options): TxRefusal | null {
    try {
      applyTx(this.params, new Overlay(this.overlay), tx, this.height, options);
    } catch (error) {
      if (error instanceof TxRefusal) return error;
      throw error;
    }
    return null;
  }

  /**
   * Dry-runs `tx` on this builder's state and keeps its writes there, without putting it
   * in the block: admission of a batch, where a later item may rely on an earlier one
   * (register an identity, then pay it). A refused transaction leaves no trace (every
   * check comes before any write). Use on an admission builder only, never on one that
   * cuts a block.
   */
  admit(tx: Tx, options: ApplyOptions = this.options): TxRefusal | null {
    try {
      applyTx(this.params, this.overlay, tx, this.height, options);
    } catch (error) {
      if (error instanceof TxRefusal) return error;
      throw error;
    }
    return null;
  }

  /** Seals the block: its write set and state hash. The builder must not be used after. */
  seal(previousStateHash: Uint8Array): BlockResult {
    return sealBlock(this.params, this.overlay, this.accepted, this.height, previousStateHash, this.failed);
  }
}

/** The initial state from genesis: its write set and state hash (height 0). */
export function genesisState(g: Genesis): { state: MemoryState; writeSet: Write[]; stateHash: Uint8Array } {
  const overlay = new Overlay(new MemoryState());
  let admins = 0;
  for (const x of g.identities) {
    overlay.set(keys.identity(x.publicKey), encodeIdentity({ roles: x.roles, revoked: false, name: x.name }));
    overlay.set(keys.name(x.name), Uint8Array.from(x.publicKey));
    if ((x.roles & Role.admin) !== 0) admins++;
  }
  overlay.set(keys.admins, encodeU32(admins));
  const supply = new Map<string, bigint>();
  for (const b of g.balances) {
    overlay.set(keys.balance(b.publicKey, b.asset), encodeU64(b.amount));
    supply.set(b.asset, (supply.get(b.asset) ?? 0n) + b.amount);
  }
  for (const a of g.assets) overlay.set(keys.asset(a.symbol), encodeAsset({ issuer: a.issuer, supply: supply.get(a.symbol) ?? 0n }));
  const writeSet = overlay.writeSet();
  const state = new MemoryState();
  state.apply(writeSet);
  return { state, writeSet, stateHash: chainStateHash(ZERO_HASH, 0, encodeWriteSet(writeSet)) };
}
