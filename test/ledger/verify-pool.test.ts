/**
 * The verify pool and its packed batches: what a lost worker, late replies and messages
 * shared by several signers do (review of 2026-11-30).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { generateKeyPair, Signer } from '../../ledger/ed25519.js';
import { VerifyPool, type VerifyItem } from '../../ledger/verify-pool.js';
import { batchVerdicts, drainBatch, packBatch } from '../../ledger/verify-batch.js';

const signers = Array.from({ length: 8 }, () => new Signer(generateKeyPair()));

/** `count` items over distinct messages, every `badEvery`-th signature broken. */
function items(count: number, badEvery = 0): VerifyItem[] {
  return Array.from({ length: count }, (_, i) => {
    const signer = signers[i % signers.length] as Signer;
    const message = new TextEncoder().encode(`message ${i}`);
    const signature = signer.sign(message);
    if (badEvery > 0 && i % badEvery === 0) signature[0] = (signature[0] as number) ^ 1;
    return { publicKey: signer.publicKey, message, signature };
  });
}

function expected(count: number, badEvery: number): number[] {
  return Array.from({ length: count }, (_, i) => (badEvery > 0 && i % badEvery === 0 ? 0 : 1));
}

test('a message signed by several signers is packed once, and each signature is still checked against it', () => {
  const body = new Uint8Array(8192).fill(7);
  const shared = signers.map((s) => ({ publicKey: s.publicKey, message: body, signature: s.sign(body) }));
  const buffer = packBatch(shared);
  // Before, each of the 8 signers carried its own copy of the 8 KiB body (about 66 KB).
  assert.ok(buffer.byteLength < 2 * body.length, `${buffer.byteLength} bytes`);
  drainBatch(buffer);
  assert.deepEqual([...batchVerdicts(buffer)], signers.map(() => 1));
  // The same message object with one wrong signature: only that item fails.
  const wrong = shared.map((x, i) => (i === 3 ? { ...x, signature: (signers[4] as Signer).sign(body) } : x));
  const b2 = packBatch(wrong);
  drainBatch(b2);
  assert.deepEqual([...batchVerdicts(b2)], signers.map((_, i) => (i === 3 ? 0 : 1)));
  // Equal bytes in distinct objects are packed apart, and verify the same.
  const copies = signers.map((s) => ({ publicKey: s.publicKey, message: Uint8Array.from(body), signature: s.sign(body) }));
  const b3 = packBatch(copies);
  assert.ok(b3.byteLength > signers.length * body.length);
  drainBatch(b3);
  assert.deepEqual([...batchVerdicts(b3)], signers.map(() => 1));
});

test('a worker lost during a batch: the batch is verified on the calling thread, late replies are ignored, later batches run here', { timeout: 30_000 }, async () => {
  const pool = new VerifyPool(2);
  try {
    const batch = items(600, 7);
    const job = pool.start(batch);
    // The first worker goes away as it might on running out of memory.
    await ((pool as unknown as { workers: Worker[] }).workers[0] as Worker).terminate(); // the pool's private workers: nothing public ends one
    assert.deepEqual([...(await job.done)], expected(600, 7), 'every verdict right, none left at 0 by the lost worker');
    assert.ok(pool.broken !== null);
    // The surviving worker's reply to that batch may come after: nothing throws (the
    // process would end with an uncaught exception from the listener).
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual([...(await pool.verifyBatch(items(100, 9)))], expected(100, 9));
  } finally {
    await pool.close();
  }
});
