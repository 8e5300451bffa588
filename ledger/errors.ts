/**
 * Typed errors with stable codes. Operating errors (bad input from outside) are
 * `SteleError`s; broken invariants use `node:assert` and stop the process.
 *
 * Codes are part of the public contract (API responses, CLI `--json`, audit reports):
 * never rename one, only add.
 */

/**
 * Every stable error code, with a one-line meaning. Documented in docs/data-model.md (CONTRACT_* in docs/contracts.md).
 * The REST client's own codes (CLIENT_*, which no server sends) are api/client.ts CLIENT_ERROR_CODES.
 */
export const ERROR_CODES = {
  // Canonical encoding (decoders).
  ENC_TRUNCATED: 'input ended before the value was complete',
  ENC_TRAILING: 'bytes left over after the value',
  ENC_TOO_LARGE: 'a length, count or total size exceeds its bound',
  ENC_BAD_VERSION: 'unknown encoding version',
  ENC_BAD_KIND: 'the value is of another kind than expected',
  ENC_BAD_TAG: 'unknown tag or enum value',
  ENC_BAD_UTF8: 'string is not valid UTF-8',
  ENC_BAD_TEXT: 'string has characters outside its allowed set',
  ENC_OUT_OF_RANGE: 'integer outside its allowed range',
  ENC_NON_CANONICAL: 'value admits a shorter or ordered encoding and this is not it',
  // Genesis and configuration files.
  // The node.
  MEMPOOL_FULL: 'the mempool is full; retry after the delay given',
  CONFIG_INVALID: 'the node configuration file is not valid',
  GENESIS_INVALID: 'the genesis file is not valid',
  // Transactions (refusal codes: stable, returned to clients).
  TX_MALFORMED: 'the transaction bytes do not decode',
  TX_TOO_LARGE: 'the transaction exceeds the size limit',
  TX_WRONG_CHAIN: 'the transaction names another chain',
  TX_BAD_SIGNATURE: 'a signature does not verify under the strict rule',
  TX_UNKNOWN_SIGNER: 'a signer is not a registered identity',
  TX_REVOKED_SIGNER: 'a signer identity has been revoked',
  TX_MISSING_ROLE: 'no signer holds the role this transaction type needs',
  TX_NOT_SIGNER: 'the account acted on is not among the signers',
  TX_EXPIRED: 'the expiry height has passed',
  TX_EXPIRY_TOO_FAR: 'the expiry height is beyond the allowed window',
  TX_DUPLICATE: 'a transaction with this id is already committed',
  TX_UNSUPPORTED_TYPE: 'the transaction type is reserved and not yet supported',
  TX_INSUFFICIENT_BALANCE: 'the balance is lower than the amount',
  TX_UNKNOWN_ASSET: 'the asset does not exist',
  TX_NOT_ASSET_ISSUER: 'the asset belongs to another issuer',
  TX_SUPPLY_OVERFLOW: 'the amount would overflow the 64-bit supply bound',
  TX_UNKNOWN_RECIPIENT: 'the recipient is not a registered identity',
  TX_IDENTITY_EXISTS: 'the identity is already registered',
  TX_UNKNOWN_IDENTITY: 'the identity is not registered',
  TX_ALREADY_REVOKED: 'the identity is already revoked',
  TX_SELF_REVOKE: 'an admin may not revoke the last admin',
  TX_BAD_KEY: 'a public key is not a valid strict Ed25519 key',
  // Contracts (deploy, create, act; the interpreter's refusals keep their names).
  CONTRACT_REJECTED: 'the deployed source has checker errors (details.diagnostics lists them)',
  CONTRACT_UNKNOWN: 'no deployed contract has this name',
  CONTRACT_UNKNOWN_INSTANCE: 'no contract instance has this id',
  CONTRACT_UNKNOWN_PARTY: 'a party is bound to an identity that is not registered or is revoked',
  CONTRACT_NOT_SIGNED: 'a party who must sign (the actor, or one who escrows at creation) did not',
  CONTRACT_DUE_FULL: 'a height of the after chain already holds as many due entries as it may',
  CONTRACT_BAD_BINDING: 'a party, param, ref or argument is missing, unknown or of the wrong type or range',
  CONTRACT_REQUIRE_FAILED: 'a require of the contract is false',
  CONTRACT_NOT_ACTIVE: 'the instance is in a final state or frozen',
  CONTRACT_NO_TRANSITION: 'the current state has no such action for that party',
  CONTRACT_DEADLINE_PASSED: 'the deadline of the current state has passed',
  CONTRACT_GUARD_FALSE: 'the guard of the transition is false',
  CONTRACT_DIVISION_BY_ZERO: 'an expression divides by zero',
  CONTRACT_VALUE_TOO_LARGE: 'an integer exceeds the value bound',
  CONTRACT_NEGATIVE_AMOUNT: 'an escrow or pay amount is negative',
  CONTRACT_INSUFFICIENT_BALANCE: 'a party balance would go below zero',
  CONTRACT_ESCROW_SHORT: 'the escrow would go below zero',
  // Blocks and chains.
  BLOCK_MALFORMED: 'the block bytes do not decode',
  BLOCK_WRONG_CHAIN: 'the block names another chain',
  BLOCK_BAD_HEIGHT: 'the block height does not follow its parent',
  BLOCK_BAD_PARENT: 'the previous-hash does not match the parent block',
  BLOCK_BAD_TIME: 'the block time is before its parent',
  BLOCK_BAD_MERKLE_ROOT: 'the Merkle root does not match the transactions',
  BLOCK_BAD_PROPOSER: 'the proposer index or signature is invalid',
  BLOCK_BAD_CERTIFICATE: 'the quorum certificate is invalid',
  BLOCK_BAD_TRANSACTION: 'a transaction in the block is refused',
  BLOCK_BAD_STATE_HASH: 'the state hash differs from re-execution',
  BLOCK_TOO_LARGE: 'the block exceeds its size or transaction limit',
  // Storage.
  STORE_CORRUPT: 'stored bytes fail their checksum or framing before the tail',
  STORE_MISMATCH: 'the store belongs to another genesis or is inconsistent',
  STORE_IO: 'an operating system I/O call failed',
  STORE_CLOSED: 'the store is closed',
  STORE_RECORD_TOO_LARGE: 'a log record exceeds the record size limit',
  STORE_FULL: 'the log reached its segment or record limit, or the disk is full',
  // Native addon and transport (native/, docs/native.md).
  NATIVE_MISSING: 'the native addon is not built or does not load',
  TRANSPORT_CONFIG: 'the transport configuration is invalid',
  TRANSPORT_CLOSED: 'the transport is closed',
  TRANSPORT_UNKNOWN_PEER: 'no validator with this index, or the peer is this node',
  TRANSPORT_TOO_LARGE: 'a message exceeds the transport message size limit',
  TRANSPORT_BACKEND: 'the requested transport backend is not available',
  TRANSPORT_IO: 'a socket or fabric call failed',
  // Command line.
  CLI_USAGE: 'bad command-line usage',
  CLI_IO: 'a file could not be read or written',
  CLI_INTERRUPTED: 'the command was stopped by SIGINT or SIGTERM before it finished',
  CHAIN_FILE_INVALID: 'the chain file is not a well-formed Stele export',
  AUDIT_HEAD_MISMATCH: 'the chain does not end at the expected head block',
  AUDIT_REPLICA_MISMATCH: 'a replica given to audit --compare serves another block (or fewer blocks) on the common prefix',
  // Node admission (returned by the node behind the REST API; MEMPOOL_FULL is above).
  NODE_UNAVAILABLE: 'the node cannot take the request now (no leader known, catching up or shutting down)',
  COMMIT_TIMEOUT: 'the transaction was admitted but not committed within the wait',
  // Fault injection for the chaos harness (node/faults.ts; only with the test-only config field test_faults_file).
  FAULTS_INVALID: 'the fault-injection file named by the test-only config field test_faults_file is malformed',
  // REST API (api/; HTTP statuses in api/errors.ts, documented in docs/api.md).
  API_BAD_REQUEST: 'the request does not match the route schema (parameters, query or body)',
  API_NOT_FOUND: 'no route has this method and path',
  API_BODY_TOO_LARGE: 'the request body exceeds the route limit',
  API_UNSUPPORTED_MEDIA_TYPE: 'the content type is not accepted by this route',
  API_TX_UNKNOWN: 'no pending, committed or refused transaction has this id',
  API_BLOCK_NOT_FOUND: 'no committed block has this height',
  API_UNAUTHENTICATED: 'members mode: the request signature headers are missing or do not verify',
  API_STALE_REQUEST: 'members mode: the request timestamp is outside the accepted window',
  API_REPLAYED: 'members mode: this signed request was already received',
  API_NOT_MEMBER: 'members mode: the signer is not an active registered identity',
  API_BUSY: 'too many requests of this kind are in flight; retry later',
  API_LINT_UNAVAILABLE: 'this server has no contract checker',
  API_LINT_TOO_COSTLY: 'checking the request took longer or needed more memory than the server allows for one lint run',
  API_INTERNAL: 'an unexpected server error (logged on the server; no details are sent)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An operating error: bad input or an environment failure, with a stable code. */
export class SteleError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  /** The message without the code prefix. */
  readonly reason: string;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.name = 'SteleError';
    this.code = code;
    this.reason = message;
    this.details = details;
  }
}

/**
 * True when `error` says the disk is full: STORE_FULL, a Node.js ENOSPC, or LevelDB's own
 * words, which classic-level puts in the message or in the error's cause.
 */
export function isNoSpaceError(error: unknown): boolean {
  if (isSteleError(error, 'STORE_FULL')) return true;
  if (!(error instanceof Error)) return false;
  if ((error as Error & { code?: unknown }).code === 'ENOSPC') return true;
  const cause = (error as Error & { cause?: unknown }).cause;
  return /No space left on device|ENOSPC/.test(`${error.message} ${cause instanceof Error ? cause.message : ''}`);
}

/** True when `error` is a SteleError (optionally with the given code). */
export function isSteleError(error: unknown, code?: ErrorCode): error is SteleError {
  return error instanceof SteleError && (code === undefined || error.code === code);
}

/** A failed system call's errno code (ENOENT, EISDIR, ...), else the error's message: for error texts. */
export function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}
