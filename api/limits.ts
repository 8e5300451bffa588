/**
 * Every bound of the REST API in one place ("put a limit on everything"). Options of
 * `buildApp` may lower the operational ones; `checkApiLimits()` runs at import and checks
 * the bounds agree with each other and with the ledger's.
 */
import assert from 'node:assert/strict';
import { BLOCK_BYTES_MAX, SIGNERS_MAX, TX_BYTES_MAX } from '../ledger/constants.js';

/** Transactions in one POST /v1/transactions/batch. */
export const BATCH_TXS_MAX = 1_000;
/** Blocks in one GET /v1/blocks page. */
export const BLOCKS_PAGE_MAX = 100;
/** A page stops early once its blocks' encodings add up to this (always at least one block). */
export const BLOCKS_PAGE_BYTES_MAX = 8 * 1024 * 1024;

/**
 * Body of one transaction. The binary form is at most TX_BYTES_MAX; the JSON form spells
 * bytes in hex (twice as long) plus field names, so it gets twice that and 16 KiB more.
 */
export const TX_BINARY_BODY_BYTES_MAX = TX_BYTES_MAX;
export const TX_JSON_BODY_BYTES_MAX = 2 * TX_BYTES_MAX + 16 * 1024;
/** Body of a batch: about one block's worth of transactions. */
export const BATCH_BODY_BYTES_MAX = 2 * BLOCK_BYTES_MAX;
/** Body of every other route (lint sources included). */
export const LINT_BODY_BYTES_MAX = 1024 * 1024;
/**
 * A body refused before it was read (too large for its route, or of a media type no parser
 * takes) is read and dropped up to this many bytes so that its client gets the answer; a
 * longer one (by its Content-Length, or as it arrives) has its connection closed.
 */
export const REFUSED_BODY_DRAIN_BYTES_MAX = 2 * BATCH_BODY_BYTES_MAX;
export const LINT_FILES_MAX = 64;
export const LINT_FILE_NAME_CHARS_MAX = 256;
export const LINT_LIMIT_FLAG_MAX = 1_000_000_000_000;
/** Lint runs in flight at once (the checker is CPU work); more get 429 API_BUSY. */
export const LINT_INFLIGHT_MAX = 2;

/** `?wait=commit`: default and largest wait. */
export const COMMIT_WAIT_MS_DEFAULT = 10_000;
export const COMMIT_WAIT_MS_MAX = 60_000;
/** Requests waiting for a commit at once; more get 429 API_BUSY. */
export const COMMIT_WAITERS_MAX = 10_000;
/**
 * Batch submissions being admitted at once (their signatures verified on the node's
 * workers); more get 429 API_BUSY rather than queueing verification without bound.
 */
export const BATCHES_IN_FLIGHT_MAX = 128;
/** Bytes of batch bodies being read or admitted at once (by Content-Length, else the most a body may be). */
export const BATCH_BYTES_IN_FLIGHT_MAX = 256 * 1024 * 1024;
/** JSON bodies: objects, arrays and elements (commas) at most 64 + one per 8 bytes of text (JSON.parse's heap grows with them). */
export const JSON_VALUES_PER_BYTE_SHIFT = 3;

/** Open GET /v1/stream connections; more get 503 API_BUSY with Retry-After. */
export const STREAM_SUBSCRIBERS_MAX = 256;
/** A subscriber whose unsent bytes exceed this is too slow and is disconnected. */
export const STREAM_BUFFER_BYTES_MAX = 1024 * 1024;
/**
 * The binary stream (GET /v1/stream with Accept: application/octet-stream) sends whole
 * blocks: a subscriber with more than this unsent when a block comes is disconnected (an
 * empty queue always takes one block, whatever its size).
 */
export const STREAM_BINARY_BUFFER_BYTES_MAX = 8 * 1024 * 1024;
/** Open binary streams (counted among STREAM_SUBSCRIBERS_MAX too): each may hold a block or two of memory. */
export const STREAM_BINARY_SUBSCRIBERS_MAX = 16;
/** Bytes of live blocks held for a subscriber while its replay runs; past it the stream ends and the client resumes. */
export const STREAM_BACKLOG_BYTES_MAX = 32 * 1024 * 1024;
/** Blocks replayed to a reconnecting subscriber (Last-Event-ID or ?from=). */
export const STREAM_REPLAY_BLOCKS_MAX = 1_000;
/** Keep-alive comment interval on an idle stream. */
export const STREAM_HEARTBEAT_MS = 15_000;
/** An ended stream's queued bytes must be read within this, or the connection is destroyed. */
export const STREAM_END_GRACE_MS = 10_000;
/** A connection with no traffic either way for this long is closed (longest legitimate quiet: a 60 s commit wait). */
export const CONNECTION_IDLE_MS = 120_000;

/** Members mode: accepted distance between the request timestamp and the server clock. */
export const MEMBERS_WINDOW_MS_DEFAULT = 30_000;
export const MEMBERS_WINDOW_MS_MAX = 300_000;
/** Signatures remembered to refuse replays within the window. */
export const MEMBERS_REPLAY_ENTRIES_MAX = 100_000;

/** Whole request (headers and body) must arrive within this. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How often Node looks for requests past REQUEST_TIMEOUT_MS: a late one is cut within this after its bound. */
export const REQUEST_CHECK_INTERVAL_MS = 1_000;
/**
 * How long a closing API waits for the requests it has already begun (a body still
 * arriving, a handler still running) before it closes their connections. Without it a
 * client sending its body slowly held a stopping node for up to REQUEST_TIMEOUT_MS plus
 * Node's check interval (review, 2026-11-30). Commit waits are released before the close
 * (node/run.ts), so an ordinary request ends well inside it; as long as an ended stream's
 * queued bytes get (STREAM_END_GRACE_MS).
 */
export const CLOSE_GRACE_MS = 10_000;
/** Longest route parameter (a 64-hex id or public key is the longest legitimate one). */
export const PARAM_CHARS_MAX = 128;
/** Validation errors listed in one error answer. */
export const VALIDATION_ERRORS_MAX = 10;

function checkApiLimits(): void {
  assert.ok(TX_JSON_BODY_BYTES_MAX > 2 * TX_BINARY_BODY_BYTES_MAX);
  assert.ok(BATCH_BODY_BYTES_MAX >= TX_JSON_BODY_BYTES_MAX);
  assert.ok(BATCH_BYTES_IN_FLIGHT_MAX >= BATCH_BODY_BYTES_MAX);
  assert.ok(CONNECTION_IDLE_MS > COMMIT_WAIT_MS_MAX && CONNECTION_IDLE_MS > STREAM_HEARTBEAT_MS);
  assert.ok(BLOCKS_PAGE_BYTES_MAX >= TX_BYTES_MAX);
  assert.ok(STREAM_BINARY_SUBSCRIBERS_MAX <= STREAM_SUBSCRIBERS_MAX);
  assert.ok(COMMIT_WAIT_MS_DEFAULT <= COMMIT_WAIT_MS_MAX);
  assert.ok(MEMBERS_WINDOW_MS_DEFAULT <= MEMBERS_WINDOW_MS_MAX);
  assert.ok(SIGNERS_MAX >= 1);
  assert.ok(PARAM_CHARS_MAX >= 64);
}
checkApiLimits();
