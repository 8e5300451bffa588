/**
 * Worker side of the verify pool. Input: a packed batch of items
 * [u32 message length][32 public key][64 signature][message]; output: one byte per item
 * (1 = valid under the strict rule). Runs `verify` (the fast path) only.
 */
import { parentPort } from 'node:worker_threads';
import { verify } from './ed25519.js';

interface Job {
  readonly id: number;
  readonly batch: Uint8Array;
  readonly count: number;
}

parentPort?.on('message', (job: Job) => {
  const { batch, count } = job;
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const verdicts = new Uint8Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(at);
    const key = batch.subarray(at + 4, at + 36);
    const signature = batch.subarray(at + 36, at + 100);
    const message = batch.subarray(at + 100, at + 100 + length);
    verdicts[i] = verify(key, message, signature) ? 1 : 0;
    at += 100 + length;
  }
  parentPort?.postMessage({ id: job.id, verdicts }, [verdicts.buffer]);
});
