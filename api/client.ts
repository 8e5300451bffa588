/**
 * A typed client of the REST API on Node 20's fetch. Answers are the JSON forms of
 * api/schemas.ts; an error answer becomes an `ApiError` carrying the stable code. With a
 * `signer` it signs every request for members mode (api/members.ts).
 *
 * @example
 *   const client = new SteleClient({ url: 'http://127.0.0.1:8080' });
 *   const { id } = await client.submit(signTx(body, [alice]), { wait: true });
 */
import { toHex } from '../ledger/assert.js';
import { BLOCK_BYTES_MAX } from '../ledger/constants.js';
import { headerOfEncoded } from '../ledger/block.js';
import type { Signer } from '../ledger/ed25519.js';
import type { ErrorCode } from '../ledger/errors.js';
import { CHAIN_ID_RE, type Tx } from '../ledger/tx.js';
import { FrameReader, frameAll, unframeAll } from './framing.js';
import { BLOCKS_PAGE_BYTES_MAX, BLOCKS_PAGE_MAX, STREAM_HEARTBEAT_MS } from './limits.js';
import { signRequest } from './members.js';
import type { LintReport } from './node-view.js';
import type { HeaderJson } from './schemas.js';
import type { TxJson } from './tx-json.js';
import { txToJson } from './tx-json.js';

/**
 * Codes of the errors the client raises itself, about what a server sent or did (a server
 * never answers with them, so they are not in ledger/errors.ts ERROR_CODES, the codes of
 * error answers). Stable as those are: never renamed, only added. Documented in the code
 * table of docs/api.md.
 */
export const CLIENT_ERROR_CODES = {
  CLIENT_BAD_ANSWER: 'the answer is not one: not JSON, over the client\'s bounds, an error answer without an error code, or a success answer of the wrong shape',
  CLIENT_STREAM_ENDED: 'the server ended a stream (stream, blockStream) before it delivered any block, as a node that shuts down does',
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    /** Seconds from a Retry-After header (429, 503), when the server sent one. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(`${code}: ${message}`);
    this.name = 'ApiError';
  }
}

export interface SubmitAnswer {
  id: string;
  status: 'pending' | 'committed';
  height?: number;
  index?: number;
  wait_timed_out?: boolean;
}
export interface BatchAnswer {
  accepted: number;
  refused: number;
  results: Array<{ index: number; id?: string; status: 'pending' | 'refused'; error?: { code: ErrorCode; message: string; details: Record<string, unknown> } }>;
}
export interface TransactionAnswer {
  id: string;
  status: 'pending' | 'committed' | 'failed' | 'refused';
  height?: number;
  index?: number;
  block_hash?: string;
  tx_root?: string;
  leaf_hash?: string;
  proof?: { index: number; count: number; siblings: string[] };
  transaction?: TxJson;
  error?: { code: ErrorCode; message: string };
}
export interface BlockAnswer {
  header: HeaderJson;
  proposer_signature: string;
  transactions: TxJson[];
  /** The transactions the block holds as failed, by ascending index. */
  failed: Array<{ index: number; code: ErrorCode }>;
  certificate: Array<{ validator: number; signature: string }>;
  size_bytes: number;
}
export interface BlocksPage {
  blocks: BlockAnswer[];
  next: number | null;
}
export interface AccountAnswer {
  public_key: string;
  balances: Record<string, string>;
  identity: { name: string; roles: Array<'admin' | 'issuer'>; revoked: boolean } | null;
  records: Array<{ key: string; height: number; value: { kind: 'inline'; data: string } | { kind: 'sha256'; digest: string } }>;
  records_truncated: boolean;
  /** True when the key holds more assets than `balances` lists. */
  balances_truncated: boolean;
  contracts?: Array<{ name: string; height: number }>;
  instances?: Array<{ id: number; contract: string; state: string; party: string }>;
  contracts_truncated?: boolean;
  instances_truncated?: boolean;
}
export interface StatusAnswer {
  chain_id: string;
  genesis_hash: string;
  validators: Array<{ index: number; id: string; public_key: string; address: string; health: 'up' | 'down' | 'unknown' }>;
  leader: number | null;
  ballot: { round: number; leader: number };
  committed_height: number;
  mempool_size: number;
  /** TEST ONLY: present, and true, only on a node with test fault injection (its config's test_faults_file). */
  test_faults_enabled?: true;
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Members mode: sign every request with this identity. */
  readonly signer?: Signer;
  /** Members mode: the chain id signed over (fetched from /v1/status once when absent). */
  readonly chainId?: string;
  /** Per-request timeout (default 30 s; waits for commits add their own wait). */
  readonly timeoutMs?: number;
  /** Clock for signatures (tests). */
  readonly nowMs?: () => number;
  /**
   * A stream connection that brings nothing, not even the server's keep-alive (every
   * STREAM_HEARTBEAT_MS), for this long is taken as dropped (default 3 x 15 s; tests).
   */
  readonly streamIdleMs?: number;
}

/**
 * Bounds on what the client reads of an answer, whatever Content-Length says or if it
 * says nothing: a server that sends an endless body gets CLIENT_BAD_ANSWER, not the
 * client's memory. JSON answers other than blocks (status, transactions, accounts, lint
 * reports, metrics): 64 MiB.
 */
const ANSWER_BYTES_MAX = 64 * 1024 * 1024;
/**
 * The most bytes of JSON a block answer (api/schemas.ts blockToJson) spells per byte of
 * the block's encoding, over its transactions. Each transaction is its encoding plus a
 * u32 length in the block; in JSON (api/tx-json.ts txToJson) it is its object, which also
 * holds the 64-hex `id` the encoding lacks, a comma, and at worst a `failed` entry, which
 * the encoding lacks too: `{"index":19999,"code":"<29 characters, the longest code>"},`,
 * 55 bytes. Per field: bytes are hex (2 per byte), an integer of a u64 up to 16 digits
 * (2 per byte), text of SCL or identity names and chain ids 1 per byte plus its quotes for
 * its u32 length, a record key of `"` or `\` 2 per byte, deploy source text 6 per byte
 * when it is control characters (`\u0001`), and a contract bool, 2 bytes, is
 * `{"kind":"bool","value":false},`, 30. The worst transaction is therefore an `act` with
 * CONTRACT_ARGS_MAX (64) bool arguments, one signer (each more adds 96 bytes for 196 of
 * JSON), a one-character chain id, party and action, a 16-digit expiry and instance: 280
 * bytes in the block, 2,402 of JSON, 8.58 per byte (measured: test/api/client.test.ts).
 * Next come a deploy of 60,000 control characters (5.99), a create with 64 bool params
 * (5.34); transfers, revokes and puts stay near 2 to 3. Found in review: the previous
 * bound, 64 MiB whatever the answer, refused such blocks. BLOCK_TXS_MAX (20,000) keeps a
 * 16 MiB block from being all such acts (about 115 MB of JSON, 6.9 per byte, for one
 * filled up with large deploys); the bound takes the per-transaction ceiling instead,
 * simpler and still bounded.
 */
export const BLOCK_JSON_BYTES_PER_BYTE_MAX = 9;
/**
 * A block answer's JSON outside its transactions: the header (hashes in hex, a chain id
 * of up to 64 characters, 16-digit numbers), `proposer_signature`, a certificate of up to
 * VALIDATORS_MAX (16) `{"validator":15,"signature":"<128 hex>"},`, field names and
 * `size_bytes`: under 4 KiB, counted as 8 KiB whatever the block's own bytes.
 */
export const BLOCK_JSON_FIXED_BYTES_MAX = 8 * 1024;
/** One block as JSON (GET /v1/blocks/:height, /latest): 144 MiB and 8 KiB. */
const BLOCK_JSON_ANSWER_BYTES_MAX = BLOCK_JSON_BYTES_PER_BYTE_MAX * BLOCK_BYTES_MAX + BLOCK_JSON_FIXED_BYTES_MAX;
/**
 * A page of blocks as JSON: the server stops a page before the block that would pass
 * BLOCKS_PAGE_BYTES_MAX of encodings, unless it is the first, so a page's encodings add
 * up to at most the larger of that and one block; each block adds its fixed part, and the
 * page `{"blocks":[...],"next":<16 digits>}` less than 1 KiB. About 145 MiB.
 */
const BLOCKS_PAGE_JSON_ANSWER_BYTES_MAX =
  BLOCK_JSON_BYTES_PER_BYTE_MAX * Math.max(BLOCKS_PAGE_BYTES_MAX, BLOCK_BYTES_MAX) + BLOCKS_PAGE_MAX * BLOCK_JSON_FIXED_BYTES_MAX + 1024;
/** One block's encoding. */
const BLOCK_ANSWER_BYTES_MAX = BLOCK_BYTES_MAX;
/** A binary page of blocks: the server stops a page after BLOCKS_PAGE_BYTES_MAX, so it may pass it by one block; plus each block's u32 length. */
const BLOCKS_PAGE_ANSWER_BYTES_MAX = BLOCKS_PAGE_BYTES_MAX + BLOCK_BYTES_MAX + 4 * BLOCKS_PAGE_MAX;
/** An error answer (code, message, details). */
const ERROR_ANSWER_BYTES_MAX = 1024 * 1024;

export class SteleClient {
  private readonly base: string;
  private chainId: string | undefined;
  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.chainId = options.chainId;
  }

  private async headersFor(method: string, target: string, body: Uint8Array): Promise<Record<string, string>> {
    const signer = this.options.signer;
    if (signer === undefined) return {};
    if (this.chainId === undefined) {
      // /v1/status is a read: open unless the server signs reads too, in which case pass chainId.
      this.chainId = (await this.request<StatusAnswer>('GET', '/v1/status', undefined, { unsigned: true, check: statusAnswerFault })).chain_id;
    }
    return signRequest(signer, this.chainId, method, target, (this.options.nowMs ?? Date.now)(), body);
  }

  private async raw(method: string, target: string, body: { bytes: Uint8Array; type: string } | undefined, extra: { accept?: string; unsigned?: boolean; timeoutMs?: number } = {}): Promise<Response> {
    const bytes = body?.bytes ?? new Uint8Array(0);
    const headers: Record<string, string> = extra.unsigned === true ? {} : await this.headersFor(method, target, bytes);
    if (body !== undefined) headers['content-type'] = body.type;
    if (extra.accept !== undefined) headers.accept = extra.accept;
    const response = await fetch(this.base + target, {
      method,
      headers,
      ...(body === undefined ? {} : { body: bytes }),
      signal: AbortSignal.timeout(extra.timeoutMs ?? this.options.timeoutMs ?? 30_000),
    });
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  /**
   * `check` says what is wrong with a JSON answer (CLIENT_BAD_ANSWER), or null; `bytesMax`
   * bounds the answer (default ANSWER_BYTES_MAX).
   */
  private async request<T>(method: string, target: string, json?: unknown, extra: { unsigned?: boolean; timeoutMs?: number; check?: (value: unknown) => string | null; bytesMax?: number } = {}): Promise<T> {
    const body = json === undefined ? undefined : { bytes: new TextEncoder().encode(JSON.stringify(json)), type: 'application/json' };
    const response = await this.raw(method, target, body, extra);
    return (await readJson(response, extra.check, extra.bytesMax)) as T;
  }

  /**
   * Submits a signed transaction (binary form when `binary`, else JSON). With `wait`, the
   * answer comes after the commit (or with `wait_timed_out` when `timeoutMs` passed first).
   * The answer's shape is checked (CLIENT_BAD_ANSWER), not that its id is the transaction's.
   * Async so that every failure, the TypeError of `binary` with a JSON form included, is a
   * rejection (found in review: that one was thrown out of the call itself).
   */
  async submit(tx: Tx | TxJson, options: { wait?: boolean; timeoutMs?: number; binary?: boolean } = {}): Promise<SubmitAnswer> {
    const query = options.wait === true ? `?wait=commit${options.timeoutMs === undefined ? '' : `&timeout_ms=${options.timeoutMs}`}` : '';
    const extra = { timeoutMs: (this.options.timeoutMs ?? 30_000) + (options.wait === true ? (options.timeoutMs ?? 10_000) : 0), check: submitAnswerFault };
    if (options.binary === true) {
      if (!('bytes' in tx)) throw new TypeError('binary submission needs an encoded Tx');
      return this.raw('POST', `/v1/transactions${query}`, { bytes: tx.bytes, type: 'application/octet-stream' }, extra).then((r) => readJson(r, submitAnswerFault)) as Promise<SubmitAnswer>;
    }
    return this.request('POST', `/v1/transactions${query}`, 'bytes' in tx ? txToJson(tx) : tx, extra);
  }

  /**
   * Submits 1..1,000 signed transactions in order: JSON forms, or with `binary` their
   * canonical encodings, length-framed (cheaper for the node to read). Async as `submit`:
   * `binary` with a JSON form rejects with a TypeError.
   */
  async submitBatch(txs: ReadonlyArray<Tx | TxJson>, options: { binary?: boolean } = {}): Promise<BatchAnswer> {
    if (options.binary === true) {
      const bytes = txs.map((t) => {
        if (!('bytes' in t)) throw new TypeError('binary submission needs encoded Txs');
        return t.bytes;
      });
      return this.raw('POST', '/v1/transactions/batch', { bytes: frameAll(bytes), type: 'application/octet-stream' }).then(readJson) as Promise<BatchAnswer>;
    }
    return this.request('POST', '/v1/transactions/batch', { transactions: txs.map((t) => ('bytes' in t ? txToJson(t) : t)) });
  }

  transaction(id: string | Uint8Array): Promise<TransactionAnswer> {
    return this.request('GET', `/v1/transactions/${typeof id === 'string' ? id : toHex(id)}`);
  }

  block(height: number): Promise<BlockAnswer> {
    return this.request('GET', `/v1/blocks/${height}`, undefined, { bytesMax: BLOCK_JSON_ANSWER_BYTES_MAX });
  }

  latestBlock(): Promise<BlockAnswer> {
    return this.request('GET', '/v1/blocks/latest', undefined, { bytesMax: BLOCK_JSON_ANSWER_BYTES_MAX });
  }

  /** The canonical encoding of a block (what `stele audit --url` verifies). */
  async blockBytes(height: number): Promise<Uint8Array> {
    const response = await this.raw('GET', `/v1/blocks/${height}`, undefined, { accept: 'application/octet-stream' });
    return readBody(response, BLOCK_ANSWER_BYTES_MAX, 'a block');
  }

  blocks(from: number, limit?: number): Promise<BlocksPage> {
    return this.request('GET', `/v1/blocks?from=${from}${limit === undefined ? '' : `&limit=${limit}`}`, undefined, { bytesMax: BLOCKS_PAGE_JSON_ANSWER_BYTES_MAX });
  }

  /** Encodings of consecutive blocks (the length-framed binary page, unframed). */
  async blocksBytes(from: number, limit?: number): Promise<Uint8Array[]> {
    const response = await this.raw('GET', `/v1/blocks?from=${from}${limit === undefined ? '' : `&limit=${limit}`}`, undefined, { accept: 'application/octet-stream' });
    const split = unframeAll(await readBody(response, BLOCKS_PAGE_ANSWER_BYTES_MAX, 'a page of blocks'), BLOCKS_PAGE_MAX);
    if (split.fault === 'too_many') throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', `a page of more than ${BLOCKS_PAGE_MAX} blocks`);
    if (split.fault !== null) throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', `a block frame is cut at byte ${split.at}`);
    return split.items.map((b) => b.slice());
  }

  account(publicKey: string | Uint8Array): Promise<AccountAnswer> {
    return this.request('GET', `/v1/accounts/${typeof publicKey === 'string' ? publicKey : toHex(publicKey)}`);
  }

  /** The node's status; its chain_id and committed_height are checked (CLIENT_BAD_ANSWER). */
  status(): Promise<StatusAnswer> {
    return this.request('GET', '/v1/status', undefined, { check: statusAnswerFault });
  }

  async metrics(): Promise<string> {
    return new TextDecoder().decode(await readBody(await this.raw('GET', '/metrics', undefined), ANSWER_BYTES_MAX, 'the metrics'));
  }

  lint(files: ReadonlyArray<{ file: string; source: string }>, options: { max_paths?: number; max_depth?: number; max_horizon?: number } = {}): Promise<LintReport> {
    return this.request('POST', '/v1/lint', { files, options });
  }

  openApi(): Promise<Record<string, unknown>> {
    return this.request('GET', '/openapi.json');
  }

  /**
   * Follows GET /v1/stream, calling `onHeader` for each committed block header, in height
   * order, until `signal` aborts: it resolves then, and only then. When the server ends a
   * connection (a replay longer than it sends at once) or drops it (a slow reader) the
   * client resumes after the last height it saw. A connection the server ends without any
   * block delivered (a node shutting down ends every stream) rejects with
   * CLIENT_STREAM_ENDED; one dropped without any rejects with the network error. An error
   * of its own checks (CLIENT_BAD_ANSWER: data that is not JSON, a height that is not a
   * positive integer or not the one after the last) or thrown by `onHeader` rejects; an
   * `onHeader` that returns a promise is awaited before the next block (a rejection rejects
   * the stream). Once `signal` aborts, no further block is handed to `onHeader`, even one
   * already received. A connection silent for `streamIdleMs` (no block, no keep-alive: a
   * node cut off without closing it) is treated as dropped.
   */
  stream(onHeader: (header: HeaderJson) => unknown, options: { signal: AbortSignal; from?: number }): Promise<void> {
    return this.followStream('text/event-stream', options, async (response, body, from, deliver) => {
      const decoder = new TextDecoder();
      let expected = from;
      let buffered = '';
      for await (const chunk of body) {
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = event.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
          if (!/^event: block$/m.test(event) || data === '') continue;
          let header: HeaderJson;
          try {
            header = JSON.parse(data) as HeaderJson;
          } catch {
            throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', 'an event\'s data is not JSON');
          }
          // Checked as blockStream checks: the height is where the next connection resumes
          // (found in review: a height of "5" made it resume from "51").
          const height: unknown = isObject(header) ? header.height : undefined;
          if (!isCount(height) || height === 0) throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', `an event's height ${shown(height)} is not a block height`);
          if (expected !== undefined && height !== expected) throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', `block ${height} streamed where ${expected} was due`);
          expected = height + 1;
          if (!(await deliver(height, () => onHeader(header)))) return;
        }
        if (buffered.length > 1024 * 1024) throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', 'an event exceeds 1 MiB');
      }
    });
  }

  /**
   * Follows GET /v1/stream in its binary form: `onBlock` gets each committed block's
   * canonical encoding (as GET /v1/blocks/:height sends it) and height, in height order,
   * until `signal` aborts (then, and only then, resolves). No block is fetched separately,
   * and no header JSON is parsed. Resumes as `stream` does, after a connection the server
   * ended or dropped having delivered blocks; a connection the server ends without progress
   * rejects with CLIENT_STREAM_ENDED, one dropped without progress with the network
   * error. A block out of order or
   * larger than BLOCK_BYTES_MAX rejects with CLIENT_BAD_ANSWER; an exception thrown by
   * `onBlock`, or a rejection of the promise it returns (awaited before the next block),
   * rejects with it. After an abort no further block is handed over; a silent connection
   * is treated as dropped, as in `stream`.
   */
  blockStream(onBlock: (bytes: Uint8Array, height: number) => unknown, options: { signal: AbortSignal; from?: number }): Promise<void> {
    return this.followStream('application/octet-stream', options, async (response, body, from, deliver) => {
      const frames = new FrameReader(BLOCK_BYTES_MAX);
      let expected = from;
      for await (const chunk of body) {
        let items: Uint8Array[];
        try {
          items = frames.push(chunk);
        } catch (error) {
          throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', (error as Error).message);
        }
        for (const bytes of items) {
          if (bytes.length === 0) continue; // keep-alive
          let height: number;
          try {
            height = headerOfEncoded(bytes).header.height;
          } catch {
            throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', 'a streamed block does not decode');
          }
          if (expected !== undefined && height !== expected) throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', `block ${height} streamed where ${expected} was due`);
          expected = height + 1;
          if (!(await deliver(height, () => onBlock(bytes, height)))) return;
        }
      }
    });
  }

  /**
   * The connections of one stream: GET /v1/stream from `from` with `accept`, its body
   * handed to `read`, which reports each block through `deliver` (its height, and the
   * caller's callback). A connection the server ends or drops is followed by another from
   * the height after the last delivered, while the last one made progress. Resolves only
   * once `signal` has aborted (found in review: a server that ended the stream without a
   * block, as every node does when it shuts down, looked to the caller like its own abort).
   * `deliver` awaits the callback and says whether to go on (false once `signal` aborted,
   * and then calls nothing: before 2026-12-02 every block already received was still handed
   * over, and a callback's promise was left unawaited, its rejection unhandled; review). A
   * connection that brings nothing for `streamIdleMs` is aborted and treated as dropped
   * (before, a node cut off without a close held the stream until fetch gave up, minutes).
   */
  private async followStream(
    accept: string,
    options: { signal: AbortSignal; from?: number },
    read: (response: Response, body: AsyncIterable<Uint8Array>, from: number | undefined, deliver: (height: number, callback: () => unknown) => Promise<boolean>) => Promise<void>,
  ): Promise<void> {
    const { signal } = options;
    const idleMs = this.options.streamIdleMs ?? 3 * STREAM_HEARTBEAT_MS;
    let from = options.from;
    for (;;) {
      const before = from;
      const target = `/v1/stream${from === undefined ? '' : `?from=${from}`}`;
      const headers = await this.headersFor('GET', target, new Uint8Array(0));
      const idle = new IdleWatch(idleMs);
      let response: Response;
      try {
        response = await fetch(this.base + target, { headers: { ...headers, accept }, signal: AbortSignal.any([signal, idle.signal]) });
      } catch (error) {
        idle.stop();
        if (signal.aborted) return;
        throw idle.fired ? idle.error() : error;
      }
      if (!response.ok || response.body === null) {
        idle.stop();
        throw await errorOf(response);
      }
      const delivery = new Delivery();
      try {
        // Node's web ReadableStream is async-iterable; the DOM lib types used here do not say so.
        await read(response, idle.watch(response.body as unknown as AsyncIterable<Uint8Array>), from, async (height, callback) => {
          if (signal.aborted) return false;
          from = height + 1;
          await delivery.call(callback);
          return !signal.aborted;
        });
      } catch (error) {
        if (signal.aborted) return;
        if (idle.fired) error = idle.error();
        // A dropped connection that had delivered blocks is followed by another; one that
        // had delivered nothing is a failure to report, not an end.
        if (!delivery.dropped(error) || from === before) throw error;
        continue;
      } finally {
        idle.stop();
      }
      if (signal.aborted) return;
      // Ended by the server: a replay cut at its bound is followed by another connection;
      // an end without a block is the server going away (or refusing to go on), reported.
      if (from === before) {
        throw new ApiError(response.status, 'CLIENT_STREAM_ENDED', `the server ended the stream${from === undefined ? '' : ` from height ${from}`} without sending a block`);
      }
    }
  }
}

/**
 * Tells a stream's dropped connection (the server destroyed it: a reader too slow, a node
 * going down), after which the stream resumes if the connection had delivered blocks,
 * from an error of the client's own checks (ApiError) or of the caller's callback, which
 * reject.
 */
class Delivery {
  private failed = false;

  async call(callback: () => unknown): Promise<void> {
    try {
      await callback();
    } catch (error) {
      this.failed = true;
      throw error;
    }
  }

  dropped(error: unknown): boolean {
    return !this.failed && !(error instanceof ApiError);
  }
}

/**
 * Aborts a stream connection that brings nothing for `ms`: each chunk (keep-alives
 * included) read through `watch` restarts the clock, and so does each block the caller is
 * still handling (the body is not read meanwhile).
 */
class IdleWatch {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  fired = false;

  constructor(private readonly ms: number) {
    this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private arm(): void {
    this.stop();
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort();
    }, this.ms);
    this.timer.unref?.();
  }

  async *watch(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      this.stop();
      yield chunk; // the caller handles it (and its blocks) with the clock stopped
      this.arm();
    }
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The error of a silent connection: a dropped one, as far as resuming goes. */
  error(): Error {
    return Object.assign(new Error(`the stream brought nothing, not even a keep-alive, for ${this.ms} ms`), { code: 'ETIMEDOUT' });
  }
}

/**
 * The body of an answer, read as a stream and given up (the connection cancelled) once it
 * passes `bytesMax`: Content-Length is checked first but not trusted, since a server may
 * send none, or send more.
 * @throws ApiError CLIENT_BAD_ANSWER
 */
async function readBody(response: Response, bytesMax: number, what: string): Promise<Uint8Array> {
  const tooLarge = (): ApiError => new ApiError(response.status, 'CLIENT_BAD_ANSWER', `${what} of more than ${bytesMax} bytes`);
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    if (declared > bytesMax) throw tooLarge();
    for (;;) {
      // Node types the body as ReadableStream<any>; its chunks are Uint8Arrays.
      const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (done || value === undefined) break;
      length += value.byteLength;
      if (length > bytesMax) throw tooLarge();
      chunks.push(value);
    }
  } catch (error) {
    // Not awaited: an endless body must not hold the caller up; this closes the connection.
    reader.cancel().catch(() => {});
    throw error;
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, length);
}

async function readJson(response: Response, check?: (value: unknown) => string | null, bytesMax = ANSWER_BYTES_MAX): Promise<unknown> {
  const text = new TextDecoder().decode(await readBody(response, bytesMax, 'an answer'));
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', `the answer is not JSON: ${text.slice(0, 100)}`);
  }
  const fault = check?.(value) ?? null;
  if (fault !== null) throw new ApiError(response.status, 'CLIENT_BAD_ANSWER', fault);
  return value;
}

/** A value of an answer, shortened, for messages. */
function shown(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 100);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * What is wrong with a /v1/status answer, of the fields clients act on (the chain id they
 * sign for, the height expiries and exports count from), or null. Found in review: a
 * committed_height of "7" made `stele tx` sign an expiry of "750".
 */
function statusAnswerFault(value: unknown): string | null {
  if (!isObject(value)) return `/v1/status answered ${shown(value)}, not an object`;
  if (typeof value.chain_id !== 'string' || !CHAIN_ID_RE.test(value.chain_id)) return `/v1/status answered chain_id ${shown(value.chain_id)}, not a chain id`;
  if (!isCount(value.committed_height)) return `/v1/status answered committed_height ${shown(value.committed_height)}, not a block count`;
  return null;
}

/** What is wrong with an answer to a submission (api/schemas.ts SubmitAnswer), or null. */
function submitAnswerFault(value: unknown): string | null {
  if (!isObject(value)) return `the submission was answered ${shown(value)}, not an object`;
  if (typeof value.id !== 'string' || !/^[0-9a-f]{64}$/.test(value.id)) return `the submission was answered with id ${shown(value.id)}, not a transaction id`;
  if (value.status !== 'pending' && value.status !== 'committed') return `the submission was answered with status ${shown(value.status)}, neither pending nor committed`;
  if (value.status === 'committed' && !(isCount(value.height) && isCount(value.index))) return 'the submission was answered committed without a height and index';
  if (value.wait_timed_out !== undefined && typeof value.wait_timed_out !== 'boolean') return `the submission was answered with wait_timed_out ${shown(value.wait_timed_out)}`;
  return null;
}

async function errorOf(response: Response): Promise<ApiError> {
  const retry = response.headers.get('retry-after');
  const retryAfterSeconds = retry !== null && /^[0-9]{1,5}$/.test(retry) ? Number(retry) : null;
  let body: unknown;
  let bytes: Uint8Array;
  try {
    bytes = await readBody(response, ERROR_ANSWER_BYTES_MAX, `HTTP ${response.status}: an error answer`);
  } catch (error) {
    if (error instanceof ApiError) return error; // too large: CLIENT_BAD_ANSWER
    throw error;
  }
  try {
    body = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return new ApiError(response.status, 'CLIENT_BAD_ANSWER', `HTTP ${response.status} without a JSON error`, {}, retryAfterSeconds);
  }
  // Any JSON at all may come (found in review: `null`, or {"error": null}, threw a TypeError).
  const error = isObject(body) ? body.error : undefined;
  if (!isObject(error) || typeof error.code !== 'string' || !ERROR_CODE_SHAPE.test(error.code)) {
    return new ApiError(response.status, 'CLIENT_BAD_ANSWER', `HTTP ${response.status} without an error code`, {}, retryAfterSeconds);
  }
  const message = typeof error.message === 'string' ? error.message : '';
  return new ApiError(response.status, error.code as ErrorCode, message, isObject(error.details) ? error.details : {}, retryAfterSeconds);
}

/** What an error code looks like (ledger/errors.ts): a server's code is shown and acted on. */
const ERROR_CODE_SHAPE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** A JSON object (not null, not an array). */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
