/**
 * Members mode: every request (or every write, when reads stay open) carries an Ed25519
 * signature by an active registered identity. Headers:
 *
 *   Stele-Key:        64 hex, the signer's public key
 *   Stele-Timestamp:  milliseconds since the Unix epoch, decimal
 *   Stele-Signature:  128 hex, Ed25519 (strict rule, ledger/ed25519.ts) over the message below
 *
 * The signed message is UTF-8 text, lines joined by "\n":
 *
 *   stele-api-request-v1
 *   <chain id>
 *   <METHOD>                 upper case
 *   <request target>         path and query exactly as sent, e.g. /v1/transactions?wait=commit
 *   <timestamp>              the Stele-Timestamp value
 *   <body SHA-256>           64 hex of the raw body bytes (of the empty string when none)
 *
 * The chain id binds a signature to one chain; the timestamp must lie within the window
 * (default 30 s either side of the server clock); a signature seen within the window is
 * refused as a replay (bounded memory: MEMBERS_REPLAY_ENTRIES_MAX).
 */
import { fromHex, toHex } from '../ledger/assert.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../ledger/constants.js';
import { verify, type Signer } from '../ledger/ed25519.js';
import { SteleError } from '../ledger/errors.js';
import { sha256 } from '../ledger/hash.js';
import { MEMBERS_REPLAY_ENTRIES_MAX } from './limits.js';

export const MEMBERS_HEADERS = { key: 'stele-key', timestamp: 'stele-timestamp', signature: 'stele-signature' } as const;
const DOMAIN = 'stele-api-request-v1';

/** The bytes a member signs for one request. */
export function requestMessage(chainId: string, method: string, target: string, timestampMs: number, body: Uint8Array): Uint8Array {
  return new TextEncoder().encode([DOMAIN, chainId, method.toUpperCase(), target, String(timestampMs), toHex(sha256(body))].join('\n'));
}

/**
 * The three headers for a request signed by `signer` (what api/client.ts sends).
 * @example signRequest(signer, 'stele-dev', 'POST', '/v1/transactions', Date.now(), body)
 */
export function signRequest(signer: Signer, chainId: string, method: string, target: string, timestampMs: number, body: Uint8Array): Record<string, string> {
  const signature = signer.sign(requestMessage(chainId, method, target, timestampMs, body));
  return { [MEMBERS_HEADERS.key]: toHex(signer.publicKey), [MEMBERS_HEADERS.timestamp]: String(timestampMs), [MEMBERS_HEADERS.signature]: toHex(signature) };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

function unauthenticated(message: string): never {
  throw new SteleError('API_UNAUTHENTICATED', message, { headers: Object.values(MEMBERS_HEADERS) });
}

/** A signature checked and not yet used: its signer. */
export interface CheckedRequest {
  readonly publicKey: Uint8Array;
  readonly signatureHex: string;
  readonly timestampMs: number;
}

/**
 * Checks the headers of one request (format, window, signature). Does not check the
 * identity or replays: `ReplayGuard` and the node do.
 * @throws SteleError API_UNAUTHENTICATED, API_STALE_REQUEST.
 */
export function checkRequestSignature(
  headers: Record<string, string | string[] | undefined>,
  request: { chainId: string; method: string; target: string; body: Uint8Array; nowMs: number; windowMs: number },
): CheckedRequest {
  const keyHex = header(headers, MEMBERS_HEADERS.key);
  const timestamp = header(headers, MEMBERS_HEADERS.timestamp);
  const signatureHex = header(headers, MEMBERS_HEADERS.signature);
  if (keyHex === undefined || timestamp === undefined || signatureHex === undefined) unauthenticated('members mode: Stele-Key, Stele-Timestamp and Stele-Signature headers are required');
  if (!new RegExp(`^[0-9a-f]{${PUBLIC_KEY_BYTES * 2}}$`).test(keyHex)) unauthenticated('Stele-Key: expected 64 lower-case hex characters');
  if (!new RegExp(`^[0-9a-f]{${SIGNATURE_BYTES * 2}}$`).test(signatureHex)) unauthenticated('Stele-Signature: expected 128 lower-case hex characters');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(timestamp) || !Number.isSafeInteger(Number(timestamp))) unauthenticated('Stele-Timestamp: expected milliseconds since the epoch');
  const timestampMs = Number(timestamp);
  const skewMs = timestampMs - request.nowMs;
  if (Math.abs(skewMs) > request.windowMs) {
    throw new SteleError('API_STALE_REQUEST', `the timestamp is ${skewMs} ms from the server clock; the window is ${request.windowMs} ms`, { skew_ms: skewMs, window_ms: request.windowMs });
  }
  const publicKey = fromHex(keyHex, PUBLIC_KEY_BYTES);
  const message = requestMessage(request.chainId, request.method, request.target, timestampMs, request.body);
  if (!verify(publicKey, message, fromHex(signatureHex, SIGNATURE_BYTES))) unauthenticated('the signature does not verify over the request (see docs/api.md, members mode)');
  return { publicKey, signatureHex, timestampMs };
}

/**
 * Remembers signatures until their window passes, to refuse a replayed request. Bounded:
 * when full of unexpired entries it refuses new requests with API_BUSY rather than forget.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private prunedAtMs = 0;
  /** The earliest time an entry left after the last prune expires: pruning a full cache before then frees nothing. */
  private nextExpiryMs = 0;
  constructor(private readonly windowMs: number, private readonly entriesMax = MEMBERS_REPLAY_ENTRIES_MAX) {}

  /** @throws SteleError API_REPLAYED, API_BUSY. */
  admit(checked: CheckedRequest, nowMs: number): void {
    if (this.seen.has(checked.signatureHex)) throw new SteleError('API_REPLAYED', 'this signed request was already received; sign each request afresh');
    // Expired entries go once per window (cost spread over the window's requests), or when
    // full and one can have expired: a full cache was scanned on every request (found in
    // review), so one member could make every request cost 100,000 steps.
    if ((this.seen.size >= this.entriesMax && nowMs > this.nextExpiryMs) || nowMs - this.prunedAtMs > this.windowMs) this.prune(nowMs);
    if (this.seen.size >= this.entriesMax) throw new SteleError('API_BUSY', 'too many signed requests within the window', { retry_after_s: Math.ceil(this.windowMs / 1000) });
    // Kept until the timestamp leaves the window on both sides.
    const until = checked.timestampMs + this.windowMs;
    this.seen.set(checked.signatureHex, until);
    if (until < this.nextExpiryMs) this.nextExpiryMs = until;
  }

  private prune(nowMs: number): void {
    this.prunedAtMs = nowMs;
    let next = Number.POSITIVE_INFINITY;
    for (const [signature, until] of this.seen) {
      if (until < nowMs) this.seen.delete(signature);
      else if (until < next) next = until;
    }
    this.nextExpiryMs = next;
  }

  get size(): number {
    return this.seen.size;
  }
}
