/**
 * Every route of the REST API over a real validator (node/view.ts over node/validator.ts),
 * not the stand-in node of the other API tests: the review of 2026-12-02 found `GET
 * /v1/blocks` in JSON failing on every validator for two days while the stand-in, which
 * has its own `blocks()`, passed every test. Each read route is asked in JSON and, where
 * it has one, in the binary form, after transactions committed through the API.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHex, toHex } from '../../ledger/assert.js';
import { decodeBlock } from '../../ledger/block.js';
import { devChain } from '../../ledger/devnet.js';
import { signTx, type Tx } from '../../ledger/tx.js';
import { buildApp } from '../../api/server.js';
import { txToJson } from '../../api/tx-json.js';
import { nodeView } from '../../node/view.js';
import { withLeader } from '../support/validator-cluster.js';

const chain = devChain({ label: 'api-real-node', users: 4 });
const users = chain.users;

function pay(from: number, to: number, amount: bigint): Tx {
  return signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to: users[to]!.publicKey, amount } }, [users[from]!]);
}

const BINARY = { accept: 'application/octet-stream' };

test('every route answers over a real validator, JSON and binary forms (review, 2026-12-02)', async () => {
  await withLeader(chain, {}, async ({ validators, leader }) => {
    // The API of a follower: its submissions are forwarded to the leader.
    const follower = validators[(leader + 1) % validators.length]!;
    const view = nodeView(follower, () => 'up');
    const app = buildApp(view);
    try {
      const one = pay(1, 2, 5n);
      const submitted = await app.inject({ method: 'POST', url: '/v1/transactions?wait=commit', payload: txToJson(one) });
      assert.equal(submitted.statusCode, 200, submitted.body);
      const at = submitted.json() as { id: string; status: string; height: number; index: number };
      assert.equal(at.status, 'committed');
      const batch = await app.inject({ method: 'POST', url: '/v1/transactions/batch', payload: { transactions: [txToJson(pay(2, 3, 1n)), txToJson(pay(3, 1, 1n))] } });
      assert.ok(batch.statusCode === 200 || batch.statusCode === 202, batch.body);
      const ids = (batch.json() as { results: { id: string }[] }).results.map((r) => r.id);
      assert.equal(ids.length, 2, batch.body);
      for (const id of ids) {
        const w = await app.inject({ method: 'GET', url: `/v1/transactions/${id}` });
        assert.equal(w.statusCode, 200, w.body);
      }
      // Committed before the reads below, so the latest block cannot move between the JSON
      // and the binary read of it (review of 2026-12-02).
      for (const id of ids) await view.waitForCommit(fromHex(id), 10_000);

      const status = await app.inject({ method: 'GET', url: '/v1/status' });
      assert.equal(status.statusCode, 200, status.body);
      assert.equal((status.json() as { chain_id: string }).chain_id, chain.genesis.chainId);

      const tx = await app.inject({ method: 'GET', url: `/v1/transactions/${at.id}` });
      assert.equal(tx.statusCode, 200, tx.body);
      assert.deepEqual([(tx.json() as { status: string }).status, (tx.json() as { height: number }).height], ['committed', at.height]);

      const latest = await app.inject({ method: 'GET', url: '/v1/blocks/latest' });
      assert.equal(latest.statusCode, 200, latest.body);
      const top = (latest.json() as { header: { height: number } }).header.height;
      assert.ok(top >= at.height);
      const latestBytes = await app.inject({ method: 'GET', url: '/v1/blocks/latest', headers: BINARY });
      assert.equal(latestBytes.statusCode, 200);
      assert.equal(decodeBlock(new Uint8Array(latestBytes.rawPayload)).header.height, top);

      const block = await app.inject({ method: 'GET', url: `/v1/blocks/${at.height}` });
      assert.equal(block.statusCode, 200, block.body);
      const listed = (block.json() as { transactions: { id: string }[] }).transactions.map((t) => t.id);
      assert.ok(listed.includes(at.id), block.body.slice(0, 300));
      const blockBytes = await app.inject({ method: 'GET', url: `/v1/blocks/${at.height}`, headers: BINARY });
      assert.equal(blockBytes.statusCode, 200);
      assert.equal(decodeBlock(new Uint8Array(blockBytes.rawPayload)).header.height, at.height);

      const page = await app.inject({ method: 'GET', url: '/v1/blocks?from=1&limit=100' });
      assert.equal(page.statusCode, 200, page.body);
      const heights = (page.json() as { blocks: { header: { height: number } }[] }).blocks.map((b) => b.header.height);
      assert.deepEqual(heights, Array.from({ length: heights.length }, (_, i) => i + 1));
      assert.ok(heights.length >= at.height);
      const pageBytes = await app.inject({ method: 'GET', url: '/v1/blocks?from=1&limit=100', headers: BINARY });
      assert.equal(pageBytes.statusCode, 200);
      // Framed: each encoding after its length as a big-endian u32.
      const raw = pageBytes.rawPayload;
      const framed: number[] = [];
      for (let offset = 0; offset < raw.length; ) {
        const length = raw.readUInt32BE(offset);
        framed.push(decodeBlock(new Uint8Array(raw.subarray(offset + 4, offset + 4 + length))).header.height);
        offset += 4 + length;
      }
      assert.deepEqual(framed.slice(0, heights.length), heights);

      const account = await app.inject({ method: 'GET', url: `/v1/accounts/${toHex(users[2]!.publicKey)}` });
      assert.equal(account.statusCode, 200, account.body);
      assert.ok('STL' in (account.json() as { balances: Record<string, string> }).balances, account.body);

      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(metrics.statusCode, 200);
      assert.match(metrics.body, /stele_/);
      for (const url of ['/openapi.json', '/docs', '/docs/app.js']) assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
    } finally {
      await app.close();
    }
  });
});
