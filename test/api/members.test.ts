/**
 * Members mode: signed requests by active registered identities are accepted; missing,
 * malformed, forged, stale, replayed and outsider signatures are refused with their codes,
 * before the node sees anything. Reads are open unless `signedReads`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../api/server.js';
import { MEMBERS_HEADERS, signRequest, requestMessage } from '../../api/members.js';
import { txToJson } from '../../api/tx-json.js';
import { toHex } from '../../ledger/assert.js';
import { devSigner } from '../../ledger/devnet.js';
import type { Signer } from '../../ledger/ed25519.js';
import { admin, alice, bob, chain, transfer, tx } from '../support/fixtures.js';
import { FakeNode } from './fake-node.js';

const NOW = 1_800_000_000_000;

function setup(signedReads = false) {
  const node = new FakeNode(chain);
  let clock = NOW;
  const app = buildApp(node, { members: { enabled: true, signedReads }, nowMs: () => clock });
  const send = async (method: 'GET' | 'POST', url: string, options: { body?: string; signer?: Signer; at?: number; headers?: Record<string, string>; signedBody?: string; signedUrl?: string } = {}) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const signed = options.signer === undefined ? {} : signRequest(options.signer, chain.genesis.chainId, method, options.signedUrl ?? url, options.at ?? clock, Buffer.from(options.signedBody ?? options.body ?? ''));
    const r = await app.inject({ method, url, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...signed, ...options.headers }, ...(body === undefined ? {} : { payload: body }) });
    const json = /json/.test(String(r.headers['content-type'])) ? (JSON.parse(r.body) as { error?: { code: string } } & Record<string, unknown>) : {};
    return { status: r.statusCode, json, headers: r.headers };
  };
  return { node, app, send, tick: (ms: number) => (clock += ms) };
}

const txBody = (n: bigint) => JSON.stringify(txToJson(transfer(alice, bob, n)));

test('members: a signed submission by a registered identity is accepted', async () => {
  const { node, send } = setup();
  const r = await send('POST', '/v1/transactions', { body: txBody(1n), signer: alice });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  // The signer of the request need not be the signer of the transaction: any member may relay.
  assert.equal((await send('POST', '/v1/transactions', { body: txBody(2n), signer: admin })).status, 202);
  assert.equal(node.mempool.size, 2);
});

test('members: missing, malformed, forged, stale, replayed and outsider requests are refused', async () => {
  const { node, send, tick } = setup();
  const body = txBody(3n);
  const expect = async (r: Promise<{ status: number; json: { error?: { code: string } } }>, status: number, code: string) => {
    const a = await r;
    assert.equal(a.status, status, JSON.stringify(a.json));
    assert.equal(a.json.error?.code, code);
  };
  await expect(send('POST', '/v1/transactions', { body }), 401, 'API_UNAUTHENTICATED');
  const good = signRequest(alice, chain.genesis.chainId, 'POST', '/v1/transactions', NOW, Buffer.from(body));
  for (const name of Object.values(MEMBERS_HEADERS)) {
    const partial = { ...good };
    delete partial[name];
    await expect(send('POST', '/v1/transactions', { body, headers: partial }), 401, 'API_UNAUTHENTICATED');
  }
  await expect(send('POST', '/v1/transactions', { body, headers: { ...good, [MEMBERS_HEADERS.key]: good[MEMBERS_HEADERS.key]!.toUpperCase() } }), 401, 'API_UNAUTHENTICATED');
  await expect(send('POST', '/v1/transactions', { body, headers: { ...good, [MEMBERS_HEADERS.signature]: 'ab' } }), 401, 'API_UNAUTHENTICATED');
  await expect(send('POST', '/v1/transactions', { body, headers: { ...good, [MEMBERS_HEADERS.timestamp]: '-5' } }), 401, 'API_UNAUTHENTICATED');
  // Signed over something else: another body, another path, another key, another chain.
  await expect(send('POST', '/v1/transactions', { body, signer: alice, signedBody: txBody(4n) }), 401, 'API_UNAUTHENTICATED');
  await expect(send('POST', '/v1/transactions?wait=commit&timeout_ms=1', { body, signer: alice, signedUrl: '/v1/transactions' }), 401, 'API_UNAUTHENTICATED');
  await expect(send('POST', '/v1/transactions', { body, headers: { ...good, [MEMBERS_HEADERS.key]: toHex(bob.publicKey) } }), 401, 'API_UNAUTHENTICATED');
  const otherChain = alice.sign(requestMessage('other-chain', 'POST', '/v1/transactions', NOW, Buffer.from(body)));
  await expect(send('POST', '/v1/transactions', { body, headers: { ...good, [MEMBERS_HEADERS.signature]: toHex(otherChain) } }), 401, 'API_UNAUTHENTICATED');
  // Outside the 30 s window, either side.
  await expect(send('POST', '/v1/transactions', { body, signer: alice, at: NOW - 30_001 }), 401, 'API_STALE_REQUEST');
  await expect(send('POST', '/v1/transactions', { body, signer: alice, at: NOW + 30_001 }), 401, 'API_STALE_REQUEST');
  // Not a registered identity.
  await expect(send('POST', '/v1/transactions', { body, signer: devSigner('stranger') }), 403, 'API_NOT_MEMBER');
  assert.equal(node.mempool.size, 0, 'no refused request reached the mempool');
  assert.equal(node.submitted, 0, 'no refused request reached the node');
  // Accepted once, then the same signed request is a replay, even after the transaction is gone.
  assert.equal((await send('POST', '/v1/transactions', { body, headers: good })).status, 202);
  await expect(send('POST', '/v1/transactions', { body, headers: good }), 401, 'API_REPLAYED');
  tick(31_000);
  await expect(send('POST', '/v1/transactions', { body, headers: good }), 401, 'API_STALE_REQUEST');
});

test('members: a revoked identity is refused', async () => {
  const { node, send } = setup();
  assert.equal((await send('POST', '/v1/transactions', { body: JSON.stringify(txToJson(tx({ type: 'revoke', publicKey: bob.publicKey }, [admin]))), signer: admin })).status, 202);
  node.commit();
  const r = await send('POST', '/v1/transactions', { body: txBody(5n), signer: bob });
  assert.equal(r.status, 403);
  assert.equal(r.json.error?.code, 'API_NOT_MEMBER');
});

test('members: reads are open by default; signedReads closes them, documentation stays open', async () => {
  const open = setup(false);
  assert.equal((await open.send('GET', '/v1/status')).status, 200);
  assert.equal((await open.send('GET', '/metrics')).status, 200);
  const closed = setup(true);
  const r = await closed.send('GET', '/v1/status');
  assert.equal(r.status, 401);
  assert.equal(r.json.error?.code, 'API_UNAUTHENTICATED');
  assert.equal((await closed.send('GET', '/v1/status', { signer: alice })).status, 200);
  assert.equal((await closed.send('GET', `/v1/accounts/${toHex(alice.publicKey)}`, { signer: bob })).status, 200);
  assert.equal((await closed.send('GET', '/v1/status', { signer: devSigner('stranger') })).status, 403);
  for (const url of ['/openapi.json', '/docs', '/docs/app.js']) assert.equal((await closed.send('GET', url)).status, 200, url);
  // Unknown routes are 404 whatever the mode (nothing to protect).
  assert.equal((await closed.send('GET', '/nope')).status, 404);
  const doc = (await closed.send('GET', '/openapi.json')).json as { paths: Record<string, Record<string, { security?: unknown }>> };
  assert.ok(doc.paths['/v1/transactions']?.post?.security !== undefined, 'OpenAPI marks signed operations');
  // With signedReads the reads say so too (review, 2026-12-02), the documentation routes not;
  // without it, only the POSTs.
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const docRoute = ['/openapi.json', '/docs', '/docs/app.js'].includes(path);
      assert.equal(operation.security !== undefined, !docRoute, `${method} ${path} with signedReads`);
    }
  }
  assert.ok(doc.paths['/v1/status']?.get?.security !== undefined);
  const openDoc = (await open.send('GET', '/openapi.json')).json as { paths: Record<string, Record<string, { security?: unknown }>> };
  for (const [path, methods] of Object.entries(openDoc.paths)) {
    for (const [method, operation] of Object.entries(methods)) assert.equal(operation.security !== undefined, method === 'post', `${method} ${path} without signedReads`);
  }
});

test('members: the replay memory is bounded and forgets what left the window', async () => {
  const { ReplayGuard } = await import('../../api/members.js');
  const guard = new ReplayGuard(1_000, 3);
  const entry = (n: number, at: number) => ({ publicKey: alice.publicKey, signatureHex: n.toString(16).padStart(128, '0'), timestampMs: at });
  guard.admit(entry(1, 0), 0);
  guard.admit(entry(2, 0), 0);
  guard.admit(entry(3, 0), 0);
  assert.throws(() => guard.admit(entry(1, 0), 0), /API_REPLAYED/);
  assert.throws(() => guard.admit(entry(4, 0), 0), /API_BUSY/);
  // Once the first three are out of the window they are forgotten and room returns.
  guard.admit(entry(4, 2_500), 2_500);
  assert.equal(guard.size, 1);
});
