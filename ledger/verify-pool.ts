/**
 * Spreads signature verification over worker threads (one per core by default). A batch
 * is split into one contiguous chunk per worker; each chunk is packed into one buffer and
 * transferred, so the cost per signature is the verify itself plus a copy.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { invariant } from './assert.js';

export interface VerifyItem {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

interface Pending {
  resolve(verdicts: Uint8Array): void;
  reject(error: Error): void;
}

/** Batches smaller than this run on the calling thread: a round trip costs more. */
const INLINE_BATCH_MAX = 16;
/** Bound on one worker's queue of outstanding chunks. */
const WORKER_JOBS_MAX = 64;

export class VerifyPool {
  private readonly workers: Worker[] = [];
  /** Outstanding chunks per worker: a worker holds the event loop open only while busy. */
  private readonly busy: number[] = [];
  private readonly pending = new Map<number, Pending & { worker: number }>();
  private nextId = 1;
  private closed = false;
  private readonly inline: (item: VerifyItem) => boolean;

  /**
   * @param threads worker count (default: one per core)
   * @param inline verifier for small batches on the calling thread
   */
  constructor(inline: (item: VerifyItem) => boolean, threads = availableParallelism()) {
    invariant(Number.isInteger(threads) && threads >= 1 && threads <= 64, 'thread count 1..64');
    this.inline = inline;
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url));
      worker.on('message', (reply: { id: number; verdicts: Uint8Array }) => {
        const waiter = this.pending.get(reply.id);
        invariant(waiter !== undefined, 'reply for a known job');
        this.pending.delete(reply.id);
        this.release(waiter.worker);
        waiter.resolve(reply.verdicts);
      });
      worker.on('error', (error) => this.failAll(error));
      worker.unref();
      this.workers.push(worker);
      this.busy.push(0);
    }
  }

  get threads(): number {
    return this.workers.length;
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) {
      this.release(waiter.worker);
      waiter.reject(error);
    }
    this.pending.clear();
  }

  private hold(index: number): void {
    if (this.busy[index] === 0) (this.workers[index] as Worker).ref();
    this.busy[index] = (this.busy[index] as number) + 1;
  }

  private release(index: number): void {
    this.busy[index] = (this.busy[index] as number) - 1;
    invariant((this.busy[index] as number) >= 0, 'worker busy count');
    if (this.busy[index] === 0) (this.workers[index] as Worker).unref();
  }

  /** Verdicts (1 valid, 0 not) for every item, in order. */
  async verifyBatch(items: readonly VerifyItem[]): Promise<Uint8Array> {
    if (this.closed) throw new Error('verify pool is closed');
    if (items.length <= INLINE_BATCH_MAX) return Uint8Array.from(items, (x) => (this.inline(x) ? 1 : 0));
    invariant(this.pending.size < this.workers.length * WORKER_JOBS_MAX, 'verify pool queue bound');
    const chunk = Math.ceil(items.length / this.workers.length);
    const parts: Promise<Uint8Array>[] = [];
    for (let w = 0; w * chunk < items.length; w++) {
      parts.push(this.run(w, items, w * chunk, Math.min(items.length, (w + 1) * chunk)));
    }
    const results = await Promise.all(parts);
    const out = new Uint8Array(items.length);
    let at = 0;
    for (const r of results) {
      out.set(r, at);
      at += r.length;
    }
    return out;
  }

  private run(worker: number, items: readonly VerifyItem[], from: number, to: number): Promise<Uint8Array> {
    let size = 0;
    for (let i = from; i < to; i++) size += 100 + (items[i] as VerifyItem).message.length;
    const batch = new Uint8Array(size);
    const view = new DataView(batch.buffer);
    let at = 0;
    for (let i = from; i < to; i++) {
      const { publicKey, message, signature } = items[i] as VerifyItem;
      // Wrong lengths cannot be packed: a zeroed key never verifies, so they stay invalid.
      view.setUint32(at, message.length);
      if (publicKey.length === 32) batch.set(publicKey, at + 4);
      if (signature.length === 64) batch.set(signature, at + 36);
      batch.set(message, at + 100);
      at += 100 + message.length;
    }
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, {
        worker,
        resolve: (verdicts) => {
          // Re-impose the length rule the packing could not carry.
          for (let i = from; i < to; i++) {
            const item = items[i] as VerifyItem;
            if (item.publicKey.length !== 32 || item.signature.length !== 64) verdicts[i - from] = 0;
          }
          resolve(verdicts);
        },
        reject,
      });
      this.hold(worker);
      (this.workers[worker] as Worker).postMessage({ id, batch, count: to - from }, [batch.buffer]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('verify pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
