/**
 * Transactions: the signed-over body, the signed envelope, their canonical encodings and
 * the transaction id (SHA-256 of the body bytes, which are exactly what is signed).
 *
 * Body:   version, kind TX_BODY, chain id, type, signers (1..8 public keys in strictly
 *         ascending byte order), expiry height, payload (by type).
 * Signed: version, kind TX, body bytes (length-prefixed), one signature per signer, in
 *         signer order.
 */
import { compareBytes, toHex } from './assert.js';
import {
  AMOUNT_MAX,
  CONTRACT_ARGS_MAX,
  CONTRACT_INT_BYTES_MAX,
  CONTRACT_NAME_BYTES_MAX,
  CONTRACT_PARAMS_MAX,
  CONTRACT_PARTIES_MAX,
  CONTRACT_REFS_MAX,
  CONTRACT_SOURCE_BYTES_MAX,
  ASSET_SYMBOL_BYTES_MAX,
  CHAIN_ID_BYTES_MAX,
  HASH_BYTES,
  Kind,
  NAME_BYTES_MAX,
  PUBLIC_KEY_BYTES,
  RECORD_KEY_BYTES_MAX,
  RECORD_VALUE_BYTES_MAX,
  SIGNATURE_BYTES,
  SIGNERS_MAX,
  TX_BYTES_MAX,
} from './constants.js';
import { Signer } from './ed25519.js';
import { checkText, ownCopy, Reader, Writer } from './encoding.js';
import { sha256, sha256Many } from './hash.js';
import { isSteleError, type SteleError } from './errors.js';

/** Type tags. */
export const TxType = { register: 1, revoke: 2, issue: 3, transfer: 4, put: 5, deploy: 6, create: 7, act: 8 } as const;
export type TxTypeName = keyof typeof TxType;
const TX_TYPE_MAX_DECODED = 8;

/** Role bits of an identity. */
export const Role = { admin: 1, issuer: 2 } as const;
export type RoleName = keyof typeof Role;
export const ROLE_MASK = Role.admin | Role.issuer;

export const CHAIN_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const ASSET_RE = /^[A-Z][A-Z0-9]{0,11}$/;
/**
 * Record keys: 1..256 characters of printable ASCII without the space (0x21-0x7e), the
 * alphabet of state keys, which a record's key becomes part of (`rec/<owner>/<key>`). Until
 * 2026-11-30 any text without control characters was allowed; a key with a space or a
 * non-ASCII character made a write set its own decoder refused, a state order that was
 * JavaScript's and not the bytes', and records the account listing skipped (found in review).
 */
export const RECORD_KEY_RE = /^[\x21-\x7e]{1,256}$/;

/** SCL identifiers: contract, party, param, ref and action names. */
export const SCL_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A value bound to a contract param or passed as an action argument. */
export type ContractValue = { kind: 'int'; value: bigint } | { kind: 'bool'; value: boolean } | { kind: 'asset'; value: string };

export type RecordValue = { kind: 'inline'; data: Uint8Array } | { kind: 'sha256'; digest: Uint8Array };

export type Payload =
  | { type: 'register'; publicKey: Uint8Array; name: string; roles: number }
  | { type: 'revoke'; publicKey: Uint8Array }
  | { type: 'issue'; asset: string; to: Uint8Array; amount: bigint }
  | { type: 'transfer'; from: Uint8Array; asset: string; to: Uint8Array; amount: bigint }
  | { type: 'put'; owner: Uint8Array; key: string; value: RecordValue }
  /** SCL source: one or more contracts, checked against those already deployed. */
  | { type: 'deploy'; source: string }
  /** A new instance of a deployed contract; lists sorted by name, strictly ascending. */
  | {
      type: 'create';
      contract: string;
      parties: readonly { name: string; key: Uint8Array }[];
      params: readonly { name: string; value: ContractValue }[];
      refs: readonly { name: string; instance: number }[];
    }
  /** `party` calls `action` on an instance with positional arguments. */
  | { type: 'act'; instance: number; party: string; action: string; args: readonly ContractValue[] };

export interface TxBody {
  readonly chainId: string;
  readonly signers: readonly Uint8Array[];
  readonly expiry: number;
  readonly payload: Payload;
}

export interface Tx {
  readonly body: TxBody;
  readonly signatures: readonly Uint8Array[];
  /** The signed-over bytes. */
  readonly bodyBytes: Uint8Array;
  /** The whole encoded signed transaction (the Merkle leaf). */
  readonly bytes: Uint8Array;
  /** SHA-256 of bodyBytes. */
  readonly id: Uint8Array;
  /** `id` in lowercase hex, computed once: state keys, index keys, mempool keys and answers use it. */
  readonly idHex: string;
}

/** Encodes a body; throws RangeError/TypeError for values outside the schema. */
export function encodeTxBody(body: TxBody): Uint8Array {
  const w = new Writer(256);
  w.envelope(Kind.TX_BODY);
  if (!CHAIN_ID_RE.test(body.chainId)) throw new RangeError(`bad chain id ${JSON.stringify(body.chainId)}`);
  w.str(body.chainId, CHAIN_ID_BYTES_MAX);
  w.u8(TxType[body.payload.type]);
  if (body.signers.length < 1 || body.signers.length > SIGNERS_MAX) throw new RangeError('1..8 signers');
  w.u32(body.signers.length);
  for (let i = 0; i < body.signers.length; i++) {
    const s = body.signers[i] as Uint8Array;
    if (i > 0 && compareBytes(body.signers[i - 1] as Uint8Array, s) >= 0) throw new RangeError('signers must be strictly ascending');
    w.fixed(s, PUBLIC_KEY_BYTES);
  }
  w.u64(body.expiry);
  encodePayload(w, body.payload);
  return w.finish();
}

function amount(w: Writer, value: bigint): void {
  if (value < 1n || value > AMOUNT_MAX) throw new RangeError(`amount ${value} outside 1..2^64-1`);
  w.u64n(value);
}

function asset(w: Writer, symbol: string): void {
  if (!ASSET_RE.test(symbol)) throw new RangeError(`bad asset symbol ${JSON.stringify(symbol)}`);
  w.str(symbol, ASSET_SYMBOL_BYTES_MAX);
}

function encodePayload(w: Writer, p: Payload): void {
  switch (p.type) {
    case 'register':
      if (!NAME_RE.test(p.name)) throw new RangeError(`bad identity name ${JSON.stringify(p.name)}`);
      if ((p.roles & ~ROLE_MASK) !== 0) throw new RangeError('unknown role bits');
      w.fixed(p.publicKey, PUBLIC_KEY_BYTES).str(p.name, NAME_BYTES_MAX).u8(p.roles);
      return;
    case 'revoke':
      w.fixed(p.publicKey, PUBLIC_KEY_BYTES);
      return;
    case 'issue':
      asset(w, p.asset);
      w.fixed(p.to, PUBLIC_KEY_BYTES);
      amount(w, p.amount);
      return;
    case 'transfer':
      w.fixed(p.from, PUBLIC_KEY_BYTES);
      asset(w, p.asset);
      w.fixed(p.to, PUBLIC_KEY_BYTES);
      amount(w, p.amount);
      return;
    case 'put':
      if (!RECORD_KEY_RE.test(p.key)) throw new RangeError('bad record key');
      w.fixed(p.owner, PUBLIC_KEY_BYTES).str(p.key, RECORD_KEY_BYTES_MAX);
      if (p.value.kind === 'inline') w.u8(0).bytes(p.value.data, RECORD_VALUE_BYTES_MAX);
      else w.u8(1).fixed(p.value.digest, HASH_BYTES);
      return;
    case 'deploy':
      w.str(p.source, CONTRACT_SOURCE_BYTES_MAX);
      return;
    case 'create':
      sclName(w, p.contract);
      sortedList(w, p.parties, CONTRACT_PARTIES_MAX, (x) => {
        sclName(w, x.name);
        w.fixed(x.key, PUBLIC_KEY_BYTES);
      });
      sortedList(w, p.params, CONTRACT_PARAMS_MAX, (x) => {
        sclName(w, x.name);
        encodeContractValue(w, x.value);
      });
      sortedList(w, p.refs, CONTRACT_REFS_MAX, (x) => {
        sclName(w, x.name);
        w.u64(x.instance);
      });
      return;
    case 'act':
      w.u64(p.instance);
      sclName(w, p.party);
      sclName(w, p.action);
      if (p.args.length > CONTRACT_ARGS_MAX) throw new RangeError(`more than ${CONTRACT_ARGS_MAX} arguments`);
      w.u32(p.args.length);
      for (const a of p.args) encodeContractValue(w, a);
      return;
  }
}

function sclName(w: Writer, name: string): void {
  if (!SCL_NAME_RE.test(name)) throw new RangeError(`bad SCL name ${JSON.stringify(name.slice(0, 80))}`);
  w.str(name, CONTRACT_NAME_BYTES_MAX);
}

function sortedList<T extends { name: string }>(w: Writer, items: readonly T[], max: number, each: (item: T) => void): void {
  if (items.length > max) throw new RangeError(`more than ${max} items`);
  w.u32(items.length);
  items.forEach((item, i) => {
    if (i > 0 && (items[i - 1] as T).name >= item.name) throw new RangeError('names must be strictly ascending');
    each(item);
  });
}

/** Minimal big-endian magnitude of a non-negative bigint (zero is empty). */
function magnitude(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (value === 0n) return new Uint8Array(0);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * Contract values: tag 0 int (u8 sign, 0 or 1, then the minimal big-endian magnitude of
 * at most CONTRACT_INT_BYTES_MAX bytes; zero is sign 0 and no bytes), 1 bool, 2 asset.
 */
export function encodeContractValue(w: Writer, v: ContractValue): void {
  switch (v.kind) {
    case 'int': {
      const m = magnitude(v.value < 0n ? -v.value : v.value);
      if (m.length > CONTRACT_INT_BYTES_MAX) throw new RangeError(`integer of ${m.length} bytes exceeds ${CONTRACT_INT_BYTES_MAX}`);
      w.u8(0).u8(v.value < 0n ? 1 : 0).bytes(m, CONTRACT_INT_BYTES_MAX);
      return;
    }
    case 'bool':
      w.u8(1).bool(v.value);
      return;
    case 'asset':
      w.u8(2);
      asset(w, v.value);
      return;
  }
}

export function readContractValue(r: Reader, field: string): ContractValue {
  const tag = r.tag(`${field}.kind`, 0, 2);
  if (tag === 1) return { kind: 'bool', value: r.bool(field) };
  if (tag === 2) return { kind: 'asset', value: readAsset(r, field) };
  const negative = r.bool(`${field}.sign`);
  const m = r.bytesField(CONTRACT_INT_BYTES_MAX, field);
  if (m.length > 0 && m[0] === 0) r.fail('ENC_NON_CANONICAL', field, 'integer magnitude has a leading zero byte');
  if (m.length === 0 && negative) r.fail('ENC_NON_CANONICAL', field, 'negative zero');
  const value = m.length === 0 ? 0n : BigInt(`0x${Buffer.from(m).toString('hex')}`);
  return { kind: 'int', value: negative ? -value : value };
}

function readSclName(r: Reader, field: string): string {
  return checkText(r, r.str(CONTRACT_NAME_BYTES_MAX, field), SCL_NAME_RE, field);
}

function readSortedList<T extends { name: string }>(r: Reader, max: number, itemBytesMin: number, field: string, each: (i: number) => T): T[] {
  const n = r.count(max, itemBytesMin, field);
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const item = each(i);
    if (i > 0 && (out[i - 1] as T).name >= item.name) r.fail('ENC_NON_CANONICAL', `${field}[${i}]`, 'names must be strictly ascending');
    out.push(item);
  }
  return out;
}

// Decoded byte fields are views into the private copy that decodeTx and decodeTxBody
// decode from (ownCopy): nothing aliases a caller's buffer that may be reused, and a
// transaction costs one allocation instead of one per field (those allocations were the
// largest single cost of decoding blocks).

function readAmount(r: Reader, field: string): bigint {
  const value = r.u64n(field);
  if (value < 1n) r.fail('ENC_OUT_OF_RANGE', field, 'amount must be at least 1');
  return value;
}

function readAsset(r: Reader, field: string): string {
  return checkText(r, r.str(ASSET_SYMBOL_BYTES_MAX, field), ASSET_RE, field);
}

function decodePayload(r: Reader, type: number): Payload {
  switch (type) {
    case TxType.register: {
      const publicKey = r.fixed(PUBLIC_KEY_BYTES, 'payload.public_key');
      const name = checkText(r, r.str(NAME_BYTES_MAX, 'payload.name'), NAME_RE, 'payload.name');
      const roles = r.u8('payload.roles');
      if ((roles & ~ROLE_MASK) !== 0) r.fail('ENC_BAD_TAG', 'payload.roles', `unknown role bits ${roles}`);
      return { type: 'register', publicKey, name, roles };
    }
    case TxType.revoke:
      return { type: 'revoke', publicKey: r.fixed(PUBLIC_KEY_BYTES, 'payload.public_key') };
    case TxType.issue: {
      const assetSymbol = readAsset(r, 'payload.asset');
      const to = r.fixed(PUBLIC_KEY_BYTES, 'payload.to');
      return { type: 'issue', asset: assetSymbol, to, amount: readAmount(r, 'payload.amount') };
    }
    case TxType.transfer: {
      const from = r.fixed(PUBLIC_KEY_BYTES, 'payload.from');
      const assetSymbol = readAsset(r, 'payload.asset');
      const to = r.fixed(PUBLIC_KEY_BYTES, 'payload.to');
      return { type: 'transfer', from, asset: assetSymbol, to, amount: readAmount(r, 'payload.amount') };
    }
    case TxType.deploy:
      return { type: 'deploy', source: r.str(CONTRACT_SOURCE_BYTES_MAX, 'payload.source') };
    case TxType.create: {
      const contract = readSclName(r, 'payload.contract');
      const parties = readSortedList(r, CONTRACT_PARTIES_MAX, 5 + PUBLIC_KEY_BYTES, 'payload.parties', (i) => ({
        name: readSclName(r, `payload.parties[${i}].name`),
        key: r.fixed(PUBLIC_KEY_BYTES, `payload.parties[${i}].key`),
      }));
      const params = readSortedList(r, CONTRACT_PARAMS_MAX, 7, 'payload.params', (i) => ({
        name: readSclName(r, `payload.params[${i}].name`),
        value: readContractValue(r, `payload.params[${i}].value`),
      }));
      const refs = readSortedList(r, CONTRACT_REFS_MAX, 13, 'payload.refs', (i) => ({
        name: readSclName(r, `payload.refs[${i}].name`),
        instance: r.u64(`payload.refs[${i}].instance`),
      }));
      return { type: 'create', contract, parties, params, refs };
    }
    case TxType.act: {
      const instance = r.u64('payload.instance');
      const party = readSclName(r, 'payload.party');
      const action = readSclName(r, 'payload.action');
      const n = r.count(CONTRACT_ARGS_MAX, 2, 'payload.args');
      const args: ContractValue[] = [];
      for (let i = 0; i < n; i++) args.push(readContractValue(r, `payload.args[${i}]`));
      return { type: 'act', instance, party, action, args };
    }
    default: {
      const owner = r.fixed(PUBLIC_KEY_BYTES, 'payload.owner');
      const key = checkText(r, r.str(RECORD_KEY_BYTES_MAX, 'payload.key'), RECORD_KEY_RE, 'payload.key');
      const tag = r.tag('payload.value_kind', 0, 1);
      const value: RecordValue =
        tag === 0
          ? { kind: 'inline', data: r.bytesField(RECORD_VALUE_BYTES_MAX, 'payload.value') }
          : { kind: 'sha256', digest: r.fixed(HASH_BYTES, 'payload.digest') };
      return { type: 'put', owner, key, value };
    }
  }
}

function readBody(r: Reader): TxBody {
  r.envelope(Kind.TX_BODY);
  const chainId = checkText(r, r.str(CHAIN_ID_BYTES_MAX, 'chain_id'), CHAIN_ID_RE, 'chain_id');
  const type = r.u8('type');
  if (type < 1 || type > TX_TYPE_MAX_DECODED) r.fail('ENC_BAD_TAG', 'type', `unknown type ${type}`);
  const n = r.count(SIGNERS_MAX, PUBLIC_KEY_BYTES, 'signers');
  if (n < 1) r.fail('ENC_OUT_OF_RANGE', 'signers', 'at least one signer');
  const signers: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const s = r.fixed(PUBLIC_KEY_BYTES, `signers[${i}]`);
    if (i > 0 && compareBytes(signers[i - 1] as Uint8Array, s) >= 0) {
      r.fail('ENC_NON_CANONICAL', `signers[${i}]`, 'signers must be strictly ascending');
    }
    signers.push(s);
  }
  const expiry = r.u64('expiry');
  const payload = decodePayload(r, type);
  return { chainId, signers, expiry, payload };
}

/** Decodes body bytes; SteleError ENC_* for anything but a canonical body. */
export function decodeTxBody(bytes: Uint8Array): TxBody {
  const r = new Reader(ownCopy(bytes, TX_BYTES_MAX, 'tx_body'), TX_BYTES_MAX, 'tx_body');
  const body = readBody(r);
  r.end();
  return body;
}

/** Encodes a signed transaction from its body bytes and signatures. */
export function encodeTx(bodyBytes: Uint8Array, signatures: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(bodyBytes.length + 16 + signatures.length * SIGNATURE_BYTES);
  w.envelope(Kind.TX).bytes(bodyBytes, TX_BYTES_MAX);
  w.u32(signatures.length);
  for (const s of signatures) w.fixed(s, SIGNATURE_BYTES);
  const bytes = w.finish();
  if (bytes.length > TX_BYTES_MAX) throw new RangeError(`transaction of ${bytes.length} bytes exceeds ${TX_BYTES_MAX}`);
  return bytes;
}

/**
 * Decodes a signed transaction (refusing more than `maxBytes` before reading). Checks the
 * encoding only: signatures are verified by the state machine or the verify pool.
 * @throws SteleError ENC_* for anything but a canonical signed transaction.
 */
export function decodeTx(bytes: Uint8Array, maxBytes = TX_BYTES_MAX): Tx {
  const limit = Math.min(maxBytes, TX_BYTES_MAX);
  return withId(readTx(ownCopy(bytes, limit, 'tx'), limit));
}

/**
 * `decodeTx` for many encodings at once: each is copied and decoded alone (a bad one is
 * its SteleError, in its place), and the ids of the good ones are hashed in one call
 * (sha256Many) instead of one hash call each.
 */
export function decodeTxs(items: readonly Uint8Array[], maxBytes = TX_BYTES_MAX): Array<Tx | SteleError> {
  const limit = Math.min(maxBytes, TX_BYTES_MAX);
  const parts = items.map((bytes): TxParts | SteleError => {
    try {
      return readTx(ownCopy(bytes, limit, 'tx'), limit);
    } catch (error) {
      if (isSteleError(error)) return error;
      throw error;
    }
  });
  const txs = withIds(parts.filter((p): p is TxParts => !isSteleError(p)));
  let k = 0;
  return parts.map((p) => (isSteleError(p) ? p : (txs[k++] as Tx)));
}

/** `withId` for many at once: every id in one call (sha256Many) rather than one hash call per transaction. */
export function withIds(parts: readonly TxParts[]): Tx[] {
  const ids = sha256Many(parts.map((p) => p.bodyBytes));
  return parts.map((p, i) => withId(p, ids.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)));
}

/** A decoded transaction before its id: decodeBlock hashes the bodies of all its transactions in one call. */
export type TxParts = Omit<Tx, 'id' | 'idHex'>;

/**
 * Decodes the parts of a signed transaction without the copy `decodeTx` makes and without
 * hashing: the byte fields are views into `own`, which the caller owns and never changes
 * (decodeBlock: the block's own copy, which its transactions keep alive anyway). Not for
 * bytes that may be reused, such as a transport's receive buffers.
 */
export function readTx(own: Uint8Array, maxBytes = TX_BYTES_MAX): TxParts {
  const limit = Math.min(maxBytes, TX_BYTES_MAX);
  const r = new Reader(own, limit, 'tx');
  r.envelope(Kind.TX);
  const bodyBytes = r.bytesField(TX_BYTES_MAX, 'body');
  const inner = new Reader(bodyBytes, TX_BYTES_MAX, 'tx.body');
  const body = readBody(inner);
  inner.end();
  const n = r.count(SIGNERS_MAX, SIGNATURE_BYTES, 'signatures');
  if (n !== body.signers.length) r.fail('ENC_OUT_OF_RANGE', 'signatures', `${n} signatures for ${body.signers.length} signers`);
  const signatures: Uint8Array[] = [];
  for (let i = 0; i < n; i++) signatures.push(r.fixed(SIGNATURE_BYTES, `signatures[${i}]`));
  r.end();
  return { body, signatures, bodyBytes, bytes: own };
}

/** The Tx of `parts`, its id SHA-256(bodyBytes) (computed here unless given). */
export function withId(parts: TxParts, id: Uint8Array = sha256(parts.bodyBytes)): Tx {
  return { body: parts.body, signatures: parts.signatures, bodyBytes: parts.bodyBytes, bytes: parts.bytes, id, idHex: toHex(id) };
}

/**
 * Builds and signs a transaction. `signers` may come in any order; they are sorted into
 * the canonical ascending order and each signs the body bytes.
 * @example signTx({ chainId, expiry: 100, payload: { type: 'transfer', ... } }, [alice])
 */
export function signTx(body: Omit<TxBody, 'signers'>, signers: readonly Signer[]): Tx {
  const sorted = signers.slice().sort((a, b) => compareBytes(a.publicKey, b.publicKey));
  const full: TxBody = { ...body, signers: sorted.map((s) => s.publicKey) };
  const bodyBytes = encodeTxBody(full);
  const signatures = sorted.map((s) => s.sign(bodyBytes));
  const bytes = encodeTx(bodyBytes, signatures);
  const id = sha256(bodyBytes);
  return { body: full, signatures, bodyBytes, bytes, id, idHex: toHex(id) };
}
