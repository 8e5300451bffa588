/**
 * One registry of error codes (ledger/errors.ts ERROR_CODES) and the HTTP status of each.
 * Every error answer has the same shape, `{ "error": { "code", "message", "details" } }`,
 * with no stack trace; a 5xx caused by a bug says only API_INTERNAL (the server logs it).
 */
import { ERROR_CODES, isSteleError, type ErrorCode } from '../ledger/errors.js';

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details: Readonly<Record<string, unknown>> };
}

const EXACT: Partial<Record<ErrorCode, number>> = {
  API_BAD_REQUEST: 400,
  API_NOT_FOUND: 404,
  API_BODY_TOO_LARGE: 413,
  API_UNSUPPORTED_MEDIA_TYPE: 415,
  API_TX_UNKNOWN: 404,
  API_BLOCK_NOT_FOUND: 404,
  API_UNAUTHENTICATED: 401,
  API_STALE_REQUEST: 401,
  API_REPLAYED: 401,
  API_NOT_MEMBER: 403,
  API_BUSY: 429,
  API_LINT_UNAVAILABLE: 501,
  API_LINT_TOO_COSTLY: 422,
  API_INTERNAL: 500,
  MEMPOOL_FULL: 503,
  NODE_UNAVAILABLE: 503,
  COMMIT_TIMEOUT: 504,
  TX_MALFORMED: 400,
  TX_TOO_LARGE: 413,
  TX_BAD_SIGNATURE: 403,
  TX_UNKNOWN_SIGNER: 403,
  TX_REVOKED_SIGNER: 403,
  TX_MISSING_ROLE: 403,
  TX_NOT_SIGNER: 403,
  TX_DUPLICATE: 409,
  CLI_USAGE: 400,
};

/**
 * The HTTP status of a code: the table above, then by family (ENC_* 400, other TX_* 422:
 * the request was understood and refused by the ledger rules), and 500 for codes that only
 * arise inside the server (storage, genesis, block checks).
 */
export function httpStatusOf(code: ErrorCode): number {
  const exact = EXACT[code];
  if (exact !== undefined) return exact;
  if (code.startsWith('ENC_')) return 400;
  if (code.startsWith('TX_') || code.startsWith('CONTRACT_')) return 422;
  return 500;
}

/** Every code the registry knows, with its status and meaning (for docs and tests). */
export function errorTable(): Array<{ code: ErrorCode; status: number; meaning: string }> {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => ({ code, status: httpStatusOf(code), meaning: ERROR_CODES[code] }));
}

export function errorBody(code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}): ErrorBody {
  return { error: { code, message, details } };
}

/** The answer for an error a handler or the node raised: status and body. */
export function answerFor(error: unknown): { status: number; body: ErrorBody; retryAfterSeconds?: number } {
  if (isSteleError(error)) {
    const status = httpStatusOf(error.code);
    if (status >= 500 && !isRetryable(error.code)) {
      return { status: 500, body: errorBody('API_INTERNAL', ERROR_CODES.API_INTERNAL) };
    }
    // details.retry_after_s (seconds) also becomes the Retry-After header.
    const answer: { status: number; body: ErrorBody; retryAfterSeconds?: number } = { status, body: errorBody(error.code, error.reason, jsonSafe(error.details)) };
    if (status === 503 || status === 429) answer.retryAfterSeconds = retryAfter(error.details);
    return answer;
  }
  return { status: 500, body: errorBody('API_INTERNAL', ERROR_CODES.API_INTERNAL) };
}

/** 5xx codes that describe the node's condition (not a bug) and are sent as they are. */
function isRetryable(code: ErrorCode): boolean {
  return code === 'MEMPOOL_FULL' || code === 'NODE_UNAVAILABLE' || code === 'COMMIT_TIMEOUT' || code === 'API_LINT_UNAVAILABLE';
}

function retryAfter(details: Readonly<Record<string, unknown>>): number {
  const value = details.retry_after_s;
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 3600 ? value : 1;
}

/** Details cross the wire as JSON: bigints become decimal strings, bytes hex, the rest stays. */
export function jsonSafe(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if (typeof value === 'bigint') out[key] = value.toString();
    else if (value instanceof Uint8Array) out[key] = Buffer.from(value).toString('hex');
    else if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[key] = value;
    else if (typeof value === 'object') {
      try {
        out[key] = JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as unknown;
      } catch {
        out[key] = String(value); // a cycle: never worth a 500
      }
    }
  }
  return out;
}
