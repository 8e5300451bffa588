/**
 * `stele audit --compare URL...` against in-process API servers (test/api/fake-node.ts)
 * serving real signed and certified chains: replicas that agree (also with other quorum
 * certificates, and a shorter replica), one that forks, one that serves a bad certificate,
 * an unreachable one; and the progress bar (never on a pipe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, listen } from '../../api/server.js';
import { SteleClient } from '../../api/client.js';
import { frameAll } from '../../api/framing.js';
import { toHex } from '../../ledger/assert.js';
import { keyPairFromSeed } from '../../ledger/ed25519.js';
import { sha256 } from '../../ledger/hash.js';
import { keyFileText } from '../../cli/io.js';
import { signVote, withCertificate } from '../../ledger/block.js';
import { genesisToJson } from '../../ledger/genesis.js';
import { devChain } from '../../ledger/devnet.js';
import { progressBar, progressLine } from '../../cli/progress.js';
import { FakeNode } from '../api/fake-node.js';
import { alice, bob, carol, chain, transfer } from '../support/fixtures.js';
import { endless } from '../support/http-fuzz.js';
import { stele } from '../support/cli-run.js';



/** A node that commits `heights` blocks; block h holds a transfer of h (or of h + 100 from `forkAt` on). */
function node(heights: number, forkAt = Infinity): FakeNode {
  const n = new FakeNode(chain);
  for (let h = 1; h <= heights; h++) {
    void n.submit(transfer(alice, h % 2 === 0 ? bob : carol, BigInt(h >= forkAt ? h + 100 : h), 60));
    n.commit();
  }
  return n;
}

interface Report {
  valid: boolean;
  height: number;
  first_error: { height: number; code: string; message: string } | null;
  compare: Array<{ url: string; height: number; common_height: number; agrees: boolean; first_difference: { height: number; code: string; message: string } | null }>;
}

test('audit --compare: agreeing replicas pass; a fork, a bad certificate and a short answer are named by URL and first height', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-compare-'));
  const genesis = join(dir, 'genesis.json');
  writeFileSync(genesis, JSON.stringify(genesisToJson(chain.genesis)));
  const main = node(6);
  const same = node(6);
  // Same blocks, another quorum in every certificate: still the same chain.
  same.committed.forEach((b, i) => {
    same.committed[i] = withCertificate(b, [signVote(chain.validators[1]!, 1, b), signVote(chain.validators[2]!, 2, b)]);
  });
  const shorter = node(4);
  const longer = node(8);
  const fork = node(6, 4);
  const badCertificate = node(6);
  const fifth = badCertificate.committed[4]!;
  const vote = fifth.certificate[1]!;
  const flipped = Uint8Array.from(vote.signature);
  flipped[3] = (flipped[3] as number) ^ 1;
  badCertificate.committed[4] = withCertificate(fifth, [fifth.certificate[0]!, { validator: vote.validator, signature: flipped }]);
  const apps = [main, same, shorter, longer, fork, badCertificate].map((n) => buildApp(n));
  try {
    const [mainUrl, sameUrl, shortUrl, longUrl, forkUrl, badUrl] = await Promise.all(apps.map((app) => listen(app, { port: 0 })));
    const audit = async (...args: string[]) => {
      const r = await stele('audit', '--url', mainUrl!, '--genesis', genesis, '--json', ...args);
      return { code: r.code, report: JSON.parse(r.out) as Report, err: r.err };
    };

    const agree = await audit('--compare', sameUrl!, '--compare', shortUrl!, '--compare', longUrl!);
    assert.equal(agree.code, 0, agree.err);
    assert.equal(agree.report.valid, true);
    assert.deepEqual(
      agree.report.compare.map((c) => [c.url, c.height, c.common_height, c.agrees, c.first_difference]),
      [[sameUrl, 6, 6, true, null], [shortUrl, 4, 4, true, null], [longUrl, 8, 6, true, null]],
    );
    // No progress bar on a pipe.
    assert.ok(!agree.err.includes('\r'), 'no progress bar when stderr is not a terminal');
    assert.deepEqual((await audit()).report.compare, [], 'the field is there without --compare');

    const forked = await audit('--compare', sameUrl!, '--compare', forkUrl!);
    assert.equal(forked.code, 1);
    assert.equal(forked.report.valid, false, 'the audited chain itself is fine, the replicas are not');
    assert.equal(forked.report.height, 6);
    assert.deepEqual([forked.report.first_error?.height, forked.report.first_error?.code], [4, 'AUDIT_REPLICA_MISMATCH']);
    assert.match(forked.report.first_error!.message, new RegExp(`${forkUrl}.*block 4`));
    assert.deepEqual(forked.report.compare.map((c) => [c.agrees, c.first_difference?.height ?? null, c.first_difference?.code ?? null]), [[true, null, null], [false, 4, 'AUDIT_REPLICA_MISMATCH']]);

    const bad = await audit('--compare', badUrl!, '--compare', forkUrl!);
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.report.compare.map((c) => [c.first_difference?.height, c.first_difference?.code]), [[5, 'BLOCK_BAD_CERTIFICATE'], [4, 'AUDIT_REPLICA_MISMATCH']]);
    assert.deepEqual([bad.report.first_error?.height, bad.report.first_error?.code], [4, 'AUDIT_REPLICA_MISMATCH'], 'the earliest difference is the first error');

    // The other way round: the forked node audits fine on its own, the main one differs from it at 4.
    const reverse = await stele('audit', '--url', forkUrl!, '--genesis', genesis, '--compare', mainUrl!);
    assert.equal(reverse.code, 1);
    assert.match(reverse.out, /INVALID at block 4: AUDIT_REPLICA_MISMATCH/);
    assert.match(reverse.out, new RegExp(`DIFFERS: ${mainUrl} at block 4`));

    // A chain file compared with live nodes.
    const file = join(dir, 'chain.stele');
    assert.equal((await stele('export', '--url', mainUrl!, '--out', file)).code, 0);
    const fromFile = await stele('audit', file, '--genesis', genesis, '--compare', sameUrl!);
    assert.equal(fromFile.code, 0, fromFile.err);
    assert.match(fromFile.out, new RegExp(`agrees: ${sameUrl}`));

    // Usage and I/O: a URL that is not one, too many, and a node that does not answer.
    assert.equal((await audit('--compare', 'ftp://x')).code, 2);
    assert.equal((await stele('audit', file, '--genesis', genesis, '--compare', 'not a url')).code, 2);
    assert.equal((await stele('audit', file, '--genesis', genesis, ...Array.from({ length: 17 }, () => ['--compare', sameUrl!]).flat())).code, 2);
    const closed = buildApp(node(1));
    const closedUrl = await listen(closed, { port: 0 });
    await closed.close();
    const unreachable = await stele('audit', file, '--genesis', genesis, '--compare', closedUrl, '--json');
    assert.equal(unreachable.code, 2);
    assert.equal((JSON.parse(unreachable.out) as { error: { code: string } }).error.code, 'CLI_IO');
    // A node whose status is not a block count is refused, not compared over nothing.
    const liar = http.createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chain_id: chain.genesis.chainId, committed_height: 'lots' })));
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', () => resolve()));
    try {
      const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
      const lied = await stele('audit', file, '--genesis', genesis, '--compare', liarUrl, '--json');
      assert.equal(lied.code, 2, lied.out);
      const error = (JSON.parse(lied.out) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'CLI_IO');
      assert.match(error.message, /committed_height "lots", not a block count/);
    } finally {
      liar.close();
    }
  } finally {
    await Promise.all(apps.map((app) => app.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress bar: drawn on a terminal with done/total and rate, throttled, cleared; silent on a pipe, with --json or NO_COLOR', () => {
  const written: string[] = [];
  let now = 0;
  const tty = { isTTY: true, columns: 60, write: (s: string) => written.push(s) };
  const bar = progressBar('blocks', 1000, { stream: tty, env: {}, nowMs: () => now });
  now = 1000;
  bar.update(250);
  assert.equal(written.length, 1);
  assert.match(written[0]!, /^\r\[#+\.+\] 250\/1000 blocks 250\/s\x1b\[K$/);
  now = 1050;
  bar.update(260); // within the redraw interval: not drawn
  assert.equal(written.length, 1);
  now = 1060;
  bar.update(1000); // the last one always is
  assert.match(written[1]!, /\[#+\] 1000\/1000/);
  bar.finish();
  assert.equal(written.at(-1), '\r\x1b[K');
  assert.ok(written.every((s) => s.replace(/\x1b\[K/g, '').length <= 61), 'fits the terminal width');

  for (const silent of [
    progressBar('blocks', 10, { stream: { isTTY: false, write: (s: string) => written.push(s) }, env: {} }),
    progressBar('blocks', 10, { stream: tty, quiet: true, env: {} }),
    progressBar('blocks', 10, { stream: tty, env: { NO_COLOR: '1' } }),
  ]) {
    const before: number = written.length;
    silent.update(5);
    silent.update(10);
    silent.finish();
    assert.equal(written.length, before);
  }
  // A narrow terminal drops the bar and keeps the numbers.
  assert.equal(progressLine('blocks', 5, 10, 1, 22), '5/10 blocks 5.0/s');
  assert.equal(progressLine('blocks', 0, 0, 0, 80).includes('0/0'), true);
});

/** A plain HTTP server on loopback (for answers no Stele node gives). */
async function serveRaw(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('export --url refuses a node whose blocks do not follow each other (a page served twice, another parent); nothing is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-export-'));
  const main = node(3);
  const other = node(3, 1); // another chain from block 1 on
  const page = (blocks: Uint8Array[]) => Buffer.from(frameAll(blocks));
  const status = JSON.stringify({ chain_id: chain.genesis.chainId, committed_height: 3 });
  const serve = (blocksFrom: (from: number) => Uint8Array[]) =>
    serveRaw((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v1/status') res.writeHead(200, { 'content-type': 'application/json' }).end(status);
      else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(page(blocksFrom(Number(url.searchParams.get('from')))));
    });
  const repeater = await serve(() => [main.committed[0]!.bytes]);
  const stranger = await serve((from) => (from === 1 ? [main.committed[0]!.bytes] : [other.committed[1]!.bytes, other.committed[2]!.bytes]));
  try {
    const out = join(dir, 'chain.stele');
    const repeated = await stele('export', '--url', repeater.url, '--out', out, '--json');
    assert.equal(repeated.code, 2, repeated.err);
    assert.equal(JSON.parse(repeated.out).error.code, 'CLI_IO');
    assert.match(JSON.parse(repeated.out).error.message, /served block 1 where block 2 belongs/);
    const unparented = await stele('export', '--url', stranger.url, '--out', out, '--json');
    assert.equal(unparented.code, 2, unparented.err);
    assert.match(JSON.parse(unparented.out).error.message, /block 2 does not follow block 1: its previous hash is [0-9a-f]{64}/);
    assert.deepEqual(readdirSync(dir), [], 'no file, no temporary file');
  } finally {
    await repeater.close();
    await stranger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit, export and tx against a node whose answers never end: a bounded read, CLI_IO or CLIENT_BAD_ANSWER, exit 2', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-endless-'));
  const genesis = join(dir, 'genesis.json');
  writeFileSync(genesis, JSON.stringify(genesisToJson(chain.genesis)));
  const key = join(dir, 'alice.key');
  writeFileSync(key, aliceKeyFile(), { mode: 0o600 });
  const endlessStatus = await serveRaw((_, res) => endless(res, 200, 'application/json'));
  const endlessBlocks = await serveRaw((req, res) => {
    if (req.url === '/v1/status') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chain_id: chain.genesis.chainId, committed_height: 1 }));
    else endless(res, 200, 'application/octet-stream');
  });
  const endlessError = await serveRaw((_, res) => endless(res, 500, 'application/json'));
  try {
    const audited = await stele('audit', '--url', endlessStatus.url, '--genesis', genesis, '--json');
    assert.equal(audited.code, 2, audited.err);
    assert.equal(JSON.parse(audited.out).error.code, 'CLI_IO');
    assert.match(JSON.parse(audited.out).error.message, /CLIENT_BAD_ANSWER: an answer of more than 67108864 bytes/);
    const exported = await stele('export', '--url', endlessBlocks.url, '--out', join(dir, 'x.stele'), '--json');
    assert.equal(exported.code, 2, exported.err);
    assert.match(JSON.parse(exported.out).error.message, /CLIENT_BAD_ANSWER: a page of blocks of more than \d+ bytes/);
    const auditedBlocks = await stele('audit', '--url', endlessBlocks.url, '--genesis', genesis, '--json');
    assert.equal(auditedBlocks.code, 2, auditedBlocks.err);
    for (const url of [endlessStatus.url, endlessError.url]) {
      const tx = await stele('tx', 'transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--url', url, '--json');
      assert.equal(tx.code, 2, tx.err);
      assert.equal(JSON.parse(tx.out).error.code, 'CLIENT_BAD_ANSWER');
    }
  } finally {
    await Promise.all([endlessStatus, endlessBlocks, endlessError].map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});

/** alice's key file (fixtures: devSigner('tests:user:1')). */
function aliceKeyFile(): string {
  const pair = keyPairFromSeed(sha256(new TextEncoder().encode('stele-dev:tests:user:1')));
  assert.equal(toHex(pair.publicKey), toHex(alice.publicKey));
  return keyFileText(pair);
}

/** alice's key file in a new directory, and a members-mode server over a stand-in node that commits whatever is pending. */
function membersSetUp(prefix: string, signedReads: boolean) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const key = join(dir, 'alice.key');
  writeFileSync(key, aliceKeyFile(), { mode: 0o600 });
  const n = new FakeNode(chain);
  const app = buildApp(n, { members: { enabled: true, signedReads } });
  const timer = setInterval(() => {
    if (n.mempool.size > 0) n.commit();
  }, 5);
  return { dir, key, app, timer };
}

test('tx against members mode: signed requests; exit 0 admitted, 1 refused by the ledger, 2 for 403 and 404; --blob hashes the file', { timeout: 120_000 }, async () => {
  const { dir, key, app, timer } = membersSetUp('stele-tx-', false);
  try {
    const url = await listen(app, { host: '127.0.0.1', port: 0 });
    const tx = async (...args: string[]) => {
      const r = await stele('tx', ...args, '--url', url, '--json');
      return { code: r.code, doc: JSON.parse(r.out) as { status?: string; error?: { code: string } }, err: r.err };
    };
    const transfer1 = await tx('transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--wait');
    assert.equal(transfer1.code, 0, JSON.stringify(transfer1));
    assert.equal(transfer1.doc.status, 'committed');
    // A refusal of the ledger: exit 1 with its code.
    const refused = await tx('transfer', '--to', toHex(bob.publicKey), '--amount', '10000000000000000000', '--asset', 'STL', '--signer', key);
    assert.deepEqual([refused.code, refused.doc.error?.code], [1, 'TX_INSUFFICIENT_BALANCE']);
    // Not judged at all: a signer that is no member (403), a URL with no API (404).
    const stranger = join(dir, 'stranger.key');
    assert.equal((await stele('keygen', '--out', stranger)).code, 0);
    const notMember = await tx('transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', stranger);
    assert.deepEqual([notMember.code, notMember.doc.error?.code], [2, 'API_NOT_MEMBER']);
    // --chain-id of another chain, where reads are open: checked against the node's.
    const otherChain = await tx('transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--chain-id', 'another-chain');
    assert.deepEqual([otherChain.code, otherChain.doc.error?.code], [2, 'CLI_USAGE'], JSON.stringify(otherChain));
    const r404 = await stele('tx', 'transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--url', `${url}/nowhere`, '--json');
    assert.equal(r404.code, 2, r404.out);
    assert.equal(JSON.parse(r404.out).error.code, 'API_NOT_FOUND');
    // --blob: a file larger than one read, anchored by its SHA-256.
    const blob = join(dir, 'blob.bin');
    const content = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
    writeFileSync(blob, content);
    const put = await tx('put', '--key', 'doc', '--blob', blob, '--signer', key, '--wait');
    assert.equal(put.code, 0, JSON.stringify(put));
    const account = await new SteleClient({ url }).account(alice.publicKey);
    const record = account.records.find((r) => r.key === 'doc');
    assert.deepEqual(record?.value, { kind: 'sha256', digest: createHash('sha256').update(content).digest('hex') });
  } finally {
    clearInterval(timer);
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tx against members mode with signed reads: --chain-id signs the first read too; without it the refusal says to give it; a wrong one is CLI_USAGE (review of the docs, 2026-12-02)', { timeout: 120_000 }, async () => {
  const { dir, key, app, timer } = membersSetUp('stele-tx-signed-reads-', true);
  try {
    const url = await listen(app, { host: '127.0.0.1', port: 0 });
    const tx = async (...args: string[]) => {
      const r = await stele('tx', 'transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--url', url, '--json', ...args);
      return { code: r.code, doc: JSON.parse(r.out) as { status?: string; error?: { code: string; message: string } }, err: r.err };
    };
    const without = await tx();
    assert.deepEqual([without.code, without.doc.error?.code], [2, 'API_UNAUTHENTICATED'], JSON.stringify(without));
    assert.match(without.doc.error?.message ?? '', /give its chain id with --chain-id/);
    const withId = await tx('--chain-id', chain.genesis.chainId, '--wait');
    assert.equal(withId.code, 0, JSON.stringify(withId));
    assert.equal(withId.doc.status, 'committed');
    const bad = await stele('tx', 'transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--url', url, '--chain-id', 'Not A Chain');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /CLI_USAGE.*--chain-id expects a chain id/);
    // Another chain's id: its signature does not verify here (401), so the node says so first.
    const other = await tx('--chain-id', 'another-chain');
    assert.deepEqual([other.code, other.doc.error?.code], [2, 'API_UNAUTHENTICATED'], JSON.stringify(other));
  } finally {
    clearInterval(timer);
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tx, found in review: success answers of the wrong shape are CLIENT_BAD_ANSWER (exit 2), never signed from or reported as accepted', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-tx-shape-'));
  const key = join(dir, 'alice.key');
  writeFileSync(key, aliceKeyFile(), { mode: 0o600 });
  const good = { chain_id: chain.genesis.chainId, committed_height: 7 };
  const cases: Array<{ status: unknown; submit?: [number, unknown]; message: RegExp }> = [
    { status: {}, message: /chain_id undefined, not a chain id/ },
    { status: null, message: /\/v1\/status answered null, not an object/ },
    { status: { ...good, committed_height: '7' }, message: /committed_height "7", not a block count/ },
    { status: { ...good, committed_height: -1 }, message: /committed_height -1, not a block count/ },
    { status: good, submit: [202, {}], message: /answered with id undefined, not a transaction id/ },
    { status: good, submit: [202, { id: 'ab'.repeat(32), status: 'pending' }], message: /the node answered about transaction (ab){32}, not [0-9a-f]{64}/ },
    { status: good, submit: [200, { id: 'SENT', status: 'committed' }], message: /answered committed without a height and index/ },
    { status: good, submit: [202, { id: 'SENT', status: 'accepted' }], message: /with status "accepted", neither pending nor committed/ },
    { status: good, submit: [503, null], message: /HTTP 503 without an error code/ },
  ];
  let posts = 0;
  let current = cases[0]!;
  const server = await serveRaw((req, res) => {
    if (req.url === '/v1/status') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current.status));
    posts++;
    const [status, body] = current.submit ?? [500, { error: { code: 'API_INTERNAL', message: 'not expected' } }];
    let sent = '';
    req.on('data', (chunk: Buffer) => (sent += chunk.toString()));
    req.on('end', () => {
      // id SENT: an answer about the very transaction sent.
      const answer = (body as { id?: unknown } | null)?.id === 'SENT' ? { ...(body as object), id: (JSON.parse(sent) as { id: string }).id } : body;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  try {
    for (const c of cases) {
      current = c;
      const before = posts;
      const r = await stele('tx', 'transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--url', server.url, '--json');
      assert.equal(r.code, 2, `${JSON.stringify(c)}: ${r.out}${r.err}`);
      const error = (JSON.parse(r.out) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'CLIENT_BAD_ANSWER', JSON.stringify(c));
      assert.match(error.message, c.message);
      assert.equal(posts - before, c.submit === undefined ? 0 : 1, 'nothing is submitted on a bad status');
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tx, found in review: the id goes out before the request; after a dropped submission it says the transaction may be in, and --expiry H signs the very same one again', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-tx-retry-'));
  const key = join(dir, 'alice.key');
  writeFileSync(key, aliceKeyFile(), { mode: 0o600 });
  let height = 7;
  const posted: Array<{ id: string; expiry: number }> = [];
  // The chain moves on between runs; every submission's connection drops unanswered.
  const server = await serveRaw((req, res) => {
    if (req.url === '/v1/status') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chain_id: chain.genesis.chainId, committed_height: height }));
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      posted.push(JSON.parse(body) as { id: string; expiry: number });
      height++;
      req.socket.destroy();
    });
  });
  const args = ['tx', 'transfer', '--to', toHex(bob.publicKey), '--amount', '1', '--asset', 'STL', '--signer', key, '--url', server.url];
  try {
    const first = await stele(...args, '--json');
    assert.equal(first.code, 2, first.err);
    const doc = JSON.parse(first.out) as { ok: boolean; error: { code: string; message: string }; transaction: { id: string; expiry: number; may_have_been_admitted: boolean } };
    assert.equal(doc.error.code, 'CLI_IO');
    assert.deepEqual(doc.transaction, { id: posted[0]!.id, expiry: 57, may_have_been_admitted: true });
    assert.match(doc.error.message, new RegExp(`transaction ${posted[0]!.id} may have been admitted: .* --expiry 57`));
    assert.match(first.err, new RegExp(`^transaction ${posted[0]!.id}, expiry 57 \\(to send this same transaction again: --expiry 57\\)$`, 'm'));
    // A rerun with --expiry-in (the default) makes another transaction: the chain moved on.
    const again = await stele(...args);
    assert.equal(again.code, 2);
    assert.match(again.err, /may have been admitted/);
    assert.notEqual(posted[1]!.id, posted[0]!.id);
    // With --expiry, the very same one.
    const same = await stele(...args, '--expiry', '57');
    assert.equal(same.code, 2);
    assert.deepEqual(posted[2], posted[0]);
    // Usage: both expiry flags, or a height that is not one.
    for (const extra of [['--expiry', '57', '--expiry-in', '5'], ['--expiry', '0'], ['--expiry', '5x'], ['--expiry', '1234567890123456']]) {
      const r = await stele(...args, ...extra, '--json');
      assert.equal(r.code, 2, extra.join(' '));
      assert.equal(JSON.parse(r.out).error.code, 'CLI_USAGE', extra.join(' '));
    }
    assert.equal(posted.length, 3);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A node that reports `reported` committed blocks but serves only the first `served` of `source`'s (?from= past them: an empty page). */
function shortNode(source: FakeNode, reported: number, served: number, status: object = {}): Promise<{ url: string; close: () => Promise<void> }> {
  return serveRaw((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/status') {
      const answer = { chain_id: chain.genesis.chainId, genesis_hash: toHex(chain.genesis.hash), committed_height: reported, ...status };
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    }
    const from = Number(url.searchParams.get('from'));
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const page = source.committed.slice(from - 1, Math.min(served, from - 1 + limit)).map((b) => b.bytes);
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(frameAll(page)));
  });
}

test('audit --compare, found in review: a node that serves fewer blocks than it reports is AUDIT_REPLICA_MISMATCH at the first one missing (exit 1), the rest of the report intact', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-compare-short-'));
  const genesis = join(dir, 'genesis.json');
  writeFileSync(genesis, JSON.stringify(genesisToJson(chain.genesis)));
  const main = node(6);
  const apps = [main, node(6)].map((n) => buildApp(n));
  const short = await shortNode(main, 6, 3);
  try {
    const [mainUrl, sameUrl] = await Promise.all(apps.map((app) => listen(app, { port: 0 })));
    const r = await stele('audit', '--url', mainUrl!, '--genesis', genesis, '--json', '--compare', sameUrl!, '--compare', short.url);
    assert.equal(r.code, 1, r.out + r.err);
    const report = JSON.parse(r.out) as Report;
    assert.deepEqual([report.valid, report.height, report.first_error?.height, report.first_error?.code], [false, 6, 4, 'AUDIT_REPLICA_MISMATCH']);
    assert.deepEqual(
      report.compare.map((c) => [c.url, c.height, c.common_height, c.agrees, c.first_difference?.height ?? null, c.first_difference?.code ?? null]),
      [[sameUrl, 6, 6, true, null, null], [short.url, 6, 6, false, 4, 'AUDIT_REPLICA_MISMATCH']],
    );
    assert.match(report.compare[1]!.first_difference!.message, /reports height 6 but served only 3 blocks/);
    // Text: an agreeing node is shown as when all agree (the short form read as "the audited chain is invalid").
    const text = await stele('audit', '--url', mainUrl!, '--genesis', genesis, '--compare', sameUrl!, '--compare', short.url);
    assert.equal(text.code, 1);
    assert.match(text.out, /^INVALID at block 4: AUDIT_REPLICA_MISMATCH: /);
    assert.ok(text.out.includes(`agrees: ${sameUrl} (blocks 1..6 of its 6)\n`), text.out);
    assert.ok(text.out.includes(`DIFFERS: ${short.url} at block 4: AUDIT_REPLICA_MISMATCH: the replica reports height 6 but served only 3 blocks\n`), text.out);
    // Audited or exported on its own, that node cannot be read whole: CLI_IO (exit 2), as before.
    const alone = await stele('audit', '--url', short.url, '--genesis', genesis, '--json');
    assert.equal(alone.code, 2, alone.out);
    assert.match((JSON.parse(alone.out) as { error: { message: string } }).error.message, /served no block at height 4/);
    assert.equal((await stele('export', '--url', short.url, '--out', join(dir, 'short.stele'))).code, 2);
  } finally {
    await short.close();
    await Promise.all(apps.map((app) => app.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit --compare, found in review: a node of another chain (chain id or genesis hash in /v1/status) is AUDIT_REPLICA_MISMATCH at height 1, even at height 0', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-compare-chain-'));
  const genesis = join(dir, 'genesis.json');
  writeFileSync(genesis, JSON.stringify(genesisToJson(chain.genesis)));
  const main = node(3);
  // Same chain id (stele-dev), another genesis; no block committed, so nothing to compare by hash.
  const otherGenesis = new FakeNode(devChain({ label: 'other', users: 6, assets: ['STL', 'EUR'] }));
  assert.equal(otherGenesis.chain.genesis.chainId, chain.genesis.chainId);
  const apps = [main, otherGenesis, node(3)].map((n) => buildApp(n));
  // The audited genesis hash, another chain id; the blocks are the audited ones.
  const otherId = await shortNode(main, 3, 3, { chain_id: 'stele-other' });
  try {
    const [mainUrl, otherUrl, sameUrl] = await Promise.all(apps.map((app) => listen(app, { port: 0 })));
    const r = await stele('audit', '--url', mainUrl!, '--genesis', genesis, '--json', '--compare', otherUrl!, '--compare', otherId.url, '--compare', sameUrl!);
    assert.equal(r.code, 1, r.out + r.err);
    const report = JSON.parse(r.out) as Report;
    assert.deepEqual([report.valid, report.height, report.first_error?.height, report.first_error?.code], [false, 3, 1, 'AUDIT_REPLICA_MISMATCH']);
    assert.deepEqual(
      report.compare.map((c) => [c.url, c.height, c.common_height, c.agrees, c.first_difference?.height ?? null, c.first_difference?.code ?? null]),
      [
        [otherUrl, 0, 0, false, 1, 'AUDIT_REPLICA_MISMATCH'],
        [otherId.url, 3, 0, false, 1, 'AUDIT_REPLICA_MISMATCH'],
        [sameUrl, 3, 3, true, null, null],
      ],
    );
    assert.match(report.compare[0]!.first_difference!.message, new RegExp(`genesis ${toHex(otherGenesis.chain.genesis.hash)}.*audited chain is stele-dev with genesis ${toHex(chain.genesis.hash)}`));
    assert.match(report.compare[1]!.first_difference!.message, /on chain stele-other with genesis/);
    assert.match(report.first_error!.message, new RegExp(`${otherUrl}, ${otherId.url} disagree`));
  } finally {
    await otherId.close();
    await Promise.all(apps.map((app) => app.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
