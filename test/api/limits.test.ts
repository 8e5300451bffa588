/**
 * Bounds of the REST API that only show on a real socket or under adversarial bodies
 * (found in a review, 2026-11-30): batch bodies reserved before they are read, JSON
 * bodies that would make a heap of objects, a batch without a body, stream replays in
 * short pages, and slow stream readers whose connections are destroyed, not kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { buildApp, jsonValueCount, listen } from '../../api/server.js';
import { BATCH_BODY_BYTES_MAX, BATCH_BYTES_IN_FLIGHT_MAX } from '../../api/limits.js';
import { frameAll } from '../../api/framing.js';
import { chain, alice, bob, transfer } from '../support/fixtures.js';
import { FakeNode } from './fake-node.js';

async function serve() {
  const node = new FakeNode(chain);
  const app = buildApp(node);
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  return { node, app, url, port: Number(new URL(url).port) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('jsonValueCount counts brackets and commas outside strings only, escapes included', () => {
  assert.equal(jsonValueCount(Buffer.from('{"a":[1,{"b":"[{,"}],"c":"\\"{[,"}')), 5);
  assert.equal(jsonValueCount(Buffer.from('[[],[],{}]')), 6);
  assert.equal(jsonValueCount(Buffer.from('"{[\\\\"')), 0);
});

test('batch bodies: the slot and the bytes are reserved before the body is read; released when the answer closes', async () => {
  const { app, url, port } = await serve();
  const sockets: Socket[] = [];
  try {
    const post = () =>
      fetch(`${url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(frameAll([transfer(alice, bob, 3n).bytes])) });
    assert.equal((await post()).status, 200);
    // Requests that declare the largest body and never send it take the whole byte budget.
    const holders = BATCH_BYTES_IN_FLIGHT_MAX / BATCH_BODY_BYTES_MAX;
    for (let i = 0; i < holders; i++) {
      const s = connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      s.write(`POST /v1/transactions/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BATCH_BODY_BYTES_MAX}\r\n\r\n{"transactions":[`);
      sockets.push(s);
    }
    await sleep(50);
    const busy = await post();
    assert.equal(busy.status, 429);
    assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'API_BUSY');
    for (const s of sockets) s.destroy();
    let status = 0;
    for (let t = 0; t < 100 && status !== 200; t++) {
      await sleep(10);
      status = (await post()).status;
    }
    assert.equal(status, 200, 'the slots come back when their connections close');
  } finally {
    for (const s of sockets) s.destroy();
    await app.close();
  }
});

test('JSON bodies with too many objects and arrays for their size are refused before JSON.parse; a batch without a body is a 400', async () => {
  const { app, url } = await serve();
  try {
    const hostile = `{"transactions":[${'{},'.repeat(200_000)}{}]}`;
    const r = await fetch(`${url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: hostile });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: { code: string; details: { limit: number } } };
    assert.equal(body.error.code, 'API_BAD_REQUEST');
    assert.equal(body.error.details.limit, 64 + (Buffer.byteLength(hostile) >> 3));
    // Plain values count as elements.
    const numbers = `{"transactions":[${'1.5,'.repeat(100_000)}1]}`;
    const n = await fetch(`${url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: numbers });
    assert.equal(((await n.json()) as { error: { details: { limit?: number } } }).error.details.limit, 64 + (Buffer.byteLength(numbers) >> 3));
    // Heights past 2^53 - 1 are refused as the stream refuses them, not answered as an empty page.
    const far = await fetch(`${url}/v1/blocks?from=9007199254740993`);
    assert.equal(far.status, 400);
    // No content type, no body.
    const empty = await fetch(`${url}/v1/transactions/batch`, { method: 'POST' });
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as { error: { code: string } }).error.code, 'API_BAD_REQUEST');
  } finally {
    await app.close();
  }
});

test('stream replay goes on from where a short page stopped; a dropped slow reader\'s connection is destroyed', { timeout: 60_000 }, async () => {
  const { node, app, url, port } = await serve();
  try {
    for (let i = 0; i < 7; i++) node.commit();
    node.pageMax = 2;
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/stream?from=1`, { signal: controller.signal });
    const reader = response.body!.getReader();
    let text = '';
    for (let reads = 0; (text.match(/^id: /gm) ?? []).length < 7; reads++) {
      const chunk = await reader.read();
      if (chunk.done || reads > 1_000) assert.fail(`the replay ended after ${JSON.stringify(text)}`);
      text += new TextDecoder().decode(chunk.value);
    }
    assert.deepEqual([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), [1, 2, 3, 4, 5, 6, 7]);
    controller.abort();
    // A reader that never reads: once dropped, the server destroys its connection rather
    // than keeping it (and what is queued for it) until the reader reads.
    const connections = () => new Promise<number>((resolve, reject) => app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    for (let t = 0; (await connections()) > 0; t++) {
      assert.ok(t < 2_000, 'the first stream\'s connection closes');
      await sleep(5);
    }
    const block = node.committed[0]!;
    const socket = connect(port, '127.0.0.1');
    try {
      socket.on('error', () => {});
      await new Promise((r) => socket.once('connect', r));
      // Live first: one event read proves the subscriber is past its replay, so what
      // follows is the slow-reader path, not the end of a replay backlog.
      let got = '';
      const onData = (d: Buffer): void => {
        got += d.toString('latin1');
      };
      socket.on('data', onData);
      socket.write('GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n');
      for (let t = 0; !got.includes('retry: '); t++) {
        assert.ok(t < 2_000, 'the stream answers');
        await sleep(5);
      }
      for (let t = 0; !got.includes('id: 100\n'); t++) {
        assert.ok(t < 2_000, 'a live event arrives');
        node.emit({ ...block, header: { ...block.header, height: 100 } });
        await sleep(5);
      }
      socket.off('data', onData);
      socket.pause();
      let height = 101;
      for (let round = 0; round < 200 && (await connections()) > 0; round++) {
        for (let i = 0; i < 2_000; i++, height++) node.emit({ ...block, header: { ...block.header, height } });
        await sleep(5);
      }
      assert.equal(await connections(), 0, 'the slow reader\'s connection is gone');
    } finally {
      socket.destroy();
    }
  } finally {
    await app.close();
  }
});

test('a batch whose client leaves during admission keeps its slot until the admission ends', { timeout: 60_000 }, async () => {
  const node = new FakeNode(chain);
  let open: () => void = () => {};
  const gate = new Promise<void>((r) => (open = r));
  let entered: () => void = () => {};
  const atGate = new Promise<void>((r) => (entered = r));
  const submit = node.submit.bind(node);
  node.submit = async (tx) => {
    entered();
    await gate;
    return submit(tx);
  };
  const app = buildApp(node, { batchesInFlightMax: 1 });
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  const port = Number(new URL(url).port);
  const post = (amount: bigint) =>
    fetch(`${url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(frameAll([transfer(alice, bob, amount).bytes])) });
  try {
    const body = Buffer.from(frameAll([transfer(alice, bob, 7n).bytes]));
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    s.write(`POST /v1/transactions/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
    s.write(body);
    await atGate; // its admission has begun, and waits at the gate
    s.destroy();
    await sleep(50);
    // A second batch now is refused at once; had it got the slot, it would wait at the gate.
    // 10 s: a slot wrongly given waits at the gate for good, so a longer race costs nothing
    // but keeps a slow machine's answer from looking like that (review of 2026-12-02).
    const second = await Promise.race([post(8n).then((r) => r.status), new Promise((r) => setTimeout(r, 10_000).unref()).then(() => 'no answer within 10 s')]);
    assert.equal(second, 429, 'the slot is still held by the admission under way');
    open();
    let status = 0;
    for (let t = 0; t < 100 && status !== 200; t++) {
      await sleep(10);
      status = (await post(9n)).status;
    }
    assert.equal(status, 200, 'freed once the admission ended');
  } finally {
    open();
    await app.close();
  }
});
