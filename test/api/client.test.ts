/**
 * The typed client against a real listening server (loopback, port 0): submissions in both
 * forms with and without waiting, every read, errors as ApiError, members signing, the
 * server-sent event stream (live, replay, subscriber bound, clean shutdown), and raw HTTP
 * requests that a client library would never send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, get as httpGet } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildApp, listen, type AppOptions } from '../../api/server.js';
import { ApiError, BLOCK_JSON_BYTES_PER_BYTE_MAX, BLOCK_JSON_FIXED_BYTES_MAX, CLIENT_ERROR_CODES, SteleClient } from '../../api/client.js';
import { FrameReader, frameAll, unframeAll } from '../../api/framing.js';
import { blockToJson, type HeaderJson } from '../../api/schemas.js';
import { decodeBlock, encodeBlock, encodeHeader, headerOfEncoded, type Block } from '../../ledger/block.js';
import { CONTRACT_ARGS_MAX, CONTRACT_PARAMS_MAX, CONTRACT_SOURCE_BYTES_MAX, HEIGHT_MAX, VALIDATORS_MAX } from '../../ledger/constants.js';
import { decodeTx, encodeTx, encodeTxBody, type Payload, type Tx } from '../../ledger/tx.js';
import { fromHex, toHex } from '../../ledger/assert.js';
import { leafHash, verifyMerkleProof } from '../../ledger/merkle.js';
import { devSigner } from '../../ledger/devnet.js';
import { alice, bob, carol, chain, transfer } from '../support/fixtures.js';
import { FakeNode } from './fake-node.js';
import { endless } from '../support/http-fuzz.js';
import { txToJson } from '../../api/tx-json.js';

async function serve(options: AppOptions = {}, autoCommit = true) {
  const node = new FakeNode(chain);
  const app = buildApp(node, options);
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  // The server's side of every connection, for tests that drop them.
  const sockets: Socket[] = [];
  app.server.on('connection', (socket: Socket) => sockets.push(socket));
  // The fake node plays a leader that cuts a block whenever something is pending.
  const timer = setInterval(() => {
    if (autoCommit && node.mempool.size > 0) node.commit();
  }, 5);
  const close = async () => {
    clearInterval(timer);
    await app.close();
  };
  return { node, app, url, close, sockets };
}

test('client: submit and read everything back over HTTP', async () => {
  const { node, url, close } = await serve();
  try {
    const client = new SteleClient({ url });
    const a = transfer(alice, bob, 11n);
    const committed = await client.submit(a, { wait: true });
    assert.equal(committed.status, 'committed');
    assert.equal(committed.id, toHex(a.id));
    const b = transfer(bob, carol, 12n);
    const pending = await client.submit(b, { binary: true });
    assert.deepEqual(pending, { id: toHex(b.id), status: 'pending' });
    const c = transfer(carol, alice, 13n);
    const viaBinaryWait = await client.submit(c, { binary: true, wait: true, timeoutMs: 5_000 });
    assert.equal(viaBinaryWait.status, 'committed');
    while (node.mempool.size > 0) await new Promise((r) => setTimeout(r, 5));

    const status = await client.status();
    assert.equal(status.chain_id, chain.genesis.chainId);
    assert.ok(status.committed_height >= 2);
    const t = await client.transaction(c.id);
    assert.equal(t.status, 'committed');
    assert.ok(verifyMerkleProof(fromHex(t.tx_root!, 32), leafHash(c.bytes), { ...t.proof!, siblings: t.proof!.siblings.map((s) => fromHex(s, 32)) }));
    const latest = await client.latestBlock();
    assert.equal(latest.header.height, status.committed_height);
    const first = await client.block(1);
    assert.equal(first.transactions[0]?.id, toHex(a.id));
    const bytes = await client.blockBytes(1);
    assert.deepEqual(bytes, node.committed[0]!.bytes);
    assert.equal(toHex(decodeBlock(bytes).hash), first.header.hash);
    const page = await client.blocks(1, 2);
    assert.equal(page.blocks.length, Math.min(2, status.committed_height));
    const encodings = await client.blocksBytes(1, 100);
    assert.equal(encodings.length, status.committed_height);
    encodings.forEach((e, i) => assert.deepEqual(e, node.committed[i]!.bytes));
    const account = await client.account(alice.publicKey);
    assert.equal(account.balances.STL, (1_000_000n - 11n + 13n).toString());
    assert.match(await client.metrics(), /stele_api_requests_total/);
    const doc = await client.openApi();
    assert.equal(doc.openapi, '3.1.0');
    const batch = await client.submitBatch([transfer(alice, carol, 1n), transfer(alice, carol, 10n ** 13n)]);
    assert.equal(batch.accepted, 1);
    assert.equal(batch.results[1]?.error?.code, 'TX_INSUFFICIENT_BALANCE');
    const viaBinary = transfer(alice, carol, 2n);
    const binaryBatch = await client.submitBatch([viaBinary, transfer(alice, carol, 10n ** 13n)], { binary: true });
    assert.equal(binaryBatch.accepted, 1);
    assert.equal(binaryBatch.results[0]?.id, toHex(viaBinary.id));
    assert.equal(binaryBatch.results[1]?.error?.code, 'TX_INSUFFICIENT_BALANCE');
  } finally {
    await close();
  }
});

test('client: errors arrive as ApiError with the code, status and Retry-After', async () => {
  const { node, url, close } = await serve();
  try {
    const client = new SteleClient({ url });
    await assert.rejects(client.block(99), (e: unknown) => e instanceof ApiError && e.status === 404 && e.code === 'API_BLOCK_NOT_FOUND');
    await assert.rejects(client.lint([{ file: 'a.scl', source: '' }]), (e: unknown) => e instanceof ApiError && e.status === 501 && e.code === 'API_LINT_UNAVAILABLE');
    await assert.rejects(client.submit(transfer(alice, bob, 10n ** 13n)), (e: unknown) => e instanceof ApiError && e.status === 422 && e.code === 'TX_INSUFFICIENT_BALANCE');
    node.mempoolMax = 0;
    await assert.rejects(client.submit(transfer(alice, bob, 1n)), (e: unknown) => e instanceof ApiError && e.status === 503 && e.code === 'MEMPOOL_FULL' && e.retryAfterSeconds === 3);
  } finally {
    await close();
  }
});

test('client, found in review: binary submission of a JSON form rejects with a TypeError instead of throwing out of the call, and sends nothing', async () => {
  const { node, url, close } = await serve();
  try {
    const client = new SteleClient({ url });
    const json = txToJson(transfer(alice, bob, 1n));
    // Called, not awaited, inside the arrow: a synchronous throw fails doesNotThrow.
    let single: Promise<unknown> | undefined;
    let batch: Promise<unknown> | undefined;
    assert.doesNotThrow(() => (single = client.submit(json, { binary: true })));
    assert.doesNotThrow(() => (batch = client.submitBatch([transfer(alice, bob, 2n), json], { binary: true })));
    await assert.rejects(single!, (e: unknown) => e instanceof TypeError && /binary submission needs an encoded Tx/.test(e.message));
    await assert.rejects(batch!, (e: unknown) => e instanceof TypeError && /binary submission needs encoded Txs/.test(e.message));
    assert.equal(node.submitted, 0, 'nothing was sent');
  } finally {
    await close();
  }
});

test('client: members mode signs every request; an unsigned client is refused', async () => {
  const { url, close } = await serve({ members: { enabled: true, signedReads: true } });
  try {
    const member = new SteleClient({ url, signer: alice, chainId: chain.genesis.chainId });
    assert.equal((await member.status()).chain_id, chain.genesis.chainId);
    assert.equal((await member.submit(transfer(alice, bob, 2n), { wait: true })).status, 'committed');
    assert.equal((await member.account(bob.publicKey)).identity?.name, 'user2');
    const anonymous = new SteleClient({ url });
    await assert.rejects(anonymous.status(), (e: unknown) => e instanceof ApiError && e.code === 'API_UNAUTHENTICATED');
    const stranger = new SteleClient({ url, signer: devSigner('stranger'), chainId: chain.genesis.chainId });
    await assert.rejects(stranger.submit(transfer(alice, bob, 3n)), (e: unknown) => e instanceof ApiError && e.status === 403 && e.code === 'API_NOT_MEMBER');
  } finally {
    await close();
  }
});

test('stream: live block headers, replay from a height, bounded subscribers, clean close', async () => {
  const { node, url, close } = await serve({ streamSubscribersMax: 2 }, false);
  try {
    node.commit();
    node.commit(); // heights 1 and 2 exist before anyone listens
    const client = new SteleClient({ url });
    const live: HeaderJson[] = [];
    const replayed: HeaderJson[] = [];
    const stopLive = new AbortController();
    const stopReplay = new AbortController();
    const liveDone = client.stream((h) => live.push(h), { signal: stopLive.signal });
    const replayDone = client.stream((h) => replayed.push(h), { signal: stopReplay.signal, from: 1 });
    while (replayed.length < 2) await new Promise((r) => setTimeout(r, 5));
    // Both subscribers are counted: a third is refused with 429 and Retry-After.
    const third = await fetch(`${url}/v1/stream`);
    assert.equal(third.status, 429);
    assert.equal(third.headers.get('retry-after'), '5');
    assert.equal(((await third.json()) as { error: { code: string } }).error.code, 'API_BUSY');
    for (let i = 0; i < 3; i++) {
      await client.submit(transfer(alice, bob, BigInt(i + 1)));
      node.commit();
    }
    while (live.length < 3 || replayed.length < 5) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(live.map((h) => h.height), [3, 4, 5]);
    assert.deepEqual(replayed.map((h) => h.height), [1, 2, 3, 4, 5]);
    assert.equal(live[0]?.hash, toHex(node.committed[2]!.hash));
    assert.equal(live[0]?.tx_count, 1);
    assert.equal(live[1]?.prev_hash, live[0]?.hash);
    stopLive.abort();
    stopReplay.abort();
    await Promise.all([liveDone, replayDone]);
    // The server notices the clients left and frees their places.
    while (!/^stele_api_stream_subscribers 0$/m.test(await client.metrics())) await new Promise((r) => setTimeout(r, 5));
    // Last-Event-ID resumes after the last height seen.
    const resumed = await fetch(`${url}/v1/stream`, { headers: { 'last-event-id': '4' } });
    assert.equal(resumed.status, 200);
    const reader = resumed.body!.getReader();
    let text = '';
    while (!text.includes('id: 5')) {
      const chunk = await reader.read();
      assert.ok(!chunk.done, 'the stream stays open');
      text += new TextDecoder().decode(chunk.value);
    }
    assert.ok(!text.includes('id: 4\n'), 'nothing at or below Last-Event-ID');
    await reader.cancel();
    const bad = await fetch(`${url}/v1/stream`, { headers: { 'last-event-id': 'x' } });
    assert.equal(bad.status, 400);
    // Heights past 2^53 - 1 would lose precision (and the stream would send nothing): refused.
    for (const tooHigh of [fetch(`${url}/v1/stream?from=9999999999999999`), fetch(`${url}/v1/stream`, { headers: { 'last-event-id': '9007199254740992' } })]) {
      const r = await tooHigh;
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'API_BAD_REQUEST');
    }
  } finally {
    await close();
  }
  assert.equal(node.listenerCount, 0, 'closing the app unsubscribes from the node');
});

test('stream: a replay longer than one connection carries ends it, and the client resumes', async () => {
  const { node, url, close } = await serve({ streamReplayBlocksMax: 2 }, false);
  try {
    for (let i = 0; i < 5; i++) node.commit();
    const client = new SteleClient({ url });
    const seen: number[] = [];
    const stop = new AbortController();
    const done = client.stream((h) => seen.push(h.height), { signal: stop.signal, from: 1 });
    while (seen.length < 5) await new Promise((r) => setTimeout(r, 5));
    // Once caught up, the connection stays open for live blocks.
    await new Promise((r) => setTimeout(r, 30));
    node.commit();
    while (seen.length < 6) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
    stop.abort();
    await done;
    // A raw connection sees the server end the replay after two blocks.
    const raw = await (await fetch(`${url}/v1/stream?from=1`)).text();
    assert.deepEqual([...raw.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), [1, 2]);
  } finally {
    await close();
  }
});

test('stream: a subscriber that stops reading is dropped once 1 MiB waits for it', async () => {
  const { node, url, close } = await serve({}, false);
  try {
    const block = node.commit();
    const port = Number(new URL(url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads
    const client = new SteleClient({ url });
    while (!/^stele_api_stream_subscribers 1$/m.test(await client.metrics())) await new Promise((r) => setTimeout(r, 5));
    // Synthetic headers (about 500 bytes each) until the server gives up on the reader.
    let height = 2;
    for (let round = 0; round < 100 && /^stele_api_stream_subscribers 1$/m.test(await client.metrics()); round++) {
      for (let i = 0; i < 2_000; i++, height++) node.emit({ ...block, header: { ...block.header, height } });
    }
    assert.match(await client.metrics(), /^stele_api_stream_subscribers 0$/m);
    assert.ok(height < 100_000, `dropped after ${height} headers`);
    socket.destroy();
  } finally {
    await close();
  }
});

test('binary stream: whole blocks as stored, replayed then live; the client resumes after a long replay; keep-alives skipped', async () => {
  const { node, url, close } = await serve({ streamReplayBlocksMax: 2, streamHeartbeatMs: 10 }, false);
  try {
    for (let i = 0; i < 5; i++) node.commit();
    const client = new SteleClient({ url });
    const seen: Array<{ height: number; bytes: Uint8Array }> = [];
    const stop = new AbortController();
    const done = client.blockStream((bytes, height) => seen.push({ height, bytes: bytes.slice() }), { signal: stop.signal, from: 1 });
    while (seen.length < 5) await new Promise((r) => setTimeout(r, 5));
    // Caught up: the connection stays open (keep-alive frames meanwhile) for live blocks.
    await new Promise((r) => setTimeout(r, 50));
    node.commit();
    while (seen.length < 6) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      seen.map((b) => b.height),
      [1, 2, 3, 4, 5, 6],
    );
    seen.forEach((b, i) => assert.deepEqual(b.bytes, node.committed[i]!.bytes, `block ${i + 1} as stored`));
    stop.abort();
    await done;
    // A raw connection: the server ends the replay after two blocks, each framed as GET /v1/blocks frames a page.
    const raw = await fetch(`${url}/v1/stream?from=2`, { headers: { accept: 'application/octet-stream' } });
    assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
    const body = new Uint8Array(await raw.arrayBuffer());
    const split = unframeAll(body, 1_000);
    assert.equal(split.fault, null);
    assert.deepEqual(
      split.items!.filter((b) => b.length > 0),
      [node.committed[1]!.bytes, node.committed[2]!.bytes],
    );
  } finally {
    await close();
  }
});

test('binary stream: at most 16 at once; a reader that stops is dropped once 8 MiB waits; live blocks held during a replay are bounded in bytes', { timeout: 60_000 }, async () => {
  const { node, url, close } = await serve({}, false);
  const port = Number(new URL(url).port);
  const client = new SteleClient({ url });
  const subscribers = async (): Promise<number> => Number(/^stele_api_stream_subscribers (\d+)$/m.exec(await client.metrics())![1]);
  const sockets: Socket[] = [];
  const binaryGet = async (path: string): Promise<Socket> => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: application/octet-stream\r\n\r\n`);
    return socket;
  };
  try {
    const block = node.commit();
    for (let i = 0; i < 16; i++) await binaryGet('/v1/stream');
    while ((await subscribers()) < 16) await new Promise((r) => setTimeout(r, 5));
    const busy = await fetch(`${url}/v1/stream`, { headers: { accept: 'application/octet-stream' } });
    assert.equal(busy.status, 429);
    assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'API_BUSY');
    // Event streams still have room.
    const sse = await fetch(`${url}/v1/stream`);
    assert.equal(sse.status, 200);
    await sse.body!.cancel();
    for (const s of sockets.splice(0)) s.destroy();
    while ((await subscribers()) > 0) await new Promise((r) => setTimeout(r, 5));

    // A reader that never reads: 1 MiB blocks until the server gives up on it.
    const slow = await binaryGet('/v1/stream');
    slow.pause();
    while ((await subscribers()) < 1) await new Promise((r) => setTimeout(r, 5));
    let height = 2;
    for (let round = 0; round < 200 && (await subscribers()) === 1; round++, height++) {
      node.emit({ ...block, header: { ...block.header, height }, bytes: new Uint8Array(1 << 20) });
    }
    assert.equal(await subscribers(), 0);
    // 8 MiB queued in the server, plus what loopback's socket buffers took.
    assert.ok(height - 2 < 40, `dropped after ${height - 2} MiB of blocks`);

    // A replay held mid-way: live blocks wait for it, up to 32 MiB, then the stream ends.
    let release: () => void = () => {};
    node.bytesGate = new Promise((r) => (release = r));
    const replaying = await binaryGet('/v1/stream?from=1');
    let tail = '';
    replaying.on('data', (d: Buffer) => (tail = (tail + d.toString('latin1')).slice(-16)));
    while ((await subscribers()) < 1) await new Promise((r) => setTimeout(r, 5));
    let held = 0;
    for (; held < 100 && (await subscribers()) === 1; held++, height++) {
      node.emit({ ...block, header: { ...block.header, height }, bytes: new Uint8Array(1 << 20) });
    }
    assert.equal(await subscribers(), 0);
    assert.ok(held > 16 && held <= 33, `the backlog gave up after ${held} blocks of 1 MiB`);
    release();
    node.bytesGate = null;
    // The answer ends (its last chunk); the connection itself may stay for another request.
    for (let t = 0; !tail.endsWith('\r\n0\r\n\r\n'); t++) {
      assert.ok(t < 2_000, 'the replaying answer ends');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    for (const s of sockets) s.destroy();
    await close();
  }
});

test('binary stream: a replay of large blocks, and the live blocks held during it, wait for a slow reader: none dropped, heights in order', { timeout: 60_000 }, async () => {
  const { node, url, close } = await serve({}, false);
  const client = new SteleClient({ url });
  const subscribers = async (): Promise<number> => Number(/^stele_api_stream_subscribers (\d+)$/m.exec(await client.metrics())![1]);
  try {
    node.commit();
    // 24 MiB to replay in one page (each synthetic block's bytes are its height): three
    // times what a lagging live reader may have queued.
    for (let i = 0; i < 24; i++) node.appendSynthetic(new Uint8Array(1 << 20).fill(i + 2));
    // The replay is held until 12 MiB of live blocks have come, so they wait in the backlog.
    let release: () => void = () => {};
    node.bytesGate = new Promise((r) => (release = r));
    const frames = new FrameReader(2 << 20);
    const heights: number[] = [];
    const ended = new Promise<string>((resolve) => {
      const req = httpGet(`${url}/v1/stream?from=1`, { headers: { accept: 'application/octet-stream' } }, (res) => {
        res.on('data', (chunk: Buffer) => {
          // A slow reader: a pause after every chunk.
          res.pause();
          setTimeout(() => res.resume(), 2);
          for (const b of frames.push(chunk)) {
            if (b.length === 0) continue;
            if (b.length !== 1 << 20) heights.push(headerOfEncoded(b).header.height);
            else heights.push(b[0] === b[b.length >> 1] && b[0] === b[b.length - 1] ? (b[0] as number) : -1);
          }
          if (heights.length === 37) {
            req.destroy();
            resolve('all');
          }
        });
        res.on('end', () => resolve('ended'));
        res.on('error', () => resolve('dropped'));
      });
      req.on('error', () => resolve('dropped'));
    });
    for (let t = 0; (await subscribers()) < 1; t++) {
      assert.ok(t < 2_000, 'the stream is subscribed');
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 12; i++) node.appendSynthetic(new Uint8Array(1 << 20).fill(26 + i));
    release();
    node.bytesGate = null;
    assert.equal(await ended, 'all');
    assert.deepEqual(
      heights,
      Array.from({ length: 37 }, (_, i) => i + 1),
    );
  } finally {
    await close();
  }
});

test('stream clients resume after the server drops their connection', async () => {
  const { node, url, close, sockets } = await serve({}, false);
  try {
    for (let i = 0; i < 3; i++) node.commit();
    const client = new SteleClient({ url });
    const blocks: number[] = [];
    const headers: number[] = [];
    const stop = new AbortController();
    const following = Promise.all([
      client.blockStream((_, height) => blocks.push(height), { signal: stop.signal, from: 1 }),
      client.stream((h) => headers.push(h.height), { signal: stop.signal, from: 1 }),
    ]);
    // A client that gives up rejects `following`: seen here rather than as a wait that never ends.
    let gaveUp: unknown = null;
    following.catch((error: unknown) => (gaveUp = error));
    const until = async (done: () => boolean | Promise<boolean>, what: string): Promise<void> => {
      for (let t = 0; !(await done()); t++) {
        assert.equal(gaveUp, null, `${what}: a client gave up`);
        assert.ok(t < 2_000, what);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until(() => blocks.length >= 3 && headers.length >= 3, 'the first three blocks');
    for (const socket of sockets.splice(0)) socket.destroy();
    for (let i = 0; i < 2; i++) node.commit();
    await until(() => blocks.length >= 5 && headers.length >= 5, 'the two blocks after the drop');
    assert.deepEqual(blocks, [1, 2, 3, 4, 5]);
    assert.deepEqual(headers, [1, 2, 3, 4, 5]);
    // A connection dropped before it delivered anything is a failure, not an end. (The
    // answer's status comes at once, so the client is reading its body when it drops.)
    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text();
    await until(async () => /^stele_api_stream_subscribers 2$/m.test(await metrics()), 'the two streams are subscribed again');
    const idle = client.blockStream(() => {}, { signal: stop.signal, from: 6 });
    await until(async () => /^stele_api_stream_subscribers 3$/m.test(await metrics()), 'the idle stream is subscribed');
    await new Promise((r) => setTimeout(r, 50));
    for (const socket of sockets.splice(0)) socket.destroy();
    await assert.rejects(idle, /terminated/);
    stop.abort();
    await following;
  } finally {
    await close();
  }
});

test('stream clients, found in review: a server that ends the stream before any block (a node shutting down) rejects with CLIENT_STREAM_ENDED; only the caller\'s abort resolves', { timeout: 30_000 }, async () => {
  const { node, url, close } = await serve({}, false);
  const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text();
  const ended = (e: unknown): boolean => e instanceof ApiError && e.code === 'CLIENT_STREAM_ENDED' && e.status === 200 && /the server ended the stream/.test(e.message);
  try {
    node.commit();
    const client = new SteleClient({ url });
    const stop = new AbortController();
    const seen: number[] = [];
    // Live streams, waiting for the next block: none comes before the server closes.
    const binary = client.blockStream((_, height) => seen.push(height), { signal: stop.signal });
    const events = client.stream((h) => seen.push(h.height), { signal: stop.signal, from: 2 });
    // Seen at once rather than as an unhandled rejection while the test waits.
    binary.catch(() => {});
    events.catch(() => {});
    for (let t = 0; !/^stele_api_stream_subscribers 2$/m.test(await metrics()); t++) {
      assert.ok(t < 1_000, 'both streams are subscribed');
      await new Promise((r) => setTimeout(r, 5));
    }
    // app.close() ends every stream (api/server.ts preClose). Before: both resolved, as
    // when the caller aborts, and a follower took the node's shutdown for its own stop.
    await close();
    await assert.rejects(binary, ended);
    await assert.rejects(events, ended);
    assert.equal(stop.signal.aborted, false);
    assert.deepEqual(seen, []);
  } finally {
    await close();
  }
  // A server that ends every stream at once, with nothing sent: the same, from a height too.
  const server = createServer((req, res) => {
    // A comment, or a keep-alive (a zero length), then the end.
    if (req.headers.accept === 'application/octet-stream') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(4));
    else res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': nothing\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const client = new SteleClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const signal = new AbortController().signal;
    await assert.rejects(client.stream(() => {}, { signal, from: 7 }), (e: unknown) => ended(e) && /from height 7/.test((e as Error).message));
    await assert.rejects(client.blockStream(() => {}, { signal }), ended);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('stream clients reject with the error their callback throws, and go no further', async () => {
  // The abandoned answers' sockets would linger in the client's pool for seconds: closed at the end.
  const { node, url, close, sockets } = await serve({}, false);
  try {
    for (let i = 0; i < 3; i++) node.commit();
    const client = new SteleClient({ url });
    const stop = new AbortController();
    const boom = (height: number): void => {
      if (height === 2) throw new Error(`the callback failed at ${height}`);
    };
    const blocks: number[] = [];
    const headers: number[] = [];
    await assert.rejects(
      client.blockStream(
        (_, height) => {
          blocks.push(height);
          boom(height);
        },
        { signal: stop.signal, from: 1 },
      ),
      /the callback failed at 2/,
    );
    await assert.rejects(
      client.stream(
        (h) => {
          headers.push(h.height);
          boom(h.height);
        },
        { signal: stop.signal, from: 1 },
      ),
      /the callback failed at 2/,
    );
    assert.deepEqual(blocks, [1, 2]);
    assert.deepEqual(headers, [1, 2]);
  } finally {
    for (const socket of sockets) socket.destroy();
    await close();
  }
});

/** Sends raw bytes on a socket and returns the status line of the answer. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
  });
}

test('raw HTTP: odd request lines and headers get 4xx, never a 5xx or a crash', async () => {
  const { url, close } = await serve();
  try {
    const port = Number(new URL(url).port);
    const cases = [
      'GET /\\ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /v1/blocks/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /v1/accounts/..%2f..%2fetc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
      'POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{"a"',
      'POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n',
      'POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n{}',
      'BREW /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /v1/status HTTP/9.9\r\n\r\n',
      '\x00\x01\x02garbage\r\n\r\n',
    ];
    for (const request of cases) {
      const line = await rawRequest(port, request);
      const status = Number(line.split(' ')[1]);
      // Every one of them is answered (Node's parser and the routes each give a 4xx), not
      // just dropped: silence would also pass a server that crashed per connection.
      assert.ok(line.startsWith('HTTP/1.1 ') && status >= 400 && status < 500, `${JSON.stringify(request.slice(0, 60))} -> ${JSON.stringify(line)}`);
    }
    // The server still answers.
    assert.equal((await fetch(`${url}/v1/status`)).status, 200);
  } finally {
    await close();
  }
});

test('client: answers are read with a bound, whatever Content-Length says or when it says nothing: CLIENT_BAD_ANSWER', { timeout: 60_000 }, async () => {
  const server = createServer((req, res) => {
    const { pathname: path, searchParams } = new URL(req.url ?? '/', 'http://x');
    if (path === '/v1/status') return endless(res, 200, 'application/json');
    if (path === '/v1/blocks' && searchParams.get('from') === '7') {
      // 101 frames of 1 byte each: more blocks than any page holds.
      return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(frameAll(Array.from({ length: 101 }, () => Uint8Array.of(1)))));
    }
    if (path === '/v1/blocks') return endless(res, 200, 'application/octet-stream');
    if (path === '/v1/blocks/1') return endless(res, 200, 'application/octet-stream');
    if (path === '/metrics') return endless(res, 200, 'text/plain');
    if (path === '/v1/blocks/2') return endless(res, 503, 'application/json');
    if (path === '/v1/blocks/latest') {
      // Declares more than the bound: refused before any of it is read.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 ** 3) });
      res.write('{');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new SteleClient({ url });
  const bad = (pattern: RegExp, status = 200) => (e: unknown) => e instanceof ApiError && e.code === 'CLIENT_BAD_ANSWER' && e.status === status && pattern.test(e.message);
  try {
    await assert.rejects(client.status(), bad(/an answer of more than 67108864 bytes/));
    await assert.rejects(client.blocksBytes(1), bad(/a page of blocks of more than \d+ bytes/));
    await assert.rejects(client.blockBytes(1), bad(/a block of more than 16777216 bytes/));
    await assert.rejects(client.metrics(), bad(/more than 67108864 bytes/));
    await assert.rejects(client.blockBytes(2), bad(/HTTP 503: an error answer of more than 1048576 bytes/, 503));
    // A block as JSON has its own bound (api/client.ts BLOCK_JSON_BYTES_PER_BYTE_MAX).
    await assert.rejects(client.latestBlock(), bad(/an answer of more than 151003136 bytes/));
    await assert.rejects(client.blocksBytes(7), bad(/a page of more than 100 blocks/));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A transaction of one signer with `payload` (signatures of zeros: nothing here verifies them). */
function unsignedTx(payload: Payload, chainId = 'a'): Tx {
  return decodeTx(encodeTx(encodeTxBody({ chainId, signers: [new Uint8Array(32).fill(1)], expiry: HEIGHT_MAX, payload }), [new Uint8Array(64)]));
}

/** A block of `txs` whose header and certificate take their most JSON: a 64-character chain id, 16-digit numbers, 16 votes. */
function syntheticBlock(txs: readonly Tx[]): Block {
  const header = encodeHeader({
    chainId: 'c'.repeat(64),
    height: HEIGHT_MAX,
    prevHash: new Uint8Array(32),
    txRoot: new Uint8Array(32),
    txCount: txs.length,
    stateHash: new Uint8Array(32),
    timeMs: HEIGHT_MAX,
    proposer: VALIDATORS_MAX - 1,
    ballot: { round: HEIGHT_MAX, leader: VALIDATORS_MAX - 1 },
  });
  const certificate = Array.from({ length: VALIDATORS_MAX }, (_, validator) => ({ validator, signature: new Uint8Array(64) }));
  return decodeBlock(encodeBlock(header, new Uint8Array(64), txs, certificate));
}

/** A block answer's JSON, every transaction held as failed with the longest failure code. */
function blockJson(block: Block): string {
  return JSON.stringify(blockToJson(block, block.txs.map((_, index) => ({ index, code: 'CONTRACT_INSUFFICIENT_BALANCE' }))));
}

test('client: the bound on a block answer\'s JSON holds its worst case, an act of 64 bool arguments, and not by much', () => {
  const empty = syntheticBlock([]);
  assert.ok(blockJson(empty).length <= BLOCK_JSON_FIXED_BYTES_MAX, `a block without transactions: ${blockJson(empty).length} bytes of JSON`);
  const perByte = (tx: Tx): number => {
    const block = syntheticBlock(Array.from({ length: 100 }, () => tx));
    return (blockJson(block).length - blockJson(empty).length) / (block.bytes.length - empty.bytes.length);
  };
  const bools = Array.from({ length: CONTRACT_ARGS_MAX }, () => ({ kind: 'bool' as const, value: false }));
  const worst = perByte(unsignedTx({ type: 'act', instance: HEIGHT_MAX, party: 'a', action: 'a', args: bools }));
  assert.ok(worst > 8.5 && worst <= BLOCK_JSON_BYTES_PER_BYTE_MAX, `act of bools: ${worst} bytes of JSON per byte`);
  const key = new Uint8Array(32).fill(2);
  const names = Array.from({ length: CONTRACT_PARAMS_MAX }, (_, i) => `p${String(i).padStart(2, '0')}`);
  const others: Payload[] = [
    { type: 'deploy', source: '\u0001'.repeat(CONTRACT_SOURCE_BYTES_MAX) },
    { type: 'deploy', source: '\u0001'.repeat(10) },
    { type: 'create', contract: 'a', parties: [], params: names.map((name) => ({ name, value: { kind: 'bool', value: false } })), refs: [] },
    { type: 'act', instance: HEIGHT_MAX, party: 'a', action: 'a', args: Array.from({ length: CONTRACT_ARGS_MAX }, () => ({ kind: 'int' as const, value: 0n })) },
    { type: 'put', owner: key, key: '"'.repeat(256), value: { kind: 'sha256', digest: key } },
    { type: 'revoke', publicKey: key },
    { type: 'transfer', from: key, asset: 'A', to: key, amount: 1n },
  ];
  for (const payload of others) {
    const ratio = perByte(unsignedTx(payload));
    assert.ok(ratio < worst, `${payload.type}: ${ratio} bytes of JSON per byte`);
  }
});

test('client, found in review: a block whose JSON passes 64 MiB (deploys of control characters, six bytes of JSON each) is read, as one block and as a page; the bound still holds', { timeout: 120_000 }, async () => {
  // 250 deploys of 60,000 control characters: a 15 MB block, 90 MB as JSON.
  const block = syntheticBlock(Array.from({ length: 250 }, (_, i) => unsignedTx({ type: 'deploy', source: `${i}`.padEnd(CONTRACT_SOURCE_BYTES_MAX, '\u0001') })));
  const json = Buffer.from(blockJson(block));
  assert.ok(json.length > 64 * 1024 * 1024, `${json.length} bytes of JSON`);
  const page = Buffer.concat([Buffer.from('{"blocks":['), json, Buffer.from('],"next":null}')]);
  const server = createServer((req, res) => {
    const send = (body: Buffer) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
    if (req.url === '/v1/blocks/1' || req.url === '/v1/blocks/latest') return send(json);
    if (req.url === '/v1/blocks?from=1') return send(page);
    // More than the bound, declared: refused before any of it is read.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 ** 3) }).write('{');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const client = new SteleClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    for (const answer of [await client.block(1), await client.latestBlock(), (await client.blocks(1)).blocks[0]!]) {
      assert.equal(answer.size_bytes, block.bytes.length);
      assert.equal(answer.transactions.length, 250);
      assert.equal(answer.failed.length, 250);
    }
    await assert.rejects(client.block(2), (e: unknown) => e instanceof ApiError && e.code === 'CLIENT_BAD_ANSWER' && /an answer of more than 151003136 bytes/.test(e.message));
    await assert.rejects(client.blocks(2), (e: unknown) => e instanceof ApiError && e.code === 'CLIENT_BAD_ANSWER' && /an answer of more than 151815168 bytes/.test(e.message));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('client, found in review: an error answer whose JSON is no error object (null, {"error": null}, a string, an array, a code of another shape) is CLIENT_BAD_ANSWER, not a TypeError', async () => {
  const bodies: Record<string, [number, string]> = {
    '/v1/blocks/1': [503, 'null'],
    '/v1/blocks/2': [500, '{"error":null}'],
    '/v1/blocks/3': [500, '{"error":"boom"}'],
    '/v1/blocks/4': [502, '[]'],
    '/v1/blocks/5': [500, '{"error":{"code":5}}'],
    '/v1/blocks/6': [500, '{"error":{"code":"not a code\\nat all"}}'],
    '/v1/blocks/7': [503, '{"error":{"code":"MEMPOOL_FULL","message":7,"details":[1]}}'],
  };
  const server = createServer((req, res) => {
    const [status, body] = bodies[req.url ?? ''] ?? [404, '{}'];
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const client = new SteleClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    for (let height = 1; height <= 6; height++) {
      const status = bodies[`/v1/blocks/${height}`]![0];
      await assert.rejects(client.block(height), (e: unknown) => e instanceof ApiError && e.code === 'CLIENT_BAD_ANSWER' && e.status === status && /without an error code/.test(e.message), `block ${height}`);
    }
    // A message or details of the wrong type are dropped, the code kept.
    await assert.rejects(client.block(7), (e: unknown) => e instanceof ApiError && e.code === 'MEMPOOL_FULL' && e.message === 'MEMPOOL_FULL: ' && Object.keys(e.details).length === 0);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('stream, found in review: an event whose height is not a positive integer, or not the one after the last, is CLIENT_BAD_ANSWER', { timeout: 20_000 }, async () => {
  const scenarios: Array<{ from?: number; data: string[]; error: RegExp; delivered: unknown[] }> = [
    { from: 1, data: ['{"height":1}', '{"height":"2"}'], error: /an event's height "2" is not a block height/, delivered: [1] },
    { from: 1, data: ['{"height":1}', '{"height":3}'], error: /block 3 streamed where 2 was due/, delivered: [1] },
    { from: 4, data: ['{"height":1}'], error: /block 1 streamed where 4 was due/, delivered: [] },
    { data: ['{"height":5}', '{"height":5}'], error: /block 5 streamed where 6 was due/, delivered: [5] },
    { data: ['null'], error: /an event's height undefined is not a block height/, delivered: [] },
    { data: ['{"height":0}'], error: /height 0 is not a block height/, delivered: [] },
    { data: ['{"height":1.5}'], error: /height 1.5 is not a block height/, delivered: [] },
  ];
  let current = scenarios[0]!;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // Left open: the client must stop on its own check, not on the end of the answer.
    res.write(current.data.map((d, i) => `event: block\nid: ${i}\ndata: ${d}\n\n`).join(''));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const client = new SteleClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    for (const scenario of scenarios) {
      current = scenario;
      const heights: unknown[] = [];
      const options = { signal: new AbortController().signal, ...(scenario.from === undefined ? {} : { from: scenario.from }) };
      await assert.rejects(client.stream((h) => heights.push(h.height), options), (e: unknown) => e instanceof ApiError && e.code === 'CLIENT_BAD_ANSWER' && scenario.error.test(e.message), scenario.data.join(' '));
      assert.deepEqual(heights, scenario.delivered);
    }
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the client\'s own error codes (CLIENT_*) each have a row in the code table of docs/api.md', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/api.md', import.meta.url)), 'utf8');
  for (const code of Object.keys(CLIENT_ERROR_CODES)) assert.match(doc, new RegExp(`^\\| \`${code}\` \\|`, 'm'), code);
});

test('stream clients: no block is handed over after an abort, even one already received; a callback\'s promise is awaited, and its rejection rejects the stream (review, 2026-12-02)', async () => {
  const { node, url, close } = await serve({}, false);
  const unhandled: unknown[] = [];
  const count = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', count);
  try {
    for (let i = 0; i < 20; i++) node.commit(); // a replay arrives in a few large chunks
    const client = new SteleClient({ url });
    for (const kind of ['stream', 'blockStream'] as const) {
      const seen: number[] = [];
      const stop = new AbortController();
      const on = (height: number): void => {
        seen.push(height);
        if (height === 3) stop.abort();
      };
      if (kind === 'stream') await client.stream((h) => on(h.height), { signal: stop.signal, from: 1 });
      else await client.blockStream((_, height) => on(height), { signal: stop.signal, from: 1 });
      assert.deepEqual(seen, [1, 2, 3], `${kind}: before, all 20 were handed over`);
    }
    // An async callback: one block at a time, and its rejection is the stream's.
    for (const kind of ['stream', 'blockStream'] as const) {
      let running = 0;
      let most = 0;
      const onBlock = async (height: number): Promise<void> => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        if (height === 4) throw new Error(`handler failed on ${height}`);
      };
      const stop = new AbortController();
      const following = kind === 'stream' ? client.stream((h) => onBlock(h.height), { signal: stop.signal, from: 1 }) : client.blockStream((_, h) => onBlock(h), { signal: stop.signal, from: 1 });
      await assert.rejects(following, /handler failed on 4/, kind);
      assert.equal(most, 1, `${kind}: callbacks ran one at a time`);
      stop.abort();
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
  } finally {
    process.off('unhandledRejection', count);
    await close();
  }
});

test('stream clients: a connection that brings nothing, not even a keep-alive, is treated as dropped after streamIdleMs (review, 2026-12-02: a node cut off without a close held the stream for minutes)', async () => {
  // A server that sends block 1 and then nothing on the first connection; on the next, the
  // status and an end (a node that has nothing more to say).
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    targets.push(request.url ?? '');
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    if (targets.length === 1) response.write(`id: 1\nevent: block\ndata: ${JSON.stringify({ height: 1 })}\n\n`);
    else response.end();
  });
  server.on('connection', (s: Socket) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const client = new SteleClient({ url, streamIdleMs: 300 });
    const seen: number[] = [];
    const started = performance.now();
    await assert.rejects(
      client.stream((h) => seen.push(h.height), { signal: new AbortController().signal, from: 1 }),
      (e: unknown) => e instanceof ApiError && e.code === 'CLIENT_STREAM_ENDED',
    );
    assert.deepEqual(seen, [1]);
    assert.deepEqual(targets, ['/v1/stream?from=1', '/v1/stream?from=2'], 'resumed after the silent connection');
    assert.ok(performance.now() - started < 5_000);
    // Silent from the start: nothing delivered, so the timeout is reported.
    targets.length = 0;
    const silent = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders());
    silent.on('connection', (s: Socket) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const quiet = new SteleClient({ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, streamIdleMs: 300 });
      await assert.rejects(quiet.stream(() => {}, { signal: new AbortController().signal }), (e: unknown) => (e as { code?: string }).code === 'ETIMEDOUT' && /nothing, not even a keep-alive, for 300 ms/.test(String(e)));
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});
