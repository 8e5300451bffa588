/**
 * Genesis: a human-editable JSON file, validated field by field into a typed value with a
 * canonical binary encoding and hash. The hash is block 1's previous-block hash.
 *
 * Every JSON field is checked (unknown fields are refused, so a typo never passes
 * silently); errors name the path, e.g. `validators[1].public_key`.
 */
import { compareBytes, fromHex, toHex } from './assert.js';
import {
  ADDRESS_BYTES_MAX,
  AMOUNT_MAX,
  ASSET_SYMBOL_BYTES_MAX,
  BLOCK_BYTES_MAX,
  BLOCK_TXS_MAX,
  CHAIN_ID_BYTES_MAX,
  EXPIRY_WINDOW_MAX,
  GENESIS_ASSETS_MAX,
  GENESIS_BALANCES_MAX,
  GENESIS_FILE_BYTES_MAX,
  GENESIS_IDENTITIES_MAX,
  HEIGHT_MAX,
  Kind,
  LIMITS_DEFAULT,
  NAME_BYTES_MAX,
  PUBLIC_KEY_BYTES,
  TX_BYTES_MAX,
  VALIDATORS_MAX,
  BLOCK_RESERVED_BYTES,
} from './constants.js';
import { isStrictPublicKey } from './ed25519.js';
import { Writer } from './encoding.js';
import { SteleError } from './errors.js';
import { sha256 } from './hash.js';
import { ASSET_RE, CHAIN_ID_RE, NAME_RE, Role, type RoleName } from './tx.js';

export const GENESIS_FORMAT = 1;

export interface Validator {
  readonly id: string;
  readonly publicKey: Uint8Array;
  /** host:port of its peer transport. */
  readonly address: string;
}
export interface Identity {
  readonly name: string;
  readonly publicKey: Uint8Array;
  /** Role bits (Role.admin | Role.issuer). */
  readonly roles: number;
}
export interface Asset {
  readonly symbol: string;
  readonly issuer: Uint8Array;
}
export interface Balance {
  readonly publicKey: Uint8Array;
  readonly asset: string;
  readonly amount: bigint;
}
export interface Limits {
  readonly tx_bytes_max: number;
  readonly block_txs_max: number;
  readonly block_bytes_max: number;
  readonly expiry_window_blocks: number;
}
export interface Genesis {
  readonly chainId: string;
  readonly timeMs: number;
  readonly validators: readonly Validator[];
  /** Sorted by public key. */
  readonly identities: readonly Identity[];
  /** Sorted by symbol. */
  readonly assets: readonly Asset[];
  /** Sorted by (public key, asset). */
  readonly balances: readonly Balance[];
  readonly limits: Limits;
  /** SHA-256 of the canonical encoding. */
  readonly hash: Uint8Array;
}

function bad(path: string, message: string): never {
  throw new SteleError('GENESIS_INVALID', `${path}: ${message}`, { path });
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function object(value: unknown, path: string, allowed: readonly string[], required: readonly string[]): Record<string, Json> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(path, 'expected an object');
  const record = value as Record<string, Json>;
  for (const key of Object.keys(record)) if (!allowed.includes(key)) bad(`${path}.${key}`, 'unknown field');
  for (const key of required) if (!Object.hasOwn(record, key)) bad(`${path}.${key}`, 'missing');
  return record;
}

function array(value: unknown, path: string, max: number): Json[] {
  if (!Array.isArray(value)) bad(path, 'expected an array');
  if (value.length > max) bad(path, `at most ${max} entries`);
  return value as Json[];
}

function text(value: unknown, path: string, pattern: RegExp, maxBytes: number): string {
  if (typeof value !== 'string') bad(path, 'expected a string');
  if (Buffer.byteLength(value) > maxBytes || !pattern.test(value)) bad(path, `${JSON.stringify(value.slice(0, 80))} does not match ${pattern}`);
  return value;
}

function publicKey(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) bad(path, 'expected 64 lower-case hex characters');
  const key = fromHex(value, PUBLIC_KEY_BYTES);
  if (!isStrictPublicKey(key)) bad(path, 'not a valid strict Ed25519 public key');
  return key;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) bad(path, `expected an integer in ${min}..${max}`);
  return value;
}

/** Amounts are decimal strings (JSON numbers lose precision above 2^53). */
function amountText(value: unknown, path: string): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(value)) bad(path, 'expected a decimal string without sign or leading zeros');
  const n = BigInt(value);
  if (n < 1n || n > AMOUNT_MAX) bad(path, 'amount outside 1..2^64-1');
  return n;
}

/**
 * Validators of `g` whose address no peer can dial: port 0 (any free port) in a genesis of
 * several validators. Such a genesis still reads (an existing chain must stay auditable
 * from it); `stele genesis new` refuses to write one and a node refuses to run as such a
 * validator (review of 2026-12-02: it ran cut off without a word).
 */
export function undialable(g: Pick<Genesis, 'validators'>): number[] {
  if (g.validators.length < 2) return [];
  return g.validators.flatMap((v, i) => (hostPort(v.address)?.port === 0 ? [i] : []));
}

/**
 * "host:port" as the validator transport takes it (native/transport.ts, parseAddress,
 * which cannot be imported here: that module loads the native addon): a host name or IPv4
 * address of letters, digits, '.' and '-' (no IPv6 brackets), then a port 0..65535.
 * Port 0 (listen on any free port) is useless in a genesis, since no peer could dial it,
 * but a genesis that named it was accepted before 2026-11-30 and a one-validator chain
 * could run on it; refusing it now would make such a chain impossible to audit.
 * test/cli/addresses.test.ts checks both agree. Used by genesis and node/config.ts.
 * @returns the host and port, or null when the transport would refuse the address
 * @example hostPort('127.0.0.1:7100') // { host: '127.0.0.1', port: 7100 }
 */
export function hostPort(address: string): { host: string; port: number } | null {
  const m = /^([A-Za-z0-9.-]{1,253}):([0-9]{1,5})$/.exec(address);
  const port = m === null ? 0 : Number(m[2]);
  return m !== null && port >= 0 && port <= 65535 ? { host: m[1] as string, port } : null;
}

function address(value: unknown, path: string): string {
  if (typeof value !== 'string' || Buffer.byteLength(value) > ADDRESS_BYTES_MAX || hostPort(value) === null) {
    bad(path, `expected "host:port" (a host name or IPv4 address, a port 0..65535), got ${JSON.stringify(String(value).slice(0, 80))}`);
  }
  return value;
}

function parseLimits(value: unknown): Limits {
  if (value === undefined) return { ...LIMITS_DEFAULT };
  const o = object(value, 'limits', Object.keys(LIMITS_DEFAULT), []);
  const limits: Limits = {
    tx_bytes_max: o.tx_bytes_max === undefined ? LIMITS_DEFAULT.tx_bytes_max : integer(o.tx_bytes_max, 'limits.tx_bytes_max', 256, TX_BYTES_MAX),
    block_txs_max: o.block_txs_max === undefined ? LIMITS_DEFAULT.block_txs_max : integer(o.block_txs_max, 'limits.block_txs_max', 1, BLOCK_TXS_MAX),
    block_bytes_max:
      o.block_bytes_max === undefined ? LIMITS_DEFAULT.block_bytes_max : integer(o.block_bytes_max, 'limits.block_bytes_max', 4_096, BLOCK_BYTES_MAX),
    expiry_window_blocks:
      o.expiry_window_blocks === undefined
        ? LIMITS_DEFAULT.expiry_window_blocks
        : integer(o.expiry_window_blocks, 'limits.expiry_window_blocks', 1, EXPIRY_WINDOW_MAX),
  };
  // Every transaction admitted under tx_bytes_max must fit a block, or the first such one
  // would stop the leader's cuts for good (BlockBuilder.full).
  const least = limits.tx_bytes_max + 4 + BLOCK_RESERVED_BYTES;
  if (limits.block_bytes_max < least) bad('limits.block_bytes_max', `must be at least limits.tx_bytes_max + ${4 + BLOCK_RESERVED_BYTES} (${least}) so that every admissible transaction fits a block`);
  return limits;
}

/**
 * Validates a parsed genesis JSON value.
 * @throws SteleError GENESIS_INVALID naming the first bad field.
 */
export function parseGenesis(value: unknown): Genesis {
  const top = object(value, 'genesis', ['stele_genesis', 'chain_id', 'genesis_time_ms', 'validators', 'identities', 'assets', 'balances', 'limits'], [
    'stele_genesis',
    'chain_id',
    'genesis_time_ms',
    'validators',
    'identities',
  ]);
  if (top.stele_genesis !== GENESIS_FORMAT) bad('stele_genesis', `expected format ${GENESIS_FORMAT}`);
  const chainId = text(top.chain_id, 'chain_id', CHAIN_ID_RE, CHAIN_ID_BYTES_MAX);
  const timeMs = integer(top.genesis_time_ms, 'genesis_time_ms', 0, HEIGHT_MAX);

  const validators: Validator[] = [];
  const seenValidator = new Set<string>();
  const validatorList = array(top.validators, 'validators', VALIDATORS_MAX);
  if (validatorList.length < 1) bad('validators', 'at least one validator');
  validatorList.forEach((v, i) => {
    const path = `validators[${i}]`;
    const o = object(v, path, ['id', 'public_key', 'address'], ['id', 'public_key', 'address']);
    const id = text(o.id, `${path}.id`, NAME_RE, NAME_BYTES_MAX);
    const key = publicKey(o.public_key, `${path}.public_key`);
    const at = address(o.address, `${path}.address`);
    // One endpoint however it is spelled: host names are not case-sensitive, and the
    // transport reads a port's leading zeros away (found in review, 2026-11-30: `h:7001`
    // and `h:07001` passed as two validators that only one process could answer for).
    const endpoint = hostPort(at) as { host: string; port: number };
    for (const unique of [`id:${id}`, `key:${toHex(key)}`, `address:${endpoint.host.toLowerCase()}:${endpoint.port}`]) {
      if (seenValidator.has(unique)) bad(path, `duplicate ${unique.split(':')[0]}`);
      seenValidator.add(unique);
    }
    validators.push({ id, publicKey: key, address: at });
  });

  const identities: Identity[] = [];
  const byKey = new Map<string, Identity>();
  const names = new Set<string>();
  array(top.identities, 'identities', GENESIS_IDENTITIES_MAX).forEach((v, i) => {
    const path = `identities[${i}]`;
    const o = object(v, path, ['name', 'public_key', 'roles'], ['name', 'public_key']);
    const name = text(o.name, `${path}.name`, NAME_RE, NAME_BYTES_MAX);
    const key = publicKey(o.public_key, `${path}.public_key`);
    let roles = 0;
    array(o.roles === undefined ? [] : o.roles, `${path}.roles`, 2).forEach((r, j) => {
      if (typeof r !== "string" || !Object.hasOwn(Role, r)) bad(`${path}.roles[${j}]`, 'expected "admin" or "issuer"');
      const bit = Role[r as RoleName];
      if ((roles & bit) !== 0) bad(`${path}.roles[${j}]`, 'duplicate role');
      roles |= bit;
    });
    if (byKey.has(toHex(key))) bad(`${path}.public_key`, 'duplicate identity key');
    if (names.has(name)) bad(`${path}.name`, 'duplicate identity name');
    names.add(name);
    const identity = { name, publicKey: key, roles };
    byKey.set(toHex(key), identity);
    identities.push(identity);
  });
  if (!identities.some((x) => (x.roles & Role.admin) !== 0)) bad('identities', 'at least one identity must have the "admin" role');

  const assets: Asset[] = [];
  const symbols = new Set<string>();
  array(top.assets === undefined ? [] : top.assets, 'assets', GENESIS_ASSETS_MAX).forEach((v, i) => {
    const path = `assets[${i}]`;
    const o = object(v, path, ['symbol', 'issuer'], ['symbol', 'issuer']);
    const symbol = text(o.symbol, `${path}.symbol`, ASSET_RE, ASSET_SYMBOL_BYTES_MAX);
    const issuer = publicKey(o.issuer, `${path}.issuer`);
    const who = byKey.get(toHex(issuer));
    if (who === undefined || (who.roles & Role.issuer) === 0) bad(`${path}.issuer`, 'must be an identity with the "issuer" role');
    if (symbols.has(symbol)) bad(`${path}.symbol`, 'duplicate asset');
    symbols.add(symbol);
    assets.push({ symbol, issuer });
  });

  const balances: Balance[] = [];
  const seenBalance = new Set<string>();
  const supply = new Map<string, bigint>();
  array(top.balances === undefined ? [] : top.balances, 'balances', GENESIS_BALANCES_MAX).forEach((v, i) => {
    const path = `balances[${i}]`;
    const o = object(v, path, ['public_key', 'asset', 'amount'], ['public_key', 'asset', 'amount']);
    const key = publicKey(o.public_key, `${path}.public_key`);
    const assetSymbol = text(o.asset, `${path}.asset`, ASSET_RE, ASSET_SYMBOL_BYTES_MAX);
    const amount = amountText(o.amount, `${path}.amount`);
    if (!byKey.has(toHex(key))) bad(`${path}.public_key`, 'not a listed identity');
    if (!symbols.has(assetSymbol)) bad(`${path}.asset`, 'not a listed asset');
    const unique = `${toHex(key)}/${assetSymbol}`;
    if (seenBalance.has(unique)) bad(path, 'duplicate balance for this identity and asset');
    seenBalance.add(unique);
    const total = (supply.get(assetSymbol) ?? 0n) + amount;
    if (total > AMOUNT_MAX) bad(`${path}.amount`, `total supply of ${assetSymbol} exceeds 2^64-1`);
    supply.set(assetSymbol, total);
    balances.push({ publicKey: key, asset: assetSymbol, amount });
  });

  identities.sort((a, b) => compareBytes(a.publicKey, b.publicKey));
  assets.sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  balances.sort((a, b) => compareBytes(a.publicKey, b.publicKey) || (a.asset < b.asset ? -1 : a.asset > b.asset ? 1 : 0));
  const limits = parseLimits(top.limits);
  const partial = { chainId, timeMs, validators, identities, assets, balances, limits };
  return { ...partial, hash: sha256(encodeGenesis(partial)) };
}

/** Parses genesis JSON text (bounded) and validates it. */
export function parseGenesisText(source: string): Genesis {
  if (Buffer.byteLength(source) > GENESIS_FILE_BYTES_MAX) bad('genesis', `file exceeds ${GENESIS_FILE_BYTES_MAX} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    bad('genesis', `not JSON: ${(error as Error).message}`);
  }
  return parseGenesis(value);
}

/** The canonical encoding (validators in file order: the order gives their indexes). */
export function encodeGenesis(g: Omit<Genesis, 'hash'>): Uint8Array {
  const w = new Writer(4096).envelope(Kind.GENESIS);
  w.str(g.chainId, CHAIN_ID_BYTES_MAX).u64(g.timeMs);
  w.u32(g.validators.length);
  for (const v of g.validators) w.str(v.id, NAME_BYTES_MAX).fixed(v.publicKey, PUBLIC_KEY_BYTES).str(v.address, ADDRESS_BYTES_MAX);
  w.u32(g.identities.length);
  for (const x of g.identities) w.fixed(x.publicKey, PUBLIC_KEY_BYTES).str(x.name, NAME_BYTES_MAX).u8(x.roles);
  w.u32(g.assets.length);
  for (const a of g.assets) w.str(a.symbol, ASSET_SYMBOL_BYTES_MAX).fixed(a.issuer, PUBLIC_KEY_BYTES);
  w.u32(g.balances.length);
  for (const b of g.balances) w.fixed(b.publicKey, PUBLIC_KEY_BYTES).str(b.asset, ASSET_SYMBOL_BYTES_MAX).u64n(b.amount);
  w.u32(g.limits.tx_bytes_max).u32(g.limits.block_txs_max).u32(g.limits.block_bytes_max).u32(g.limits.expiry_window_blocks);
  return w.finish();
}

/** The JSON form of a genesis (what `stele genesis` writes). */
export function genesisToJson(g: Omit<Genesis, 'hash'>): Record<string, unknown> {
  const roleNames = (roles: number): string[] => (Object.keys(Role) as RoleName[]).filter((r) => (roles & Role[r]) !== 0);
  return {
    stele_genesis: GENESIS_FORMAT,
    chain_id: g.chainId,
    genesis_time_ms: g.timeMs,
    validators: g.validators.map((v) => ({ id: v.id, public_key: toHex(v.publicKey), address: v.address })),
    identities: g.identities.map((x) => ({ name: x.name, public_key: toHex(x.publicKey), roles: roleNames(x.roles) })),
    assets: g.assets.map((a) => ({ symbol: a.symbol, issuer: toHex(a.issuer) })),
    balances: g.balances.map((b) => ({ public_key: toHex(b.publicKey), asset: b.asset, amount: b.amount.toString() })),
    limits: { ...g.limits },
  };
}

/** Votes needed for a quorum certificate: a majority of the validators. */
export function quorumSize(g: Pick<Genesis, 'validators'>): number {
  return Math.floor(g.validators.length / 2) + 1;
}
