/**
 * The `stele` command and its output's ends (review, 2026-12-01): a Ctrl-C or SIGTERM
 * during `export` leaves no file behind, and a reader that closes the pipe (`| head`) ends
 * the command quietly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { frameAll } from '../../api/framing.js';
import { FakeNode } from '../api/fake-node.js';
import { alice, bob, chain, transfer } from '../support/fixtures.js';

const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** A node that has committed 3 blocks and says it has 1000: the first page comes, the next request is never answered. */
async function stalledNode(): Promise<{ url: string; stalled: Promise<void>; close: () => Promise<void> }> {
  const n = new FakeNode(chain);
  for (let h = 1; h <= 3; h++) {
    void n.submit(transfer(alice, bob, BigInt(h), 60));
    n.commit();
  }
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((resolve) => {
    onStall = resolve;
  });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chain_id: chain.genesis.chainId, committed_height: 1000 }));
    } else if (url.searchParams.get('from') === '1') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(frameAll(n.committed.map((b) => b.bytes))));
    } else {
      onStall(); // left unanswered: the export waits here, its temporary file holding 3 blocks
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stalled,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function started(args: string[]): { exit: Promise<{ code: number | null; signal: string | null; out: string; err: string }>; kill: (signal: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exit = new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
  return { exit, kill: (signal) => child.kill(signal) };
}

test('export stopped by SIGINT or SIGTERM removes its temporary file and exits 130 or 143 with CLI_INTERRUPTED (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-export-signal-'));
  try {
    for (const [signal, code, json] of [['SIGINT', 130, false], ['SIGTERM', 143, true]] as const) {
      const node = await stalledNode();
      try {
        const out = join(dir, 'chain.stele');
        const run = started(['export', '--url', node.url, '--out', out, ...(json ? ['--json'] : [])]);
        await node.stalled;
        assert.equal(readdirSync(dir).length, 1, 'the temporary file, while the export runs');
        run.kill(signal);
        const r = await run.exit;
        assert.deepEqual([r.code, r.signal], [code, null], r.err + r.out);
        assert.equal(r.err, `stele: CLI_INTERRUPTED: export stopped by ${signal}: ${out} was not written, and no temporary file is left\n`);
        if (json) assert.deepEqual(JSON.parse(r.out).error, { code: 'CLI_INTERRUPTED', message: r.err.slice('stele: '.length, -1), details: { signal } });
        else assert.equal(r.out, '');
        assert.deepEqual(readdirSync(dir), [], 'no file, no temporary file');
      } finally {
        await node.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reader that closes stdout early (`stele lint --sarif big.scl | head -c1`) ends stele quietly with its exit code, no stack trace (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-epipe-'));
  try {
    // Far more SARIF than a pipe holds: 400 contracts with an error each.
    const horse = readFileSync(fileURLToPath(new URL('../../../examples/contracts/horse-sale.scl', import.meta.url)), 'utf8');
    const file = join(dir, 'big.scl');
    writeFileSync(file, Array.from({ length: 400 }, (_, i) => horse.replace('HorseSale', `HorseSale${i}`).replace('deposit <= price', 'deposit <= nope')).join('\n'));
    const child = spawn(process.execPath, [bin, 'lint', '--sarif', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const first = await new Promise<Buffer>((resolve) => child.stdout.once('data', resolve));
    assert.equal(first.subarray(0, 1).toString(), '{');
    child.stdout.destroy(); // as head does once it has its byte
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(err, '', 'nothing on stderr');
    assert.equal(code, 1, 'lint found errors: its exit code');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
