/**
 * Spreads signature verification over worker threads (one per core by default). A batch
 * is packed once into shared memory (verify-batch.ts); every worker claims chunks of it
 * until it is exhausted. The caller may claim chunks too (`VerifyJob.help`) once its own
 * work is done, so on a machine with as many workers as cores no core idles before the end.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { invariant } from './assert.js';
import { verify } from './ed25519.js';
import { batchVerdicts, drainBatch, packBatch, verifyBatchHere, type VerifyItem } from './verify-batch.js';

export type { VerifyItem } from './verify-batch.js';

/** A batch under way. */
export interface VerifyJob {
  /** Verifies unclaimed chunks on the calling thread (blocks it) until none are left. */
  help(): void;
  /** Verdicts (1 valid, 0 not) for every item, in order. */
  readonly done: Promise<Uint8Array>;
}

interface Pending {
  replies: number;
  readonly shared: SharedArrayBuffer;
  resolve(verdicts: Uint8Array): void;
  reject(error: Error): void;
}

/** Batches smaller than this run on the calling thread: a round trip costs more. */
const INLINE_BATCH_MAX = 16;
/** Young-generation size of each verify worker (docs/performance.md, memory). */
const WORKER_YOUNG_MB = 4;
/**
 * Bound on outstanding batches. A batch that finds this many outstanding is verified on the
 * calling thread instead (overload: the caller slows down rather than queueing without bound).
 */
export const JOBS_MAX = 256;
/** The most worker threads a pool runs (the default is one per core, capped here). */
export const THREADS_MAX = 64;

export class VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** Batches verified on the calling thread because JOBS_MAX were outstanding. */
  overflowed = 0;
  /**
   * Why the workers can no longer be used (a worker failed or exited): from then on every
   * batch is verified on the calling thread. Null while they are all running.
   */
  broken: Error | null = null;

  /** @param threads worker count (default: one per core) */
  constructor(threads = Math.min(THREADS_MAX, availableParallelism())) {
    invariant(Number.isInteger(threads) && threads >= 1 && threads <= THREADS_MAX, `thread count 1..${THREADS_MAX}`);
    for (let i = 0; i < threads; i++) {
      // A worker keeps nothing between batches, so a small young generation is enough; V8's
      // default (up to 16 MiB per semi-space) would hold tens of MiB per worker for nothing.
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
      worker.on('message', (reply: { id: number; done: number }) => this.reply(reply.id));
      worker.on('error', (error) => this.lose(error));
      worker.on('exit', (code) => this.lose(new Error(`a verify worker exited (code ${code})`)));
      // Workers hold the event loop open only while a batch is outstanding (see hold()).
      worker.unref();
      this.workers.push(worker);
    }
  }

  get threads(): number {
    return this.workers.length;
  }

  private reply(id: number): void {
    // A batch no longer pending (failed, or finished here after a worker was lost) may
    // still get replies that were posted before: they are late, not wrong. An invariant
    // here threw in a 'message' listener and ended the process (found in review, 2026-11-30).
    const job = this.pending.get(id);
    if (job === undefined) return;
    job.replies++;
    if (job.replies < this.workers.length) return;
    this.pending.delete(id);
    this.refWorkers();
    job.resolve(batchVerdicts(job.shared));
  }

  /**
   * A worker failed or exited while the pool is open: every later batch is verified on the
   * calling thread, and each batch under way is verified again here in full (a chunk the
   * lost worker claimed may never have been verified, and would read as invalid). Before,
   * the pool waited for the lost worker's replies forever, and the node stopped applying
   * blocks (found in review, 2026-11-30).
   */
  private lose(error: Error): void {
    if (this.closed) return;
    if (this.broken === null) {
      this.broken = error;
      process.stderr.write(`stele: signature verification continues on the calling thread: ${error.message}\n`);
    }
    const jobs = [...this.pending.values()];
    this.pending.clear();
    this.refWorkers();
    for (const job of jobs) job.resolve(verifyBatchHere(job.shared));
  }

  private failAll(error: Error): void {
    for (const job of this.pending.values()) job.reject(error);
    this.pending.clear();
    this.refWorkers();
  }

  private refWorkers(): void {
    for (const w of this.workers) {
      if (this.pending.size > 0) w.ref();
      else w.unref();
    }
  }

  /** Starts verifying `items` on the workers. */
  start(items: readonly VerifyItem[]): VerifyJob {
    if (this.closed) throw new Error('verify pool is closed');
    if (items.length <= INLINE_BATCH_MAX || this.pending.size >= JOBS_MAX || this.broken !== null) {
      if (items.length > INLINE_BATCH_MAX && this.broken === null) this.overflowed++;
      const verdicts = Uint8Array.from(items, (x) => (verify(x.publicKey, x.message, x.signature) ? 1 : 0));
      return { help: () => {}, done: Promise.resolve(verdicts) };
    }
    const shared = packBatch(items);
    const id = this.nextId++;
    const done = new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { replies: 0, shared, resolve, reject });
    });
    this.refWorkers();
    for (const w of this.workers) w.postMessage({ id, shared });
    return { help: () => void drainBatch(shared), done };
  }

  /** Verdicts (1 valid, 0 not) for every item, in order, from the workers alone. */
  verifyBatch(items: readonly VerifyItem[]): Promise<Uint8Array> {
    return this.start(items).done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('verify pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
