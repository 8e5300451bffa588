/**
 * GET /v1/stream on a real socket, for what a second-pass review of api/server.ts found
 * (2026-12): `?from=` with `Last-Event-ID` (an EventSource reconnecting to the URL it first
 * opened), and stream requests that arrive while the server closes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { buildApp, listen, type AppOptions } from '../../api/server.js';
import { headerOfEncoded } from '../../ledger/block.js';
import { signRequest } from '../../api/members.js';
import type { NodeView } from '../../api/node-view.js';
import { alice, chain } from '../support/fixtures.js';
import { FakeNode } from './fake-node.js';

async function serve(options: AppOptions = {}) {
  const node = new FakeNode(chain);
  const app = buildApp(node, options);
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  const sockets: Socket[] = [];
  app.server.on('connection', (socket: Socket) => sockets.push(socket));
  return { node, app, url, port: Number(new URL(url).port), sockets };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What a stream sends until it ends, or until it has sent the block at `tip` (then it is
 * live, and stays open): the event ids, or the binary form's block heights.
 */
async function streamed(response: Response, tip: number): Promise<number[]> {
  assert.equal(response.status, 200);
  const binary = response.headers.get('content-type') === 'application/octet-stream';
  const reader = response.body!.getReader();
  let bytes = new Uint8Array(0);
  for (;;) {
    const text = new TextDecoder().decode(bytes);
    const got = binary ? framedHeights(bytes) : [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    if (got[got.length - 1] === tip) {
      await reader.cancel();
      return got;
    }
    const chunk = await reader.read();
    if (chunk.done) return got;
    bytes = Buffer.concat([bytes, chunk.value]);
  }
}

/** The heights of the whole frames in `body`, keep-alives left out. */
function framedHeights(body: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 0; at + 4 <= body.length; ) {
    const length = Buffer.from(body.buffer, body.byteOffset + at, 4).readUInt32BE(0);
    if (at + 4 + length > body.length) break;
    if (length > 0) out.push(headerOfEncoded(body.subarray(at + 4, at + 4 + length)).header.height);
    at += 4 + length;
  }
  return out;
}

test('stream, found in review: Last-Event-ID goes on after its id even with ?from= in the URL, so an EventSource on ?from=1 reaches live blocks', async () => {
  const { node, app, url } = await serve({ streamReplayBlocksMax: 2 });
  try {
    for (let i = 0; i < 5; i++) node.commit();
    // What EventSource does: the same URL every time, plus Last-Event-ID on each reconnection.
    const seen: number[] = [];
    for (let connection = 0; connection < 3 && seen[seen.length - 1] !== 5; connection++) {
      const headers: Record<string, string> = seen.length === 0 ? {} : { 'last-event-id': String(seen[seen.length - 1]) };
      seen.push(...(await streamed(await fetch(`${url}/v1/stream?from=1`, { headers }), 5)));
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5], 'three connections of at most two blocks each reach the tip');
    // The later of the two wins: a ?from= past the Last-Event-ID starts at ?from=.
    assert.deepEqual(await streamed(await fetch(`${url}/v1/stream?from=4`, { headers: { 'last-event-id': '1' } }), 5), [4, 5]);
    // The binary form alike.
    const binary = (from: number, last: string) => fetch(`${url}/v1/stream?from=${from}`, { headers: { accept: 'application/octet-stream', 'last-event-id': last } });
    assert.deepEqual(await streamed(await binary(1, '2'), 5), [3, 4]);
    assert.deepEqual(await streamed(await binary(4, '1'), 5), [4, 5]);
    // A Last-Event-ID that is no height is refused with ?from= as without it.
    const bad = await fetch(`${url}/v1/stream?from=1`, { headers: { 'last-event-id': 'x' } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'API_BAD_REQUEST');
  } finally {
    await app.close();
  }
});

test('stream, found in review: Accept weights choose the form; q=0 refuses the binary form', async () => {
  const { node, app, url } = await serve();
  try {
    node.commit();
    const formOf = async (accept: string): Promise<string> => {
      const r = await fetch(`${url}/v1/stream?from=1`, { headers: { accept } });
      assert.equal(r.status, 200);
      await r.body!.cancel();
      return String(r.headers.get('content-type')).split(';')[0]!;
    };
    // Before the fix: application/octet-stream, the form the client said it does not take.
    assert.equal(await formOf('application/octet-stream;q=0, text/event-stream'), 'text/event-stream');
    assert.equal(await formOf('text/event-stream, application/octet-stream;q=0.5'), 'text/event-stream');
    assert.equal(await formOf('text/event-stream;q=0.5, application/octet-stream'), 'application/octet-stream');
    assert.equal(await formOf('application/octet-stream'), 'application/octet-stream');
  } finally {
    await app.close();
  }
});

test('stream, found in review: a stream whose handler runs once the server is closing gets 503 NODE_UNAVAILABLE and Connection: close, and the close finishes', { timeout: 20_000 }, async () => {
  // Members mode with signed reads: the request waits in preValidation for the node's
  // answer about its signer (NodeView.identity), so the close begins while it is on its
  // way to the handler. Before the fix the handler subscribed after preClose had ended
  // every stream and unsubscribed from the node: no block and no end ever came, and
  // keep-alives every 15 s held the connection, so app.close() never finished.
  const now = Date.now();
  const { node, app, port, sockets } = await serve({ members: { enabled: true, signedReads: true }, nowMs: () => now });
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let asked = false;
  const identity = node.identity.bind(node);
  (node as NodeView).identity = async (publicKey) => {
    asked = true;
    await gate;
    return identity(publicKey);
  };
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  const until = async (done: () => boolean, what: string): Promise<void> => {
    for (let t = 0; !done(); t++) {
      assert.ok(t < 1_000, what);
      await sleep(5);
    }
  };
  try {
    node.commit();
    await new Promise((r) => socket.once('connect', r));
    const signed = signRequest(alice, chain.genesis.chainId, 'GET', '/v1/stream', now, new Uint8Array(0));
    socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\n${Object.entries(signed).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    await until(() => asked, 'the request reaches preValidation');
    const closed = app.close().then(() => 'closed');
    await sleep(20);
    release();
    const outcome = await Promise.race([closed, sleep(3_000).then(() => 'still closing after 3 s')]);
    assert.equal(outcome, 'closed');
    await until(() => socket.destroyed || socket.readableEnded, 'the server closes the connection');
    assert.match(got, /^HTTP\/1\.1 503 /);
    assert.match(got, /\r\nconnection: close\r\n/i);
    assert.match(got, /\r\nretry-after: \d+\r\n/i);
    assert.match(got, /"code":"NODE_UNAVAILABLE"/);
    assert.equal(node.listenerCount, 0, 'nothing is subscribed to the node');
  } finally {
    socket.destroy();
    release();
    // On the old code the close waits for the stream's connection for good.
    for (const s of sockets) s.destroy();
    await app.close();
  }
});

test('close, found while checking the review: connections that carry no request (never used, or half a request line) do not hold app.close()', { timeout: 20_000 }, async () => {
  // Node's server.close() closes idle kept-alive connections only: a connection that has
  // sent nothing, or not yet a whole request, held the close until the client left or the
  // connection went quiet for 120 s (an HTTP client's spare pooled connection is one).
  const { app, port } = await serve();
  const open = async (bytes: string): Promise<Socket> => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    if (bytes !== '') socket.write(bytes);
    return socket;
  };
  const silent = await open('');
  const half = await open('GET /v1/sta');
  const held = [silent, half];
  try {
    await sleep(50);
    const outcome = await Promise.race([app.close().then(() => 'closed'), sleep(3_000).then(() => 'still closing after 3 s')]);
    assert.equal(outcome, 'closed');
    for (const socket of held) {
      for (let t = 0; !socket.destroyed && !socket.readableEnded; t++) {
        assert.ok(t < 1_000, 'the server closed the connection');
        await sleep(5);
      }
    }
  } finally {
    for (const socket of held) socket.destroy();
  }
});

test('close, review of 2026-11-30: a request whose body arrives slowly holds app.close() no longer than the close grace', { timeout: 30_000 }, async () => {
  // The request has begun (its headers arrived), so Node's server.close() waits for it; it
  // held a stopping node until the request timeout, or the client, ended it.
  const { app, port } = await serve({ closeGraceMs: 300 });
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write('POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n0123456789');
  try {
    await sleep(100);
    const outcome = await Promise.race([app.close().then(() => 'closed'), sleep(5_000).then(() => 'still closing after 5 s')]);
    assert.equal(outcome, 'closed');
    for (let t = 0; !socket.destroyed && !socket.readableEnded; t++) {
      assert.ok(t < 1_000, 'the server closed the connection');
      await sleep(5);
    }
  } finally {
    socket.destroy();
  }
});
