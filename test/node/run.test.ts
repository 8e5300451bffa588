/**
 * `startNode` (what `stele node --config FILE` runs) on a one-validator chain: the native
 * transport and mapped logs, LevelDB, and the REST API, in this process. Members mode from
 * the configuration file; the account answer with its contracts and instances, read from
 * the real store through node/view.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiError, SteleClient } from '../../api/client.js';
import { keyFileText } from '../../cli/io.js';
import { toHex } from '../../ledger/assert.js';
import { generateKeyPair, keyPairFromSeed, Signer } from '../../ledger/ed25519.js';
import { isSteleError } from '../../ledger/errors.js';
import { genesisToJson } from '../../ledger/genesis.js';
import { sha256 } from '../../ledger/hash.js';
import { devChain } from '../../ledger/devnet.js';
import { signTx, type Payload } from '../../ledger/tx.js';
import { startNode, type RunningNode } from '../../node/run.js';
import { ACCEPTOR_STAMP_BYTES_MAX, ACCEPTOR_STAMP_FILE, acceptorStampText, parseAcceptorStamp, sameStamp, type AcceptorStamp } from '../../node/acceptor-stamp.js';
import { randomPortBase } from '../../bench/util.js';
import { EXIT_HALTED, nodeCommand } from '../../cli/node.js';
import { ClassicLevel } from 'classic-level';

const LABEL = 'run-test';
const port = randomPortBase(1);
const dev = devChain({ label: LABEL, validators: 1, users: 3, basePort: port });
const [admin, buyer] = dev.users as [Signer, Signer];
// devChain's validator key, rebuilt with its seed for the key file.
const validatorPair = keyPairFromSeed(sha256(new TextEncoder().encode(`stele-dev:${LABEL}:validator:0`)));
const HORSE = readFileSync(fileURLToPath(new URL('../../../examples/contracts/horse-sale.scl', import.meta.url)), 'utf8');

function setUp(api: Record<string, unknown>): { dir: string; config: string; write(api: Record<string, unknown>): void } {
  const dir = mkdtempSync(join(tmpdir(), 'stele-run-'));
  assert.equal(toHex(validatorPair.publicKey), toHex(dev.validators[0]!.publicKey));
  writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesisToJson(dev.genesis)));
  writeFileSync(join(dir, 'v1.key'), keyFileText(validatorPair), { mode: 0o600 });
  const config = join(dir, 'config.json');
  const write = (a: Record<string, unknown>) => writeFileSync(config, JSON.stringify({ stele_node: 1, genesis: 'genesis.json', key: 'v1.key', data: 'data', tick_ms: 10, api: { host: '127.0.0.1', port: 0, ...a } }));
  write(api);
  return { dir, config, write };
}

async function started(config: string): Promise<{ node: RunningNode; url: string; fatal: unknown[] }> {
  const fatal: unknown[] = [];
  const node = await startNode(config, (error) => fatal.push(error));
  assert.ok(node.url !== null);
  // A lone validator elects itself after its election timeout.
  for (let t = 0; t < 500 && node.validator.status().leader === null; t++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(node.validator.status().leader, 0);
  return { node, url: node.url, fatal };
}

const tx = (payload: Payload, signer: Signer, expiry = 100) => signTx({ chainId: dev.genesis.chainId, expiry, payload }, [signer]);

test('node config "mode": "members": unsigned and non-member writes refused with their codes, members commit; "signed_reads" guards reads after a restart', { timeout: 120_000 }, async () => {
  const { dir, config, write } = setUp({ mode: 'members' });
  let running: RunningNode | null = null;
  try {
    const first = await started(config);
    running = first.node;
    const transfer = tx({ type: 'transfer', from: admin.publicKey, asset: 'STL', to: buyer.publicKey, amount: 5n }, admin);
    // Unsigned: the door refuses it, nothing is admitted.
    const open = new SteleClient({ url: first.url });
    await assert.rejects(open.submit(transfer), (e: unknown) => e instanceof ApiError && e.status === 401 && e.code === 'API_UNAUTHENTICATED');
    // Signed by a key that is no registered identity.
    const stranger = new SteleClient({ url: first.url, signer: new Signer(generateKeyPair()) });
    await assert.rejects(stranger.submit(transfer), (e: unknown) => e instanceof ApiError && e.status === 403 && e.code === 'API_NOT_MEMBER');
    await assert.rejects(open.transaction(transfer.id), (e: unknown) => e instanceof ApiError && e.code === 'API_TX_UNKNOWN', 'never admitted');
    assert.equal(first.node.validator.height, 0);
    // Reads stay open without signed_reads; a member's signed write commits.
    assert.equal((await open.status()).committed_height, 0);
    const member = new SteleClient({ url: first.url, signer: admin });
    const answer = await member.submit(transfer, { wait: true });
    assert.deepEqual([answer.status, answer.height], ['committed', 1]);
    await running.stop();
    running = null;
    assert.deepEqual(first.fatal, []);

    // Restart on the same data with signed reads: reads need a member's signature too.
    write({ mode: 'members', signed_reads: true, window_ms: 10_000 });
    const second = await started(config);
    running = second.node;
    assert.equal(second.node.validator.height, 1, 'resumed from the data directory');
    await assert.rejects(new SteleClient({ url: second.url }).account(buyer.publicKey), (e: unknown) => e instanceof ApiError && e.status === 401 && e.code === 'API_UNAUTHENTICATED');
    const reader = new SteleClient({ url: second.url, signer: buyer, chainId: dev.genesis.chainId });
    assert.equal((await reader.account(buyer.publicKey)).balances.STL, '1000005');
    assert.equal((await fetch(`${second.url}/openapi.json`)).status, 200, 'the API description stays open');
    // A stale timestamp is outside the configured window.
    const late = new SteleClient({ url: second.url, signer: buyer, chainId: dev.genesis.chainId, nowMs: () => Date.now() - 20_000 });
    await assert.rejects(late.status(), (e: unknown) => e instanceof ApiError && e.code === 'API_STALE_REQUEST');
    assert.deepEqual(second.fatal, []);
  } finally {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /v1/accounts through a real node: the contracts a key deployed and the instances it is a party to, with their current state', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  let running: RunningNode | null = null;
  try {
    const { node, url, fatal } = await started(config);
    running = node;
    const client = new SteleClient({ url });
    const int = (value: number) => ({ kind: 'int' as const, value: BigInt(value) });
    const commit = async (payload: Payload, signer: Signer) => {
      const r = await client.submit(tx(payload, signer), { wait: true });
      assert.equal(r.status, 'committed');
    };
    await commit({ type: 'deploy', source: HORSE }, admin);
    const sale: Payload = {
      type: 'create',
      contract: 'HorseSale',
      parties: [{ name: 'buyer', key: buyer.publicKey }, { name: 'seller', key: admin.publicKey }],
      params: [{ name: 'deposit', value: int(10) }, { name: 'penalty', value: int(1) }, { name: 'price', value: int(20) }, { name: 'usd', value: { kind: 'asset', value: 'STL' } }, { name: 'window', value: int(50) }],
      refs: [],
    };
    await commit(sale, buyer);
    const seller = await client.account(admin.publicKey);
    assert.deepEqual(seller.contracts, [{ name: 'HorseSale', height: 1 }]);
    assert.deepEqual(seller.instances, [{ id: 1, contract: 'HorseSale', state: 'Open', party: 'seller' }]);
    assert.deepEqual([seller.contracts_truncated, seller.instances_truncated], [false, false]);
    await commit({ type: 'act', instance: 1, party: 'buyer', action: 'complete', args: [] }, buyer);
    const bought = await client.account(buyer.publicKey);
    assert.deepEqual(bought.contracts, []);
    assert.deepEqual(bought.instances, [{ id: 1, contract: 'HorseSale', state: 'Sold', party: 'buyer' }]);
    const nobody = await client.account(dev.users[2]!.publicKey);
    assert.deepEqual([nobody.contracts, nobody.instances], [[], []]);
    assert.equal(nobody.balances_truncated, false);
    // An issuer can give any key more assets than an answer lists (1,000): the answer says
    // its list is cut, rather than letting a missing balance read as zero (review, 2026-11-30).
    const gifts = Array.from({ length: 1_001 }, (_, i) => tx({ type: 'issue', asset: `G${String(i).padStart(4, '0')}`, to: dev.users[2]!.publicKey, amount: 1n }, admin));
    const admitted = await node.validator.submitMany(gifts);
    for (const a of admitted) assert.ok(!isSteleError(a), String(a));
    await node.validator.waitForCommit(toHex(gifts.at(-1)!.id), 60_000);
    const rich = await client.account(dev.users[2]!.publicKey);
    assert.equal(Object.keys(rich.balances).length, 1_000);
    assert.equal(rich.balances_truncated, true);
    // The node's own series, memory gauges included, with plausible values.
    const metrics = await client.metrics();
    const gauge = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    assert.ok(gauge('stele_committed_height') >= 3, 'three blocks or more committed');
    const waiting = gauge('stele_index_writes_waiting');
    assert.ok(waiting >= 0 && waiting <= 4, `index writes waiting: ${waiting}`);
    const rss = gauge('stele_memory_resident_bytes');
    const heapUsed = gauge('stele_memory_heap_used_bytes');
    assert.ok(rss > 10 * 2 ** 20 && rss < 64 * 2 ** 30, `rss ${rss}`);
    assert.ok(heapUsed > 0 && heapUsed <= gauge('stele_memory_heap_total_bytes'), `heap ${heapUsed}`);
    assert.ok(gauge('stele_memory_array_buffers_bytes') <= gauge('stele_memory_external_bytes'));
    // The peer transport's queue gauges (a lone validator has no peer to queue for).
    assert.equal(gauge('stele_transport_send_refused_total'), 0);
    assert.equal(gauge('stele_transport_unreachable_dropped_total'), 0);
    assert.match(metrics, /^# TYPE stele_transport_send_queue_bytes gauge$/m);
    assert.deepEqual(fatal, []);
  } finally {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a genesis naming more validators than the consensus core runs with is refused as CONFIG_INVALID before anything is opened', async () => {
  const label = 'run-test-8';
  const wide = devChain({ label, validators: 8, users: 1, basePort: port });
  const pair = keyPairFromSeed(sha256(new TextEncoder().encode(`stele-dev:${label}:validator:0`)));
  assert.equal(toHex(pair.publicKey), toHex(wide.validators[0]!.publicKey));
  const dir = mkdtempSync(join(tmpdir(), 'stele-run-'));
  try {
    writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesisToJson(wide.genesis)));
    writeFileSync(join(dir, 'v1.key'), keyFileText(pair), { mode: 0o600 });
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ stele_node: 1, genesis: 'genesis.json', key: 'v1.key', data: 'data', api: { host: '127.0.0.1', port: 0 } }));
    await assert.rejects(startNode(config, () => {}), (e: unknown) => isSteleError(e, 'CONFIG_INVALID') && e.details.field === 'genesis' && /names 8 validators; a node runs with 1 to 7/.test(e.message));
    assert.equal(existsSync(join(dir, 'data')), false, 'no data directory made');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('port 0 for a validator with peers (listen, or its genesis address) is refused as CONFIG_INVALID before anything is opened, and taken by a lone one (review of 2026-12-02)', async () => {
  // Before, such a validator started, listened on a port no peer dials, and never learned a leader.
  const label = 'run-test-listen0';
  const three = devChain({ label, validators: 3, users: 1, basePort: port });
  const pair = keyPairFromSeed(sha256(new TextEncoder().encode(`stele-dev:${label}:validator:0`)));
  const dir = mkdtempSync(join(tmpdir(), 'stele-run-'));
  try {
    writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesisToJson(three.genesis)));
    writeFileSync(join(dir, 'v1.key'), keyFileText(pair), { mode: 0o600 });
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ stele_node: 1, genesis: 'genesis.json', key: 'v1.key', data: 'data', listen: '127.0.0.1:0' }));
    await assert.rejects(startNode(config, () => {}), (e: unknown) => isSteleError(e, 'CONFIG_INVALID') && e.details.field === 'listen' && /only for a lone validator: its 2 peers dial/.test(e.message));
    assert.equal(existsSync(join(dir, 'data')), false, 'no data directory made');
    // The same in the genesis: the file still reads (its chain stays auditable), but the
    // validator it gives port 0 does not run.
    const json = genesisToJson(three.genesis) as { validators: Array<{ address: string }> };
    json.validators[0]!.address = '127.0.0.1:0';
    writeFileSync(join(dir, 'genesis.json'), JSON.stringify(json));
    writeFileSync(config, JSON.stringify({ stele_node: 1, genesis: 'genesis.json', key: 'v1.key', data: 'data' }));
    await assert.rejects(startNode(config, () => {}), (e: unknown) => isSteleError(e, 'CONFIG_INVALID') && e.details.field === 'genesis' && /port 0 \(any free port\) only for a lone validator/.test(e.message));
    assert.equal(existsSync(join(dir, 'data')), false, 'no data directory made');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { dir: alone, config, write } = setUp({});
  try {
    write({});
    const json = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
    writeFileSync(config, JSON.stringify({ ...json, listen: '127.0.0.1:0' }));
    const { node } = await started(config);
    await node.stop();
  } finally {
    rmSync(alone, { recursive: true, force: true });
  }
});

test('a data directory that cannot be made is refused as CONFIG_INVALID (field data)', async () => {
  const { dir, config } = setUp({});
  try {
    writeFileSync(join(dir, 'data'), 'a file where the data directory should be');
    await assert.rejects(startNode(config, () => {}), (e: unknown) => isSteleError(e, 'CONFIG_INVALID') && e.details.field === 'data' && /EEXIST|ENOTDIR/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an API address that cannot be listened on is refused as CONFIG_INVALID (field api), and everything opened is closed again', { timeout: 60_000 }, async () => {
  const { dir, config, write } = setUp({});
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    write({ port });
    await assert.rejects(startNode(config, () => {}), (e: unknown) => isSteleError(e, 'CONFIG_INVALID') && e.details.field === 'api' && /EADDRINUSE/.test(e.message));
    // The store, logs and transport were closed: the same data directory opens again.
    write({ port: 0 });
    const again = await started(config);
    await again.node.stop();
    assert.deepEqual(again.fatal, []);
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a genesis allowing blocks of 8 MiB: a block above 4 MiB is accepted, committed and read back (the acceptor log is sized from the genesis)', { timeout: 120_000 }, async () => {
  const label = 'run-big';
  const big = devChain({ label, validators: 1, users: 2, basePort: randomPortBase(1), limits: { block_bytes_max: 8 * 1024 * 1024 } });
  const pair = keyPairFromSeed(sha256(new TextEncoder().encode(`stele-dev:${label}:validator:0`)));
  const dir = mkdtempSync(join(tmpdir(), 'stele-run-big-'));
  writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesisToJson(big.genesis)));
  writeFileSync(join(dir, 'v1.key'), keyFileText(pair), { mode: 0o600 });
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ stele_node: 1, genesis: 'genesis.json', key: 'v1.key', data: 'data', tick_ms: 10 }));
  const fatal: unknown[] = [];
  const node = await startNode(config, (error) => fatal.push(error));
  try {
    for (let t = 0; t < 500 && node.validator.status().leader === null; t++) await new Promise((r) => setTimeout(r, 10));
    const owner = big.users[0]!;
    // About 4.6 MB of record puts, admitted in one turn so the first cut takes them all.
    const puts = Array.from({ length: 1_050 }, (_, i) =>
      signTx({ chainId: big.genesis.chainId, expiry: 100, payload: { type: 'put', owner: owner.publicKey, key: `k${i}`, value: { kind: 'inline', data: new Uint8Array(4096).fill(i & 0xff) } } }, [owner]),
    );
    const admitted = await node.validator.submitMany(puts);
    for (const a of admitted) assert.ok(!isSteleError(a), String(a));
    const at = await node.validator.waitForCommit(toHex(puts.at(-1)!.id), 60_000);
    const bytes = node.validator.ledger.blockBytes(at.height);
    assert.ok(bytes.length > 4 * 1024 * 1024, `a block of ${bytes.length} bytes`);
    assert.deepEqual(fatal, []);
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second node on a running node\'s data directory is refused before it opens the block log, which it would recover (review, 2026-11-30)', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  let running: RunningNode | null = null;
  try {
    running = (await started(config)).node;
    // An unfinished segment as the running node's log would leave it while creating one:
    // the log's recovery at open deletes such files.
    const unfinished = join(dir, 'data', 'blocks', '0000000099.seg.tmp');
    writeFileSync(unfinished, '');
    await assert.rejects(startNode(config, () => {}), (e: unknown) => isSteleError(e, 'STORE_IO') && /LOCK|lock/.test(e.message));
    assert.ok(existsSync(unfinished), 'the second node left the running node\'s block log alone');
  } finally {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a block of its own log that fails its checks when replayed at start halts `stele node` with exit code 3, naming the height (review, 2026-11-30)', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  try {
    const first = await started(config);
    try {
      const transfer = tx({ type: 'transfer', from: admin.publicKey, asset: 'STL', to: buyer.publicKey, amount: 5n }, admin);
      const answer = await new SteleClient({ url: first.url }).submit(transfer, { wait: true });
      assert.deepEqual([answer.status, answer.height], ['committed', 1]);
    } finally {
      await first.node.stop();
    }
    // The index as if block 1 had never been applied, with the sender's balance gone: the
    // replay of block 1 now computes another state than its header names.
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'data', 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    await db.put('m:height', new Uint8Array(8));
    await db.del(`s:bal/${toHex(admin.publicKey)}/STL`);
    await db.close();
    const run = nodeRun(config);
    let code: number;
    try {
      code = await run.done;
    } finally {
      run.restore();
    }
    assert.equal(code, EXIT_HALTED);
    assert.match(run.stderr(), /HALTED at start: BLOCK_[A-Z_]+: replaying block 1 of the block log/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stop does not wait for requests waiting for a commit: they are answered 202 pending, wait_timed_out, at once (review, 2026-11-30)', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  try {
    const { node, url } = await started(config);
    let stopped = false;
    try {
      // Admitted as far as the API can tell, but never proposed: its wait would run to its timeout.
      node.validator.submit = () => ({ id: '' });
      // The stop comes once the request waits in the API, not after a guessed delay, which a
      // loaded machine can outlast (review of 2026-12-02).
      const waitForCommit = node.validator.waitForCommit.bind(node.validator);
      let waiting!: () => void;
      const isWaiting = new Promise<void>((r) => (waiting = r));
      node.validator.waitForCommit = (...args) => {
        const wait = waitForCommit(...args);
        waiting();
        return wait;
      };
      const transfer = tx({ type: 'transfer', from: admin.publicKey, asset: 'STL', to: buyer.publicKey, amount: 5n }, admin);
      const answer = fetch(`${url}/v1/transactions?wait=commit&timeout_ms=60000`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: transfer.bytes });
      await isWaiting;
      const began = Date.now();
      await node.stop();
      stopped = true;
      assert.ok(Date.now() - began < 10_000, `the stop took ${Date.now() - began} ms`);
      const response = await answer;
      assert.equal(response.status, 202);
      assert.deepEqual(await response.json(), { id: transfer.idHex, status: 'pending', wait_timed_out: true });
      // A wait begun after the release ends at once.
      await assert.rejects(node.validator.waitForCommit(transfer.idHex, 60_000), (e: unknown) => isSteleError(e, 'COMMIT_TIMEOUT') && e.details.stopping === true);
    } finally {
      if (!stopped) await node.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mempool_max in the node config bounds the mempool (review, 2026-11-30: the bounds were validator options only)', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const rewrite = (extra: Record<string, unknown>) =>
    writeFileSync(config, JSON.stringify({ ...(JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>), ...extra }));
  try {
    rewrite({ mempool_max: 2, mempool_bytes_max: 4 * 1024 * 1024 });
    const { node, url } = await started(config);
    try {
      // Nothing is proposed, so the mempool only fills: two held, the third refused.
      (node.validator as unknown as { maybePropose(): void }).maybePropose = () => {};
      const transfers = [1n, 2n, 3n].map((amount) => tx({ type: 'transfer', from: admin.publicKey, asset: 'STL', to: buyer.publicKey, amount }, admin));
      const answer = await new SteleClient({ url }).submitBatch(transfers, { binary: true });
      assert.deepEqual(
        answer.results.map((r) => [r.status, r.error?.code ?? null]),
        [['pending', null], ['pending', null], ['refused', 'MEMPOOL_FULL']],
        JSON.stringify(answer),
      );
    } finally {
      await node.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Every file under `dir` with its bytes, by relative path: to show that a refusal changed nothing. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), entry.isFile() ? createHash('sha256').update(readFileSync(path)).digest('hex') : 'dir');
  }
  return files;
}

const mine = (): AcceptorStamp => ({ genesisHash: dev.genesis.hash, validatorIndex: 0, publicKey: validatorPair.publicKey });

test('the acceptor log is stamped with its chain and validator: a new one gets it, a restart checks it, and one from before stamps gets one', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const acceptor = join(dir, 'data', 'acceptor');
  const stamp = join(acceptor, ACCEPTOR_STAMP_FILE);
  try {
    const first = await started(config);
    await first.node.stop();
    assert.deepEqual(first.fatal, []);
    const written = readFileSync(stamp, 'utf8');
    assert.equal(written, acceptorStampText(mine()));
    assert.ok(sameStamp(parseAcceptorStamp(written, stamp), mine()));
    assert.ok(readdirSync(acceptor).some((name) => name.startsWith('gen-')), 'the log itself is there too');
    // A restart of the same validator opens it and leaves the stamp as it was.
    const second = await started(config);
    await second.node.stop();
    assert.deepEqual(second.fatal, []);
    assert.equal(readFileSync(stamp, 'utf8'), written);
    // A directory from before stamps (records, no stamp) is stamped once and runs.
    rmSync(stamp);
    const legacy = await started(config);
    await legacy.node.stop();
    assert.deepEqual(legacy.fatal, []);
    assert.equal(readFileSync(stamp, 'utf8'), written);
    assert.deepEqual(readdirSync(acceptor).filter((name) => name.startsWith('.')), [], 'no temporary file left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an acceptor log stamped for another validator or another chain is refused as STORE_MISMATCH, and nothing in acceptor/ changes', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const acceptor = join(dir, 'data', 'acceptor');
  const stamp = join(acceptor, ACCEPTOR_STAMP_FILE);
  try {
    const first = await started(config);
    await first.node.stop();
    // Written here rather than read, so that this test does not lean on the stamp's creation.
    const own = acceptorStampText(mine());
    const other = generateKeyPair().publicKey;
    const cases: Array<{ name: string; stamp: AcceptorStamp; found: RegExp }> = [
      { name: 'another validator', stamp: { ...mine(), validatorIndex: 1, publicKey: other }, found: new RegExp(`acceptor log of validator 1 \\(public key ${toHex(other)}\\) of the chain of genesis ${toHex(dev.genesis.hash)}`) },
      { name: 'another key at this index', stamp: { ...mine(), publicKey: other }, found: new RegExp(`acceptor log of validator 0 \\(public key ${toHex(other)}\\)`) },
      { name: 'another chain', stamp: { ...mine(), genesisHash: sha256(Uint8Array.of(1)) }, found: new RegExp(`of the chain of genesis ${toHex(sha256(Uint8Array.of(1)))} \\(`) },
    ];
    for (const c of cases) {
      writeFileSync(stamp, acceptorStampText(c.stamp));
      const before = snapshot(acceptor);
      await assert.rejects(
        startNode(config, () => {}),
        (e: unknown) =>
          isSteleError(e, 'STORE_MISMATCH') &&
          c.found.test(e.message) &&
          e.message.includes(`this node is validator 0 (public key ${toHex(validatorPair.publicKey)}) of the chain of genesis ${toHex(dev.genesis.hash)}`) &&
          /move .* aside and put back this validator's own acceptor\/ directory/.test(e.message),
        c.name,
      );
      assert.deepEqual(snapshot(acceptor), before, `${c.name}: acceptor/ unchanged`);
    }
    // Everything opened before the refusal was closed: with its own stamp back, it starts.
    writeFileSync(stamp, own);
    const again = await started(config);
    await again.node.stop();
    assert.deepEqual(again.fatal, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stamp file that is not one is refused as STORE_CORRUPT saying why (not read whole when huge), and nothing in acceptor/ changes', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const acceptor = join(dir, 'data', 'acceptor');
  const stamp = join(acceptor, ACCEPTOR_STAMP_FILE);
  try {
    const first = await started(config);
    await first.node.stop();
    const own = JSON.parse(acceptorStampText(mine())) as Record<string, unknown>;
    const cases: Array<{ text: string | null; why: RegExp }> = [
      { text: '', why: /not JSON/ },
      { text: '{"stele_acceptor_stamp": 1,', why: /not JSON/ },
      { text: '[1, 2]', why: /not a JSON object/ },
      { text: 'x'.repeat(ACCEPTOR_STAMP_BYTES_MAX + 1), why: /4097 bytes; a stamp is at most 4096/ },
      { text: JSON.stringify({ ...own, stele_acceptor_stamp: 2 }), why: /stele_acceptor_stamp is 2; this build knows version 1/ },
      { text: JSON.stringify({ ...own, public_key: undefined }), why: /field public_key is missing/ },
      { text: JSON.stringify({ ...own, extra: true }), why: /unknown field "extra"/ },
      { text: JSON.stringify({ ...own, validator_index: 1.5 }), why: /validator_index must be an integer from 0 to 6/ },
      { text: JSON.stringify({ ...own, genesis_hash: 'AB'.repeat(32) }), why: /genesis_hash must be 64 lower-case hex characters/ },
      { text: null, why: /not a regular file/ },
    ];
    for (const c of cases) {
      rmSync(stamp, { recursive: true, force: true });
      if (c.text === null) mkdirSync(stamp);
      else writeFileSync(stamp, c.text);
      const before = snapshot(acceptor);
      await assert.rejects(
        startNode(config, () => {}),
        (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && e.message.startsWith(`STORE_CORRUPT: ${stamp} is not an acceptor log stamp: `) && c.why.test(e.message) && e.details.path === stamp,
        String(c.why),
      );
      assert.deepEqual(snapshot(acceptor), before, `${String(c.why)}: acceptor/ unchanged`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stele node on an acceptor log of another validator exits 2 with the STORE_MISMATCH message', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const stamp = join(dir, 'data', 'acceptor', ACCEPTOR_STAMP_FILE);
  try {
    mkdirSync(join(dir, 'data', 'acceptor'), { recursive: true });
    writeFileSync(stamp, acceptorStampText({ ...mine(), validatorIndex: 2, publicKey: generateKeyPair().publicKey }));
    const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'node', '--config', config], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.equal(r.signal, null, 'it exits by itself');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^stele: STORE_MISMATCH: .*acceptor is the acceptor log of validator 2 .* but this node is validator 0 /m);
    assert.equal(readFileSync(stamp, 'utf8').includes('"validator_index":2'), true, 'the stamp is left as it was');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a peer port in use: the start fails and closes what it opened, so the next start on the directory works (review, 2026-11-30)', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const [host, port] = dev.genesis.validators[0]!.address.split(':') as [string, string];
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(Number(port), host, resolve));
  try {
    await assert.rejects(startNode(config, () => {}), (e: unknown) => isSteleError(e) && e.code.startsWith('TRANSPORT_'));
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    // Without the clean-up, LevelDB's lock of the first attempt refused this one (STORE_IO).
    const { node } = await started(config);
    await node.stop();
  } finally {
    squatter.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Keeps what this process writes to stderr instead of writing it, until `restore`. */
function captureStderr(): { written: string[]; restore: () => void } {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  return {
    written,
    restore: () => {
      process.stderr.write = write;
    },
  };
}

/** Runs `stele node` in this process, with its stderr kept; `signal(name)` calls the handlers it installed. */
function nodeRun(config: string): { done: Promise<number>; stderr: () => string; handlers: (name: 'SIGINT' | 'SIGTERM') => Array<(name: string) => void>; restore: () => void } {
  const before = { SIGINT: new Set(process.listeners('SIGINT')), SIGTERM: new Set(process.listeners('SIGTERM')) };
  const captured = captureStderr();
  const done = nodeCommand(['--config', config]);
  return {
    done,
    stderr: () => captured.written.join(''),
    handlers: (name) => process.listeners(name).filter((l) => !before[name].has(l)) as Array<(name: string) => void>,
    restore: captured.restore,
  };
}

test('stele node: a SIGTERM during the start is handled, and stops the node cleanly once it has started (exit 0; review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const run = nodeRun(config);
  let code: number | null = null;
  try {
    // nodeCommand has run up to its first wait, inside startNode: the start is under way.
    // Before, no handler was installed until the start was over, so a real SIGTERM here
    // took Node's default action (exit 143, no clean stop).
    const handlers = run.handlers('SIGTERM');
    assert.equal(handlers.length, 1, 'a SIGTERM handler during the start');
    for (const handler of handlers) handler('SIGTERM');
    code = await run.done;
    assert.equal(code, 0);
    assert.match(run.stderr(), /stele node: validator 0 .*, peers over tcp[,\n].*\nstele node: SIGTERM during the start, stopping\n/, "the start line names the peer transport in use");
    assert.deepEqual(run.handlers('SIGTERM'), [], 'its handlers are removed when it returns');
    // Stopped for real: the data directory's lock is free again.
    const again = await started(config);
    await again.node.stop();
  } finally {
    if (code === null) {
      // The old code: its handlers come once the start is over.
      for (let t = 0; t < 500 && run.handlers('SIGTERM').length === 0; t++) await new Promise((r) => setTimeout(r, 10));
      for (const handler of run.handlers('SIGTERM')) handler('SIGTERM');
      await run.done.catch(() => {});
    }
    run.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stele node: a full disk found while it stops after a signal exits 75 with the disk-full message, not 70 with a stack (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const { dir, config } = setUp({});
  const { LedgerStore } = await import('../../ledger/store.js');
  const close = Object.getOwnPropertyDescriptor(LedgerStore.prototype, 'close')!.value as () => Promise<void>;
  // The store closes (its lock is released), then reports what LevelDB reports of a full disk.
  LedgerStore.prototype.close = async function (this: unknown) {
    await close.call(this);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  const run = nodeRun(config);
  try {
    for (let t = 0; t < 1000 && !run.stderr().includes('stele node: validator 0'); t++) await new Promise((r) => setTimeout(r, 10));
    for (const handler of run.handlers('SIGTERM')) handler('SIGTERM');
    assert.equal(await run.done, 75);
    assert.match(run.stderr(), /stele node: SIGTERM, stopping\nstele node: STOPPED: the disk holding .*data is full \(STORE_FULL\): ENOSPC: no space left on device/);
  } finally {
    LedgerStore.prototype.close = close;
    await run.done.catch(() => {});
    run.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stele node: an index write that failed while it stopped after a signal exits 75 (a full disk) or 3 (anything else), not 0 (review, 2026-12-02)', { timeout: 120_000 }, async () => {
  const { LedgerStore } = await import('../../ledger/store.js');
  const { SteleError } = await import('../../ledger/errors.js');
  const indexed = Object.getOwnPropertyDescriptor(LedgerStore.prototype, 'indexed')!.value as () => Promise<void>;
  for (const [failure, exit, said] of [
    [() => Object.assign(new Error('IO error: index/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' }), 75, /STOPPED: the disk holding .*data is full \(STORE_FULL\)/],
    [() => new SteleError('STORE_IO', 'write index: Input/output error'), 3, /stele node: HALTED: .*STORE_IO: write index: Input\/output error/],
  ] as const) {
    const { dir, config } = setUp({});
    // The store reports an index write that failed only once it is closed: the write
    // failed during the stop, which the store's close does not throw by design.
    LedgerStore.prototype.indexed = async function (this: { closed?: boolean }) {
      await indexed.call(this);
      if (this.closed === true) throw failure();
    };
    const run = nodeRun(config);
    try {
      for (let t = 0; t < 1000 && !run.stderr().includes('stele node: validator 0'); t++) await new Promise((r) => setTimeout(r, 10));
      for (const handler of run.handlers('SIGTERM')) handler('SIGTERM');
      assert.equal(await run.done, exit, run.stderr());
      assert.match(run.stderr(), said);
    } finally {
      LedgerStore.prototype.indexed = indexed;
      await run.done.catch(() => {});
      run.restore();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('stele node as a process: SIGTERM and SIGINT stop it cleanly (exit 0), its handlers, now installed before the native addon is loaded, still its own (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const { dir, config } = setUp({});
    try {
      const child = spawn(process.execPath, [bin, 'node', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve) => {
        child.stderr.on('data', (chunk: Buffer) => {
          err += chunk.toString();
          if (err.includes('stele node: validator 0')) resolve();
        });
        void closed.then(() => resolve());
      });
      child.kill(signal);
      // Before the addon's libinfinipath was told not to (IPATH_NO_BACKTRACE), its own
      // handlers took these signals once the addon was loaded: exit 1, no clean stop.
      assert.equal(await closed, 0, err);
      assert.match(err, new RegExp(`stele node: ${signal}, stopping\\n$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('validators of one validator set whose genesis files differ refuse each other at the handshake and elect no leader; with the same genesis they do (review, 2026-12-02)', { timeout: 120_000 }, async () => {
  // Before, only the validator keys were bound into the handshake: a validator started with
  // another genesis of the same validators (another genesis_time_ms) took part in
  // consensus, and when it led, the others committed its block 1 and halted on it for good.
  const label = 'run-two-genesis';
  const pair = devChain({ label, validators: 2, users: 1, basePort: randomPortBase(2) });
  const dir = mkdtempSync(join(tmpdir(), 'stele-run-genesis-'));
  const genesisJson = genesisToJson(pair.genesis) as Record<string, unknown>;
  writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesisJson));
  writeFileSync(join(dir, 'other-genesis.json'), JSON.stringify({ ...genesisJson, genesis_time_ms: (genesisJson.genesis_time_ms as number) + 1 }));
  const configs = [0, 1].map((i) => {
    writeFileSync(join(dir, `v${i}.key`), keyFileText(keyPairFromSeed(sha256(new TextEncoder().encode(`stele-dev:${label}:validator:${i}`)))), { mode: 0o600 });
    return (genesis: string, data: string) => {
      const path = join(dir, `v${i}-${data}.json`);
      writeFileSync(path, JSON.stringify({ stele_node: 1, genesis, key: `v${i}.key`, data, tick_ms: 10 }));
      return path;
    };
  });
  const { written, restore } = captureStderr();
  const nodes: RunningNode[] = [];
  const leaderOf = (n: RunningNode): number | null => n.validator.status().leader;
  try {
    nodes.push(await startNode(configs[0]!('genesis.json', 'd0'), () => {}));
    nodes.push(await startNode(configs[1]!('other-genesis.json', 'd1'), () => {}));
    for (let t = 0; t < 300 && !written.some((l) => /another validator set or chain/.test(l)); t++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(written.some((l) => /another validator set or chain/.test(l)), `a refusal naming the chain on stderr: ${written.join('')}`);
    await new Promise((r) => setTimeout(r, 1_000)); // several election timeouts at tick_ms 10
    assert.deepEqual(nodes.map(leaderOf), [null, null], 'two of two are needed, and they do not talk');
    await nodes.pop()!.stop();
    nodes.push(await startNode(configs[1]!('genesis.json', 'd1-same'), () => {}));
    for (let t = 0; t < 1_000 && (leaderOf(nodes[0]!) === null || leaderOf(nodes[0]!) !== leaderOf(nodes[1]!)); t++) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(leaderOf(nodes[0]!), null, 'with the same genesis a leader is elected');
    assert.equal(leaderOf(nodes[0]!), leaderOf(nodes[1]!));
  } finally {
    restore();
    for (const n of nodes) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
