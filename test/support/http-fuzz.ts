/**
 * Generators of malformed HTTP requests for the REST API, shared by the inject() fuzz test
 * (test/api/fuzz.test.ts, a fake node) and the end-to-end fuzz against a running cluster
 * (test/e2e/cluster.test.ts): random methods, paths, queries, content types, headers and
 * bodies; mutations of one valid transaction (JSON fields, payload fields, single bit
 * flips of its binary form); and bodies just over the route limits.
 */
import http from 'node:http';
import fc from 'fast-check';
import { txToJson } from '../../api/tx-json.js';
import { LINT_BODY_BYTES_MAX, TX_JSON_BODY_BYTES_MAX } from '../../api/limits.js';
import { toHex } from '../../ledger/assert.js';
import type { Tx } from '../../ledger/tx.js';

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** '' for none. */
  readonly contentType: string;
  readonly body: string | Buffer | undefined;
  readonly headers: Record<string, string>;
}

/**
 * @param valid a transaction the node would accept: every mutation of it must not be
 * @param account a public key (hex) with state, for the account route
 */
export function fuzzRequests(valid: Tx, account: Uint8Array): fc.Arbitrary<FuzzRequest> {
  const validJson = txToJson(valid);
  const KEY = toHex(account);

const ROUTES = [
    '/v1/transactions',
    '/v1/transactions/batch',
    `/v1/transactions/${toHex(valid.id)}`,
    '/v1/blocks/1',
    '/v1/blocks/latest',
    '/v1/blocks',
    `/v1/accounts/${KEY}`,
    '/v1/status',
    '/metrics',
    '/v1/lint',
    '/openapi.json',
    '/docs',
    '/docs/app.js',
  ];
  
  const segment = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.stringMatching(/^[0-9a-fA-F]{0,70}$/),
    fc.constantFrom('0', '-1', '1e3', '9007199254740993', '99999999999999999999', 'latest', '%', '%zz', '%00', '..', '__proto__', 'constructor', KEY.toUpperCase(), 'a'.repeat(300)),
  );
  const path = fc.oneof(
    fc.constantFrom(...ROUTES),
    fc.tuple(fc.constantFrom('/v1/transactions/', '/v1/blocks/', '/v1/accounts/', '/v1/', '/', '//', '/v1/stream/'), segment).map(([a, b]) => a + b),
    fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
  );
  const query = fc.oneof(
    fc.constant(''),
    fc.dictionary(fc.constantFrom('wait', 'timeout_ms', 'from', 'limit', 'x', '__proto__', 'wait[]'), segment, { maxKeys: 4 }).map((d) => `?${new URLSearchParams(d).toString()}`),
    fc.string({ maxLength: 40 }).map((s) => `?${s}`),
    fc.constantFrom('?wait=commit&wait=commit', '?from=1&from=2', '?limit=1000', '?limit=0', '?timeout_ms=99999', '?wait=commit&timeout_ms=0', '?from=1&limit=101'),
  );
  const contentType = fc.oneof(
    fc.constantFrom('application/json', 'application/octet-stream', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json;;', ''),
    fc.string({ maxLength: 30 }),
  );
  
  /** Mutations of a valid JSON transaction that always change it. */
  const mutatedJson = fc
    .tuple(fc.constantFrom('id', 'chain_id', 'signers', 'expiry', 'payload', 'signatures', 'extra'), fc.jsonValue({ maxDepth: 3 }))
    .map(([field, value]) => {
      const copy: Record<string, unknown> = JSON.parse(JSON.stringify(validJson)) as Record<string, unknown>;
      copy[field] = value;
      return copy;
    })
    .filter((o) => JSON.stringify(o) !== JSON.stringify(validJson) && JSON.stringify({ ...o, id: validJson.id }) !== JSON.stringify(validJson));
  const payloadMutation = fc.tuple(fc.constantFrom('type', 'from', 'to', 'asset', 'amount', 'extra'), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('0', '01', '-1', '18446744073709551616', 'STL', 'register', KEY.toUpperCase()))).map(([field, value]) => {
    const copy = JSON.parse(JSON.stringify(validJson)) as { payload: Record<string, unknown> };
    copy.payload[field] = value;
    return copy;
  }).filter((o) => JSON.stringify(o) !== JSON.stringify(validJson));
  /** A single bit flipped anywhere in the binary form: it decodes to something else or not at all. */
  const flipped = fc.nat({ max: valid.bytes.length * 8 - 1 }).map((bit) => {
    const copy = Buffer.from(valid.bytes);
    copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
    return copy;
  });
  
  const body = fc.oneof(
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 200 }),
    mutatedJson.map((v) => JSON.stringify(v)),
    payloadMutation.map((v) => JSON.stringify(v)),
    flipped,
    fc.array(mutatedJson, { maxLength: 5 }).map((transactions) => JSON.stringify({ transactions })),
    fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '{', '[]', 'null', '""', '{"files":[{"file":"a","source":1}]}', '{"transactions":[]}', '\uFEFF{}', '{"a":"\\ud800"}'),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, ...b]), Buffer.from('"}')])),
  );
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'POST', 'POST', 'GET');
  const extraHeaders = fc.dictionary(
    fc.constantFrom('accept', 'last-event-id', 'stele-key', 'stele-timestamp', 'stele-signature', 'content-encoding', 'transfer-encoding', 'x-forwarded-for', 'expect'),
    fc.oneof(fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)), fc.constantFrom('application/octet-stream', '*/*', '1', KEY, 'gzip', 'chunked', '100-continue')),
    { maxKeys: 3 },
  );
  
  /** Bodies with the content type that matches them, aimed at the POST routes (the deep paths). */
  const json = (a: fc.Arbitrary<string>) => a.map((b) => ({ contentType: 'application/json', body: b as string | Buffer }));
  const typedBody = fc.oneof(
    json(mutatedJson.map((v) => JSON.stringify(v))),
    json(payloadMutation.map((v) => JSON.stringify(v))),
    json(fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v))),
    json(fc.array(fc.oneof(mutatedJson, payloadMutation), { maxLength: 4 }).map((transactions) => JSON.stringify({ transactions }))),
    json(fc.record({ files: fc.array(fc.record({ file: fc.string({ maxLength: 300 }), source: fc.string() }), { maxLength: 3 }), options: fc.jsonValue({ maxDepth: 2 }) }).map((v) => JSON.stringify(v))),
    flipped.map((b) => ({ contentType: 'application/octet-stream', body: b as string | Buffer })),
    fc.uint8Array({ maxLength: 300 }).map((b) => ({ contentType: 'application/octet-stream', body: Buffer.from(b) as string | Buffer })),
  );
  const targeted = fc.record({
    method: fc.constant('POST'),
    path: fc.constantFrom('/v1/transactions', '/v1/transactions', '/v1/transactions/batch', '/v1/lint'),
    query: fc.constantFrom('', '', '?wait=commit&timeout_ms=1', '?wait=now'),
    typed: typedBody,
    headers: extraHeaders,
  }).map(({ typed, ...rest }) => ({ ...rest, ...typed }));
  
  const request: fc.Arbitrary<FuzzRequest> = fc.oneof(fc.record({ method, path, query, contentType, body, headers: extraHeaders }), targeted);

  /** Bodies just over a route's limit (413 API_BODY_TOO_LARGE, never read whole). */
  const oversized = fc.record({
    method: fc.constant('POST'),
    path: fc.constantFrom('/v1/transactions', '/v1/lint', '/v1/transactions/1'),
    query: fc.constant(''),
    contentType: fc.constantFrom('application/json', 'application/octet-stream'),
    body: fc.constantFrom(TX_JSON_BODY_BYTES_MAX + 1, LINT_BODY_BYTES_MAX + 1).map((n) => Buffer.alloc(n, 0x20) as string | Buffer | undefined),
    headers: fc.constant({} as Record<string, string>),
  });
  return fc.oneof({ arbitrary: request, weight: 50 }, { arbitrary: oversized, weight: 1 });
}

/**
 * Whether node:http sends this request without delimiting its body: a Transfer-Encoding set
 * by hand other than chunked (it then writes the body raw; Node's parser refuses that
 * header), or a body on DELETE or OPTIONS (methods it neither chunks nor gives a
 * Content-Length). The server cannot tell where such a request ends: it refuses the bytes
 * that follow the headers as malformed framing and closes the connection, "since a stream
 * that lost its framing cannot be resynchronised" (api/server.ts `clientErrorHandler`;
 * docs/api.md). These are the only requests the server may answer by closing.
 */
export function unframed(r: FuzzRequest): boolean {
  const encoding = r.headers['transfer-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'chunked') return true;
  return r.body !== undefined && (r.method === 'DELETE' || r.method === 'OPTIONS');
}

export type FuzzAnswer = { readonly status: number; readonly body: string } | { readonly skipped: string } | { readonly transportError: string };

/**
 * Sends one fuzzed request over a real socket (node:http, so methods and headers go out as
 * generated). Requests node:http itself refuses to build (characters it will not put on the
 * wire) come back `skipped`; a connection the server closes on a framing it refuses comes
 * back `transportError`. An `unframed` request goes on a connection of its own: on a shared
 * one, the server's refusal of its trailing body would reach the next request sent on it
 * (as that request's answer, or as a closed connection).
 */
export function sendOverHttp(base: string, r: FuzzRequest, agent: http.Agent, timeoutMs = 20_000): Promise<FuzzAnswer> {
  const url = new URL(base);
  const headers: Record<string, string> = { ...r.headers };
  if (r.contentType !== '') headers['content-type'] = r.contentType;
  const path = r.path.startsWith('/') ? r.path + r.query : `/${r.path}${r.query}`;
  const withBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
  return new Promise((resolve) => {
    let request: http.ClientRequest;
    try {
      request = http.request({ host: url.hostname, port: url.port, method: r.method, path, headers, agent: unframed(r) ? false : agent, timeout: timeoutMs }, (response) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes <= 1024 * 1024) chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', (error) => resolve({ transportError: error.message }));
      });
    } catch (error) {
      resolve({ skipped: (error as Error).message });
      return;
    }
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve({ transportError: error.message }));
    if (withBody) request.end(r.body);
    else request.end();
  });
}

/** An answer without Content-Length whose body never ends (until the client hangs up): for clients that must bound what they read. */
export function endless(res: http.ServerResponse, status: number, type: string): void {
  res.writeHead(status, { 'content-type': type });
  res.on('error', () => {});
  const chunk = Buffer.alloc(256 * 1024, 0x20);
  const more = (): void => {
    while (!res.destroyed && res.write(chunk));
  };
  res.on('drain', more);
  more();
}
