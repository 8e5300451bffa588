import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClassicLevel } from 'classic-level';
import { FileBlockLog } from '../../ledger/block-log.js';
import { encodeBlock, withCertificate, type Block } from '../../ledger/block.js';
import { INDEX_WRITES_IN_FLIGHT_MAX, LedgerStore } from '../../ledger/store.js';
import { verifyChain } from '../../ledger/chain.js';
import { isSteleError } from '../../ledger/errors.js';
import { toHex } from '../../ledger/assert.js';
import { devChain, produceBlock } from '../../ledger/devnet.js';
import { signTx } from '../../ledger/tx.js';
import { balanceOf, executeBlock } from '../../ledger/machine.js';
import { Overlay } from '../../ledger/state.js';
import { alice, chain, makeChain } from '../support/fixtures.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'stele-test-'));
}

type DevUser = ReturnType<typeof devChain>['users'][number];

/** Transactions of the HorseSale example contract on a dev chain: deploy it, create a sale. */
function horseSale(dev: ReturnType<typeof devChain>) {
  const source = readFileSync(fileURLToPath(new URL('../../../examples/contracts/horse-sale.scl', import.meta.url)), 'utf8');
  const int = (value: number) => ({ kind: 'int' as const, value: BigInt(value) });
  return {
    deploy: (deployer: DevUser, expiry: number) => signTx({ chainId: dev.genesis.chainId, expiry, payload: { type: 'deploy', source } }, [deployer]),
    create: (seller: DevUser, buyer: DevUser, expiry: number) =>
      signTx(
        {
          chainId: dev.genesis.chainId,
          expiry,
          payload: {
            type: 'create',
            contract: 'HorseSale',
            parties: [{ name: 'buyer', key: buyer.publicKey }, { name: 'seller', key: seller.publicKey }],
            params: [{ name: 'deposit', value: int(10) }, { name: 'penalty', value: int(1) }, { name: 'price', value: int(20) }, { name: 'usd', value: { kind: 'asset', value: 'STL' } }, { name: 'window', value: int(50) }],
            refs: [],
          },
        },
        [buyer],
      ),
  };
}

test('block log: records round trip, and a torn tail is cut on open', async () => {
  const dir = tempDir();
  const path = join(dir, 'blocks.log');
  const log = FileBlockLog.open(path);
  const records = [Uint8Array.of(1, 2, 3), new Uint8Array(1000).fill(7), new Uint8Array(0)];
  for (const r of records) log.append(r);
  await log.sync();
  await log.close();
  const whole = statSync(path).size;
  for (const tail of [Uint8Array.of(0, 0, 0), Uint8Array.of(0, 0, 0, 9, 1, 2, 3, 4, 5), new Uint8Array(4096)]) {
    appendFileSync(path, tail);
    const again = FileBlockLog.open(path);
    assert.equal(again.length, 3);
    assert.equal(again.opened.tornBytes, tail.length);
    assert.deepEqual(Array.from({ length: 3 }, (_, i) => again.read(i)), records);
    await again.close();
    assert.equal(statSync(path).size, whole);
  }
  rmSync(dir, { recursive: true });
});

test('block log: a new log is created whole (header written to a temporary file, renamed into place); the leftover temporary of a crash is overwritten', async () => {
  const dir = tempDir();
  const path = join(dir, 'nested', 'blocks.log');
  mkdirSync(join(dir, 'nested'));
  writeFileSync(`${path}.new`, 'half a header from a crash');
  const log = FileBlockLog.open(path);
  assert.equal(log.length, 0);
  assert.equal(existsSync(`${path}.new`), false, 'renamed into place');
  assert.equal(statSync(path).mode & 0o777, 0o600, 'made afresh, not the leftover with its permissions');
  log.append(Uint8Array.of(5));
  await log.sync();
  await log.close();
  const again = FileBlockLog.open(path);
  assert.deepEqual(again.read(0), Uint8Array.of(5));
  await again.close();
  // A headerless file is still corrupt (only damage from outside can leave one now), and
  // the refused open leaves no descriptor behind.
  writeFileSync(path, '');
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  for (const readOnly of [false, true]) assert.throws(() => FileBlockLog.open(path, { readOnly }), (e: unknown) => isSteleError(e, 'STORE_CORRUPT'));
  assert.equal(fds(), before, 'no descriptor left open');
  rmSync(dir, { recursive: true });
});

test('block log: a bad checksum on the last record is a torn tail; before the tail it is corruption', async () => {
  const dir = tempDir();
  const path = join(dir, 'blocks.log');
  const log = FileBlockLog.open(path);
  log.append(new Uint8Array(100).fill(1));
  log.append(new Uint8Array(100).fill(2));
  await log.sync();
  await log.close();
  const original = readFileSync(path);
  const lastPayload = original.length - 10;
  const flippedLast = Buffer.from(original);
  flippedLast[lastPayload] = (flippedLast[lastPayload] as number) ^ 0x10;
  writeFileSync(path, flippedLast);
  const cut = FileBlockLog.open(path);
  assert.equal(cut.length, 1);
  assert.equal(cut.opened.tornBytes, 108);
  await cut.close();

  const flippedFirst = Buffer.from(original);
  flippedFirst[16 + 8 + 50] = (flippedFirst[16 + 8 + 50] as number) ^ 0x01;
  writeFileSync(path, flippedFirst);
  assert.throws(() => FileBlockLog.open(path), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && e.details.record === 0);
  const ro = FileBlockLog.open(path, { readOnly: true });
  assert.deepEqual(ro.opened.corruption?.record, 0);
  assert.equal(statSync(path).size, original.length, 'a read-only open changes nothing');
  await ro.close();

  writeFileSync(path, Buffer.from('NOTALOG!' + '\0'.repeat(20)));
  assert.throws(() => FileBlockLog.open(path), (e: unknown) => isSteleError(e, 'STORE_CORRUPT'));
  rmSync(dir, { recursive: true });
});

test('block log: a read-only open with recordBytesMin calls a short record before the last corruption (no index of empty frames)', async () => {
  const dir = tempDir();
  const path = join(dir, 'blocks.log');
  const log = FileBlockLog.open(path);
  for (let i = 0; i < 3; i++) log.append(new Uint8Array(0));
  await log.sync();
  await log.close();
  const loose = FileBlockLog.open(path, { readOnly: true });
  assert.equal(loose.length, 3);
  await loose.close();
  const strict = FileBlockLog.open(path, { readOnly: true, recordBytesMin: 100 });
  assert.equal(strict.opened.corruption?.record, 0);
  assert.match(strict.opened.corruption?.reason ?? '', /below 100/);
  await strict.close();
  rmSync(dir, { recursive: true });
});

test('block log: a length rewritten on disk after open is STORE_CORRUPT at read, without allocating what it claims', async () => {
  const dir = tempDir();
  const path = join(dir, 'blocks.log');
  const log = FileBlockLog.open(path);
  const records = [new Uint8Array(100).fill(1), new Uint8Array(100).fill(2), new Uint8Array(100).fill(3)];
  for (const r of records) log.append(r);
  await log.sync();
  const frameAt = (index: number) => 16 + index * (8 + 100);
  const rewrite = (index: number, frame: Buffer) => {
    const fd = openSync(path, 'r+');
    writeSync(fd, frame, 0, frame.length, frameAt(index));
    closeSync(fd);
  };
  // Every allocation during a read is watched; one beyond a megabyte fails the test before it is made.
  const realAlloc = Buffer.alloc;
  let largest = 0;
  (Buffer as { alloc: unknown }).alloc = (size: number, ...rest: unknown[]) => {
    largest = Math.max(largest, size);
    if (size > 1024 * 1024) throw new Error(`read allocated ${size} bytes`);
    return (realAlloc as (...args: unknown[]) => Buffer)(size, ...rest);
  };
  try {
    // Record 0 claims 4 GiB - 16 bytes.
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(0xfffffff0, 0);
    rewrite(0, huge);
    assert.throws(() => log.read(0), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && /record 0 changed on disk after open: its length field reads 4294967280, 100 at open/.test(e.message));
    // Record 1 claims 50 bytes, with the checksum of its first 50: a whole frame, but not the one scanned.
    const payload = new Uint8Array(50).fill(2);
    const shorter = Buffer.alloc(8);
    shorter.writeUInt32BE(50, 0);
    shorter.writeUInt32BE(crc32(payload, crc32(shorter.subarray(0, 4))), 4);
    rewrite(1, shorter);
    assert.throws(() => log.read(1), (e: unknown) => isSteleError(e, 'STORE_CORRUPT'));
    assert.deepEqual(log.read(2), records[2], 'the records around them still read');
    assert.ok(largest <= 8 + 100, `the largest allocation was ${largest} bytes`);
  } finally {
    (Buffer as { alloc: unknown }).alloc = realAlloc;
  }
  // A file cut short under an open log: STORE_CORRUPT too, not a shorter record.
  truncateSync(path, frameAt(2) + 8 + 40);
  assert.throws(() => log.read(2), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && /the file ends 48 bytes into its 108/.test(e.message));
  await log.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: commit, reopen, same state; refuses another genesis and bad blocks without writing', async () => {
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  const { blocks } = makeChain(3, 3);
  for (const b of blocks) await store.commit(b);
  const stateHash = store.tip.stateHash;
  const aliceBalance = balanceOf(store.state, alice.publicKey, 'STL');
  const loc = await store.txLocation(blocks[1]!.txs[2]!.id);
  assert.deepEqual(loc, { height: 2, index: 2, failed: null });
  // A bad block is refused and nothing is written.
  await assert.rejects(store.commit(blocks[0] as (typeof blocks)[number]), (e: unknown) => isSteleError(e, 'BLOCK_BAD_HEIGHT'));
  assert.equal(store.log.length, 3);
  await store.close();

  const again = await LedgerStore.open(dir, chain.genesis);
  assert.equal(again.height, 3);
  assert.deepEqual(again.tip.stateHash, stateHash);
  assert.equal(balanceOf(again.state, alice.publicKey, 'STL'), aliceBalance);
  assert.equal((await verifyChain(chain.genesis, again.blocks())).ok, true);
  await again.close();

  const other = devChain({ label: 'other' });
  await assert.rejects(LedgerStore.open(dir, other.genesis), (e: unknown) => isSteleError(e, 'STORE_MISMATCH'));
  rmSync(dir, { recursive: true });
});

test('ledger store: a commit entered while another is under way is a broken invariant, and the log keeps one record per height', async () => {
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  const { blocks } = makeChain(2, 2);
  // Both would pass their checks against the same tip (height 0) and both be appended.
  const first = store.commit(blocks[0]!);
  await assert.rejects(store.commit(blocks[0]!), /invariant broken: one commit at a time/);
  await assert.rejects(store.commitMany([blocks[0]!, blocks[1]!]), /invariant broken: one commit at a time/);
  await first;
  assert.equal(store.log.length, 1, 'one record for height 1');
  // Over, the flag is down: the next commit goes ahead, and so does one after a refused one.
  await assert.rejects(store.commit(blocks[0]!), (e: unknown) => isSteleError(e, 'BLOCK_BAD_HEIGHT'));
  await store.commit(blocks[1]!);
  assert.equal(store.height, 2);
  await store.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: commitMany stores groups exactly as one-by-one commits do; a bad block in a group writes nothing', async () => {
  const { blocks } = makeChain(6, 3);
  const one = tempDir();
  const many = tempDir();
  const a = await LedgerStore.open(one, chain.genesis);
  for (const b of blocks) await a.commit(b);
  const b = await LedgerStore.open(many, chain.genesis);
  await b.commitMany(blocks.slice(0, 1));
  // A group whose second block is bad (a repeated height): refused, nothing written.
  await assert.rejects(b.commitMany([blocks[1]!, blocks[0]!]), (e: unknown) => isSteleError(e, 'BLOCK_BAD_HEIGHT'));
  assert.equal(b.height, 1);
  assert.equal(b.log.length, 1);
  assert.deepEqual(await b.commitMany([]), []);
  const results = await b.commitMany(blocks.slice(1, 4));
  assert.deepEqual(results.map((r) => r.stateHash), blocks.slice(1, 4).map((x) => x.header.stateHash));
  await b.commitMany(blocks.slice(4));
  assert.equal(b.height, 6);
  assert.deepEqual(b.tip, a.tip);
  for (const [h, block] of blocks.entries()) {
    assert.equal(await b.heightOf(block.hash), h + 1);
    for (const [i, tx] of block.txs.entries()) assert.deepEqual(await b.txLocation(tx.id), { height: h + 1, index: i, failed: null });
  }
  await a.close();
  await b.close();
  // The two indexes hold the same entries, byte for byte (state, account index, locations).
  const dump = async (dir: string): Promise<string[]> => {
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    const out: string[] = [];
    for await (const [k, v] of db.iterator()) out.push(`${k}=${Buffer.from(v).toString('hex')}`);
    await db.close();
    return out;
  };
  assert.deepEqual(await dump(many), await dump(one));
  const reopened = await LedgerStore.open(many, chain.genesis);
  assert.equal(reopened.height, 6);
  assert.equal((await verifyChain(chain.genesis, reopened.blocks())).ok, true);
  await reopened.close();
  rmSync(one, { recursive: true });
  rmSync(many, { recursive: true });

  // Contracts: a deploy and two instances in consecutive blocks of one group, so the
  // account index of each block is built against the state the group's earlier blocks made.
  const dev = devChain({ label: 'commit-many', users: 2 });
  const [admin, buyer] = dev.users as [DevUser, DevUser];
  const sale = horseSale(dev);
  const [c1, c2] = [tempDir(), tempDir()];
  const seq = await LedgerStore.open(c1, dev.genesis);
  const made = [];
  for (const txs of [[sale.deploy(admin, 20)], [sale.create(admin, buyer, 20)], [sale.create(admin, buyer, 21)]]) {
    const { block, refused } = produceBlock(dev, seq.tip, seq.state, txs);
    assert.deepEqual(refused, []);
    await seq.commit(block);
    made.push(block);
  }
  const grouped = await LedgerStore.open(c2, dev.genesis);
  await grouped.commitMany(made);
  assert.deepEqual(await grouped.accountContracts(toHex(buyer.publicKey), 10), await seq.accountContracts(toHex(buyer.publicKey), 10));
  assert.equal((await grouped.accountContracts(toHex(buyer.publicKey), 10)).instances.length, 2);
  await seq.close();
  await grouped.close();
  const [d1, d2] = [await dump(c1), await dump(c2)];
  assert.ok(d1.some((k) => k.startsWith('x:')), 'the account index has entries');
  assert.deepEqual(d2, d1);
  rmSync(c1, { recursive: true });
  rmSync(c2, { recursive: true });
});

test('ledger store: signatures the caller vouches for are skipped, one block at a time; the rest is still checked', async () => {
  const { blocks } = makeChain(4, 2);
  const [b1, b2, b3, b4] = blocks as [Block, Block, Block, Block];
  const flip = (sig: Uint8Array): Uint8Array => {
    const out = Uint8Array.from(sig);
    out[5] = (out[5] as number) ^ 1;
    return out;
  };
  const badVote = (b: Block): Block => withCertificate(b, b.certificate.map((v, i) => (i === 0 ? { ...v, signature: flip(v.signature) } : v)));
  const badProposer = (b: Block): Block => {
    const proposerSignature = flip(b.proposerSignature);
    return { ...b, proposerSignature, bytes: encodeBlock(b.headerBytes, proposerSignature, b.txs, b.certificate) };
  };
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  // By default every block signature is verified.
  await assert.rejects(store.commit(badVote(b1)), (e: unknown) => isSteleError(e, 'BLOCK_BAD_CERTIFICATE'));
  await assert.rejects(store.commit(badProposer(b1)), (e: unknown) => isSteleError(e, 'BLOCK_BAD_PROPOSER'));
  await assert.rejects(store.commit(badVote(b1), { proposerSignature: 'trusted' }), (e: unknown) => isSteleError(e, 'BLOCK_BAD_CERTIFICATE'));
  await assert.rejects(store.commit(badProposer(b1), { certificateSignatures: 'trusted' }), (e: unknown) => isSteleError(e, 'BLOCK_BAD_PROPOSER'));
  // Trusted votes still need a quorum of them.
  await assert.rejects(store.commit(withCertificate(b1, b1.certificate.slice(0, 1)), { certificateSignatures: 'trusted' }), (e: unknown) => isSteleError(e, 'BLOCK_BAD_CERTIFICATE'));
  assert.equal(store.height, 0);
  // Per-block options: the first block's vouched-for signatures pass, the second block's
  // proposer signature is verified and refuses the whole group.
  await assert.rejects(
    store.commitMany([badVote(b1), badProposer(b2)], [{ certificateSignatures: 'trusted' }, { certificateSignatures: 'trusted' }]),
    (e: unknown) => isSteleError(e, 'BLOCK_BAD_PROPOSER') && e.details.height === 2,
  );
  assert.equal(store.height, 0);
  assert.equal(store.log.length, 0);
  await store.commitMany([badVote(b1), badProposer(b2)], [{ certificateSignatures: 'trusted' }, { proposerSignature: 'trusted' }]);
  // An execution the caller already has is used only when it read this very state.
  const elsewhere = executeBlock(chain.genesis, new Overlay(store.state), b3.txs, 3, store.tip.stateHash, { signatures: 'verified' });
  await assert.rejects(store.commit(badProposer(b3), { executed: elsewhere }), (e: unknown) => isSteleError(e, 'BLOCK_BAD_PROPOSER'));
  assert.equal(store.executionsReused, 0);
  await store.commit(b3, { executed: elsewhere });
  assert.equal(store.executionsReused, 0, 'executed again: it read another state');
  const here = executeBlock(chain.genesis, store.state, b4.txs, 4, store.tip.stateHash, { signatures: 'verified' });
  await store.commit(b4, { executed: here });
  assert.equal(store.executionsReused, 1);
  assert.equal(store.height, 4);
  assert.deepEqual(store.tip.stateHash, b4.header.stateHash);
  await store.close();
  // What was vouched for is still evidence an audit checks.
  const again = await LedgerStore.open(dir, chain.genesis);
  const report = await verifyChain(chain.genesis, again.blocks());
  assert.equal(report.ok, false);
  assert.deepEqual([report.failure?.height, report.failure?.code], [1, 'BLOCK_BAD_CERTIFICATE']);
  await again.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: a new or deleted index next to another chain\'s block log is STORE_MISMATCH, not a replayed block refused, and writes nothing', async () => {
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  const { blocks } = makeChain(2, 2);
  for (const b of blocks) await store.commit(b);
  await store.close();
  const other = devChain({ label: 'other' });
  const refused = (where: string, fresh: boolean) => (e: unknown) =>
    isSteleError(e, 'STORE_MISMATCH') &&
    e.message.includes(`the block log in ${where} holds chain ${chain.genesis.chainId} of genesis ${toHex(chain.genesis.hash)}, not chain ${other.genesis.chainId} of genesis ${toHex(other.genesis.hash)}`) &&
    e.message.includes(fresh ? 'the index is new' : 'the index is of this genesis');
  // The index deleted (moved aside to rebuild it), then opened with the wrong genesis file.
  rmSync(join(dir, 'index'), { recursive: true });
  await assert.rejects(LedgerStore.open(dir, other.genesis), refused(dir, true));
  // Nothing was written for the other genesis: with the right one, the log replays.
  const again = await LedgerStore.open(dir, chain.genesis);
  assert.equal(again.replayed, 2);
  await again.close();
  // An index of the other genesis that holds no block yet, next to this chain's log.
  const otherDir = tempDir();
  await (await LedgerStore.open(otherDir, other.genesis)).close();
  renameSync(join(dir, 'blocks.log'), join(otherDir, 'blocks.log'));
  await assert.rejects(LedgerStore.open(otherDir, other.genesis), refused(otherDir, false));
  rmSync(dir, { recursive: true });
  rmSync(otherDir, { recursive: true });
});

test('ledger store: an index missing m:height or m:state_hash, or with one of the wrong size, is STORE_CORRUPT naming the key', async () => {
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  const { blocks } = makeChain(2, 2);
  for (const b of blocks) await store.commit(b);
  await store.close();
  const edit = async (change: (db: ClassicLevel<string, Uint8Array>) => Promise<void>) => {
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    await change(db);
    await db.close();
  };
  const saved: Record<string, Uint8Array> = {};
  await edit(async (db) => {
    for (const key of ['m:height', 'm:state_hash']) saved[key] = Uint8Array.from((await db.get(key))!);
  });
  const cases: Array<[string, Uint8Array | null, RegExp]> = [
    ['m:height', null, /index: m:height is missing though m:genesis is there/],
    ['m:height', new Uint8Array(3), /index: m:height is 3 bytes, not 8/],
    ['m:state_hash', null, /index: m:state_hash is missing though m:genesis is there/],
    ['m:state_hash', new Uint8Array(31), /index: m:state_hash is 31 bytes, not 32/],
  ];
  for (const [key, value, message] of cases) {
    await edit((db) => (value === null ? db.del(key) : db.put(key, value)));
    await assert.rejects(LedgerStore.open(dir, chain.genesis), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && message.test(e.message) && e.details.key === key, String(message));
    await edit((db) => db.put(key, saved[key]!));
  }
  const again = await LedgerStore.open(dir, chain.genesis);
  assert.equal(again.height, 2);
  await again.close();
  rmSync(dir, { recursive: true });
});

/**
 * A store in `dir` with blocks 1 and 2 committed and blocks 3 and 4 in its log only, as if
 * the process died after the log's sync and before the index batch: the next open replays 2.
 */
async function indexTwoBehind(dir: string): Promise<Block[]> {
  const store = await LedgerStore.open(dir, chain.genesis);
  const { blocks } = makeChain(4, 2);
  for (const b of blocks.slice(0, 2)) await store.commit(b);
  await store.close();
  const log = FileBlockLog.open(join(dir, 'blocks.log'));
  for (const b of blocks.slice(2)) log.append(b.bytes);
  await log.sync();
  await log.close();
  return blocks;
}

test('ledger store: an index that lost its last writes is rebuilt from the log', async () => {
  const dir = tempDir();
  const blocks = await indexTwoBehind(dir);
  const again = await LedgerStore.open(dir, chain.genesis);
  assert.equal(again.replayed, 2);
  assert.equal(again.height, 4);
  assert.deepEqual(again.tip.hash, (blocks[3] as { hash: Uint8Array }).hash);
  assert.deepEqual(await again.txLocation(blocks[3]!.txs[0]!.id), { height: 4, index: 0, failed: null });
  await again.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: every LevelDB batch is written with sync (genesis, commits, replay at open): an unsynced earlier batch lost under a later one kept would leave a hole the open cannot see (review, 2026-12-01)', async () => {
  const dir = tempDir();
  const proto = ClassicLevel.prototype as unknown as { batch: (...args: unknown[]) => unknown };
  const realBatch = proto.batch;
  const options: unknown[] = [];
  proto.batch = function (this: unknown, ...args: unknown[]) {
    const batch = realBatch.apply(this, args) as { write: (...a: unknown[]) => Promise<void> };
    const write = batch.write.bind(batch);
    batch.write = (...a: unknown[]) => {
      options.push(a[0]);
      return write(...a);
    };
    return batch;
  };
  try {
    await indexTwoBehind(dir);
    const again = await LedgerStore.open(dir, chain.genesis);
    assert.equal(again.replayed, 2);
    await again.close();
  } finally {
    proto.batch = realBatch;
  }
  // The genesis batch, two commits, two replays.
  assert.ok(options.length >= 5, `${options.length} batch writes`);
  assert.deepEqual(options.filter((o) => (o as { sync?: unknown } | undefined)?.sync !== true), []);
  rmSync(dir, { recursive: true });
});

test('ledger store: index writes go on behind the commit, one at a time in commit order and at most INDEX_WRITES_IN_FLIGHT_MAX waiting; readers wait for them', async () => {
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  const { blocks } = makeChain(INDEX_WRITES_IN_FLIGHT_MAX + 2, 2);
  const db = (store as unknown as { db: ClassicLevel<string, Uint8Array> }).db;
  const realBatch = db.batch.bind(db);
  // Every write waits at a gate until the test opens it; each batch remembers its order.
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let made = 0;
  let running = 0;
  const started: number[] = [];
  (db as { batch: unknown }).batch = () => {
    const batch = realBatch();
    const order = made++;
    const write = batch.write.bind(batch);
    (batch as { write: unknown }).write = async () => {
      assert.equal(running, 0, 'one write at a time');
      running++;
      started.push(order);
      await gate;
      running--;
      return write();
    };
    return batch;
  };
  // The commits do not wait for their writes, up to the bound.
  for (const b of blocks.slice(0, INDEX_WRITES_IN_FLIGHT_MAX)) await store.commit(b);
  assert.equal(store.height, INDEX_WRITES_IN_FLIGHT_MAX);
  assert.equal(store.indexWritesWaiting, INDEX_WRITES_IN_FLIGHT_MAX);
  // One more commit waits for the oldest write; a reader waits for all of them.
  let committed = false;
  const next = store.commit(blocks[INDEX_WRITES_IN_FLIGHT_MAX]!).then(() => {
    committed = true;
  });
  const read = store.heightOf(blocks[INDEX_WRITES_IN_FLIGHT_MAX - 1]!.hash);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(committed, false, 'the commit past the bound waits');
  assert.equal(store.height, INDEX_WRITES_IN_FLIGHT_MAX);
  open();
  await next;
  assert.equal(await read, INDEX_WRITES_IN_FLIGHT_MAX, 'the reader saw the last commit made before it');
  await store.commit(blocks[INDEX_WRITES_IN_FLIGHT_MAX + 1]!);
  assert.deepEqual(await store.txLocation(blocks[INDEX_WRITES_IN_FLIGHT_MAX + 1]!.txs[1]!.id), { height: INDEX_WRITES_IN_FLIGHT_MAX + 2, index: 1, failed: null });
  assert.equal(store.indexWritesWaiting, 0);
  assert.deepEqual(started, Array.from({ length: INDEX_WRITES_IN_FLIGHT_MAX + 2 }, (_, i) => i), 'written in commit order');
  (db as { batch: unknown }).batch = realBatch;
  await store.close();
  const again = await LedgerStore.open(dir, chain.genesis);
  assert.equal(again.replayed, 0, 'every write landed');
  assert.equal(again.height, INDEX_WRITES_IN_FLIGHT_MAX + 2);
  await again.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: a failed index write fails index reads, refuses every later commit before the log, and a reopen replays the block it lost', async () => {
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  const { blocks } = makeChain(4, 2);
  await store.commit(blocks[0]!);
  await store.indexed();
  // LevelDB refuses the next write (as with a full disk); the block is in the log already.
  const db = (store as unknown as { db: ClassicLevel<string, Uint8Array> }).db;
  const realBatch = db.batch.bind(db);
  const full = new Error('IO error: No space left on device');
  (db as { batch: unknown }).batch = () => {
    const batch = realBatch();
    (batch as { write: unknown }).write = async () => {
      await batch.close();
      throw full;
    };
    return batch;
  };
  await store.commit(blocks[1]!);
  assert.equal(store.height, 2, 'committed: durable in the log');
  await assert.rejects(store.indexed(), (e: unknown) => e === full);
  // The index misses block 2: its readers refuse rather than answer from it.
  await assert.rejects(store.txLocation(blocks[1]!.txs[0]!.id), (e: unknown) => isSteleError(e, 'STORE_FULL'));
  await assert.rejects(store.heightOf(blocks[0]!.hash), (e: unknown) => isSteleError(e, 'STORE_FULL'));
  await assert.rejects(store.commit(blocks[2]!), (e: unknown) => e === full, 'no commit after a lost index write');
  assert.equal(store.log.length, 2, 'and nothing more in the log');
  (db as { batch: unknown }).batch = realBatch;
  await store.close();
  const again = await LedgerStore.open(dir, chain.genesis);
  assert.equal(again.replayed, 1);
  assert.equal(again.height, 2);
  assert.deepEqual(await again.txLocation(blocks[1]!.txs[0]!.id), { height: 2, index: 0, failed: null });
  await again.commit(blocks[2]!);
  await again.commit(blocks[3]!);
  assert.equal(again.height, 4);
  await again.close();
  rmSync(dir, { recursive: true });
});

test('crash: SIGKILL at random moments loses nothing acknowledged; a torn tail is cut', async () => {
  const dir = tempDir();
  const child = fileURLToPath(new URL('../support/crash-child.js', import.meta.url));
  let acked = 0;
  const rounds = 6;
  for (let round = 0; round < rounds; round++) {
    const proc = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let seen = '';
    const killAfterAcks = 2 + Math.floor(Math.random() * 6);
    let acksThisRound = 0;
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        for (const m of seen.matchAll(/ACK (\d+)\n/g)) acked = Math.max(acked, Number(m[1]));
        acksThisRound = (seen.match(/ACK /g) ?? []).length;
        if (acksThisRound >= killAfterAcks) {
          // Kill after a random extra delay, mid-commit more often than not.
          setTimeout(() => proc.kill('SIGKILL'), Math.floor(Math.random() * 15));
        }
      });
      proc.on('exit', () => resolve());
    });
    if (round % 2 === 1) appendFileSync(join(dir, 'blocks.log'), Buffer.from([0, 0, 1, 0, 0xde, 0xad])); // a torn frame
    const store = await LedgerStore.open(dir, chain.genesis);
    assert.ok(store.height >= acked, `round ${round}: height ${store.height} < acknowledged ${acked}`);
    const report = await verifyChain(chain.genesis, store.blocks());
    assert.equal(report.ok, true, JSON.stringify(report.failure));
    assert.deepEqual(report.state_hash, Buffer.from(store.tip.stateHash).toString('hex'));
    await store.close();
  }
  assert.ok(acked >= rounds * 2);
  rmSync(dir, { recursive: true });
});

test('account index: the contracts a key deployed and the instances it is a party to, kept with each block and rebuilt for an old directory', async () => {
  const dev = devChain({ label: 'account-index', users: 3 });
  const [admin, buyer, other] = dev.users as [DevUser, DevUser, DevUser];
  const { create } = horseSale(dev);
  const dir = tempDir();
  let store = await LedgerStore.open(dir, dev.genesis);
  const commit = async (txs: Parameters<typeof produceBlock>[3]) => {
    const { block, refused } = produceBlock(dev, store.tip, store.state, txs);
    assert.deepEqual(refused, []);
    await store.commit(block);
  };
  await commit([horseSale(dev).deploy(admin, 20)]);
  // Buyer creates two sales: one with the admin as seller, one where it sells to itself.
  await commit([create(admin, buyer, 20), create(buyer, buyer, 21)]);
  const key = (s: typeof admin) => toHex(s.publicKey);
  const expected = {
    admin: { templates: ['HorseSale'], instances: [{ id: 1, party: 'seller' }], templatesTruncated: false, instancesTruncated: false },
    buyer: { templates: [], instances: [{ id: 1, party: 'buyer' }, { id: 2, party: 'buyer' }, { id: 2, party: 'seller' }], templatesTruncated: false, instancesTruncated: false },
    other: { templates: [], instances: [], templatesTruncated: false, instancesTruncated: false },
  };
  assert.deepEqual(await store.accountContracts(key(admin), 10), expected.admin);
  assert.deepEqual(await store.accountContracts(key(buyer), 10), expected.buyer);
  assert.deepEqual(await store.accountContracts(key(other), 10), expected.other);
  const cut = await store.accountContracts(key(buyer), 2);
  assert.deepEqual([cut.instances.length, cut.instancesTruncated], [2, true]);
  await store.close();
  // A directory from before the index: its keys and version are gone; opening rebuilds them.
  const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  const batch = db.batch();
  for await (const k of db.keys({ gte: 'x:', lt: 'x;' })) batch.del(k);
  batch.del('m:account_index');
  await batch.write();
  await db.close();
  store = await LedgerStore.open(dir, dev.genesis);
  assert.deepEqual(await store.accountContracts(key(buyer), 10), expected.buyer);
  assert.deepEqual(await store.accountContracts(key(admin), 10), expected.admin);
  await store.close();
  rmSync(dir, { recursive: true });
});

test('account index: both lists of an answer come from one height, even when an index batch lands between their scans', async () => {
  const dir = tempDir();
  const store = await LedgerStore.open(dir, chain.genesis);
  const db = (store as unknown as { db: ClassicLevel<string, Uint8Array> }).db;
  const key = toHex(alice.publicKey);
  const empty = new Uint8Array(0);
  await db.batch().put(`x:${key}/ctpl/Alpha`, empty).put(`x:${key}/cins/0000000000000001/buyer`, empty).write();
  const before = { templates: ['Alpha'], instances: [{ id: 1, party: 'buyer' }], templatesTruncated: false, instancesTruncated: false };
  assert.deepEqual(await store.accountContracts(key, 10), before);
  // As a commit's batch written behind the reader: a template and an instance, in one batch,
  // landing once the first scan has ended.
  const realKeys = db.keys.bind(db);
  let landed = false;
  (db as { keys: unknown }).keys = (options: Parameters<typeof realKeys>[0]) => {
    const iterator = realKeys(options);
    const next = iterator.next.bind(iterator);
    (iterator as { next: unknown }).next = async () => {
      const item = await next();
      if (item === undefined && !landed) {
        landed = true;
        await db.batch().put(`x:${key}/ctpl/Beta`, empty).put(`x:${key}/cins/0000000000000002/seller`, empty).write();
      }
      return item;
    };
    return iterator;
  };
  assert.deepEqual(await store.accountContracts(key, 10), before, 'the answer as it stood when the read began, both lists');
  assert.equal(landed, true);
  (db as { keys: unknown }).keys = realKeys;
  assert.deepEqual(await store.accountContracts(key, 10), {
    templates: ['Alpha', 'Beta'],
    instances: [{ id: 1, party: 'buyer' }, { id: 2, party: 'seller' }],
    templatesTruncated: false,
    instancesTruncated: false,
  });
  await store.close();
  rmSync(dir, { recursive: true });
});

test('a full disk when LevelDB opens is STORE_FULL, not STORE_IO (the node then says so and exits 75)', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { closeSync, mkdirSync, openSync, writeSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'stele-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch (error) {
    // Mounting needs root. CI runs as root (.ci/run sets CI), so there a failed mount is a
    // broken set-up, not a reason to skip; elsewhere the chaos slice's fallback applies.
    rmSync(dir, { recursive: true, force: true });
    if ((process.env.CI ?? '') !== '') assert.fail(`CI is set, but a tmpfs cannot be mounted (${(error as Error).message.split('\n')[0]}): the full-disk test must run in CI (as root)`);
    t.skip('cannot mount a tmpfs here (not root)');
    return;
  }
  try {
    const genesis = devChain({ label: 'full-disk' }).genesis;
    await (await LedgerStore.open(join(dir, 'd'), genesis)).close();
    const fd = openSync(join(dir, 'filler'), 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(64 * 1024));
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
    mkdirSync(join(dir, 'd'), { recursive: true });
    await assert.rejects(LedgerStore.open(join(dir, 'd'), genesis), (e: unknown) => isSteleError(e, 'STORE_FULL'));
  } finally {
    execFileSync('umount', [dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ledger store: a failed transaction is indexed with its code, listed under its block, and both survive a reopen; a mangled list is STORE_CORRUPT', async () => {
  const dir = tempDir();
  const dev = devChain({ label: 'store-failed', users: 3 });
  let store = await LedgerStore.open(dir, dev.genesis);
  const [u0, u1, u2] = dev.users as [DevUser, DevUser, DevUser];
  const all = balanceOf(store.state, u0.publicKey, 'STL');
  const pay = (to: DevUser, amount: bigint) => signTx({ chainId: dev.genesis.chainId, expiry: 50, payload: { type: 'transfer', from: u0.publicKey, asset: 'STL', to: to.publicKey, amount } }, [u0]);
  const first = pay(u1, all);
  const second = pay(u2, all);
  const { block, refused, failed } = produceBlock(dev, store.tip, store.state, [first, second]);
  assert.deepEqual(refused, []);
  assert.deepEqual(failed.map((f) => [f.index, f.code]), [[1, 'TX_INSUFFICIENT_BALANCE']]);
  await store.commit(block);
  const check = async (s: LedgerStore): Promise<void> => {
    assert.deepEqual(await s.txLocation(first.id), { height: 1, index: 0, failed: null });
    assert.deepEqual(await s.txLocation(second.id), { height: 1, index: 1, failed: 'TX_INSUFFICIENT_BALANCE' });
    assert.deepEqual(await s.failuresAt(1), [{ index: 1, code: 'TX_INSUFFICIENT_BALANCE' }]);
    assert.deepEqual(await s.failuresAt(2), []);
    assert.equal(balanceOf(s.state, u2.publicKey, 'STL'), balanceOf(s.state, u1.publicKey, 'STL') - all, 'the failed transfer moved nothing');
  };
  await check(store);
  await store.close();
  store = await LedgerStore.open(dir, dev.genesis);
  await check(store);
  await store.close();
  // A list entry that does not decode is reported, not guessed at.
  const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.put('f:0000000000000001', Uint8Array.from([0, 0, 0, 9]));
  await db.close();
  store = await LedgerStore.open(dir, dev.genesis);
  await assert.rejects(store.failuresAt(1), (e: unknown) => isSteleError(e, 'STORE_CORRUPT'));
  await store.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: state values carry checksums; a flipped bit in LevelDB is STORE_CORRUPT at open, naming the key; old directories get checksums once', async () => {
  const dir = tempDir();
  const dev = devChain({ label: 'store-crc', users: 3 });
  let store = await LedgerStore.open(dir, dev.genesis);
  const [u0, u1] = dev.users as [DevUser, DevUser];
  const pay = signTx({ chainId: dev.genesis.chainId, expiry: 50, payload: { type: 'transfer', from: u0.publicKey, asset: 'STL', to: u1.publicKey, amount: 5n } }, [u0]);
  await store.commit(produceBlock(dev, store.tip, store.state, [pay]).block);
  const stateHash = store.tip.stateHash;
  const balance = balanceOf(store.state, u1.publicKey, 'STL');
  await store.close();
  const balanceKey = `s:bal/${toHex(u1.publicKey)}/STL`;
  const withDb = async (f: (db: ClassicLevel<string, Uint8Array>) => Promise<void>): Promise<void> => {
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    await f(db);
    await db.close();
  };
  // Stored: checksum (4 bytes), then the u64 balance.
  let stored = new Uint8Array(0);
  await withDb(async (db) => {
    stored = Uint8Array.from((await db.get(balanceKey)) as Uint8Array);
  });
  assert.equal(stored.length, 12);
  assert.equal(new DataView(stored.buffer, 4).getBigUint64(0), balance);
  for (const flip of [0, 11]) {
    const bad = Uint8Array.from(stored);
    bad[flip]! ^= 0x10;
    await withDb((db) => db.put(balanceKey, bad));
    await assert.rejects(LedgerStore.open(dir, dev.genesis), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && e.details.key === balanceKey.slice(2), `byte ${flip}`);
  }
  await withDb((db) => db.put(balanceKey, stored.subarray(0, 3)));
  await assert.rejects(LedgerStore.open(dir, dev.genesis), (e: unknown) => isSteleError(e, 'STORE_CORRUPT'));
  // A directory from before checksums: raw values, no version key. It opens to the same
  // state, and has checksums from then on.
  await withDb(async (db) => {
    const batch = db.batch();
    for await (const [key, value] of db.iterator({ gte: 's:', lt: 's;' })) batch.put(key, key === balanceKey ? stored.subarray(4) : Uint8Array.from(value).subarray(4));
    batch.del('m:state_checksums');
    await batch.write();
  });
  store = await LedgerStore.open(dir, dev.genesis);
  assert.deepEqual(store.tip.stateHash, stateHash);
  assert.equal(balanceOf(store.state, u1.publicKey, 'STL'), balance);
  await store.close();
  await withDb(async (db) => {
    assert.deepEqual(Uint8Array.from((await db.get(balanceKey)) as Uint8Array), stored, 'checksummed again');
  });
  store = await LedgerStore.open(dir, dev.genesis);
  assert.equal(balanceOf(store.state, u1.publicKey, 'STL'), balance);
  await store.close();
  // The repair docs/operations.md gives for a damaged index: move it aside, and the store
  // rebuilds it from the block log.
  renameSync(join(dir, 'index'), join(dir, 'index.damaged'));
  store = await LedgerStore.open(dir, dev.genesis);
  assert.equal(store.replayed, 1);
  assert.deepEqual(store.tip.stateHash, stateHash);
  assert.equal(balanceOf(store.state, u1.publicKey, 'STL'), balance);
  await store.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: a directory from before due entries covered whole after chains opens only if its state already follows them (STORE_MISMATCH), and is version 2 once checked; version 2 is what older builds refuse', async () => {
  const dir = tempDir();
  const dev = devChain({ label: 'store-due', users: 2 });
  const [u0] = dev.users as [DevUser];
  const source = 'contract Chained { parties a\n params cur: asset\n currency cur\n init A\n state A { after 2 -> B }\n state B { after 3 -> End }\n final End }';
  const signed = (payload: Parameters<typeof signTx>[0]['payload']) => signTx({ chainId: dev.genesis.chainId, expiry: 50, payload }, [u0]);
  let store = await LedgerStore.open(dir, dev.genesis);
  await store.commit(produceBlock(dev, store.tip, store.state, [signed({ type: 'deploy', source })]).block);
  const create = signed({ type: 'create', contract: 'Chained', parties: [{ name: 'a', key: u0.publicKey }], params: [{ name: 'cur', value: { kind: 'asset', value: 'STL' } }], refs: [] });
  const made = produceBlock(dev, store.tip, store.state, [create]);
  assert.deepEqual(made.refused, []);
  await store.commit(made.block);
  const c = store.height;
  await store.close();
  const withDb = async <T>(f: (db: ClassicLevel<string, Uint8Array>) => Promise<T>): Promise<T> => {
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    try {
      return await f(db);
    } finally {
      await db.close();
    }
  };
  const version = (db: ClassicLevel<string, Uint8Array>) => db.get('m:state_checksums').then((v) => (v === undefined ? undefined : Number(new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0))));
  const u64 = (n: number) => {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(n));
    return out;
  };
  const laterEntry = `s:cdue/${String(c + 5).padStart(16, '0')}`;
  const kept = await withDb(async (db) => {
    assert.equal(await version(db), 2, 'a new directory is version 2');
    // Version 1, but right (no instance lacks an entry): it opens, and becomes version 2.
    await db.put('m:state_checksums', u64(1));
    return Uint8Array.from((await db.get(laterEntry)) as Uint8Array);
  });
  store = await LedgerStore.open(dir, dev.genesis);
  await store.close();
  await withDb(async (db) => {
    assert.equal(await version(db), 2, 'version 2 once checked');
    // What a build before store version 2 wrote: an entry at the first deadline only.
    await db.batch().put('m:state_checksums', u64(1)).del(laterEntry).write();
  });
  await assert.rejects(LedgerStore.open(dir, dev.genesis), (e: unknown) => isSteleError(e, 'STORE_MISMATCH') && e.message.includes(`instance 1 holds no due entry at height ${c + 5}`));
  assert.equal(await withDb(version), 1, 'a refused directory is left as it was');
  // An unknown version is refused too.
  await withDb((db) => db.batch().put(laterEntry, kept).put('m:state_checksums', u64(9)).write());
  await assert.rejects(LedgerStore.open(dir, dev.genesis), (e: unknown) => isSteleError(e, 'STORE_MISMATCH') && /version 9/.test(e.message));
  await withDb((db) => db.put('m:state_checksums', u64(2)));
  store = await LedgerStore.open(dir, dev.genesis);
  await store.close();
  rmSync(dir, { recursive: true });
});

test('ledger store: a damaged index is a coded error naming it: LevelDB\'s corruption STORE_CORRUPT (with the remedy), a table it cannot read STORE_IO, never an uncoded error (review, 2026-12-02)', async () => {
  const dir = tempDir();
  const made = async (): Promise<string> => {
    const at = join(dir, `s${readdirSync(dir).length}`);
    const store = await LedgerStore.open(at, chain.genesis);
    for (const b of makeChain(4, 3).blocks) await store.commit(b);
    await store.close();
    // Opened again, LevelDB turns its write-ahead log into a table file (.ldb).
    await (await LedgerStore.open(at, chain.genesis)).close();
    return at;
  };
  const index = (at: string): string => join(at, 'index');
  try {
    // The MANIFEST overwritten in its middle: LevelDB says "Corruption".
    const a = await made();
    const manifest = readdirSync(index(a)).find((f) => f.startsWith('MANIFEST-')) as string;
    const fd = openSync(join(index(a), manifest), 'r+');
    writeSync(fd, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, 20);
    closeSync(fd);
    await assert.rejects(LedgerStore.open(a, chain.genesis), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && e.details.path === index(a) && /moved aside/.test(e.message));
    // A table file cut short: whatever LevelDB calls it, a coded error naming the index.
    const b = await made();
    const tables = readdirSync(index(b)).filter((f) => f.endsWith('.ldb'));
    assert.ok(tables.length > 0, `a table file to damage: ${readdirSync(index(b)).join(', ')}`);
    for (const t of tables) truncateSync(join(index(b), t), 100);
    await assert.rejects(LedgerStore.open(b, chain.genesis), (e: unknown) => isSteleError(e) && ['STORE_CORRUPT', 'STORE_IO'].includes(e.code) && e.details.path === index(b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FileBlockLog: a writable open syncs the log, so records a killed writer left in the page cache are durable before the store indexes them (review of 2026-12-02)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-log-sync-'));
  const fs = (await import('node:fs')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  const real = fs.fsyncSync;
  const synced: number[] = [];
  try {
    const path = join(dir, 'blocks.log');
    const log = FileBlockLog.open(path);
    log.append(new Uint8Array(200).fill(7));
    await log.close();
    // block-log.ts imports fsyncSync from node:fs: syncBuiltinESMExports carries the spy there.
    (fs as { fsyncSync: unknown }).fsyncSync = (fd: number) => {
      synced.push(fd);
      real(fd);
    };
    syncBuiltinESMExports();
    const again = FileBlockLog.open(path); // nothing torn: before, no fsync at all
    assert.equal(again.length, 1);
    assert.ok(synced.length >= 1, 'the log was synced at open');
    await again.close();
    synced.length = 0;
    const reader = FileBlockLog.open(path, { readOnly: true });
    assert.equal(synced.length, 0, 'a read-only open writes nothing and syncs nothing');
    await reader.close();
  } finally {
    (fs as { fsyncSync: unknown }).fsyncSync = real;
    syncBuiltinESMExports();
    rmSync(dir, { recursive: true, force: true });
  }
});
