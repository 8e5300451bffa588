/**
 * Worker body for the transport test "a rejected promise from onMessages surfaces as an
 * uncaught exception": a two-validator cluster whose handler returns a rejected promise.
 * It reports the uncaught exception it saw (null if none within 3 s) and how many batches
 * still held their credit at that moment. A worker, because node:test reports an uncaught
 * exception in its own process as a failure of whichever test is running.
 */
import { parentPort } from 'node:worker_threads';
import { cluster, until } from './transport-fixtures.js';

let seen: { message: string; batchesInFlight: number } | null = null;
const c = await cluster(2, { onMessages: () => Promise.reject(new Error('handler failed on purpose')) });
process.on('uncaughtException', (error: Error) => {
  seen ??= { message: error.message, batchesInFlight: c.nodes[1]!.transport.counters().batchesInFlight };
});
c.nodes[0]!.transport.send(1, Uint8Array.of(1, 2, 3));
await until('an uncaught exception', () => seen !== null, 3000).catch(() => {});
await c.close();
parentPort?.postMessage(seen);
