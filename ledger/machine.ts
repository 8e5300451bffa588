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
 *   txid/<id hex>     u64 height where the transaction committed
 *   txat/<height>     ids committed at that height (32 bytes each), for pruning
 *   ctpl/, cins/, cdue/, meta/cins_next   contracts (see contract-state.ts)
 *
 * A transaction committed at height c has expiry <= c + window, so from height
 * c + window + 1 on it would be refused as expired anyway: its id is pruned then. The
 * window of committed ids therefore holds at most (window + 1) blocks of ids.
 *
 * Every transaction is applied check-then-write: all checks run before the first write,
 * so a refused transaction leaves no trace in the overlay.
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

/** A refused transaction: the stable code and a human reason. */
export class TxRefusal extends SteleError {}

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
  const { body } = tx;
  if (tx.bytes.length > params.limits.tx_bytes_max) refuse('TX_TOO_LARGE', `${tx.bytes.length} bytes exceeds ${params.limits.tx_bytes_max}`);
  if (body.chainId !== params.chainId) refuse('TX_WRONG_CHAIN', `chain ${body.chainId}, expected ${params.chainId}`);
  if (body.expiry < height) refuse('TX_EXPIRED', `expiry ${body.expiry} is before height ${height}`);
  const window = params.limits.expiry_window_blocks;
  if (body.expiry > height + window) refuse('TX_EXPIRY_TOO_FAR', `expiry ${body.expiry} beyond height ${height} + window ${window}`);
  const idKey = keys.txid(tx.idHex);
  if (state.get(idKey) !== undefined) refuse('TX_DUPLICATE', `transaction ${tx.idHex} is already committed`);
  // Hex of each signer, computed once: identity and balance keys of signers reuse it.
  const signerHex = body.signers.map(toHex);
  let roles = 0;
  for (const hex of signerHex) roles |= activeRoles(state, hex, 'TX_UNKNOWN_SIGNER', 'TX_REVOKED_SIGNER', 'signer');
  if (options.signatures === 'verify') {
    for (let i = 0; i < body.signers.length; i++) {
      if (!verify(body.signers[i] as Uint8Array, tx.bodyBytes, tx.signatures[i] as Uint8Array)) {
        refuse('TX_BAD_SIGNATURE', `signature ${i} does not verify`);
      }
    }
  }
  applyPayload(state, tx, height, roles, signerHex);
  state.set(idKey, committedAt(height));
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
      if (!isStrictPublicKey(p.publicKey)) refuse('TX_BAD_KEY', `${toHex(p.publicKey)} is not a valid strict Ed25519 key`);
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
      if (sender < 0) refuse('TX_NOT_SIGNER', `the sender ${toHex(p.from)} did not sign`);
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
      if (!isSigner(tx, p.owner)) refuse('TX_NOT_SIGNER', `the owner ${toHex(p.owner)} did not sign`);
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
}

/** Seals an overlay holding a block's transactions: prune, record ids, hash. */
export function sealBlock(params: ChainParams, overlay: Overlay, txs: readonly Tx[], height: number, previousStateHash: Uint8Array): BlockResult {
  pruneCommittedIds(params, overlay, height);
  if (txs.length > 0) {
    const ids = new Uint8Array(txs.length * HASH_BYTES);
    txs.forEach((t, i) => ids.set(t.id, i * HASH_BYTES));
    overlay.set(keys.txat(height), ids);
  }
  const writeSet = overlay.writeSet();
  const writeSetBytes = encodeWriteSet(writeSet);
  return { overlay, writeSet, writeSetBytes, stateHash: chainStateHash(previousStateHash, height, writeSetBytes) };
}

/**
 * Applies a block's transactions in order at `height` over `base`. Every transaction must
 * be accepted (the leader pre-executes, so a committed block never holds a refused one).
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
  for (let i = 0; i < txs.length; i++) {
    try {
      applyTx(params, overlay, txs[i] as Tx, height, options);
    } catch (error) {
      if (!(error instanceof TxRefusal)) throw error;
      throw new SteleError('BLOCK_BAD_TRANSACTION', `transaction ${i} refused: ${error.message}`, { index: i, tx_code: error.code });
    }
  }
  return sealBlock(params, overlay, txs, height, previousStateHash);
}

/**
 * The leader's speculative block builder: offers transactions one by one over a base that
 * may itself be speculative; refused ones are reported and leave no trace. Throwing the
 * builder away discards everything.
 */
export class BlockBuilder {
  private readonly overlay: Overlay;
  private readonly accepted: Tx[] = [];
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

  get txs(): readonly Tx[] {
    return this.accepted;
  }

  /** True when another transaction of `size` bytes would exceed the block limits. */
  full(size = 0): boolean {
    const { limits } = this.params;
    return this.accepted.length >= limits.block_txs_max || this.bytes + size + 4 > limits.block_bytes_max - BLOCK_RESERVED_BYTES;
  }

  /** Applies `tx` speculatively: null when accepted, otherwise the refusal. */
  offer(tx: Tx): TxRefusal | null {
    if (this.full(tx.bytes.length)) return new TxRefusal('BLOCK_TOO_LARGE', 'the block is full');
    try {
      applyTx(this.params, this.overlay, tx, this.height, this.options);
    } catch (error) {
      if (error instanceof TxRefusal) return error;
      throw error;
    }
    this.accepted.push(tx);
    this.bytes += tx.bytes.length + 4;
    return null;
  }

  /**
   * Dry-runs `tx` alone on this builder's state (its base and the block's deadlines, not the
   * transactions offered so far), recording nothing: null when it would be accepted, otherwise
   * the refusal. Admission checks many transactions against one builder this way instead of
   * building one (and running the deadlines again) per transaction.
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
    return sealBlock(this.params, this.overlay, this.accepted, this.height, previousStateHash);
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
