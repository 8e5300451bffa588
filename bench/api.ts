/**
 * bench:api: what the REST API itself costs per submitted transaction, over a node that
 * admits everything at once (so the figure is the HTTP layer: parsing, schema validation,
 * JSON or binary decoding, the canonical re-encoding, the answer), side by side:
 *
 *   json_http / binary_http  POST /v1/transactions over loopback HTTP (keep-alive fetch,
 *                            `--concurrency` requests in flight)
 *   json_inject / binary_inject  the same through fastify inject() (no sockets)
 *   json_batch_http / binary_batch_http  POST /v1/transactions/batch, 1,000 per request:
 *                            JSON forms, or length-framed canonical encodings
 *   decode_only               txFromJson alone (the floor for the JSON form)
 *
 * Sides alternate within each round; medians over `--runs` rounds. One JSON line last.
 */
import { cpus } from 'node:os';
import { frameAll } from '../api/framing.js';
import { buildApp, listen } from '../api/server.js';
import { txFromJson, txToJson } from '../api/tx-json.js';
import type { NodeView } from '../api/node-view.js';
import { devChain } from '../ledger/devnet.js';
import { signTx, type Tx } from '../ledger/tx.js';
import { arg, median, note, round } from './util.js';

const count = arg('txs', 2_000);
const runs = arg('runs', 5);
const concurrency = arg('concurrency', 16);

const chain = devChain({ label: 'bench-api', users: 2 });
const [alice, bob] = chain.users as [NonNullable<(typeof chain.users)[0]>, NonNullable<(typeof chain.users)[0]>];
const txs: Tx[] = Array.from({ length: count }, (_, i) =>
  signTx({ chainId: chain.genesis.chainId, expiry: 100, payload: { type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: BigInt(i + 1) } }, [alice]),
);
const jsonBodies = txs.map((t) => JSON.stringify(txToJson(t)));
const binaryBodies = txs.map((t) => Buffer.from(t.bytes));

let admitted = 0;
const node: NodeView = {
  chainId: chain.genesis.chainId,
  genesis: chain.genesis,
  status: () => ({ chainId: chain.genesis.chainId, validators: [], leader: 0, ballot: { round: 1, leader: 0 }, committedHeight: 0, mempoolSize: 0 }),
  submit: async (tx) => {
    admitted++;
    return { id: tx.id };
  },
  waitForCommit: async () => ({ height: 1, index: 0 }),
  transaction: () => ({ status: 'unknown' }),
  latestHeight: () => 0,
  block: () => null,
  blocks: () => [],
  blocksBytes: () => [],
  account: () => ({ balances: new Map(), identity: null, records: [], recordsTruncated: false }),
  identity: () => null,
  onCommittedBlock: () => () => undefined,
  metrics: () => [],
};

const app = buildApp(node);
const url = await listen(app, { host: '127.0.0.1', port: 0 });

async function inject(kind: 'json' | 'binary'): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/transactions',
      headers: { 'content-type': kind === 'json' ? 'application/json' : 'application/octet-stream' },
      payload: kind === 'json' ? jsonBodies[i] : binaryBodies[i],
    });
    if (r.statusCode !== 202) throw new Error(`answer ${r.statusCode}: ${r.body}`);
  }
  return (count / (performance.now() - start)) * 1000;
}

async function http(kind: 'json' | 'binary'): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const r = await fetch(`${url}/v1/transactions`, {
          method: 'POST',
          headers: { 'content-type': kind === 'json' ? 'application/json' : 'application/octet-stream' },
          body: kind === 'json' ? jsonBodies[i] : binaryBodies[i],
        });
        if (r.status !== 202) throw new Error(`answer ${r.status}: ${await r.text()}`);
        await r.arrayBuffer();
      }
    }),
  );
  return (count / (performance.now() - start)) * 1000;
}

/** POST /v1/transactions/batch in batches of 1,000 (sequential), JSON or binary bodies. */
async function batchHttp(form: 'json' | 'binary'): Promise<number> {
  const start = performance.now();
  for (let at = 0; at < count; at += 1_000) {
    const body = form === 'json' ? `{"transactions":[${jsonBodies.slice(at, at + 1_000).join(',')}]}` : frameAll(txs.slice(at, at + 1_000).map((t) => t.bytes));
    const type = form === 'json' ? 'application/json' : 'application/octet-stream';
    const r = await fetch(`${url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': type }, body });
    const answer = (await r.json()) as { accepted: number };
    if (r.status !== 200 || answer.accepted !== Math.min(1_000, count - at)) throw new Error(`batch answer ${r.status}`);
  }
  return (count / (performance.now() - start)) * 1000;
}

function decodeOnly(): number {
  const start = performance.now();
  for (const body of jsonBodies) txFromJson(JSON.parse(body));
  return (count / (performance.now() - start)) * 1000;
}

// Warm-up: JIT, connection pool.
await inject('json');
await http('json');

const sides = { json_http: () => http('json'), binary_http: () => http('binary'), json_batch_http: () => batchHttp('json'), binary_batch_http: () => batchHttp('binary'), json_inject: () => inject('json'), binary_inject: () => inject('binary'), decode_only: async () => decodeOnly() };
const rates: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
for (let r = 0; r < runs; r++) {
  for (const [name, fn] of Object.entries(sides)) (rates[name] as number[]).push(await fn());
  note(`round ${r + 1}/${runs}: ${Object.entries(rates).map(([k, v]) => `${k} ${round(v[v.length - 1] as number)}/s`).join(', ')}`);
}
await app.close();

const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)])) as Record<keyof typeof sides, number>;
const result = {
  bench: 'api',
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  runs,
  txs_per_run: count,
  http_concurrency: concurrency,
  json_http_tx_per_s: round(m.json_http),
  binary_http_tx_per_s: round(m.binary_http),
  json_batch_http_tx_per_s: round(m.json_batch_http),
  binary_batch_http_tx_per_s: round(m.binary_batch_http),
  json_inject_tx_per_s: round(m.json_inject),
  binary_inject_tx_per_s: round(m.binary_inject),
  json_decode_only_tx_per_s: round(m.decode_only),
  binary_vs_json_http_ratio: round(m.binary_http / m.json_http, 2),
  binary_vs_json_batch_ratio: round(m.binary_batch_http / m.json_batch_http, 2),
  admitted,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
