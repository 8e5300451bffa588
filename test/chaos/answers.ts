/**
 * What the chaos workload makes of each answer to a submission (POST /v1/transactions
 * ?wait=commit) or a read: acknowledged, refused, or indeterminate, and whether a correct
 * validator could have given that answer under the faults the harness injects.
 *
 * Legitimate under faults (indeterminate: the transaction may still commit, at most once):
 * - no answer: the request timed out (TimeoutError), or the connection was refused, reset
 *   or cut (fetch's TypeError "fetch failed" or "terminated"): a validator down, stopped
 *   (SIGSTOP), or gone while it answered;
 * - 202 with wait_timed_out: admitted, not committed within the wait;
 * - 503 NODE_UNAVAILABLE (no leader known, catching up, shutting down), 503 MEMPOOL_FULL,
 *   504 COMMIT_TIMEOUT, 429 API_BUSY (too many waiters): the node's own back-pressure,
 *   with exactly the status api/errors.ts gives those codes;
 * - 500 API_INTERNAL, only from a validator whose disk the harness filled (from the fill
 *   until that fault recovered): the API sends every non-retryable 5xx, STORE_FULL and
 *   STORE_IO from a full disk or STORE_CLOSED from the stop that follows, as API_INTERNAL
 *   (api/errors.ts answerFor). The harness decides that one, since it knows the windows.
 * Legitimate refusals (final): TX_INSUFFICIENT_BALANCE (admission against the committed
 * state, or failed in a block, whose answer names the place), TX_EXPIRY_TOO_FAR (a
 * validator behind the height the client saw), TX_EXPIRED (every height up to the expiry
 * committed without it), each with HTTP 422.
 * Anything else is a bad answer, which no correct validator gives this workload: another
 * 5xx or 4xx, a known code with the wrong HTTP status, a malformed 200 or 202 (no height or
 * index, another id), an answer that is not JSON (CLIENT_BAD_ANSWER), another refusal code
 * (TX_DUPLICATE, say: every transaction is submitted once), or an exception of the client.
 */
import { httpStatusOf } from '../../api/errors.js';
import { ApiError, type SubmitAnswer } from '../../api/client.js';
import type { ErrorCode } from '../../ledger/errors.js';

/** Refusal codes a correct cluster may give this workload (all HTTP 422). */
export const REFUSALS_EXPECTED: ReadonlySet<string> = new Set(['TX_INSUFFICIENT_BALANCE', 'TX_EXPIRY_TOO_FAR', 'TX_EXPIRED']);
/** Error codes that say "not now" (HTTP status from api/errors.ts). */
export const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['NODE_UNAVAILABLE', 'MEMPOOL_FULL', 'COMMIT_TIMEOUT', 'API_BUSY']);
/** The code that a full disk may produce, and only from the validator whose disk is full. */
export const DISK_FULL_INTERNAL = 'API_INTERNAL';

export type Verdict =
  | { readonly status: 'acknowledged'; readonly height: number; readonly index: number }
  | { readonly status: 'refused'; readonly code: string; readonly height?: number; readonly index?: number; readonly bad?: string }
  | { readonly status: 'indeterminate'; readonly code: string; readonly bad?: string; readonly diskFullOnly?: true };

const isHeight = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 1;
const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** A 200 or 202 answer to a submission of `idHex` with wait=commit. */
export function judgeAnswer(answer: SubmitAnswer, idHex: string): Verdict {
  if (answer.id !== idHex) return { status: 'indeterminate', code: 'MALFORMED_ANSWER', bad: `answered for id ${String(answer.id)}` };
  if (answer.status === 'committed') {
    if (isHeight(answer.height) && isIndex(answer.index)) return { status: 'acknowledged', height: answer.height, index: answer.index };
    return { status: 'indeterminate', code: 'MALFORMED_ANSWER', bad: `committed without a height and index: ${JSON.stringify(answer)}` };
  }
  if (answer.status === 'pending' && answer.wait_timed_out === true) return { status: 'indeterminate', code: 'WAIT_TIMED_OUT' };
  return { status: 'indeterminate', code: 'MALFORMED_ANSWER', bad: `neither committed nor a timed-out wait: ${JSON.stringify(answer)}` };
}

/** The code of an exception that means no answer came (or not all of it), else null. */
function transportCode(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'TIMEOUT';
  if (error instanceof TypeError && (error.message === 'fetch failed' || error.message === 'terminated')) {
    const cause = error.cause as { code?: unknown; name?: unknown } | undefined;
    const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.name === 'string' ? cause.name : error.message;
    return `NET_${why}`;
  }
  return null;
}

/** An exception from a submission or a read. */
export function judgeError(error: unknown): Exclude<Verdict, { status: 'acknowledged' }> {
  const lost = transportCode(error);
  if (lost !== null) return { status: 'indeterminate', code: lost };
  if (!(error instanceof ApiError)) {
    const name = error instanceof Error ? error.name : typeof error;
    return { status: 'indeterminate', code: `EXCEPTION_${name}`, bad: `the client threw ${error instanceof Error ? error.message : String(error)}` };
  }
  const code = error.code;
  if (code === 'CLIENT_BAD_ANSWER') return { status: 'indeterminate', code, bad: error.message };
  const statusRight = error.status === httpStatusOf(code as ErrorCode);
  if (code.startsWith('TX_') || code.startsWith('CONTRACT_')) {
    const { height, index } = error.details;
    const place = isHeight(height) && isIndex(index) ? { height, index } : {};
    if (REFUSALS_EXPECTED.has(code) && statusRight) return { status: 'refused', code, ...place };
    return { status: 'refused', code, ...place, bad: `refused with ${code} (HTTP ${error.status}): ${error.message}` };
  }
  if (UNAVAILABLE_CODES.has(code) && statusRight) return { status: 'indeterminate', code };
  if (code === DISK_FULL_INTERNAL && error.status === 500) return { status: 'indeterminate', code, diskFullOnly: true };
  return { status: 'indeterminate', code, bad: `HTTP ${error.status} ${error.message}` };
}
