/** bench/http-lite.ts: the benchmarks' keep-alive HTTP client. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { HttpLite } from '../../bench/http-lite.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void>; sockets: () => number }> {
  let sockets = 0;
  const server = createServer(handler);
  server.on('connection', () => sockets++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sockets: () => sockets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('HttpLite posts a body, reads the whole answer, and reuses one connection', async () => {
  const server = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/octet-stream' });
      // A large answer arrives in several chunks.
      res.end(Buffer.concat([Buffer.from(`${req.method} ${req.url} ${req.headers['content-type'] ?? '-'} ${body.length}:`), Buffer.alloc(300_000, 7)]));
    });
  });
  const http = new HttpLite(4);
  try {
    for (let i = 0; i < 5; i++) {
      const a = await http.post(`${server.url}/v1/x?y=${i}`, 'application/octet-stream', new Uint8Array([1, 2, 3]));
      assert.equal(a.status, 200);
      const head = `POST /v1/x?y=${i} application/octet-stream 3:`;
      assert.equal(a.body.subarray(0, head.length).toString(), head);
      assert.equal(a.body.length, head.length + 300_000);
    }
    const missing = await http.get(`${server.url}/missing`, 'text/plain');
    assert.equal(missing.status, 404);
    assert.equal(server.sockets(), 1, 'sequential requests share one kept-alive connection');
  } finally {
    http.close();
    await server.close();
  }
});

test('HttpLite rejects on a refused connection and on a silent server', async () => {
  const server = await serve(() => {
    // never answers
  });
  const http = new HttpLite(2);
  try {
    await assert.rejects(http.get(`${server.url}/slow`, 'text/plain', 200), /no answer within 200 ms/);
    const closed = await serve(() => {});
    const url = closed.url;
    await closed.close();
    await assert.rejects(http.get(`${url}/`, 'text/plain', 1_000), (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED');
  } finally {
    http.close();
    await server.close();
  }
});
