import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeMessage, MessageType } from '../../consensus/messages.js';
import { toHex } from '../../ledger/assert.js';
import { verifyChain } from '../../ledger/chain.js';
import { devChain } from '../../ledger/devnet.js';
import { isSteleError } from '../../ledger/errors.js';
import { keyPairFromSeed } from '../../ledger/ed25519.js';
import { balanceOf } from '../../ledger/machine.js';
import { LedgerStore } from '../../ledger/store.js';
import { signTx } from '../../ledger/tx.js';
import { consensusValue, Validator, type ValidatorOptions } from '../../node/validator.js';
import { nodeView } from '../../node/view.js';
import { openValidator as openClusterValidator } from '../support/validator-cluster.js';
import { MemoryNet } from '../support/memory-net.js';

const chain = devChain({ label: 'node-test', users: 8, limits: { block_txs_max: 200 } });
const N = 3;

class Net extends MemoryNet {
  constructor() {
    super(N);
  }
}

/** Validator `i` of this file's chain (test/support/validator-cluster.ts, openValidator). */
function openValidator(dir: string, i: number, net: Net, disks: Uint8Array[][], fatal: unknown[], start = true, extra: Partial<ValidatorOptions> = {}): Promise<Validator> {
  return openClusterValidator(chain, dir, i, net, disks, fatal, start, extra);
}

/**
 * Three started validators with a leader elected; `run` gets them, the network and the fatal
 * errors, then all is closed. Unless `fatalExpected`, no validator may have reported one.
 */
async function withLeader(extra: Partial<ValidatorOptions>, run: (validators: Validator[], leader: number, net: Net, fatal: unknown[]) => Promise<void>, fatalExpected = false): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-node-'));
  const net = new Net();
  const disks: Uint8Array[][] = Array.from({ length: N }, () => []);
  const fatal: unknown[] = [];
  const validators: Validator[] = [];
  try {
    for (let i = 0; i < N; i++) validators.push(await openValidator(dir, i, net, disks, fatal, true, extra));
    for (let t = 0; t < 300 && !validators.some((v) => v.status().role === 'leader'); t++) await sleep(10);
    const leader = validators.findIndex((v) => v.status().role === 'leader');
    assert.ok(leader >= 0, 'a leader was elected');
    await run(validators, leader, net, fatal);
    if (!fatalExpected) assert.deepEqual(fatal, []);
  } finally {
    for (const v of validators) await v.stop();
    for (const v of validators) await v.ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('three validators in one process: transfers through any validator commit once, in the same chain everywhere', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-node-'));
  const net = new Net();
  const disks: Uint8Array[][] = Array.from({ length: N }, () => []);
  const fatal: unknown[] = [];
  const validators: Array<Validator | null> = [];
  try {
    for (let i = 0; i < N; i++) validators.push(await openValidator(dir, i, net, disks, fatal));
    // Wait for a leader.
    for (let t = 0; t < 300 && !validators.some((v) => v!.status().role === 'leader'); t++) await sleep(10);
    const users = chain.users;
    const txs = Array.from({ length: 120 }, (_, k) =>
      signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[1 + (k % 7)]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: BigInt(k + 1) } }, [users[1 + (k % 7)]!]),
    );
    // Every transaction goes to a validator chosen round robin: followers forward.
    const waits = txs.map((tx, k) => {
      const v = validators[k % N]!;
      const { id } = v.submit(tx);
      return v.waitForCommit(id);
    });
    // A refused transaction gets its code at once and never enters the mempool.
    const poor = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[2]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: 10n ** 12n } }, [users[2]!]);
    assert.throws(() => validators[0]!.submit(poor), (e: unknown) => isSteleError(e, 'TX_INSUFFICIENT_BALANCE'));
    const locations = await Promise.race([Promise.all(waits), sleep(30_000, null, { ref: false })]);
    assert.ok(locations !== null, 'all 120 transfers committed within 30 s');
    const seen = new Set(locations.map((l) => `${l.height}/${l.index}`));
    assert.equal(seen.size, 120, 'each at its own place');
    // Let every replica apply the last block.
    const top = Math.max(...validators.map((v) => v!.height));
    for (let t = 0; t < 300 && validators.some((v) => v!.height < top); t++) await sleep(10);
    assert.deepEqual(fatal, []);
    const stores = validators.map((v) => v!.ledger);
    const hashes = stores.map((s) => toHex(s.tip.hash));
    assert.equal(new Set(hashes).size, 1, 'identical chains');
    // The leader stored its own blocks with the execution it did when proposing them.
    const lead = validators.findIndex((v) => v!.status().role === 'leader');
    stores.forEach((s, i) => (i === lead ? assert.ok(s.executionsReused > 0) : assert.equal(s.executionsReused, 0)));
    const expected = 1_000_000n + 120n * 121n / 2n;
    for (const s of stores) assert.equal(balanceOf(s.state, users[0]!.publicKey, 'STL'), expected);
    // The chain passes the auditor from genesis alone.
    const report = await verifyChain(chain.genesis, stores[0]!.blocks());
    assert.equal(report.ok, true, JSON.stringify(report.failure));
    assert.equal(report.transactions, 120);
    assert.equal(await validators[1]!.transaction(toHex(txs[5]!.id)).then((s) => s.status), 'committed');

    // A follower stops; the others go on; it restarts from its directory and catches up.
    const follower = validators.findIndex((v) => v!.status().role !== 'leader');
    const leaderIndex = validators.findIndex((v) => v!.status().role === 'leader');
    await validators[follower]!.stop();
    await stores[follower]!.close();
    net.down.add(follower);
    validators[follower] = null;
    const more = Array.from({ length: 30 }, (_, k) =>
      signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'put', owner: users[1]!.publicKey, key: `k${k}`, value: { kind: 'inline', data: Uint8Array.of(k) } } }, [users[1]!]),
    );
    const moreWaits = more.map((tx) => validators[leaderIndex]!.waitForCommit(validators[leaderIndex]!.submit(tx).id));
    assert.ok((await Promise.race([Promise.all(moreWaits), sleep(30_000, null, { ref: false })])) !== null, 'two of three still commit');
    net.down.delete(follower);
    // Blocks learned by catch-up are verified as an auditor would, every transaction
    // signature included (DESIGN.md; review of 2026-11-30: they were trusted like blocks
    // this replica had accepted). Each store's check options are recorded per block.
    const checked = new Map<LedgerStore, string[]>();
    const before = validators.map((v) => v?.counters.caughtUpBlocks ?? 0); // the stopped one restarts at 0
    const commitMany = LedgerStore.prototype.commitMany;
    LedgerStore.prototype.commitMany = function (this: LedgerStore, blocks, options = {}) {
      const list = checked.get(this) ?? [];
      blocks.forEach((_b, k) => list.push((Array.isArray(options) ? options[k] : options)?.txSignatures ?? 'default'));
      checked.set(this, list);
      return commitMany.call(this, blocks, options);
    } as typeof commitMany;
    try {
      validators[follower] = await openValidator(dir, follower, net, disks, fatal);
      const target = validators[leaderIndex]!.height;
      for (let t = 0; t < 1000 && validators[follower]!.height < target; t++) await sleep(10);
      assert.equal(validators[follower]!.height, target, 'the restarted follower caught up');
      // One more block, accepted live by all three.
      const last = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'put', owner: users[1]!.publicKey, key: 'live', value: { kind: 'inline', data: Uint8Array.of(1) } } }, [users[1]!]);
      await validators[leaderIndex]!.waitForCommit(validators[leaderIndex]!.submit(last).id);
      for (let t = 0; t < 1000 && validators.some((v) => v!.height < target + 1); t++) await sleep(10);
    } finally {
      LedgerStore.prototype.commitMany = commitMany;
    }
    const caughtUp = validators[follower]!.counters.caughtUpBlocks;
    assert.ok(caughtUp > 0, 'the restarted follower learned blocks by catch-up');
    const restartedChecks = checked.get(validators[follower]!.ledger) ?? [];
    assert.equal(restartedChecks.filter((x) => x === 'verify').length, caughtUp, JSON.stringify(restartedChecks));
    // Blocks accepted live are not verified again (the admitting validator did). A live
    // replica may also learn a block by catch-up, when a leader change or a slow delivery
    // made it miss the accept (CI of 2026-12-02 saw one on a loaded machine); those, and
    // only those, are verified on every replica.
    let trusted = 0;
    for (const [i, v] of validators.entries()) {
      const list = checked.get(v!.ledger) ?? [];
      assert.equal(list.filter((x) => x === 'verify').length, v!.counters.caughtUpBlocks - before[i]!, JSON.stringify(list));
      trusted += list.filter((x) => x === 'trusted').length;
    }
    assert.ok(trusted > 0, 'the live replicas trusted the blocks they accepted');
    const restarted = validators[follower]!.ledger;
    assert.equal(toHex(restarted.tip.hash), toHex(validators[leaderIndex]!.ledger.tip.hash));
    assert.deepEqual(fatal, []);
  } finally {
    for (const v of validators) await v?.stop();
    for (const v of validators) await v?.ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a follower sends a pending transaction again when its forward was lost, and it commits', async () => {
  await withLeader({ reforwardMs: 300 }, async (validators, leader, net) => {
    const follower = (leader + 1) % N;
    for (let t = 0; t < 300 && validators[follower]!.status().leader !== leader; t++) await sleep(10);
    // The follower's forwards (channel 1) to the leader are lost, as on a broken connection.
    let dropped = 0;
    net.drop = (from, to, bytes) => {
      const lost = from === follower && to === leader && bytes[0] === 1;
      if (lost) dropped++;
      return lost;
    };
    const users = chain.users;
    const tx = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[3]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: 7n } }, [users[3]!]);
    const { id } = validators[follower]!.submit(tx);
    const committed = validators[follower]!.waitForCommit(id, 20_000);
    await sleep(150);
    assert.ok(dropped >= 1, 'the forward was lost');
    assert.equal((await validators[follower]!.transaction(id)).status, 'pending');
    net.drop = null;
    const at = await committed;
    assert.ok(at.height >= 1);
    assert.ok(validators[follower]!.counters.reforwarded >= 1, 'it was sent again');
  });
});

test('forwards wait, in order, while the leader is unreachable, and those lost with the link go again once it is back, not reforwardMs later (2026-12-02)', async () => {
  // reforwardMs of a minute: a forward that commits within seconds was not sent by its timer.
  await withLeader({ reforwardMs: 60_000 }, async (validators, leader, net) => {
    const follower = (leader + 1) % N;
    const F = validators[follower]!;
    for (let t = 0; t < 300 && F.status().leader !== leader; t++) await sleep(10);
    // Forwards (channel 1) from the follower to the leader are lost while `cut`, as the
    // native transport drops what waits for a peer unreachable for 2 s.
    let cut = true;
    let dropped = 0;
    net.drop = (from, to, bytes) => {
      const lost = cut && from === follower && to === leader && bytes[0] === 1;
      if (lost) dropped++;
      return lost;
    };
    const users = chain.users;
    const pay = (from: number, amount: bigint) => signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount } }, [users[from]!]);
    // 1. Lost on a link still up: then the link goes (peerUp false) and comes back.
    const lost = pay(3, 7n);
    const lostCommitted = F.waitForCommit(F.submit(lost).id, 20_000);
    lostCommitted.catch(() => {}); // awaited below; an assertion failing first must show as itself
    await sleep(100);
    // Once, or twice when the follower took in the leader's term after the submission
    // (forwardOnLeaderChange sends everything pending to a new term once).
    assert.ok(dropped >= 1, 'sent, and lost');
    net.unreachable = (from, to) => from === follower && to === leader;
    await sleep(600); // two reforward checks see the leader unreachable
    const sentBefore = dropped;
    // 2. Admitted while the leader is unreachable: not sent into the gap, but held.
    const held = pay(4, 8n);
    const heldCommitted = F.waitForCommit(F.submit(held).id, 20_000);
    heldCommitted.catch(() => {}); // awaited below; an assertion failing first must show as itself
    assert.equal(dropped, sentBefore, 'nothing more sent towards an unreachable leader');
    assert.equal((await F.transaction(toHex(held.id))).status, 'pending');
    // The link is back: both go, the older first, long before reforwardMs.
    cut = false;
    net.unreachable = null;
    const backAt = Date.now();
    const order: string[] = [];
    net.drop = (from, to, bytes) => {
      if (from === follower && to === leader && bytes[0] === 1) {
        const sent = Buffer.from(bytes.subarray(1));
        order.push(sent.equals(lost.bytes) ? 'lost' : sent.equals(held.bytes) ? 'held' : 'other');
      }
      return false;
    };
    const both = await Promise.race([Promise.all([lostCommitted, heldCommitted]), sleep(10_000, null, { ref: false })]);
    assert.ok(both !== null, 'both committed within 10 s of the link coming back (reforwardMs is 60 s)');
    assert.ok(Date.now() - backAt < 10_000);
    assert.deepEqual(order.slice(0, 2), ['lost', 'held'], 'the one lost with the link first');
    net.drop = null;
  });
});

test('a forward lost when the link to the leader was replaced (no sight of it down) goes again before a later admission (review of 2026-12-02)', async () => {
  await withLeader({ reforwardMs: 60_000 }, async (validators, leader, net) => {
    const follower = (leader + 1) % N;
    const F = validators[follower]!;
    for (let t = 0; t < 300 && F.status().leader !== leader; t++) await sleep(10);
    const users = chain.users;
    const pay = (from: number, amount: bigint) => signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount } }, [users[from]!]);
    // Lost on its way; then the connection is replaced (its close counted), as when a
    // connection breaks with data in flight and is redialled at once.
    let losing = true;
    const order: string[] = [];
    const lost = pay(5, 3n);
    const later = pay(6, 4n);
    net.drop = (from, to, bytes) => {
      if (!(from === follower && to === leader && bytes[0] === 1)) return false;
      const sent = Buffer.from(bytes.subarray(1));
      if (losing) return true;
      order.push(sent.equals(lost.bytes) ? 'lost' : sent.equals(later.bytes) ? 'later' : 'other');
      return false;
    };
    const lostCommitted = F.waitForCommit(F.submit(lost).id, 20_000);
    lostCommitted.catch(() => {}); // awaited below
    await sleep(50);
    losing = false;
    net.relink(follower, leader);
    const laterCommitted = F.waitForCommit(F.submit(later).id, 20_000);
    laterCommitted.catch(() => {});
    const both = await Promise.race([Promise.all([lostCommitted, laterCommitted]), sleep(10_000, null, { ref: false })]);
    assert.ok(both !== null, 'both committed within 10 s (reforwardMs is 60 s)');
    assert.deepEqual(order.slice(0, 2), ['lost', 'later'], 'the lost one first');
    net.drop = null;
  });
});

/** Transfer k: from user k+1 to user 0 (distinct senders, so any order commits). */
function transfer(k: number): ReturnType<typeof signTx> {
  const users = chain.users;
  return signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[1 + k]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: BigInt(k + 1) } }, [users[1 + k]!]);
}

/**
 * blockWaitMs of the two block-wait tests below: long enough that "at once" (under half of
 * it) holds for a commit on a loaded machine. It was 1 s, with "at once" under 700 ms,
 * which a loaded CI machine can exceed (review of 2026-12-02).
 */
const LONG_WAIT_MS = 4_000;

test('a leader cuts a block at once when none of its blocks awaits a commit, and otherwise waits blockWaitMs for more', async () => {
  await withLeader({ blockWaitMs: LONG_WAIT_MS, busy: () => false }, async (validators, leader, net) => {
    const v = validators[leader]!;
    // An idle pipeline: the block is cut (and committed) long before blockWaitMs.
    const started = Date.now();
    await v.waitForCommit(v.submit(transfer(0)).id, 20_000);
    assert.ok(Date.now() - started < LONG_WAIT_MS / 2, `committed ${Date.now() - started} ms after submission`);
    // The leader's ACCEPTs are lost (channel 0, type 3 after the version byte), so a block
    // cut now stays in flight; heartbeats still keep the leadership.
    net.drop = (from, _to, bytes) => from === leader && bytes[0] === 0 && bytes[2] === 3;
    const before = v.counters.proposedBlocks;
    const second = v.waitForCommit(v.submit(transfer(1)).id, 20_000);
    for (let t = 0; t < 50 && v.counters.proposedBlocks === before; t++) await sleep(10);
    assert.equal(v.counters.proposedBlocks, before + 1, 'cut at once: nothing was in flight');
    const third = v.waitForCommit(v.submit(transfer(2)).id, 20_000);
    const heldAt = Date.now();
    await sleep(300);
    assert.equal(v.counters.proposedBlocks, before + 1, 'a block in flight: the next one waits to fill');
    for (let t = 0; t < LONG_WAIT_MS / 10 + 300 && v.counters.proposedBlocks === before + 1; t++) await sleep(10);
    assert.equal(v.counters.proposedBlocks, before + 2, 'cut once the oldest waited blockWaitMs');
    assert.ok(Date.now() - heldAt >= LONG_WAIT_MS - 100, `the second cut came ${Date.now() - heldAt} ms after the submission`);
    net.drop = null;
    await Promise.all([second, third]);
  });
});

test('a busy leader cuts no sooner than blockWaitMs after its last block, even with none in flight; an idle one at once', async () => {
  let busy = true;
  await withLeader({ blockWaitMs: LONG_WAIT_MS, busy: () => busy }, async (validators, leader) => {
    const v = validators[leader]!;
    // The first block of this leader: nothing cut before it, so no wait.
    const firstAt = Date.now();
    await v.waitForCommit(v.submit(transfer(0)).id, 20_000);
    assert.ok(Date.now() - firstAt < LONG_WAIT_MS / 2, `first block committed ${Date.now() - firstAt} ms after submission`);
    // Right after that commit nothing is in flight, but the leader is busy: the next block
    // waits until blockWaitMs after the first cut.
    const before = v.counters.proposedBlocks;
    const deferredBefore = v.counters.cutsDeferred;
    const second = v.waitForCommit(v.submit(transfer(1)).id, 20_000);
    second.catch(() => {}); // awaited below (as `more`)
    await sleep(150);
    assert.equal(v.counters.proposedBlocks, before, 'a busy leader did not cut at once');
    assert.equal(v.counters.cutsDeferred, deferredBefore + 1, 'the put-off cut is counted');
    // More submissions while it waits, each in its own turn (each schedules a check): the
    // same deferral, counted once (found in review: each check counted another).
    const more: Array<Promise<unknown>> = [];
    for (const k of [3, 4, 5]) {
      const wait = v.waitForCommit(v.submit(transfer(k)).id, 20_000);
      // Awaited below; a failed assertion before then must not show as this rejection.
      wait.catch(() => {});
      more.push(wait);
      await sleep(30);
    }
    await sleep(60);
    assert.equal(v.counters.proposedBlocks, before, 'still put off');
    assert.equal(v.counters.cutsDeferred, deferredBefore + 1, 'one block put off, counted once');
    await Promise.all([second, ...more]);
    assert.equal(v.counters.proposedBlocks, before + 1, 'the put-off block took all four');
    const secondGap = Date.now() - firstAt;
    assert.ok(secondGap >= LONG_WAIT_MS - 50, `the second block committed ${secondGap} ms after the first submission`);
    // No longer busy: the next transaction gets its block at once again.
    busy = false;
    const thirdAt = Date.now();
    await v.waitForCommit(v.submit(transfer(2)).id, 20_000);
    assert.ok(Date.now() - thirdAt < LONG_WAIT_MS / 2, `third block committed ${Date.now() - thirdAt} ms after submission`);
    // Each of the six was submitted here and timed once; each of the three blocks was proposed here.
    const count = (h: Validator['commitSeconds']): number => Number(h.metric('x', 'x').samples.find((x) => x.suffix === '_count')?.value ?? 0);
    assert.equal(count(v.commitSeconds), 6);
    assert.equal(count(v.blockSeconds), 3);
    for (const other of validators.filter((o) => o !== v)) assert.equal(count(other.blockSeconds), 0, 'followers propose nothing');
  });
});

test('a leader admits forwarded transactions without a dry run, puts them in a block as failed if need be, and drops copies of committed ones', async () => {
  await withLeader({}, async (validators, leader, net) => {
    const follower = (leader + 1) % N;
    for (let t = 0; t < 300 && validators[follower]!.status().leader !== leader; t++) await sleep(10);
    const users = chain.users;
    const pay = (from: number, to: number, amount: bigint) =>
      signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to: users[to]!.publicKey, amount } }, [users[from]!]);
    const L = validators[leader]!;
    const forwards = (): number => L.counters.forwardedAdmitted;
    // Through the follower: admitted by the leader as forwarded, committed.
    const ok = pay(2, 1, 5n);
    await validators[follower]!.waitForCommit(validators[follower]!.submit(ok).id, 10_000);
    assert.equal(forwards(), 1);
    // A forward the leader's state would refuse (the follower's dry run passed on its own
    // state): the leader admits it, and its block records it as failed.
    const balance = balanceOf(L.ledger.state, users[6]!.publicKey, 'STL');
    const tooMuch = pay(6, 0, balance + 1n);
    const refusedBefore = L.counters.refused;
    const failedBefore = L.counters.failedTxs;
    net.transport(follower).send(leader, Uint8Array.from([1, ...tooMuch.bytes]));
    for (let t = 0; t < 300 && (await L.transaction(toHex(tooMuch.id))).status !== 'failed'; t++) await sleep(10);
    const status = await L.transaction(toHex(tooMuch.id));
    assert.equal(status.status, 'failed');
    assert.equal(status.status === 'failed' ? status.code : null, 'TX_INSUFFICIENT_BALANCE');
    assert.equal(forwards(), 2);
    assert.equal(L.counters.failedTxs, failedBefore + 1);
    assert.equal(balanceOf(L.ledger.state, users[6]!.publicKey, 'STL'), balance, 'a failed transfer moves nothing');
    // A copy of a committed transaction (a follower's late reforward) is dropped on arrival:
    // not admitted, not refused, still reported committed.
    net.transport(follower).send(leader, Uint8Array.from([1, ...ok.bytes]));
    // A marker forward sent after it: once the marker is admitted, the copy was handled.
    const marker = pay(3, 1, 1n);
    net.transport(follower).send(leader, Uint8Array.from([1, ...marker.bytes]));
    for (let t = 0; t < 500 && (await L.transaction(toHex(marker.id))).status === 'unknown'; t++) await sleep(10);
    assert.notEqual((await L.transaction(toHex(marker.id))).status, 'unknown', 'the marker arrived');
    assert.equal(forwards(), 3, 'the marker was admitted, the copy of a committed one was not');
    assert.equal(L.counters.refused, refusedBefore);
    assert.equal((await L.transaction(toHex(ok.id))).status, 'committed');
  });
});

test('two transfers that pass admission alone but not together: one commits, the other is in the chain as failed, on every replica', async () => {
  await withLeader({ reforwardMs: 300 }, async (validators, leader) => {
    const follower = (leader + 1) % N;
    for (let t = 0; t < 300 && validators[follower]!.status().leader !== leader; t++) await sleep(10);
    const users = chain.users;
    const F = validators[follower]!;
    const balance = balanceOf(F.ledger.state, users[7]!.publicKey, 'STL');
    const pay = (amount: bigint, to: number) =>
      signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[7]!.publicKey, asset: 'STL', to: users[to]!.publicKey, amount } }, [users[7]!]);
    // Each alone fits the balance; both together do not. The leader applies one and records
    // the other as failed; the follower's waiter hears it when the block commits.
    const first = pay(balance - 10n, 1);
    const second = pay(balance - 11n, 2);
    F.submit(first);
    F.submit(second);
    const waits = [first, second].map((t) =>
      F.waitForCommit(toHex(t.id), 10_000).then(
        (at) => ({ ok: true as const, at }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
    );
    const settled = async () => {
      const a = await F.transaction(toHex(first.id));
      const b = await F.transaction(toHex(second.id));
      return a.status !== 'pending' && b.status !== 'pending';
    };
    for (let t = 0; t < 500 && !(await settled()); t++) await sleep(10);
    const outcomes = [(await F.transaction(toHex(first.id))).status, (await F.transaction(toHex(second.id))).status].sort();
    assert.deepEqual(outcomes, ['committed', 'failed'], 'one committed, the other failed, on the follower too');
    const failed = [await F.transaction(toHex(first.id)), await F.transaction(toHex(second.id))].find((s) => s.status === 'failed');
    assert.ok(failed?.status === 'failed');
    assert.equal(failed.code, 'TX_INSUFFICIENT_BALANCE');
    // The waiter of the failed one was rejected with its code and its place in the chain.
    const answers = await Promise.all(waits);
    const rejected = answers.find((a) => !a.ok);
    assert.ok(rejected !== undefined && !rejected.ok && isSteleError(rejected.error, 'TX_INSUFFICIENT_BALANCE'));
    assert.deepEqual({ height: rejected.error.details.height, index: rejected.error.details.index }, { height: failed.height, index: failed.index });
    // Every replica holds the same outcomes.
    const failedId = (await F.transaction(toHex(first.id))).status === 'failed' ? first.id : second.id;
    const appliedId = failedId === first.id ? second.id : first.id;
    for (const v of validators) {
      for (let t = 0; t < 300 && v.ledger.height < failed.height; t++) await sleep(10);
      assert.deepEqual(await v.transaction(toHex(failedId)), failed);
      assert.equal((await v.transaction(toHex(appliedId))).status, 'committed');
    }
  });
});

test('a batch admits its items in order: a later item may rely on an earlier one (register, then pay)', async () => {
  await withLeader({}, async (validators, leader) => {
    const follower = (leader + 1) % N;
    for (let t = 0; t < 300 && validators[follower]!.status().leader !== leader; t++) await sleep(10);
    const users = chain.users;
    const newcomer = keyPairFromSeed(new Uint8Array(32).fill(77)).publicKey;
    const register = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'register', publicKey: newcomer, name: 'newcomer', roles: 0 } }, [users[0]!]);
    const pay = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[3]!.publicKey, asset: 'STL', to: newcomer, amount: 9n } }, [users[3]!]);
    const F = validators[follower]!;
    // Alone, the payment is refused: the recipient is not registered yet.
    assert.throws(() => F.submit(pay), (e: unknown) => isSteleError(e, 'TX_UNKNOWN_RECIPIENT'));
    const results = await F.submitMany([register, pay]);
    for (const r of results) assert.ok(!isSteleError(r), `refused: ${String(r)}`);
    await F.waitForCommit(toHex(pay.id), 10_000);
    assert.equal(balanceOf(F.ledger.state, newcomer, 'STL'), 9n);
  });
});

test('a transaction that fails at the cut is final: its waiter gets the code with its place, and it can never commit later', async () => {
  await withLeader({}, async (validators, index) => {
    const leader = validators[index]!;
    const users = chain.users;
    const pay = (from: number, to: number, amount: bigint) =>
      signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to: users[to]!.publicKey, amount } }, [users[from]!]);
    const before = balanceOf(leader.ledger.state, users[4]!.publicKey, 'STL');
    // Both pass admission against the committed state; only one fits the balance in a block.
    const a = pay(4, 0, before - 10n);
    const b = pay(4, 0, before - 11n);
    const idA = leader.submit(a).id;
    const idB = leader.submit(b).id;
    let failure: unknown;
    const failedB = leader.waitForCommit(idB, 10_000).catch((e: unknown) => {
      failure = e;
    });
    const atA = await leader.waitForCommit(idA, 10_000);
    await failedB;
    assert.ok(isSteleError(failure, 'TX_INSUFFICIENT_BALANCE'), String(failure));
    const status = await leader.transaction(idB);
    assert.ok(status.status === 'failed');
    assert.deepEqual({ height: failure.details.height, index: failure.details.index }, { height: status.height, index: status.index });
    assert.equal(status.height, atA.height, 'in the same block as the one that spent the balance');
    // Funded again, the same transaction is refused at admission: its id is used up.
    await leader.waitForCommit(leader.submit(pay(5, 4, before)).id, 10_000);
    assert.throws(() => leader.submit(b), (e: unknown) => isSteleError(e, 'TX_DUPLICATE'));
    assert.equal((await leader.transaction(idB)).status, 'failed');
    // Through the API's view of the node: a resubmission answers the outcome in the chain,
    // a wait answers it at once, and the block lists its failed transaction.
    const view = nodeView(leader, () => 'up');
    const place = { height: status.height, index: status.index };
    const samePlace = (e: unknown, code: string): boolean => isSteleError(e, code as never) && e.details.height === place.height && e.details.index === place.index;
    await assert.rejects(view.submit(b), (e: unknown) => samePlace(e, 'TX_INSUFFICIENT_BALANCE'));
    await assert.rejects(view.waitForCommit(b.id, 1000), (e: unknown) => samePlace(e, 'TX_INSUFFICIENT_BALANCE'));
    const [again] = await view.submitMany!([b]);
    assert.ok(samePlace(again, 'TX_INSUFFICIENT_BALANCE'));
    await assert.rejects(view.submit(a), (e: unknown) => isSteleError(e, 'TX_DUPLICATE') && e.details.height === atA.height && e.details.index === atA.index);
    assert.deepEqual(await view.blockFailures!(status.height), [{ index: status.index, code: 'TX_INSUFFICIENT_BALANCE' }]);
    assert.deepEqual(await view.blockFailures!(status.height + 1), []);
  });
});

test('submitMany admits a batch exactly as submit does one by one: same ids, same refusal codes, in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-node-many-'));
  const fatal: unknown[] = [];
  // Two validators that are never started: no leader, so nothing is forwarded.
  const one = await openValidator(join(dir, 'one'), 0, new Net(), [[], [], []], fatal, false);
  const many = await openValidator(join(dir, 'many'), 0, new Net(), [[], [], []], fatal, false);
  try {
    const users = chain.users;
    const tx = (from: number, amount: bigint, to = 0) =>
      signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to: users[to]!.publicKey, amount } }, [users[from]!]);
    const forged = (t: ReturnType<typeof tx>) => {
      const signatures = t.signatures.map((s) => Uint8Array.from(s));
      (signatures[0] as Uint8Array)[5]! ^= 1;
      return { ...t, signatures };
    };
    const stranger = devChain({ label: 'someone-else', users: 2 }).users[1]!;
    const unknown = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: stranger.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: 1n } }, [stranger]);
    const batch = [
      tx(1, 5n),
      forged(tx(2, 6n)), // bad signature
      forged(unknown), // unknown signer and a bad signature: the signature is checked first (it decides alone)
      tx(3, 10n ** 12n), // insufficient balance
      tx(4, 7n),
      tx(4, 7n), // the same transaction again: admitted once, same id
      forged(tx(5, 10n ** 12n)), // insufficient balance and a bad signature: the signature is checked first
    ];
    const expected = batch.map((t) => {
      try {
        return one.submit(t).id;
      } catch (error) {
        return isSteleError(error) ? error.code : 'THROWN';
      }
    });
    assert.deepEqual(expected, [toHex(batch[0]!.id), 'TX_BAD_SIGNATURE', 'TX_BAD_SIGNATURE', 'TX_INSUFFICIENT_BALANCE', toHex(batch[4]!.id), toHex(batch[4]!.id), 'TX_BAD_SIGNATURE']);
    const got = (await many.submitMany(batch)).map((o) => (isSteleError(o) ? o.code : o.id));
    assert.deepEqual(got, expected);
    assert.equal(many.mempoolSize, one.mempoolSize);
    assert.deepEqual(fatal, []);
  } finally {
    await one.ledger.close();
    await many.ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an index write that fails behind a commit stops the validator through onFatal (a full disk exits 75 that way)', async () => {
  await withLeader(
    {},
    async (validators, _leader, _net, fatal) => {
      // Every index write of validator 0's store fails from now on (LevelDB's words for ENOSPC).
      const full = new Error('IO error: No space left on device');
      const db = (validators[0]!.ledger as unknown as { db: { batch: () => { write: unknown; close: () => Promise<void> } } }).db;
      const realBatch = db.batch.bind(db);
      db.batch = () => {
        const batch = realBatch();
        batch.write = async () => {
          await batch.close();
          throw full;
        };
        return batch;
      };
      const users = chain.users;
      const tx = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[1]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: 5n } }, [users[1]!]);
      const { id } = validators[1]!.submit(tx);
      // The commit itself succeeds everywhere (the block is durable in validator 0's log too);
      // the write behind it fails, and validator 0 reports it as fatal.
      await validators[1]!.waitForCommit(id, 10_000);
      for (let t = 0; t < 500 && fatal.length === 0; t++) await sleep(10);
      assert.deepEqual(fatal, [full]);
    },
    true,
  );
});

test('review fixes of 2026-11-30: an expired resubmission of a committed transaction answers its place; forwards are not dropped at the leader own bound; a wait after a refusal gets it at once', async () => {
  await withLeader({ mempoolMax: 2 }, async (validators, index) => {
    const leader = validators[index]!;
    const users = chain.users;
    const view = nodeView(leader, () => 'up');
    const pay = (from: number, to: Uint8Array, amount: bigint, expiry = 500) =>
      signTx({ chainId: chain.genesis.chainId, expiry, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to, amount } }, [users[from]!]);

    // 1. Committed, then resubmitted once the height has passed its expiry: the admission
    // check says TX_EXPIRED before it looks for the id, but the chain holds it.
    const expiry = leader.ledger.height + 2;
    const t = pay(1, users[0]!.publicKey, 1n, expiry);
    const at = await leader.waitForCommit(leader.submit(t).id, 10_000);
    for (let k = 1n; leader.ledger.height <= expiry; k++) await leader.waitForCommit(leader.submit(pay(2, users[0]!.publicKey, k)).id, 10_000);
    assert.throws(() => leader.submit(t), (e: unknown) => isSteleError(e, 'TX_EXPIRED'));
    const samePlace = (e: unknown): boolean => isSteleError(e, 'TX_DUPLICATE') && e.details.height === at.height && e.details.index === at.index;
    await assert.rejects(view.submit(t), samePlace);
    const [again] = await view.submitMany!([t]);
    assert.ok(samePlace(again), String(again));
    // One that never committed is still expired.
    const late = pay(3, users[0]!.publicKey, 1n, leader.ledger.height);
    await assert.rejects(view.submit(late), (e: unknown) => isSteleError(e, 'TX_EXPIRED'));

    // 2. The leader's mempool at its own bound (2): a follower's forwards still go in, so a
    // batch's later item never reaches a block without the earlier one it relies on.
    const newcomer = keyPairFromSeed(new Uint8Array(32).fill(91)).publicKey;
    const register = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'register', publicKey: newcomer, name: 'late-comer', roles: 0 } }, [users[0]!]);
    const fund = pay(4, newcomer, 5n);
    const fillers = [pay(5, users[0]!.publicKey, 1n), pay(6, users[0]!.publicKey, 1n)];
    // Synchronous: no cut runs in between, so the mempool is full when the forward comes.
    for (const f of fillers) leader.submit(f);
    assert.throws(() => leader.submit(pay(7, users[0]!.publicKey, 1n)), (e: unknown) => isSteleError(e, 'MEMPOOL_FULL'));
    const forwarded = leader as unknown as { onForwarded(messages: readonly { from: number; bytes: Uint8Array }[]): void }; // the transport's entry, called directly
    const from = (index + 1) % N;
    forwarded.onForwarded([{ from, bytes: register.bytes }]);
    assert.equal(leader.mempoolSize, 3, 'the forward was admitted past the leader own bound');
    await leader.waitForCommit(toHex(fillers[0]!.id), 10_000);
    forwarded.onForwarded([{ from, bytes: fund.bytes }]);
    await leader.waitForCommit(toHex(fund.id), 10_000);
    assert.equal(balanceOf(leader.ledger.state, newcomer, 'STL'), 5n);

    // 3. A refusal recorded before the wait starts (a commit ran between submit and the
    // wait) is answered at once, not after the wait's timeout.
    const refused = pay(3, users[0]!.publicKey, 2n);
    (leader as unknown as { refuse(id: string, code: string, reason: string): void }).refuse(toHex(refused.id), 'TX_EXPIRED', 'expiry 1 is before height 9');
    const started = performance.now();
    await assert.rejects(leader.waitForCommit(toHex(refused.id), 5_000), (e: unknown) => isSteleError(e, 'TX_EXPIRED'));
    assert.ok(performance.now() - started < 1_000, 'answered without waiting');
  });
});

test('a peer ACCEPT whose value is not a block of this height is garbage to a follower: no throw, no vote, and the chain goes on (review of 2026-11-30)', async () => {
  await withLeader({}, async (validators, leader, net) => {
    const users = chain.users;
    const pay = (from: number, amount: bigint) => signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount } }, [users[from]!]);
    await validators[leader]!.waitForCommit(validators[leader]!.submit(pay(1, 1n)).id, 10_000);
    const target = (leader + 1) % N;
    const rogue = (leader + 2) % N;
    const core = validators[target]!.driver.core;
    const { promised, commitIndex } = core.status();
    const ballot = { round: promised.round + 1, leader: rogue };
    const accepts = [
      // One byte: the header does not decode (sign threw ENC_BAD_VERSION out of the transport before the fix).
      encodeMessage({ type: MessageType.Accept, ballot, slot: commitIndex + 1, leaderCommit: commitIndex, prevDigest: core.committedDigest(), value: Uint8Array.of(0) }),
      // A real block, at another height: leaderCommit = slot - 1 lets any prevDigest through the no-gap rule.
      encodeMessage({ type: MessageType.Accept, ballot, slot: commitIndex + 2, leaderCommit: commitIndex + 1, prevDigest: new Uint8Array(32), value: consensusValue(validators[leader]!.ledger.block(1)) }),
    ];
    const garbage = core.counters.garbage;
    for (const bytes of accepts) {
      const framed = new Uint8Array(bytes.length + 1); // channel 0: consensus
      framed.set(bytes, 1);
      assert.doesNotThrow(() => net.handlers[target]!([{ from: rogue, bytes: framed }]));
    }
    assert.equal(core.counters.garbage, garbage + accepts.length);
    assert.deepEqual(core.status().promised, promised, 'no promise made to the rogue ballot');
    await validators[target]!.waitForCommit(validators[target]!.submit(pay(2, 2n)).id, 10_000);
  });
});
