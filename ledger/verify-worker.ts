/**
 * Worker side of the verify pool: for each batch announced, claim chunks until none are
 * left (see verify-batch.ts), then report how many items this worker verified.
 */
import { parentPort } from 'node:worker_threads';
import { drainBatch } from './verify-batch.js';

interface Job {
  readonly id: number;
  readonly shared: SharedArrayBuffer;
}

parentPort?.on('message', (job: Job) => {
  const done = drainBatch(job.shared);
  parentPort?.postMessage({ id: job.id, done });
});
