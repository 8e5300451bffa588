/**
 * JSON Schemas of every request and answer, and the converters from ledger values to the
 * JSON forms they describe. Fastify validates requests with them (Ajv), serializes answers
 * with them (fast-json-stringify: a field not in the schema is never sent), and
 * api/openapi.ts publishes them: one source for validation, output and documentation.
 */
import { toHex } from '../ledger/assert.js';
import type { Block, BlockHeader } from '../ledger/block.js';
import { BLOCK_FORMAT } from '../ledger/block.js';
import { ERROR_CODES } from '../ledger/errors.js';
import { Role, type RoleName } from '../ledger/tx.js';
import { BATCH_TXS_MAX, BLOCKS_PAGE_MAX, COMMIT_WAIT_MS_MAX, LINT_FILE_NAME_CHARS_MAX, LINT_FILES_MAX, LINT_LIMIT_FLAG_MAX, STREAM_REPLAY_BLOCKS_MAX } from './limits.js';
import type { AccountView, IdentityView, LintReport, NodeStatus, RecordView } from './node-view.js';
import { txToJson } from './tx-json.js';

export const HEX32 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const HEX = { type: 'string', pattern: '^[0-9a-f]*$' } as const;
const HEX64 = { type: 'string', pattern: '^[0-9a-f]{128}$' } as const;
/** A height or count in a URL: decimal, no leading zeros, at most 2^53 - 1 digits-wise. */
const HEIGHT_TEXT = { type: 'string', pattern: '^[1-9][0-9]{0,15}$' } as const;
const INT = { type: 'integer', minimum: 0 } as const;
const AMOUNT_TEXT = { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_CODES) },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

export const headerSchema = {
  $id: 'BlockHeader',
  type: 'object',
  additionalProperties: false,
  required: ['format', 'chain_id', 'height', 'prev_hash', 'tx_root', 'tx_count', 'state_hash', 'time_ms', 'proposer', 'ballot', 'hash'],
  properties: {
    hash: { ...HEX32, description: 'SHA-256 of the header encoding' },
    format: INT,
    chain_id: { type: 'string' },
    height: INT,
    prev_hash: HEX32,
    tx_root: HEX32,
    tx_count: INT,
    state_hash: HEX32,
    time_ms: INT,
    proposer: INT,
    ballot: { type: 'object', additionalProperties: false, required: ['round', 'leader'], properties: { round: INT, leader: INT } },
  },
} as const;

export const blockSchema = {
  $id: 'Block',
  type: 'object',
  additionalProperties: false,
  required: ['header', 'proposer_signature', 'transactions', 'failed', 'certificate', 'size_bytes'],
  properties: {
    header: { $ref: 'BlockHeader#' },
    proposer_signature: HEX64,
    transactions: { type: 'array', items: { $ref: 'Transaction#' } },
    failed: {
      type: 'array',
      description: 'the transactions this block holds as failed (their state-dependent checks failed; they changed nothing but using up their ids), by ascending index',
      items: { type: 'object', additionalProperties: false, required: ['index', 'code'], properties: { index: INT, code: { type: 'string' } } },
    },
    certificate: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['validator', 'signature'], properties: { validator: INT, signature: HEX64 } },
    },
    size_bytes: { ...INT, description: 'length of the canonical encoding (GET with Accept: application/octet-stream returns it)' },
  },
} as const;

export interface HeaderJson {
  hash: string;
  format: number;
  chain_id: string;
  height: number;
  prev_hash: string;
  tx_root: string;
  tx_count: number;
  state_hash: string;
  time_ms: number;
  proposer: number;
  ballot: { round: number; leader: number };
}

export function headerToJson(h: BlockHeader, hash: Uint8Array): HeaderJson {
  return {
    hash: toHex(hash),
    format: BLOCK_FORMAT,
    chain_id: h.chainId,
    height: h.height,
    prev_hash: toHex(h.prevHash),
    tx_root: toHex(h.txRoot),
    tx_count: h.txCount,
    state_hash: toHex(h.stateHash),
    time_ms: h.timeMs,
    proposer: h.proposer,
    ballot: { round: h.ballot.round, leader: h.ballot.leader },
  };
}

export function blockToJson(b: Block, failed: ReadonlyArray<{ readonly index: number; readonly code: string }> = []): Record<string, unknown> {
  return {
    header: headerToJson(b.header, b.hash),
    proposer_signature: toHex(b.proposerSignature),
    transactions: b.txs.map(txToJson),
    failed: failed.map((f) => ({ index: f.index, code: f.code })),
    certificate: b.certificate.map((v) => ({ validator: v.validator, signature: toHex(v.signature) })),
    size_bytes: b.bytes.length,
  };
}

const ROLE_NAMES = Object.keys(Role) as RoleName[];
export function roleNames(roles: number): RoleName[] {
  return ROLE_NAMES.filter((r) => (roles & Role[r]) !== 0);
}

export const statusSchema = {
  $id: 'Status',
  type: 'object',
  additionalProperties: false,
  required: ['chain_id', 'genesis_hash', 'validators', 'leader', 'ballot', 'committed_height', 'mempool_size'],
  properties: {
    chain_id: { type: 'string' },
    genesis_hash: HEX32,
    validators: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index', 'id', 'public_key', 'address', 'health'],
        properties: { index: INT, id: { type: 'string' }, public_key: HEX32, address: { type: 'string' }, health: { type: 'string', enum: ['up', 'down', 'unknown'] } },
      },
    },
    leader: { type: ['integer', 'null'], minimum: 0 },
    ballot: { type: 'object', additionalProperties: false, required: ['round', 'leader'], properties: { round: INT, leader: INT } },
    committed_height: INT,
    mempool_size: INT,
    test_faults_enabled: { type: 'boolean', enum: [true], description: 'TEST ONLY: present, and true, only when this node drops peer messages as its config\'s test_faults_file says (chaos tests); absent on every other node' },
  },
} as const;

export function statusToJson(s: NodeStatus, genesisHash: Uint8Array): Record<string, unknown> {
  return {
    chain_id: s.chainId,
    genesis_hash: toHex(genesisHash),
    validators: s.validators.map((v) => ({ index: v.index, id: v.id, public_key: toHex(v.publicKey), address: v.address, health: v.health })),
    leader: s.leader,
    ballot: { round: s.ballot.round, leader: s.ballot.leader },
    committed_height: s.committedHeight,
    mempool_size: s.mempoolSize,
    ...(s.testFaultsEnabled === true ? { test_faults_enabled: true } : {}),
  };
}

const identitySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['name', 'roles', 'revoked'],
  properties: { name: { type: 'string' }, roles: { type: 'array', items: { type: 'string', enum: ROLE_NAMES } }, revoked: { type: 'boolean' } },
} as const;

export const accountSchema = {
  $id: 'Account',
  type: 'object',
  additionalProperties: false,
  required: ['public_key', 'balances', 'balances_truncated', 'identity', 'records', 'records_truncated'],
  properties: {
    public_key: HEX32,
    balances: { type: 'object', description: 'asset symbol to amount (decimal string); zero balances are absent; at most 1,000, in symbol order', additionalProperties: AMOUNT_TEXT },
    balances_truncated: { type: 'boolean', description: 'true when the key holds more assets than balances lists (an asset missing from balances is then not known to be zero)' },
    identity: identitySchema,
    records: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'value', 'height'],
        properties: {
          key: { type: 'string' },
          height: INT,
          value: {
            type: 'object',
            additionalProperties: false,
            required: ['kind'],
            properties: { kind: { type: 'string', enum: ['inline', 'sha256'] }, data: HEX, digest: HEX32 },
          },
        },
      },
    },
    records_truncated: { type: 'boolean' },
    contracts: {
      type: 'array',
      description: 'contracts this key deployed, by name (at most 1,000); absent when the node does not read contract state',
      items: { type: 'object', additionalProperties: false, required: ['name', 'height'], properties: { name: { type: 'string' }, height: INT } },
    },
    instances: {
      type: 'array',
      description: 'contract instances this key is a party to, one entry per party it is bound to, by id (at most 1,000); absent as above',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'contract', 'state', 'party'],
        properties: { id: INT, contract: { type: 'string' }, state: { type: 'string' }, party: { type: 'string' } },
      },
    },
    contracts_truncated: { type: 'boolean', description: 'present with contracts: true when the key deployed more than the list holds' },
    instances_truncated: { type: 'boolean', description: 'present with instances: true when the key is a party to more than the list holds' },
  },
} as const;

function identityToJson(x: IdentityView | null): Record<string, unknown> | null {
  return x === null ? null : { name: x.name, roles: roleNames(x.roles), revoked: x.revoked };
}

function recordToJson(r: RecordView): Record<string, unknown> {
  return {
    key: r.key,
    height: r.height,
    value: r.value.kind === 'inline' ? { kind: 'inline', data: toHex(r.value.data) } : { kind: 'sha256', digest: toHex(r.value.digest) },
  };
}

export function accountToJson(publicKey: Uint8Array, a: AccountView): Record<string, unknown> {
  const balances: Record<string, string> = {};
  for (const [symbol, amount] of [...a.balances].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) if (amount > 0n) balances[symbol] = amount.toString();
  const out: Record<string, unknown> = {
    public_key: toHex(publicKey),
    balances,
    balances_truncated: a.balancesTruncated === true,
    identity: identityToJson(a.identity),
    records: a.records.map(recordToJson),
    records_truncated: a.recordsTruncated,
  };
  if (a.contracts !== undefined) out.contracts = a.contracts.map((c) => ({ name: c.name, height: c.height }));
  if (a.instances !== undefined) out.instances = a.instances.map((i) => ({ id: i.id, contract: i.contract, state: i.state, party: i.party }));
  if (a.contracts !== undefined) out.contracts_truncated = a.contractsTruncated === true;
  if (a.instances !== undefined) out.instances_truncated = a.instancesTruncated === true;
  return out;
}

const proofSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['index', 'count', 'siblings'],
  properties: { index: INT, count: INT, siblings: { type: 'array', items: HEX32 } },
} as const;

export const txStatusSchema = {
  $id: 'TransactionStatus',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'status'],
  properties: {
    id: HEX32,
    status: {
      type: 'string',
      enum: ['pending', 'committed', 'failed', 'refused'],
      description: 'failed: in a committed block, which records its refusal and changes nothing else (final)',
    },
    height: { ...INT, description: 'committed and failed only' },
    index: { ...INT, description: 'committed and failed only: position in the block' },
    block_hash: { ...HEX32, description: 'committed and failed only' },
    tx_root: { ...HEX32, description: 'committed and failed only: the Merkle root in the block header' },
    leaf_hash: { ...HEX32, description: 'committed and failed only: SHA-256(0x00 || encoded transaction)' },
    proof: { ...proofSchema, description: 'committed and failed only: Merkle inclusion proof of leaf_hash under tx_root' },
    transaction: { $ref: 'Transaction#' },
    error: {
      type: 'object',
      description: 'failed and refused only',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

export const submitAnswerSchema = {
  $id: 'SubmitAnswer',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'status'],
  properties: {
    id: HEX32,
    status: { type: 'string', enum: ['pending', 'committed'] },
    height: INT,
    index: INT,
    wait_timed_out: { type: 'boolean', description: 'wait=commit only: true when the wait ended before the commit' },
  },
} as const;

export const batchBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['transactions'],
  properties: {
    transactions: {
      type: 'array',
      minItems: 1,
      maxItems: BATCH_TXS_MAX,
      // Any JSON value: each item is checked alone (api/tx-json.ts txFromJson), so a bad one,
      // an object or not, is refused in its result (TX_MALFORMED) and the others still go, as
      // docs/api.md says. With `type: 'object'` a single number refused the whole batch
      // (found in review).
      items: { description: 'a transaction in JSON form (Transaction); checked item by item, not by this schema' },
    },
  },
} as const;

export const batchAnswerSchema = {
  $id: 'BatchAnswer',
  type: 'object',
  additionalProperties: false,
  required: ['accepted', 'refused', 'results'],
  properties: {
    accepted: INT,
    refused: INT,
    results: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index', 'status'],
        properties: {
          index: INT,
          id: HEX32,
          status: { type: 'string', enum: ['pending', 'refused'] },
          error: { $ref: 'Error#/properties/error' },
        },
      },
    },
  },
} as const;

export const submitQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    wait: { type: 'string', enum: ['commit'] },
    timeout_ms: { type: 'string', pattern: '^[1-9][0-9]{0,4}$', description: `with wait=commit: 1..${COMMIT_WAIT_MS_MAX}` },
  },
} as const;

export const idParamsSchema = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: HEX32 } } as const;
export const heightParamsSchema = { type: 'object', additionalProperties: false, required: ['height'], properties: { height: HEIGHT_TEXT } } as const;
export const publicKeyParamsSchema = { type: 'object', additionalProperties: false, required: ['publicKey'], properties: { publicKey: HEX32 } } as const;
export const blocksQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from'],
  properties: {
    from: HEIGHT_TEXT,
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$', description: `1..${BLOCKS_PAGE_MAX}, default 10` },
  },
} as const;
export const streamQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { from: { ...HEIGHT_TEXT, description: `replay committed blocks from this height (at most ${STREAM_REPLAY_BLOCKS_MAX}) before live ones` } },
} as const;

export const blocksPageSchema = {
  $id: 'BlocksPage',
  type: 'object',
  additionalProperties: false,
  required: ['blocks', 'next'],
  properties: {
    blocks: { type: 'array', items: { $ref: 'Block#' } },
    next: { type: ['integer', 'null'], description: 'the from of the next page, or null at the committed tip' },
  },
} as const;

const LINT_FLAG = { type: 'integer', minimum: 0, maximum: LINT_LIMIT_FLAG_MAX } as const;
export const lintBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['files'],
  properties: {
    files: {
      type: 'array',
      minItems: 1,
      maxItems: LINT_FILES_MAX,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['file', 'source'],
        properties: { file: { type: 'string', minLength: 1, maxLength: LINT_FILE_NAME_CHARS_MAX }, source: { type: 'string' } },
      },
    },
    options: {
      type: 'object',
      additionalProperties: false,
      properties: { max_paths: { ...LINT_FLAG, minimum: 1 }, max_depth: LINT_FLAG, max_horizon: { ...LINT_FLAG, minimum: 1 } },
    },
  },
} as const;

const NUM_OR_TEXT = { anyOf: [{ type: 'integer' }, { type: 'string' }] } as const;
export const lintReportSchema = {
  $id: 'LintReport',
  type: 'object',
  additionalProperties: false,
  required: ['diagnostics', 'summary'],
  properties: {
    diagnostics: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ruleId', 'severity', 'message', 'file', 'line', 'column'],
        properties: {
          ruleId: { type: 'string' },
          severity: { type: 'string', enum: ['error', 'warning'] },
          message: { type: 'string' },
          file: { type: 'string' },
          line: INT,
          column: INT,
          contract: { type: 'string' },
          state: { type: 'string' },
          trace: { type: 'array', items: { type: 'string' } },
          figure: { type: 'object', additionalProperties: false, required: ['value', 'limit'], properties: { value: NUM_OR_TEXT, limit: NUM_OR_TEXT } },
        },
      },
    },
    summary: {
      type: 'object',
      additionalProperties: false,
      required: ['files', 'contracts', 'errors', 'warnings'],
      properties: { files: INT, contracts: INT, errors: INT, warnings: INT },
    },
  },
} as const;

export function lintReportToJson(r: LintReport): Record<string, unknown> {
  return { diagnostics: r.diagnostics, summary: r.summary };
}

/** Schemas shared by $ref, registered once with fastify.addSchema and listed in OpenAPI components. */
export const SHARED_SCHEMAS = [errorSchema, headerSchema, blockSchema, statusSchema, accountSchema, txStatusSchema, submitAnswerSchema, batchAnswerSchema, blocksPageSchema, lintReportSchema] as const;
