/**
 * Acceptor-log compaction in running validators: three validators in one process (an
 * in-memory network), each with the native AcceptorLog on disk and compaction every few
 * blocks. Over many blocks the logs stay bounded; a validator stopped and restarted from
 * its directories replays only the compacted log, keeps its promise, and catches up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareBallots, decodeRecord } from '../../consensus/messages.js';
import { recoverDurable, ZERO_DIGEST } from '../../consensus/replica.js';
import { toHex } from '../../ledger/assert.js';
import { devChain } from '../../ledger/devnet.js';
import { LedgerStore } from '../../ledger/store.js';
import { signTx } from '../../ledger/tx.js';
import { AcceptorLog } from '../../native/mapped-log.js';
import { Validator } from '../../node/validator.js';
import { MemoryNet } from '../support/memory-net.js';

const chain = devChain({ label: 'compaction-test', users: 4 });
const N = 3;
const EVERY_BLOCKS = 8;
/** Records an acceptor log may hold between compactions: a block's accept each, the window, promises, resends. */
const LOG_RECORDS_MAX = EVERY_BLOCKS * 3 + 24;

class Net extends MemoryNet {
  constructor() {
    super(N);
  }
}

interface Running {
  readonly validator: Validator;
  readonly log: AcceptorLog;
  /** Records replayed at open. */
  readonly replayed: number;
  readonly promisedAtOpen: { round: number; leader: number };
}

async function open(dir: string, i: number, net: Net, fatal: unknown[], every: { everyBlocks: number; everyBytes?: number } = { everyBlocks: EVERY_BLOCKS }): Promise<Running> {
  const store = await LedgerStore.open(join(dir, `v${i}`), chain.genesis);
  const log = AcceptorLog.open(join(dir, `v${i}`, 'acceptor'));
  const records = [...log.replay()].map((b) => decodeRecord(b, { replicas: N, valueBytesMax: chain.genesis.limits.block_bytes_max }));
  const durable = recoverDurable(records, 0, ZERO_DIGEST);
  let seed = 4000 + i * 31 + records.length;
  const validator = new Validator({
    genesis: chain.genesis,
    index: i,
    signer: chain.validators[i]!,
    store,
    transport: net.transport(i),
    acceptorLog: log,
    durable,
    compaction: { log, ...every },
    tickMs: 10,
    blockWaitMs: 2,
    random: () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    },
    onFatal: (error) => fatal.push(error),
  });
  validator.start();
  return { validator, log, replayed: records.length, promisedAtOpen: durable.promised };
}

async function close(r: Running): Promise<void> {
  await r.validator.stop();
  await r.log.close();
  await r.validator.ledger.close();
}

test('acceptor-log compaction: bounded logs over many blocks; a restarted validator replays the compacted log, keeps its promise and catches up', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-compaction-'));
  const net = new Net();
  const fatal: unknown[] = [];
  const running: Array<Running | null> = [];
  const users = chain.users;
  let k = 0;
  const transfer = () => {
    k++;
    return signTx({ chainId: chain.genesis.chainId, expiry: 1000, payload: { type: 'transfer', from: users[1 + (k % 3)]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: BigInt(k) } }, [users[1 + (k % 3)]!]);
  };
  /** Commits `blocks` blocks one transaction each through `leader`, checking the logs stay bounded. */
  const commitBlocks = async (leader: Validator, blocks: number, logMax: number[]) => {
    for (let b = 0; b < blocks; b++) {
      const at = await leader.waitForCommit(leader.submit(transfer()).id, 20_000);
      assert.equal(at.index, 0);
      running.forEach((r, i) => {
        if (r !== null) logMax[i] = Math.max(logMax[i]!, r.log.length);
      });
    }
  };
  try {
    for (let i = 0; i < N; i++) running.push(await open(dir, i, net, fatal));
    for (let tries = 0; tries < 500 && !running.some((r) => r!.validator.status().role === 'leader'); tries++) await sleep(10);
    const leaderIndex = running.findIndex((r) => r!.validator.status().role === 'leader');
    assert.ok(leaderIndex >= 0, 'a leader was elected');
    const leader = running[leaderIndex]!.validator;
    const logMax = [0, 0, 0];
    await commitBlocks(leader, 10 * EVERY_BLOCKS, logMax);
    assert.ok(leader.height >= 10 * EVERY_BLOCKS);
    for (let tries = 0; tries < 300 && running.some((r) => r!.validator.height < leader.height); tries++) await sleep(10);
    for (const [i, r] of running.entries()) {
      // Without compaction a log would hold at least one accept per block (80 and more).
      assert.ok(r!.validator.counters.acceptorCompactions >= 5, `validator ${i} compacted ${r!.validator.counters.acceptorCompactions} times`);
      assert.ok(logMax[i]! <= LOG_RECORDS_MAX, `validator ${i}'s log reached ${logMax[i]} records`);
      assert.ok(r!.log.generationNumber >= 5);
    }

    // A follower stops; the others commit more; it restarts from its directories.
    const follower = (leaderIndex + 1) % N;
    const before = running[follower]!.validator.driver.core.status().promised;
    await close(running[follower]!);
    running[follower] = null;
    net.down.add(follower);
    await commitBlocks(leader, 3 * EVERY_BLOCKS, logMax);
    net.down.delete(follower);
    const restarted = await open(dir, follower, net, fatal);
    running[follower] = restarted;
    assert.ok(restarted.replayed <= LOG_RECORDS_MAX, `replayed ${restarted.replayed} records`);
    assert.ok(compareBallots(restarted.promisedAtOpen, before) >= 0, 'the promise survived compaction and restart');
    const target = leader.height;
    for (let tries = 0; tries < 2000 && restarted.validator.height < target; tries++) await sleep(10);
    assert.equal(restarted.validator.height, target, 'the restarted follower caught up');
    assert.equal(toHex(restarted.validator.ledger.tip.hash), toHex(leader.ledger.tip.hash));
    // And it keeps taking part: more blocks commit with it, and its log stays bounded.
    await commitBlocks(leader, 2 * EVERY_BLOCKS, logMax);
    for (let tries = 0; tries < 500 && restarted.validator.height < leader.height; tries++) await sleep(10);
    assert.equal(restarted.validator.height, leader.height);
    assert.ok(restarted.validator.counters.acceptorCompactions >= 1);
    for (const [i, max] of logMax.entries()) assert.ok(max <= LOG_RECORDS_MAX, `validator ${i}'s log reached ${max} records`);
    t.diagnostic(`largest acceptor logs: ${logMax.join(', ')} records; replayed at restart: ${restarted.replayed}`);
    assert.deepEqual(fatal, []);
  } finally {
    for (const r of running) if (r !== null) await close(r);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('acceptor-log compaction by bytes: a log that grew by everyBytes is compacted long before everyBlocks', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-compaction-'));
  const net = new Net();
  const fatal: unknown[] = [];
  const running: Running[] = [];
  const users = chain.users;
  const every = { everyBlocks: 100_000, everyBytes: 8 * 1024 };
  try {
    for (let i = 0; i < N; i++) running.push(await open(dir, i, net, fatal, every));
    for (let tries = 0; tries < 500 && !running.some((r) => r.validator.status().role === 'leader'); tries++) await sleep(10);
    const leader = running.find((r) => r.validator.status().role === 'leader')?.validator;
    assert.ok(leader !== undefined, 'a leader was elected');
    let bytesMax = 0;
    for (let k = 1; k <= 60; k++) {
      const from = users[1 + (k % 3)]!;
      const tx = signTx({ chainId: chain.genesis.chainId, expiry: 1000, payload: { type: 'transfer', from: from.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: BigInt(k) } }, [from]);
      await leader.waitForCommit(leader.submit(tx).id, 20_000);
      for (const r of running) bytesMax = Math.max(bytesMax, r.log.bytesSinceCompaction);
    }
    for (let tries = 0; tries < 300 && running.some((r) => r.validator.height < leader.height); tries++) await sleep(10);
    for (const [i, r] of running.entries()) {
      // Each one-transaction block's accept is a few hundred bytes: 60 of them pass 8 KiB more than once.
      assert.ok(r.validator.counters.acceptorCompactions >= 2, `validator ${i} compacted ${r.validator.counters.acceptorCompactions} times`);
    }
    // A compaction starts on the next block applied after the threshold (one block's records
    // past it at most); a validator's first one waits its phase, up to (N-1)/N of a cycle more.
    assert.ok(bytesMax < every.everyBytes * (1 + (N - 1) / N) + 4096, `a log grew by ${bytesMax} bytes between compactions`);
    assert.deepEqual(fatal, []);
  } finally {
    for (const r of running) await close(r);
    rmSync(dir, { recursive: true, force: true });
  }
});
