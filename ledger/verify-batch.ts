/**
 * A batch of signatures packed into one SharedArrayBuffer, verified by whoever claims its
 * chunks: the pool's workers, and the calling thread once it has nothing better to do.
 * Claiming is an atomic add on a shared counter, so every thread stays busy until the
 * batch is exhausted and no core idles while another still has a long queue.
 *
 * Layout (all integers little-endian, as Int32Array/Uint32Array see them):
 *   control   Int32Array[4]: next unclaimed item, item count, chunk size, 0
 *   verdicts  Uint8Array[count] (padded to 4): 1 valid, 0 not
 *   records   count x [u32 message offset][u32 message length][u8 lengths ok][32 key][64 signature]
 *   messages  each distinct message once
 *
 * A message shared by several items (the signers of one transaction sign the same body
 * bytes) is packed once: before 2026-11-30 it was copied once per signer, so a batch of
 * transactions of 8 signers each took about eight times its own size in shared memory,
 * beyond what the API's byte budget for batches in flight meant to allow (found in review).
 */
import { invariant } from './assert.js';
import { verify } from './ed25519.js';

export interface VerifyItem {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

const CONTROL_BYTES = 16;
/** A record: message offset and length (u32 each), the lengths flag, key and signature. */
const RECORD_BYTES = 4 + 4 + 1 + 32 + 64;
/** Items per claim: about 1.5 ms of work, small enough to balance, large enough to amortise. */
export const CHUNK_ITEMS = 16;

function layout(count: number): { verdicts: number; records: number; messages: number } {
  const verdicts = CONTROL_BYTES;
  const records = verdicts + Math.ceil(count / 4) * 4;
  return { verdicts, records, messages: records + count * RECORD_BYTES };
}

/** Packs items into a shared buffer ready to be claimed; a message object shared by several items is packed once. */
export function packBatch(items: readonly VerifyItem[]): SharedArrayBuffer {
  const count = items.length;
  const at0 = layout(count);
  const placed = new Map<Uint8Array, number>();
  let size = at0.messages;
  for (const x of items) {
    if (placed.has(x.message)) continue;
    placed.set(x.message, size);
    size += x.message.length;
  }
  const shared = new SharedArrayBuffer(size);
  const bytes = new Uint8Array(shared);
  const view = new DataView(shared);
  const control = new Int32Array(shared, 0, 4);
  control[0] = 0;
  control[1] = count;
  control[2] = CHUNK_ITEMS;
  for (const [message, at] of placed) bytes.set(message, at);
  for (let i = 0; i < count; i++) {
    const { publicKey, message, signature } = items[i] as VerifyItem;
    const at = at0.records + i * RECORD_BYTES;
    view.setUint32(at, placed.get(message) as number, true);
    view.setUint32(at + 4, message.length, true);
    // A wrong length cannot be packed; the flag makes the verdict 0 without a verify.
    const ok = publicKey.length === 32 && signature.length === 64;
    bytes[at + 8] = ok ? 1 : 0;
    if (ok) {
      bytes.set(publicKey, at + 9);
      bytes.set(signature, at + 41);
    }
  }
  return shared;
}

/** Whether item `i` of a packed batch verifies (read-only: any thread, any time). */
function verifyPacked(bytes: Uint8Array, view: DataView, records: number, i: number): boolean {
  const at = records + i * RECORD_BYTES;
  const from = view.getUint32(at, true);
  const length = view.getUint32(at + 4, true);
  return bytes[at + 8] === 1 && verify(bytes.subarray(at + 9, at + 41), bytes.subarray(from, from + length), bytes.subarray(at + 41, at + RECORD_BYTES));
}

/** Claims and verifies chunks until none are left; returns how many items this thread did. */
export function drainBatch(shared: SharedArrayBuffer): number {
  const control = new Int32Array(shared, 0, 4);
  const count = control[1] as number;
  const chunk = control[2] as number;
  invariant(count >= 0 && chunk >= 1, 'batch header');
  const at0 = layout(count);
  const bytes = new Uint8Array(shared);
  const view = new DataView(shared);
  const verdicts = new Uint8Array(shared, at0.verdicts, count);
  let done = 0;
  for (;;) {
    const from = Atomics.add(control, 0, chunk);
    if (from >= count) return done;
    const to = Math.min(count, from + chunk);
    for (let i = from; i < to; i++) Atomics.store(verdicts, i, verifyPacked(bytes, view, at0.records, i) ? 1 : 0);
    done += to - from;
  }
}

/**
 * Every item's verdict computed again on the calling thread, without claiming: for a batch
 * whose chunks a worker may have claimed and never finished (the worker died).
 */
export function verifyBatchHere(shared: SharedArrayBuffer): Uint8Array {
  const count = new Int32Array(shared, 0, 4)[1] as number;
  const at0 = layout(count);
  const bytes = new Uint8Array(shared);
  const view = new DataView(shared);
  return Uint8Array.from({ length: count }, (_, i) => (verifyPacked(bytes, view, at0.records, i) ? 1 : 0));
}

/** The verdicts of a fully drained batch (a private copy). */
export function batchVerdicts(shared: SharedArrayBuffer): Uint8Array {
  const control = new Int32Array(shared, 0, 4);
  const count = control[1] as number;
  invariant((Atomics.load(control, 0) as number) >= count, 'every chunk of the batch was claimed');
  const verdicts = new Uint8Array(shared, layout(count).verdicts, count);
  return Uint8Array.from(verdicts, (_, i) => Atomics.load(verdicts, i));
}
