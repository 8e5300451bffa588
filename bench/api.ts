/**
 * bench:api: what the REST API costs per submitted transaction, over a node that admits
 * everything at once (so the server's part is the HTTP layer: parsing, schema validation,
 * JSON or binary decoding, the canonical re-encoding, the answer), side by side:
 *
 *   json_http / binary_http  POST /v1/transactions over loopback HTTP (HttpLite, the lean
 *                            node:http client every benchmark uses, with keep-alive and
 *                            `--concurrency` requests in flight)
 *   json_inject / binary_inject  the same through fastify inject() (no sockets)
 *   json_batch_http / binary_batch_http  POST /v1/transactions/batch, 1,000 per request:
 *                            JSON forms, or length-framed canonical encodings
 *   decode_only               txFromJson alone (the floor for the JSON form)
 *
 * The client runs in the server's process, so the HTTP figures include the client's own
 * CPU (HttpLite's, a fraction of fetch's; bench/http-lite.ts) as well as the API's.
 *
 * Every side runs once unmeasured first. Then in each of `--runs` rounds the order rotates:
 * the four groups (single HTTP, batch HTTP, inject, decode) start one later each round, and
 * within each pair the JSON and binary sides alternate which goes first. Rates are medians
 * over the rounds; the binary/JSON ratios are medians of the per-round ratios. The server
 * must have admitted exactly every transaction sent. One JSON line last.
 */
import { cpus } from 'node:os';
import { frameAll } from '../api/framing.js';
import { buildApp, listen } from '../api/server.js';
import { txFromJson, txToJson } from '../api/tx-json.js';
import type { NodeView } from '../api/node-view.js';
import { devChain } from '../ledger/devnet.js';
import { signTx, type Tx } from '../ledger/tx.js';
import { HttpLite } from './http-lite.js';
import { arg, median, note, round } from './util.js';

const count = arg('txs', 2_000);
const runs = arg('runs', 5);
const concurrency = arg('concurrency', 16);

const chain = devChain({ label: 'bench-api', users: 2 });
const [alice, bob] = chain.users as [NonNullable<(typeof chain.users)[0]>, NonNullable<(typeof chain.users)[0]>];
const txs: Tx[] = Array.from({ length: count }, (_, i) =>
  signTx({ chainId: chain.genesis.chainId, expiry: 100, payload: { type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: BigInt(i + 1) } }, [alice]),
);
const jsonTexts = txs.map((t) => JSON.stringify(txToJson(t)));
const jsonBodies = jsonTexts.map((text) => Buffer.from(text));
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
const client = new HttpLite(concurrency);
const TYPE = { json: 'application/json', binary: 'application/octet-stream' } as const;

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
        const r = await client.post(`${url}/v1/transactions`, TYPE[kind], (kind === 'json' ? jsonBodies[i] : binaryBodies[i]) as Buffer);
        if (r.status !== 202) throw new Error(`answer ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
      }
    }),
  );
  return (count / (performance.now() - start)) * 1000;
}

/** POST /v1/transactions/batch in batches of 1,000 (sequential), JSON or binary bodies. */
async function batchHttp(form: 'json' | 'binary'): Promise<number> {
  const start = performance.now();
  for (let at = 0; at < count; at += 1_000) {
    const body = form === 'json' ? Buffer.from(`{"transactions":[${jsonTexts.slice(at, at + 1_000).join(',')}]}`) : frameAll(txs.slice(at, at + 1_000).map((t) => t.bytes));
    const r = await client.post(`${url}/v1/transactions/batch`, TYPE[form], body);
    if (r.status !== 200) throw new Error(`batch answer ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    const answer = JSON.parse(r.body.toString('utf8')) as { accepted: number };
    if (answer.accepted !== Math.min(1_000, count - at)) throw new Error(`batch answer: ${answer.accepted} accepted of ${Math.min(1_000, count - at)}`);
  }
  return (count / (performance.now() - start)) * 1000;
}

function decodeOnly(): number {
  const start = performance.now();
  for (const text of jsonTexts) txFromJson(JSON.parse(text));
  return (count / (performance.now() - start)) * 1000;
}

const sides = {
  json_http: () => http('json'),
  binary_http: () => http('binary'),
  json_batch_http: () => batchHttp('json'),
  binary_batch_http: () => batchHttp('binary'),
  json_inject: () => inject('json'),
  binary_inject: () => inject('binary'),
  decode_only: async () => decodeOnly(),
};
type SideName = keyof typeof sides;
/** Sides measured next to each other; a pair's two sides alternate which goes first. */
const groups: SideName[][] = [['json_http', 'binary_http'], ['json_batch_http', 'binary_batch_http'], ['json_inject', 'binary_inject'], ['decode_only']];
const sent = (name: SideName): number => (name === 'decode_only' ? 0 : count);

// Warm-up, unmeasured: JIT for every path, the connection pool.
let expected = 0;
for (const [name, fn] of Object.entries(sides) as [SideName, () => Promise<number>][]) {
  await fn();
  expected += sent(name);
}
const rates = Object.fromEntries(Object.keys(sides).map((k) => [k, [] as number[]])) as Record<SideName, number[]>;
const httpRatios: number[] = [];
const batchRatios: number[] = [];
for (let r = 0; r < runs; r++) {
  const order = groups.map((_, g) => groups[(g + r) % groups.length] as SideName[]).flatMap((pair) => (r % 2 === 0 ? pair : pair.slice().reverse()));
  const got = {} as Record<SideName, number>;
  for (const name of order) {
    got[name] = await sides[name]();
    rates[name].push(got[name]);
    expected += sent(name);
  }
  httpRatios.push(got.binary_http / got.json_http);
  batchRatios.push(got.binary_batch_http / got.json_batch_http);
  note(`round ${r + 1}/${runs} (${order.join(', ')}): ${order.map((k) => `${k} ${round(got[k])}/s`).join(', ')}`);
}
client.close();
await app.close();
if (admitted !== expected) throw new Error(`the server admitted ${admitted} transactions of ${expected} sent`);

const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)])) as Record<SideName, number>;
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
  binary_vs_json_http_ratio: round(median(httpRatios), 2),
  binary_vs_json_batch_ratio: round(median(batchRatios), 2),
  admitted,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
