/**
 * node/faults.ts, the chaos harness's test-only fault injection: the wrapped transport
 * drops what the file says and counts it; the notice a starting node prints about it; and
 * through `startNode`, two validators of a three-validator chain in this process: only the
 * config field `test_faults_file` turns faults on (GET /metrics and /v1/status say so), and
 * the environment variable STELE_FAULTS, which used to, is ignored and said to be.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PeerMessage, Transport } from '../../consensus/driver.js';
import { SteleClient, type StatusAnswer } from '../../api/client.js';
import { keyFileText } from '../../cli/io.js';
import { keyPairFromSeed } from '../../ledger/ed25519.js';
import { isSteleError } from '../../ledger/errors.js';
import { genesisToJson } from '../../ledger/genesis.js';
import { sha256 } from '../../ledger/hash.js';
import { devChain } from '../../ledger/devnet.js';
import { faultsNotice, faultyTransport, parseFaults } from '../../node/faults.js';
import { startNode, type RunningNode } from '../../node/run.js';
import { randomPortBase } from '../../bench/util.js';

/** A transport that records what was sent and lets the test deliver batches. */
function fakeWire(): { wire: Transport; sent: number[]; deliver: (batch: readonly PeerMessage[]) => void } {
  const sent: number[] = [];
  let handler: ((batch: readonly PeerMessage[]) => void) | null = null;
  return {
    wire: { send: (to) => sent.push(to) > 0, receive: (h) => void (handler = h) },
    sent,
    deliver: (batch) => handler?.(batch),
  };
}

const message = (from: number): PeerMessage => ({ from, bytes: new Uint8Array([from]) });

/** Waits for the poll (every 100 ms) to have taken the file's setting. */
async function until(condition: () => boolean): Promise<void> {
  for (let t = 0; t < 100 && !condition(); t++) await sleep(20);
  assert.ok(condition(), 'the faults file was not taken up within 2 s');
}

test('faultyTransport drops messages to drop_to and from drop_from as the file says, counts each dropped message, and heals when the file does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-faults-'));
  const path = join(dir, 'faults.json');
  const { wire, sent, deliver } = fakeWire();
  const lines: string[] = [];
  const faults = faultyTransport(wire, path, 3, (line) => lines.push(line));
  try {
    const received: number[] = [];
    faults.transport.receive((batch) => received.push(...batch.map((m) => m.from)));
    // No file yet: nothing dropped.
    await sleep(150);
    faults.transport.send(1, new Uint8Array(1));
    deliver([message(2)]);
    assert.deepEqual([sent, received, { ...faults.drops }], [[1], [2], { to: 0, from: 0 }]);

    writeFileSync(path, JSON.stringify({ drop_to: [1], drop_from: [2] }));
    await until(() => lines.some((l) => l.includes('drop_to [1]')));
    faults.transport.send(1, new Uint8Array(1));
    faults.transport.send(1, new Uint8Array(1));
    faults.transport.send(2, new Uint8Array(1));
    deliver([message(2), message(1), message(2)]);
    deliver([message(2)]);
    assert.deepEqual(sent, [1, 2], 'the sends to validator 1 were dropped');
    assert.deepEqual(received, [2, 1], 'the messages from validator 2 were dropped');
    assert.deepEqual({ ...faults.drops }, { to: 2, from: 3 });

    // A bad file is reported once and the setting stays.
    writeFileSync(path, '{"drop_to": [7]}');
    await until(() => lines.some((l) => l.startsWith('FAULTS_INVALID')));
    faults.transport.send(1, new Uint8Array(1));
    assert.equal(faults.drops.to, 3);

    writeFileSync(path, '{}');
    await until(() => lines.at(-1) === 'faults now: drop_to [] drop_from []');
    faults.transport.send(1, new Uint8Array(1));
    deliver([message(2)]);
    assert.deepEqual([sent, received, { ...faults.drops }], [[1, 2, 1], [2, 1, 2], { to: 3, from: 3 }]);
  } finally {
    faults.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseFaults refuses what is not a list of validator indices, naming the field', () => {
  assert.deepEqual(parseFaults('{"drop_to": [0, 2]}', 3), { dropTo: new Set([0, 2]), dropFrom: new Set() });
  for (const [text, field] of [['{"drop_to": [3]}', 'drop_to'], ['{"drop_from": "1"}', 'drop_from'], ['{"drop_from": [1.5]}', 'drop_from'], ['{"cut": [1]}', 'cut']] as const) {
    assert.throws(() => parseFaults(text, 3), (e: unknown) => isSteleError(e, 'FAULTS_INVALID') && e.details.field === field, text);
  }
  assert.throws(() => parseFaults('[]', 3), (e: unknown) => isSteleError(e, 'FAULTS_INVALID'));
});

test('faultsNotice: loud when the config turns faults on; says STELE_FAULTS is ignored when only the environment asks; silent otherwise', () => {
  assert.equal(faultsNotice(null, undefined), null);
  assert.equal(faultsNotice(null, ''), null);
  assert.match(faultsNotice(null, '/tmp/f.json') ?? '', /^ignoring STELE_FAULTS=\/tmp\/f\.json: no fault injection; only the test-only config field test_faults_file turns it on$/);
  const on = faultsNotice('/tmp/c/faults-0.json', undefined) ?? '';
  assert.match(on, /^TEST ONLY: fault injection is on \(test_faults_file \/tmp\/c\/faults-0\.json\)/);
  assert.doesNotMatch(on, /ignored/);
  assert.match(faultsNotice('/tmp/c/faults-0.json', '/tmp/other.json') ?? '', /\(STELE_FAULTS=\/tmp\/other\.json is ignored\)$/);
});

/**
 * A three-validator chain in a fresh directory; `config(i, extra)` writes validator i's
 * config (tick 10 ms, API on a free port) and returns its path. Only two validators are
 * started by the tests: a quorum needs both, so a cut between them stops every election.
 */
function chain(label: string): { dir: string; config: (i: number, extra?: Record<string, unknown>) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'stele-faults-node-'));
  const dev = devChain({ label, validators: 3, users: 1, basePort: randomPortBase(3) });
  writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesisToJson(dev.genesis)));
  return {
    dir,
    config: (i, extra = {}) => {
      const pair = keyPairFromSeed(sha256(new TextEncoder().encode(`stele-dev:${label}:validator:${i}`)));
      writeFileSync(join(dir, `v${i}.key`), keyFileText(pair), { mode: 0o600 });
      const path = join(dir, `v${i}.json`);
      writeFileSync(path, JSON.stringify({ stele_node: 1, genesis: 'genesis.json', key: `v${i}.key`, data: `data${i}`, tick_ms: 10, api: { host: '127.0.0.1', port: 0 }, ...extra }));
      return path;
    },
  };
}

/** What this process writes to stderr while `body` runs (startNode's notices go there). */
async function capturingStderr<T>(body: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderr += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
    return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { value: await body(), stderr };
  } finally {
    process.stderr.write = original;
  }
}

/** The value of a sample in Prometheus text (`name` with its labels, as rendered). */
function sample(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

async function leaderWithin(nodes: readonly RunningNode[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const leaders = nodes.map((n) => n.validator.status().leader);
    if (leaders.every((l) => l !== null && l === leaders[0])) return true;
    await sleep(20);
  }
  return false;
}

test('a node whose config names test_faults_file drops peer messages as that file says, counts them in /metrics and says so in /v1/status; the cluster heals when the file does', { timeout: 60_000 }, async () => {
  const { dir, config } = chain('faults-on');
  const faultsFile = join(dir, 'faults-0.json');
  writeFileSync(faultsFile, JSON.stringify({ drop_to: [1], drop_from: [1] }));
  const nodes: RunningNode[] = [];
  const fatal: unknown[] = [];
  try {
    const { stderr } = await capturingStderr(async () => {
      nodes.push(await startNode(config(0, { test_faults_file: 'faults-0.json' }), (e) => fatal.push(e)));
      nodes.push(await startNode(config(1), (e) => fatal.push(e)));
    });
    assert.match(stderr, /stele node: TEST ONLY: fault injection is on \(test_faults_file .*faults-0\.json\)/);
    const [faulty, clean] = nodes.map((n) => new SteleClient({ url: n.url as string })) as [SteleClient, SteleClient];
    // Cut both ways: two of three validators cannot make a quorum, so nobody leads (elections
    // take 10 to 20 ticks of 10 ms: a second is several of them).
    assert.equal(await leaderWithin(nodes, 1000), false, 'no leader while validator 0 drops everything to and from validator 1');
    // Both directions dropped something: polled, since on a loaded machine the first
    // connections and elections can take longer than that second (review of 2026-12-02).
    let cut = await faulty.metrics();
    const drops = (direction: string): number => sample(cut, `stele_test_fault_drops_total{direction="${direction}"}`);
    for (let t = 0; t < 100 && !(drops('to') > 0 && drops('from') > 0); t++) {
      await new Promise((r) => setTimeout(r, 100));
      cut = await faulty.metrics();
    }
    assert.equal(sample(cut, 'stele_test_faults_enabled'), 1);
    assert.ok(drops('to') > 0, 'its election messages to validator 1 were dropped');
    assert.ok(drops('from') > 0, "validator 1's election messages were dropped");
    const other = await clean.metrics();
    assert.equal(sample(other, 'stele_test_faults_enabled'), 0);
    assert.equal(sample(other, 'stele_test_fault_drops_total{direction="to"}'), 0);
    assert.equal(sample(other, 'stele_test_fault_drops_total{direction="from"}'), 0);
    assert.equal((await faulty.status()).test_faults_enabled, true);
    assert.equal('test_faults_enabled' in (await clean.status()), false, 'absent on a node without faults');

    writeFileSync(faultsFile, '{}');
    assert.equal(await leaderWithin(nodes, 10_000), true, 'a leader once the file drops nothing');
    const healed = await faulty.metrics();
    const dropped = sample(healed, 'stele_test_fault_drops_total{direction="to"}') + sample(healed, 'stele_test_fault_drops_total{direction="from"}');
    await sleep(300);
    const later = await faulty.metrics();
    assert.equal(sample(later, 'stele_test_fault_drops_total{direction="to"}') + sample(later, 'stele_test_fault_drops_total{direction="from"}'), dropped, 'nothing dropped after the heal');
    // The send queue gauge names each peer, never this validator (0); validator 2 never
    // started, so what was sent to it is dropped once it has been unreachable for 2 s, and
    // little waits for it (until 2026-12-02 everything did, up to the queue's bound).
    assert.ok(sample(later, 'stele_transport_send_queue_bytes{peer="1"}') >= 0);
    assert.ok(sample(later, 'stele_transport_send_queue_bytes{peer="2"}') < 2 ** 20, 'little waits for the validator that is down');
    let unreachable = later;
    for (let t = 0; t < 100 && sample(unreachable, 'stele_transport_unreachable_dropped_total') === 0; t++) {
      await sleep(100);
      unreachable = await faulty.metrics();
    }
    assert.ok(sample(unreachable, 'stele_transport_unreachable_dropped_total') > 0, 'messages to the validator that is down were dropped');
    assert.equal(later.split('\n').some((l) => l.startsWith('stele_transport_send_queue_bytes{peer="0"}')), false);
    assert.deepEqual(fatal, []);
  } finally {
    for (const n of nodes) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('STELE_FAULTS in the environment of a node whose config lacks test_faults_file is ignored, and the node says so on stderr', { timeout: 60_000 }, async () => {
  const { dir, config } = chain('faults-env');
  const faultsFile = join(dir, 'faults.json');
  // Honoured, this would cut validators 0 and 1 apart and no leader could be elected.
  writeFileSync(faultsFile, JSON.stringify({ drop_to: [0, 1, 2], drop_from: [0, 1, 2] }));
  const before = process.env.STELE_FAULTS;
  process.env.STELE_FAULTS = faultsFile;
  const nodes: RunningNode[] = [];
  const fatal: unknown[] = [];
  try {
    const { stderr } = await capturingStderr(async () => {
      nodes.push(await startNode(config(0), (e) => fatal.push(e)));
      nodes.push(await startNode(config(1), (e) => fatal.push(e)));
    });
    assert.equal(await leaderWithin(nodes, 10_000), true, 'the two validators elect a leader: nothing was dropped');
    assert.equal(stderr.split('\n').filter((l) => l === `stele node: ignoring STELE_FAULTS=${faultsFile}: no fault injection; only the test-only config field test_faults_file turns it on`).length, 2, stderr);
    const client = new SteleClient({ url: nodes[0]!.url as string });
    const metrics = await client.metrics();
    assert.equal(sample(metrics, 'stele_test_faults_enabled'), 0);
    assert.equal(sample(metrics, 'stele_test_fault_drops_total{direction="to"}'), 0);
    const status: StatusAnswer = await client.status();
    assert.equal(status.test_faults_enabled, undefined);
    assert.deepEqual(fatal, []);
  } finally {
    if (before === undefined) delete process.env.STELE_FAULTS;
    else process.env.STELE_FAULTS = before;
    for (const n of nodes) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
