/**
 * The JSON form of a signed transaction, and its exact correspondence with the canonical
 * encoding (ledger/tx.ts):
 *
 *   {
 *     "id": "<64 hex>",                 // SHA-256 of the body bytes; optional on input
 *     "chain_id": "stele-dev",
 *     "signers": ["<64 hex>", ...],     // 1..8 public keys, strictly ascending bytes
 *     "expiry": 120,                    // a block height (integer, at most 2^53 - 1)
 *     "payload": { "type": "transfer", "from": "<hex>", "asset": "STL",
 *                  "to": "<hex>", "amount": "100" },
 *     "signatures": ["<128 hex>", ...]  // one per signer, in signer order
 *   }
 *
 * Bytes are lower-case hex, amounts decimal strings without sign or leading zeros (JSON
 * numbers lose precision above 2^53), contract integers signed decimal strings, role sets
 * name lists in the fixed order admin, issuer, create's lists strictly ascending by name. Every field has exactly one spelling, so the form is a bijection with the
 * canonical bytes: `txFromJson(txToJson(tx)).bytes` equals `tx.bytes` and
 * `txToJson(txFromJson(json))` equals `json` for every accepted `json` (test/api/tx-json.test.ts).
 */
import { compareBytes, fromHex, toHex } from '../ledger/assert.js';
import {
  AMOUNT_MAX,
  CONTRACT_ARGS_MAX,
  CONTRACT_INT_BYTES_MAX,
  CONTRACT_PARAMS_MAX,
  CONTRACT_PARTIES_MAX,
  CONTRACT_REFS_MAX,
  CONTRACT_SOURCE_BYTES_MAX,
  HASH_BYTES,
  PUBLIC_KEY_BYTES,
  RECORD_KEY_BYTES_MAX,
  RECORD_VALUE_BYTES_MAX,
  SIGNATURE_BYTES,
  SIGNERS_MAX,
  TX_BYTES_MAX,
} from '../ledger/constants.js';
import { isSteleError, SteleError } from '../ledger/errors.js';
import { CHAIN_ID_RE, decodeTx, decodeTxs, encodeTx, encodeTxBody, NAME_RE, RECORD_KEY_RE, Role, SCL_NAME_RE, type ContractValue, type Payload, type RoleName, type Tx } from '../ledger/tx.js';

export type PayloadJson =
  | { type: 'register'; public_key: string; name: string; roles: RoleName[] }
  | { type: 'revoke'; public_key: string }
  | { type: 'issue'; asset: string; to: string; amount: string }
  | { type: 'transfer'; from: string; asset: string; to: string; amount: string }
  | { type: 'put'; owner: string; key: string; value: { kind: 'inline'; data: string } | { kind: 'sha256'; digest: string } }
  | { type: 'deploy'; source: string }
  | {
      type: 'create';
      contract: string;
      parties: Array<{ name: string; key: string }>;
      params: Array<{ name: string; value: ContractValueJson }>;
      refs: Array<{ name: string; instance: number }>;
    }
  | { type: 'act'; instance: number; party: string; action: string; args: ContractValueJson[] };

/** A contract value: integers as decimal strings (they may exceed 2^53), booleans, asset symbols. */
export type ContractValueJson = { kind: 'int'; value: string } | { kind: 'bool'; value: boolean } | { kind: 'asset'; value: string };

export interface TxJson {
  id?: string;
  chain_id: string;
  signers: string[];
  expiry: number;
  payload: PayloadJson;
  signatures: string[];
}

/** Role names in their canonical order (bit order). */
const ROLE_ORDER: readonly RoleName[] = ['admin', 'issuer'];

const hex = (bytes: number) => ({ type: 'string', pattern: `^[0-9a-f]{${bytes * 2}}$` }) as const;
const KEY = hex(PUBLIC_KEY_BYTES);
const AMOUNT = { type: 'string', pattern: '^[1-9][0-9]{0,19}$', description: 'decimal, 1..2^64-1' } as const;
const ASSET = { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,11}$' } as const;

function variant(type: string, properties: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['type', ...Object.keys(properties)],
    properties: { type: { const: type }, ...properties },
  };
}

const SCL_NAME = { type: 'string', pattern: SCL_NAME_RE.source } as const;
const INSTANCE = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const CONTRACT_VALUE = {
  type: 'object',
  required: ['kind', 'value'],
  discriminator: { propertyName: 'kind' },
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['kind', 'value'], properties: { kind: { const: 'int' }, value: { type: 'string', pattern: '^(0|-?[1-9][0-9]{0,154})$', description: 'decimal, |value| < 2^512' } } },
    { type: 'object', additionalProperties: false, required: ['kind', 'value'], properties: { kind: { const: 'bool' }, value: { type: 'boolean' } } },
    { type: 'object', additionalProperties: false, required: ['kind', 'value'], properties: { kind: { const: 'asset' }, value: ASSET } },
  ],
} as const;
const named = (extra: Record<string, unknown>, max: number, description: string) =>
  ({ type: 'array', maxItems: max, description, items: { type: 'object', additionalProperties: false, required: ['name', ...Object.keys(extra)], properties: { name: SCL_NAME, ...extra } } }) as const;

/** JSON Schema of a payload (a `type` discriminator selects the variant). */
export const payloadSchema = {
  $id: 'Payload',
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    variant('register', {
      public_key: KEY,
      name: { type: 'string', pattern: NAME_RE.source },
      roles: { type: 'array', maxItems: ROLE_ORDER.length, uniqueItems: true, items: { enum: [...ROLE_ORDER] } },
    }),
    variant('revoke', { public_key: KEY }),
    variant('issue', { asset: ASSET, to: KEY, amount: AMOUNT }),
    variant('transfer', { from: KEY, asset: ASSET, to: KEY, amount: AMOUNT }),
    variant('put', {
      owner: KEY,
      key: { type: 'string', minLength: 1, maxLength: RECORD_KEY_BYTES_MAX },
      value: {
        type: 'object',
        required: ['kind'],
        discriminator: { propertyName: 'kind' },
        oneOf: [
          { type: 'object', additionalProperties: false, required: ['kind', 'data'], properties: { kind: { const: 'inline' }, data: { type: 'string', pattern: `^(?:[0-9a-f]{2}){0,${RECORD_VALUE_BYTES_MAX}}$` } } },
          { type: 'object', additionalProperties: false, required: ['kind', 'digest'], properties: { kind: { const: 'sha256' }, digest: hex(HASH_BYTES) } },
        ],
      },
    }),
    variant('deploy', { source: { type: 'string', maxLength: CONTRACT_SOURCE_BYTES_MAX, description: 'SCL source text (at most 60,000 UTF-8 bytes)' } }),
    variant('create', {
      contract: SCL_NAME,
      parties: named({ key: KEY }, CONTRACT_PARTIES_MAX, 'strictly ascending by name'),
      params: named({ value: CONTRACT_VALUE }, CONTRACT_PARAMS_MAX, 'strictly ascending by name'),
      refs: named({ instance: INSTANCE }, CONTRACT_REFS_MAX, 'strictly ascending by name'),
    }),
    variant('act', { instance: INSTANCE, party: SCL_NAME, action: SCL_NAME, args: { type: 'array', maxItems: CONTRACT_ARGS_MAX, items: CONTRACT_VALUE } }),
  ],
} as const;

/** JSON Schema of a signed transaction in JSON form. */
export const txJsonSchema = {
  $id: 'Transaction',
  type: 'object',
  additionalProperties: false,
  required: ['chain_id', 'signers', 'expiry', 'payload', 'signatures'],
  properties: {
    id: { ...hex(HASH_BYTES), description: 'SHA-256 of the body bytes; optional on input, checked when present' },
    chain_id: { type: 'string', pattern: CHAIN_ID_RE.source },
    signers: { type: 'array', minItems: 1, maxItems: SIGNERS_MAX, items: KEY },
    expiry: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    payload: { $ref: 'Payload#' },
    signatures: { type: 'array', minItems: 1, maxItems: SIGNERS_MAX, items: hex(SIGNATURE_BYTES) },
  },
} as const;

function malformed(field: string, message: string, details: Record<string, unknown> = {}): never {
  throw new SteleError('TX_MALFORMED', `${field}: ${message}`, { field, ...details });
}

function bytesField(value: unknown, length: number, field: string): Uint8Array {
  if (typeof value !== 'string' || value.length !== length * 2 || !/^[0-9a-f]*$/.test(value)) malformed(field, `expected ${length * 2} lower-case hex characters`);
  return fromHex(value, length, field);
}

function amountField(value: unknown, field: string): bigint {
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,19}$/.test(value)) malformed(field, 'expected a decimal string without sign or leading zeros');
  const n = BigInt(value);
  if (n > AMOUNT_MAX) malformed(field, 'amount above 2^64-1');
  return n;
}

/** A lone UTF-16 surrogate has no UTF-8 encoding: it would not survive the round trip. */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textField(value: unknown, pattern: RegExp, field: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) malformed(field, `expected text matching ${pattern.source}`);
  if (LONE_SURROGATE_RE.test(value)) malformed(field, 'text with a lone surrogate has no UTF-8 form');
  return value;
}

const INT_MAX = 1n << BigInt(8 * CONTRACT_INT_BYTES_MAX);

function contractValueField(value: unknown, field: string): ContractValue {
  const v = object(value, field);
  only(v, field, ['kind', 'value']);
  if (v.kind === 'bool') {
    if (typeof v.value !== 'boolean') malformed(`${field}.value`, 'expected true or false');
    return { kind: 'bool', value: v.value };
  }
  if (v.kind === 'asset') return { kind: 'asset', value: textField(v.value, /^[A-Z][A-Z0-9]{0,11}$/, `${field}.value`) };
  if (v.kind === 'int') {
    if (typeof v.value !== 'string' || !/^(0|-?[1-9][0-9]{0,154})$/.test(v.value)) malformed(`${field}.value`, 'expected a decimal string without leading zeros or "-0"');
    const n = BigInt(v.value);
    if (n >= INT_MAX || -n >= INT_MAX) malformed(`${field}.value`, `magnitude of ${CONTRACT_INT_BYTES_MAX} bytes at most`);
    return { kind: 'int', value: n };
  }
  return malformed(`${field}.kind`, 'expected "int", "bool" or "asset"');
}

function contractValueToJson(v: ContractValue): ContractValueJson {
  return v.kind === 'int' ? { kind: 'int', value: v.value.toString() } : v.kind === 'bool' ? { kind: 'bool', value: v.value } : { kind: 'asset', value: v.value };
}

function instanceField(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) malformed(field, 'expected an integer in 0..2^53-1');
  return value;
}

/**
 * A list of named entries, strictly ascending by name (SCL names are ASCII, so string order
 * is the encoding's byte order). Order is checked here, where the entry can be named,
 * rather than left to encodeTxBody (found in review: its refusal named "transaction").
 */
function namedList<T>(value: unknown, field: string, max: number, allowed: readonly string[], each: (o: Record<string, unknown>, field: string) => T): Array<{ name: string } & T> {
  if (!Array.isArray(value) || value.length > max) malformed(field, `expected a list of at most ${max} entries`);
  let previous: string | null = null;
  return value.map((item: unknown, i) => {
    const o = object(item, `${field}[${i}]`);
    only(o, `${field}[${i}]`, ['name', ...allowed]);
    const name = textField(o.name, SCL_NAME_RE, `${field}[${i}].name`);
    if (previous !== null && previous >= name) malformed(`${field}[${i}]`, 'names must be strictly ascending (and so unique)');
    previous = name;
    return { name, ...each(o, `${field}[${i}]`) };
  });
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) malformed(field, 'expected an object');
  return value as Record<string, unknown>;
}

function only(o: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) if (!allowed.includes(key)) malformed(`${field}.${key}`, 'unknown field');
}

function rolesField(value: unknown, field: string): number {
  if (!Array.isArray(value) || value.length > ROLE_ORDER.length) malformed(field, 'expected a list of role names');
  let roles = 0;
  let last = -1;
  value.forEach((name: unknown, i) => {
    const at = ROLE_ORDER.indexOf(name as RoleName);
    if (at < 0) malformed(`${field}[${i}]`, 'expected "admin" or "issuer"');
    if (at <= last) malformed(`${field}[${i}]`, 'roles are unique and in the order admin, issuer');
    last = at;
    roles |= Role[name as RoleName];
  });
  return roles;
}

function payloadFromJson(value: unknown): Payload {
  const p = object(value, 'payload');
  switch (p.type) {
    case 'register':
      only(p, 'payload', ['type', 'public_key', 'name', 'roles']);
      return { type: 'register', publicKey: bytesField(p.public_key, PUBLIC_KEY_BYTES, 'payload.public_key'), name: textField(p.name, NAME_RE, 'payload.name'), roles: rolesField(p.roles, 'payload.roles') };
    case 'revoke':
      only(p, 'payload', ['type', 'public_key']);
      return { type: 'revoke', publicKey: bytesField(p.public_key, PUBLIC_KEY_BYTES, 'payload.public_key') };
    case 'issue':
      only(p, 'payload', ['type', 'asset', 'to', 'amount']);
      return { type: 'issue', asset: textField(p.asset, /^[A-Z][A-Z0-9]{0,11}$/, 'payload.asset'), to: bytesField(p.to, PUBLIC_KEY_BYTES, 'payload.to'), amount: amountField(p.amount, 'payload.amount') };
    case 'transfer':
      only(p, 'payload', ['type', 'from', 'asset', 'to', 'amount']);
      return {
        type: 'transfer',
        from: bytesField(p.from, PUBLIC_KEY_BYTES, 'payload.from'),
        asset: textField(p.asset, /^[A-Z][A-Z0-9]{0,11}$/, 'payload.asset'),
        to: bytesField(p.to, PUBLIC_KEY_BYTES, 'payload.to'),
        amount: amountField(p.amount, 'payload.amount'),
      };
    case 'put': {
      only(p, 'payload', ['type', 'owner', 'key', 'value']);
      const key = textField(p.key, RECORD_KEY_RE, 'payload.key');
      if (Buffer.byteLength(key) > RECORD_KEY_BYTES_MAX) malformed('payload.key', `more than ${RECORD_KEY_BYTES_MAX} bytes`);
      const v = object(p.value, 'payload.value');
      if (v.kind === 'inline') {
        only(v, 'payload.value', ['kind', 'data']);
        if (typeof v.data !== 'string' || v.data.length > RECORD_VALUE_BYTES_MAX * 2 || !/^(?:[0-9a-f]{2})*$/.test(v.data)) malformed('payload.value.data', `expected lower-case hex of at most ${RECORD_VALUE_BYTES_MAX} bytes`);
        return { type: 'put', owner: bytesField(p.owner, PUBLIC_KEY_BYTES, 'payload.owner'), key, value: { kind: 'inline', data: fromHex(v.data) } };
      }
      if (v.kind === 'sha256') {
        only(v, 'payload.value', ['kind', 'digest']);
        return { type: 'put', owner: bytesField(p.owner, PUBLIC_KEY_BYTES, 'payload.owner'), key, value: { kind: 'sha256', digest: bytesField(v.digest, HASH_BYTES, 'payload.value.digest') } };
      }
      return malformed('payload.value.kind', 'expected "inline" or "sha256"');
    }
    case 'deploy': {
      only(p, 'payload', ['type', 'source']);
      if (typeof p.source !== 'string') malformed('payload.source', 'expected SCL source text');
      if (LONE_SURROGATE_RE.test(p.source)) malformed('payload.source', 'text with a lone surrogate has no UTF-8 form');
      if (Buffer.byteLength(p.source) > CONTRACT_SOURCE_BYTES_MAX) malformed('payload.source', `more than ${CONTRACT_SOURCE_BYTES_MAX} bytes`);
      return { type: 'deploy', source: p.source };
    }
    case 'create':
      only(p, 'payload', ['type', 'contract', 'parties', 'params', 'refs']);
      return {
        type: 'create',
        contract: textField(p.contract, SCL_NAME_RE, 'payload.contract'),
        parties: namedList(p.parties, 'payload.parties', CONTRACT_PARTIES_MAX, ['key'], (o, f) => ({ key: bytesField(o.key, PUBLIC_KEY_BYTES, `${f}.key`) })),
        params: namedList(p.params, 'payload.params', CONTRACT_PARAMS_MAX, ['value'], (o, f) => ({ value: contractValueField(o.value, `${f}.value`) })),
        refs: namedList(p.refs, 'payload.refs', CONTRACT_REFS_MAX, ['instance'], (o, f) => ({ instance: instanceField(o.instance, `${f}.instance`) })),
      };
    case 'act': {
      only(p, 'payload', ['type', 'instance', 'party', 'action', 'args']);
      if (!Array.isArray(p.args) || p.args.length > CONTRACT_ARGS_MAX) malformed('payload.args', `expected a list of at most ${CONTRACT_ARGS_MAX} values`);
      return {
        type: 'act',
        instance: instanceField(p.instance, 'payload.instance'),
        party: textField(p.party, SCL_NAME_RE, 'payload.party'),
        action: textField(p.action, SCL_NAME_RE, 'payload.action'),
        args: p.args.map((a: unknown, i) => contractValueField(a, `payload.args[${i}]`)),
      };
    }
    default:
      return malformed('payload.type', 'expected one of register, revoke, issue, transfer, put, deploy, create, act');
  }
}

function listField<T>(value: unknown, field: string, each: (item: unknown, field: string) => T): T[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > SIGNERS_MAX) malformed(field, `expected a list of 1..${SIGNERS_MAX} entries`);
  return value.map((item, i) => each(item, `${field}[${i}]`));
}

/**
 * Builds the canonical transaction from its JSON form. Checks everything the decoder
 * checks (and that a given `id` matches); does not verify signatures (the node does).
 * @throws SteleError TX_MALFORMED with `details.field` naming the first bad field;
 *   TX_TOO_LARGE when the encoding exceeds `maxBytes`.
 * @example txFromJson(txToJson(tx)).bytes // equal to tx.bytes
 */
export function txFromJson(value: unknown, maxBytes = TX_BYTES_MAX): Tx {
  const o = object(value, 'transaction');
  only(o, 'transaction', ['id', 'chain_id', 'signers', 'expiry', 'payload', 'signatures']);
  const chainId = textField(o.chain_id, CHAIN_ID_RE, 'chain_id');
  const signers = listField(o.signers, 'signers', (x, f) => bytesField(x, PUBLIC_KEY_BYTES, f));
  for (let i = 1; i < signers.length; i++) {
    if (compareBytes(signers[i - 1] as Uint8Array, signers[i] as Uint8Array) >= 0) malformed(`signers[${i}]`, 'signers must be in strictly ascending byte order (and so unique)');
  }
  if (typeof o.expiry !== 'number' || !Number.isSafeInteger(o.expiry) || o.expiry < 0) malformed('expiry', 'expected an integer in 0..2^53-1');
  const payload = payloadFromJson(o.payload);
  const signatures = listField(o.signatures, 'signatures', (x, f) => bytesField(x, SIGNATURE_BYTES, f));
  if (signatures.length !== signers.length) malformed('signatures', `${signatures.length} signatures for ${signers.length} signers`);
  let bytes: Uint8Array;
  try {
    bytes = encodeTx(encodeTxBody({ chainId, signers, expiry: o.expiry, payload }), signatures);
  } catch (error) {
    // The checks above see everything encodeTxBody refuses; should one be missed, its
    // RangeError or TypeError is still a refusal, of the whole transaction.
    if (error instanceof RangeError || error instanceof TypeError) malformed('transaction', error.message);
    throw error;
  }
  if (bytes.length > maxBytes) throw new SteleError('TX_TOO_LARGE', `the transaction is ${bytes.length} bytes; the limit is ${maxBytes}`, { bytes: bytes.length, limit: maxBytes });
  const tx = txFromBytes(bytes, maxBytes);
  if (o.id !== undefined && o.id !== tx.idHex) malformed('id', 'does not match the SHA-256 of the body', { expected: tx.idHex });
  return tx;
}

/**
 * Decodes the binary form (the canonical encoding).
 * @throws SteleError TX_MALFORMED (details.encoding_code is the decoder's ENC_* code and
 *   details.field the field), TX_TOO_LARGE above `maxBytes`.
 */
export function txFromBytes(bytes: Uint8Array, maxBytes = TX_BYTES_MAX): Tx {
  if (bytes.length > maxBytes) throw tooLarge(bytes.length, maxBytes);
  try {
    return decodeTx(bytes, maxBytes);
  } catch (error) {
    if (!isSteleError(error)) throw error;
    throw malformedEncoding(error);
  }
}

/** `txFromBytes` for each item of a batch (ids hashed together: decodeTxs); a refused item is its SteleError, in its place. */
export function txsFromBytes(items: readonly Uint8Array[], maxBytes = TX_BYTES_MAX): Array<Tx | SteleError> {
  const fit = items.filter((b) => b.length <= maxBytes);
  const decoded = decodeTxs(fit, maxBytes);
  let k = 0;
  return items.map((b) => {
    if (b.length > maxBytes) return tooLarge(b.length, maxBytes);
    const d = decoded[k++] as Tx | SteleError;
    return isSteleError(d) ? malformedEncoding(d) : d;
  });
}

function tooLarge(bytes: number, limit: number): SteleError {
  return new SteleError('TX_TOO_LARGE', `the transaction is ${bytes} bytes; the limit is ${limit}`, { bytes, limit });
}

function malformedEncoding(error: SteleError): SteleError {
  return new SteleError('TX_MALFORMED', error.reason, { encoding_code: error.code, ...error.details });
}

function payloadToJson(p: Payload): PayloadJson {
  switch (p.type) {
    case 'register':
      return { type: 'register', public_key: toHex(p.publicKey), name: p.name, roles: ROLE_ORDER.filter((r) => (p.roles & Role[r]) !== 0) };
    case 'revoke':
      return { type: 'revoke', public_key: toHex(p.publicKey) };
    case 'issue':
      return { type: 'issue', asset: p.asset, to: toHex(p.to), amount: p.amount.toString() };
    case 'transfer':
      return { type: 'transfer', from: toHex(p.from), asset: p.asset, to: toHex(p.to), amount: p.amount.toString() };
    case 'put':
      return {
        type: 'put',
        owner: toHex(p.owner),
        key: p.key,
        value: p.value.kind === 'inline' ? { kind: 'inline', data: toHex(p.value.data) } : { kind: 'sha256', digest: toHex(p.value.digest) },
      };
    case 'deploy':
      return { type: 'deploy', source: p.source };
    case 'create':
      return {
        type: 'create',
        contract: p.contract,
        parties: p.parties.map((x) => ({ name: x.name, key: toHex(x.key) })),
        params: p.params.map((x) => ({ name: x.name, value: contractValueToJson(x.value) })),
        refs: p.refs.map((x) => ({ name: x.name, instance: x.instance })),
      };
    case 'act':
      return { type: 'act', instance: p.instance, party: p.party, action: p.action, args: p.args.map(contractValueToJson) };
    default: {
      // A payload type added to ledger/tx.ts needs its JSON form here (and in payloadSchema).
      const unknownType: never = p;
      throw new TypeError(`no JSON form for payload ${JSON.stringify((unknownType as { type: unknown }).type)}`);
    }
  }
}

/** The JSON form of a transaction (with its id). */
export function txToJson(tx: Tx): TxJson {
  return {
    id: tx.idHex,
    chain_id: tx.body.chainId,
    signers: tx.body.signers.map(toHex),
    expiry: tx.body.expiry,
    payload: payloadToJson(tx.body.payload),
    signatures: tx.signatures.map(toHex),
  };
}
