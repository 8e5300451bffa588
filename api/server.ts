/**
 * The REST API: `buildApp(node, options)` builds a fastify instance over a `NodeView`
 * (api/node-view.ts) without listening, so tests drive it with `inject()`; `listen` binds it.
 *
 * Every route has a request and a response schema (api/schemas.ts); the OpenAPI document
 * at /openapi.json is generated from the routes actually registered (api/openapi.ts).
 * Errors answer `{ "error": { "code", "message", "details" } }` with the status of
 * api/errors.ts; nothing else (no stack trace, no framework error shape) reaches a client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { bytesEqual, fromHex, invariant, toHex } from '../ledger/assert.js';
import { TX_BYTES_MAX } from '../ledger/constants.js';
import { ERROR_CODES, isSteleError, SteleError } from '../ledger/errors.js';
import { leafHash, verifyMerkleProof } from '../ledger/merkle.js';
import { headerOfEncoded, type Block } from '../ledger/block.js';
import type { Tx } from '../ledger/tx.js';
import { prefersBinary } from './accept.js';
import { answerFor, errorBody } from './errors.js';
import { frameAll, unframeAll } from './framing.js';
import {
  BATCH_BODY_BYTES_MAX,
  BATCH_BYTES_IN_FLIGHT_MAX,
  STREAM_END_GRACE_MS,
  CLOSE_GRACE_MS,
  CONNECTION_IDLE_MS,
  JSON_VALUES_PER_BYTE_SHIFT,
  BATCH_TXS_MAX,
  BLOCKS_PAGE_BYTES_MAX,
  BLOCKS_PAGE_MAX,
  COMMIT_WAIT_MS_DEFAULT,
  COMMIT_WAIT_MS_MAX,
  COMMIT_WAITERS_MAX,
  BATCHES_IN_FLIGHT_MAX,
  LINT_BODY_BYTES_MAX,
  LINT_INFLIGHT_MAX,
  MEMBERS_WINDOW_MS_DEFAULT,
  MEMBERS_WINDOW_MS_MAX,
  PARAM_CHARS_MAX,
  REQUEST_CHECK_INTERVAL_MS,
  REQUEST_TIMEOUT_MS,
  STREAM_BACKLOG_BYTES_MAX,
  STREAM_BINARY_BUFFER_BYTES_MAX,
  STREAM_BINARY_SUBSCRIBERS_MAX,
  STREAM_BUFFER_BYTES_MAX,
  STREAM_HEARTBEAT_MS,
  STREAM_REPLAY_BLOCKS_MAX,
  STREAM_SUBSCRIBERS_MAX,
  TX_JSON_BODY_BYTES_MAX,
  REFUSED_BODY_DRAIN_BYTES_MAX,
  VALIDATION_ERRORS_MAX,
} from './limits.js';
import { checkRequestSignature, MEMBERS_HEADERS, ReplayGuard } from './members.js';
import type { NodeView } from './node-view.js';
import { DOCS_HTML, DOCS_SCRIPT, openApiDocument, type RouteRecord } from './openapi.js';
import { Histogram, LATENCY_BUCKETS_S, renderMetrics, type Metric } from './metrics.js';
import {
  accountToJson,
  batchAnswerSchema,
  batchBodySchema,
  blocksPageSchema,
  blocksQuerySchema,
  blockToJson,
  headerToJson,
  heightParamsSchema,
  idParamsSchema,
  lintBodySchema,
  lintReportToJson,
  publicKeyParamsSchema,
  SHARED_SCHEMAS,
  statusToJson,
  streamQuerySchema,
  submitQuerySchema,
} from './schemas.js';
import { payloadSchema, txFromBytes, txFromJson, txJsonSchema, txsFromBytes, txToJson } from './tx-json.js';

export interface MembersOptions {
  /** When true, every non-GET request must be signed by an active registered identity. */
  readonly enabled: boolean;
  /** Also require signatures on GET routes (documentation routes stay open). Default false. */
  readonly signedReads?: boolean;
  /** Accepted clock distance, ms (default 30,000; at most 300,000). */
  readonly windowMs?: number;
}

export interface AppOptions {
  /** fastify/pino logger options; off by default. */
  readonly logger?: boolean | Record<string, unknown>;
  readonly members?: MembersOptions;
  /** Clock for members mode (tests inject one). */
  readonly nowMs?: () => number;
  /** Lower bounds than the defaults of api/limits.ts (never higher). */
  readonly streamSubscribersMax?: number;
  readonly streamHeartbeatMs?: number;
  readonly streamReplayBlocksMax?: number;
  readonly commitWaitersMax?: number;
  /** Lower bound than BATCHES_IN_FLIGHT_MAX (tests). */
  readonly batchesInFlightMax?: number;
  /** Lower bound than CLOSE_GRACE_MS (tests). */
  readonly closeGraceMs?: number;
  /** Lower bound than REQUEST_TIMEOUT_MS (tests; at least 1,000). */
  readonly requestTimeoutMs?: number;
}

/** Routes that document the API: always open, even in members mode. */
const DOC_ROUTES = new Set(['/openapi.json', '/docs', '/docs/app.js']);
/** The block stream's route: long-lived, so left out of the request-duration histogram. */
const STREAM_ROUTE = '/v1/stream';

/** Binary bodies are Buffers, which JSON Schema cannot type; openapi.ts spells them as binary strings. */
const BINARY = { description: 'the canonical binary encoding (ledger/tx.ts, ledger/block.ts)' } as const;

const ERROR_RESPONSES = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } } as const;

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function bounded(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new RangeError(`option ${value} outside 0..${max}`);
  return value;
}

/**
 * Whether the request asked for the binary form over `alternative`, the route's other form:
 * Accept weights count, so `application/octet-stream;q=0` refuses it (found in review: any
 * mention of it chose it).
 */
function acceptsBinary(request: FastifyRequest, alternative: 'application/json' | 'text/event-stream'): boolean {
  return prefersBinary(request.headers.accept, alternative);
}

/**
 * The first height a stream request asks for, or null for live blocks only: `?from=`, or
 * the block after `Last-Event-ID`, and the later of the two when both come. EventSource
 * reconnects to the URL it first opened and adds Last-Event-ID, so with ?from= winning an
 * EventSource on `?from=1` over more than one replay's worth of blocks replayed the same
 * blocks for ever (found in review).
 * @throws SteleError API_BAD_REQUEST for a Last-Event-ID that is no height, or a height
 *   past 2^53 - 1 (it could not be told apart from its neighbours).
 */
function streamStart(request: FastifyRequest): number | null {
  const text = (request.query as { from?: string }).from; // the schema's pattern: 1.., 16 digits at most
  const lastEventId = request.headers['last-event-id'];
  if (text !== undefined && Number(text) > Number.MAX_SAFE_INTEGER) throw new SteleError('API_BAD_REQUEST', `height ${text} is beyond 2^53 - 1`, { from: text });
  const from = text === undefined ? null : Number(text);
  if (lastEventId === undefined) return from;
  if (typeof lastEventId !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(lastEventId)) throw new SteleError('API_BAD_REQUEST', 'Last-Event-ID: expected a block height', { header: 'last-event-id' });
  if (Number(lastEventId) >= Number.MAX_SAFE_INTEGER) throw new SteleError('API_BAD_REQUEST', `Last-Event-ID ${lastEventId}: the height after it is beyond 2^53 - 1`, { header: 'last-event-id', last_event_id: lastEventId });
  return Math.max(from ?? 0, Number(lastEventId) + 1);
}

/** A Buffer over the same bytes (no copy), for reply.send. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The items of a binary batch body (views into it), or API_BAD_REQUEST for the whole
 * request: a cut frame, no items, or more than BATCH_TXS_MAX. Nothing is admitted then.
 */
function binaryBatchItems(body: Buffer): Uint8Array[] {
  const split = unframeAll(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), BATCH_TXS_MAX);
  if (split.fault === 'too_many') throw new SteleError('API_BAD_REQUEST', `a batch holds at most ${BATCH_TXS_MAX} transactions`, { limit: BATCH_TXS_MAX });
  if (split.fault !== null) throw new SteleError('API_BAD_REQUEST', `the framed batch is cut at byte ${split.at}: each transaction is its length (u32, big-endian) and then its encoding`, { at: split.at, fault: split.fault });
  if (split.items.length === 0) throw new SteleError('API_BAD_REQUEST', 'a batch holds at least one transaction');
  return split.items;
}

/**
 * Objects, arrays and elements in a JSON text (brackets and commas outside strings),
 * counted before JSON.parse: a body of `{},{},...` makes a heap of objects about twenty
 * times its size, and `[1.5,1.5,...]` several times.
 */
export function jsonValueCount(bytes: Uint8Array): number {
  let count = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b || c === 0x2c) count++;
  }
  return count;
}

/** One block's SSE event, built once however many subscribers receive it. */
const eventTexts = new WeakMap<Headed, string>();
function eventText(block: Headed): string {
  let text = eventTexts.get(block);
  if (text === undefined) {
    text = `id: ${block.header.height}\nevent: block\ndata: ${JSON.stringify(headerToJson(block.header, block.hash))}\n\n`;
    eventTexts.set(block, text);
  }
  return text;
}

/** One block's frame on the binary stream (its length as a u32 big-endian, then its encoding), built once. */
const blockFrames = new WeakMap<Uint8Array, Buffer>();
function blockFrame(bytes: Uint8Array): Buffer {
  let frame = blockFrames.get(bytes);
  if (frame === undefined) {
    frame = asBuffer(frameAll([bytes]));
    blockFrames.set(bytes, frame);
  }
  return frame;
}

/** The binary stream's keep-alive: a frame of length 0 (no block is empty). */
const EMPTY_FRAME = Buffer.alloc(4);

/** A batch's reservation (POST /v1/transactions/batch): freed once closed and not running. */
interface BatchSlot {
  closed: boolean;
  running: boolean;
  free(): void;
}

/** What an event needs of a block: its header and hash (replays decode no more). */
type Headed = Pick<Block, 'header' | 'hash'>;

/** The answers of one stream subscriber: server-sent events of headers, or binary frames of whole blocks. */
interface Subscriber {
  /** Height of the last block sent; live blocks at or below it are skipped. */
  lastSent: number;
  /** Blocks that arrived during the replay, sent after it, and their bytes. */
  backlog: Block[] | null;
  backlogBytes: number;
  /** A live block, as it commits. */
  send(block: Block): void;
  /** A block of the replay: its encoding as stored, and its height (not decoded for the binary form). */
  sendReplayed(height: number, bytes: Uint8Array): void;
  /** Ends the stream; `drop` destroys the connection instead of flushing what is queued. */
  close(drop?: boolean): void;
}

/**
 * Builds the API over `node`. Does not listen: call `listen(app, ...)` or `app.inject()`.
 * @example const app = buildApp(node, { members: { enabled: true } }); await listen(app, { port: 8080 });
 */
export function buildApp(node: NodeView, options: AppOptions = {}): FastifyInstance {
  const nowMs = options.nowMs ?? Date.now;
  const members = options.members ?? { enabled: false };
  const windowMs = bounded(members.windowMs, MEMBERS_WINDOW_MS_DEFAULT, MEMBERS_WINDOW_MS_MAX);
  const replays = new ReplayGuard(windowMs);
  const subscribersMax = bounded(options.streamSubscribersMax, STREAM_SUBSCRIBERS_MAX, STREAM_SUBSCRIBERS_MAX);
  const replayMax = bounded(options.streamReplayBlocksMax, STREAM_REPLAY_BLOCKS_MAX, STREAM_REPLAY_BLOCKS_MAX);
  const heartbeatMs = bounded(options.streamHeartbeatMs, STREAM_HEARTBEAT_MS, STREAM_HEARTBEAT_MS);
  const waitersMax = bounded(options.commitWaitersMax, COMMIT_WAITERS_MAX, COMMIT_WAITERS_MAX);
  const batchesMax = bounded(options.batchesInFlightMax, BATCHES_IN_FLIGHT_MAX, BATCHES_IN_FLIGHT_MAX);
  let batchesInFlight = 0;
  let batchBytesInFlight = 0;
  const batchSlots = new WeakMap<FastifyRequest, BatchSlot>();
  const txBytesMax = Math.min(node.genesis.limits.tx_bytes_max, TX_BYTES_MAX);

  const requestTimeoutMs = bounded(options.requestTimeoutMs, REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
  if (requestTimeoutMs < 1000) throw new RangeError(`requestTimeoutMs ${requestTimeoutMs} below 1000`);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: LINT_BODY_BYTES_MAX,
    requestTimeout: requestTimeoutMs,
    // Node cuts a request that has not arrived only when its connection check runs (every
    // 30 s by default), and by the larger of this timeout and the headers timeout (60 s by
    // default, fastify leaves it): a request trickled in was cut at 90 s, not 30 (review,
    // 2026-12-02). Both bounds at the request timeout, checked every second.
    http: { headersTimeout: requestTimeoutMs, connectionsCheckingInterval: REQUEST_CHECK_INTERVAL_MS },
    // A response nobody reads (a client that stopped reading a page, or an ended stream)
    // would otherwise hold its socket and buffers for good (found in review).
    connectionTimeout: CONNECTION_IDLE_MS,
    exposeHeadRoutes: false,
    return503OnClosing: false,
    routerOptions: { maxParamLength: PARAM_CHARS_MAX, ignoreTrailingSlash: false },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, discriminator: true } },
    clientErrorHandler: (error, socket) => {
      // Node's HTTP parser refused the request before any route ran (bad framing such as an
      // unknown Transfer-Encoding, or headers that never finished arriving). The answer has
      // the same error shape as every other refusal; the connection then closes, since a
      // stream that lost its framing cannot be resynchronised.
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const timedOut = (error as NodeJS.ErrnoException).code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const body = JSON.stringify(errorBody('API_BAD_REQUEST', timedOut ? `the request did not arrive within ${requestTimeoutMs} ms` : 'malformed HTTP request (framing or headers)'));
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    frameworkErrors: (error, _request, reply) => {
      // Bad percent-encoding in the URL, a parameter over maxParamLength.
      void (reply as FastifyReply).code(400).type('application/json').send(errorBody('API_BAD_REQUEST', error.message.slice(0, 300)));
    },
  });

  // Counters of this API (bounded labels: route templates, not raw URLs).
  const requestCounts = new Map<string, number>();
  const requestSeconds = new Histogram(LATENCY_BUCKETS_S);
  let waiters = 0;
  let lintsInFlight = 0;
  const subscribers = new Set<Subscriber>();
  let binarySubscribers = 0;
  const routes: RouteRecord[] = [];
  let openApi: Record<string, unknown> | null = null;

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method: String(method), url: route.url, schema: (route.schema ?? {}) as Record<string, unknown> });
  });

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.addSchema(payloadSchema);
  app.addSchema(txJsonSchema);

  // Bodies: JSON (kept raw for members signatures) and the binary canonical encoding only.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer;
    // JSON is UTF-8 (RFC 8259); another declared charset was decoded as UTF-8 anyway and
    // refused as "not valid UTF-8", or read wrongly (review, 2026-12-02).
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(String(request.headers['content-type'] ?? ''))?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new SteleError('API_UNSUPPORTED_MEDIA_TYPE', `JSON bodies are UTF-8; charset ${JSON.stringify(charset.slice(0, 40))} is not taken`, { content_type: String(request.headers['content-type']).slice(0, 100) }), undefined);
      return;
    }
    let text: string;
    try {
      text = strictUtf8.decode(body as Buffer);
    } catch {
      done(new SteleError('API_BAD_REQUEST', 'the JSON body is not valid UTF-8'), undefined);
      return;
    }
    const values = jsonValueCount(body as Buffer);
    const valuesMax = 64 + ((body as Buffer).length >> JSON_VALUES_PER_BYTE_SHIFT);
    if (values > valuesMax) {
      done(new SteleError('API_BAD_REQUEST', `the JSON body holds ${values} objects, arrays and elements; a body of ${(body as Buffer).length} bytes may hold ${valuesMax}`, { limit: valuesMax }), undefined);
      return;
    }
    jsonParser(request, text, done);
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer;
    done(null, body);
  });

  /**
   * A request refused before its body was read (fastify's 413 on a Content-Length over the
   * route's limit, its 415 on a media type no parser takes, a body that passed the limit as
   * it arrived). Fastify answers those with Connection: close, and Node closes the socket
   * while the client is still sending: the client's kernel gets a reset, and the client sees
   * EPIPE or ECONNRESET instead of the answer (the end-to-end fuzz saw it under load,
   * 2026-12-01). The rest of the body is read and dropped instead, and the connection stays
   * open, up to REFUSED_BODY_DRAIN_BYTES_MAX bytes: a body declared longer keeps the
   * Connection: close, and one that arrives longer has its connection destroyed. The
   * request timeout bounds the time. The Connection: close is set here, not left to fastify,
   * which sets it only on its own 413 and 415: the members-mode 401 and the batch route's 429
   * come before the body too, and with keep-alive Node read a body of any declared length to
   * keep the connection (review, 2026-12-02: 200 MB read, a 100 GB one trickled for minutes).
   */
  const drainRefusedBody = (request: FastifyRequest, reply: FastifyReply): void => {
    const raw = request.raw;
    if (closing || raw.complete || raw.destroyed || reply.sent) return;
    const declared = Number(raw.headers['content-length'] ?? 0);
    if (!(declared <= REFUSED_BODY_DRAIN_BYTES_MAX)) {
      void reply.header('connection', 'close');
      return;
    }
    let drained = 0;
    raw.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > REFUSED_BODY_DRAIN_BYTES_MAX) raw.socket.destroy();
    });
    raw.resume();
    reply.removeHeader('connection');
  };

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('API_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`));
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    const e = error as { validation?: Array<{ instancePath: string; message?: string }>; validationContext?: string; code?: string; statusCode?: number; message?: string };
    drainRefusedBody(request, reply);
    if (Array.isArray(e.validation)) {
      const errors = e.validation.slice(0, VALIDATION_ERRORS_MAX).map((v) => ({ path: v.instancePath, message: v.message ?? 'invalid' }));
      return reply.code(400).send(errorBody('API_BAD_REQUEST', `${e.validationContext ?? 'request'}${errors[0]?.path ?? ''} ${errors[0]?.message ?? 'is invalid'}`, { context: e.validationContext, errors }));
    }
    if (isSteleError(error)) {
      const answer = answerFor(error);
      if (answer.status >= 500 && answer.body.error.code === 'API_INTERNAL') request.log.error({ err: error }, 'node raised a non-retryable error');
      if (answer.retryAfterSeconds !== undefined) void reply.header('retry-after', String(answer.retryAfterSeconds));
      return reply.code(answer.status).send(answer.body);
    }
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send(errorBody('API_BODY_TOO_LARGE', 'the request body exceeds the limit of this route'));
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send(errorBody('API_UNSUPPORTED_MEDIA_TYPE', 'send application/json (or application/octet-stream where the route says so)'));
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(400).send(errorBody('API_BAD_REQUEST', String(e.message ?? 'bad request').slice(0, 300), { cause: e.code ?? null }));
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.code(500).send(errorBody('API_INTERNAL', ERROR_CODES.API_INTERNAL));
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = ['GET', 'POST'].includes(request.method) ? request.method : 'OTHER';
    const key = `${method} ${reply.statusCode} ${route}`;
    requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
    // A stream's "duration" is how long a subscriber stayed: not a request latency.
    if (route !== STREAM_ROUTE) requestSeconds.observe(reply.elapsedTime / 1000, { method, route });
  });

  // Members mode: refuse unsigned requests before reading a body, verify after.
  const needsSignature = (request: FastifyRequest): boolean => {
    if (!members.enabled) return false;
    const route = request.routeOptions.url;
    if (route === undefined || DOC_ROUTES.has(route)) return false;
    return request.method !== 'GET' || members.signedReads === true;
  };
  app.addHook('onRequest', async (request) => {
    if (!needsSignature(request)) return;
    for (const name of Object.values(MEMBERS_HEADERS)) {
      if (typeof request.headers[name] !== 'string') throw new SteleError('API_UNAUTHENTICATED', `members mode: the ${name} header is required`, { headers: Object.values(MEMBERS_HEADERS) });
    }
  });
  app.addHook('preValidation', async (request) => {
    if (!needsSignature(request)) return;
    const now = nowMs();
    const checked = checkRequestSignature(request.headers, {
      chainId: node.chainId,
      method: request.method,
      target: request.url,
      body: request.rawBody ?? new Uint8Array(0),
      nowMs: now,
      windowMs,
    });
    const identity = await node.identity(checked.publicKey);
    if (identity === null || identity.revoked) {
      throw new SteleError('API_NOT_MEMBER', `${toHex(checked.publicKey)} is not an active registered identity`, { public_key: toHex(checked.publicKey) });
    }
    replays.admit(checked, now);
  });

  /** Routes whose body is JSON only (the binary parser exists for the transaction routes). */
  const jsonOnly = async (request: FastifyRequest): Promise<void> => {
    // A JSON `null` is JSON of the wrong shape: the schema answers it (400), not the media type (found in review).
    if (!Buffer.isBuffer(request.body) && request.body !== undefined) return;
    throw new SteleError('API_UNSUPPORTED_MEDIA_TYPE', 'this route takes application/json only', { content_type: String(request.headers['content-type'] ?? '').slice(0, 100) });
  };

  const decodeBody = (request: FastifyRequest): Tx => {
    if (Buffer.isBuffer(request.body)) return txFromBytes(new Uint8Array(request.body), txBytesMax);
    // No content type and no body: fastify skips the body schema, as on the batch route
    // (review, 2026-12-02: this answered TX_MALFORMED where the schema answers API_BAD_REQUEST).
    if (request.body === undefined) throw new SteleError('API_BAD_REQUEST', 'a transaction needs a body: its JSON form as application/json, or its encoding as application/octet-stream');
    return txFromJson(request.body, txBytesMax);
  };
  const checkChain = (tx: Tx): void => {
    if (tx.body.chainId !== node.chainId) throw new SteleError('TX_WRONG_CHAIN', `the transaction names chain ${tx.body.chainId}; this is ${node.chainId}`, { chain_id: node.chainId });
  };

  app.post(
    '/v1/transactions',
    {
      bodyLimit: TX_JSON_BODY_BYTES_MAX,
      schema: {
        summary: 'Submit one signed transaction (JSON form or the binary canonical encoding)',
        tags: ['transactions'],
        querystring: submitQuerySchema,
        body: { content: { 'application/json': { schema: { $ref: 'Transaction#' } }, 'application/octet-stream': { schema: BINARY } } },
        response: { 200: { $ref: 'SubmitAnswer#' }, 202: { $ref: 'SubmitAnswer#' }, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const query = request.query as { wait?: 'commit'; timeout_ms?: string };
      const tx = decodeBody(request);
      checkChain(tx);
      const timeoutMs = query.timeout_ms === undefined ? COMMIT_WAIT_MS_DEFAULT : Number(query.timeout_ms);
      if (timeoutMs > COMMIT_WAIT_MS_MAX) throw new SteleError('API_BAD_REQUEST', `timeout_ms at most ${COMMIT_WAIT_MS_MAX}`, { timeout_ms: timeoutMs });
      if (query.wait === 'commit' && waiters >= waitersMax) throw new SteleError('API_BUSY', `${waiters} requests already wait for commits`, { retry_after_s: 1 });
      const { id } = await node.submit(tx);
      invariant(bytesEqual(id, tx.id), 'the node admits a transaction under its own id');
      if (query.wait !== 'commit') return reply.code(202).send({ id: toHex(id), status: 'pending' });
      waiters++;
      try {
        const at = await node.waitForCommit(id, timeoutMs);
        return reply.code(200).send({ id: toHex(id), status: 'committed', height: at.height, index: at.index });
      } catch (error) {
        if (isSteleError(error, 'COMMIT_TIMEOUT')) return reply.code(202).send({ id: toHex(id), status: 'pending', wait_timed_out: true });
        throw error;
      } finally {
        waiters--;
      }
    },
  );

  app.post(
    '/v1/transactions/batch',
    {
      bodyLimit: BATCH_BODY_BYTES_MAX,
      // The slot, and the body's bytes, are reserved before the body is read: counted only
      // once the body was parsed, any number of bodies of up to BATCH_BODY_BYTES_MAX could be
      // in memory at once, and JSON.parse makes a heap of objects many times the text's size
      // (found in review). Released when the response closes, however it ends.
      onRequest: async (request, reply) => {
        const declared = Number(request.headers['content-length']);
        const bytes = Number.isSafeInteger(declared) && declared >= 0 && declared <= BATCH_BODY_BYTES_MAX ? declared : BATCH_BODY_BYTES_MAX;
        if (batchesInFlight >= batchesMax || batchBytesInFlight + bytes > BATCH_BYTES_IN_FLIGHT_MAX) {
          throw new SteleError('API_BUSY', `${batchesInFlight} batches (${batchBytesInFlight} bytes) are being admitted already`, { retry_after_s: 1 });
        }
        batchesInFlight++;
        batchBytesInFlight += bytes;
        // Held until the response has closed and the handler, if it started, has finished:
        // a client that closes its socket right after sending a batch must not free the
        // slot while its transactions are still being verified (found in review).
        const slot: BatchSlot = { closed: false, running: false, free: () => {} };
        let freed = false;
        slot.free = () => {
          if (freed || !slot.closed || slot.running) return;
          freed = true;
          batchesInFlight--;
          batchBytesInFlight -= bytes;
        };
        batchSlots.set(request, slot);
        reply.raw.once('close', () => {
          slot.closed = true;
          slot.free();
        });
      },
      schema: {
        summary: `Submit 1..${BATCH_TXS_MAX} signed transactions, in order, one result per item: JSON forms, or (application/octet-stream) canonical encodings, each after its length as a big-endian u32`,
        tags: ['transactions'],
        body: { content: { 'application/json': { schema: batchBodySchema }, 'application/octet-stream': { schema: BINARY } } },
        response: { 200: { $ref: 'BatchAnswer#' }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const slot = batchSlots.get(request);
      invariant(slot !== undefined, 'a batch reserved its slot in onRequest');
      // Gone before admission began: nothing is admitted (its client got no answer).
      if (slot.closed) throw new SteleError('API_BAD_REQUEST', 'the client closed the connection before its batch was admitted');
      slot.running = true;
      try {
        return await admitBatch(request);
      } finally {
        slot.running = false;
        slot.free();
      }
    },
  );

  async function admitBatch(request: FastifyRequest): Promise<unknown> {
    const binary = Buffer.isBuffer(request.body);
    // No content type and no body: Fastify skips the body schema (found in review: a 500).
    if (!binary && (typeof request.body !== 'object' || request.body === null)) {
      throw new SteleError('API_BAD_REQUEST', 'a batch needs a body: {"transactions": [...]} as application/json, or framed encodings as application/octet-stream');
    }
    const items = binary ? binaryBatchItems(request.body as Buffer) : (request.body as { transactions: unknown[] }).transactions;
    const results: Array<Record<string, unknown>> = [];
    let accepted = 0;
    const refusedItem = (index: number, error: unknown): void => {
      if (!isSteleError(error)) throw error;
      results[index] = { index, status: 'refused', error: answerFor(error).body.error };
    };
    // Decode every item first; then admit in order (a later item may depend on an earlier
    // one: register, then transfer), in one call when the node can verify them together.
    const decoded: Array<{ index: number; tx: Tx }> = [];
    const binaryTxs = binary ? txsFromBytes(items as Uint8Array[], txBytesMax) : null;
    for (let index = 0; index < items.length; index++) {
      try {
        const tx = binaryTxs === null ? txFromJson(items[index], txBytesMax) : (binaryTxs[index] as Tx | SteleError);
        if (isSteleError(tx)) throw tx;
        checkChain(tx);
        decoded.push({ index, tx });
      } catch (error) {
        refusedItem(index, error);
      }
    }
    if (node.submitMany !== undefined) {
      const outcomes = await node.submitMany(decoded.map((d) => d.tx));
      invariant(outcomes.length === decoded.length, 'one outcome per submitted transaction');
      decoded.forEach(({ index, tx }, k) => {
        const outcome = outcomes[k] as { readonly id: Uint8Array } | SteleError;
        if (outcome instanceof SteleError) refusedItem(index, outcome);
        else {
          invariant(bytesEqual(outcome.id, tx.id), 'the node answers the id of the transaction submitted');
          results[index] = { index, id: tx.idHex, status: 'pending' };
          accepted++;
        }
      });
    } else {
      for (const { index, tx } of decoded) {
        try {
          const { id } = await node.submit(tx);
          results[index] = { index, id: toHex(id), status: 'pending' };
          accepted++;
        } catch (error) {
          refusedItem(index, error);
        }
      }
    }
    return { accepted, refused: items.length - accepted, results };
  }

  app.get(
    '/v1/transactions/:id',
    {
      schema: {
        summary: 'A transaction: pending, committed or failed (in a block, with its Merkle inclusion proof), or refused',
        tags: ['transactions'],
        params: idParamsSchema,
        response: { 200: { $ref: 'TransactionStatus#' }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const idHex = (request.params as { id: string }).id;
      const id = fromHex(idHex, 32);
      const found = await node.transaction(id);
      switch (found.status) {
        case 'unknown':
          throw new SteleError('API_TX_UNKNOWN', `no transaction ${idHex} is pending, committed or remembered as refused`, { id: idHex });
        case 'pending':
          return { id: idHex, status: 'pending' };
        case 'refused':
          return { id: idHex, status: 'refused', error: { code: found.code, message: found.reason } };
        case 'failed':
        case 'committed': {
          const block = await node.block(found.height);
          invariant(block !== null, 'a committed transaction has its block');
          const tx = block.txs[found.index];
          invariant(tx !== undefined && bytesEqual(tx.id, id), 'the node locates a committed transaction in its block');
          const leaf = leafHash(tx.bytes);
          invariant(verifyMerkleProof(block.header.txRoot, leaf, found.proof), 'the node proves inclusion under the block root');
          return {
            id: idHex,
            status: found.status,
            height: found.height,
            index: found.index,
            block_hash: toHex(block.hash),
            tx_root: toHex(block.header.txRoot),
            leaf_hash: toHex(leaf),
            proof: { index: found.proof.index, count: found.proof.count, siblings: found.proof.siblings.map(toHex) },
            transaction: txToJson(tx),
            ...(found.status === 'failed' ? { error: { code: found.code, message: found.reason } } : {}),
          };
        }
      }
    },
  );

  const BLOCK_200 = { content: { 'application/json': { schema: { $ref: 'Block#' } }, 'application/octet-stream': { schema: BINARY } } };

  const failuresOf = async (height: number): Promise<ReadonlyArray<{ readonly index: number; readonly code: string }>> => (node.blockFailures === undefined ? [] : await node.blockFailures(height));
  const notFound = (height: number): SteleError => new SteleError('API_BLOCK_NOT_FOUND', `no block is committed at height ${height}`, { height });
  // The binary answers send the stored encodings as they are: no block is decoded for them.
  const sendBlockAt = async (request: FastifyRequest, reply: FastifyReply, height: number): Promise<unknown> => {
    if (acceptsBinary(request, 'application/json')) {
      const got = await node.blocksBytes(height, 1);
      invariant(got.length <= 1, 'the node answers at most the blocks asked for');
      if (got.length === 0) throw notFound(height);
      return reply.type('application/octet-stream').send(asBuffer(got[0] as Uint8Array));
    }
    const block = await node.block(height);
    if (block === null) throw notFound(height);
    invariant(block.header.height === height, 'the node answers the block asked for');
    return reply.type('application/json').send(blockToJson(block, await failuresOf(height)));
  };

  app.get(
    '/v1/blocks/latest',
    {
      schema: {
        summary: 'The last committed block: header, transactions, certificate (Accept: application/octet-stream for its encoding)',
        tags: ['blocks'],
        response: { 200: BLOCK_200, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const height = await node.latestHeight();
      if (height < 1) throw new SteleError('API_BLOCK_NOT_FOUND', 'no block is committed yet', { height });
      return sendBlockAt(request, reply, height);
    },
  );

  app.get(
    '/v1/blocks/:height',
    {
      schema: {
        summary: 'The committed block at a height (Accept: application/octet-stream for its canonical encoding)',
        tags: ['blocks'],
        params: heightParamsSchema,
        response: { 200: BLOCK_200, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const text = (request.params as { height: string }).height;
      const height = Number(text);
      // As ?from= answers: a height past 2^53 - 1 cannot be told apart from its neighbours
      // (found in review: 404 naming the rounded height).
      if (height > Number.MAX_SAFE_INTEGER) throw new SteleError('API_BAD_REQUEST', `height ${text} is beyond 2^53 - 1`, { height: text });
      return sendBlockAt(request, reply, height);
    },
  );

  app.get(
    '/v1/blocks',
    {
      schema: {
        summary: `Consecutive committed blocks from a height (at most ${BLOCKS_PAGE_MAX}); Accept: application/octet-stream gives each encoding after a u32 big-endian length`,
        tags: ['blocks'],
        querystring: blocksQuerySchema,
        response: {
          200: { content: { 'application/json': { schema: { $ref: 'BlocksPage#' } }, 'application/octet-stream': { schema: BINARY } } },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const query = request.query as { from: string; limit?: string };
      const from = Number(query.from);
      // As /v1/stream does: a height past 2^53 - 1 cannot be told apart from its neighbours.
      if (from > Number.MAX_SAFE_INTEGER) throw new SteleError('API_BAD_REQUEST', `height ${query.from} is beyond 2^53 - 1`, { from: query.from });
      const limit = query.limit === undefined ? 10 : Number(query.limit);
      if (limit > BLOCKS_PAGE_MAX) throw new SteleError('API_BAD_REQUEST', `limit at most ${BLOCKS_PAGE_MAX}`, { limit });
      const latest = await node.latestHeight();
      const count = from > latest ? 0 : Math.min(limit, latest - from + 1);
      if (acceptsBinary(request, 'application/json')) {
        const got = count === 0 ? [] : await node.blocksBytes(from, count);
        invariant(got.length <= count, 'the node answers at most the blocks asked for');
        const items: Uint8Array[] = [];
        let size = 0;
        for (const bytes of got) {
          if (items.length > 0 && size + bytes.length > BLOCKS_PAGE_BYTES_MAX) break;
          size += bytes.length;
          items.push(bytes);
        }
        return reply.type('application/octet-stream').send(asBuffer(frameAll(items)));
      }
      const got = count === 0 ? [] : await node.blocks(from, count);
      const page: Block[] = [];
      let bytes = 0;
      for (const block of got) {
        invariant(block.header.height === from + page.length, 'the node answers consecutive blocks from the height asked');
        if (page.length > 0 && bytes + block.bytes.length > BLOCKS_PAGE_BYTES_MAX) break;
        if (page.length >= limit) break;
        bytes += block.bytes.length;
        page.push(block);
      }
      const nextHeight = from + page.length;
      const failures = await Promise.all(page.map((b) => failuresOf(b.header.height)));
      return reply.type('application/json').send({ blocks: page.map((b, k) => blockToJson(b, failures[k])), next: nextHeight <= latest ? nextHeight : null });
    },
  );

  app.get(
    '/v1/accounts/:publicKey',
    {
      schema: {
        summary: 'Committed state of a public key: balances (decimal strings), identity, records',
        tags: ['state'],
        params: publicKeyParamsSchema,
        response: { 200: { $ref: 'Account#' }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const publicKey = fromHex((request.params as { publicKey: string }).publicKey, 32);
      return accountToJson(publicKey, await node.account(publicKey));
    },
  );

  app.get(
    '/v1/status',
    { schema: { summary: 'Chain id, validators and their health, leader, ballot, committed height', tags: ['node'], response: { 200: { $ref: 'Status#' }, ...ERROR_RESPONSES } } },
    async () => statusToJson(await node.status(), node.genesis.hash),
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus text exposition (format 0.0.4) of the API and node counters',
        tags: ['node'],
        response: { 200: { content: { 'text/plain': { schema: { type: 'string' } } } }, ...ERROR_RESPONSES },
      },
    },
    async (_request, reply) => {
      const own: Metric[] = [
        {
          name: 'stele_api_requests_total',
          help: 'HTTP requests answered, by method, status and route template',
          type: 'counter',
          samples: [...requestCounts].map(([key, value]) => {
            const [method = '', status = '', ...route] = key.split(' ');
            return { labels: { method, status, route: route.join(' ') }, value };
          }),
        },
        requestSeconds.metric('stele_api_request_duration_seconds', 'time from a request\'s arrival to its answer sent, by method and route template (GET /v1/stream not included)'),
        { name: 'stele_api_stream_subscribers', help: 'open GET /v1/stream connections', type: 'gauge', samples: [{ value: subscribers.size }] },
        { name: 'stele_api_commit_waiters', help: 'requests waiting for a commit (wait=commit)', type: 'gauge', samples: [{ value: waiters }] },
      ];
      const text = renderMetrics([...own, ...(await node.metrics())]);
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
    },
  );

  app.post(
    '/v1/lint',
    {
      bodyLimit: LINT_BODY_BYTES_MAX,
      preValidation: jsonOnly,
      schema: {
        summary: 'Check SCL contracts; answers the `stele lint --json` document (501 when the server has no checker)',
        tags: ['contracts'],
        body: { content: { 'application/json': { schema: lintBodySchema } } },
        response: { 200: { $ref: 'LintReport#' }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      if (node.lint === undefined) throw new SteleError('API_LINT_UNAVAILABLE', 'this server was started without the contract checker');
      if (lintsInFlight >= LINT_INFLIGHT_MAX) throw new SteleError('API_BUSY', `${lintsInFlight} lint runs in flight`, { retry_after_s: 1 });
      const body = request.body as { files: Array<{ file: string; source: string }>; options?: { max_paths?: number; max_depth?: number; max_horizon?: number } };
      const o = body.options ?? {};
      lintsInFlight++;
      try {
        const report = await node.lint(
          body.files.map((f) => ({ file: f.file, source: f.source })),
          { ...(o.max_paths === undefined ? {} : { maxPaths: o.max_paths }), ...(o.max_depth === undefined ? {} : { maxDepth: o.max_depth }), ...(o.max_horizon === undefined ? {} : { maxHorizon: o.max_horizon }) },
        );
        return lintReportToJson(report);
      } finally {
        lintsInFlight--;
      }
    },
  );

  // The block stream: one node listener fans committed blocks out to the subscribers.
  let unsubscribeNode: (() => void) | null = null;
  app.addHook('onReady', async () => {
    unsubscribeNode = node.onCommittedBlock((block) => {
      for (const s of subscribers) {
        if (s.backlog === null) s.send(block);
        else if (s.backlog.length < replayMax && (s.backlog.length === 0 || s.backlogBytes + block.bytes.length <= STREAM_BACKLOG_BYTES_MAX)) {
          s.backlog.push(block);
          s.backlogBytes += block.bytes.length;
        } else s.close(); // blocks arrive faster than the replay is read: the client resumes later
      }
    });
  });
  // Set when the close begins: a stream request still on its way through the hooks (members
  // mode waits for the node's answer about its signer) would otherwise reach the handler
  // after preClose, subscribe to a node it no longer hears from, and, with a keep-alive
  // every 15 s, hold app.close() (and a stopping node) for good (found in review).
  let closing = false;
  // Connections, and the requests each carries. Node's server.close() (which fastify calls
  // after preClose) closes the idle kept-alive ones only: a connection that has sent nothing
  // yet, or part of a request, would hold the close until its client leaves or it has been
  // quiet for CONNECTION_IDLE_MS (an HTTP client's spare pooled connection is one). No
  // request of theirs has started, so they are closed with the streams; so is any
  // connection accepted between now and the listening socket's close.
  const connections = new Set<Socket>();
  const requestsOf = new Map<Socket, number>();
  const closeGraceMs = Math.min(options.closeGraceMs ?? CLOSE_GRACE_MS, CLOSE_GRACE_MS);
  let graceTimer: NodeJS.Timeout | null = null;
  app.server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.once('close', () => {
      connections.delete(socket);
      requestsOf.delete(socket);
    });
  });
  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    requestsOf.set(socket, (requestsOf.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (requestsOf.get(socket) ?? 1) - 1;
      if (left > 0) requestsOf.set(socket, left);
      else {
        requestsOf.delete(socket);
        // A request that finishes while the server closes leaves a kept-alive connection
        // that nothing else ends: the close then waited for the grace timer, 10 s (found
        // 2026-12-02 once a test stopped a node during a commit wait's index lookup).
        // end(), not destroy(): the response's last bytes may still be on their way.
        if (closing) socket.end();
      }
    });
  });
  // Node answers an Expect other than 100-continue itself, before any route runs: 417 with
  // an empty body, not the error shape every refusal has (found by the end-to-end fuzz once
  // it checked every 4xx body). RFC 9110 lets a server ignore an expectation it does not
  // know, so such a request is routed like any other.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    app.server.emit('request', request, response);
  });
  app.addHook('preClose', async () => {
    closing = true;
    for (const s of subscribers) s.close();
    unsubscribeNode?.();
    for (const socket of connections) if (!requestsOf.has(socket)) socket.destroy();
    // Requests under way get CLOSE_GRACE_MS to finish; then their connections go too, so a
    // client that sends its body slowly cannot hold a stopping node.
    graceTimer = setTimeout(() => {
      for (const socket of connections) socket.destroy();
    }, closeGraceMs);
    graceTimer.unref();
  });
  app.addHook('onClose', async () => {
    if (graceTimer !== null) clearTimeout(graceTimer);
  });

  app.get(
    STREAM_ROUTE,
    {
      schema: {
        summary:
          'The committed blocks as they come: server-sent events, one `block` event per header (id = height); or, with Accept: application/octet-stream, each whole block\'s encoding after a u32 big-endian length (a zero length is a keep-alive). ?from= (or Last-Event-ID) replays missed ones',
        tags: ['blocks'],
        querystring: streamQuerySchema,
        response: {
          200: {
            content: {
              'text/event-stream': { schema: { type: 'string', description: 'event: block, id: <height>, data: BlockHeader JSON' } },
              'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'u32 big-endian length, then a block encoding; length 0: keep-alive' } },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      if (closing) {
        // Connection: close, so the client asks again on a connection of its own (to another node, or this one restarted).
        void reply.header('connection', 'close');
        throw new SteleError('NODE_UNAVAILABLE', 'the server is closing', { retry_after_s: 1 });
      }
      const binary = acceptsBinary(request, 'text/event-stream');
      if (subscribers.size >= subscribersMax) throw new SteleError('API_BUSY', `${subscribers.size} stream subscribers already`, { retry_after_s: 5 });
      if (binary && binarySubscribers >= STREAM_BINARY_SUBSCRIBERS_MAX) throw new SteleError('API_BUSY', `${binarySubscribers} binary stream subscribers already`, { retry_after_s: 5 });
      const from = streamStart(request);
      reply.hijack();
      const res = reply.raw;
      if (binary) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        // The status goes now, not with the first block or keep-alive, which may be 15 s away.
        res.flushHeaders();
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        res.write('retry: 2000\n\n');
      }
      let closed = false;
      // Live blocks go to every subscriber as they commit and cannot wait for one reader: a
      // subscriber that does not read is dropped rather than buffered without bound,
      // destroyed, since end() would wait for it to read what is queued (found in review).
      // Headers are small, so an event may pass the bound before the drop; a whole block may
      // be large, so the binary stream checks first (an empty queue takes any block). The
      // replay, and the live blocks held during it, are paced instead: they wait for the
      // reader and are never a reason to drop it.
      /** A committed block as this subscriber's form sends it (built once per block for all subscribers). */
      const chunkOf = (block: Block): string | Buffer => (binary ? blockFrame(block.bytes) : eventText(block));
      const write = (height: number, chunk: string | Buffer, paced: boolean): void => {
        if (closed || height <= subscriber.lastSent) return;
        if (!paced && binary && res.writableLength > STREAM_BINARY_BUFFER_BYTES_MAX) {
          subscriber.close(true);
          return;
        }
        subscriber.lastSent = height;
        res.write(chunk);
        if (!paced && !binary && res.writableLength > STREAM_BUFFER_BYTES_MAX) subscriber.close(true);
      };
      const subscriber: Subscriber = {
        lastSent: Number.MAX_SAFE_INTEGER,
        // Subscribed before reading the tip, so no block falls between the two: live blocks
        // wait here until the replay (or the tip) is known.
        backlog: [],
        backlogBytes: 0,
        send(block) {
          write(block.header.height, chunkOf(block), false);
        },
        sendReplayed(height, bytes) {
          // Checked here as well as in write(): a block skipped is not framed or decoded.
          if (closed || height <= this.lastSent) return;
          write(height, binary ? asBuffer(frameAll([bytes])) : eventText(headerOfEncoded(bytes)), true);
        },
        close(drop = false) {
          if (closed) return;
          closed = true;
          clearInterval(heartbeat);
          subscribers.delete(subscriber);
          if (binary) binarySubscribers--;
          this.backlog = null;
          this.backlogBytes = 0;
          if (drop) {
            res.destroy();
            return;
          }
          res.end();
          // Whatever is still queued must be read soon, or the connection goes.
          setTimeout(() => res.destroy(), STREAM_END_GRACE_MS).unref();
        },
      };
      const heartbeat = setInterval(() => res.write(binary ? EMPTY_FRAME : ': keep-alive\n\n'), heartbeatMs);
      heartbeat.unref();
      subscribers.add(subscriber);
      if (binary) binarySubscribers++;
      res.on('close', () => subscriber.close());
      // Pacing: before each replayed or held block, wait until the reader has taken all but
      // half the bound ('close' ends the wait too: a destroyed or finished answer).
      const pacedBytesMax = (binary ? STREAM_BINARY_BUFFER_BYTES_MAX : STREAM_BUFFER_BYTES_MAX) / 2;
      const pace = (): Promise<void> | undefined => {
        if (closed || res.writableLength <= pacedBytesMax) return undefined;
        return new Promise((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      };
      try {
        const latest = await node.latestHeight();
        subscriber.lastSent = from === null ? latest : from - 1;
        if (from !== null) {
          const end = Math.min(latest, from + replayMax - 1);
          // Encodings as stored (the transactions are not decoded), a page per turn of the event loop.
          for (let h = from; h <= end && !closed; ) {
            const page = await node.blocksBytes(h, Math.min(BLOCKS_PAGE_MAX, end - h + 1));
            if (page.length === 0) break;
            for (const bytes of page) {
              await pace();
              if (closed) break;
              subscriber.sendReplayed(h++, bytes);
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
          // More to replay than one connection carries: end it; the client resumes with
          // Last-Event-ID (EventSource does so by itself after `retry` ms) or ?from=.
          if (end < latest) {
            subscriber.close();
            return;
          }
        }
        // The blocks held during the replay, oldest first and paced like it. Blocks that
        // commit meanwhile still join the backlog (bounded as before) until it is empty, so
        // heights stay in order.
        for (;;) {
          const held = subscriber.backlog;
          if (closed || held === null) return;
          const block = held.shift();
          if (block === undefined) {
            subscriber.backlog = null;
            subscriber.backlogBytes = 0;
            return;
          }
          subscriber.backlogBytes -= block.bytes.length;
          await pace();
          if (closed) return;
          write(block.header.height, chunkOf(block), true);
        }
      } catch (error) {
        request.log.error({ err: error }, 'stream replay failed');
        subscriber.close();
      }
    },
  );

  app.get(
    '/openapi.json',
    { schema: { summary: 'This OpenAPI 3.1 document', tags: ['docs'], response: { 200: { type: 'object', additionalProperties: true } } } },
    async () => {
      openApi ??= openApiDocument(routes, [...SHARED_SCHEMAS, payloadSchema, txJsonSchema], { members: members.enabled, signedReads: members.signedReads === true, open: DOC_ROUTES });
      return openApi;
    },
  );
  app.get(
    '/docs',
    { schema: { summary: 'A browsable page of the OpenAPI document (self-contained, loads nothing from elsewhere)', tags: ['docs'], response: { 200: { content: { 'text/html': { schema: { type: 'string' } } } } } } },
    async (_request, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'").send(DOCS_HTML),
  );
  app.get(
    '/docs/app.js',
    { schema: { summary: 'The script of the /docs page', tags: ['docs'], response: { 200: { content: { 'text/javascript': { schema: { type: 'string' } } } } } } },
    async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(DOCS_SCRIPT),
  );

  return app;
}

/**
 * Binds the API and resolves with its base URL (http://host:port).
 * @example const url = await listen(app, { host: '127.0.0.1', port: 0 });
 */
export async function listen(app: FastifyInstance, where: { host?: string; port?: number } = {}): Promise<string> {
  const address = await app.listen({ host: where.host ?? '127.0.0.1', port: where.port ?? 8080 });
  return address;
}
