/**
 * Tamper evidence: any change to committed bytes, and any insertion, deletion or
 * reordering of blocks, is caught by chain verification, which names the first bad block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkStructure, verifyChain } from '../../ledger/chain.js';
import fs, { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBlock, encodeBlock, encodeHeader, signVote, withCertificate, type Block } from '../../ledger/block.js';
import { BLOCK_ENCODING_BYTES_MIN, openChainFile, writeChainFile } from '../../ledger/chain-file.js';
import { toHex } from '../../ledger/assert.js';
import { isSteleError } from '../../ledger/errors.js';
import { leafHash, merkleProof, merkleRoot, verifyMerkleProof } from '../../ledger/merkle.js';
import { sha256 } from '../../ledger/hash.js';
import { JOBS_MAX, VerifyPool } from '../../ledger/verify-pool.js';
import { verify } from '../../ledger/ed25519.js';
import { chain, makeChain } from '../support/fixtures.js';
import { decodeTx, encodeTx, type Tx } from '../../ledger/tx.js';
import type { Signer } from '../../ledger/ed25519.js';

const { blocks } = makeChain(6, 5);
const bytes = blocks.map((b) => b.bytes);
const g = chain.genesis;

async function failure(list: Uint8Array[]) {
  const report = await verifyChain(g, list);
  assert.equal(report.ok, false, 'the change must be detected');
  return report.failure as { height: number; code: string; message: string };
}

test('the untampered chain verifies, with the reference verifier too', async () => {
  const report = await verifyChain(g, bytes);
  assert.equal(report.ok, true, JSON.stringify(report.failure));
  assert.equal(report.height, 6);
  assert.equal(report.transactions, 30);
  const reference = await verifyChain(g, bytes, { reference: true });
  assert.deepEqual(reference, report);
});

test('reorder, deletion, insertion and duplication of blocks are detected at the first bad height', async () => {
  const swapped = [bytes[0], bytes[2], bytes[1], ...bytes.slice(3)] as Uint8Array[];
  assert.deepEqual(await failure(swapped).then((f) => [f.height, f.code]), [2, 'BLOCK_BAD_HEIGHT']);
  const deleted = [bytes[0], ...bytes.slice(2)] as Uint8Array[];
  assert.equal((await failure(deleted)).height, 2);
  const duplicated = [bytes[0], bytes[0], ...bytes.slice(1)] as Uint8Array[];
  assert.deepEqual(await failure(duplicated).then((f) => [f.height, f.code]), [2, 'BLOCK_BAD_HEIGHT']);
});

test('a block re-signed by its proposer with other contents breaks the chain at the next block', async () => {
  // Rebuild block 3 without its last transaction, validly signed and certified, so only the
  // hash link from block 4 (and the state hash) can expose it.
  const b3 = blocks[2] as Block;
  const forged = buildBlock({ ...b3.header, prevHash: b3.header.prevHash }, b3.txs.slice(0, 4), chain.validators[b3.header.proposer] as Signer);
  const certified = withCertificate(forged, chain.validators.slice(0, 2).map((v, i) => signVote(v, i, forged)));
  const list = [...bytes.slice(0, 2), certified.bytes, ...bytes.slice(3)];
  const f = await failure(list);
  assert.equal(f.height, 3);
  assert.equal(f.code, 'BLOCK_BAD_STATE_HASH');
});

test('certificates: too few votes, an unknown validator, a forged vote, a duplicated voter', async () => {
  const b2 = blocks[1] as Block;
  const replace = (cert: Block['certificate']) => [bytes[0], encodeBlock(b2.headerBytes, b2.proposerSignature, b2.txs, cert), ...bytes.slice(2)] as Uint8Array[];
  assert.deepEqual(await failure(replace(b2.certificate.slice(0, 1))).then((f) => [f.height, f.code]), [2, 'BLOCK_BAD_CERTIFICATE']);
  const forgedVote = { validator: 2, signature: Uint8Array.from((b2.certificate[0] as { signature: Uint8Array }).signature) };
  assert.deepEqual(await failure(replace([b2.certificate[0] as Block['certificate'][number], forgedVote])).then((f) => [f.height, f.code]), [2, 'BLOCK_BAD_CERTIFICATE']);
  // The failure names the vote (labels are made only for an error since 2026-12-02).
  assert.match((await failure(replace([b2.certificate[0] as Block['certificate'][number], forgedVote]))).message, new RegExp(`vote of validator 2 \\(${(g.validators[2] as { id: string }).id}\\) does not verify`));
  const unknown = { validator: 9, signature: new Uint8Array(64) };
  assert.deepEqual(await failure(replace([...b2.certificate, unknown])).then((f) => [f.height, f.code]), [2, 'BLOCK_BAD_CERTIFICATE']);
  // A duplicated voter: the certificate's last vote (u16 index, 64-byte signature) becomes
  // a copy of the one before it, a valid vote counted twice. It cannot even be encoded
  // canonically (indices strictly ascending), so decoding refuses it.
  const dup = Uint8Array.from(encodeBlock(b2.headerBytes, b2.proposerSignature, b2.txs, b2.certificate));
  dup.set(dup.slice(dup.length - 132, dup.length - 66), dup.length - 66);
  const f = await failure([bytes[0] as Uint8Array, dup, ...bytes.slice(2)]);
  assert.equal(f.height, 2);
  assert.equal(f.code, 'BLOCK_MALFORMED');
  assert.match(f.message, /certificate/);
  // A block built in memory (never decoded) with one vote twice is refused by the checks
  // themselves, not only by the decoder.
  const b1 = blocks[0] as Block;
  const tip = { height: 1, hash: b1.hash, stateHash: b1.header.stateHash, timeMs: b1.header.timeMs };
  assert.doesNotThrow(() => checkStructure(g, tip, b2));
  const twice = { ...b2, certificate: [b2.certificate[0], b2.certificate[0]] } as Block;
  assert.throws(() => checkStructure(g, tip, twice), (e: unknown) => e instanceof Error && 'code' in e && e.code === 'BLOCK_BAD_CERTIFICATE' && /distinct/.test(e.message));
});

test('a bad proposer signature and a bad transaction signature are named in the failure', async () => {
  const b2 = blocks[1] as Block;
  const badProposer = encodeBlock(b2.headerBytes, Uint8Array.from(b2.certificate[0]?.signature as Uint8Array), b2.txs, b2.certificate);
  const p = await failure([bytes[0] as Uint8Array, badProposer, ...bytes.slice(2)]);
  assert.deepEqual([p.height, p.code], [2, 'BLOCK_BAD_PROPOSER']);
  assert.match(p.message, /proposer signature does not verify/);
  // Transaction 3's signature swapped for transaction 2's, in a block rebuilt, signed and
  // certified around it, so only that signature is wrong.
  const txs = b2.txs.map((t, i) => (i === 3 ? decodeTx(encodeTx(t.bodyBytes, (b2.txs[2] as Tx).signatures)) : t));
  const rebuilt = buildBlock({ ...b2.header }, txs, chain.validators[b2.header.proposer] as Signer);
  const certified = withCertificate(rebuilt, chain.validators.slice(0, 2).map((v, i) => signVote(v, i, rebuilt)));
  const t = await failure([bytes[0] as Uint8Array, certified.bytes]);
  assert.deepEqual([t.height, t.code], [2, 'BLOCK_BAD_TRANSACTION']);
  assert.match(t.message, /transaction 3 signature 0 does not verify/);
});

test('property: flipping any bit of any block is detected, at that block, never a crash', async () => {
  const total = bytes.reduce((n, b) => n + b.length, 0);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: total * 8 - 1 }), async (bit) => {
      let at = bit >> 3;
      let which = 0;
      while (at >= (bytes[which] as Uint8Array).length) {
        at -= (bytes[which] as Uint8Array).length;
        which++;
      }
      const copy = bytes.map((b) => Uint8Array.from(b));
      const target = copy[which] as Uint8Array;
      target[at] = (target[at] as number) ^ (1 << (bit & 7));
      const f = await failure(copy);
      assert.equal(f.height, which + 1, `flip in block ${which + 1} reported at ${f.height}: ${f.code} ${f.message}`);
    }),
    { numRuns: 400 },
  );
});

test('the verify pool gives the verdicts the fixture is built to have, as the inline verifier does', async () => {
  const pool = new VerifyPool(2);
  try {
    const once = blocks.flatMap((b) => b.txs.map((t) => ({ publicKey: t.body.signers[0] as Uint8Array, message: t.bodyBytes, signature: t.signatures[0] as Uint8Array })));
    const items = [...once, ...once, ...once, ...once]; // several chunks for every thread
    const bad = items.map((x, i) => (i % 3 === 0 ? { ...x, message: Uint8Array.of(...x.message, 1) } : x));
    bad.push({ publicKey: new Uint8Array(31), message: new Uint8Array(), signature: new Uint8Array(64) });
    bad.push({ publicKey: items[0]!.publicKey, message: items[0]!.message, signature: new Uint8Array(65) });
    assert.ok(bad.length > 64, `${bad.length} items: enough for the workers, not the inline path`);
    // Known by construction, not by asking `verify` (which the pool runs too): the signatures
    // from the fixture's blocks are good, every third item's message was changed after
    // signing, and the last two have a 31-byte key or a 65-byte signature.
    const expected = [...items.map((_, i) => (i % 3 === 0 ? 0 : 1)), 0, 0];
    assert.deepEqual(bad.map((x) => (verify(x.publicKey, x.message, x.signature) ? 1 : 0)), expected, 'the inline verifier');
    const verdicts = await pool.verifyBatch(bad);
    assert.deepEqual(Array.from(verdicts), expected);
    assert.ok(verdicts.includes(0) && verdicts.includes(1));
    // The calling thread may claim chunks too; two batches at once keep their own verdicts.
    const first = pool.start(bad);
    const second = pool.start(items);
    first.help();
    assert.deepEqual(Array.from(await first.done), expected);
    assert.deepEqual(Array.from(await second.done), items.map(() => 1));
    const report = await verifyChain(g, bytes, { pool });
    assert.equal(report.ok, true);
  } finally {
    await pool.close();
  }
});

test('the verify pool, with JOBS_MAX batches outstanding, verifies the next on the calling thread instead of failing', async () => {
  const pool = new VerifyPool(1);
  try {
    const once = blocks.flatMap((b) => b.txs.map((t) => ({ publicKey: t.body.signers[0] as Uint8Array, message: t.bodyBytes, signature: t.signatures[0] as Uint8Array })));
    const items = [...once, ...once].slice(0, 17); // just above the inline size
    assert.equal(items.length, 17);
    const bad = items.map((x, i) => (i === 5 ? { ...x, message: Uint8Array.of(...x.message, 1) } : x));
    const expected = bad.map((_, i) => (i === 5 ? 0 : 1));
    const jobs = Array.from({ length: JOBS_MAX + 3 }, () => pool.start(bad));
    assert.equal(pool.overflowed, 3, 'the three beyond the bound ran here');
    for (const job of jobs) assert.deepEqual(Array.from(await job.done), expected);
  } finally {
    await pool.close();
  }
});

test('Merkle proofs: every leaf of trees of 1..40 leaves proves, and any change to a proof fails', () => {
  for (let n = 1; n <= 40; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leafHash(Uint8Array.of(i, n)));
    const root = merkleRoot(leaves);
    for (let i = 0; i < n; i++) {
      const proof = merkleProof(leaves, i);
      assert.ok(verifyMerkleProof(root, leaves[i] as Uint8Array, proof), `n=${n} i=${i}`);
      if (n > 1) {
        assert.equal(verifyMerkleProof(root, leaves[(i + 1) % n] as Uint8Array, proof), false);
        assert.equal(verifyMerkleProof(root, leaves[i] as Uint8Array, { ...proof, index: (i + 1) % n }), false);
        assert.equal(verifyMerkleProof(root, leaves[i] as Uint8Array, { ...proof, siblings: proof.siblings.slice(1) }), false);
        const bent = proof.siblings.map((s, k) => (k === 0 ? sha256(s) : s));
        assert.equal(verifyMerkleProof(root, leaves[i] as Uint8Array, { ...proof, siblings: bent }), false);
      }
    }
  }
  // A leaf can never pass for an interior node (domain separation): the root of two
  // leaves is not the leaf hash of their concatenation.
  const a = leafHash(Uint8Array.of(1));
  const b = leafHash(Uint8Array.of(2));
  assert.notDeepEqual(merkleRoot([a, b]), leafHash(Uint8Array.of(...a, ...b)));
  assert.deepEqual(merkleRoot([]), sha256(new Uint8Array()));
});

test('with the lookahead, two bad blocks in a row are reported at the first, with or without workers', async () => {
  const pool = new VerifyPool(2);
  try {
    // Block 3 with a transaction signature broken, then block 4 as garbage.
    const copy: Uint8Array[] = bytes.map((b) => Uint8Array.from(b));
    const block3 = blocks[2] as Block;
    const sig = block3.txs[1]!.signatures[0] as Uint8Array;
    const at = Buffer.from(copy[2] as Uint8Array).indexOf(Buffer.from(sig));
    assert.ok(at > 0, 'signature found in the encoded block');
    (copy[2] as Uint8Array)[at + 5]! ^= 0x10;
    copy[3] = Uint8Array.of(1, 2, 3);
    for (const options of [{}, { pool }]) {
      const report = await verifyChain(g, copy, options);
      assert.equal(report.ok, false);
      assert.equal(report.height, 2);
      assert.equal(report.failure?.height, 3);
      // Block 3's own failure (the changed signature changes its id, so the Merkle root
      // is what fails first), not block 4's garbage.
      assert.equal(report.failure?.code, 'BLOCK_BAD_MERKLE_ROOT');
    }
    // Garbage first, then a block that would fail on its own: the garbage is reported.
    const swapped: Uint8Array[] = bytes.map((b) => Uint8Array.from(b));
    swapped[2] = Uint8Array.of(9, 9);
    swapped[3] = copy[2] as Uint8Array;
    const report = await verifyChain(g, swapped, { pool });
    assert.equal(report.failure?.height, 3);
    assert.equal(report.failure?.code, 'BLOCK_MALFORMED');
    // The last block bad: found after the loop's lookahead ends.
    const last: Uint8Array[] = bytes.map((b) => Uint8Array.from(b));
    last[5] = Uint8Array.of(7);
    const lastReport = await verifyChain(g, last, { pool });
    assert.equal(lastReport.failure?.height, 6);
    assert.equal(lastReport.height, 5);
    assert.equal(lastReport.transactions, 25);
  } finally {
    await pool.close();
  }
});

test('chain files: no block encodes below BLOCK_ENCODING_BYTES_MIN, the bound openChainFile puts on frame lengths', () => {
  const smallest = encodeBlock(
    encodeHeader({ chainId: 'x', height: 1, prevHash: new Uint8Array(32), txRoot: new Uint8Array(32), txCount: 0, stateHash: new Uint8Array(32), timeMs: 0, proposer: 0, ballot: { round: 0, leader: 0 } }),
    new Uint8Array(64),
    [],
    [],
  );
  assert.ok(smallest.length >= BLOCK_ENCODING_BYTES_MIN, `${smallest.length} >= ${BLOCK_ENCODING_BYTES_MIN}`);
  assert.ok(Math.min(...bytes.map((b) => b.length)) >= BLOCK_ENCODING_BYTES_MIN);
});

test('writeChainFile writes only a chain from height 1: blocks repeated, skipped, from elsewhere or not from 1 are refused, nothing left behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-chain-file-'));
  try {
    const path = join(dir, 'chain.stele');
    const written = await writeChainFile(path, bytes, false);
    assert.deepEqual([written.count, toHex(written.head)], [6, toHex(blocks[5]!.hash)]);
    const file = openChainFile(path);
    assert.deepEqual([...file.blocks()].map((b) => toHex(b)), bytes.map((b) => toHex(b)));
    file.close();
    // Block 2 re-signed with other contents: its height is right, block 3's parent is not.
    const other = buildBlock({ ...blocks[1]!.header, stateHash: new Uint8Array(32) }, blocks[1]!.txs, chain.validators[blocks[1]!.header.proposer] as Signer);
    const refusals: Array<[Uint8Array[], RegExp]> = [
      [[bytes[0]!, bytes[1]!, bytes[1]!, bytes[2]!], /served block 2 where block 3 belongs/],
      [[bytes[0]!, bytes[2]!], /served block 3 where block 2 belongs/],
      [bytes.slice(1), /served block 2 where block 1 belongs/],
      [[bytes[0]!, other.bytes, bytes[2]!], /block 3 does not follow block 2: its previous hash is [0-9a-f]{64}, block 2 has hash [0-9a-f]{64}/],
    ];
    for (const [list, message] of refusals) {
      const target = join(dir, 'refused.stele');
      await assert.rejects(writeChainFile(target, list, false), (e: unknown) => isSteleError(e, 'CLI_IO') && message.test(e.message), String(message));
    }
    assert.deepEqual(readdirSync(dir), ['chain.stele'], 'no file and no temporary file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeChainFile, found in review: an existing file is refused before any block is read, one made meanwhile is not replaced, and errors name the path given', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-chain-file-'));
  try {
    const path = join(dir, 'chain.stele');
    writeFileSync(path, 'precious');
    let pulled = 0;
    const counted = function* () {
      for (const b of bytes) {
        pulled++;
        yield b;
      }
    };
    await assert.rejects(writeChainFile(path, counted(), false), (e: unknown) => isSteleError(e, 'CLI_IO') && /chain\.stele exists; pass --force/.test(e.message));
    assert.equal(pulled, 0, 'no block read (a node\'s whole chain was downloaded first)');
    // Made while the blocks were read: the link at the end refuses to replace it.
    const late = join(dir, 'late.stele');
    const making = function* () {
      yield bytes[0]!;
      writeFileSync(late, 'made meanwhile');
      yield bytes[1]!;
    };
    await assert.rejects(writeChainFile(late, making(), false), (e: unknown) => isSteleError(e, 'CLI_IO') && /late\.stele exists/.test(e.message));
    assert.equal(readFileSync(late, 'utf8'), 'made meanwhile');
    // A directory that does not exist: the error names the file asked for, not a temporary one.
    const lost = join(dir, 'missing', 'chain.stele');
    await assert.rejects(writeChainFile(lost, bytes, false), (e: unknown) => isSteleError(e, 'CLI_IO') && e.message.endsWith(`cannot write ${lost}: ENOENT`));
    // --force replaces.
    assert.equal((await writeChainFile(path, bytes, true)).count, 6);
    assert.deepEqual(readdirSync(dir).sort(), ['chain.stele', 'late.stele'], 'no temporary file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a chain file changed after it was opened: blocks() uses the frame lengths checked at open and refuses a changed or cut frame as CHAIN_FILE_INVALID at its height (review of 2026-12-02)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-chain-file-'));
  try {
    const bytes = makeChain(2, 3).blocks.map((b) => b.bytes);
    const path = join(dir, 'chain.stele');
    await writeChainFile(path, bytes, false);
    const original = readFileSync(path);
    const header = 8 + 4 + 32 + 8; // magic, version, genesis hash, count
    const second = header + 4 + bytes[0]!.length;
    // Block 2's length rewritten to 1 GiB after the open: before, blocks() allocated that much.
    let file = openChainFile(path);
    assert.equal(file.damage, null);
    const grown = Buffer.from(original);
    grown.writeUInt32BE(1 << 30, second);
    writeFileSync(path, grown);
    const seen: Uint8Array[] = [];
    assert.throws(
      () => {
        for (const b of file.blocks()) seen.push(b);
      },
      (e: unknown) => isSteleError(e, 'CHAIN_FILE_INVALID') && e.details.height === 2 && /frame length changed since the file was opened/.test(e.message),
    );
    assert.deepEqual(seen.map((b) => toHex(b)), [toHex(bytes[0]!)], 'block 1 read as it was');
    file.close();
    // The file cut short after the open: a short read is refused, not a block of zeros.
    writeFileSync(path, original);
    file = openChainFile(path);
    fs.truncateSync(path, second + 4 + 10);
    assert.throws(() => [...file.blocks()], (e: unknown) => isSteleError(e, 'CHAIN_FILE_INVALID') && e.details.height === 2 && /cut short/.test(e.message));
    file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeChainFile writes every byte when the system writes a few at a time, and refuses when a write makes no progress (review, 2026-12-01)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-chain-file-'));
  // chain-file.ts imports writeSync from node:fs; syncBuiltinESMExports carries a
  // replacement on the CommonJS module over to that binding.
  const realWriteSync = fs.writeSync;
  const fake = (most: number) => (fd: number, buffer: Uint8Array, offset = 0, length = buffer.length - offset, position: number | null = null) =>
    most === 0 ? 0 : realWriteSync(fd, buffer, offset, Math.min(length, most), position);
  const using = (writeSync: unknown) => {
    (fs as { writeSync: unknown }).writeSync = writeSync;
    syncBuiltinESMExports();
  };
  try {
    const path = join(dir, 'chain.stele');
    using(fake(7));
    const written = await writeChainFile(path, bytes, false);
    using(realWriteSync);
    assert.equal(written.count, 6);
    const file = openChainFile(path);
    assert.equal(file.damage, null);
    assert.deepEqual([...file.blocks()].map((b) => toHex(b)), bytes.map((b) => toHex(b)));
    file.close();
    const stuck = join(dir, 'stuck.stele');
    using(fake(0));
    await assert.rejects(writeChainFile(stuck, bytes, false), (e: unknown) => isSteleError(e, 'CLI_IO') && e.message === `CLI_IO: cannot write ${stuck}: a write of 52 bytes wrote 0`);
    using(realWriteSync);
    assert.deepEqual(readdirSync(dir), ['chain.stele'], 'no file and no temporary file');
  } finally {
    using(realWriteSync);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a block source that fails midway: verifyChain throws its error, and the block verified ahead leaves no unhandled rejection when the pool closes (review, 2026-11-30)', async () => {
  const { blocks: big } = makeChain(3, 30); // over 16 signatures a block: the pool's workers verify them
  const pool = new VerifyPool(1);
  const unhandled: unknown[] = [];
  const note = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', note);
  try {
    async function* source(): AsyncGenerator<Uint8Array> {
      yield (big[0] as Block).bytes;
      yield (big[1] as Block).bytes;
      throw new Error('connection reset');
    }
    await assert.rejects(verifyChain(g, source(), { pool }), /connection reset/);
    await pool.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', note);
    await pool.close();
  }
});
