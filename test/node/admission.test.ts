/**
 * Admission and forwarding between validators: forwards reach the leader in the order they
 * were admitted, intervals run on a monotonic clock, batches dry-run pending items, and
 * input from peers is bounded (review of node/validator.ts's admission side, 2026-12).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bytesEqual, toHex } from '../../ledger/assert.js';
import { devChain } from '../../ledger/devnet.js';
import { keyPairFromSeed } from '../../ledger/ed25519.js';
import { isSteleError } from '../../ledger/errors.js';
import { contractKeys, dueAt } from '../../ledger/contract-state.js';
import { balanceOf } from '../../ledger/machine.js';
import { signTx, type Tx } from '../../ledger/tx.js';
import type { Validator } from '../../node/validator.js';
import { MemoryNet } from '../support/memory-net.js';
import { eventually, openValidator, withLeader } from '../support/validator-cluster.js';

const chain = devChain({ label: 'admission-test', users: 8, limits: { block_txs_max: 200 } });
const users = chain.users;

function pay(from: number, to: Uint8Array, amount: bigint, expiry = 500): Tx {
  return signTx({ chainId: chain.genesis.chainId, expiry, payload: { type: 'transfer', from: users[from]!.publicKey, asset: 'STL', to, amount } }, [users[from]!]);
}

/** A batch [register a newcomer, pay the newcomer]: the payment relies on the registration. */
function registerThenPay(seed: number): { register: Tx; payment: Tx; newcomer: Uint8Array } {
  const newcomer = keyPairFromSeed(new Uint8Array(32).fill(seed)).publicKey;
  const register = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'register', publicKey: newcomer, name: `newcomer${seed}`, roles: 0 } }, [users[0]!]);
  return { register, payment: pay(3, newcomer, 9n), newcomer };
}

/** A forward as it travels between validators: channel 1, then the transaction. */
function forward(tx: Tx): Uint8Array {
  return Uint8Array.from([1, ...tx.bytes]);
}

const isForwardOf = (bytes: Uint8Array, tx: Tx): boolean => bytes[0] === 1 && bytesEqual(bytes.subarray(1), tx.bytes);

const statusAt = async (v: Validator, tx: Tx): Promise<string> => (await v.transaction(toHex(tx.id))).status;

test('a forward the transport refuses (full send queue) goes before everything admitted after it: a batch [register X, pay X] commits in order', async () => {
  await withLeader(chain, { reforwardMs: 300 }, async ({ validators, leader, net }) => {
    const F = validators[(leader + 1) % validators.length]!;
    const follower = (leader + 1) % validators.length;
    const L = validators[leader]!;
    const { register, payment, newcomer } = registerThenPay(61);
    // The follower's send queue to the leader has no room for the registration (about
    // 8 KiB on a real chain) while the small payment would still fit.
    let refused = 0;
    net.refuse = (from, to, bytes) => {
      const full = from === follower && to === leader && isForwardOf(bytes, register);
      if (full) refused++;
      return full;
    };
    const results = await F.submitMany([register, payment]);
    for (const r of results) assert.ok(!isSteleError(r), `refused: ${String(r)}`);
    // For a while the queue stays full: the reforward passes try the registration again and
    // stop there, so the payment never reaches the leader ahead of it.
    await sleep(700);
    assert.ok(refused >= 2, `the registration was refused ${refused} times`);
    assert.equal(await statusAt(L, payment), 'unknown', 'the payment did not overtake the registration');
    assert.ok(F.counters.forwardsUnsent >= 2);
    net.refuse = null;
    const at = await F.waitForCommit(toHex(payment.id), 10_000);
    const registered = await F.location(toHex(register.id));
    assert.ok(registered !== undefined && registered.failed === null);
    assert.ok(registered.height < at.height || (registered.height === at.height && registered.index < at.index), 'registered before it was paid');
    assert.equal(balanceOf(F.ledger.state, newcomer, 'STL'), 9n);
  });
});

test('a leader at its bound for forwards holds back a peer whose forward it dropped until that forward comes again: the later item never overtakes it', async () => {
  await withLeader(chain, { mempoolMax: 1 }, async ({ validators, leader, net }) => {
    const n = validators.length;
    const follower = (leader + 1) % n;
    const other = (leader + 2) % n;
    const L = validators[leader]!;
    const deliver = (from: number, txs: Tx[]): void => net.handlers[leader]!(txs.map((tx) => ({ from, bytes: forward(tx) })));
    const { register, payment, newcomer } = registerThenPay(62);
    // Another validator's forwards fill the leader to its bound for forwards (the validators'
    // count times mempoolMax: 3), in one turn so that no block is cut in between.
    const fillers = [pay(5, users[0]!.publicKey, 1n), pay(6, users[0]!.publicKey, 1n), pay(7, users[0]!.publicKey, 1n)];
    deliver(other, fillers);
    assert.equal(L.mempoolSize, 3);
    deliver(follower, [register]); // dropped at the bound: the follower sends it again later
    assert.equal(await statusAt(L, register), 'unknown');
    assert.ok(await eventually(async () => (await Promise.all(fillers.map((f) => statusAt(L, f)))).every((s) => s === 'committed')));
    // Room again, but the payment arrives before the registration's second forward.
    deliver(follower, [payment]);
    await sleep(100);
    assert.equal(await statusAt(L, payment), 'unknown', 'held back: it would overtake the registration');
    // The follower's reforward: the registration first, then the payment.
    deliver(follower, [register]);
    deliver(follower, [payment]);
    assert.ok(await eventually(async () => (await statusAt(L, payment)) !== 'pending'));
    assert.equal(await statusAt(L, payment), 'committed');
    assert.equal(balanceOf(L.ledger.state, newcomer, 'STL'), 9n);
    assert.equal(L.counters.forwardsDroppedFull, 1);
    assert.equal(L.counters.forwardsHeldBack, 1);
  });
});

test('a wall clock stepped back (NTP) stops neither a busy leader\'s cuts nor the reforward safety net: intervals run on a monotonic clock', async () => {
  const wall = Date.now;
  let back = 0;
  // Before the validators are built: they take Date.now as their wall clock then.
  Date.now = () => wall() - back;
  try {
    await withLeader(chain, { reforwardMs: 300, blockWaitMs: 200, busy: () => true }, async ({ validators, leader, net }) => {
      const follower = (leader + 1) % validators.length;
      const L = validators[leader]!;
      const F = validators[follower]!;
      const first = pay(1, users[0]!.publicKey, 1n);
      L.submit(first);
      assert.ok(await eventually(async () => (await statusAt(L, first)) === 'committed'));
      // The follower's forward is lost; then the wall clock steps back an hour.
      net.drop = (from, to, bytes) => from === follower && to === leader && bytes[0] === 1;
      const lost = pay(2, users[0]!.publicKey, 1n);
      F.submit(lost);
      await sleep(50);
      back = 3_600_000;
      net.drop = null;
      // The follower sends the lost forward again reforwardMs later, not an hour later.
      assert.ok(await eventually(() => F.counters.reforwarded >= 1, 3_000), 'the lost forward was sent again');
      // A busy leader spaces its blocks blockWaitMs apart, counted on the monotonic clock:
      // on the wall clock this one would wait an hour.
      const next = pay(4, users[0]!.publicKey, 1n);
      L.submit(next);
      assert.ok(await eventually(async () => (await statusAt(L, next)) === 'committed', 3_000), 'the busy leader cut its next block');
      assert.ok(await eventually(async () => (await statusAt(F, lost)) === 'committed', 3_000));
      const height = L.height;
      const times = [height - 1, height].map((h) => L.ledger.block(h).header.timeMs);
      assert.ok(times[1]! >= times[0]!, 'block times never go back');
    });
  } finally {
    Date.now = wall;
  }
});

/** One validator of `chain`, never started (no leader: nothing is forwarded), for `run`. */
async function alone(run: (v: Validator) => Promise<void>, extra: Parameters<typeof openValidator>[7] = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-admission-'));
  const fatal: unknown[] = [];
  const v = await openValidator(chain, dir, 0, new MemoryNet(3), [[], [], []], fatal, false, extra);
  try {
    await run(v);
    assert.deepEqual(fatal, []);
  } finally {
    await v.stop();
    await v.ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a client retrying a whole batch [register X, pay X] while the registration is still pending: the payment is dry-run with it, not refused', async () => {
  await alone(async (v) => {
    const { register, payment } = registerThenPay(63);
    // The first attempt admitted the registration; the client did not hear back and retries the whole batch.
    assert.equal(v.submit(register).id, toHex(register.id));
    const results = await v.submitMany([register, payment]);
    assert.deepEqual(
      results.map((r) => (isSteleError(r) ? r.code : r.id)),
      [toHex(register.id), toHex(payment.id)],
    );
    assert.equal(v.mempoolSize, 2);
    // Alone, the payment is still refused: a pending registration is not committed state.
    const other = registerThenPay(64);
    v.submit(other.register);
    assert.throws(() => v.submit(other.payment), (e: unknown) => isSteleError(e, 'TX_UNKNOWN_RECIPIENT'));
  });
});

test('one pruning pass that refuses more pending transactions than 10,000 remembers every refusal: a polling client gets TX_EXPIRED, not unknown', async () => {
  await alone(async (v) => {
    // 10,500 pending transactions expiring at height 1 (signatures taken as verified: only their refusal matters here).
    const count = 10_500;
    const txs = Array.from({ length: count }, (_, k) => pay(1 + (k % 7), users[0]!.publicKey, BigInt(k + 1), 1));
    for (const tx of txs) v.submit(tx, 'verified');
    assert.equal(v.mempoolSize, count);
    // Height 2 is due: every one of them can only be refused as expired (what a commit does).
    (v as unknown as { pruneExpired(height: number): void }).pruneExpired(2);
    assert.equal(v.mempoolSize, 0);
    for (const tx of [txs[0]!, txs[count - 1]!]) {
      const status = await v.transaction(toHex(tx.id));
      assert.equal(status.status === 'refused' ? status.code : status.status, 'TX_EXPIRED');
    }
  });
});

test('a follower sends its pending transactions to a new leader on the first back-off again, however often it sent them to the old one', async () => {
  // Time on the validators' (monotonic) clock moves ahead when the test says.
  let ahead = 0;
  const clock = (): number => performance.now() + ahead;
  const F = 0;
  // Validator 0 waits longest before it stands for election, so it stays a follower when the leader goes.
  const options = (i: number) => ({ clock, reforwardMs: 1_000, random: () => (i === F ? 0.99 : 0) });
  await withLeader(chain, options, async ({ validators, leader, net }) => {
    assert.notEqual(leader, F, 'validator 0 is a follower');
    const follower = validators[F]!;
    const sent = new Map<number, number>();
    let leaderGone = false;
    // Every forward of the follower is lost, whichever leader it goes to. Once the leader is
    // gone, the follower's PREPAREs are lost too (channel 0, message type 1), so the other
    // validator is the one elected: with its longer election timeout alone, the follower
    // still won about one election in four (the other's first PREPARE came while the
    // follower had heard from the old leader recently, and was refused).
    net.drop = (from, to, bytes) => {
      if (leaderGone && from === F && bytes[0] === 0 && bytes[2] === 1) return true;
      if (from !== F || bytes[0] !== 1) return false;
      sent.set(to, (sent.get(to) ?? 0) + 1);
      return true;
    };
    const tx = pay(2, users[0]!.publicKey, 3n);
    follower.submit(tx);
    // Sent, then again after 1, 2 and 4 s without a commit: four sends to this leader.
    for (const wait of [1_000, 2_000, 4_000]) {
      const before = sent.get(leader) ?? 0;
      ahead += wait;
      assert.ok(await eventually(() => (sent.get(leader) ?? 0) > before, 2_000), `sent again after ${wait} ms`);
    }
    assert.equal(sent.get(leader), 4);
    // The leader goes; the other validator takes over, and the follower sends it everything at once.
    leaderGone = true;
    net.down.add(leader);
    const next = 3 - leader - F;
    assert.ok(await eventually(() => follower.status().leader === next, 5_000), `a new leader, known to the follower: ${JSON.stringify(validators.map((v) => { const s = v.status(); return { role: s.role, leader: s.leader, ballot: s.ballot, height: s.height }; }))}, leader ${leader}, next ${next}`);
    assert.ok(await eventually(() => (sent.get(next) ?? 0) === 1, 2_000), 'sent to the new leader at once');
    // That forward is lost too: the next goes one reforwardMs later, as for a new
    // transaction, not eight (the back-off it had reached with the old leader).
    ahead += 1_300;
    assert.ok(await eventually(() => (sent.get(next) ?? 0) === 2, 2_000), 'sent again after one reforwardMs');
    net.drop = null;
    assert.ok(await eventually(async () => (await statusAt(follower, tx)) === 'committed', 5_000));
  });
});

// A chain whose blocks hold little: a transaction of more than 8,192 - 4,100 bytes fits none.
const small = devChain({ label: 'admission-small', users: 4, limits: { tx_bytes_max: 1_024, block_bytes_max: 8_192 } });

/** A put of `size` inline bytes on `c` (about size + 250 bytes encoded). */
function bigPut(c: typeof small, size: number, chainId = c.genesis.chainId): Tx {
  return signTx({ chainId, expiry: 500, payload: { type: 'put', owner: c.users[1]!.publicKey, key: `big${size}`, value: { kind: 'inline', data: new Uint8Array(size).fill(7) } } }, [c.users[1]!]);
}

function smallPay(c: typeof small, amount: bigint, chainId = c.genesis.chainId): Tx {
  return signTx({ chainId, expiry: 500, payload: { type: 'transfer', from: c.users[2]!.publicKey, asset: 'STL', to: c.users[0]!.publicKey, amount } }, [c.users[2]!]);
}

test('a forward over the genesis tx_bytes_max is dropped on arrival (counted), so it never stalls the leader\'s cuts', async () => {
  await withLeader(small, { busy: () => false }, async ({ validators, leader, net }) => {
    const L = validators[leader]!;
    const follower = (leader + 1) % validators.length;
    const big = bigPut(small, 4_000);
    assert.ok(big.bytes.length > 8_192 - 4_100 && big.bytes.length > small.genesis.limits.tx_bytes_max);
    net.handlers[leader]!([{ from: follower, bytes: forward(big) }]);
    const ok = smallPay(small, 1n);
    L.submit(ok);
    assert.ok(await eventually(async () => (await statusAt(L, ok)) === 'committed', 3_000), 'the leader still cuts blocks');
    assert.equal(await statusAt(L, big), 'unknown');
    assert.equal(L.counters.forwardsMalformed, 1);
  });
});

test('a transaction that can never fit an empty block is refused at the cut (TX_TOO_LARGE) instead of stopping every cut', async () => {
  await withLeader(small, { busy: () => false }, async ({ validators, leader }) => {
    const L = validators[leader]!;
    const big = bigPut(small, 4_000);
    // Past every admission check (there is none left that lets it in): straight into the mempool.
    (L as unknown as { enterMempool(tx: Tx, now: number, local: boolean): unknown }).enterMempool(big, performance.now(), false);
    const ok = smallPay(small, 2n);
    L.submit(ok);
    assert.ok(await eventually(async () => (await statusAt(L, ok)) === 'committed', 3_000), 'the leader still cuts blocks');
    const status = await L.transaction(toHex(big.id));
    assert.equal(status.status === 'refused' ? status.code : status.status, 'TX_TOO_LARGE');
  });
});

test('a forward of another chain is dropped on arrival and counted, never admitted', async () => {
  await withLeader(chain, {}, async ({ validators, leader, net }) => {
    const L = validators[leader]!;
    const follower = (leader + 1) % validators.length;
    const stranger = signTx({ chainId: 'another-chain', expiry: 500, payload: { type: 'transfer', from: users[2]!.publicKey, asset: 'STL', to: users[0]!.publicKey, amount: 1n } }, [users[2]!]);
    const admitted = L.counters.forwardedAdmitted;
    net.handlers[leader]!([{ from: follower, bytes: forward(stranger) }]);
    assert.equal(L.counters.forwardedAdmitted, admitted);
    assert.equal(L.counters.forwardsWrongChain, 1);
    assert.equal(await statusAt(L, stranger), 'unknown');
  });
});

test('a throw while handling forwards stops the validator through onFatal, never the process', async () => {
  await withLeader(
    chain,
    {},
    async ({ validators, leader, net, fatal }) => {
      const L = validators[leader]!;
      const follower = (leader + 1) % validators.length;
      // A broken state read (a bug, not bad input) while the forward is admitted.
      const state = L.ledger.state;
      const get = state.get;
      const broken = new TypeError('broken state read');
      state.get = () => {
        throw broken;
      };
      try {
        assert.doesNotThrow(() => net.handlers[leader]!([{ from: follower, bytes: forward(pay(2, users[0]!.publicKey, 4n)) }]));
      } finally {
        state.get = get;
      }
      assert.deepEqual(fatal, [broken]);
    },
    true,
  );
});

test('an in-flight value whose body does not decode makes the leader wait for it to commit, not throw out of its timer', async () => {
  await withLeader(chain, { busy: () => false }, async ({ validators, leader }) => {
    const L = validators[leader]!;
    const core = L.driver.core;
    const inFlightValues = core.inFlightValues;
    // A recovered value of the next slot whose header decoded (the core checks no more) but whose body does not.
    core.inFlightValues = () => [{ slot: L.height + 1, digest: new Uint8Array(32), value: Uint8Array.of(1, 2, 3) }];
    const tx = pay(2, users[0]!.publicKey, 5n);
    try {
      L.submit(tx);
      assert.doesNotThrow(() => (L as unknown as { maybePropose(): void }).maybePropose());
    } finally {
      core.inFlightValues = inFlightValues;
    }
    assert.ok(await eventually(async () => (await statusAt(L, tx)) === 'committed', 3_000));
  });
});

test('a throw in the leader\'s cut timer stops the validator through onFatal, never the process', async () => {
  await withLeader(
    chain,
    {},
    async ({ validators, leader, fatal }) => {
      const core = validators[leader]!.driver.core;
      const broken = new TypeError('broken core');
      core.proposableSlot = () => {
        throw broken;
      };
      validators[leader]!.submit(pay(3, users[0]!.publicKey, 6n));
      assert.ok(await eventually(() => fatal.length > 0, 2_000));
      assert.equal(fatal[0], broken);
    },
    true,
  );
});

test('the mempool is bounded in bytes as well as in count: MEMPOOL_FULL once the next would pass mempoolBytesMax, room again as transactions leave', async () => {
  const tx = (k: number) => pay(1 + (k % 7), users[0]!.publicKey, BigInt(k + 1), 1);
  const bytesMax = chain.genesis.limits.tx_bytes_max; // the least allowed: one transaction of the largest size
  const room = Math.floor(bytesMax / tx(0).bytes.length);
  await alone(
    async (v) => {
      for (let k = 0; k < room; k++) v.submit(tx(k), 'verified');
      assert.throws(() => v.submit(tx(room), 'verified'), (e: unknown) => isSteleError(e, 'MEMPOOL_FULL'));
      assert.equal(v.mempoolSize, room);
      (v as unknown as { pruneExpired(height: number): void }).pruneExpired(2); // all leave, refused as expired
      assert.equal(v.mempoolSize, 0);
      for (let k = 0; k < room; k++) v.submit(tx(1_000 + k), 'verified');
      assert.equal(v.mempoolSize, room, 'the bytes of those that left were given back');
    },
    { mempoolBytesMax: bytesMax },
  );
});

/** A contract whose instances are due one block after their creation. */
const TICK = `contract Tick {
  parties a
  params cur: asset
  currency cur
  init Wait { }
  state Wait { after 1 -> Done { } }
  final Done
}`;

function createTick(user: number): Tx {
  const payload = { type: 'create' as const, contract: 'Tick', parties: [{ name: 'a', key: users[user]!.publicKey }], params: [{ name: 'cur', value: { kind: 'asset' as const, value: 'STL' } }], refs: [] };
  return signTx({ chainId: chain.genesis.chainId, expiry: 500, payload }, [users[user]!]);
}

test('lone submissions are checked against one admission builder per committed tip: the next height\'s deadline steps run once for ten of them, and checks leave nothing behind', async () => {
  await withLeader(chain, {}, async ({ validators, leader }) => {
    const L = validators[leader]!;
    const deploy = signTx({ chainId: chain.genesis.chainId, expiry: 500, payload: { type: 'deploy', source: TICK } }, [users[1]!]);
    L.submit(deploy);
    await L.waitForCommit(deploy.idHex, 10_000);
    const creates = [createTick(1), createTick(2)];
    const results = await L.submitMany(creates);
    for (const r of results) assert.ok(!isSteleError(r), `refused: ${String(r)}`);
    await Promise.all(creates.map((c) => L.waitForCommit(c.idHex, 10_000)));
    // Nothing else is pending, so no block is cut: instances stay due at the next height.
    const next = L.height + 1;
    assert.ok(dueAt(L.state, next).length > 0, 'instances are due at the next height');
    const dueKey = contractKeys.due(next);
    const state = L.state;
    const get = state.get.bind(state);
    let reads = 0;
    state.get = (key: string) => {
      if (key === dueKey) reads++;
      return get(key);
    };
    // Two of the ten spend user 5's whole balance: each is checked alone against the
    // committed state, so both are admitted (a check that left its writes in the shared
    // builder would refuse the second).
    const whole = balanceOf(state, users[5]!.publicKey, 'STL');
    const payments = [...Array.from({ length: 8 }, (_, k) => pay(3, users[4]!.publicKey, BigInt(k + 1))), pay(5, users[4]!.publicKey, whole), pay(5, users[6]!.publicKey, whole)];
    try {
      for (const p of payments) L.submit(p);
    } finally {
      Reflect.deleteProperty(state, 'get');
    }
    assert.equal(reads, 1, 'the next height\'s due list was read once, for the one builder');
    assert.equal(L.mempoolSize, 10);
  });
});

test('the admission builder is not reused after a commit: a transaction valid only from the next tip on is admitted once that tip is committed', async () => {
  await withLeader(chain, {}, async ({ validators, leader }) => {
    const L = validators[leader]!;
    const first = pay(3, users[4]!.publicKey, 1n);
    L.submit(first); // builds the admission builder of the current tip
    // Its expiry is one block past the window of the current tip's next height.
    const late = pay(3, users[4]!.publicKey, 2n, L.height + 2 + chain.genesis.limits.expiry_window_blocks);
    assert.throws(() => L.submit(late), (e: unknown) => isSteleError(e, 'TX_EXPIRY_TOO_FAR'));
    await L.waitForCommit(first.idHex, 10_000);
    assert.equal(L.submit(late).id, late.idHex, 'checked at the new tip\'s next height');
    await L.waitForCommit(late.idHex, 10_000);
  });
});
