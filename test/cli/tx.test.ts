/**
 * `stele tx` against a plain HTTP server that plays a node (it records what is submitted):
 * each kind takes its own flags (review, 2026-12-01: one table for every kind let flags of
 * other kinds and stray words through unread, and the last of two values won), the
 * encoder's checks come before the node is asked anything, --url is checked as audit
 * checks it, and with --wait a wait that ended without a commit is no success.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../ledger/assert.js';
import { generateKeyPair } from '../../ledger/ed25519.js';
import { keyFileText } from '../../cli/io.js';
import { stele } from '../support/cli-run.js';



interface Posted {
  path: string;
  body: { id: string; expiry: number; payload: Record<string, unknown> };
}

/**
 * A node at committed height 7 that admits every submission: 202 pending, or, with
 * `waitTimesOut` and ?wait=commit, 202 pending with wait_timed_out (as a node answers when
 * its wait ends first, or when it stops and releases its waiters).
 */
async function fakeNode(): Promise<{ url: string; posted: Posted[]; waitTimesOut: boolean; close: () => Promise<void> }> {
  const state = { url: '', posted: [] as Posted[], waitTimesOut: false, close: async () => {} };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chain_id: 'tx-test', committed_height: 7 }));
      return;
    }
    if (req.method !== 'POST' || !/^\/v1\/transactions(\?|$)/.test(req.url ?? '')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'API_NOT_FOUND', message: `no route ${req.url}`, details: {} } }));
      return;
    }
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const posted = { path: req.url ?? '', body: JSON.parse(body) as Posted['body'] };
      state.posted.push(posted);
      const waited = posted.path.includes('wait=commit');
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: posted.body.id, status: 'pending', ...(waited && state.waitTimesOut ? { wait_timed_out: true } : {}) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

function setUp(): { dir: string; key: string; hex: string } {
  const dir = mkdtempSync(join(tmpdir(), 'stele-tx-cli-'));
  const pair = generateKeyPair();
  const key = join(dir, 'signer.key');
  writeFileSync(key, keyFileText(pair), { mode: 0o600 });
  return { dir, key, hex: toHex(pair.publicKey) };
}

test('tx: each kind takes its own flags, arguments only for deploy, and a flag that is not repeatable once; all CLI_USAGE naming it, nothing sent (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const { dir, key, hex } = setUp();
  const node = await fakeNode();
  const contract = join(dir, 'c.scl');
  writeFileSync(contract, 'contract C { parties a\n init S {}\n state S {}\n final S }\n');
  try {
    const refused: Array<[string[], RegExp]> = [
      // Stored "hello" and dropped "world".
      [['put', '--key', 'note', '--value', 'hello', 'world'], /tx put takes no argument "world" \(a value with spaces needs quotes\)/],
      // Sent 500.
      [['transfer', '--to', hex, '--amount', '5', '--amount', '500', '--asset', 'STL'], /--amount is given more than once: "5", then "500"; it takes one value/],
      // Acted as buyer.
      [['act', '--instance', '1', '--party', 'buyer', '--party', 'seller', '--action', 'pay'], /--party is given more than once: "buyer", then "seller"/],
      // Meant as --arg: sent no argument.
      [['act', '--instance', '1', '--party', 'buyer', '--action', 'pay', '--param', 'x=int:1'], /tx act does not take --param \(it takes --signer, --url, .*--instance, --party, --action, --arg\)/],
      [['transfer', '--to', hex, '--amount', '5', '--asset', 'STL', '--key', 'k'], /tx transfer does not take --key/],
      [['revoke', '--pubkey', hex, 'extra'], /tx revoke takes no argument "extra"/],
      [['register', '--pubkey', hex, '--name', 'a', '--name', 'b'], /--name is given more than once/],
      [['issue', '--to', hex, '--amount', '5', '--asset', 'STL', '--wait', '--wait'], /--wait is given more than once/],
      [['put', '--key', 'k', '--value', 'v', '--expiry', '9', '--expiry', '10'], /--expiry is given more than once/],
      [['deploy', contract, '--blob', contract], /tx deploy does not take --blob/],
    ];
    for (const [args, message] of refused) {
      const r = await stele('tx', ...args, '--signer', key, '--url', node.url, '--json');
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
      const error = (JSON.parse(r.out) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'CLI_USAGE', args.join(' '));
      assert.match(error.message, message, args.join(' '));
    }
    const twice = await stele('tx', 'revoke', '--pubkey', hex, '--signer', key, '--signer', key, '--url', node.url);
    assert.equal(twice.code, 2);
    assert.match(twice.err, /CLI_USAGE: --signer is given more than once/);
    assert.equal(node.posted.length, 0, 'nothing was sent');

    // What each kind does take, repeatable flags repeated.
    const accepted: string[][] = [
      ['register', '--pubkey', hex, '--name', 'carol', '--role', 'issuer', '--role', 'admin'],
      ['create', '--contract', 'C', '--party', `a=${hex}`, '--party', `b=${hex}`, '--param', 'n=int:1', '--param', 'm=bool:true'],
      ['act', '--instance', '1', '--party', 'a', '--action', 'go', '--arg', 'int:1', '--arg', 'bool:false'],
      ['deploy', contract, contract],
      ['put', '--key', 'note', '--value', 'hello world'],
    ];
    for (const args of accepted) {
      const r = await stele('tx', ...args, '--signer', key, '--url', node.url, '--json');
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.out}${r.err}`);
    }
    const payloads = node.posted.map((p) => p.body.payload);
    assert.equal(payloads.length, accepted.length);
    assert.deepEqual((payloads[1]!.parties as Array<{ name: string }>).map((p) => p.name), ['a', 'b']);
    assert.equal((payloads[2]!.args as unknown[]).length, 2);
    assert.equal(payloads[2]!.party, 'a');
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tx: arguments the encoder refuses are CLI_USAGE before the node is asked anything, also when it is down (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const { dir, key, hex } = setUp();
  try {
    // Port 9 (discard): nothing answers there. Before, each was CLI_IO "cannot reach".
    const cases: Array<[string[], RegExp]> = [
      [['transfer', '--to', hex, '--amount', '99999999999999999999', '--asset', 'STL'], /amount 99999999999999999999 outside 1\.\.2\^64-1/],
      [['issue', '--to', hex, '--amount', '1', '--asset', 'not a symbol'], /bad asset symbol/],
      [['create', '--contract', 'C', '--party', `a=${hex}`, '--party', `a=${hex}`], /names must be strictly ascending/],
      [['register', '--pubkey', hex, '--name', 'No Spaces'], /bad identity name/],
    ];
    for (const [args, message] of cases) {
      const r = await stele('tx', ...args, '--signer', key, '--url', 'http://127.0.0.1:9', '--json');
      assert.equal(r.code, 2, args.join(' '));
      const error = (JSON.parse(r.out) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'CLI_USAGE', `${args.join(' ')}: ${error.message}`);
      assert.match(error.message, new RegExp(`the transaction cannot be encoded: .*${message.source}`), args.join(' '));
      assert.doesNotMatch(r.err, /^transaction [0-9a-f]{64}/m, 'nothing was signed for sending');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tx --url is checked as audit checks it: a #fragment or ?query, which would swallow the API paths, is CLI_USAGE (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const { dir, key, hex } = setUp();
  const node = await fakeNode();
  try {
    for (const url of [`${node.url}/#here`, `${node.url}/?a=1`, `ftp://127.0.0.1:21`, 'not a url']) {
      const r = await stele('tx', 'transfer', '--to', hex, '--amount', '1', '--asset', 'STL', '--signer', key, '--url', url, '--json');
      assert.equal(r.code, 2, url);
      const error = (JSON.parse(r.out) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'CLI_USAGE', url);
      assert.match(error.message, /--url expects a node's base URL/);
    }
    assert.equal(node.posted.length, 0);
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tx --wait: an answer "pending, wait_timed_out" (the wait ended, or the node stopped) is exit 2 with the transaction to look up, not exit 0 (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const { dir, key, hex } = setUp();
  const node = await fakeNode();
  node.waitTimesOut = true;
  const args = ['tx', 'transfer', '--to', hex, '--amount', '1', '--asset', 'STL', '--signer', key, '--url', node.url];
  try {
    const json = await stele(...args, '--wait', '--json');
    assert.equal(json.code, 2, json.out + json.err);
    const doc = JSON.parse(json.out) as { ok: boolean; error: { code: string; message: string }; transaction: { id: string; expiry: number; may_have_been_admitted: boolean } };
    const id = node.posted[0]!.body.id;
    assert.equal(doc.ok, false);
    assert.equal(doc.error.code, 'COMMIT_TIMEOUT');
    assert.deepEqual(doc.transaction, { id, expiry: 57, may_have_been_admitted: true });
    assert.match(doc.error.message, new RegExp(`the wait ended before transaction ${id} was committed.* may have been admitted: look it up \\(GET ${node.url}/v1/transactions/${id}\\) or send the same one again with --expiry 57`));
    const text = await stele(...args, '--wait', '--expiry', '57');
    assert.equal(text.code, 2);
    assert.equal(text.out, '', 'nothing on stdout: it is no result');
    assert.match(text.err, new RegExp(`^stele: ${node.url}: COMMIT_TIMEOUT: the wait ended before transaction ${id} was committed`, 'm'));
    assert.equal(node.posted[1]!.body.id, id, '--expiry signed the very same transaction');
    // Without --wait, pending is what was asked for: exit 0.
    const pending = await stele(...args, '--json');
    assert.equal(pending.code, 0, pending.err);
    assert.equal((JSON.parse(pending.out) as { status: string }).status, 'pending');
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
